"""One Ascent run for benchmarks/compare.py; prints one JSON object on its last line.

    .venv/bin/python benchmarks/peers/ascent_run.py run ppo CartPole-v1 --seed 0 --cache DIR
    .venv/bin/python benchmarks/peers/ascent_run.py breakdown ppo CartPole-v1 --cache DIR
    .venv/bin/python benchmarks/peers/ascent_run.py floors ppo CartPole-v1 --cache DIR

`run`: `Agent.learn` wall-clock (compiling included; the compile time and what the
persistent cache saved are counted from JAX's own monitoring events), then the mean
return of deterministic evaluation episodes. `breakdown`: the same run with the host
door's three parts timed one call at a time (environment stepping, action selection,
updates), each call waited for. `floors`: (a) the same vector environment stepped with
random actions, (b) the jitted policy alone on the same batch shapes, (c) the jitted
update alone on the same rollout or minibatch shapes, as often as the run calls them;
off-policy algorithms also get (c') the update's compute alone, many steps in one
`lax.scan`.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict
from typing import Any

COMPILE_EVENTS = {
    "/jax/core/compile/jaxpr_trace_duration": "trace",
    "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower",
    "/jax/core/compile/backend_compile_duration": "backend",
    "/jax/compilation_cache/cache_retrieval_time_sec": "cache_read",
}


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["run", "breakdown", "floors"])
    p.add_argument("algo")
    p.add_argument("env")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument(
        "--learn-steps",
        type=int,
        default=None,
        help="train only this many of the --steps run's steps (the same programs: a warm-up)",
    )
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument(
        "--shared-episodes",
        type=int,
        default=0,
        help="also run the Gymnasium episodes every contestant shares (episodes.py)",
    )
    p.add_argument("--cache", default=None, help="persistent compilation cache folder")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--set", action="append", default=[], help="field=value (TOML value)")
    p.add_argument(
        "--env-option", action="append", default=[], help="name=value (TOML value or a word)"
    )
    p.add_argument("--curve", action="store_true", help="also return the training curve")
    return p.parse_args()


class CompileClock:
    """Sums JAX's compile-time events (seconds) while `on`."""

    def __init__(self) -> None:
        import jax

        self.on = False
        self.seconds: dict[str, float] = defaultdict(float)
        jax.monitoring.register_event_duration_secs_listener(self._event)

    def _event(self, event: str, duration: float, **_: Any) -> None:
        if self.on and event in COMPILE_EVENTS:
            self.seconds[COMPILE_EVENTS[event]] += duration

    def total(self) -> float:
        """Tracing, lowering and XLA compiling (which includes reading the cache)."""
        return sum(v for k, v in self.seconds.items() if k != "cache_read")


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    import tomllib

    out: dict[str, Any] = {} if args.steps is None else {"total_steps": args.steps}
    for pair in args.set:
        key, value = pair.split("=", 1)
        out[key] = tomllib.loads(f"v = {value}")["v"]
    return out


def env_options(args: argparse.Namespace) -> dict[str, Any]:
    import tomllib

    out: dict[str, Any] = {}
    for pair in args.env_option:
        key, value = pair.split("=", 1)
        try:
            out[key] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            out[key] = value  # a bare word: envpool
    return out


def curve(run_dir: str) -> list[list[float]]:
    """[env_steps, mean episode return] of each metrics row that has a return."""
    import csv
    import os

    with open(os.path.join(run_dir, "metrics.csv")) as f:
        rows = list(csv.DictReader(f))
    return [
        [float(r["env_steps"]), float(r["episode_return"])]
        for r in rows
        if r.get("episode_return") not in (None, "", "nan")
    ]


def timed(record: dict[str, list[float]], name: str, fn: Any) -> Any:
    import jax

    def wrapper(*a: Any, **k: Any) -> Any:
        start = time.perf_counter()
        out = jax.block_until_ready(fn(*a, **k))
        record[name].append(time.perf_counter() - start)
        return out

    return wrapper


