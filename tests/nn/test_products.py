"""The dense product with its weight gradient written weights-last (nn/products.py):
the same function, gradients and second derivatives as `x @ kernel`, on either side of
`ROWS`, for 2-D and 3-D inputs, under vmap, and inside flax's Dense."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ascent.nn.products import ROWS, dense_dot_general, dense_product
from ascent.nn.torso import dense


def loss(product, x, kernel):  # type: ignore[no-untyped-def]
    return jnp.sum(jnp.tanh(product(x, kernel)) ** 2)


@pytest.mark.parametrize("shape", [(ROWS, 5), (ROWS // 4, 4, 5), (7, 5)])
def test_values_gradients_and_curvature_are_those_of_the_plain_product(shape):
    kx, kk, kv = jax.random.split(jax.random.PRNGKey(0), 3)
    x = jax.random.normal(kx, shape)
    kernel = jax.random.normal(kk, (5, 3))
    plain = jax.jit(jax.value_and_grad(lambda x, k: loss(jnp.matmul, x, k), argnums=(0, 1)))
    ours = jax.jit(jax.value_and_grad(lambda x, k: loss(dense_product, x, k), argnums=(0, 1)))
    (value, grads), (value2, grads2) = plain(x, kernel), ours(x, kernel)
    np.testing.assert_allclose(value2, value, rtol=1e-6)
    for a, b in zip(grads2, grads, strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    # forward over reverse, as TRPO's Fisher-vector products take it
    v = jax.random.normal(kv, kernel.shape)

    def curvature(product):  # type: ignore[no-untyped-def]
        grad = jax.grad(lambda k: loss(product, x, k))
        return jax.jit(lambda k: jax.jvp(grad, (k,), (v,))[1])(kernel)

    np.testing.assert_allclose(
        curvature(dense_product), curvature(jnp.matmul), rtol=1e-4, atol=1e-4
    )


def test_under_vmap_each_run_gets_its_own_gradient():
    xs = jax.random.normal(jax.random.PRNGKey(1), (2, ROWS, 3))
    kernels = jax.random.normal(jax.random.PRNGKey(2), (2, 3, 2))
    grad = jax.vmap(jax.grad(lambda x, k: loss(dense_product, x, k), argnums=1))(xs, kernels)
    for i in range(2):
        alone = jax.grad(lambda k, x: loss(jnp.matmul, x, k))(kernels[i], xs[i])
        np.testing.assert_allclose(grad[i], alone, rtol=1e-5, atol=1e-5)


def test_ascents_dense_layer_is_flaxs_with_the_same_parameters():
    x = jax.random.normal(jax.random.PRNGKey(3), (ROWS, 6))
    ours = dense(4)
    theirs = nn.Dense(
        4, kernel_init=nn.initializers.orthogonal(2.0**0.5), bias_init=nn.initializers.zeros
    )
    params = ours.init(jax.random.PRNGKey(4), x)
    assert jax.tree.map(jnp.shape, params) == jax.tree.map(
        jnp.shape, theirs.init(jax.random.PRNGKey(4), x)
    )
    np.testing.assert_array_equal(
        params["params"]["kernel"], theirs.init(jax.random.PRNGKey(4), x)["params"]["kernel"]
    )
    np.testing.assert_allclose(ours.apply(params, x), theirs.apply(params, x), rtol=1e-6)
    # any other product flax might ask for is lax.dot_general's
    batched = (((2,), (1,)), ((0,), (0,)))
    a, b = jnp.ones((2, 3, 4)), jnp.ones((2, 4, 5))
    np.testing.assert_array_equal(
        dense_dot_general(a, b, batched), jax.lax.dot_general(a, b, batched)
    )


def test_the_weights_last_gradient_is_taken_where_the_layer_does_not_widen():
    # nn/products.py: from ROWS rows up, for a kernel [I, O] with O <= I only
    def written_weights_last(rows: int, i: int, o: int) -> bool:
        jaxpr = jax.make_jaxpr(dense_product)(jnp.ones((rows, i)), jnp.ones((i, o)))
        return "custom_vjp_call" in str(jaxpr)

    assert written_weights_last(ROWS, 8, 4)
    assert written_weights_last(ROWS, 8, 8)
    assert not written_weights_last(ROWS, 4, 8)
    assert not written_weights_last(ROWS - 1, 8, 4)
