"""Typed settings. Defaults are not here: they live in config/defaults.yaml, the one source.

Each field's metadata states what a valid value is; `loader.build` checks it and names the file
and key of anything wrong.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Tuple, Union


def rng(lo: Optional[float] = None, hi: Optional[float] = None, *, lo_open: bool = False,
        choices: Optional[tuple] = None, min_len: Optional[int] = None):
    """Field metadata: the accepted range (or choices, or minimal list length)."""
    return field(metadata={'lo': lo, 'hi': hi, 'lo_open': lo_open, 'choices': choices,
                           'min_len': min_len})


@dataclass(frozen=True)
class CameraConfig:
    width: int = rng(16, 4096)
    height: int = rng(16, 4096)
    hfov: float = rng(0.1, 3.0)
    rate_hz: float = rng(0.0, 1000.0, lo_open=True)
    mount_height: float = rng(0.0, 10.0, lo_open=True)
    mount_forward: float = rng(-5.0, 5.0)
    pitch: float = rng(-0.7, 0.7)
    clip_near: float = rng(0.0, 10.0, lo_open=True)
    clip_far: float = rng(1.0, 10000.0)

    @property
    def fx(self) -> float:
        """Focal length in pixels, square pixels (Gazebo's camera model)."""
        import math
        return self.width / (2.0 * math.tan(self.hfov / 2.0))

    @property
    def control_period(self) -> float:
        return 1.0 / self.rate_hz

    @property
    def horizon_fraction(self) -> float:
        """Image row of the horizon as a fraction of the height (pitch down raises it)."""
        import math
        return 0.5 - math.tan(self.pitch) * self.fx / self.height


@dataclass(frozen=True)
class CarConfig:
    max_linear_accel: float = rng(0.0, 100.0, lo_open=True)
    max_angular_accel: float = rng(0.0, 100.0, lo_open=True)
    max_linear_speed: float = rng(0.0, 100.0, lo_open=True)
    max_angular_speed: float = rng(0.0, 20.0, lo_open=True)


@dataclass(frozen=True)
class PerceptionConfig:
    rows: Tuple[float, ...] = rng(0.0, 1.0, min_len=1)
    hue_low_max: int = rng(0, 179)
    hue_high_min: int = rng(0, 179)
    sat_min: int = rng(0, 255)
    val_min: int = rng(0, 255)
    min_pixels: int = rng(1, 1000)
    mask_height: int = rng(4, 512)
    mask_width: int = rng(4, 512)
    mask_top: float = rng(0.0, 0.95)


@dataclass(frozen=True)
class EnvConfig:
    observation: str = rng(choices=('lines', 'image'))
    prev_action: bool = rng()
    stack: int = rng(1, 16)
    max_steps: int = rng(1, 10_000_000)
    lost_frames: int = rng(1, 1000)
    end_off_road: bool = rng()
    start: Union[str, float] = rng()
    direction: str = rng(choices=('forward', 'reverse', 'random'))


@dataclass(frozen=True)
class RewardConfig:
    centre_weight: float = rng(0.0, 1000.0)
    speed_weight: float = rng(0.0, 1000.0)
    zigzag_weight: float = rng(0.0, 1000.0)
    lost_penalty: float = rng(0.0, 1e6)


@dataclass(frozen=True)
class PidConfig:
    kp: float = rng(0.0, 100.0)
    ki: float = rng(0.0, 100.0)
    kd: float = rng(0.0, 100.0)
    row_weights: Tuple[float, ...] = rng(0.0, 1e6, min_len=1)
    max_speed: float = rng(0.0, 100.0)
    min_speed: float = rng(0.0, 100.0)
    max_turn: float = rng(0.0, 20.0)


@dataclass(frozen=True)
class RandomizationConfig:
    enabled: bool = rng()
    light: float = rng(0.0, 0.9)
    line_hue: float = rng(0.0, 10.0)
    line_width: float = rng(0.0, 0.9)
    noise_std: float = rng(0.0, 100.0)
    start_offset: float = rng(0.0, 5.0)
    start_heading: float = rng(0.0, 1.5)


@dataclass(frozen=True)
class TrainConfig:
    """DQN settings (used by `rl-f1 train`)."""
    steps: int = rng(1, 100_000_000)
    num_envs: int = rng(1, 64)
    collect_steps_per_iteration: int = rng(1, 10_000)
    initial_collect_steps: int = rng(0, 10_000_000)
    replay_capacity: int = rng(100, 10_000_000)
    batch_size: int = rng(1, 4096)
    learning_rate: float = rng(0.0, 1.0, lo_open=True)
    gamma: float = rng(0.0, 1.0)
    n_step: int = rng(1, 20)
    target_update_period: int = rng(1, 1_000_000)
    target_update_tau: float = rng(0.0, 1.0, lo_open=True)
    double_dqn: bool = rng()
    epsilon_start: float = rng(0.0, 1.0)
    epsilon_end: float = rng(0.0, 1.0)
    epsilon_decay_steps: int = rng(1, 100_000_000)
    fc_layers: Tuple[int, ...] = rng(1, 100_000)
    conv_layers: Tuple[Tuple[int, ...], ...] = rng()
    gradient_clip: float = rng(0.0, 1e6)
    eval_interval: int = rng(1, 100_000_000)
    eval_max_steps: int = rng(1, 10_000_000)
    stop_on_lap: bool = rng()
    min_steps: int = rng(0, 100_000_000)
    checkpoint_interval: int = rng(1, 100_000_000)
    checkpoint_replay_buffer: bool = rng()
    log_interval: int = rng(1, 100_000_000)


@dataclass(frozen=True)
class DistributedConfig:
    """Actors and learner over a replay service on Ray (`rl-f1 train --actors N`, `rl-f1
    learner`, `rl-f1 actor`)."""
    samples_per_insert: float = rng(0.0, 10_000.0)
    rate_error_buffer: float = rng(0.0, 1e9)
    push_period: int = rng(1, 1_000_000)
    pull_period: int = rng(1, 1_000_000)
    stats_period: int = rng(1, 1_000_000)
    learner_chunk: int = rng(1, 1_000_000)
    sample_timeout: float = rng(0.1, 3600.0)
    server_timeout: float = rng(0.1, 3600.0)
    actor_cpus: float = rng(0.0, 1024.0)
    dashboard: bool = rng()
    port: int = rng(0, 65535)


@dataclass(frozen=True)
class Config:
    seed: int = rng(0, 2**31 - 1)
    track: str = rng()
    camera: CameraConfig = rng()
    car: CarConfig = rng()
    perception: PerceptionConfig = rng()
    actions: Tuple[Tuple[float, float], ...] = rng(min_len=2)
    env: EnvConfig = rng()
    reward: RewardConfig = rng()
    pid: PidConfig = rng()
    randomization: RandomizationConfig = rng()
    train: TrainConfig = rng()
    distributed: DistributedConfig = rng()


SECTIONS = {'camera': CameraConfig, 'car': CarConfig, 'perception': PerceptionConfig,
            'env': EnvConfig, 'reward': RewardConfig, 'pid': PidConfig,
            'randomization': RandomizationConfig,
            'train': TrainConfig, 'distributed': DistributedConfig}
ActionList = List[Tuple[float, float]]
