"""ascent._xla: the one definition of XLA_FLAGS."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ascent import _xla

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "flags", [_xla.XLA_FLAGS, _xla.XLA_FLAGS_BY_AFFINITY, _xla.XLA_FLAGS_FOR_TESTS]
)
def test_every_word_is_a_flag(flags: str) -> None:
    # XLA stops reading at the first word without `--` and drops the flags after it
    words = flags.split()
    assert words
    assert all(word.startswith("--") for word in words), words


def test_the_scheduler_flag_is_in_each() -> None:
    scheduler = "--xla_cpu_enable_concurrency_optimized_scheduler=false"
    assert scheduler in _xla.XLA_FLAGS.split()
    assert _xla.XLA_FLAGS_BY_AFFINITY.split() == [scheduler]
    # the tests' flags are the run flags and the compile-time ones after them
    assert _xla.XLA_FLAGS_FOR_TESTS.startswith(_xla.XLA_FLAGS + " ")


def test_set_xla_flags_keeps_a_value_already_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    assert _xla.set_xla_flags() == _xla.XLA_FLAGS
    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/tmp/x")
    assert _xla.set_xla_flags(_xla.XLA_FLAGS_BY_AFFINITY) == "--xla_dump_to=/tmp/x"


def test_the_script_prints_the_flags_with_only_the_standard_library() -> None:
    # as the Makefile runs it: `-S` (no site-packages) stands in for a missing venv
    script = str(ROOT / "ascent" / "_xla.py")
    for args, flags in (([], _xla.XLA_FLAGS), (["tests"], _xla.XLA_FLAGS_FOR_TESTS)):
        run = subprocess.run([sys.executable, "-S", script, *args],
                             capture_output=True, text=True, check=True)  # fmt: skip
        assert run.stdout.strip() == flags


def test_no_other_file_spells_the_flags() -> None:
    # one definition: the Makefile, conftest, the CLI and the benchmarks import or run it
    files = [ROOT / "Makefile", *(ROOT / "ascent").rglob("*.py"), *(ROOT / "tests").rglob("*.py")]
    files += [*(ROOT / "benchmarks").glob("*.py"), *(ROOT / "benchmarks/peers").glob("*.py")]
    own = {ROOT / "ascent" / "_xla.py", Path(__file__).resolve()}
    copies = [str(f.relative_to(ROOT)) for f in files if f not in own and "--xla_" in f.read_text()]
    assert copies == []
