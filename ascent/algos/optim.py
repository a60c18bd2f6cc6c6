"""The optimiser step: gradient clipping then Adam or RMSprop, a learning rate set
at every update from the schedules' shared clock (the update count)."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import optax

from ascent.algos.config import ScheduleLike
from ascent.core.schedules import as_schedule
from ascent.errors import ConfigError


def schedule_fn(value: ScheduleLike, total: int) -> optax.Schedule:
    """An optax schedule of the update count for a config value (number or schedule)."""
    return as_schedule(value).build(total)


def make_optimizer(
    max_grad_norm: float,
    kind: str = "adam",
    *,
    eps: float = 1e-5,
    rms_decay: float = 0.99,
    per_network: bool = False,
) -> optax.GradientTransformation:
    """Gradient clipping then Adam or RMSprop, with a learning rate set each update.

    The learning rate is an injected hyperparameter (see `set_lr`), so every schedule
    in Ascent is a function of the same counter: the number of updates so far.
    `per_network`: the policy's and the value network's gradients are clipped each to
    `max_grad_norm` (`clip_each_network`), not their joint norm.
    """

    def chain(learning_rate: float) -> optax.GradientTransformation:
        if kind == "adam":
            step = optax.adam(learning_rate, eps=eps)
        elif kind == "rmsprop":
            # PyTorch-style RMSprop, as A2C uses (Mnih et al. 2016; SB3's defaults)
            step = optax.rmsprop(learning_rate, decay=rms_decay, eps=eps, eps_in_sqrt=False)
        else:
            raise ConfigError(f"optimizer must be 'adam' or 'rmsprop', got {kind!r}")
        if not math.isfinite(max_grad_norm):
            clip = optax.identity()
        elif per_network:
            clip = clip_each_network(max_grad_norm)
        else:
            clip = optax.clip_by_global_norm(max_grad_norm)
        return optax.chain(clip, step)

    return optax.inject_hyperparams(chain)(learning_rate=1.0)


def network_of(path: tuple) -> str:
    """Which network a parameter belongs to, from its path in the parameters' tree
    (`{"params": {module: ...}}`): "value" for a top-level module whose name starts
    with `critic` (the critic, its core), "policy" for every other (the actor, its core,
    a team's message encoder and channel)."""
    names = [str(getattr(k, "key", k)) for k in path]
    top = names[1] if names and names[0] == "params" and len(names) > 1 else names[0]
    return "value" if top.startswith("critic") else "policy"


def clip_each_network(max_norm: float) -> optax.GradientTransformation:
    """`optax.clip_by_global_norm` applied to each network's gradients on its own
    (`network_of`): g ← g · min(1, max_norm / ‖g_net‖), ‖g_net‖ the norm of the
    gradients of g's network alone, as if each network had its own optimiser (MAPPO's
    reference implementation, Yu et al. 2022, and JaxMARL's MAPPO give actor and critic
    one each). A large value gradient then does not shrink the policy's step."""

    def update(updates: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
        del params
        leaves = jax.tree_util.tree_flatten_with_path(updates)[0]
        squares: dict[str, jax.Array] = {}
        for path, g in leaves:
            net = network_of(path)
            squares[net] = squares.get(net, 0.0) + jnp.sum(jnp.square(g))
        scale = {n: jnp.minimum(1.0, max_norm / jnp.maximum(jnp.sqrt(s), 1e-30))
                 for n, s in squares.items()}  # fmt: skip
        clipped = jax.tree_util.tree_map_with_path(lambda p, g: g * scale[network_of(p)], updates)
        return clipped, state

    return optax.GradientTransformation(lambda _: optax.EmptyState(), update)


def set_lr(opt_state: Any, lr: jax.Array) -> Any:
    """The optimiser state with its injected learning rate replaced."""
    hyperparams = dict(opt_state.hyperparams)
    hyperparams["learning_rate"] = jnp.asarray(lr, jnp.float32)
    return opt_state._replace(hyperparams=hyperparams)


def step_parts(
    optimizer: optax.GradientTransformation,
    lr: dict[str, optax.Schedule],
    opt_state: dict,
    params: dict,
    grads: dict,
    clock: jax.Array,
) -> tuple[dict, dict]:
    """One optimiser step for each part of the parameters ("actor", "critic", ...),
    each with its own optimiser state and at its own learning rate `lr[part](clock)`;
    returns (params, opt_state), dicts by part."""
    new_params, new_opt_state = {}, {}
    for part, schedule in lr.items():
        state = set_lr(opt_state[part], schedule(clock))
        step, new_opt_state[part] = optimizer.update(grads[part], state, params[part])
        new_params[part] = optax.apply_updates(params[part], step)
    return new_params, new_opt_state
