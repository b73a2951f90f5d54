"""rl_f1_driver: teach an F1 car to follow the red line with DQN, on Gazebo or embedded."""
__version__ = '0.1.0'


def make_env(*args, **kwargs):
    """F1FollowLineEnv on the embedded simulator; see `rl_f1_driver.env.make_env`."""
    from .env import make_env as _make_env
    return _make_env(*args, **kwargs)


__all__ = ['make_env', '__version__']
