"""Shape contracts of core.returns and core.losses, checked at trace time: a mismatched
call raises with the function, the argument and both shapes in its message; a team's
per-agent numbers [T, N, A] with its flags [T, N] pass; and broadcast_flags, the one
broadcast of per-environment flags over agents."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ascent.core.losses import (
    clipped_surrogate_loss,
    explained_variance,
    kl_penalty_loss,
    masked_mean,
    normalize_advantages,
    policy_gradient_loss,
    temperature_loss,
    value_loss,
)
from ascent.core.noise import ou_reset
from ascent.core.returns import (
    discounted_returns,
    ends_within,
    gae,
    n_step_returns,
    td_errors,
    vtrace,
)
from ascent.core.shapes import broadcast_flags

T, N, A = 5, 4, 3
R = jnp.zeros((T, N))  # [T, N]
BAD = jnp.zeros((T, 3))  # [T, 3]: wrong N
FLAGS = jnp.zeros((T, N), bool)
BAD_FLAGS = jnp.zeros((T, 3), bool)


def raises(call: Callable[[], object], *parts: str) -> None:
    """`call` fails its shape check with every one of `parts` in the message."""
    with pytest.raises(AssertionError) as info:
        call()
    for part in parts:
        assert part in str(info.value), (part, str(info.value))


# --- returns ------------------------------------------------------------------------


def test_gae_names_the_argument_and_both_shapes() -> None:
    raises(
        lambda: gae(
            rewards=R,
            values=BAD,
            next_values=R,
            terminated=FLAGS,
            truncated=FLAGS,
            gamma=0.9,
            gae_lambda=0.95,
        ),
        "gae: values has shape (5, 3) but rewards has (5, 4)",
    )
    raises(
        lambda: gae(
            rewards=R,
            values=R,
            next_values=R,
            terminated=FLAGS,
            truncated=BAD_FLAGS,
            gamma=0.9,
            gae_lambda=0.95,
        ),
        "gae: truncated has shape (5, 3) but rewards has (5, 4)",
    )


def test_the_check_runs_at_trace_time() -> None:
    """Under jit the check fails while tracing: eval_shape never runs the function."""
    raises(
        lambda: jax.eval_shape(
            lambda r, v: gae(
                rewards=r,
                values=v,
                next_values=r,
                terminated=FLAGS,
                truncated=FLAGS,
                gamma=0.9,
                gae_lambda=0.95,
            ),
            R,
            BAD,
        ),
        "gae: values has shape (5, 3) but rewards has (5, 4)",
    )


def test_td_errors_checks_values_and_flags() -> None:
    raises(
        lambda: td_errors(rewards=R, values=R, next_values=BAD, terminated=FLAGS, gamma=0.9),
        "td_errors: next_values has shape (5, 3) but rewards has (5, 4)",
    )
    raises(
        lambda: td_errors(rewards=R, values=R, next_values=R, terminated=BAD_FLAGS, gamma=0.9),
        "td_errors: terminated has shape (5, 3) but rewards has (5, 4)",
    )


def test_discounted_returns_checks_next_values_and_flags() -> None:
    raises(
        lambda: discounted_returns(
            rewards=R, terminated=FLAGS, truncated=FLAGS, next_values=BAD, gamma=0.9
        ),
        "discounted_returns: next_values has shape (5, 3) but rewards has (5, 4)",
    )
    raises(
        lambda: discounted_returns(rewards=R, terminated=BAD_FLAGS, truncated=FLAGS, gamma=0.9),
        "discounted_returns: terminated has shape (5, 3) but rewards has (5, 4)",
    )


def test_n_step_returns_checks_next_values_and_flags() -> None:
    raises(
        lambda: n_step_returns(
            rewards=R, next_values=BAD, terminated=FLAGS, truncated=FLAGS, gamma=0.9, n=2
        ),
        "n_step_returns: next_values has shape (5, 3) but rewards has (5, 4)",
    )
    # flags with more axes than the rewards do not lead them
    raises(
        lambda: n_step_returns(
            rewards=R,
            next_values=R,
            terminated=FLAGS,
            truncated=jnp.zeros((T, N, A), bool),
            gamma=0.9,
            n=2,
        ),
        "n_step_returns: truncated has shape (5, 4, 3) but rewards has (5, 4)",
    )


def test_vtrace_checks_log_rhos() -> None:
    raises(
        lambda: vtrace(
            rewards=R,
            values=R,
            next_values=R,
            terminated=FLAGS,
            truncated=FLAGS,
            log_rhos=BAD,
            gamma=0.9,
        ),
        "vtrace: log_rhos has shape (5, 3) but rewards has (5, 4)",
    )


def test_ends_within_checks_its_two_flags() -> None:
    raises(
        lambda: ends_within(terminated=FLAGS, truncated=BAD_FLAGS),
        "ends_within: truncated has shape (5, 3) but terminated has (5, 4)",
    )


def test_rewards_need_a_time_axis() -> None:
    raises(
        lambda: td_errors(rewards=1.0, values=0.0, next_values=0.0, terminated=False, gamma=0.9),
        "td_errors: rewards has shape () but needs a time axis",
    )


def test_team_numbers_with_the_teams_flags_pass_in_every_function() -> None:
    """rewards [T, N, A] with flags [T, N] is the same as with the flags broadcast first."""
    rng = np.random.default_rng(0)
    team = {
        k: rng.normal(size=(T, N, A)).astype(np.float32)
        for k in ("rewards", "values", "next_values", "log_rhos")
    }
    flags = {"terminated": rng.random((T, N)) < 0.3, "truncated": rng.random((T, N)) < 0.3}
    wide = {k: np.broadcast_to(f[..., None], (T, N, A)) for k, f in flags.items()}
    r, v, nv, lr = (team[k] for k in ("rewards", "values", "next_values", "log_rhos"))
    calls = {
        "discounted_returns": lambda f: discounted_returns(
            rewards=r, next_values=nv, **f, gamma=0.9
        ),
        "td_errors": lambda f: td_errors(
            rewards=r, values=v, next_values=nv, terminated=f["terminated"], gamma=0.9
        ),
        "n_step_returns": lambda f: n_step_returns(rewards=r, next_values=nv, **f, gamma=0.9, n=3),
        "gae": lambda f: gae(rewards=r, values=v, next_values=nv, **f, gamma=0.9, gae_lambda=0.95),
        "vtrace": lambda f: (
            vtrace(rewards=r, values=v, next_values=nv, **f, log_rhos=lr, gamma=0.9).vs
        ),
    }
    for name, call in calls.items():
        got = np.asarray(call(flags))
        assert got.shape == (T, N, A), name
        np.testing.assert_allclose(got, call(wide), rtol=1e-6, atol=1e-6, err_msg=name)


# --- losses -------------------------------------------------------------------------

B = jnp.zeros(8)  # [B]
BAD_B = jnp.zeros(6)


def test_policy_gradient_loss_checks_advantages_and_mask() -> None:
    raises(
        lambda: policy_gradient_loss(B, BAD_B),
        "policy_gradient_loss: advantages has shape (6,) but log_probs has (8,)",
    )
    raises(
        lambda: policy_gradient_loss(B, B, BAD_B),
        "policy_gradient_loss: mask has shape (6,) but log_probs has (8,)",
    )


def test_clipped_surrogate_loss_checks_old_log_probs() -> None:
    raises(
        lambda: clipped_surrogate_loss(B, BAD_B, B, clip_eps=0.2),
        "clipped_surrogate_loss: old_log_probs has shape (6,) but log_probs has (8,)",
    )


def test_kl_penalty_loss_checks_kl_and_its_coefficient() -> None:
    raises(
        lambda: kl_penalty_loss(B, B, B, BAD_B, kl_coef=0.5),
        "kl_penalty_loss: kl has shape (6,) but log_probs has (8,)",
    )
    raises(
        lambda: kl_penalty_loss(B, B, B, B, kl_coef=jnp.ones(2)),
        "kl_penalty_loss: kl_coef has shape (2,) but needs rank 0",
    )


def test_value_loss_checks_targets_old_values_and_mask() -> None:
    raises(
        lambda: value_loss(R, BAD),
        "value_loss: targets has shape (5, 3) but values has (5, 4)",
    )
    raises(
        lambda: value_loss(R, R, old_values=BAD, clip_eps=0.2),
        "value_loss: old_values has shape (5, 3) but values has (5, 4)",
    )
    # a team's mask is per agent, like its values
    raises(
        lambda: value_loss(jnp.zeros((T, N, A)), jnp.zeros((T, N, A)), mask=FLAGS),
        "value_loss: mask has shape (5, 4) but values has (5, 4, 3)",
    )


def test_masked_mean_and_normalize_advantages_need_a_broadcastable_mask() -> None:
    raises(lambda: masked_mean(R, BAD), "masked_mean: mask has shape (5, 3) but x has (5, 4)")
    raises(
        lambda: normalize_advantages(R, jnp.ones(3)),
        "normalize_advantages: mask has shape (3,) but advantages has (5, 4)",
    )
    # broadcastable masks stay allowed: one weight per environment, trailing axes aligned
    assert float(masked_mean(jnp.ones((T, N)), jnp.ones(N))) == 1.0


def test_explained_variance_checks_target() -> None:
    raises(
        lambda: explained_variance(R, BAD),
        "explained_variance: target has shape (5, 3) but pred has (5, 4)",
    )


def test_temperature_loss_takes_a_scalar_and_a_batch() -> None:
    raises(
        lambda: temperature_loss(jnp.zeros(2), B, target_entropy=-1.0),
        "temperature_loss: log_alpha has shape (2,) but needs rank 0",
    )
    raises(
        lambda: temperature_loss(0.0, R, target_entropy=-1.0),
        "temperature_loss: log_probs has shape (5, 4) but needs rank 1",
    )


# --- broadcast_flags --------------------------------------------------------------


def test_broadcast_flags_adds_the_agents_axes() -> None:
    done = jnp.array([True, False])
    out = broadcast_flags(done, jnp.zeros((2, 3, 4)))
    assert out.shape == (2, 1, 1) and out.dtype == bool
    assert broadcast_flags(jnp.array([1, 0]), jnp.zeros(2)).dtype == bool  # 0/1 as bool
    np.testing.assert_array_equal(ou_reset(jnp.ones((2, 3)), done), [[0] * 3, [1] * 3])
    raises(
        lambda: broadcast_flags(done, jnp.zeros((3, 2))),
        "broadcast_flags: flags has shape (2,) but like has (3, 2)",
    )
