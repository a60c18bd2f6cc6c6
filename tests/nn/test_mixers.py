"""The value-decomposition mixers: QMIX is monotonic in every agent's Q, VDN is the sum."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ascent.nn.mixers import QMixer, VDNMixer

N_AGENTS, STATE_DIM, BATCH = 3, 6, 256


def _inputs(seed: int) -> tuple[jax.Array, jax.Array]:
    kq, ks = jax.random.split(jax.random.PRNGKey(seed))
    q = 5.0 * jax.random.normal(kq, (BATCH, N_AGENTS))
    return q, jax.random.normal(ks, (BATCH, STATE_DIM))


def test_qmix_is_monotonic_in_every_agents_q_by_gradients() -> None:
    mixer = QMixer(N_AGENTS, embed_dim=8)
    for seed in range(4):  # several random parameters, states and Qs
        q, state = _inputs(seed)
        params = mixer.init(jax.random.PRNGKey(100 + seed), q, state)
        per_sample = jax.vmap(jax.grad(lambda q1, s1, p=params: mixer.apply(p, q1, s1)))
        grads = per_sample(q, state)  # [B, A]: ∂Q_tot/∂Q_a
        assert grads.shape == (BATCH, N_AGENTS)
        assert bool(jnp.all(grads >= 0.0)), float(grads.min())
        assert float(grads.max()) > 0.0  # the weights are not all zero
        # the weights depend on the state: the same q mixes differently in other states
        same_q = per_sample(jnp.broadcast_to(q[0], q.shape), state)
        assert float(jnp.std(same_q[:, 0])) > 1e-3


def test_a_mixer_without_the_absolute_value_is_not_monotonic() -> None:
    # the check above can fail: with signed weights some ∂Q_tot/∂Q_a are negative
    q, state = _inputs(0)
    mixer = QMixer(N_AGENTS, embed_dim=8)
    params = mixer.init(jax.random.PRNGKey(0), q, state)

    def signed(q1: jax.Array, s1: jax.Array) -> jax.Array:
        p = params["params"]
        w1 = (s1 @ p["Dense_0"]["kernel"]).reshape(N_AGENTS, 8)  # no abs
        hidden = jax.nn.elu(q1 @ w1 + s1 @ p["Dense_1"]["kernel"])
        return hidden @ (s1 @ p["Dense_2"]["kernel"])

    assert float(jax.vmap(jax.grad(signed))(q, state).min()) < 0.0


def test_vdn_is_the_sum_of_the_agents_q() -> None:
    q, state = _inputs(1)
    mixer = VDNMixer()
    params = mixer.init(jax.random.PRNGKey(0), q, state)
    np.testing.assert_allclose(mixer.apply(params, q, state), q.sum(-1), rtol=1e-6)
    grads = jax.vmap(jax.grad(lambda q1, s1: mixer.apply(params, q1, s1)))(q, state)
    np.testing.assert_allclose(grads, 1.0)


def test_qmix_mixes_a_time_major_batch() -> None:
    mixer = QMixer(N_AGENTS, embed_dim=4)
    q, state = jnp.zeros((5, 2, N_AGENTS)), jnp.zeros((5, 2, STATE_DIM))
    params = mixer.init(jax.random.PRNGKey(0), q, state)
    assert mixer.apply(params, q, state).shape == (5, 2)
