"""Convolutional torsos (issue 29): each one's output width and parameter count against
its paper's layer list, counted by hand here; channel order found both ways; uint8
frames scaled inside the network; an image beside vector leaves; a CNN under a memory
core."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnasium import spaces

from ascent.errors import ConfigError
from ascent.nn import cnn
from ascent.nn.cnn import Conv, ImpalaResNet, MinAtarCNN, NatureCNN
from ascent.nn.encoders import Encoder, ObsSpec, image_layout
from ascent.nn.heads import ActionSpec
from ascent.nn.sequence import CoreSpec, SequencePolicyNet


def conv_params(k: int, c_in: int, c_out: int) -> int:
    return k * k * c_in * c_out + c_out


def dense_params(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


# Mnih et al. 2015, Methods: 84×84×4 -> 32 8×8/4 -> 64 4×4/2 -> 64 3×3/1 -> 512
NATURE = (
    conv_params(8, 4, 32)
    + conv_params(4, 32, 64)
    + conv_params(3, 64, 64)
    + dense_params(7 * 7 * 64, 512)
)
# Espeholt et al. 2018, fig. 3: per stack a conv and two residual blocks of two convs;
# 84 -> 42 -> 21 -> 11 after the three stride-2 pools; then 256
IMPALA = sum(
    conv_params(3, c_in, c) + 4 * conv_params(3, c, c) for c_in, c in [(4, 16), (16, 32), (32, 32)]
) + dense_params(11 * 11 * 32, 256)
# Young & Tian 2019, §4: 10×10×C -> 16 3×3/1 (8×8) -> 128
MINATAR = conv_params(3, 4, 16) + dense_params(8 * 8 * 16, 128)


def count(params: dict) -> int:
    return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(params))


@pytest.mark.parametrize(
    ("torso", "frame", "features", "n_params", "n_convs"),
    [
        (NatureCNN(), (84, 84, 4), 512, NATURE, 3),
        (ImpalaResNet(), (84, 84, 4), 256, IMPALA, 15),
        (MinAtarCNN(), (10, 10, 4), 128, MINATAR, 1),
    ],
    ids=["nature", "impala", "minatar"],
)
def test_each_torso_has_its_papers_shape_and_parameters(
    torso, frame: tuple, features: int, n_params: int, n_convs: int
) -> None:
    x = jnp.zeros((2, 3, *frame))  # any leading dims
    params = jax.eval_shape(torso.init, jax.random.PRNGKey(0), x)
    out = jax.eval_shape(torso.apply, params, x)
    assert out.shape == (2, 3, features)
    assert count(params) == n_params
    kernels = [p for p in jax.tree_util.tree_leaves_with_path(params) if "Conv" in str(p[0])]
    assert len(kernels) == 2 * n_convs  # a kernel and a bias each


def test_the_numbers_above_are_the_published_ones() -> None:
    # the Nature network's 1.68M parameters are dominated by its 3136 -> 512 layer
    assert NATURE == 1_684_128 and MINATAR == 131_792 and IMPALA == 1_089_232


def test_channel_order_is_found_both_ways() -> None:
    assert image_layout((4, 84, 84)) == "chw" and image_layout((3, 64, 64)) == "chw"
    assert image_layout((84, 84, 4)) == "hwc" and image_layout((10, 10, 4)) == "hwc"
    assert image_layout((84, 84, 12)) == "hwc" and image_layout((12, 84, 84)) == "chw"
    first = ObsSpec.of(spaces.Box(0, 255, (4, 36, 36), np.uint8))
    last = ObsSpec.of(spaces.Box(0, 255, (36, 36, 4), np.uint8))
    assert (first.leaf.layout, last.leaf.layout) == ("chw", "hwc")
    # the same frames in either order give the same features from the same parameters
    frames = jax.random.randint(jax.random.PRNGKey(1), (2, 36, 36, 4), 0, 256).astype(jnp.uint8)
    params = Encoder(last).init(jax.random.PRNGKey(0), frames)
    np.testing.assert_allclose(
        Encoder(first).apply(params, jnp.moveaxis(frames, -1, -3)),
        Encoder(last).apply(params, frames),
        rtol=1e-6,
    )


def test_uint8_frames_are_scaled_inside_the_network() -> None:
    spec = ObsSpec.of(spaces.Box(0, 255, (10, 10, 4), np.uint8))
    floats = ObsSpec.of(spaces.Box(0.0, 1.0, (10, 10, 4), np.float32))
    assert (spec.leaf.dtype, floats.leaf.dtype) == ("uint8", "float32")
    assert spec.zeros((2,)).dtype == np.uint8  # what rollouts and replay preallocate
    frames = jax.random.randint(jax.random.PRNGKey(1), (3, 10, 10, 4), 0, 256).astype(jnp.uint8)
    params = Encoder(spec).init(jax.random.PRNGKey(0), frames)
    np.testing.assert_allclose(
        Encoder(spec).apply(params, frames),
        Encoder(floats).apply(params, frames.astype(jnp.float32) / 255.0),
        rtol=1e-6,
    )


def test_auto_picks_by_frame_size_and_a_torso_too_big_is_one_line() -> None:
    def torso(shape: tuple, name: str = "auto") -> str:
        return ObsSpec.of(spaces.Box(0, 255, shape, np.uint8), name).leaf.torso

    assert torso((4, 84, 84)) == "nature" and torso((10, 10, 6)) == "minatar"
    assert torso((2, 2, 3)) == "mlp" and torso((10, 10, 4), "impala") == "impala"
    # a float Box outside [0, 1] is not an image: it stays a Box read flat
    assert ObsSpec.of(spaces.Box(-1.0, 1.0, (10, 10, 4))).leaf.kind == "box"
    with pytest.raises(ConfigError, match=r"torso='nature' needs frames of at least 36") as e:
        torso((10, 10, 4), "nature")
    assert "\n" not in str(e.value)


def test_an_image_beside_vector_leaves_and_under_a_memory_core() -> None:
    space = spaces.Dict(
        {"frame": spaces.Box(0, 255, (10, 10, 3), np.uint8), "speed": spaces.Box(-1, 1, (2,))}
    )
    spec = ObsSpec.of(space)
    obs = spec.zeros((2, 5), jnp)  # [B, T]
    assert obs["frame"].dtype == jnp.uint8
    net = SequencePolicyNet(ActionSpec.of(spaces.Discrete(3)), spec, (16,),
                            core=CoreSpec("gru", embed_dim=8))  # fmt: skip
    state = net.core.initial_state(2)
    resets = jnp.zeros((2, 5), bool)
    params = net.init(jax.random.PRNGKey(0), state, obs, resets)
    assert "MinAtarCNN_0" in params["params"]
    # the core reads the CNN's 128 features and the vector's 2
    assert params["params"]["core"]["rnn"]["cell"]["ir"]["kernel"].shape == (130, 8)
    _, dist = net.apply(params, state, obs, resets)
    assert dist.logits.shape == (2, 5, 3)


@pytest.mark.parametrize("input_side", [True, False])
@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "side"),
    [(8, 4, "VALID", 36), (4, 2, "VALID", 9), (3, 1, "VALID", 10), (3, 1, "SAME", 11),
     (3, 2, "SAME", 10)],
)  # fmt: skip
def test_the_patch_convolution_is_flaxs_convolution(
    kernel: int, stride: int, padding: str, side: int, input_side: bool, monkeypatch
) -> None:
    """Both ways of taking the sum over the kernel's offsets (before or after the matrix
    product), forced in turn, give flax's values and gradients."""
    monkeypatch.setattr(cnn, "_input_side", lambda *_: input_side)
    x = jax.random.normal(jax.random.PRNGKey(0), (2, side, side, 3))
    ours = Conv(5, kernel, stride, padding)
    theirs = nn.Conv(5, (kernel, kernel), strides=(stride, stride), padding=padding,
                     kernel_init=nn.initializers.orthogonal(2.0**0.5))  # fmt: skip
    params = ours.init(jax.random.PRNGKey(1), x)
    same = theirs.init(jax.random.PRNGKey(1), x)  # the same names, shapes and values
    assert jax.tree.structure(params) == jax.tree.structure(same)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(same), strict=True):
        np.testing.assert_array_equal(a, b)
    params = jax.tree.map(lambda p: p + 0.1, params)  # a bias that is not zero
    np.testing.assert_allclose(ours.apply(params, x), theirs.apply(params, x), atol=2e-5)

    def grads(net: nn.Module) -> Any:
        return jax.grad(lambda p, x: (net.apply(p, x) ** 2).sum(), argnums=(0, 1))(params, x)

    for a, b in zip(jax.tree.leaves(grads(ours)), jax.tree.leaves(grads(theirs)), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_each_side_is_taken_where_its_array_is_smaller() -> None:
    """The Nature CNN's strided layers sum after the product, its 3×3 before (pixels.md)."""
    assert not cnn._input_side((1, 21, 21, 64), (20, 20), 32)  # 8×8/4 over 4 frames
    assert not cnn._input_side((1, 10, 10, 128), (9, 9), 64)  # 4×4/2 over 32 channels
    assert cnn._input_side((1, 9, 9, 64), (7, 7), 64)  # 3×3/1
    assert cnn._input_side((1, 10, 10, 6), (8, 8), 16)  # MinAtar's 3×3
