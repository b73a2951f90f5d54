"""The DQN agent, built one way for the in-process trainer, the learner and the actors.

Actors build the same agent as the learner (same network, same specs) and use only its collect
policy, whose variables they pull from the replay server; so one function defines them all.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..config import Config


def build_agent(cfg: Config, time_step_spec, action_spec, env_steps, global_step):
    """(agent, epsilon): DQN or double DQN on the configured Q-network. Epsilon decays with
    `env_steps` (a tf.Variable: the run's environment steps, over all environments/actors)."""
    import tensorflow as tf
    from tf_agents.agents.dqn import dqn_agent
    from tf_agents.utils import common

    from .networks import build_q_network

    tc = cfg.train
    q_net = build_q_network(time_step_spec.observation, action_spec, tc, cfg.env.observation)

    def epsilon():
        frac = tf.minimum(1.0, tf.cast(env_steps, tf.float32) / float(tc.epsilon_decay_steps))
        return tc.epsilon_start + frac * (tc.epsilon_end - tc.epsilon_start)

    agent_cls = dqn_agent.DdqnAgent if tc.double_dqn else dqn_agent.DqnAgent
    agent = agent_cls(
        time_step_spec, action_spec, q_network=q_net,
        optimizer=tf.keras.optimizers.Adam(learning_rate=tc.learning_rate),
        epsilon_greedy=epsilon, n_step_update=tc.n_step,
        target_update_tau=tc.target_update_tau, target_update_period=tc.target_update_period,
        td_errors_loss_fn=common.element_wise_huber_loss, gamma=tc.gamma,
        gradient_clipping=tc.gradient_clip or None, train_step_counter=global_step)
    agent.initialize()
    return agent, epsilon


def greedy_act(policy) -> Callable[[np.ndarray], np.ndarray]:
    """Observations of several environments (stacked) -> greedy action indices, one call."""
    import tensorflow as tf
    from tf_agents.trajectories import time_step as ts
    from tf_agents.utils import common

    action = common.function(policy.action)

    def act(observations: np.ndarray) -> np.ndarray:
        n = len(observations)
        step = ts.TimeStep(tf.ones([n], tf.int32), tf.zeros([n]), tf.ones([n]),
                           tf.constant(observations))
        return action(step).action.numpy()

    return act
