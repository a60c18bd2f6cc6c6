"""Ascent's V-trace (`ascent.core.vtrace`) against DeepMind's rlax on the same inputs.

    .venv/bin/python benchmarks/vtrace_rlax.py

rlax runs in a virtualenv of its own (benchmarks/envs/rlax, made on first use; Ascent
never imports it) through benchmarks/peers/rlax_vtrace.py. Random trajectories, with
episodes that terminate inside them: rlax marks an end by discount_t = 0, Ascent by its
`terminated` flag (rlax has no truncation flag, so none is used here). rlax fixes the
trace coefficient at c = λ·min(1, ρ), so c̄ = 1 in every case; ρ̄ (and rlax's separate
threshold for the policy gradient's ρ, equal to Ascent's ρ̄) varies. Writes
benchmarks/results/vtrace_rlax.md; exits 1 when any difference exceeds the tolerance.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "benchmarks" / "envs" / "rlax"
PEER = VENV / "bin" / "python"
PACKAGES = ["rlax==0.1.9"]
WORK = ROOT / "benchmarks" / "out" / "vtrace"
RESULTS = ROOT / "benchmarks" / "results"
TOLERANCE = 1e-5  # float32, relative to the largest magnitude in the case
# name: (trajectories, length, γ, ρ̄, spread of log ρ, chance an episode ends per step)
CASES = {
    "on-policy": (16, 20, 0.99, 1.0, 0.0, 0.05),
    "off-policy, rho_bar 1": (16, 20, 0.99, 1.0, 0.7, 0.05),
    "off-policy, rho_bar 2": (16, 20, 0.99, 2.0, 0.7, 0.05),
    "off-policy, rho_bar 0.5": (16, 20, 0.9, 0.5, 0.7, 0.1),
    "long, far off-policy": (8, 200, 0.997, 1.0, 2.0, 0.01),
}


def setup() -> None:
    marker = VENV / "ascent-vtrace.json"
    if marker.is_file() and marker.read_text() == json.dumps(PACKAGES):
        return
    print("making benchmarks/envs/rlax ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(PEER), "-m", "pip", "install", "-q", *PACKAGES], check=True)
    marker.write_text(json.dumps(PACKAGES))


def make_cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    out: dict[str, np.ndarray] = {"names": np.array(json.dumps(list(CASES)))}
    for name, (n, t, gamma, rho_bar, spread, p_end) in CASES.items():
        values = rng.normal(size=(n, t + 1)).astype(np.float32)
        ends = rng.random((n, t)) < p_end
        out |= {
            f"{name}/v_tm1": values[:, :-1],
            f"{name}/v_t": values[:, 1:],
            f"{name}/r_t": rng.normal(size=(n, t)).astype(np.float32),
            f"{name}/discount_t": np.where(ends, 0.0, gamma).astype(np.float32),
            f"{name}/rho_tm1": np.exp(spread * rng.normal(size=(n, t))).astype(np.float32),
            f"{name}/rho_bar": np.array(rho_bar),
            f"{name}/pg_rho_bar": np.array(rho_bar),
            f"{name}/gamma": np.array(gamma),
        }
    return out


def ascent_side(cases: dict[str, np.ndarray], name: str) -> tuple[np.ndarray, np.ndarray]:
    from ascent.core import vtrace

    def tn(x: np.ndarray) -> np.ndarray:  # [N, T] -> Ascent's [T, N]
        return np.ascontiguousarray(x.T)

    ends = cases[f"{name}/discount_t"] == 0
    got = vtrace(
        rewards=tn(cases[f"{name}/r_t"]), values=tn(cases[f"{name}/v_tm1"]),
        next_values=tn(cases[f"{name}/v_t"]), terminated=tn(ends),
        truncated=np.zeros_like(tn(ends)), log_rhos=np.log(tn(cases[f"{name}/rho_tm1"])),
        gamma=float(cases[f"{name}/gamma"]), rho_bar=float(cases[f"{name}/rho_bar"]),
        c_bar=1.0,
    )  # fmt: skip
    return np.asarray(got.vs).T, np.asarray(got.pg_advantages).T


def main() -> None:
    setup()
    WORK.mkdir(parents=True, exist_ok=True)
    cases = make_cases()
    np.savez(WORK / "cases.npz", **cases)
    subprocess.run([str(PEER), str(ROOT / "benchmarks/peers/rlax_vtrace.py"),
                    str(WORK / "cases.npz"), str(WORK / "rlax.npz")], check=True)  # fmt: skip
    theirs = np.load(WORK / "rlax.npz")
    peer_versions = json.loads(str(theirs["versions"]))
    rows, worst = [], 0.0
    for name, (n, t, gamma, rho_bar, spread, _) in CASES.items():
        vs, adv = ascent_side(cases, name)
        errors = []
        for mine, key in ((vs, "targets"), (adv, "pg_advantages")):
            ref = theirs[f"{name}/{key}"]
            errors.append(float(np.max(np.abs(mine - ref)) / max(1.0, np.max(np.abs(ref)))))
        worst = max(worst, *errors)
        ends = int((cases[f"{name}/discount_t"] == 0).sum())
        rows.append(f"| {name} | {n} × {t} | {gamma} | {rho_bar} | {spread} | {ends} | "
                    f"{errors[0]:.1e} | {errors[1]:.1e} |")  # fmt: skip
    ok = worst <= TOLERANCE
    lines = [
        "# V-trace: Ascent against rlax",
        "",
        "`python benchmarks/vtrace_rlax.py`: `ascent.core.vtrace` (Ascent "
        f"{version('ascent-rl')}, jax {version('jax')}) against "
        f"`rlax.vtrace_td_error_and_advantage` (rlax {peer_versions['rlax']}, jax "
        f"{peer_versions['jax']}, its own virtualenv) on the same random float32 "
        "trajectories, λ = 1, c̄ = 1 (rlax's trace coefficient is min(1, ρ)), the policy "
        "gradient's ρ clipped at ρ̄ on both sides. Error: the largest absolute difference "
        "over the case, divided by max(1, the largest magnitude of rlax's output).",
        "",
        "| case | trajectories × steps | γ | ρ̄ | sd of log ρ | episode ends | "
        "targets v_s | policy-gradient advantages |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Largest error {worst:.1e}, tolerance {TOLERANCE:.0e}: "
        + ("the two agree." if ok else "**they disagree.**"),
        "",
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "vtrace_rlax.md").write_text("\n".join(lines))
    print("\n".join(lines))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
