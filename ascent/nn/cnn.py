"""Convolutional torsos for image observations, by name (`TORSOS`).

Each takes frames [..., H, W, C] (channels last, float32 already scaled to [0, 1]: the
image leaf's encoder in `nn/encoders.py` scales uint8 frames and moves the channel axis)
and returns features [..., F]; any leading dims are flattened around the convolutions.
Weights are orthogonal with gain √2 and biases zero, as the dense layers (`torso.dense`)
and as Stable-Baselines3 and CleanRL initialise their Atari networks.

- `nature` (Mnih et al. 2015, Methods): conv 32 8×8/4, 64 4×4/2, 64 3×3/1 (valid),
  dense 512; for Atari's 84×84 frames. 512 features.
- `impala` (Espeholt et al. 2018, fig. 3, right): 3 stacks (16, 32, 32 channels) of a
  3×3 conv, a 3×3/2 max-pool and two residual blocks of two convs (15 layers), dense 256.
  256 features.
- `minatar` (Young & Tian 2019, §4): conv 16 3×3/1 (valid), dense 128; for MinAtar's
  10×10 frames. 128 features.

Every torso ends in ReLU; the policy's MLP of `hidden` widths (possibly none) and its
heads follow. A new torso is one module and one entry of `TORSOS`, with its smallest
frame in `MIN_SIZE`.
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from ascent.nn.products import dense_product
from ascent.nn.torso import dense

Array = jax.Array


class Conv(nn.Module):
    """A 2-D convolution [B, H, W, C] -> [B, H', W', features] as one matrix product, the
    same function and parameters as `flax.linen.Conv` (names, shapes, initial values;
    tests/nn/test_cnn.py checks values and gradients), written this way because XLA's CPU
    convolution is several times slower inside a compiled loop (the update's scan over
    minibatches, the rollout's over steps) than a dense product of the same size
    (benchmarks/results/pixels.md). `padding`: VALID, or SAME (XLA's: output ⌈H / stride⌉,
    the extra pixel at the end).

    A convolution is a sum over the kernel's k² offsets (i, j) of the frame shifted by
    (i, j) times that offset's C × F matrix. The sum can be taken on either side of the
    product: before it (`_input_shifts`: the k² shifted views side by side, im2col, one
    product with the kernel flattened) or after it (`_output_shifts`: one product of the
    unshifted frame with the k² matrices side by side, then the k² shifted views of the
    result summed). Both are exact; the one whose intermediate array is smaller is taken,
    since on a CPU the copies into it cost as much as the arithmetic (the Nature CNN's
    first two layers take the output side, its third and MinAtar's the input side: one
    Atari minibatch step 28% faster than all on the input side). A strided kernel whose
    side the stride divides is first made a stride-1 kernel over s×s blocks of pixels
    (`_space_to_depth`), which makes either intermediate smaller."""

    features: int
    kernel: int
    stride: int = 1
    padding: str = "VALID"

    @nn.compact
    def __call__(self, x: Array) -> Array:
        k, s, f = self.kernel, self.stride, self.features
        if self.padding == "SAME":
            pads = [max((-(-n // s) - 1) * s + k - n, 0) for n in x.shape[1:3]]
            x = jnp.pad(x, ((0, 0), *((p // 2, p - p // 2) for p in pads), (0, 0)))
        _, h, w, c = x.shape
        out = ((h - k) // s + 1, (w - k) // s + 1)
        kernel = self.param("kernel", nn.initializers.orthogonal(2.0**0.5), (k, k, c, f))
        bias = self.param("bias", nn.initializers.zeros, (f,))
        if s > 1 and k % s == 0:
            x, kernel = _space_to_depth(x, kernel, s, out)
            k, s = k // s, 1
        shifts = _input_shifts if _input_side(x.shape, out, f) else _output_shifts
        return shifts(x, kernel, s, out) + bias


def _input_side(shape: tuple[int, ...], out: tuple[int, int], features: int) -> bool:
    """Whether the input side's patches [B, H', W', k²C] are no larger than the output
    side's product [B, H, W, k²F]."""
    _, h, w, c = shape
    return out[0] * out[1] * c <= h * w * features


def _input_shifts(x: Array, kernel: Array, s: int, out: tuple[int, int]) -> Array:
    """Σ_ij shift_ij(x) · K_ij as [shift_ij(x) for all ij] · K: [B, H', W', k²C] patches."""
    k, _, c, f = kernel.shape
    (oh, ow) = out
    patches = jnp.concatenate(
        [x[:, i : i + s * (oh - 1) + 1 : s, j : j + s * (ow - 1) + 1 : s, :]
         for i in range(k) for j in range(k)],
        axis=-1,
    )  # fmt: skip  # ordered (i, j, channel) as the kernel's first three axes
    return dense_product(patches, kernel.reshape(k * k * c, f))


def _output_shifts(x: Array, kernel: Array, s: int, out: tuple[int, int]) -> Array:
    """Σ_ij shift_ij(x · K_ij) from x · [K_ij for all ij]: a [B, H, W, k²F] product."""
    k, _, c, f = kernel.shape
    oh, ow = out
    kernels = kernel.transpose(2, 0, 1, 3).reshape(c, k * k * f)  # columns ordered (i, j, f)
    # a 2-D product: on a 4-D one XLA chose a transposed layout for its gradient and ran
    # the Atari step 1.8x slower
    z = dense_product(x.reshape(-1, c), kernels).reshape(*x.shape[:3], k * k * f)
    views = [
        z[:, i : i + s * (oh - 1) + 1 : s, j : j + s * (ow - 1) + 1 : s, n * f : (n + 1) * f]
        for n, (i, j) in enumerate((i, j) for i in range(k) for j in range(k))
    ]
    return sum(views[1:], views[0])


def _space_to_depth(x: Array, kernel: Array, s: int, out: tuple[int, int]) -> tuple[Array, Array]:
    """A VALID convolution of stride s whose kernel side k is a multiple of s, as a stride-1
    convolution of side k/s over s×s blocks of pixels stacked into channels: the same sums
    over fewer, wider offsets (the Nature CNN's 8×8/4 becomes 2×2 over 16·C channels).
    Returns the frame of blocks and the kernel rearranged to match."""
    k, _, c, f = kernel.shape
    m = k // s  # the kernel's side in blocks
    rows, cols = out[0] + m - 1, out[1] + m - 1  # the blocks the outputs read
    b = x.shape[0]
    x = x[:, : rows * s, : cols * s, :].reshape(b, rows, s, cols, s, c)
    x = x.transpose(0, 1, 3, 2, 4, 5).reshape(b, rows, cols, s * s * c)  # (p, q, c) per block
    # kernel row i = a·s + p, column j = e·s + q: block offset (a, e), channel (p, q, c)
    kernel = kernel.reshape(m, s, m, s, c, f).transpose(0, 2, 1, 3, 4, 5)
    return x, kernel.reshape(m, m, s * s * c, f)


def conv(features: int, kernel: int, stride: int = 1, padding: str = "VALID") -> Conv:
    """A 2-D convolution, orthogonal weights (gain √2), zero bias."""
    return Conv(features, kernel, stride, padding)


def _frames(module: Callable[[Array], Array], x: Array) -> Array:
    """Apply `module` ([B, H, W, C] -> [B, F]) to frames with any leading dims."""
    batch = x.shape[:-3]
    y = module(x.reshape(-1, *x.shape[-3:]))
    return y.reshape(*batch, y.shape[-1])


class NatureCNN(nn.Module):
    """Mnih et al. 2015 ("Human-level control through deep RL", Methods): three
    convolutions and a dense layer of 512, ReLU after each. [..., 84, 84, 4] -> [..., 512]."""

    features: int = 512

    @nn.compact
    def __call__(self, x: Array) -> Array:
        def net(x: Array) -> Array:
            x = nn.relu(conv(32, 8, 4)(x))  # [B, 20, 20, 32] from 84×84
            x = nn.relu(conv(64, 4, 2)(x))  # [B, 9, 9, 64]
            x = nn.relu(conv(64, 3, 1)(x))  # [B, 7, 7, 64]
            return nn.relu(dense(self.features)(x.reshape(x.shape[0], -1)))

        return _frames(net, x)


class _ResidualBlock(nn.Module):
    """x + conv(relu(conv(relu(x)))), both 3×3 'same' (Espeholt et al. 2018, fig. 3)."""

    channels: int

    @nn.compact
    def __call__(self, x: Array) -> Array:
        y = conv(self.channels, 3, padding="SAME")(nn.relu(x))
        y = conv(self.channels, 3, padding="SAME")(nn.relu(y))
        return x + y


class ImpalaResNet(nn.Module):
    """IMPALA's deep network (Espeholt et al. 2018, fig. 3, right): for each of the
    `channels` stacks a 3×3 convolution, a 3×3 max-pool of stride 2 and two residual
    blocks (5 convolutions a stack, 15 in all), then ReLU and a dense layer of 256.
    [..., H, W, C] -> [..., 256]; 84×84 frames become 11×11×32 before the dense layer."""

    channels: tuple[int, ...] = (16, 32, 32)
    features: int = 256

    @nn.compact
    def __call__(self, x: Array) -> Array:
        def net(x: Array) -> Array:
            for c in self.channels:
                x = conv(c, 3, padding="SAME")(x)
                x = nn.max_pool(x, (3, 3), strides=(2, 2), padding="SAME")
                x = _ResidualBlock(c)(x)
                x = _ResidualBlock(c)(x)
            x = nn.relu(x)
            return nn.relu(dense(self.features)(x.reshape(x.shape[0], -1)))

        return _frames(net, x)


class MinAtarCNN(nn.Module):
    """Young & Tian 2019 (MinAtar, §4): one 3×3 convolution of 16 filters, stride 1,
    no padding, and a dense layer of 128, ReLU after each. [..., 10, 10, C] -> [..., 128]."""

    features: int = 128

    @nn.compact
    def __call__(self, x: Array) -> Array:
        def net(x: Array) -> Array:
            x = nn.relu(conv(16, 3, 1)(x))  # [B, 8, 8, 16] from 10×10
            return nn.relu(dense(self.features)(x.reshape(x.shape[0], -1)))

        return _frames(net, x)


TORSOS: dict[str, Callable[..., nn.Module]] = {
    "nature": NatureCNN,
    "impala": ImpalaResNet,
    "minatar": MinAtarCNN,
}
"""Torso name (the config's `torso`) -> its module: frames [..., H, W, C] -> [..., F]."""

FEATURES: dict[str, int] = {"nature": 512, "impala": 256, "minatar": 128}
"""Each torso's output width."""

MIN_SIZE: dict[str, int] = {"nature": 36, "impala": 1, "minatar": 3}
"""The smallest frame side each torso takes (its valid convolutions need that much)."""


def scaled(x: Array) -> Array:
    """Frames as float32 in [0, 1]: uint8 divided by 255 (inside the compiled network,
    so rollouts and replay keep the bytes); floats as they are."""
    if x.dtype == jnp.uint8:
        return x.astype(jnp.float32) / 255.0
    return jnp.asarray(x, jnp.float32)
