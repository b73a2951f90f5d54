"""The training monitor's environment hooks, on the embedded simulator (no ROS)."""
import numpy as np
import pytest

pytest.importorskip('tf_agents')

from rl_f1_driver.config import load_config  # noqa: E402
from rl_f1_driver.env.follow_line_env import F1FollowLineEnv  # noqa: E402
from rl_f1_driver.ros.monitoring import monitored_env_class  # noqa: E402
from rl_f1_driver.sim.embedded import EmbeddedSimulator  # noqa: E402
from rl_f1_driver.track import load_circuit  # noqa: E402


class Recorder:
    def __init__(self):
        self.events = []

    def on_reset(self, env):
        self.events.append(('reset', env.stats.steps, env.last_frame is not None))

    def on_step(self, env):
        self.events.append(('step', env.stats.steps, env.stats.end_reason))


def test_every_reset_and_step_reaches_the_monitor_with_the_env_state():
    cfg = load_config(overrides={'camera.width': 64, 'camera.height': 48, 'env.start': 0.0,
                                 'env.max_steps': 3})
    circuit = load_circuit('simple')
    rec = Recorder()
    cls = monitored_env_class(F1FollowLineEnv)
    env = cls(EmbeddedSimulator(circuit, cfg.camera, cfg.car), cfg, circuit, seed=0,
              monitor=rec)
    assert cls.__name__ == 'MonitoredF1FollowLineEnv' and isinstance(env, F1FollowLineEnv)
    env.reset()
    for _ in range(4):          # three steps end the episode; the fourth auto-resets
        env.step(np.int32(0))
    assert [e[0] for e in rec.events] == ['reset', 'step', 'step', 'step', 'reset']
    assert rec.events[0][2] is True
    assert rec.events[3] == ('step', 3, 'max_steps')     # the end is seen on its own step
    assert rec.events[1][2] == ''
