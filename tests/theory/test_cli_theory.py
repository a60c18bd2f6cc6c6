"""`ascent theory pg`: the table, the JSON, the plot, and one-line errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ascent.cli import main

ROOT = Path(__file__).resolve().parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SMALL = ["--mdp", "chain", "--states", "3", "--samples", "1000", "--seed", "1"]


@pytest.fixture(autouse=True)
def shared_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASCENT_CACHE_DIR", str(ROOT / ".cache" / "jax"))


def test_json_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pg.png"
    assert main(["theory", "pg", *SMALL, "--json", "-o", str(out)]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["mdp"] == "chain(3)" and report["samples"] == 1000
    assert len(report["rows"]) == 16 and len(report["sweep"]) == 14
    row = report["rows"][0]
    assert {"estimator", "discount", "unbiased", "rel_bias", "rel_bias_se", "variance"} <= set(row)
    assert f"wrote {out}" in captured.err
    assert out.read_bytes().startswith(PNG_SIGNATURE)


def test_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["theory", "pg", *SMALL, "-o", str(tmp_path / "pg.png")]) == 0
    text = capsys.readouterr().out
    for words in ("chain(3)", "reward-to-go G_t", "GAE(λ=0.9)", "rel. bias ± s.e.", "wrote"):
        assert words in text


@pytest.mark.parametrize(
    ("args", "word"),
    [
        (["--mdp", "grid", "--states", "5"], "square"),
        (["--mdp", "chain", "--actions", "3"], "actions"),
        (["--gamma", "1.0"], "gamma"),
        (["--samples", "1"], "samples"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], word: str
) -> None:
    assert main(["theory", "pg", *args, "-o", str(tmp_path / "pg.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and word in err[0]
    assert not (tmp_path / "pg.png").exists()
