"""Sweeps (issue 33, item 1; `ascent/tuning/sweep.py`): a configuration's run in a sweep
is the single run of that configuration and seed (to float round-off: the module's
docstring says why not bit for bit), configurations that change shapes get a program
each, the best configuration round-trips through `--config`, and a bad grid stops in
one line before anything is trained."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import ascent
from ascent.algos.config import ScheduleLike
from ascent.catalog.registry import algorithm_class, make_config
from ascent.cli import _read_toml, main
from ascent.tuning.sweep import _traceable_fields, _traced_form, blocked, parse_grid, sweep

ENV = "gymnax/CartPole-v1"
SMALL = {"n_envs": 4, "n_steps": 16, "minibatch_size": 32, "n_epochs": 2, "total_steps": 384}
GRID = {"lr": [1e-3, 3e-4], "hidden": [(16,), (8,)]}


@pytest.fixture(scope="module")
def result():
    return sweep("ppo", ENV, GRID, [0, 1], SMALL, eval_episodes=4)


def params(state) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree.leaves(state.algo.params)]


def test_a_shape_changing_field_makes_one_program_per_shape_and_numbers_are_traced(result):
    assert [g.structural for g in result.groups] == [{"hidden": (16,)}, {"hidden": (8,)}]
    assert [g.traced for g in result.groups] == [["lr"], ["lr"]]
    assert [g.configs for g in result.groups] == [[0, 2], [1, 3]]  # the product's order
    widths = {g.structural["hidden"]: g.states.algo.params["params"]["actor"]["MLP_0"]
              ["Dense_0"]["kernel"].shape for g in result.groups}  # fmt: skip
    assert widths == {(16,): (2 * 2, 4, 16), (8,): (2 * 2, 4, 8)}  # [configs × seeds, in, out]
    assert result.final_returns.shape == (4, 2) and np.isfinite(result.final_returns).all()
    assert [len(c[0]) for c in result.curves] == [6] * 4  # 384 steps / 64 per update


@pytest.mark.parametrize("config", [0, 3])
def test_a_configurations_run_is_the_single_run_of_that_configuration_and_seed(result, config):
    values = result.configs[config]
    agent = ascent.make("ppo", env=ENV, seed=1, **{**SMALL, **values})
    agent.learn(progress=False)
    single, swept = params(agent.state), params(result.state(config, 1))
    for a, b in zip(single, swept, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    # the traced learning rate is the configuration's own: the other one moves far away
    other = result.state(config ^ 2, 1)  # same shape, the other lr
    assert max(np.abs(a - b).max() for a, b in zip(single, params(other), strict=True)) > 1e-3


def test_the_best_configuration_round_trips_through_config(result, tmp_path):
    written = result.write(tmp_path, "ascent sweep ppo ...")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "best.toml", "curves.csv", "runs.csv", "sweep.csv", "sweep.png"]  # fmt: skip
    best = result.best()
    finals = result.final_returns.mean(axis=1)
    assert finals[best] == finals.max()
    read = make_config("ppo", ENV, _read_toml(written["best"]))  # as `ascent train --config`
    assert read == result.full_configs[best]
    assert len(written["runs"].read_text().splitlines()) == 1 + 4 * 2


def test_a_float_the_code_reads_as_a_python_number_groups_the_configurations():
    config = make_config("ppo", ENV, SMALL)
    names = ["lr", "max_grad_norm"]
    forms = [{"lr": _traced_form(ScheduleLike, 1e-3), "max_grad_norm": _traced_form(float, 0.5)}]
    # math.isfinite(max_grad_norm) decides whether gradients are clipped at all
    assert _traceable_fields(algorithm_class("ppo"), ENV, [config], forms, names) == ["lr"]


def test_grid_values_split_at_commas_outside_parentheses():
    assert parse_grid(["lr=linear(1e-3, 0),3e-4", "hidden=(8,8),(16)"]) == {
        "lr": ["linear(1e-3, 0)", "3e-4"], "hidden": ["(8,8)", "(16)"]}  # fmt: skip


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        (["nope=1,2"], "ppo has no setting 'nope'"),
        (["lr=1e-3,"], "--grid lr: an empty value"),
        (["lr"], "--grid expects field=value1,value2"),
        (["lr=1e-3", "lr=3e-4"], "--grid lr is given twice"),
        (["lr=-1e-3,1e-3"], "lr"),
        (["gamma=0.9,1.5"], "gamma"),
    ],
)
def test_a_bad_grid_is_one_line_and_exit_2_before_training(grid, message, capsys):
    args = ["sweep", "ppo", "--env", ENV, "--out", "/nonexistent/never"]
    code = main([*args, *(a for item in grid for a in ("--grid", item))])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err


def test_a_sweep_needs_a_jax_environment(capsys):
    code = main(["sweep", "ppo", "--env", "CartPole-v1", "--grid", "lr=1e-3,3e-4"])
    err = capsys.readouterr().err
    assert code == 2 and "JAX door" in err and len(err.strip().splitlines()) == 1


def test_blocks_of_runs_side_by_side_give_every_run_once_in_order():
    def one(x, seed):  # a run: its numbers and seed in, arrays out
        return {"y": x * 2.0 + seed, "z": jax.numpy.stack([x[0], seed.astype(x.dtype)])}

    x = np.arange(10, dtype=np.float32).reshape(5, 2)
    seeds = np.arange(5, dtype=np.uint32)
    for block in (1, 2, 5, 8):  # padded to whole blocks, one block, blocks bigger than R
        out = blocked(one, block)(x, seeds)
        np.testing.assert_array_equal(out["y"], x * 2.0 + seeds[:, None])
        np.testing.assert_array_equal(out["z"], np.stack([x[:, 0], seeds], 1))
