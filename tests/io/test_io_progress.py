"""Progress display: plain lines every ~10% off a terminal, a rich bar on one; tables."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from rich.console import Console

from ascent.io import TrainingProgress, print_table

LINE = re.compile(
    r"^training: [\d,]+/10,000 steps \(\d+%\) \| [\d,?]+ steps/s \| return (-|-?\d+\.\d\d)"
    r" \| elapsed \d+:\d\d:\d\d \| eta (\d+:\d\d:\d\d|\?)$"
)


def test_disabled_progress_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with TrainingProgress(10_000, enabled=False) as progress:
        for steps in range(0, 10_001, 250):
            progress.update(steps, episode_return=1.0)
    assert capsys.readouterr().out == ""


def test_plain_progress_prints_a_line_every_tenth(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # capsys's stdout is not a terminal, so the bar falls back to plain lines
    with TrainingProgress(10_000) as progress:
        assert not progress.interactive
        for steps in range(0, 10_001, 250):
            progress.update(steps, episode_return=steps / 100 if steps >= 5000 else None)
    compiling, *lines = capsys.readouterr().out.splitlines()
    assert compiling == "training: compiling"  # why the first line takes a while
    assert len(lines) == 10
    assert all(LINE.match(line) for line in lines), lines
    assert [re.search(r"\((\d+)%\)", line).group(1) for line in lines] == [
        str(p) for p in range(10, 101, 10)
    ]
    assert "return -" in lines[3] and "return 50.00" in lines[4]
    assert lines[-1].endswith("eta 0:00:00")


def test_non_terminal_output_falls_back_to_plain_lines_and_ends_with_a_summary(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # capsys's stdout is not a terminal, as in CI
    with TrainingProgress(10_000, description="ppo") as progress:
        assert not progress.interactive
        progress.update(1_500, episode_return=12.345)
        progress.update(1_600)  # not another 10%: no line
        progress.update(4_000)  # a jump past several marks prints one line
        progress.update(4_100)
    compiling, *lines = capsys.readouterr().out.splitlines()
    assert compiling == "ppo: compiling"
    assert len(lines) == 3  # 15%, 40%, then the final state on close
    assert lines[0].startswith("ppo: 1,500/10,000 steps (15%)") and "return 12.35" in lines[0]
    assert lines[1].startswith("ppo: 4,000/10,000 steps (40%)")
    assert lines[2].startswith("ppo: 4,100/10,000 steps (41%)") and "return 12.35" in lines[2]


def test_terminal_gets_a_rich_bar() -> None:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=150, color_system=None)
    with TrainingProgress(2_000, description="sac", console=console) as progress:
        assert progress.interactive
        progress.update(1_000, episode_return=-3.5)
        progress.update(2_000)
    out = buf.getvalue()
    assert "sac" in out and "2,000/2,000" in out and "ret -3.50" in out
    assert "/s" in out and "<" in out  # steps per second, elapsed<remaining


def test_the_bar_says_compiling_then_fits_80_columns() -> None:
    """Until the first chunk is back the rate says "compiling"; with the widest cells
    (a long description, ten million steps, a return in the thousands, hours) every line
    of the bar fits an 80-column terminal."""
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=80, color_system=None)
    with TrainingProgress(
        10_000_000, description="impala atari/MontezumaRevenge", console=console
    ) as progress:
        progress._progress.refresh()
        assert "compiling" in buf.getvalue()
        progress.update(1_234_567, episode_return=-12_345.678)
        progress._progress.refresh()
    out = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", buf.getvalue())  # the cursor's moves
    lines = [line for line in re.split(r"[\r\n]", out) if line.strip()]
    assert any("1,235k/10.0M" in line and "ret -12,346" in line for line in lines), lines
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)


def test_bad_total_is_rejected() -> None:
    with pytest.raises(ValueError, match="total_steps"):
        TrainingProgress(0)


def test_print_table_formats_rows() -> None:
    buf = io.StringIO()
    console = Console(file=buf, width=120, color_system=None)
    rows = [
        {"algo": "ppo", "env": "CartPole-v1", "return": 487.25, "steps": 100_000},
        {"algo": "a2c", "env": "CartPole-v1", "return": np.float32(0.5), "time_s": 12345.678},
    ]
    print_table("results", rows, console=console)
    out = buf.getvalue()
    for text in ("results", "algo", "time_s", "ppo", "a2c", "487.2", "100,000", "0.5", "12,345.7"):
        assert text in out, text
    header = next(line for line in out.splitlines() if "algo" in line)
    assert header.index("algo") < header.index("env") < header.index("return")
    assert header.index("return") < header.index("steps") < header.index("time_s")
