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
    max_grad_norm: float, kind: str = "adam", *, eps: float = 1e-5, rms_decay: float = 0.99
) -> optax.GradientTransformation:
    """Gradient clipping then Adam or RMSprop, with a learning rate set each update.

    The learning rate is an injected hyperparameter (see `set_lr`), so every schedule
    in Ascent is a function of the same counter: the number of updates so far.
    """

    def chain(learning_rate: float) -> optax.GradientTransformation:
        if kind == "adam":
            step = optax.adam(learning_rate, eps=eps)
        elif kind == "rmsprop":
            # PyTorch-style RMSprop, as A2C uses (Mnih et al. 2016; SB3's defaults)
            step = optax.rmsprop(learning_rate, decay=rms_decay, eps=eps, eps_in_sqrt=False)
        else:
            raise ConfigError(f"optimizer must be 'adam' or 'rmsprop', got {kind!r}")
        clip = (
            optax.clip_by_global_norm(max_grad_norm)
            if math.isfinite(max_grad_norm)
            else optax.identity()
        )
        return optax.chain(clip, step)

    return optax.inject_hyperparams(chain)(learning_rate=1.0)


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
