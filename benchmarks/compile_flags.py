"""What XLA_FLAGS_FOR_TESTS buys the default tests and what it costs a training run:
compile-dominated work (first calls of small agents, as the tests make them) and
run-dominated work (PPO on gymnax CartPole for 100k steps, SAC on gymnax Pendulum for
5k), each in a fresh process pinned to core 0 with no persistent cache, under
`ascent._xla.XLA_FLAGS` and `XLA_FLAGS_FOR_TESTS`, alternating, `--repeats` times.

    .venv/bin/python benchmarks/compile_flags.py            # -> results/compile_flags.md
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from ascent._xla import XLA_FLAGS, XLA_FLAGS_FOR_TESTS  # noqa: E402

CASE = r'''
import json, sys, time
t0 = time.perf_counter()
import ascent
out = {}
if sys.argv[1] == "compile":
    t = time.perf_counter()
    a = ascent.make("ppo", env="gymnax/CartPole-v1", seed=0, total_steps=2048, n_envs=4,
                    n_steps=16, minibatch_size=32, n_epochs=2)
    a.learn(progress=False); out["ppo_gymnax"] = time.perf_counter() - t
    t = time.perf_counter()
    a = ascent.make("sac", env="gymnax/Pendulum-v1", seed=0, total_steps=300, learning_starts=100)
    a.learn(progress=False); out["sac_gymnax"] = time.perf_counter() - t
    t = time.perf_counter()
    a = ascent.make("ppo", env="CartPole-v1", seed=0, total_steps=512, n_envs=2, n_steps=16,
                    minibatch_size=32, n_epochs=1)
    a.learn(progress=False); out["ppo_gymnasium"] = time.perf_counter() - t
else:
    a = ascent.make("ppo", env="gymnax/CartPole-v1", seed=0, total_steps=100_000)
    a.learn(total_steps=10_240, progress=False)
    t = time.perf_counter(); a.learn(progress=False)
    out["ppo_100k_after_compile"] = time.perf_counter() - t
    b = ascent.make("sac", env="gymnax/Pendulum-v1", seed=0, total_steps=5_000)
    b.learn(total_steps=600, progress=False)
    t = time.perf_counter(); b.learn(progress=False)
    out["sac_5k_after_compile"] = time.perf_counter() - t
out["process"] = time.perf_counter() - t0
print(json.dumps(out))
'''


def run(kind: str, flags: str) -> dict[str, float]:
    env = {**os.environ, "XLA_FLAGS": flags, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(["taskset", "-c", "0", sys.executable, "-c", CASE, kind], env=env,
                          capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    sets = {"XLA_FLAGS": XLA_FLAGS, "XLA_FLAGS_FOR_TESTS": XLA_FLAGS_FOR_TESTS}
    found: dict[str, dict[str, list[float]]] = {name: {} for name in sets}
    for _ in range(args.repeats):
        for kind in ("compile", "run"):
            for name, flags in sets.items():
                for k, v in run(kind, flags).items():
                    if k != "process":
                        found[name].setdefault(k, []).append(v)
                print(name, kind, flush=True)
    rows = [
        "# XLA flags for the default tests: compile time against run time",
        "",
        f"`.venv/bin/python benchmarks/compile_flags.py --repeats {args.repeats}`; one core "
        "(taskset), no persistent cache, medians of the repeats in seconds.",
        "",
        f"- XLA_FLAGS: `{XLA_FLAGS}`",
        f"- XLA_FLAGS_FOR_TESTS: `{XLA_FLAGS_FOR_TESTS}`",
        "",
        "| work | XLA_FLAGS | XLA_FLAGS_FOR_TESTS | ratio |",
        "|---|---|---|---|",
    ]
    for k in found["XLA_FLAGS"]:
        a = statistics.median(found["XLA_FLAGS"][k])
        b = statistics.median(found["XLA_FLAGS_FOR_TESTS"][k])
        rows.append(f"| {k} | {a:.2f} | {b:.2f} | {b / a:.2f} |")
    text = "\n".join(rows) + "\n"
    (ROOT / "benchmarks" / "results" / "compile_flags.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
