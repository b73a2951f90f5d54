"""The Reverb replay tables shared by server, learner and actors, and the specs behind them.

Three tables, all defined from the run's config (so every process derives the same
signatures from the same config file):
- `experience`: n_step+1-step sequences written by the actors, sampled uniformly by the
  learner; a SampleToInsertRatio rate limiter (distributed.samples_per_insert) keeps learner
  and actors from starving or racing each other. Each step carries the version (learner
  gradient step) of the weights that chose its action, and the actor that drove it.
- `variables`: the latest weights pushed by the learner (tf-agents ReverbVariableContainer),
  with the learner's gradient step, the run's env steps (the actors' epsilon schedule) and a
  stop flag.
- `actor_stats`: a queue of per-actor counters the learner drains (env steps, episodes,
  returns), for the progress line, the report and the run's env-step count.
"""
from __future__ import annotations

from ...config import Config
from ...errors import UserError

EXPERIENCE = 'experience'
VARIABLES = 'variables'
STATS = 'actor_stats'
STATS_FIELDS = ('actor', 'incarnation', 'session', 'env_steps', 'episodes', 'return_sum',
                'length_sum',
                'policy_version', 'steps_per_s')
ENV_STEPS_KEY = 'env_steps'
# int64 [stop, session]: stop = 1 when the learner has finished; session = a number the
# learner draws at start, so actor counters are counted once per learner session (an actor
# that outlives a learner restart starts counting again for the resumed one).
CONTROL_KEY = 'control'


def parse_address(text: str) -> str:
    """'HOST:PORT' checked, for a clear error before any connection attempt."""
    host, sep, port = str(text).rpartition(':')
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UserError(f'--replay {text!r}: expected HOST:PORT, e.g. localhost:8000')
    return f'{host}:{int(port)}'


def tag_spec():
    import tensorflow as tf
    return {'version': tf.TensorSpec((), tf.int64, 'version'),
            'actor': tf.TensorSpec((), tf.int32, 'actor')}


def replay_data_spec(agent):
    """The agent's collect data spec with the version tag in policy_info (DQN's own is ())."""
    return agent.collect_data_spec._replace(policy_info=tag_spec())


def variables_nest(agent, global_step, env_steps, control) -> dict:
    from tf_agents.experimental.distributed import reverb_variable_container as rvc
    return {rvc.POLICY_KEY: agent.collect_policy.variables(), rvc.TRAIN_STEP_KEY: global_step,
            ENV_STEPS_KEY: env_steps, CONTROL_KEY: control}


def control_variable():
    import tensorflow as tf
    return tf.Variable([0, 0], dtype=tf.int64, name='control')


def make_tables(cfg: Config, agent, global_step, env_steps, stop) -> list:
    import reverb
    import tensorflow as tf
    from tf_agents.specs import tensor_spec
    tc, dc = cfg.train, cfg.distributed
    data_sig = tensor_spec.add_outer_dim(tensor_spec.from_spec(replay_data_spec(agent)),
                                         tc.n_step + 1)
    min_size = max(tc.batch_size, tc.initial_collect_steps)
    if dc.samples_per_insert > 0:
        # error_buffer: how many samples the learner may run ahead of (or behind) the ratio
        # before one side waits; at least a batch, or sampling could deadlock.
        limiter = reverb.rate_limiters.SampleToInsertRatio(
            samples_per_insert=dc.samples_per_insert, min_size_to_sample=min_size,
            error_buffer=max(dc.rate_error_buffer, 2.0 * tc.batch_size))
    else:
        limiter = reverb.rate_limiters.MinSize(min_size)
    var_sig = tf.nest.map_structure(lambda v: tf.TensorSpec(v.shape, v.dtype),
                                    variables_nest(agent, global_step, env_steps, stop))
    return [
        reverb.Table(EXPERIENCE, max_size=tc.replay_capacity,
                     sampler=reverb.selectors.Uniform(), remover=reverb.selectors.Fifo(),
                     rate_limiter=limiter, signature=data_sig),
        reverb.Table(VARIABLES, max_size=1, sampler=reverb.selectors.Uniform(),
                     remover=reverb.selectors.Fifo(),
                     rate_limiter=reverb.rate_limiters.MinSize(1), max_times_sampled=0,
                     signature=var_sig),
        reverb.Table.queue(STATS, max_size=100_000,
                           signature=tf.TensorSpec((len(STATS_FIELDS),), tf.float64)),
    ]


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
    """The agent with its step counters and control variable, for its specs and variables
    (server) or its collect policy (actors, with their own `env`): no training state."""
    import tensorflow as tf

    from ..agent import build_agent
    ts_spec, act_spec = env_specs(cfg, env)
    global_step = tf.Variable(0, dtype=tf.int64, name='global_step')
    env_steps = tf.Variable(0, dtype=tf.int64, name='env_steps')
    control = control_variable()
    agent, epsilon = build_agent(cfg, ts_spec, act_spec, env_steps, global_step)
    return agent, epsilon, global_step, env_steps, control
