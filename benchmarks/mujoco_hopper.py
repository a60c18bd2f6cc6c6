"""Why PPO's Hopper-v5 runs stand still (benchmarks/mujoco_tables.py; issue 35, item 3).

With its preset (RL-Zoo's tuned Hopper settings) every seed of Ascent's PPO settles on
standing for the whole 1000 steps (a return of ~1000, the healthy reward) instead of
hopping. One run per variant, 1M steps, the final deterministic return over 10 episodes:

    .venv/bin/python benchmarks/mujoco_hopper.py VARIANT SEED

- `torch`: every dense layer initialised as PyTorch's default (kaiming-uniform with
  a = √5, U(±1/√fan_in)), which RL-Zoo's `ortho_init=False` gives, instead of Ascent's
  orthogonal layers (the one difference the preset states);
- `std0`: orthogonal layers, the log-std starting at 0 instead of -2 (more exploration);
- `cleanrl`: CleanRL's `ppo_continuous_action` settings (tanh 64×64, 2048 steps, 32
  minibatches, 10 epochs, lr 3e-4 to 0, γ 0.99, λ 0.95, clip 0.2 on the policy and the
  value, log-std 0), whose table Hopper figure (2382.9) the issue asks for.

Prints one JSON object; benchmarks/results/mujoco/hopper_diagnostic.json keeps them.
"""

from __future__ import annotations

import json
import sys
import time

import flax.linen as nn

import ascent
import ascent.nn.continuous
import ascent.nn.heads
import ascent.nn.policies
import ascent.nn.sequence
import ascent.nn.torso

CLEANRL = {"hidden": (64, 64), "activation": "tanh", "n_steps": 2048, "minibatch_size": 64,
           "n_epochs": 10, "lr": "linear(3e-4, 0)", "gamma": 0.99, "gae_lambda": 0.95,
           "clip_eps": 0.2, "clip_vf": 0.2, "ent_coef": 0.0, "vf_coef": 0.5,
           "max_grad_norm": 0.5, "log_std_init": 0.0}  # fmt: skip


def torch_default_dense(features: int, scale: float = 2.0**0.5) -> nn.Dense:
    del scale
    return nn.Dense(
        features,
        kernel_init=nn.initializers.variance_scaling(1 / 3, "fan_in", "uniform"),
        bias_init=nn.initializers.zeros,
    )


def main() -> None:
    variant, seed = sys.argv[1], int(sys.argv[2])
    overrides: dict = {}
    if variant == "torch":
        for module in (ascent.nn.torso, ascent.nn.heads, ascent.nn.policies,
                       ascent.nn.sequence, ascent.nn.continuous):  # fmt: skip
            if hasattr(module, "dense"):
                module.dense = torch_default_dense
    elif variant == "std0":
        overrides["log_std_init"] = 0.0
    elif variant == "cleanrl":
        overrides.update(CLEANRL)
    agent = ascent.make("ppo", env="Hopper-v5", seed=seed, **overrides)
    start = time.time()
    agent.learn(progress=False)
    result = agent.evaluate(10)
    print(json.dumps({"variant": variant, "seed": seed, "eval": result.mean_return,
                      "returns": [float(r) for r in result.returns],
                      "s": time.time() - start}))  # fmt: skip


if __name__ == "__main__":
    main()
