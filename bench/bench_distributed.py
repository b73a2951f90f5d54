#!/usr/bin/env python3
"""Distributed training on Ray against the in-process trainer, side by side in one run: the
in-process trainer, the learner with 1, 2 and 4 Ray actors on a local Ray, and 4 actors on a
two-node Ray cluster on this machine (a head and a worker, two `ray start` processes).

    .venv/bin/python bench/bench_distributed.py [--steps 30000] [--actors 1 2 4]
        [--cluster-actors 4] [--samples-per-insert 16]

Each run is a whole `rl-f1 train` command on config/train.yaml that stops at the first lap
both ways (train.min_steps 0; start-up, replay warm-up and evaluations included in the
command's wall time). One JSON line each: time to first lap, the learning loop's env and
gradient steps per second (report.json's loop_*), and for actors the replay's insert and
sample rates, the policy lag and where each actor ran. The first line names the CPU, the
Python and the stack.
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(steps: int, actors: int, spi: float, out: Path, ray_address: str = '') -> dict:
    cmd = [sys.executable, '-m', 'rl_f1_driver.cli', 'train', '--config',
           str(ROOT / 'config' / 'train.yaml'), '--out', str(out), '--steps', str(steps),
           '--set', 'train.min_steps=0', '--set', f'distributed.samples_per_insert={spi}']
    if actors:
        cmd += ['--actors', str(actors)]
    if ray_address:
        cmd += ['--ray-address', ray_address]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2'))
    wall = time.perf_counter() - t0
    mode = ('in-process' if not actors else
            'two-node cluster' if ray_address else 'local Ray')
    if proc.returncode != 0:
        return {'actors': actors, 'mode': mode, 'error': (proc.stderr or proc.stdout)[-800:]}
    r = json.loads((out / 'report.json').read_text())
    row = {'bench': 'distributed', 'mode': mode, 'actors': actors,
           'time_to_first_lap_s': r['time_to_first_lap_s'],
           'env_steps': r['env_steps'], 'gradient_steps': r['gradient_steps'],
           'command_wall_s': round(wall, 1), 'train_wall_s': r['train_wall_s'],
           'loop_steps_per_s': r['loop_steps_per_s'],
           'loop_gradient_steps_per_s': r['loop_gradient_steps_per_s'],
           'stopped': r['stopped']}
    d = r.get('distributed')
    if d:
        row.update(samples_per_insert=d['samples_per_insert'],
                   replay_inserts_per_s=d.get('replay_inserts_per_s'),
                   replay_samples_per_s=d.get('replay_samples_per_s'),
                   policy_lag=d['policy_lag_mean_gradient_steps'],
                   per_actor_env_steps={k: v['env_steps'] for k, v in d['actors'].items()},
                   ray_nodes_used=len(_actor_nodes(out)))
    return row


def _actor_nodes(out: Path) -> set:
    """The Ray nodes the actors ran on (their logs' first line)."""
    import re
    nodes = set()
    for log in (out / 'distributed').glob('actor-*.log'):
        nodes |= set(re.findall(r'on Ray node (\w+)', log.read_text(errors='replace')))
    return nodes


def _wait_listening(host: str, port: int, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)   # a benchmark's poll of a port
    raise SystemExit(f'no Ray head on {host}:{port} after {timeout:.0f} s')


def two_node_cluster(folder: Path, cpus_per_node: int):
    """A head and a worker node on this machine (Ray's cluster mode: the machine's address);
    (address, stop)."""
    import ray._private.services as services

    from rl_f1_driver.learn.distributed.ray_cluster import free_port, node_command
    port = free_port()
    argv, env = node_command(folder, head_port=port, num_cpus=cpus_per_node, loopback=False)
    head = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    host = services.get_node_ip_address()
    _wait_listening(host, port, 120)
    address = f'{host}:{port}'
    argv, env = node_command(folder, head_address=address, num_cpus=cpus_per_node,
                             loopback=False)
    worker = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)

    def stop() -> None:
        for proc in (worker, head):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in (worker, head):
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    return address, stop


def main() -> None:
    from rl_f1_driver.benchmarks import cpu_model
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--steps', type=int, default=30000, help='most env steps per run')
    ap.add_argument('--actors', type=int, nargs='*', default=[1, 2, 4])
    ap.add_argument('--cluster-actors', type=int, default=4,
                    help='actors on the two-node cluster (0: no cluster run)')
    ap.add_argument('--samples-per-insert', type=float, default=16.0,
                    help='distributed.samples_per_insert (0: no rate limit)')
    args = ap.parse_args()
    import numpy
    import ray
    import tensorflow as tf
    print(json.dumps({'cpu': cpu_model(), 'cores': os.cpu_count(),
                      'python': sys.version.split()[0], 'tensorflow': tf.__version__,
                      'numpy': numpy.__version__, 'ray': ray.__version__}), flush=True)
    with tempfile.TemporaryDirectory(dir=ROOT / 'runs' if (ROOT / 'runs').is_dir() else None) \
            as tmp:
        for n in [0, *args.actors]:
            print(json.dumps(run(args.steps, n, args.samples_per_insert,
                                 Path(tmp) / f'a{n}')), flush=True)
        if args.cluster_actors:
            address, stop = two_node_cluster(Path(tmp) / 'cluster', max(1, os.cpu_count()))
            try:
                print(json.dumps(run(args.steps, args.cluster_actors, args.samples_per_insert,
                                     Path(tmp) / 'cluster-run', ray_address=address)),
                      flush=True)
            finally:
                stop()


if __name__ == '__main__':
    main()
