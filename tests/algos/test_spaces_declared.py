"""Each algorithm's declared `action_spaces` (what `ascent list --spaces` and the README
table say) is what its constructor takes: every kind declared is built, every other is
refused in one line; and every single-agent algorithm takes any observation space."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces

from ascent.catalog import ALGORITHMS
from ascent.errors import EnvError

ACTIONS = {
    "Discrete": spaces.Discrete(3),
    "Box": spaces.Box(-1.0, 1.0, (2,), np.float32),
    "MultiDiscrete": spaces.MultiDiscrete([2, 3]),
    "MultiBinary": spaces.MultiBinary(3),
}
NESTED = spaces.Tuple((spaces.Discrete(4), spaces.MultiBinary(2)))
OBSERVATION = spaces.Dict({"x": spaces.Box(-1.0, 1.0, (3,)), "n": NESTED})
SINGLE = [name for name, cls in ALGORITHMS.items() if not cls.multi_agent]


@pytest.mark.parametrize("name", SINGLE)
def test_the_declared_action_spaces_are_the_ones_taken(name: str) -> None:
    cls = ALGORITHMS[name]
    assert set(cls.action_spaces) <= set(ACTIONS)
    for kind, space in ACTIONS.items():
        if kind in cls.action_spaces:
            cls(cls.Config(), OBSERVATION, space)  # builds
        else:
            with pytest.raises(EnvError) as caught:
                cls(cls.Config(), OBSERVATION, space)
            assert "\n" not in str(caught.value)


def test_teams_declare_each_agents_discrete_actions() -> None:
    teams = [cls for cls in ALGORITHMS.values() if cls.multi_agent]
    assert teams and all(cls.action_spaces == ("Discrete",) for cls in teams)


def test_ascent_list_spaces_prints_the_declarations(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ascent.cli import main

    monkeypatch.setenv("COLUMNS", "200")  # one line a row
    assert main(["list", "--spaces"]) == 0
    rows = {line.split("│")[1].strip(): line for line in capsys.readouterr().out.splitlines()
            if line.count("│") >= 4 and line.split("│")[1].strip()}  # fmt: skip
    assert "MultiDiscrete" in rows["ppo"] and "Box" in rows["sac"] and "Discrete" in rows["ippo"]
    assert "MultiDiscrete" not in rows["sac"]
