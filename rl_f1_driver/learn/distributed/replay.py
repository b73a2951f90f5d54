"""What learner, actors and the replay service derive from the same run config: the specs of
the experience, its leaves as the replay stores them, the weights sent from learner to
actors, and the actors' statistics rows.

- experience: n_step+1-step sequences of the actors' steps, sampled uniformly by the learner
  (replay_store); a samples-per-insert rate limiter (distributed.samples_per_insert) keeps
  learner and actors from starving or racing each other. Each step carries the version
  (learner gradient step) of the weights that chose its action, and the actor that drove it.
- weights: the collect policy's variables with the learner's gradient step (their version),
  the run's env steps (the actors' epsilon schedule) and the control pair [stop, session].
- statistics: per-actor counters the learner drains (env steps, episodes, returns), for the
  progress line, the report and the run's env-step count.
"""
from __future__ import annotations

from ...config import Config
from ...errors import UserError

STATS_FIELDS = ('actor', 'incarnation', 'session', 'env_steps', 'episodes', 'return_sum',
                'length_sum',
                'policy_version', 'steps_per_s')
# control, int64 [stop, session]: stop = 1 when the learner has finished; session = a number
# the learner draws at start, so actor counters are counted once per learner session (an actor
# that outlives a learner restart starts counting again for the resumed one).


def replay_name(text: str) -> str:
    """A replay service name, checked."""
    import re
    if not re.fullmatch(r'[A-Za-z0-9_.-]{1,64}', str(text)):
        raise UserError(f'--replay {text!r}: expected a name of letters, digits, _ . - '
                        '(at most 64), e.g. replay')
    return str(text)


def ray_address(text: str) -> str:
    """'HOST:PORT' (or 'auto': the cluster this machine was joined to with `ray start`),
    checked for a clear error before any connection attempt."""
    if text == 'auto':
        return text
    host, sep, port = str(text).rpartition(':')
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UserError(f'--ray-address {text!r}: expected HOST:PORT of a Ray cluster\'s head '
                        '(`ray start --head` prints it), e.g. 192.168.1.10:6379, or auto')
    return f'{host}:{int(port)}'


def tag_spec():
    import tensorflow as tf
    return {'version': tf.TensorSpec((), tf.int64, 'version'),
            'actor': tf.TensorSpec((), tf.int32, 'actor')}


def replay_data_spec(agent):
    """The agent's collect data spec with the version tag in policy_info (DQN's own is ())."""
    return agent.collect_data_spec._replace(policy_info=tag_spec())


def leaf_specs(agent) -> list:
    """(shape, dtype) of each leaf of one step, as the replay stores it."""
    import tensorflow as tf
    from tf_agents.specs import tensor_spec
    spec = tensor_spec.from_spec(replay_data_spec(agent))
    return [(tuple(int(d) for d in s.shape), s.dtype.name) for s in tf.nest.flatten(spec)]


def control_variable():
    import tensorflow as tf
    return tf.Variable([0, 0], dtype=tf.int64, name='control')


def weights_message(agent, global_step, env_steps, control) -> dict:
    """What the learner pushes: the collect policy's variables and the counters."""
    return {'version': int(global_step.numpy()), 'env_steps': int(env_steps.numpy()),
            'control': [int(x) for x in control.numpy()],
            'variables': [v.numpy() for v in agent.collect_policy.variables()]}


def apply_weights(message: dict, agent, global_step, env_steps, control) -> None:
    """An actor takes the pushed weights (the arrays only when they changed)."""
    if 'variables' in message:
        variables = agent.collect_policy.variables()
        if len(variables) != len(message['variables']):
            raise UserError('the learner\'s network differs from this actor\'s (its config '
                            'differs): start actors with the learner\'s run config')
        for var, value in zip(variables, message['variables']):
            var.assign(value)
    global_step.assign(message['version'])
    env_steps.assign(message['env_steps'])
    control.assign(message['control'])


def env_specs(cfg: Config, env=None) -> tuple:
    """(time_step_spec, action_spec) as tensor specs, of `env` or of an embedded environment
    of the config built for the purpose."""
    from tf_agents.specs import tensor_spec

    from ...env import env_from_config
    own = env is None
    env = env_from_config(cfg) if own else env
    try:
        return (tensor_spec.from_spec(env.time_step_spec()),
                tensor_spec.from_spec(env.action_spec()))
    finally:
        if own:
            env.close()


def spec_agent(cfg: Config, env=None):
    """The agent with its step counters and control variable, for its specs (replay server)
    or its collect policy (actors, with their own `env`): no training state."""
    import tensorflow as tf

    from ..agent import build_agent
    ts_spec, act_spec = env_specs(cfg, env)
    global_step = tf.Variable(0, dtype=tf.int64, name='global_step')
    env_steps = tf.Variable(0, dtype=tf.int64, name='env_steps')
    control = control_variable()
    agent, epsilon = build_agent(cfg, ts_spec, act_spec, env_steps, global_step)
    return agent, epsilon, global_step, env_steps, control


def service_settings(cfg: Config, agent) -> dict:
    """The replay service's settings from the config (start_service's keywords)."""
    tc, dc = cfg.train, cfg.distributed
    return dict(leaves=leaf_specs(agent), capacity=tc.replay_capacity,
                length=tc.n_step + 1, samples_per_insert=dc.samples_per_insert,
                min_size=max(tc.batch_size, tc.initial_collect_steps),
                # How many samples the learner may run ahead of (or behind) the ratio before
                # one side waits; at least a batch, or sampling could deadlock.
                error_buffer=max(dc.rate_error_buffer, 2.0 * tc.batch_size),
                seed=cfg.seed)
