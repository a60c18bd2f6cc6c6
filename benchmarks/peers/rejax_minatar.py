"""One rejax PPO run on a MinAtar game for benchmarks/pixels.py, in the peer's own
virtualenv (benchmarks/envs/rejax: rejax 0.1.3, gymnax < 1.0); prints one JSON object
on its last line.

    XLA_FLAGS="$(python3 ascent/_xla.py)" JAX_PLATFORMS=cpu \\
    taskset -c 0 benchmarks/envs/rejax/bin/python benchmarks/peers/rejax_minatar.py \\
        Breakout-MinAtar --steps 1000000 --seed 0 --network cnn --cache DIR

The settings are gymnax-blines' MinAtar PPO (RobertTLange/gymnax-blines,
agents/<game>/ppo.yaml, the runs behind its published 10M-step returns: Breakout 28,
SpaceInvaders 131): 64 environments, 128 steps, 8 minibatches (1024 each), 4 epochs,
learning rate 5e-4 (constant: its warm-up goes from 5e-4 to 5e-4), clip 0.2, gamma 0.999,
gae_lambda 0.95, ent_coef 0.01, vf_coef 0.5, max_grad_norm 0.5. `--config` takes
Ascent's field names over these (`n_envs`, `n_steps`, `minibatch_size`, `n_epochs`,
`lr`, `clip_eps`, `gamma`, `gae_lambda`, `ent_coef`, `vf_coef`, `max_grad_norm`,
`hidden`), so both libraries can be handed the same preset.

Networks (`--network`), separate actor and critic as in rejax and gymnax-blines:
`mlp`: rejax's own MLP on the flattened 10x10xC frame, ReLU, `hidden` (gymnax-blines'
2x256); `cnn`: Young & Tian's (2019) MinAtar network, one 3x3 convolution with 16
channels, stride 1, no padding (10x10 -> 8x8), ReLU, a dense layer of 128, ReLU;
`cnn-patches`: the same function, its convolution a dense layer on the 3x3 patches
(see `conv_networks`: XLA's CPU convolution is slow inside a scan). rejax's
`agent_kwargs` only sizes its MLP; a convolutional torso goes in as modules with the
methods rejax's `DiscretePolicy` and `VNetwork` have, put in with `algo.replace` (as
rejax's examples/custom_network.py does for DQN).

What rejax does its own way is listed in the JSON's "differences". Timing: `compile_s`
is `jit(train).lower().compile()` (from the persistent cache when `--cache` is warm),
`run_s` the compiled run alone, `steps_per_s` = env_steps / run_s. rejax's in-training
evaluation is replaced by a no-op so that `run_s` is training only; the evaluation
afterwards runs `--episodes` whole games with the mode of the policy (`eval_return`)
and, as gymnax-blines reports, with sampled actions (`sampled_return`). It never imports
Ascent.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

# gymnax-blines' MinAtar PPO (Breakout and SpaceInvaders share it), in Ascent's names.
BLINES: dict[str, Any] = {
    "n_envs": 64,
    "n_steps": 128,
    "minibatch_size": 1024,  # 64 x 128 / 8 minibatches
    "n_epochs": 4,
    "lr": 5e-4,
    "clip_eps": 0.2,
    "gamma": 0.999,
    "gae_lambda": 0.95,
    "ent_coef": 0.01,
    "vf_coef": 0.5,
    "max_grad_norm": 0.5,
    "hidden": [256, 256],
}


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("env", help="a gymnax MinAtar id, e.g. Breakout-MinAtar")
    p.add_argument("--steps", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--network", choices=["cnn", "cnn-patches", "mlp"], default="cnn")
    p.add_argument("--config", default="{}", help="Ascent-named fields over gymnax-blines'")
    p.add_argument("--episodes", type=int, default=128, help="evaluation games")
    p.add_argument("--cache", default=None, help="persistent compilation cache folder")
    return p.parse_args()


def linear(value: Any, count: int) -> Any:
    """Ascent's "linear(a, b)" as an optax schedule over `count` optimiser steps."""
    import optax

    if isinstance(value, str):
        start, end = (float(x) for x in value.split("(", 1)[1].rstrip(")").split(","))
        return optax.linear_schedule(start, end, count)
    return float(value)


def conv_networks(action_dim: int, patches: bool) -> tuple[Any, Any]:
    """Young & Tian's MinAtar torso under rejax's actor and critic interfaces.

    `patches`: the same function, the convolution written as a dense layer on the 3x3
    patches (cut by slicing), because XLA's CPU convolution inside the training loop's
    `lax.scan` runs ~7x slower than alone (a 1024-frame Adam step: 377 ms in a scan of
    32, 57 ms alone; the patch form 55 ms both ways; jax 0.10.2).
    """
    import flax.linen as nn
    import jax.numpy as jnp
    from rejax.networks import DiscretePolicy

    class MinAtarCNN(nn.Module):
        @nn.compact
        def __call__(self, x: Any) -> Any:  # [B, 10, 10, C] -> [B, 128]
            if patches:
                h, w = x.shape[1] - 2, x.shape[2] - 2
                cuts = [x[:, i : i + h, j : j + w] for i in range(3) for j in range(3)]
                x = nn.relu(nn.Dense(16)(jnp.concatenate(cuts, -1)))  # [B, 8, 8, 16]
            else:
                x = nn.relu(nn.Conv(16, (3, 3), strides=1, padding="VALID")(x))
            return nn.relu(nn.Dense(128)(x.reshape((x.shape[0], -1))))

    class ConvPolicy(DiscretePolicy):
        def setup(self) -> None:
            self.features = MinAtarCNN()
            self.action_logits = nn.Dense(self.action_dim)

    class ConvValue(nn.Module):
        @nn.compact
        def __call__(self, obs: Any) -> Any:
            return nn.Dense(1)(MinAtarCNN()(obs)).squeeze(1)

    # the MLP fields are unused by ConvPolicy's setup
    return ConvPolicy(action_dim, (), nn.relu), ConvValue()


