"""Gymnasium adapter: `RlF1/FollowLine-v0`, the same environment and config for Gymnasium code.

    import gymnasium
    import rl_f1_driver.gym  # registers RlF1/FollowLine-v0
    env = gymnasium.make('RlF1/FollowLine-v0', track='simple', observation='lines', seed=0)

(or `gymnasium.make('rl_f1_driver.gym:RlF1/FollowLine-v0', ...)`, which imports this module).
The keyword arguments are those of `rl_f1_driver.make_env`: `config` (a Config or a YAML file
over config/defaults.yaml), `track`, `observation`, `seed`, env fields (`max_steps=...`),
section dicts and dotted keys (`**{'reward.speed_weight': 0.5}`); plus `render_mode`, `laps`
(end the episode, terminated, after this many laps) and `overlay` (draw the perception overlay
on rendered frames).

tf-agents stays the project's trainer; this wraps the same `F1FollowLineEnv`, so observations,
rewards and end rules are the same. Importing this module does not import TensorFlow; building
an environment does (F1FollowLineEnv is a tf-agents PyEnvironment).
"""
from __future__ import annotations

from typing import Any, Optional

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded
from gymnasium.utils import seeding

ENV_ID = 'RlF1/FollowLine-v0'
MAX_SEED = 2**31 - 1  # config.seed's range


