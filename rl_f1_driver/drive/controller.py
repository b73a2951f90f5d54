"""Camera frame -> Twist: the trained policy, or a classic PID baseline.

Both are used the same way by `rl-f1 drive`, the latency benchmark and the ROS drive node:
`reset()` at the start of a drive, then `command(bgr)` for every frame.

The policy runs on one of two runtimes: `numpy` (its q_network.npz, drive.numpy_policy: no
TensorFlow in the process) or `tensorflow` (the PolicySaver SavedModel); `auto` takes numpy
when the policy folder has q_network.npz (policies exported before it existed have none).
"""
from __future__ import annotations

import abc
from pathlib import Path
from typing import Optional, Union

import numpy as np
import yaml

from ..config import Config, load_config, to_dict
from ..env.observation import ObservationBuilder
from ..errors import ConfigError, UserError
from ..perception import LineDetector, LineReading
from ..sim.interface import CameraView
from ..sim.types import Twist
from .numpy_policy import NPZ_NAME, NumpyQNetwork, check_export_files, policy_runtime

POLICY_META = 'rl_f1_driver.yaml'
# What a policy was trained on and must be driven with: these must match the running config.
MUST_MATCH = ('actions', 'perception.rows', 'env.observation', 'env.prev_action', 'env.stack',
              'perception.mask_height', 'perception.mask_width', 'perception.mask_top')


class Controller(abc.ABC):
    config: Config
    detector: LineDetector
    last_reading: Optional[LineReading] = None

    @abc.abstractmethod
    def view(self) -> CameraView:
        """The part of the camera image this controller reads."""

    @abc.abstractmethod
    def reset(self) -> None:
        """Forget the previous frames and commands (a new drive starts)."""

    @abc.abstractmethod
    def command(self, image: np.ndarray, row_fractions: Optional[np.ndarray] = None,
                dt: Optional[float] = None) -> Twist:
        """The Twist to send for this BGR camera frame."""


class PolicyController(Controller):
    """A policy exported by `rl-f1 train`, driven from camera frames.

    runtime: 'numpy' (q_network.npz), 'tensorflow' (the SavedModel) or 'auto' (numpy when
    q_network.npz is there); `self.runtime` is the one used.
    """

    def __init__(self, policy_dir: Union[str, Path], config: Optional[Config] = None,
                 runtime: str = 'auto'):
        self.policy_dir = Path(policy_dir)
        self.runtime = policy_runtime(self.policy_dir, runtime)
        self.config = policy_config(self.policy_dir)
        if config is not None:
            check_compatible(self.policy_dir, self.config, config)
        self._observer = ObservationBuilder(self.config)
        self.detector = self._observer.detector
        self._actions = np.asarray(self.config.actions, np.float32)
        self.network: Optional[NumpyQNetwork] = None
        if self.runtime == 'numpy':
            self.network = _load_numpy_network(self.policy_dir)
            self._check_network()
            check_export_files(self.policy_dir, self.network)
            self._policy, self._action = None, self.network.action
        else:
            # tf-agents before its specs are read: quietly (gym's notice), or one line where
            # TensorFlow has no Keras 2 for it.
            from ..quiet import import_tf_agents_quietly
            import_tf_agents_quietly()
            self._check_specs()
            self._policy, self._action = _load_saved_policy(self.policy_dir)

    def _check_network(self) -> None:
        """q_network.npz must take the observations and give the actions described."""
        shape, dtype = observation_shape(self.config)
        net = self.network
        if (net.observation_shape != shape or net.observation_dtype != dtype
                or net.num_actions != len(self._actions)):
            raise UserError(
                f'{self.policy_dir}: {NPZ_NAME} expects {net.observation_dtype} observations '
                f'{net.observation_shape} and {net.num_actions} actions, but {POLICY_META} '
                f'describes {np.dtype(dtype)} {shape} and {len(self._actions)}: the folder '
                'mixes files of different policies')

    def _check_specs(self) -> None:
        """The SavedModel's own specs (policy_specs.pbtxt) must match the description."""
        from tf_agents.specs import tensor_spec
        spec = self._observer.spec()
        specs_file = self.policy_dir / 'policy_specs.pbtxt'
        try:
            data_spec = tensor_spec.from_pbtxt_file(str(specs_file))['collect_data_spec']
            shape = tuple(data_spec.observation.shape)
            n_actions = int(data_spec.action.maximum) + 1
        except Exception as exc:  # noqa: BLE001 - missing file, bad proto, other structure
            raise UserError(f'{specs_file}: cannot read the policy specs ({type(exc).__name__})'
                            ) from None
        if shape != spec.shape or n_actions != len(self._actions):
            raise UserError(
                f'{self.policy_dir}: the SavedModel expects observations {shape} and '
                f'{n_actions} actions, but {POLICY_META} describes {spec.shape} and '
                f'{len(self._actions)}: the folder mixes files of different policies')

    def action(self, observation: np.ndarray) -> int:
        """The greedy action index for one observation (ObservationBuilder.build's)."""
        return int(self._action(observation))

    def view(self) -> CameraView:
        return self._observer.view()

    def reset(self) -> None:
        self._observer.reset()

    def command(self, image: np.ndarray, row_fractions: Optional[np.ndarray] = None,
                dt: Optional[float] = None) -> Twist:
        obs = self._observer.build(image, row_fractions)
        self.last_reading = self._observer.reading
        a = int(self._action(obs))
        v, w = float(self._actions[a, 0]), float(self._actions[a, 1])
        self._observer.note_command(v, w)
        return Twist(v, w)


