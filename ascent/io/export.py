"""A JAX function of one array as an ONNX file, for clients that know nothing of JAX.

`save_onnx(fn, shape, dtype, path)` writes `fn`, a function of one input `[*shape]` to
one output, as an ONNX graph of a batch: input `obs` [N, *shape] with N left free,
output `action` [N, ...]. jax2onnx converts it (`pip install 'ascent-rl[onnx]'`).

The batch axis is added by `jax.vmap` over `fn` traced first to a jaxpr on its own:
jax2onnx replaces flax's layers by primitives of its own while it traces, and those have
no batching rule, so vmapping flax code under it fails; traced beforehand, the layers are
plain `dot_general`s and convolutions, which vmap over a symbolic N. The file is written
atomically, as everything in this layer is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jax
import jax.extend
import numpy as np

from ascent.errors import ConfigError
from ascent.io._files import write_bytes_atomic

INSTALL = "pip install 'ascent-rl[onnx]'"


def save_onnx(
    fn: Callable[[jax.Array], jax.Array],
    shape: tuple[int, ...],
    dtype: np.dtype | str,
    path: str | Path,
    *,
    name: str = "policy",
) -> Path:
    """Write `fn` (one input [*shape] of `dtype` -> one output) at `path` as an ONNX model
    of a batch: `obs` [N, *shape] -> `action` [N, ...], N dynamic. Returns the path.
    ConfigError (one line, how to install it) without jax2onnx."""
    try:
        from jax2onnx import to_onnx
    except ImportError:
        raise ConfigError(f"ONNX export needs jax2onnx: {INSTALL}") from None
    one = jax.make_jaxpr(fn)(np.zeros(shape, dtype))
    batched = jax.vmap(jax.extend.core.jaxpr_as_fun(one))  # returns a list of one output

    def graph(obs: jax.Array) -> jax.Array:
        return batched(obs)[0]

    model = to_onnx(
        graph,
        [jax.ShapeDtypeStruct(("N", *shape), np.dtype(dtype))],
        model_name=name,
        input_names=["obs"],
        output_names=["action"],
    )
    _drop_unused_constants(model.graph)
    path = Path(path)
    write_bytes_atomic(path, model.SerializeToString())
    return path


def _drop_unused_constants(graph: Any) -> None:
    """Remove the initializers no node reads (scalars of the traced function that its
    output does not depend on), which onnxruntime warns about each time it loads the file."""
    read = {name for node in _nodes(graph) for name in node.input}
    read |= {out.name for out in graph.output}
    unused = [init for init in graph.initializer if init.name not in read]
    for init in unused:
        graph.initializer.remove(init)


def _nodes(graph: Any) -> Iterator[Any]:
    """Every node of an ONNX graph, those of its subgraphs (an If's branches) included."""
    for node in graph.node:
        yield node
        for attr in node.attribute:
            for sub in (*([attr.g] if attr.HasField("g") else []), *attr.graphs):
                yield from _nodes(sub)