class FollowLineEnv(gymnasium.Env):
    """`F1FollowLineEnv` (embedded simulator) as a `gymnasium.Env`.

    - observation_space: a Box from the env's observation spec (`lines`: float32 in [-1, 1];
      `image`: uint8 line masks, height x width x stack); action_space: Discrete(len(actions)),
      an index into the config's (v, w) commands.
    - reset(seed=s) rebuilds the simulator and environment exactly as `make_env(seed=s)` would
      (the same first observation and, for the same actions, the same trajectory);
      reset() without a seed goes on with the current random streams (start pose, direction,
      domain randomisation).
    - step() -> (obs, reward, terminated, truncated, info): line_lost, off_road, wrong_way and
      `laps` done are `terminated`; the env.max_steps time limit is `truncated`. info: steps,
      end_reason ('' while driving), and from ground truth laps, lap_completed, progress (laps,
      fractional), lateral and deviation (m), heading_error (rad), speed (m/s); the last step
      adds episode_summary (laps_completed, completion, lap times, deviation, mean speed,
      return: the figures training's evaluations report).
    - render_mode='rgb_array': render() returns the camera view at the car's pose, a whole
      frame (RGB, camera height x width x 3 uint8) with the perception overlay. Only render()
      draws it (about 10 ms at 640x480, overlay included): steps still render just what the
      observation reads, so observations and rewards do not depend on the render mode, nor
      does the step time (the simulator draws a rendered frame's pixel noise from a stream of
      its own, so looking does not change a randomised run either).
    """

    metadata = {'render_modes': ['rgb_array'], 'render_fps': 20}

    def __init__(self, render_mode: Optional[str] = None, *, laps: Optional[int] = None,
                 overlay: bool = True, **make_env_kwargs: Any):
        if render_mode is not None and render_mode not in self.metadata['render_modes']:
            raise ValueError(f'{ENV_ID}: render_mode: expected None or one of '
                             f'{self.metadata["render_modes"]}, got {render_mode!r}')
        if laps is not None and (isinstance(laps, bool) or not isinstance(laps, (int, np.integer))
                                 or laps < 1):
            raise ValueError(f'{ENV_ID}: laps: expected a positive integer or None, got {laps!r}')
        from .env import make_env
        self.render_mode = render_mode
        self.laps = laps
        self.overlay = bool(overlay)
        self._env = make_env(**make_env_kwargs)
        cfg = self._env.config
        self.metadata = dict(self.metadata, render_fps=cfg.camera.rate_hz)
        self._np_random, self._np_random_seed = seeding.np_random(cfg.seed)
        spec = self._env.observation_spec()
        self.observation_space = spaces.Box(
            low=np.broadcast_to(np.asarray(spec.minimum, spec.dtype), spec.shape),
            high=np.broadcast_to(np.asarray(spec.maximum, spec.dtype), spec.shape),
            shape=spec.shape, dtype=spec.dtype)
        aspec = self._env.action_spec()
        if int(aspec.minimum) != 0:
            raise ValueError(f'{ENV_ID}: expected actions numbered from 0, got {aspec}')
        self.action_space = spaces.Discrete(int(aspec.maximum) + 1)
        self._ended: Optional[str] = None  # None: no episode yet; '': running; else the reason
        self._closed = False

    # --- the wrapped environment -------------------------------------------------------------

    @property
    def py_env(self):
        """The wrapped F1FollowLineEnv (a seeded reset replaces it)."""
        return self._env

    @property
    def config(self):
        return self._env.config

    def _reseed(self, seed: int) -> None:
        from .config import with_overrides
        from .env import env_from_config
        cfg = with_overrides(self._env.config, {'seed': int(seed)})
        self._env.close()
        self._env = env_from_config(cfg)

    # --- gymnasium API ----------------------------------------------------------------------

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        # Checked before super().reset(): a bad seed or option leaves the env as it was.
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                                 or not 0 <= seed <= MAX_SEED):
            raise ValueError(f'{ENV_ID}: seed: expected an integer in [0, {MAX_SEED}], '
                             f'got {seed!r}')
        if options:
            raise ValueError(f'{ENV_ID}: reset() takes no options, got {sorted(options)}: set '
                             f'start, direction and the rest in the config')
        super().reset(seed=seed)
        if seed is not None:
            self._reseed(seed)
        time_step = self._env.reset()
        self._ended = ''
        info = self._info('')
        info['start_fraction'] = self._env.start_fraction
        info['direction'] = 'forward' if self._env.direction > 0 else 'reverse'
        return time_step.observation, info

    def step(self, action):
        if self._ended is None:
            raise ResetNeeded(f'{ENV_ID}: call reset() before step()')
        if self._ended:
            raise ResetNeeded(f'{ENV_ID}: the episode ended ({self._ended}): call reset() '
                              f'before step()')
        index = self._action_index(action)
        env = self._env
        time_step = env.step(np.int32(index))
        stats = env.stats
        terminated = truncated = False
        reason = ''
        if time_step.is_last():
            # Ends that are a state of the task (line_lost, off_road, wrong_way) have discount
            # 0 in tf-agents: terminated. env.max_steps, a time limit, keeps 1: truncated.
            reason = stats.end_reason
            terminated = float(time_step.discount) == 0.0
            truncated = not terminated
        if not terminated and self.laps is not None and stats.laps >= self.laps:
            reason = stats.end_reason = 'laps_done'
            terminated, truncated = True, False
        self._ended = reason
        return time_step.observation, float(time_step.reward), terminated, truncated, \
            self._info(reason)

    def render(self):
        if self.render_mode is None:
            gymnasium.logger.warn(f'{ENV_ID}: render() needs render_mode="rgb_array" '
                                  f'(gymnasium.make(..., render_mode="rgb_array"))')
            return None
        env = self._env
        if env.last_frame is None:
            raise ResetNeeded(f'{ENV_ID}: call reset() before render()')
        # The env's frames hold only the rows its observation reads: draw a whole one.
        frame = env.sim.render_full() or env.last_frame
        bgr = frame.image
        if self.overlay:
            from .perception import draw_overlay
            info = env.get_info()
            text = f'{env.config.track}  step {env.stats.steps}'
            if info:
                text += f'  lap {int(info["laps"]) + 1}  {100 * float(info["progress"]):.0f}%'
            if self._ended:
                text += f'  {self._ended}'
            # Detected again on the whole frame: an `image` observation's reading is in the
            # pixels of its smaller render.
            bgr = draw_overlay(bgr, env.detector, None, env.observer.previous_command,
                               text=text)
        return np.ascontiguousarray(bgr[..., ::-1])  # BGR -> RGB

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._env.close()

    # --- internals --------------------------------------------------------------------------

    def _action_index(self, action) -> int:
        n = int(self.action_space.n)
        a = action[()] if isinstance(action, np.ndarray) and action.ndim == 0 else action
        if isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)):
            raise TypeError(f'{ENV_ID}: expected an integer action in [0, {n}), got {action!r} '
                            f'({type(action).__name__})')
        if not 0 <= a < n:
            raise ValueError(f'{ENV_ID}: action {int(a)} is out of range: expected an integer '
                             f'in [0, {n}), an index into the {n} (v, w) commands of `actions` '
                             f'in the config')
        return int(a)

    def _info(self, reason: str) -> dict:
        env = self._env
        info: dict = {'steps': env.stats.steps, 'end_reason': reason}
        truth = env.get_info()
        if truth:  # ground truth, where the backend knows the pose (the embedded one does)
            lateral = float(truth['lateral'])
            info.update(laps=int(truth['laps']), lap_completed=bool(truth['lap_completed']),
                        progress=float(truth['progress']), lateral=lateral,
                        deviation=abs(lateral), heading_error=float(truth['heading_error']),
                        speed=float(truth['speed']))
        if reason:
            info['episode_summary'] = env.episode_summary()
        return info


def register() -> None:
    """Register RlF1/FollowLine-v0 with gymnasium (done on import; safe to call again).

    No `max_episode_steps`: the environment truncates at its own `env.max_steps`.
    """
    if ENV_ID not in gymnasium.registry:
        gymnasium.register(id=ENV_ID, entry_point=f'{__name__}:FollowLineEnv',
                           nondeterministic=False)


register()

__all__ = ['ENV_ID', 'FollowLineEnv', 'register']