class PidController(Controller):
    """Hand-tuned PID on the weighted line error: the classic baseline, no learning."""

    def __init__(self, config: Config):
        self.config = config
        self.detector = LineDetector(config.perception)
        self._weights = np.asarray(config.pid.row_weights, np.float64)
        self._dt = config.camera.control_period
        self.reset()

    def view(self) -> CameraView:
        from ..sim.camera import rows_view
        return rows_view(self.config.camera, self.config.perception.rows)

    def reset(self) -> None:
        self._prev_error: Optional[float] = None
        self._integral = 0.0
        self._last_w = 0.0

    def command(self, image: np.ndarray, row_fractions: Optional[np.ndarray] = None,
                dt: Optional[float] = None) -> Twist:
        p = self.config.pid
        dt = dt or self._dt
        self.last_reading = reading = self.detector.detect(image, row_fractions)
        if reading.lost:
            # Keep turning the way we were, slowly: the line was last seen on that side.
            return Twist(p.min_speed, self._last_w)
        wts = self._weights * reading.found
        error = float(np.dot(wts, reading.errors) / wts.sum())
        deriv = 0.0 if self._prev_error is None else (error - self._prev_error) / dt
        self._prev_error = error
        self._integral = float(np.clip(self._integral + error * dt, -1.0, 1.0))
        # Positive error: the line is right of centre, so turn right (negative angular.z).
        w = -(p.kp * error + p.kd * deriv + p.ki * self._integral)
        w = float(np.clip(w, -p.max_turn, p.max_turn))
        v = p.max_speed - (p.max_speed - p.min_speed) * min(1.0, abs(error) * 2.0)
        self._last_w = w
        return Twist(v, w)


def load_controller(policy_dir: Union[str, Path, None], config: Optional[Config] = None,
                    kind: str = 'policy', runtime: str = 'auto') -> Controller:
    """'policy' (needs policy_dir) or 'pid' (needs config, default: config/defaults.yaml).

    runtime (policy only): 'auto', 'numpy' or 'tensorflow', see PolicyController.
    """
    policy_runtime(None, runtime)  # an unknown runtime is an error for the PID too
    if kind == 'pid':
        return PidController(config or load_config())
    if kind != 'policy':
        raise UserError(f'unknown controller {kind!r}: expected policy or pid')
    if not policy_dir:
        raise UserError('driving with the learned policy needs a policy directory '
                        '(--policy DIR, the policy/ folder of a training run)')
    return PolicyController(policy_dir, config, runtime)