def make_ppo(c: dict[str, Any], env: str, steps: int, network: str) -> tuple[Any, list[str]]:
    import jax.numpy as jnp
    from rejax import PPO

    batch = c["n_envs"] * c["n_steps"]
    minibatches = batch // c["minibatch_size"]
    iterations = -(-steps // batch)
    clip = c["clip_eps"]
    differences = [
        "value loss clipped with clip_eps (rejax always does; gymnax-blines too)",
        "actor and critic: separate Adam optimisers (eps 1e-8), each gradient clipped "
        "elementwise to ±max_grad_norm (optax.clip), not by the global norm",
        "episode ends (terminated or truncated) never bootstrap",
    ]
    if isinstance(clip, str):  # rejax's clip_eps is a number
        clip = float(clip.split("(", 1)[1].split(",")[0])
        differences.append(f"clip_eps constant {clip} (Ascent: {c['clip_eps']})")
    algo = PPO.create(
        env=env,
        num_envs=c["n_envs"],
        num_steps=c["n_steps"],
        num_minibatches=minibatches,
        num_epochs=c["n_epochs"],
        gamma=c["gamma"],
        gae_lambda=c["gae_lambda"],
        learning_rate=linear(c["lr"], iterations * c["n_epochs"] * minibatches),
        clip_eps=clip,
        vf_coef=c["vf_coef"],
        ent_coef=float(c["ent_coef"]),
        max_grad_norm=c["max_grad_norm"],
        total_timesteps=steps,
        eval_freq=steps,
        skip_initial_evaluation=True,
        agent_kwargs={"activation": "relu", "hidden_layer_sizes": tuple(c["hidden"])},
    )
    # train() calls the evaluation once at its end; the script evaluates afterwards
    algo = algo.replace(eval_callback=lambda algo, ts, rng: jnp.zeros(()))
    if network != "mlp":
        actor, critic = conv_networks(algo.action_dim, patches=network == "cnn-patches")
        algo = algo.replace(actor=actor, critic=critic)
    return algo, differences


def main() -> None:
    args = parse()
    import jax

    if args.cache:
        jax.config.update("jax_compilation_cache_dir", args.cache)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.1)
    import gymnax
    import jax.numpy as jnp
    import numpy as np
    from rejax.evaluate import evaluate

    c = {**BLINES, **{k: v for k, v in json.loads(args.config).items() if k in BLINES}}
    algo, differences = make_ppo(c, args.env, args.steps, args.network)
    rng = jax.random.PRNGKey(args.seed)
    start = time.perf_counter()
    train = jax.jit(algo.train).lower(rng).compile()
    compiled = time.perf_counter()
    ts, _ = jax.block_until_ready(train(rng))
    end = time.perf_counter()

    env, env_params = gymnax.make(args.env)
    params = ts.actor_ts.params

    def mode(obs: Any, rng: Any) -> Any:
        dist = algo.actor.apply(params, jnp.expand_dims(obs, 0), method="_action_dist")
        return jnp.squeeze(dist.mode())

    def sample(obs: Any, rng: Any) -> Any:
        return jnp.squeeze(algo.actor.apply(params, jnp.expand_dims(obs, 0), rng, method="act"))

    key = jax.random.PRNGKey(args.seed + 1_000_003)
    max_steps = env_params.max_steps_in_episode
    _, returns = evaluate(mode, key, env, env_params, args.episodes, max_steps)
    _, sampled = evaluate(sample, key, env, env_params, args.episodes, max_steps)
    returns, sampled = np.asarray(returns, np.float64), np.asarray(sampled, np.float64)
    n_params = sum(
        int(np.prod(x.shape)) for x in jax.tree.leaves((ts.actor_ts.params, ts.critic_ts.params))
    )
    steps = int(ts.global_step)
    import importlib.metadata as m

    print(
        json.dumps(
            {
                "env": args.env,
                "network": args.network,
                "params": n_params,
                "env_steps": steps,
                "compile_s": compiled - start,
                "run_s": end - compiled,
                "learn_s": end - start,
                "steps_per_s": steps / (end - compiled),
                "eval_return": float(returns.mean()),
                "eval_returns": [float(r) for r in returns],
                "sampled_return": float(sampled.mean()),
                "seed": args.seed,
                "config": c,
                "differences": differences,
                "versions": {p: m.version(p) for p in ["rejax", "gymnax", "jax", "flax"]},
            }
        )
    )


if __name__ == "__main__":
    main()
