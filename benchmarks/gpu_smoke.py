"""The same code on a GPU: PPO's CartPole preset through both doors with jax[cuda].

    python benchmarks/gpu_smoke.py            # prints the devices, times, returns

Run on a machine where `pip install 'jax[cuda13]'` was done; it reports which
device JAX used, so a silent CPU fallback shows.
"""

from __future__ import annotations

import time

import jax

import ascent
from ascent.train.seeds import train_seeds


def main() -> None:
    print("jax", jax.__version__, "devices:", jax.devices())
    start = time.perf_counter()
    result = train_seeds("ppo", "gymnax/CartPole-v1", [0, 1, 2, 3, 4])
    print(
        f"compiled door, 5 seeds vmapped: {time.perf_counter() - start:.1f} s (compile included), "
        f"eval returns {result.mean_eval_return.round(1).tolist()}"
    )
    start = time.perf_counter()
    agent = ascent.make("ppo", env="CartPole-v1", seed=0)
    agent.learn(progress=False)
    seconds = time.perf_counter() - start
    print(f"host door, seed 0: {seconds:.1f} s, eval return {agent.evaluate(20).mean_return:.1f}")
    leaf = jax.tree.leaves(agent.state.algo.params)[0]
    print("parameters live on:", leaf.devices())


if __name__ == "__main__":
    main()