def observation_shape(config: Config) -> tuple:
    """(shape, dtype) of the observations of `config`, as ObservationBuilder.spec() (which
    needs tf-agents) describes them."""
    e, p = config.env, config.perception
    if e.observation == 'lines':
        return (len(p.rows) + (2 if e.prev_action else 0),), np.dtype(np.float32)
    return (p.mask_height, p.mask_width, e.stack), np.dtype(np.uint8)


def policy_config(policy_dir: Path) -> Config:
    """The config stored beside an exported policy, layered over today's defaults."""
    if not policy_dir.exists():
        raise UserError(f'{policy_dir}: policy directory not found')
    if not policy_dir.is_dir():
        raise UserError(f'{policy_dir}: not a directory (expected the policy/ folder of a run)')
    if (policy_dir / 'policy' / POLICY_META).is_file():
        raise UserError(f'{policy_dir}: this is a run directory; the policy is in '
                        f'{policy_dir / "policy"}')
    meta_path = policy_dir / POLICY_META
    if not (policy_dir / 'saved_model.pb').is_file() or not meta_path.is_file():
        missing = [n for n in ('saved_model.pb', POLICY_META) if not (policy_dir / n).is_file()]
        raise UserError(f'{policy_dir}: not an exported rl_f1_driver policy (missing '
                        f'{", ".join(missing)})')
    try:
        meta = yaml.safe_load(meta_path.read_text(encoding='utf-8'))
        sections = meta['config']
        if not isinstance(sections, dict):
            raise TypeError('config is not a mapping')
        missing = sorted({k.split('.')[0] for k in MUST_MATCH} - set(sections))
        if missing:
            raise KeyError(f'config lacks {", ".join(missing)}')
    except (yaml.YAMLError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise UserError(f'{meta_path}: corrupt policy description ({exc})') from None
    try:
        return load_config(overrides=sections)
    except ConfigError as exc:
        raise UserError(f'{meta_path}: {exc}') from None


def _get(d: dict, dotted: str):
    for part in dotted.split('.'):
        d = d[part]
    return d


def check_compatible(policy_dir: Path, trained: Config, running: Config) -> None:
    a, b = to_dict(trained), to_dict(running)
    diffs = [k for k in MUST_MATCH if _get(a, k) != _get(b, k)]
    if diffs:
        detail = '; '.join(f'{k}: policy {_get(a, k)!r} vs config {_get(b, k)!r}'
                           for k in diffs)
        raise UserError(f'{policy_dir}: this policy was trained for another observation / '
                        f'action set ({detail})')


def _load_numpy_network(policy_dir: Path) -> NumpyQNetwork:
    path = policy_dir / NPZ_NAME
    if not path.is_file():
        raise UserError(f'{policy_dir}: no {NPZ_NAME} for the numpy runtime (exported before '
                        'it existed, or its network is not supported): drive it with '
                        '--runtime tensorflow')
    return NumpyQNetwork.load(path)


def _load_saved_policy(policy_dir: Path):
    """Load the SavedModel and return (policy, obs -> action index); tf-agents is
    imported (import_tf_agents_quietly)."""
    import tensorflow as tf
    from tf_agents.trajectories import time_step as ts
    try:
        policy = tf.saved_model.load(str(policy_dir))
    except Exception as exc:  # noqa: BLE001 - TensorFlow raises many types for bad files
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise UserError(f'{policy_dir}: cannot load the SavedModel ({first})') from None
    if not hasattr(policy, 'action'):
        raise UserError(f'{policy_dir}: the SavedModel has no action() function; '
                        'is it a tf-agents PolicySaver export?')
    step_type = tf.constant([1], tf.int32)
    reward = tf.constant([0.0], tf.float32)
    discount = tf.constant([1.0], tf.float32)

    def act(obs: np.ndarray) -> int:
        step = ts.TimeStep(step_type, reward, discount, tf.constant(obs[None]))
        return int(policy.action(step).action.numpy()[0])

    return policy, act
