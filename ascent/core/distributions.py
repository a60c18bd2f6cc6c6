"""Action distributions as NamedTuples, so they are pytrees that cross `jit` and `vmap`.

Batch dims lead. `Categorical` is over the last axis of its logits (Discrete actions);
`MultiCategorical` is one per component (MultiDiscrete), `Bernoulli` one bit per
component (MultiBinary), `DiagGaussian` a Gaussian per component (Box): for these three
the event dim is last, and log-probabilities, entropies and KLs sum over it.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

_LOG_2PI = math.log(2 * math.pi)


class Categorical(NamedTuple):
    """π(a) = softmax(logits)_a over K actions. logits: [..., K]; samples: int32 [...].

    A logit of −inf gives an action probability 0 (action masking); entropy and KL
    stay finite there.
    """

    logits: Array

    def log_probs(self) -> Array:
        """log π = logits − logsumexp(logits), computed stably. Returns [..., K]."""
        return jax.nn.log_softmax(self.logits, axis=-1)

    def sample(self, key: Array) -> Array:
        """a ~ π via the Gumbel-max trick (jax.random.categorical). Returns int32 [...]."""
        return jax.random.categorical(key, self.logits, axis=-1).astype(jnp.int32)

    def log_prob(self, x: ArrayLike) -> Array:
        """log π(x). x: integer, broadcastable against the batch dims [...]. Returns [...]."""
        logp = self.log_probs()
        x = jnp.asarray(x).astype(jnp.int32)
        batch = jnp.broadcast_shapes(x.shape, logp.shape[:-1])
        logp = jnp.broadcast_to(logp, (*batch, logp.shape[-1]))
        index = jnp.broadcast_to(x, batch)[..., None]
        return jnp.take_along_axis(logp, index, axis=-1)[..., 0]

    def entropy(self) -> Array:
        """H = −Σ_a π(a) log π(a), with 0·log 0 = 0. Returns [...]. (Shannon 1948.)"""
        logp = self.log_probs()
        probs = jnp.exp(logp)
        # Zero the log where π = 0 so the product (and its gradient) is 0, not NaN.
        return -jnp.sum(probs * jnp.where(probs > 0, logp, 0.0), axis=-1)

    def mode(self) -> Array:
        """argmax_a π(a). Returns int32 [...]."""
        return jnp.argmax(self.logits, axis=-1).astype(jnp.int32)

    def kl(self, other: Categorical) -> Array:
        """KL(π ‖ q) = Σ_a π(a) (log π(a) − log q(a)). Returns [...]. (Kullback & Leibler 1951.)"""
        logp, logq = self.log_probs(), other.log_probs()
        probs = jnp.exp(logp)
        # Where π = 0 both logs may be −inf; zero the difference inside, so neither the
        # value nor its gradient sees −inf − (−inf).
        return jnp.sum(probs * jnp.where(probs > 0, logp - logq, 0.0), axis=-1)


class DiagGaussian(NamedTuple):
    """N(mean, diag(exp(log_std)²)). mean: [..., D]; log_std broadcastable to it (e.g. [D]).

    Log-probabilities and entropies sum over the last (event) axis D.
    """

    mean: Array
    log_std: Array

    def _log_std(self) -> Array:
        return jnp.broadcast_to(self.log_std, jnp.shape(self.mean))

    def sample(self, key: Array) -> Array:
        """x = μ + σ·ε, ε ~ N(0, I) (reparameterised). Returns [..., D]."""
        noise = jax.random.normal(key, jnp.shape(self.mean), jnp.result_type(self.mean))
        return self.mean + jnp.exp(self._log_std()) * noise

    def log_prob(self, x: ArrayLike) -> Array:
        """log p(x) = Σ_d [−½((x_d − μ_d)/σ_d)² − log σ_d − ½ log 2π]. x: [..., D]. Returns [...].

        (Bishop 2006, eq. 2.43, diagonal covariance.)
        """
        log_std = self._log_std()
        z = (jnp.asarray(x) - self.mean) * jnp.exp(-log_std)
        return jnp.sum(-0.5 * jnp.square(z) - log_std - 0.5 * _LOG_2PI, axis=-1)

    def entropy(self) -> Array:
        """H = Σ_d [½ + ½ log 2π + log σ_d]. Returns [...]. (Cover & Thomas 2006, Thm 8.4.1.)"""
        return jnp.sum(0.5 + 0.5 * _LOG_2PI + self._log_std(), axis=-1)

    def mode(self) -> Array:
        """The mean μ. Returns [..., D]."""
        return jnp.asarray(self.mean)

    def kl(self, other: DiagGaussian) -> Array:
        """KL(p ‖ q) = Σ_d [log(σ_q/σ_p) + (σ_p² + (μ_p − μ_q)²)/(2σ_q²) − ½]. Returns [...].

        (Kullback & Leibler 1951 in closed form for two Gaussians, summed over the
        independent dims.)
        """
        log_std_p, log_std_q = self._log_std(), other._log_std()
        var_ratio = jnp.exp(2 * (log_std_p - log_std_q))  # σ_p² / σ_q²
        mean_term = jnp.square((self.mean - other.mean) * jnp.exp(-log_std_q))
        return jnp.sum(log_std_q - log_std_p + 0.5 * (var_ratio + mean_term) - 0.5, axis=-1)


class MultiCategorical(NamedTuple):
    """Independent categoricals, one per component of a MultiDiscrete action:
    π(a) = Π_k softmax(logits_k)[a_k]. logits: [..., K, N], component k's n_k logits
    followed by −inf up to N = max_k n_k (an action never taken, as a mask); samples:
    int32 [..., K]. The components are independent, so log-probabilities, entropies and
    KLs are sums over k of the per-component ones (`Categorical`'s).
    """

    logits: Array

    def _components(self) -> Categorical:
        return Categorical(self.logits)

    def sample(self, key: Array) -> Array:
        """a_k ~ π_k for every k at once. Returns int32 [..., K]."""
        return self._components().sample(key)

    def log_prob(self, x: ArrayLike) -> Array:
        """Σ_k log π_k(x_k). x: integers [..., K]. Returns [...]."""
        return jnp.sum(self._components().log_prob(x), axis=-1)

    def entropy(self) -> Array:
        """Σ_k H(π_k). Returns [...]."""
        return jnp.sum(self._components().entropy(), axis=-1)

    def mode(self) -> Array:
        """argmax_a π(a) = (argmax π_k)_k. Returns int32 [..., K]."""
        return self._components().mode()

    def kl(self, other: MultiCategorical) -> Array:
        """Σ_k KL(π_k ‖ q_k). Returns [...]."""
        return jnp.sum(self._components().kl(other._components()), axis=-1)


class Bernoulli(NamedTuple):
    """Independent bits, a MultiBinary action: π(a) = Π_i p_i^{a_i} (1 − p_i)^{1 − a_i},
    p = σ(logits). logits: [..., n]; samples: int32 [..., n] of 0 and 1. Sums over the n
    bits, as for any product of independent distributions.
    """

    logits: Array

    def sample(self, key: Array) -> Array:
        """a_i = [u_i < p_i], u ~ U(0, 1). Returns int32 [..., n]."""
        u = jax.random.uniform(key, jnp.shape(self.logits), jnp.result_type(self.logits))
        return (u < jax.nn.sigmoid(self.logits)).astype(jnp.int32)

    def log_prob(self, x: ArrayLike) -> Array:
        """Σ_i [x_i log p_i + (1 − x_i) log(1 − p_i)], with log p = log σ(l) and
        log(1 − p) = log σ(−l) computed stably. x: [..., n]. Returns [...]."""
        x = jnp.asarray(x, jnp.result_type(self.logits))
        log_p, log_not_p = jax.nn.log_sigmoid(self.logits), jax.nn.log_sigmoid(-self.logits)
        return jnp.sum(x * log_p + (1 - x) * log_not_p, axis=-1)

    def entropy(self) -> Array:
        """Σ_i −[p_i log p_i + (1 − p_i) log(1 − p_i)]. Returns [...]."""
        p = jax.nn.sigmoid(self.logits)
        log_p, log_not_p = jax.nn.log_sigmoid(self.logits), jax.nn.log_sigmoid(-self.logits)
        return -jnp.sum(p * log_p + (1 - p) * log_not_p, axis=-1)

    def mode(self) -> Array:
        """The likelier value of each bit (0 on a tie). Returns int32 [..., n]."""
        return (self.logits > 0).astype(jnp.int32)

    def kl(self, other: Bernoulli) -> Array:
        """Σ_i [p_i (log p_i − log q_i) + (1 − p_i)(log(1 − p_i) − log(1 − q_i))].
        Returns [...]."""
        p = jax.nn.sigmoid(self.logits)
        log_p, log_not_p = jax.nn.log_sigmoid(self.logits), jax.nn.log_sigmoid(-self.logits)
        log_q, log_not_q = jax.nn.log_sigmoid(other.logits), jax.nn.log_sigmoid(-other.logits)
        return jnp.sum(p * (log_p - log_q) + (1 - p) * (log_not_p - log_not_q), axis=-1)


def gumbel_softmax(
    key: Array, logits: ArrayLike, *, temperature: float = 1.0, hard: bool = True
) -> Array:
    """A differentiable sample of a categorical action as a vector [..., K].

    With Gumbel noise g_k, y = softmax((logits + g) / temperature) (Jang et al. 2017;
    Maddison et al. 2017), the relaxation MADDPG uses for discrete actions (Lowe et al.
    2017, §4.2). argmax y is an exact sample of Categorical(logits). `hard`: the
    straight-through estimator, one_hot(argmax y) in the forward pass and the gradient of
    y in the backward one. A logit of −inf (a forbidden action) keeps y_k = 0.
    """
    logits = jnp.asarray(logits)
    if not jnp.issubdtype(logits.dtype, jnp.floating):
        logits = logits.astype(jnp.result_type(float))
    noise = jax.random.gumbel(key, logits.shape, logits.dtype)  # the logits' dtype: issue 30
    soft = jax.nn.softmax((logits + noise) / temperature, axis=-1)
    if not hard:
        return soft
    one_hot = jax.nn.one_hot(jnp.argmax(soft, axis=-1), logits.shape[-1], dtype=soft.dtype)
    return soft + jax.lax.stop_gradient(one_hot - soft)