def run(args: argparse.Namespace, breakdown: bool = False) -> dict[str, Any]:
    import resource
    import tempfile

    import ascent

    clock = CompileClock()
    options = env_options(args) or None
    agent = ascent.make(
        args.algo, env=args.env, seed=args.seed, env_options=options, **overrides(args)
    )
    calls: dict[str, list[float]] = defaultdict(list)
    if breakdown:
        if agent.is_jax_door:
            raise SystemExit("breakdown times the host door's calls; use floors for the JAX door")
        loop = agent.loop
        if hasattr(loop, "_explore"):  # off-policy: a LeanJit bound to the state each step
            bind = loop._explore.bind
            loop._explore.bind = lambda *fixed: timed(calls, "act", bind(*fixed))
        else:  # on-policy: a compiled call of the flat state, bound once per rollout
            loop._policy_step = timed(calls, "act", loop._policy_step)
        loop._learn._call = timed(calls, "update", loop._learn._call)
        agent.env.step = timed(calls, "env", agent.env.step)
    run_dir = tempfile.mkdtemp(prefix="ascent-run-") if args.curve else None
    clock.on = True
    start = time.perf_counter()
    agent.learn(args.learn_steps, progress=False, run_dir=run_dir)
    learn = time.perf_counter() - start
    clock.on = False
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # training's peak
    result = agent.evaluate(args.episodes)
    agent.close()
    out = {
        "peak_rss_mb": peak_mb,
        **({"curve": curve(run_dir)} if run_dir else {}),
        "learn_s": learn,
        "env_steps": agent.env_steps,
        "steps_per_s": agent.env_steps / learn,
        "eval_return": result.mean_return,
        "eval_returns": [float(r) for r in result.returns],
        **shared(agent, args),
        "compile_s": clock.total(),
        "compile_parts_s": dict(clock.seconds),
    }
    if breakdown:
        # each part's first call compiles (or reads the cache): counted apart
        out["parts_s"] = {k: sum(v[1:]) for k, v in calls.items()}
        out["first_calls_s"] = sum(v[0] for v in calls.values())
        out["first_call_s"] = {k: v[0] for k, v in calls.items()}
        out["update_call_s"] = calls.get("update", [])
        out["calls"] = {k: len(v) for k, v in calls.items()}
    return out


