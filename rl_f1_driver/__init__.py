"""rl_f1_driver: teach an F1 car to follow the red line with DQN, on Gazebo or embedded."""
import os as _os

from .quiet import tf_keras_installed as _tf_keras_installed

# tf-agents builds its networks with tf.keras and needs Keras 2 there. From TensorFlow 2.16 on,
# tf.keras is Keras 3 unless TF_USE_LEGACY_KERAS=1 routes it to the tf-keras package (Keras
# 2). TensorFlow reads the variable when it is imported, so it is set here, before any
# submodule can import TensorFlow (import rl_f1_driver before tensorflow in your own code); a
# value already set is kept. Only where tf-keras is installed: TensorFlow 2.15 reads the
# variable too, and without tf-keras it then has no tf.keras at all. TensorFlow >= 2.16
# without tf-keras ends the first entry that uses it with one line (quiet.keras_problem).
if _tf_keras_installed():
    _os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')

__version__ = '0.1.0'


def make_env(*args, **kwargs):
    """F1FollowLineEnv on the embedded simulator; see `rl_f1_driver.env.make_env`."""
    from .env import make_env as _make_env
    return _make_env(*args, **kwargs)


__all__ = ['make_env', '__version__']
