"""Configs: bad values are refused before any environment exists; presets and
`--set` strings become typed fields."""

from __future__ import annotations

import re
from typing import Any

import pytest

import ascent
from ascent.catalog.registry import make_config, preset
from ascent.core.schedules import Schedule
from ascent.errors import ConfigError

ALGOS = ("reinforce", "actor-critic", "a2c", "ppo", "trpo")

# (field, bad value) that every on-policy algorithm must refuse
COMMON_BAD: list[tuple[str, Any]] = [
    ("lr", -1e-3),
    ("lr", 0.0),
    ("lr", "linear(1e-3, -1)"),
    ("lr", "fast(1e-3)"),
    ("lr", float("nan")),
    ("gamma", 1.5),
    ("gamma", -0.1),
    ("gamma", "abc"),
    ("n_envs", 0),
    ("n_envs", 2.5),
    ("n_steps", 0),
    ("total_steps", 0),
    ("ent_coef", -0.01),
    ("ent_coef", "cosine(0.01)"),
    ("activation", "nope"),
    ("hidden", (16, 0)),
    ("max_grad_norm", 0.0),
    ("hidden_gain", 0.0),
    ("hidden_gain", float("inf")),
    ("learning_rate", 1e-3),  # not a field
]

SPECIFIC_BAD: list[tuple[str, str, Any]] = [
    ("ppo", "clip_eps", 0.0),
    ("ppo", "clip_eps", -0.2),
    ("ppo", "minibatch_size", 8 * 32 + 1),  # the CartPole preset's rollout is 8 × 32
    ("ppo", "n_epochs", 0),
    ("ppo", "gae_lambda", 2.0),
    ("ppo", "vf_coef", -0.5),
    ("a2c", "gae_lambda", 2.0),
    ("a2c", "optimizer", "sgd"),
    ("a2c", "opt_eps", 0.0),
    ("a2c", "vf_coef", -0.5),
    ("reinforce", "baseline", "bogus"),
    ("reinforce", "critic_lr", 0.0),
    ("reinforce", "baseline_decay", 1.5),
    ("actor-critic", "critic", "w"),
    ("actor-critic", "critic_lr", -1.0),
    ("ppo", "objective", "trust"),
    ("ppo", "target_kl", 0.0),
    ("ppo", "kl_coef", -1.0),
    ("ppo", "clip_vf", 0.0),
    ("ppo", "clip_obs", 0.0),
    ("trpo", "target_kl", 0.0),
    ("trpo", "cg_iters", 0),
    ("trpo", "backtrack_coef", 1.5),
    ("trpo", "critic_minibatch_size", 0),
]