def shared(agent: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The shared evaluation (episodes.py) of the trained policy, whatever its door."""
    if not args.shared_episodes:
        return {}
    from episodes import shared_returns

    env_id = args.env.removeprefix("gymnax/")
    returns = shared_returns(lambda obs: agent.act(obs)[0], env_id, args.shared_episodes)
    return {"shared_return": sum(returns) / len(returns), "shared_returns": returns}


def floors(args: argparse.Namespace) -> dict[str, Any]:
    import ascent

    agent = ascent.make(args.algo, env=args.env, seed=args.seed, **overrides(args))
    loop, config = agent.loop, agent.config
    iterations = agent.iterations_for(config.total_steps)
    steps = iterations * loop.n_steps  # vector-env steps of the whole run
    offpolicy = hasattr(loop, "_explore")
    if agent.is_jax_door:
        out = jax_floors(agent, iterations, steps, offpolicy)
    else:
        out = host_floors(agent, iterations, steps, offpolicy)
    agent.close()
    out["sum_s"] = out["env_s"] + out["policy_s"] + out["update_s"]
    return out


def random_inputs(agent: Any, k: int) -> tuple[Any, Any]:
    """k random observation batches [k, N, ...] and PRNG keys [k, 2] (numpy)."""
    import numpy as np

    rng = np.random.default_rng(0)
    n, shape = agent.config.n_envs, agent.env.observation_space.shape
    obs = rng.standard_normal((k, n, *shape)).astype(np.float32)
    keys = rng.integers(0, 2**32, (k, 2), dtype=np.uint64).astype(np.uint32)
    return obs, keys


def dummy_rollout(agent: Any) -> Any:
    """A rollout [T, N] of the run's shapes, filled with plausible values, on device."""
    import jax
    import numpy as np

    from ascent.buffers import Rollout
    from ascent.envs import is_discrete

    loop, space = agent.loop, agent.env.action_space
    t, n = loop.n_steps, loop.n_envs
    rng = np.random.default_rng(1)
    obs = rng.standard_normal((t, n, *agent.env.observation_space.shape)).astype(np.float32)
    if is_discrete(space):
        actions = rng.integers(0, space.n, (t, n)).astype(np.int32)
    else:
        actions = rng.standard_normal((t, n, *space.shape)).astype(np.float32)
    flags = np.zeros((t, n), bool)
    rollout = Rollout(
        obs, actions, np.full((t, n), -0.7, np.float32), np.ones((t, n), np.float32),
        flags, flags, obs[::-1].copy(),
    )  # fmt: skip
    return jax.device_put(rollout)


def dummy_minibatch(agent: Any) -> Any:
    import jax
    import numpy as np

    from ascent.buffers import Transitions

    b = agent.config.minibatch_size
    rng = np.random.default_rng(1)
    obs = rng.standard_normal((b, *agent.env.observation_space.shape)).astype(np.float32)
    low, high = agent.env.action_space.low, agent.env.action_space.high
    actions = rng.uniform(low, high, (b, *agent.env.action_space.shape)).astype(np.float32)
    flags = np.zeros((b,), bool)
    rewards = rng.standard_normal((b,)).astype(np.float32)
    return jax.device_put(Transitions(obs, actions, rewards, obs[::-1].copy(), flags, flags))


def host_floors(agent: Any, iterations: int, steps: int, offpolicy: bool) -> dict[str, Any]:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from ascent.envs import HostVecEnv, env_action
    from ascent.runtime import LeanJit

    algorithm, config = agent.algorithm, agent.config
    space = agent.env.action_space
    # (a) the door's vector environment (N Gymnasium environments, same-step
    # autoreset, as in training) stepped directly, random actions drawn beforehand
    env = HostVecEnv(agent.env_id, config.n_envs, seed=agent.seed)
    env.reset()
    env.action_space.seed(0)
    sample = env.action_space.sample
    actions = [np.array([sample() for _ in range(config.n_envs)]) for _ in range(64)]
    start = time.perf_counter()
    for i in range(steps):
        env.step(actions[i % 64])
    env_s = time.perf_counter() - start
    env.close()
    # (b) the jitted policy alone, given only the parameters it reads: observations in,
    # numpy actions (and log-probs) out
    state = algorithm.init(jax.random.PRNGKey(0))
    act = LeanJit(algorithm.act).bind(state)
    obs, keys = random_inputs(agent, 256)
    jax.block_until_ready(act(obs[0], keys[0]))
    start = time.perf_counter()
    for i in range(steps):
        action, log_prob = act(obs[i % 256], keys[i % 256])
        env_action(np.asarray(action), space), np.asarray(log_prob)
    policy_s = time.perf_counter() - start
    # (c) the jitted update alone, threading its state, as often as the run updates
    out: dict[str, Any] = {"env_s": env_s, "policy_s": policy_s, "env_steps": steps * config.n_envs}
    if offpolicy:
        batch = dummy_minibatch(agent)
        update = jax.jit(algorithm.update, donate_argnums=0)
        state = jax.tree.map(jnp.copy, state)  # a target network shares its online one's arrays
        n = iterations * config.gradient_steps - config.learning_starts // config.n_envs
        keys = jax.random.split(jax.random.PRNGKey(2), 64)
        state = jax.block_until_ready(update(state, batch, keys[0])[0])
        start = time.perf_counter()
        for i in range(n):
            state, _ = update(state, batch, keys[i % 64])
        jax.block_until_ready(state)
        out["update_s"] = time.perf_counter() - start
        out["update_calls"] = n
        out["update_compute_s"] = scanned_update_seconds(algorithm, state, batch, n)
    else:
        rollout = dummy_rollout(agent)
        update = jax.jit(algorithm.update)
        keys = jax.random.split(jax.random.PRNGKey(2), iterations)
        jax.block_until_ready(update(state, rollout, keys[0]))
        start = time.perf_counter()
        for i in range(iterations):
            state, _ = update(state, rollout, keys[i])
        jax.block_until_ready(state)
        out["update_s"] = time.perf_counter() - start
        out["update_calls"] = iterations
    return out


def scanned_update_seconds(algorithm: Any, state: Any, batch: Any, n: int) -> float:
    """n gradient steps on one minibatch as one compiled `lax.scan` (no dispatches):
    the update's compute alone, scaled from 1,000 steps."""
    import jax

    k = min(n, 1000)

    @jax.jit
    def many(state: Any, keys: jax.Array) -> Any:
        def one(state: Any, key: jax.Array) -> tuple[Any, None]:
            return algorithm.update(state, batch, key)[0], None

        return jax.lax.scan(one, state, keys)[0]

    keys = jax.random.split(jax.random.PRNGKey(3), k)
    compiled = many.lower(state, keys).compile()
    jax.block_until_ready(compiled(state, keys))
    start = time.perf_counter()
    jax.block_until_ready(compiled(state, keys))
    return (time.perf_counter() - start) * n / k


def jax_floors(agent: Any, iterations: int, steps: int, offpolicy: bool) -> dict[str, Any]:
    """The compiled door's floors, each one compiled program over the whole run."""
    import jax
    import jax.numpy as jnp

    from ascent.envs import env_action, is_discrete

    if offpolicy:
        raise SystemExit("JAX-door floors are written for on-policy loops")
    algorithm, env, config = agent.algorithm, agent.env, agent.config
    n, space = config.n_envs, env.action_space
    state = algorithm.init(jax.random.PRNGKey(0))

    def random_action(key: jax.Array) -> jax.Array:
        if is_discrete(space):
            return jax.random.randint(key, (n,), 0, space.n)
        return jax.random.uniform(key, (n, *space.shape), minval=space.low, maxval=space.high)

    @jax.jit
    def env_only(key: jax.Array) -> Any:
        obs, env_state = jax.vmap(env.reset)(jax.random.split(key, n))

        def step(carry: Any, key: jax.Array) -> Any:
            env_state, total = carry
            k_act, k_env = jax.random.split(key)
            out = jax.vmap(env.step)(jax.random.split(k_env, n), env_state, random_action(k_act))
            return (out[1], total + out[2].sum()), None

        return jax.lax.scan(step, (env_state, 0.0), jax.random.split(key, steps))[0][1]

    @jax.jit
    def policy_only(key: jax.Array) -> Any:
        obs = jax.random.normal(key, (n, *env.observation_space.shape))

        def step(obs: jax.Array, key: jax.Array) -> Any:
            action, log_prob = algorithm.act(state, obs, key, False)
            action = env_action(action, space)
            return obs + 1e-3 * jnp.mean(log_prob), None

        return jax.lax.scan(step, obs, jax.random.split(key, steps))[0]

    rollout = dummy_rollout(agent)

    @jax.jit
    def update_only(state: Any, key: jax.Array) -> Any:
        def one(state: Any, key: jax.Array) -> Any:
            return algorithm.update(state, rollout, key)[0], None

        return jax.lax.scan(one, state, jax.random.split(key, iterations))[0]

    out: dict[str, Any] = {"env_steps": steps * n}
    for name, fn, fn_args in [
        ("env_s", env_only, (jax.random.PRNGKey(1),)),
        ("policy_s", policy_only, (jax.random.PRNGKey(1),)),
        ("update_s", update_only, (state, jax.random.PRNGKey(1))),
    ]:
        compiled = fn.lower(*fn_args).compile()
        start = time.perf_counter()
        jax.block_until_ready(compiled(*fn_args))
        out[name] = time.perf_counter() - start
    return out


if __name__ == "__main__":
    args = parse()
    from ascent.runtime import enable_compile_cache

    if args.cache:
        enable_compile_cache(args.cache)
    if args.mode == "floors":
        result = floors(args)
    else:
        result = run(args, breakdown=args.mode == "breakdown")
    result.update(pid=os.getpid(), threads=args.threads)
    print(json.dumps(result))
