"""Speed figures printed as JSON (the `rl-f1 bench` commands and bench/ scripts)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional

import numpy as np


def cpu_model() -> str:
    """The CPU's model name, printed with every figure (figures only compare on one CPU)."""
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or 'unknown'


def bench_env(observation: str = 'lines', steps: int = 20000, track: str = 'simple',
              seed: int = 0, config: Optional[str] = None) -> dict[str, Any]:
    """Environment steps per second with uniformly random actions, resets included."""
    from .env import make_env
    env = make_env(track=track, observation=observation, seed=seed, config=config)
    env.reset()
    actions = np.random.default_rng(seed).integers(
        0, env.action_spec().maximum + 1, steps).astype(np.int32)
    episodes = 0
    t0 = time.perf_counter()
    for a in actions:
        if env.step(a).is_last():
            episodes += 1
    wall = time.perf_counter() - t0
    return {'bench': 'env', 'cpu': cpu_model(), 'observation': observation, 'track': track,
            'steps': steps,
            'episodes': episodes, 'wall_s': round(wall, 3),
            'steps_per_s': round(steps / wall, 1)}


def bench_drive(controller, frames: int = 2000, warmup: int = 50, seed: int = 0
                ) -> dict[str, Any]:
    """Latency from a full camera frame (BGR, configured resolution) to a Twist.

    Frames are rendered beforehand along the circuit, so only perception + policy is timed.
    """
    from .sim.camera import full_view
    from .sim.embedded import EmbeddedSimulator
    from .sim.types import Pose2D
    from .track import load_circuit
    cfg = controller.config
    circuit = load_circuit(cfg.track)
    sim = EmbeddedSimulator(circuit, cfg.camera, cfg.car, seed=seed)
    sim.request_view(full_view(cfg.camera))
    rng = np.random.default_rng(seed)
    images = []
    for i in range(200):
        x, y, yaw = circuit.pose_at(i / 200)
        off = float(rng.uniform(-0.5, 0.5))
        images.append(sim.reset(Pose2D(x - off * np.sin(yaw), y + off * np.cos(yaw),
                                       yaw + float(rng.uniform(-0.1, 0.1)))).image)
    controller.reset()
    for i in range(warmup):
        controller.command(images[i % len(images)])
    times = np.empty(frames)
    for i in range(frames):
        img = images[i % len(images)]
        t = time.perf_counter()
        controller.command(img)
        times[i] = time.perf_counter() - t
    ms = times * 1e3
    h, w = images[0].shape[:2]
    return {'bench': 'drive', 'cpu': cpu_model(), 'controller': type(controller).__name__,
            'observation': cfg.env.observation, 'frame': f'{w}x{h}', 'frames': frames,
            'p50_ms': round(float(np.percentile(ms, 50)), 3),
            'p99_ms': round(float(np.percentile(ms, 99)), 3),
            'max_ms': round(float(ms.max()), 3), 'mean_ms': round(float(ms.mean()), 3)}
