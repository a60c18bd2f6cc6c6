"""The XLA floor for benchmarks/pixels.py: one Atari PPO minibatch step on Ascent's
Nature CNN (`ascent.nn.cnn.NatureCNN`), alone, in Ascent's virtualenv; prints one JSON
object on its last line. torch_floor.py is the same step in PyTorch.

    taskset -c 0 .venv/bin/python benchmarks/peers/xla_floor.py --batch 256 --repeats 20

The network: the Nature CNN torso (Mnih et al. 2015) on [B, 84, 84, 4] uint8 frames,
scaled to [0, 1] inside the compiled step (`ascent.nn.cnn.scaled`), with a policy head
(n actions) and a value head on its 512 features. The step is forward, a PPO-shaped loss
(clipped ratio, value error, entropy), backward, gradient clipping by global norm and
Adam (eps 1e-5), jitted once, on one minibatch of random frames.

`step_ms` is the median of `--repeats` calls after `--warmup`. `scan_step_ms` is the
time per step when `--scan` minibatches run in one `lax.scan` (as PPO's update runs its
epochs and minibatches: RL-Zoo's Atari settings make 4 x 4 = 16), the median of
`--scan-repeats` scans, because XLA's CPU convolutions can run slower inside a loop than
alone (the kernel's gradient, jax 0.10.2); `unrolled_step_ms` is the same scan unrolled
(`unroll=True`). `act_ms` is the forward pass alone on `--act-batch` frames.

XLA_FLAGS are `ascent/_xla.py`'s (unless set), and the process runs on `--threads`
cores (`ascent.use_threads`: the first ones its affinity allows, so `taskset -c N`
picks them), one by default.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from collections.abc import Callable
from typing import Any

from ascent._xla import set_xla_flags


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=256, help="minibatch of frames")
    p.add_argument("--actions", type=int, default=4, help="policy outputs (Breakout: 4)")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--scan", type=int, default=4, help="minibatches in one lax.scan; 0: skip")
    p.add_argument("--scan-repeats", type=int, default=3, help="scans timed, after one warm-up")
    p.add_argument("--act-batch", type=int, default=8)
    p.add_argument("--threads", type=int, default=1, help="cores XLA's pool runs on")
    return p.parse_args()


def main() -> None:
    args = parse()
    flags = set_xla_flags()
    import ascent

    ascent.use_threads(args.threads)
    import flax.linen as nn
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    from ascent.nn.cnn import NatureCNN, scaled

    class Net(nn.Module):
        actions: int

        @nn.compact
        def __call__(self, frames: jax.Array) -> tuple[jax.Array, jax.Array]:
            h = NatureCNN()(scaled(frames))  # [B, 512]
            return nn.Dense(self.actions)(h), nn.Dense(1)(h).squeeze(-1)

    b = args.batch
    net = Net(args.actions)
    rng = np.random.default_rng(0)
    frames = jnp.asarray(rng.integers(0, 256, (b, 84, 84, 4), dtype=np.uint8))
    batch = {
        "frames": frames,
        "actions": jnp.asarray(rng.integers(0, args.actions, b)),
        "old_logp": jnp.full((b,), -np.log(args.actions), jnp.float32),
        "adv": jnp.asarray(rng.standard_normal(b), jnp.float32),
        "ret": jnp.asarray(rng.standard_normal(b), jnp.float32),
    }
    params = net.init(jax.random.PRNGKey(0), frames[:1])
    tx = optax.chain(optax.clip_by_global_norm(0.5), optax.adam(2.5e-4, eps=1e-5))
    opt = tx.init(params)

    def loss_fn(params: Any, mb: dict[str, jax.Array]) -> jax.Array:
        logits, value = net.apply(params, mb["frames"])
        logp_all = jax.nn.log_softmax(logits)
        logp = jnp.take_along_axis(logp_all, mb["actions"][:, None], -1)[:, 0]
        ratio = jnp.exp(logp - mb["old_logp"])
        adv = mb["adv"]
        pg = -jnp.minimum(ratio * adv, jnp.clip(ratio, 0.9, 1.1) * adv).mean()
        entropy = -(jnp.exp(logp_all) * logp_all).sum(-1).mean()
        return pg + 0.5 * ((value - mb["ret"]) ** 2).mean() - 0.01 * entropy

    def step(carry: Any, mb: dict[str, jax.Array]) -> tuple[Any, None]:
        params, opt = carry
        grads = jax.grad(loss_fn)(params, mb)
        updates, opt = tx.update(grads, opt, params)
        return (optax.apply_updates(params, updates), opt), None

    one = jax.jit(lambda p, o, mb: step((p, o), mb)[0])
    act = jax.jit(lambda p, f: net.apply(p, f))

    def median_ms(
        fn: Callable[[], Any], repeats: int = args.repeats, warmup: int = args.warmup
    ) -> tuple[float, list[float]]:
        for _ in range(warmup):
            jax.block_until_ready(fn())
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            jax.block_until_ready(fn())
            times.append(1e3 * (time.perf_counter() - start))
        return statistics.median(times), times

    start = time.perf_counter()
    jax.block_until_ready(one(params, opt, batch))
    compile_s = time.perf_counter() - start
    step_ms, step_times = median_ms(lambda: one(params, opt, batch))
    act_frames = frames[: args.act_batch]
    act_ms, _ = median_ms(lambda: act(params, act_frames))
    scan = {}
    if args.scan:
        stacked = jax.tree.map(lambda x: jnp.stack([x] * args.scan), batch)
        scan = {"scan": args.scan}
        for name, unroll in [("scan_step_ms", 1), ("unrolled_step_ms", True)]:
            run = jax.jit(lambda p, o, mbs, u=unroll: jax.lax.scan(step, (p, o), mbs, unroll=u)[0])
            per_call, _ = median_ms(lambda run=run: run(params, opt, stacked), args.scan_repeats, 1)
            scan[name] = per_call / args.scan
    print(
        json.dumps(
            {
                "library": "xla",
                "batch": b,
                "step_ms": step_ms,
                "step_ms_min": min(step_times),
                "frames_per_s": b / (step_ms / 1e3),
                **scan,
                "act_batch": args.act_batch,
                "act_ms": act_ms,
                "compile_s": compile_s,
                "params": sum(int(np.prod(x.shape)) for x in jax.tree.leaves(params)),
                "repeats": args.repeats,
                "threads": args.threads,
                "xla_flags": flags,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "versions": {"jax": jax.__version__},
            }
        )
    )


if __name__ == "__main__":
    main()
