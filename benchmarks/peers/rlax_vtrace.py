"""rlax's V-trace on the cases benchmarks/vtrace_rlax.py wrote, in rlax's own virtualenv
(benchmarks/envs/rlax); never imports Ascent.

    benchmarks/envs/rlax/bin/python benchmarks/peers/rlax_vtrace.py CASES.npz OUT.npz

Each case is a batch of trajectories [N, T] in rlax's terms (v_tm1, v_t, r_t,
discount_t, rho_tm1) with its clip thresholds; rlax takes one trajectory [T], so it is
vmapped over N. Writes, per case, rlax's targets (errors + v_tm1) and pg_advantage.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version

import jax
import numpy as np
import rlax


def main() -> None:
    cases = np.load(sys.argv[1])
    names = json.loads(str(cases["names"]))
    out: dict[str, np.ndarray] = {}
    for name in names:
        rho_bar = float(cases[f"{name}/rho_bar"])
        pg_bar = float(cases[f"{name}/pg_rho_bar"])

        def one(v_tm1, v_t, r_t, discount_t, rho_tm1, rho_bar=rho_bar, pg_bar=pg_bar):
            got = rlax.vtrace_td_error_and_advantage(
                v_tm1, v_t, r_t, discount_t, rho_tm1, lambda_=1.0,
                clip_rho_threshold=rho_bar, clip_pg_rho_threshold=pg_bar,
            )  # fmt: skip
            return got.errors + v_tm1, got.pg_advantage

        inputs = [cases[f"{name}/{k}"] for k in ("v_tm1", "v_t", "r_t", "discount_t", "rho_tm1")]
        targets, advantages = jax.jit(jax.vmap(one))(*inputs)
        out[f"{name}/targets"] = np.asarray(targets)
        out[f"{name}/pg_advantages"] = np.asarray(advantages)
    out["versions"] = np.array(json.dumps({p: version(p) for p in ("rlax", "jax", "chex")}))
    np.savez(sys.argv[2], **out)


if __name__ == "__main__":
    main()
