"""The cost of stepping a gymnax environment alone, for benchmarks/pixels.py: 64 copies
vmapped, 1280 steps of random actions in one `lax.scan`, jitted; run in Ascent's
virtualenv (gymnax 1.0.1) and in rejax's (the gymnax its release pins), so a comparison
of the two libraries' training can be read knowing what the environments alone cost.
Prints one JSON object on its last line: `ms_per_rollout`, the time of 128 steps × 64
environments (one PPO rollout of the MinAtar preset).

    taskset -c 0 .venv/bin/python benchmarks/peers/gymnax_steps.py Breakout-MinAtar
"""

from __future__ import annotations

import json
import sys
import time
from importlib.metadata import version

import gymnax
import jax

N_ENVS, N_STEPS, ROLLOUTS = 64, 128, 10


def main() -> None:
    name = sys.argv[1]
    env, params = gymnax.make(name)

    def run(key: jax.Array) -> jax.Array:
        obs, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(key, N_ENVS), params)

        def step(carry: tuple, key: jax.Array) -> tuple:
            state, total = carry
            k_act, k_env = jax.random.split(key)
            action = jax.random.randint(k_act, (N_ENVS,), 0, env.num_actions)
            keys = jax.random.split(k_env, N_ENVS)
            out = jax.vmap(env.step, in_axes=(0, 0, 0, None))(keys, state, action, params)
            return (out[1], total + out[2].sum()), None

        keys = jax.random.split(key, N_STEPS * ROLLOUTS)
        return jax.lax.scan(step, (state, 0.0), keys)[0][1]

    fn = jax.jit(run)
    jax.block_until_ready(fn(jax.random.PRNGKey(0)))
    start = time.perf_counter()
    for i in range(3):
        jax.block_until_ready(fn(jax.random.PRNGKey(i + 1)))
    ms = (time.perf_counter() - start) / (3 * ROLLOUTS) * 1e3
    print(json.dumps({"env": name, "gymnax": version("gymnax"), "ms_per_rollout": ms}))


if __name__ == "__main__":
    main()
