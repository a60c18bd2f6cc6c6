"""Fingerprints of training: the SHA-256 of each case's final state after a short,
seeded run, so that a change meant to move code and not logic (issue 27's moves, the
train/ redesign of issue 14) can be checked to leave results bit-identical.

    .venv/bin/python benchmarks/fingerprints.py > before.json     # on the old tree
    .venv/bin/python benchmarks/fingerprints.py --against before.json

Each case trains a few iterations from seed 0 and hashes the parameters and optimiser
state (`LoopState.algo`, every leaf's dtype, shape and bytes in tree order). Cases whose
workers are threads (a3c, impala) are not deterministic and are left out.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys

import jax
import numpy as np

import ascent

# (name, algo, env, overrides): the cases first, then every other deterministic one
CASES = [
    ("ppo-gymnax", "ppo", "gymnax/CartPole-v1", {"total_steps": 4096}),
    ("a2c-gymnax", "a2c", "gymnax/CartPole-v1", {"total_steps": 2048}),
    ("trpo-gymnax", "trpo", "gymnax/CartPole-v1", {"total_steps": 4096}),
    ("sac-gymnax", "sac", "gymnax/Pendulum-v1", {"total_steps": 600, "learning_starts": 200}),
    ("ppo-gymnasium", "ppo", "CartPole-v1", {"total_steps": 2048}),
    ("trpo-pendulum", "trpo", "gymnax/Pendulum-v1", {"total_steps": 4096}),
    ("reinforce", "reinforce", "gymnax/CartPole-v1", {"total_steps": 2048}),
    ("ppo-lstm", "ppo", "gymnax/CartPole-v1", {"total_steps": 2048, "core.kind": "lstm"}),
    ("ddpg", "ddpg", "gymnax/Pendulum-v1", {"total_steps": 600, "learning_starts": 200}),
    ("td3", "td3", "gymnax/Pendulum-v1", {"total_steps": 600, "learning_starts": 200}),
    ("naf", "naf", "gymnax/Pendulum-v1", {"total_steps": 600, "learning_starts": 200}),
    ("ippo", "ippo", "jaxmarl/simple_spread_v3", {"total_steps": 2048}),
    ("mappo", "mappo", "jaxmarl/simple_spread_v3", {"total_steps": 2048}),
    ("coma", "coma", "ascent/Climbing-v0", {"total_steps": 2048}),
    ("qmix", "qmix", "ascent/Climbing-v0", {"total_steps": 2048}),
    ("maddpg-networks", "maddpg", "jaxmarl/simple_spread_v3", {"total_steps": 2048}),
    ("maddpg-gymnasium-networks", "maddpg", "mpe2/simple_spread_v3", {"total_steps": 2048}),
]


def digest(tree: object) -> str:
    h = hashlib.sha256()
    for leaf in jax.tree.leaves(tree):
        a = np.asarray(leaf)
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def fingerprint(algo: str, env: str, overrides: dict, networks: bool = False) -> str:
    """The digest of the final algorithm state, or with `networks` of its parameters,
    target parameters and optimiser state only (MADDPG's replay buffer moved out of its
    state in issue 27, and its update clock now counts gradient steps)."""
    agent = ascent.make(algo, env=env, seed=0, **overrides)
    try:
        agent.learn(progress=False)
        algo_state = agent.state.algo
        if networks:
            algo_state = (algo_state.params, algo_state.target_params, algo_state.opt_state)
        return digest(algo_state)
    finally:
        agent.close()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--against", help="a JSON file this script wrote earlier")
    p.add_argument("--only", nargs="+")
    args = p.parse_args()
    found = {}
    for name, algo, env, overrides in CASES:
        if args.only and name not in args.only:
            continue
        try:
            found[name] = fingerprint(algo, env, overrides, networks=name.endswith("networks"))
        except Exception as e:  # a case the tree cannot run is reported, not fatal
            found[name] = f"error: {type(e).__name__}: {e}"
        print(name, found[name], file=sys.stderr)
    if args.against:
        with open(args.against) as f:
            before = json.load(f)
        differ = [k for k in found if before.get(k) != found[k]]
        for k in found:
            print(f"{k:16s} {'same' if k not in differ else 'DIFFERENT'}")
        sys.exit(1 if differ else 0)
    print(json.dumps(found, indent=1))


if __name__ == "__main__":
    main()
