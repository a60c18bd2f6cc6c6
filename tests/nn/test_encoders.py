"""ascent.nn.encoders: an observation space's spec, its leaves' encoders, and the one
line for a space Ascent cannot take."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from gymnasium import spaces

from ascent.errors import EnvError
from ascent.nn.encoders import ObsSpec, encode

NESTED = spaces.Dict(
    {
        "pos": spaces.Box(-1.0, 1.0, (2, 3)),
        "mode": spaces.Discrete(3, start=1),
        "inner": spaces.Tuple((spaces.MultiDiscrete([2, 4]), spaces.MultiBinary(3))),
    }
)


def test_a_nested_space_is_a_tree_of_leaves_in_the_spaces_order() -> None:
    spec = ObsSpec.of(NESTED)
    assert spec.keys == ("inner", "mode", "pos")  # Gymnasium sorts a Dict's keys
    kinds = [(leaf.kind, leaf.shape, leaf.dtype) for leaf in spec.leaves()]
    assert kinds == [
        ("multi_discrete", (2,), "int32"),
        ("multi_binary", (3,), "int8"),
        ("discrete", (), "int32"),
        ("box", (2, 3), "float32"),
    ]
    assert spec.features == (2 + 4) + 3 + 3 + 6
    zeros = spec.zeros((5, 4))  # a rollout's worth: [T, N, ...] per leaf
    assert zeros["pos"].shape == (5, 4, 2, 3) and zeros["inner"][1].dtype == np.int8
    assert hash(spec) == hash(ObsSpec.of(NESTED))  # networks hold it as a field


def test_each_leaf_is_encoded_by_its_kind() -> None:
    spec = ObsSpec.of(NESTED)
    obs = {
        "pos": np.arange(6, dtype=np.float32).reshape(2, 3),
        "mode": np.int32(3),  # start 1: the third value
        "inner": (np.array([1, 2], np.int32), np.array([1, 0, 1], np.int8)),
    }
    batch = {k: np.stack([v, v]) if k != "inner" else tuple(np.stack([x, x]) for x in v)
             for k, v in obs.items()}  # fmt: skip
    features = np.asarray(encode(spec, batch))
    expected = np.concatenate([
        [0, 1], [0, 0, 1, 0],  # MultiDiscrete: one-hot of 1 in 2, of 2 in 4
        [1, 0, 1],  # MultiBinary: the bits
        [0, 0, 1],  # Discrete(3, start=1) at 3
        np.arange(6),  # Box, flattened
    ]).astype(np.float32)  # fmt: skip
    np.testing.assert_array_equal(features, np.stack([expected, expected]))


def test_a_flat_box_encodes_as_before() -> None:
    """A vector Box is read as float32, unchanged: the networks' numbers and parameters
    for the spaces Ascent always took stay the same."""
    obs = jnp.arange(12.0).reshape(3, 4)
    spec = ObsSpec.of(spaces.Box(-1.0, 1.0, (4,)))
    np.testing.assert_array_equal(encode(spec, obs), encode(None, obs))
    square = ObsSpec.of(spaces.Box(-1.0, 1.0, (2, 2)))
    assert encode(square, obs.reshape(3, 2, 2)).shape == (3, 4)


@pytest.mark.parametrize(
    ("space", "message"),
    [
        (spaces.Dict({"a": spaces.Box(0, 1, (2,)), "s": spaces.Sequence(spaces.Discrete(2))}),
         r"obs\['s'\]: Sequence is not supported"),
        (spaces.Dict({"sensors": spaces.Tuple((spaces.Discrete(2), spaces.Text(5)))}),
         r"obs\['sensors'\]\[1\]: Text is not supported"),
        (spaces.Graph(spaces.Box(0, 1, (2,)), None), r"obs: Graph is not supported"),
        (spaces.Box(0, np.inf, (2,), np.int64), r"obs: an unbounded Box of integers"),
        (spaces.Dict({}), r"obs: a Dict with no spaces"),
        ("not a space", r"obs: str \(not a Gymnasium space\) is not supported"),
    ],
)  # fmt: skip
def test_a_space_ascent_cannot_take_is_named_with_its_path(space: object, message: str) -> None:
    with pytest.raises(EnvError, match=message) as caught:
        ObsSpec.of(space)
    assert "\n" not in str(caught.value)
