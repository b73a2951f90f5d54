#!/usr/bin/env python3
"""Distributed training throughput: the learner with 1, 2 and 4 actor processes against the
in-process trainer, on the same config and number of env steps.

    .venv/bin/python bench/bench_distributed.py [--steps 20000] [--actors 1 2 4]
        [--samples-per-insert 16]

Each run is a whole `rl-f1 train` command (start-up, replay warm-up and evaluations
included, so `steps_per_s` is wall-clock throughput) with stop_on_lap off and a single
evaluation at the end; one JSON line each, with the learning-loop figures from report.json
(`loop_steps_per_s`, `loop_gradient_steps_per_s`), and for actors the replay server's
insert/sample rates and the policy lag. The first line names the CPU.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(steps: int, actors: int, spi: float, out: Path) -> dict:
    cmd = [sys.executable, '-m', 'rl_f1_driver.cli', 'train', '--config',
           str(ROOT / 'config' / 'train.yaml'), '--out', str(out), '--steps', str(steps),
           '--set', 'train.stop_on_lap=false', '--set', f'train.eval_interval={steps}',
           '--set', f'distributed.samples_per_insert={spi}']
    if actors:
        cmd += ['--actors', str(actors)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2'))
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {'actors': actors, 'error': (proc.stderr or proc.stdout)[-500:]}
    r = json.loads((out / 'report.json').read_text())
    row = {'bench': 'distributed', 'actors': actors, 'mode': 'actors' if actors else 'in-process',
           'env_steps': r['env_steps'], 'gradient_steps': r['gradient_steps'],
           'command_wall_s': round(wall, 1), 'train_wall_s': r['train_wall_s'],
           'steps_per_s': r['steps_per_s'], 'gradient_steps_per_s': r['gradient_steps_per_s'],
           'loop_steps_per_s': r['loop_steps_per_s'],
           'loop_gradient_steps_per_s': r['loop_gradient_steps_per_s'],
           'last_eval_completion': r['last_eval']['completion']}
    d = r.get('distributed')
    if d:
        row.update(samples_per_insert=d['samples_per_insert'],
                   replay_inserts_per_s=d.get('replay_inserts_per_s'),
                   replay_samples_per_s=d.get('replay_samples_per_s'),
                   policy_lag=d['policy_lag_mean_gradient_steps'],
                   per_actor_env_steps={k: v['env_steps'] for k, v in d['actors'].items()})
    return row


def main() -> None:
    from rl_f1_driver.benchmarks import cpu_model
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--steps', type=int, default=20000)
    ap.add_argument('--actors', type=int, nargs='+', default=[1, 2, 4])
    ap.add_argument('--samples-per-insert', type=float, default=16.0,
                    help='distributed.samples_per_insert (0: no rate limit)')
    args = ap.parse_args()
    print(json.dumps({'cpu': cpu_model(), 'cores': os.cpu_count()}), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for n in [0, *args.actors]:
            print(json.dumps(run(args.steps, n, args.samples_per_insert,
                                 Path(tmp) / f'a{n}')), flush=True)


if __name__ == '__main__':
    main()
