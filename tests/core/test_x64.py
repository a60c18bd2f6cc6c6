"""`core` under x64 (issue 30): float32 in gives float32 out, float64 in gives float64
out, exact to float64 round-off (TRPO's line search once crashed there, and the damping
of the Fisher-vector product was rounded to float32).

JAX's x64 switch is process-global, so the cases (tests/core/x64_cases.py) run in a
child pytest with JAX_ENABLE_X64=1 and this process's XLA flags; nothing leaks here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CASES = Path(__file__).with_name("x64_cases.py")


def test_core_keeps_its_inputs_dtype_and_float64_round_off_under_x64() -> None:
    # pytest's own variables (PYTEST_CURRENT_TEST, xdist's worker id) are this process's
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["JAX_ENABLE_X64"] = "1"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(CASES)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = run.stdout[-6000:] + run.stderr[-2000:]
    assert run.returncode == 0, report
    assert " passed" in run.stdout and "skipped" not in run.stdout, report
