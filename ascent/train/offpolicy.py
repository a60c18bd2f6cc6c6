"""The off-policy loop, collect → store → learn from replay, through either door.

One iteration: every environment takes `train_freq` steps — uniformly random actions
until `learning_starts` environment steps have been taken, then the policy's actions
plus exploration noise, clipped to the bounds — the transitions go into the replay
buffer, and `gradient_steps` updates on uniformly sampled minibatches follow, as one
`lax.scan` inside the same jitted call. The buffer and the noise state live in the
`LoopState` pytree (`buffer`, `noise`), so checkpoints, resume and multi-seed `vmap`
see them like any other state.

- JAX door: `lax.scan` over the steps of a `vmap`-ed pure environment and over
  iterations: a chunk of iterations is one compiled program.
- Host door: Gymnasium environments stepped from Python; choosing actions and
  learning are jitted, and the learning call donates the state so the buffer is
  updated in place rather than copied at every step.

Both doors split the PRNG key the same way (`split_iteration_key`), so they draw the
same actions from the same observations.

A team's off-policy algorithm (MADDPG) trains in `TeamReplayLoop`: the on-policy
loop's collection (the team acts by its own stochastic policy) with this loop's
learner and buffer.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from ascent.algos.optim import schedule_fn
from ascent.algos.protocol import Algorithm
from ascent.buffers import Transitions, replay_like
from ascent.core.noise import gaussian_noise, ou_noise
from ascent.envs import HostVecEnv, JaxEnv, MultiAgentSpaces, is_jax_env
from ascent.nn.encoders import ObsSpec
from ascent.runtime import CompiledChunks, HostLearn, LeanJit
from ascent.train.acting import Policy
from ascent.train.collectors import HostTransitionCollector, TransitionCollector
from ascent.train.learners import OffPolicyLearner
from ascent.train.loop import (
    LoopState,
    Normalizer,
    init_loop_state,
    split_iteration_key,
    with_game_scores,
)
from ascent.train.onpolicy import OnPolicyLoop


class OffPolicyLoop:
    """Compiled pieces of the off-policy loop for one algorithm and one environment."""

    def __init__(self, algorithm: Algorithm, env: JaxEnv | HostVecEnv):
        config = algorithm.config
        self.algorithm = algorithm
        self.config = config
        self.env = env
        self.n_envs, self.n_steps = config.n_envs, config.train_freq
        self.steps_per_iteration = self.n_envs * self.n_steps
        self.is_jax = is_jax_env(env)
        self.action_space = env.action_space
        self.action_shape = tuple(env.action_space.shape)
        self.low = np.asarray(env.action_space.low, np.float32)
        self.high = np.asarray(env.action_space.high, np.float32)
        self.obs_spec = ObsSpec.of(env.observation_space)
        self.normalizer = Normalizer(config, self.obs_spec)
        self.acting = Policy(algorithm, self.normalizer)  # feed-forward: no state to carry
        self.noise_std = schedule_fn(config.noise_std, config.total_iterations)
        self.learner = OffPolicyLearner(algorithm, self.normalizer, self.steps_per_iteration)
        self.learn = self.learner.learn
        if self.is_jax:
            self.collector = TransitionCollector(env, self.explore, self.n_envs)  # type: ignore[arg-type]
        self._host: HostTransitionCollector | None = None  # made at the first host chunk
        next_keys = functools.partial(split_iteration_key, n_steps=self.n_steps)
        self._learn = HostLearn(self.learn, next_keys, donate_argnums=0)
        self._explore = LeanJit(self.explore)
        self._chunks = CompiledChunks(self.iterate_jax)

    def init(self, seed: int | jax.Array) -> LoopState:
        state = init_loop_state(self.algorithm, self.env, self.n_envs, seed, self.is_jax)
        one = self.obs_spec.map(lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype))
        example = Transitions(
            obs=one,
            actions=jax.ShapeDtypeStruct(self.action_shape, jnp.float32),
            rewards=jax.ShapeDtypeStruct((), jnp.float32),
            next_obs=one,
            terminated=jax.ShapeDtypeStruct((), bool),
            truncated=jax.ShapeDtypeStruct((), bool),
        )
        return state._replace(
            buffer=replay_like(self.config.buffer_size, example),
            noise=jnp.zeros((self.n_envs, *self.action_shape), jnp.float32),
        )

    def explore(
        self, state: LoopState, obs: jax.Array, key: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        """(actions to take [N, *action_shape] within the bounds, noise state).

        Uniform over the Box during the warm-up; after it, the policy's action plus
        Gaussian or Ornstein–Uhlenbeck noise of σ (a schedule over iterations) times
        half the action range.
        """
        k_act, k_noise, k_random = jax.random.split(key, 3)
        action, _ = self.acting.act(state.algo, state.norm, obs, k_act)
        half_range = (self.high - self.low) / 2
        std = self.noise_std(state.iteration.as_float())
        noise = state.noise
        if self.config.action_noise == "normal":
            action = action + half_range * gaussian_noise(k_noise, action.shape, std=std)
        elif self.config.action_noise == "ou":
            noise, eps = ou_noise(noise, k_noise, std=std, theta=self.config.ou_theta)
            action = action + half_range * eps
        random = jax.random.uniform(k_random, action.shape, minval=self.low, maxval=self.high)
        action = jnp.where(state.env_steps.less_than(self.config.learning_starts), random, action)
        return jnp.clip(action, self.low, self.high), noise

    # --- the JAX door -------------------------------------------------------------

    def iterate_jax(self, state: LoopState) -> tuple[LoopState, dict[str, jax.Array]]:
        key, act_keys, env_keys, learn_key = split_iteration_key(state.key, self.n_steps)
        (carry, noise), steps = self.collector.collect(state, act_keys, env_keys)
        return self.learn(state._replace(key=key, env=carry, noise=noise), steps, learn_key)

    def run_jax_chunk(self, state: LoopState, n: int) -> tuple[LoopState, dict[str, np.ndarray]]:
        """`n` iterations in one compiled call; metrics stacked [n]."""
        return self._chunks(state, n)

    # --- the host door ------------------------------------------------------------

    def run_host_chunk(
        self, state: LoopState, n: int, obs: np.ndarray
    ) -> tuple[LoopState, dict[str, np.ndarray], np.ndarray]:
        """`n` iterations stepping Gymnasium environments from Python.

        `obs` is the observation to act on next; it is returned updated, since the
        host door's environment state lives outside the pytree.
        """
        env: HostVecEnv = self.env  # type: ignore[assignment]
        # the learning calls donate the state (the buffer is written in place): work on
        # a copy, so the caller's state stays valid if the chunk fails, and leaves that
        # share one array (a target network made from its online network) are parted
        state = jax.tree.map(jnp.copy, state)
        if self._host is None:
            ou = self.config.action_noise == "ou"
            self._host = HostTransitionCollector(env, self.n_steps, self._explore, ou)
        rows, games = [], []
        scores = getattr(env, "game_scores", None)  # an Atari game's raw scores
        keys = self._learn.split(state.key)  # later ones come with each update
        for _ in range(n):
            key, act_keys, _, learn_key = keys
            act_keys = np.asarray(act_keys)
            state, steps, obs = self._host.collect(state, obs, act_keys)
            if scores is not None:
                games.append(scores.pop())
            state, metrics, keys = self._learn(state._replace(key=key), steps, learn_key)
            rows.append(metrics)
        return state, with_game_scores(self._learn.stack(rows), games), obs


class TeamReplayLoop(OnPolicyLoop):
    """The off-policy loop of a team (MADDPG): the team acts by its own stochastic
    policy on either door, as on-policy teams do (the on-policy loop's collectors), and
    its joint steps go into the replay buffer of `LoopState.buffer`, from which the
    off-policy learner takes `gradient_steps` minibatch updates, as for DDPG, TD3 and SAC.
    """

    def make_learner(self, agents: tuple[str, ...] | None) -> OffPolicyLearner:
        return OffPolicyLearner(self.algorithm, self.normalizer, self.steps_per_iteration, agents)

    def init(self, seed: int | jax.Array) -> LoopState:
        one = jax.tree.map(lambda x: x[0], MultiAgentSpaces.of(self.env).zeros(1))  # type: ignore[arg-type]
        agents = one.active.shape
        example = Transitions(
            obs=one,
            actions=np.zeros(agents, np.int32),
            rewards=np.zeros(agents, np.float32),
            next_obs=one,
            terminated=np.zeros((), bool),
            truncated=np.zeros((), bool),
        )
        buffer = replay_like(self.algorithm.config.buffer_size, example)
        return super().init(seed)._replace(buffer=buffer)
