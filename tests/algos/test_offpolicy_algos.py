"""DDPG, TD3, SAC and NAF: the spaces they accept, their bootstrapped targets, and the
one property each update must have (TD3's clipped double-Q target on smoothed
actions, SAC's temperature, NAF's greedy action)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ascent
from ascent.algos import DDPG, NAF, SAC, TD3, DDPGConfig, NAFConfig, SACConfig, TD3Config
from ascent.algos.naf import NAFNet
from ascent.buffers import Transitions
from ascent.errors import ConfigError, EnvError
from ascent.nn import QNet

OBS = gym.spaces.Box(-np.inf, np.inf, (3,), np.float32)
ACT = gym.spaces.Box(np.array([-2.0, 0.0], np.float32), np.array([1.0, 4.0], np.float32))
ALGOS = {"ddpg": (DDPG, DDPGConfig), "td3": (TD3, TD3Config), "sac": (SAC, SACConfig),
         "naf": (NAF, NAFConfig)}  # fmt: skip


def build(algo: str, **fields: Any) -> Any:
    cls, config_cls = ALGOS[algo]
    return cls(config_cls(hidden=(16, 16), **fields), OBS, ACT)


def random_batch(key: jax.Array, b: int = 32, **flags: bool) -> Transitions:
    k_obs, k_act, k_rew, k_next = jax.random.split(key, 4)
    low, high = ACT.low, ACT.high
    return Transitions(
        obs=jax.random.normal(k_obs, (b, 3)),
        actions=jax.random.uniform(k_act, (b, 2), minval=low, maxval=high),
        rewards=jax.random.normal(k_rew, (b,)),
        next_obs=jax.random.normal(k_next, (b, 3)),
        terminated=jnp.full((b,), flags.get("terminated", False)),
        truncated=jnp.full((b,), flags.get("truncated", False)),
    )


@pytest.mark.parametrize("algo", list(ALGOS))
def test_discrete_actions_are_refused_in_one_line_naming_an_alternative(algo: str) -> None:
    with pytest.raises(EnvError) as info:
        ascent.make(algo, env="CartPole-v1")
    message = str(info.value)
    assert f"{algo} needs a Box action space" in message and "Discrete(2)" in message
    assert "ppo" in message and "\n" not in message


def test_unbounded_box_actions_are_refused() -> None:
    unbounded = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
    with pytest.raises(EnvError, match="finite action bounds"):
        SAC(SACConfig(), OBS, unbounded)


@pytest.mark.parametrize(
    ("field", "value"),
    [("tau", 0.0), ("gamma", 1.5), ("minibatch_size", 0), ("action_noise", "pink"),
     ("learning_starts", -1), ("buffer_size", 0), ("gradient_steps", 0)],
)  # fmt: skip
def test_bad_config_values_are_named(field: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=field):
        ascent.make("td3", env="gymnax/Pendulum-v1", **{field: value})


@pytest.mark.parametrize("algo", list(ALGOS))
def test_actions_stay_inside_the_bounds(algo: str) -> None:
    """Deterministic and exploratory actions of the algorithm itself, with inputs large
    enough to saturate the output layer."""
    algorithm = build(algo)
    state = algorithm.init(jax.random.PRNGKey(0))
    obs = 100.0 * jax.random.normal(jax.random.PRNGKey(1), (512, 3))
    act = jax.jit(algorithm.act, static_argnums=3)
    for deterministic in (True, False):
        actions, log_probs = act(state, obs, jax.random.PRNGKey(2), deterministic)
        assert actions.shape == (512, 2) and log_probs.shape == (512,)
        assert (actions >= ACT.low).all() and (actions <= ACT.high).all()


@pytest.mark.parametrize("algo", list(ALGOS))
def test_terminated_steps_do_not_bootstrap_and_truncated_ones_do(algo: str) -> None:
    algorithm = build(algo)
    state = algorithm.init(jax.random.PRNGKey(0))
    key = jax.random.PRNGKey(5)
    plain = random_batch(jax.random.PRNGKey(1))
    terminated = plain._replace(terminated=jnp.ones_like(plain.terminated))
    truncated = plain._replace(truncated=jnp.ones_like(plain.truncated))
    targets = algorithm.targets
    extra = (jnp.float32(0.2),) if algo == "sac" else ()
    np.testing.assert_allclose(targets(state, terminated, key, *extra), plain.rewards, rtol=1e-6)
    bootstrapped = targets(state, truncated, key, *extra)
    np.testing.assert_allclose(bootstrapped, targets(state, plain, key, *extra), rtol=1e-6)
    assert not np.allclose(bootstrapped, plain.rewards)


@pytest.mark.parametrize("algo", list(ALGOS))
def test_an_update_moves_every_network_and_stays_finite(algo: str) -> None:
    algorithm = build(algo, policy_delay=1) if algo == "td3" else build(algo)
    state = algorithm.init(jax.random.PRNGKey(0))
    new, metrics = jax.jit(algorithm.update)(
        state, random_batch(jax.random.PRNGKey(1)), jax.random.PRNGKey(2)
    )
    assert "critic_loss" in metrics and all(np.isfinite(float(v)) for v in metrics.values())
    for name in state._fields:
        if name.endswith(("_opt", "opt_state")) or name == "updates":
            continue
        before, after = jax.tree.leaves(getattr(state, name)), jax.tree.leaves(getattr(new, name))
        if algo == "sac" and name == "log_alpha":
            assert not np.array_equal(before[0], after[0])
            continue
        moved = [not np.array_equal(a, b) for a, b in zip(before, after, strict=True)]
        assert all(moved), f"{algo}: {moved.count(False)} arrays of {name} unchanged"
    assert int(new.updates) == 1


# --- TD3 ------------------------------------------------------------------------------


def test_td3_target_is_the_min_of_two_target_critics_on_smoothed_actions() -> None:
    td3 = build("td3", target_policy_noise=0.3, target_noise_clip=0.4, gamma=0.9)
    state = td3.init(jax.random.PRNGKey(0))
    # targets unlike the online networks, and two critics that disagree
    fresh = td3.init(jax.random.PRNGKey(7))
    state = state._replace(actor_target=fresh.actor, critic_target=fresh.critic)
    batch = random_batch(jax.random.PRNGKey(1), b=256)
    key = jax.random.PRNGKey(3)

    smoothed = td3.smoothed_target_actions(state, batch.next_obs, key)
    mu = td3.actor.apply(state.actor_target, batch.next_obs)
    assert (jnp.abs(smoothed) <= 1).all()
    assert (jnp.abs(smoothed - mu) <= 0.4 + 1e-6).all()  # the noise clip
    assert float(jnp.abs(smoothed - mu).mean()) > 0.1  # and there is noise
    assert jnp.isclose(jnp.abs(smoothed - mu), 0.4, atol=1e-6).any()  # some of it clipped

    # each target critic on its own: QNet with one slice of the stacked parameters
    qnet = QNet(None, None, (16, 16), "relu")
    params = state.critic_target["params"]["VmapQNet_0"]
    q = [
        qnet.apply({"params": jax.tree.map(lambda x, i=i: x[i], params)}, batch.next_obs, smoothed)
        for i in range(2)
    ]
    assert not np.allclose(q[0], q[1])
    expected = batch.rewards + 0.9 * jnp.minimum(q[0], q[1])
    np.testing.assert_allclose(td3.targets(state, batch, key), expected, rtol=1e-5, atol=1e-5)


def test_td3_without_clipped_double_q_bootstraps_from_the_first_target_critic() -> None:
    """The ablation "TD3 − CDQ": y = r + γ Q'_1(s', ã) on the same smoothed actions; the
    default (on) is unchanged, the min of the two."""
    on, off = build("td3", gamma=0.9), build("td3", gamma=0.9, clipped_double_q=False)
    state = on.init(jax.random.PRNGKey(0))
    state = state._replace(critic_target=on.init(jax.random.PRNGKey(7)).critic)
    batch = random_batch(jax.random.PRNGKey(1), b=256)
    key = jax.random.PRNGKey(3)
    smoothed = on.smoothed_target_actions(state, batch.next_obs, key)
    q = on.critic.apply(state.critic_target, batch.next_obs, smoothed)  # [2, B]
    assert (q[0] > q[1]).any() and (q[0] < q[1]).any()  # the min picks from both
    np.testing.assert_allclose(
        off.targets(state, batch, key), batch.rewards + 0.9 * q[0], rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(
        on.targets(state, batch, key), batch.rewards + 0.9 * q.min(axis=0), rtol=1e-5, atol=1e-5
    )
    # the update's critic loss is against that target
    _, with_min = jax.jit(on.update)(state, batch, key)
    _, with_first = jax.jit(off.update)(state, batch, key)
    assert float(with_min["critic_loss"]) != pytest.approx(float(with_first["critic_loss"]))


def test_td3_updates_its_actor_and_targets_every_policy_delay_updates() -> None:
    td3 = build("td3", policy_delay=3)
    state = td3.init(jax.random.PRNGKey(0))
    update = jax.jit(td3.update)
    actor_changed, target_changed = [], []
    for i in range(6):
        new, _ = update(state, random_batch(jax.random.PRNGKey(i)), jax.random.PRNGKey(10 + i))
        leaf = lambda tree: jax.tree.leaves(tree)[0]  # noqa: E731
        actor_changed.append(not np.array_equal(leaf(state.actor), leaf(new.actor)))
        target_changed.append(
            not np.array_equal(leaf(state.critic_target), leaf(new.critic_target))
        )
        state = new
    assert actor_changed == [False, False, True, False, False, True]
    assert target_changed == actor_changed


# --- SAC ------------------------------------------------------------------------------


@pytest.mark.parametrize(("target_entropy", "rises"), [(5.0, True), (-20.0, False)])
def test_sac_temperature_rises_below_the_target_entropy(target_entropy: float, rises: bool) -> None:
    """A squashed Gaussian over a 2-D unit box has entropy below 2·log 2 ≈ 1.4 < 5, and
    far above −20 at initialisation."""
    sac = build("sac", target_entropy=target_entropy, alpha=0.5)
    state = sac.init(jax.random.PRNGKey(0))
    update = jax.jit(sac.update)
    alphas = [float(jnp.exp(state.log_alpha))]
    for i in range(3):
        state, metrics = update(state, random_batch(jax.random.PRNGKey(i)), jax.random.PRNGKey(i))
        alphas.append(float(jnp.exp(state.log_alpha)))
    steps = np.diff(alphas)
    assert ((steps > 0) if rises else (steps < 0)).all(), alphas
    assert (
        float(metrics["entropy"]) < target_entropy
        if rises
        else float(metrics["entropy"]) > target_entropy
    )


def test_sac_with_fixed_alpha_keeps_it() -> None:
    sac = build("sac", autotune=False, alpha=0.05)
    state = sac.init(jax.random.PRNGKey(0))
    new, metrics = jax.jit(sac.update)(
        state, random_batch(jax.random.PRNGKey(1)), jax.random.PRNGKey(2)
    )
    assert float(jnp.exp(new.log_alpha)) == pytest.approx(0.05)
    assert float(metrics["alpha"]) == pytest.approx(0.05)


def test_sac_default_target_entropy_is_minus_the_action_dimension() -> None:
    assert build("sac").target_entropy == -2.0


# --- NAF ------------------------------------------------------------------------------


def test_naf_acts_greedily_at_the_maximum_of_its_q() -> None:
    naf = build("naf")
    state = naf.init(jax.random.PRNGKey(0))
    obs = jax.random.normal(jax.random.PRNGKey(1), (8, 3))
    value, mu, _ = naf.net.apply(state.params, obs)
    # Q at μ is V, and no action on a grid over the unit box does better
    q_mu = naf.net.apply(state.params, obs, mu, method=NAFNet.q)
    np.testing.assert_allclose(q_mu, value, rtol=1e-6)
    grid = jnp.stack(jnp.meshgrid(*[jnp.linspace(-1, 1, 21)] * 2), -1).reshape(-1, 2)
    q_of = jax.jit(jax.vmap(lambda a: naf.net.apply(state.params, obs, jnp.broadcast_to(a, (8, 2)),
                                                    method=NAFNet.q)))  # fmt: skip
    q_grid = q_of(grid)
    assert (q_grid <= q_mu[None] + 1e-6).all()
    # the action it takes is μ rescaled to the bounds
    actions, _ = naf.act(state, obs, jax.random.PRNGKey(2), True)
    np.testing.assert_allclose(actions, ACT.low + (mu + 1) / 2 * (ACT.high - ACT.low), rtol=1e-6)
