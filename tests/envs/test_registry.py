from __future__ import annotations

import gymnasium
import pytest

from ascent.envs import (
    TASKS,
    Chain,
    GymnaxEnv,
    HostVecEnv,
    door,
    is_jax_env,
    list_envs,
    make,
    register_task,
)
from ascent.envs.gymnax_env import gymnax_ids
from ascent.envs.registry import registered
from ascent.errors import EnvError


def test_each_door() -> None:
    with make("CartPole-v1", n_envs=2, seed=1) as host:
        assert isinstance(host, HostVecEnv) and host.n_envs == 2 and host.seed == 1
        assert door(host) == "host" and not is_jax_env(host)
    gymnax = make("gymnax/CartPole-v1")
    assert isinstance(gymnax, GymnaxEnv) and door(gymnax) == "jax" and is_jax_env(gymnax)
    chain = make("ascent/Chain-v0", length=4)
    assert isinstance(chain, Chain) and chain.length == 4 and door(chain) == "jax"


def test_unknown_id_is_one_line() -> None:
    with pytest.raises(EnvError) as info:
        make("NoSuchEnv-v0")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("unknown environment 'NoSuchEnv-v0': not a Gymnasium id")
    assert "ascent list" in message
    with pytest.raises(EnvError, match="did you mean 'CartPole-v1'"):
        make("CartPole-v2")


def test_unknown_prefixed_ids() -> None:
    with pytest.raises(EnvError, match="unknown gymnax environment 'NoSuch-v0'"):
        make("gymnax/NoSuch-v0")
    with pytest.raises(EnvError, match="ascent/Chain-v0"):
        make("ascent/NoSuch-v0")
    with pytest.raises(EnvError, match="cannot import"):
        make("no_such_module_xyz:Thing-v0")


def test_bad_arguments() -> None:
    with pytest.raises(EnvError, match="n_envs"):
        make("ascent/Chain-v0", n_envs=0)
    with pytest.raises(EnvError, match="takes no options"):
        make("gymnax/CartPole-v1", foo=1)
    with pytest.raises(EnvError, match="neither"):
        door(object())
    assert not is_jax_env(object())


def test_register_task() -> None:
    register_task("ShortChain-v0", lambda: Chain(length=3, env_id="ascent/ShortChain-v0"))
    try:
        env = make("ascent/ShortChain-v0")
        assert env.env_id == "ascent/ShortChain-v0" and env.observation_space.shape == (3,)
        with pytest.raises(EnvError, match="already registered"):
            register_task("ascent/ShortChain-v0", Chain)
    finally:
        del TASKS["ascent/ShortChain-v0"]


def test_listed_ids_resolve() -> None:
    listed = list_envs()
    assert set(listed) == {"gymnasium", "gymnax", "ascent", "pettingzoo", "jaxmarl", "atari"}
    assert all(registered(i) for i in listed["atari"])
    assert "CartPole-v1" in listed["gymnasium"] and "ascent/Chain-v0" in listed["ascent"]
    assert all(i in gymnasium.registry for i in listed["gymnasium"])
    assert all(i.removeprefix("gymnax/") in gymnax_ids() for i in listed["gymnax"])
    assert all(i in TASKS for i in listed["ascent"])


def test_ale_pys_own_ids_point_at_the_atari_family() -> None:
    from ascent.envs.registry import _unknown

    assert "use 'atari/Pong'" in str(_unknown("ALE/Pong-v5"))
    assert "use 'atari/Breakout'" in str(_unknown("BreakoutNoFrameskip-v4"))
    assert "atari/" not in str(_unknown("CartPol-v1"))
