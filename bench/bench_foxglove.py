#!/usr/bin/env python3
"""What the live view costs training: env steps/s of `rl-f1 train` with and without --foxglove.

    .venv/bin/python bench/bench_foxglove.py [--repeats 4] [--steps 6000]

Each run is a fresh `rl-f1 train` process on the default config (evaluations and checkpoints
pushed past the end, so the learning loop dominates); the figure is the report's
`loop_steps_per_s` (collection + gradient steps, no start-up or evaluation). Runs alternate
plain / --foxglove (A/B, so a busy shared machine hits both alike); with --foxglove a
WebSocket client here subscribes to every channel the trainer advertises and reads all it
gets, as Foxglove showing the shipped layout would. Prints one JSON line per run and a summary
line with the median overhead.

The learning loop's throughput varies a lot from run to run on a busy machine, so the script
also measures the cost at its source, in one process (--micro-blocks, 0 to skip): blocks of
environment steps (random actions, same seed) on a plain environment and on one watched by the
live view with a subscribed client, alternated; the median microseconds per step of each.
"""
import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Viewer(threading.Thread):
    """Subscribes to every channel of ws://127.0.0.1:port and drains it until it closes."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.port = port
        self.messages = 0
        self.bytes = 0
        self.channels = 0

    def run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        import websockets
        deadline = time.monotonic() + 120.0
        while True:   # the server starts once TensorFlow has loaded
            try:
                ws = await websockets.connect(f'ws://127.0.0.1:{self.port}', max_size=None,
                                              subprotocols=['foxglove.sdk.v1',
                                                            'foxglove.websocket.v1'])
                break
            except OSError:
                if time.monotonic() > deadline:
                    return
                await asyncio.sleep(0.2)
        subscribed = set()
        try:
            async for msg in ws:
                if isinstance(msg, str):
                    data = json.loads(msg)
                    if data.get('op') == 'advertise':
                        new = [c['id'] for c in data['channels'] if c['id'] not in subscribed]
                        subscribed.update(new)
                        self.channels = len(subscribed)
                        await ws.send(json.dumps({'op': 'subscribe', 'subscriptions': [
                            {'id': cid, 'channelId': cid} for cid in new]}))
                else:
                    self.messages += 1
                    self.bytes += len(msg)
        except websockets.ConnectionClosed:
            pass


def run(steps: int, live: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        args = [sys.executable, '-m', 'rl_f1_driver', 'train', '--out', f'{tmp}/run',
                '--steps', str(steps), '--set', 'train.eval_interval=100000000',
                '--set', 'train.checkpoint_interval=100000000', '--set',
                'train.stop_on_lap=false']
        viewer = None
        if live:
            port = free_port()
            args += ['--foxglove', str(port)]
            viewer = Viewer(port)
            viewer.start()
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
        subprocess.run(args, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
        report = json.loads(Path(f'{tmp}/run/report.json').read_text())
        if viewer is not None:
            viewer.join(timeout=30.0)
        out = {'foxglove': live, 'loop_steps_per_s': report['loop_steps_per_s'],
               'steps_per_s': report['steps_per_s'], 'env_steps': report['env_steps']}
        if viewer is not None:
            out.update(viewer_channels=viewer.channels, viewer_messages=viewer.messages,
                       viewer_mb=round(viewer.bytes / 1e6, 1))
        return out


def micro(blocks: int, steps: int) -> dict:
    import numpy as np

    from rl_f1_driver.config import load_config
    from rl_f1_driver.learn.trainer import default_env_factory
    from rl_f1_driver.record.foxglove_sink import FoxgloveSink
    from rl_f1_driver.record.messages import Messages
    from rl_f1_driver.record.monitor import TrainMonitor
    cfg = load_config()
    sink = FoxgloveSink(Messages(), port=free_port())
    monitor = TrainMonitor(cfg, live=sink, messages=sink._messages)
    plain = default_env_factory(cfg, 0)
    watched = monitor.wrap_env_factory(default_env_factory)(cfg, 0)
    viewer = Viewer(sink.port)
    viewer.start()
    deadline = time.monotonic() + 30.0
    while not all(c.has_sinks() for c in sink._channels.values()):
        if time.monotonic() > deadline:
            raise SystemExit('the viewer did not subscribe')
        time.sleep(0.05)
    times = {'plain': [], 'watched': []}
    rngs = {name: np.random.default_rng(0) for name in times}
    envs = {'plain': plain, 'watched': watched}
    for env in envs.values():
        env.reset()
    for i in range(blocks):
        for name in (('plain', 'watched') if i % 2 == 0 else ('watched', 'plain')):
            env, rng = envs[name], rngs[name]
            n_actions = len(env.actions)
            t = time.perf_counter()
            for _ in range(steps):
                env.step(int(rng.integers(n_actions)))
            times[name].append((time.perf_counter() - t) / steps * 1e6)
    monitor.close()
    viewer.join(timeout=10.0)
    p, w = statistics.median(times['plain']), statistics.median(times['watched'])
    return {'micro': 'env step (us), plain vs watched by a subscribed live view',
            'blocks': blocks, 'steps_per_block': steps, 'median_plain_us': round(p, 1),
            'median_watched_us': round(w, 1), 'added_us_per_step': round(w - p, 1),
            'viewer_messages': viewer.messages, 'viewer_mb': round(viewer.bytes / 1e6, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--repeats', type=int, default=4)
    ap.add_argument('--steps', type=int, default=6000)
    ap.add_argument('--micro-blocks', type=int, default=20)
    ap.add_argument('--micro-steps', type=int, default=2000)
    args = ap.parse_args()
    if args.micro_blocks:
        print(json.dumps(micro(args.micro_blocks, args.micro_steps)), flush=True)
    plain, live, pairs = [], [], []
    for i in range(args.repeats):
        order = (False, True) if i % 2 == 0 else (True, False)
        got = {}
        for flag in order:
            r = run(args.steps, flag)
            print(json.dumps(r), flush=True)
            got[flag] = r['loop_steps_per_s']
        plain.append(got[False])
        live.append(got[True])
        pairs.append(1.0 - got[True] / got[False])
    if not pairs:
        return
    print(json.dumps({
        'summary': 'training loop env steps/s, plain vs --foxglove with a subscribed client',
        'repeats': args.repeats, 'steps': args.steps,
        'median_plain': statistics.median(plain), 'median_foxglove': statistics.median(live),
        'median_overhead_pct': round(100 * statistics.median(pairs), 1),
        'overhead_of_medians_pct': round(
            100 * (1 - statistics.median(live) / statistics.median(plain)), 1)}), flush=True)


if __name__ == '__main__':
    main()
