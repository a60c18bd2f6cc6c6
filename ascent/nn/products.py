"""The product x · W of a dense layer or a convolution's patches (`torso.dense`,
`cnn.Conv`), its weight gradient written for XLA:CPU.

Backpropagating y = x W, x [R, I] (R rows: a minibatch's samples, or its frames'
pixels under a convolution), W [I, O], takes ∂L/∂W = xᵀ ∂y, a sum over the R rows.
JAX's transpose rule writes it as one dot of x and ∂y summed over their first axes,
[I, O]; XLA:CPU runs that dot in Eigen, and the same sums written the other way round,
(∂yᵀ x)ᵀ ([O, I], then transposed: `optimization_barrier` keeps XLA from folding the
transpose back into the dot), through YNNPACK, in about half the time. The same sums
in another order: MinAtar PPO's parameters after two iterations move by at most 6e-8
(tests/nn/test_products.py checks values, gradients and forward-over-reverse curvature
against `x @ W`).

Only from `ROWS` rows up: one core, 3-layer MLP's Adam step inside a scan, time before
→ after: rows 1024 × 1024 → 128 (MinAtar's dense layer) 9.4 → 6.8 ms, 1024 × 512 → 128
5.0 → 3.9 ms, 4096 × 64 → 64 2.6 → 2.3 ms, 1024 × 128 → 128 2.0 → 1.9 ms; below it the
transpose costs more than the dot saves: 64 × 1024 → 128 0.62 → 0.82 ms, 256 × 3136 →
512 (the Nature CNN's dense layer on an Atari minibatch) 21.6 → 24.0 ms (jax 0.10.2,
XLA_FLAGS of `ascent/_xla.py`). MinAtar PPO's iteration: 1341 → 1056 ms (pixels.md).

And only where the layer narrows or keeps its width (O ≤ I): the faster of the two
products is the one whose result has the shorter first axis. The weight gradient alone
inside a scan, one core, JAX's [I, O] → weights-last [O, I]: R × I → O = 12544 × 576 →
64 (the Nature CNN's third convolution) 17.0 → 11.5 ms, 65536 × 90 → 16 (MinAtar's
convolution) 7.6 → 4.8 ms, 4096 × 64 → 64 0.62 → 0.62 ms; where it widens, the other
way round: 112896 × 64 → 128 (the Nature CNN's first convolution, written on its output
side) 41.8 → 47.9 ms, 25600 × 128 → 256 (its second) 26.3 → 30.9 ms.
"""

from __future__ import annotations

import math
from typing import Any

import jax

Array = jax.Array

ROWS = 1024
"""The rows (product of x's leading dims) from which the weight gradient is written
weights-last, for a kernel [I, O] with O ≤ I: a MinAtar minibatch's 1024 frames, a
convolution's frames × pixels."""


def dense_product(x: Array, kernel: Array) -> Array:
    """x [..., I] · kernel [I, O] -> [..., O]; the same function and gradients as
    `x @ kernel`."""
    if math.prod(x.shape[:-1]) >= ROWS and kernel.shape[1] <= kernel.shape[0]:
        return _rows_first(x, kernel)
    return x @ kernel


def dense_dot_general(
    lhs: Array, rhs: Array, dimension_numbers: Any, precision: Any = None, **kwargs: Any
) -> Array:
    """`lax.dot_general` as `flax.linen.Dense` calls it (`dot_general=`): its product
    over lhs's last axis and the kernel's first goes through `dense_product`."""
    standard = dimension_numbers == (((lhs.ndim - 1,), (0,)), ((), ())) and rhs.ndim == 2
    if standard and precision is None and not kwargs:
        return dense_product(lhs, rhs)
    return jax.lax.dot_general(lhs, rhs, dimension_numbers, precision, **kwargs)


@jax.custom_vjp
def _rows_first(x: Array, kernel: Array) -> Array:
    return x @ kernel


def _forward(x: Array, kernel: Array) -> tuple[Array, tuple[Array, Array]]:
    return x @ kernel, (x, kernel)


def _backward(saved: tuple[Array, Array], dy: Array) -> tuple[Array, Array]:
    x, kernel = saved
    rows = (tuple(range(x.ndim - 1)),) * 2  # every axis but the last, in both
    d_kernel_t = jax.lax.dot_general(dy, x, (rows, ((), ())))  # [O, I] = ∂yᵀ x
    return dy @ kernel.T, jax.lax.optimization_barrier(d_kernel_t).T


_rows_first.defvjp(_forward, _backward)