CASES = [
    pytest.param(algo, field, bad, id=f"{algo}-{field}={bad!r}")
    for algo in ALGOS
    for field, bad in COMMON_BAD
] + [
    pytest.param(algo, field, bad, id=f"{algo}-{field}={bad!r}")
    for algo, field, bad in SPECIFIC_BAD
]


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Making an environment fails the test: validation must come first."""

    def make_env(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"an environment was made for a bad config: {args} {kwargs}")

    monkeypatch.setattr("ascent.train.agent.make_env", make_env)


@pytest.mark.usefixtures("no_env")
@pytest.mark.parametrize(("algo", "field", "bad"), CASES)
def test_bad_value_is_refused_naming_the_field(algo: str, field: str, bad: Any) -> None:
    with pytest.raises(ConfigError) as info:
        ascent.make(algo, env="CartPole-v1", **{field: bad})
    message = str(info.value)
    assert re.search(rf"\b{field}\b", message), message
    assert "\n" not in message


@pytest.mark.usefixtures("no_env")
def test_the_same_bad_values_as_set_strings() -> None:
    # what `ascent train ... --set field=value` hands over
    for field, bad in [("gamma", "1.5"), ("n_steps", "0"), ("lr", "-3e-4"), ("hidden", "16,-1")]:
        with pytest.raises(ConfigError, match=rf"\b{field}\b"):
            ascent.make("ppo", env="CartPole-v1", **{field: bad})
    with pytest.raises(ConfigError, match="normalize_advantages"):
        ascent.make("ppo", env="CartPole-v1", normalize_advantages="maybe")


@pytest.mark.usefixtures("no_env")
def test_unknown_algorithm() -> None:
    with pytest.raises(ConfigError, match=r"unknown algorithm 'ppo2'.*did you mean 'ppo'"):
        ascent.make("ppo2", env="CartPole-v1")


def test_set_strings_are_converted_to_field_types() -> None:
    config = make_config(
        "ppo",
        "CartPole-v1",
        {
            "lr": "linear(1e-3, 0)",
            "hidden": "32,32",
            "normalize_advantages": "false",
            "gamma": "0.9",
            "n_envs": "4",
            "minibatch_size": "64",
            "ent-coef": "0.01",  # dashes as on the command line
        },
    )
    assert config.lr == Schedule("linear", 1e-3, 0.0)
    assert config.hidden == (32, 32)
    assert config.normalize_advantages is False
    assert config.gamma == 0.9 and isinstance(config.gamma, float)
    assert config.n_envs == 4 and isinstance(config.n_envs, int)
    assert config.ent_coef == 0.01
    # a constant schedule is stored as a plain number
    assert make_config("a2c", "CartPole-v1", {"lr": "constant(5e-4)"}).lr == 5e-4


@pytest.mark.parametrize("env_id", ["CartPole-v1", "gymnax/CartPole-v1"])
def test_ppo_preset_applies_and_overrides_win(env_id: str) -> None:
    table = preset("ppo", env_id)
    assert table["n_steps"] == 32 and table["minibatch_size"] == 256
    agent = ascent.make("ppo", env=env_id, hidden=(16,), n_epochs=3)
    try:
        config = agent.config
        assert (config.n_envs, config.n_steps, config.minibatch_size) == (8, 32, 256)
        assert (config.gamma, config.gae_lambda) == (0.98, 0.8)
        assert config.lr == Schedule("linear", 1e-3, 0.0)
        assert config.clip_eps == Schedule("linear", 0.2, 0.0)
        assert config.total_steps == 100_000
        assert config.n_epochs == 3 and config.hidden == (16,)  # the overrides
    finally:
        agent.close()


def test_every_preset_table_is_a_valid_config_that_sets_what_it_says() -> None:
    from ascent.catalog.registry import presets

    checked = 0
    for algo, env_ids in presets().items():
        for env_id in env_ids:
            env_id = env_id.replace("*", "Breakout")  # a family's table: atari/*
            table = preset(algo, env_id)
            assert table, f"{algo} {env_id}: no table found for a listed preset"
            # validated, and the table is what the id picks up
            assert make_config(algo, env_id) == make_config(algo, env_id, table, use_preset=False)
            checked += 1
    assert checked >= 34
    # the MuJoCo tables (issue 35): RL-Zoo's tuned PPO, normalised, 256x256 ReLU
    hc = make_config("ppo", "HalfCheetah-v5")
    assert (hc.n_envs, hc.n_steps, hc.minibatch_size, hc.n_epochs) == (1, 512, 64, 20)
    assert hc.normalize_obs and hc.normalize_reward and hc.log_std_init == -2.0
    assert hc.hidden == (256, 256) and hc.activation == "relu"


def test_no_preset_means_defaults() -> None:
    assert preset("ppo", "Acrobot-v1") == {}
    config = make_config("ppo", "CartPole-v1", {"n_epochs": 3}, use_preset=False)
    assert (config.n_steps, config.minibatch_size, config.gamma) == (128, 64, 0.99)


def test_the_core_is_one_nested_spec_set_by_dotted_names_a_table_or_a_spec() -> None:
    from ascent.algos.config import config_to_dict
    from ascent.nn.sequence import CoreSpec

    dotted = make_config("ppo", "CartPole-v1", {"core.kind": "gru", "core.embed_dim": "8"})
    table = make_config("ppo", "CartPole-v1", {"core": {"kind": "gru", "embed_dim": 8}})
    spec = make_config("ppo", "CartPole-v1", {"core": CoreSpec("gru", embed_dim=8)})
    assert dotted == table == spec and (dotted.core.kind, dotted.core.embed_dim) == ("gru", 8)
    # the names before the core was nested are read, in one place, with a one-line hint
    with pytest.warns(FutureWarning, match="setting 'policy' is now 'core.kind'") as hints:
        flat = make_config("ppo", "CartPole-v1", {"policy": "gru", "embed_dim": 8})
    assert flat == dotted and len(hints) == 2
    assert all("\n" not in str(w.message) for w in hints)
    # as meta.json holds it: a nested table, read back to the same config
    saved = config_to_dict(dotted)
    assert saved["core"]["kind"] == "gru" and "policy" not in saved
    assert make_config("ppo", "CartPole-v1", saved, use_preset=False) == dotted
    with pytest.raises(ConfigError, match="no setting core.width"):
        make_config("ppo", "CartPole-v1", {"core.width": 3})
    with pytest.raises(ConfigError, match="core.embed_dim"):
        make_config("ppo", "CartPole-v1", {"core.embed_dim": 2.5})
    with pytest.raises(ConfigError, match="no setting 'policy'"):
        make_config("sac", "Pendulum-v1", {"policy": "gru"})  # no core: no alias either
