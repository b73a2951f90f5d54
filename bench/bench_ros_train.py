#!/usr/bin/env python3
"""Time to the first lap when training through the ROS graph (sim_node in lock-step).

    make ros-wheels    # or a sourced ROS 2 (then --via launch works too)
    .venv/bin/python bench/bench_ros_train.py [--seeds 0 1 2] [--config FILE] [--timeout 900]
                                              [--via nodes|launch] [--no-inprocess] [--keep]

Each seed trains over DDS: --via nodes (the default; PyPI's ROS 2 wheels are enough) starts
sim_node (lockstep) and train_node as processes, as train.launch.py starts them
(rl_f1_driver.node_process); --via launch runs `ros2 launch rl_f1_driver train.launch.py
simulator:=embedded` (a sourced ROS 2 and a colcon workspace:
bash test/colcon_build.sh /tmp/ws .venv/bin/python && . /tmp/ws/install/setup.bash).
train_node has train.num_envs forced to 1. The run ends by itself: training stops at the
first lap driven both ways
(config/train.yaml with train.min_steps: 0, unless --config names another file, used as it
is). Then report.json of the run is read. For comparison the same config (same seed) trains
in-process on the embedded simulator with train.num_envs=1 (`rl-f1 train`; everything else
as configured, so collect_steps_per_iteration is the same as train_node's), unless
--no-inprocess.

Prints one JSON object on stdout (with the ROS 2 distribution, rclpy version and the load
average); progress goes to stderr. Everything started runs in its own process group on its
own ROS_DOMAIN_ID (kept if set, else one in 80-89), DDS on loopback only
(config/dds/), and is stopped on exit, Ctrl-C, SIGTERM and --timeout (SIGINT first, as
Ctrl-C on `ros2 launch`, then SIGKILL).
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from rl_f1_driver.benchmarks import cpu_model

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = 'rl_f1_driver'
GOAL_FIRST_LAP_S = 60.0
STOP_GRACE_S = 60.0    # after SIGINT: train_node saves its checkpoint and exports the policy
POLL_S = 2.0           # how often progress is read from a run's log while waiting for it
PROGRESS = re.compile(r'collecting|training |step +[\d,]+/|eval @|done \(|Traceback|Error|'
                      r'error:|was required|exited|process has died')
REPORT_KEYS = ('time_to_first_lap_s', 'env_steps_to_first_lap', 'loop_steps_per_s',
               'loop_gradient_steps_per_s', 'steps_per_s', 'gradient_steps_per_s',
               'env_steps', 'gradient_steps', 'train_wall_s', 'stopped')

_running: List[subprocess.Popen] = []   # started and not yet reaped: stopped on the way out


def progress(text: str) -> None:
    print(f'bench_ros_train: {text}', file=sys.stderr, flush=True)


def load_average() -> Optional[List[float]]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop(proc: subprocess.Popen, grace: float = STOP_GRACE_S) -> List[str]:
    """SIGINT the process (what Ctrl-C sends `ros2 launch`), SIGKILL its group if it or any
    child is still there after `grace` s. Returns what had to be done beyond SIGINT."""
    notes = []
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            notes.append(f'still running {grace:.0f} s after SIGINT: SIGKILL')
    # The group is ours (start_new_session): nodes left behind by the launch die with it.
    if _group_alive(proc.pid):
        if proc.poll() is not None:
            notes.append('processes left in its group after it ended: SIGKILL')
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        notes.append('did not end after SIGKILL')
    if proc in _running:
        _running.remove(proc)
    return notes


def run_to_end(label: str, cmd: List[str], env: Dict[str, str], log: Path,
               timeout: float) -> Dict[str, Any]:
    """Run `cmd` (own session, output to `log`) until it ends by itself or `timeout` s; then
    stop it. Progress lines of its output go to stderr while it runs."""
    progress(f'{label}: {" ".join(cmd)}')
    with open(log, 'wb') as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    _running.append(proc)
    seen = 0
    timed_out = False
    try:
        end = t0 + timeout
        while True:
            try:
                proc.wait(min(POLL_S, max(0.0, end - time.perf_counter())))
                break
            except subprocess.TimeoutExpired:
                pass
            finally:
                seen = _echo_progress(label, log, seen)
            if time.perf_counter() >= end:
                timed_out = True
                progress(f'{label}: no end after {timeout:.0f} s: stopping it')
                break
    finally:
        wall = time.perf_counter() - t0
        notes = stop(proc)
        _echo_progress(label, log, seen)
    for note in notes:
        progress(f'{label}: {note}')
    return {'rc': proc.returncode, 'wall_s': round(wall, 2), 'timed_out': timed_out,
            'stop_notes': notes}


def _echo_progress(label: str, log: Path, seen: int) -> int:
    try:
        with open(log, 'rb') as f:
            f.seek(seen)
            data = f.read()
    except OSError:
        return seen
    cut = data.rfind(b'\n') + 1          # whole lines only; the rest next time
    for line in data[:cut].decode(errors='replace').splitlines():
        if PROGRESS.search(line):
            progress(f'{label}: {line.strip()[:200]}')
    return seen + cut


def log_tail(log: Path, n: int = 2500) -> str:
    try:
        return log.read_text(errors='replace')[-n:]
    except OSError:
        return ''


def read_report(run_dir: Path) -> Optional[Dict[str, Any]]:
    try:
        return json.loads((run_dir / 'report.json').read_text())
    except (OSError, ValueError):
        return None


def result_of(run: Dict[str, Any], run_dir: Path, log: Path) -> Dict[str, Any]:
    report = read_report(run_dir)
    out: Dict[str, Any] = {k: (report or {}).get(k) for k in REPORT_KEYS}
    out.update(wall_s=run['wall_s'], rc=run['rc'], timed_out=run['timed_out'])
    if run['stop_notes']:
        out['stop_notes'] = run['stop_notes']
    if report is None or run['rc'] != 0 or run['timed_out']:
        out['error'] = ('no report.json' if report is None else
                        'timed out' if run['timed_out'] else f'exit code {run["rc"]}')
        out['log_tail'] = log_tail(log)
    return out


def seed_config(base: Dict[str, Any], seed: int, path: Path) -> str:
    """Write `base` with `seed` to `path`; return the circuit it trains on."""
    import yaml

    from rl_f1_driver.config import load_config
    data = dict(base, seed=seed)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(load_config(path).track)   # a bad config fails here, before anything starts


def node_cmd(folder: Path, node: str, values: Dict[str, Any]) -> List[str]:
    """Node `node` as train.launch.py starts it, its parameters written into `folder`."""
    from rl_f1_driver.node_process import node_command, write_node_params
    return node_command(node, write_node_params(folder / f'{node}.params.yaml', node, values))


def start_sim_node(folder: Path, track: str, config: Path,
                   env: Dict[str, str]) -> subprocess.Popen:
    """sim_node in lock-step (train.launch.py's default), in its own session; stop() ends it."""
    cmd = node_cmd(folder, 'sim_node', {'track': track, 'config_file': config,
                                        'stepping': 'lockstep'})
    with open(folder / 'sim_node.log', 'wb') as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    _running.append(proc)
    return proc


def bench_seed(seed: int, base: Dict[str, Any], work: Path, args: argparse.Namespace,
               env: Dict[str, str], result: Dict[str, Any]) -> None:
    """Fill `result` (already in the output: an interrupted seed shows how far it got)."""
    folder = work / f'seed{seed}'
    folder.mkdir()
    config = folder / 'config.yaml'
    track = seed_config(base, seed, config)
    ros_dir = folder / 'ros_run'
    if args.via == 'launch':
        log = folder / 'ros2_launch.log'
        # circuit:= as in the config: the launch passes `circuit` to train_node as its track.
        cmd = ['ros2', 'launch', PACKAGE, 'train.launch.py', 'simulator:=embedded',
               f'circuit:={track}', f'config:={config}', f'run_dir:={ros_dir}']
        run = run_to_end(f'seed {seed} ros2 launch', cmd, env, log, args.timeout)
    else:
        log = folder / 'train_node.log'
        sim = start_sim_node(folder, track, config, env)
        try:
            cmd = node_cmd(folder, 'train_node', {
                'track': track, 'config_file': config, 'run_dir': ros_dir,
                'use_sim_time': True})
            run = run_to_end(f'seed {seed} train_node', cmd, env, log, args.timeout)
        finally:
            notes = stop(sim)
        if notes:
            run['stop_notes'] = run['stop_notes'] + [f'sim_node: {n}' for n in notes]
    result.update(seed=seed, track=track)
    ros = result_of(run, ros_dir, log)
    result.update({k: ros[k] for k in REPORT_KEYS})
    result['launch_wall_s'] = ros['wall_s']
    result.update({k: ros[k] for k in ('rc', 'timed_out', 'stop_notes', 'error', 'log_tail')
                   if k in ros})
    first = result['time_to_first_lap_s']
    result['goal_met'] = first is not None and first <= GOAL_FIRST_LAP_S
    if args.keep:
        result['run_dir'] = str(ros_dir)
    if not args.no_inprocess:
        in_dir = folder / 'inprocess_run'
        in_log = folder / 'inprocess.log'
        cmd = [sys.executable, '-m', PACKAGE, 'train', '--config', str(config),
               '--out', str(in_dir), '--set', 'train.num_envs=1']
        run = run_to_end(f'seed {seed} in-process', cmd, env, in_log, args.timeout)
        inproc = result_of(run, in_dir, in_log)
        inproc['command'] = ' '.join(['rl-f1', *cmd[3:]])
        if args.keep:
            inproc['run_dir'] = str(in_dir)
        result['inprocess'] = inproc
    result['complete'] = True


def _median(runs: List[Dict[str, Any]], key: str) -> Optional[float]:
    values = [r[key] for r in runs if r.get(key) is not None]
    return round(statistics.median(values), 2) if values else None


def _on_sigterm(*_: Any) -> None:
    raise SystemExit(143)   # unwinds like Ctrl-C: the finally blocks stop what runs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--config', help='training config YAML, used as it is (default: '
                                     'config/train.yaml with train.min_steps: 0)')
    ap.add_argument('--seeds', type=int, nargs='+', default=[0])
    ap.add_argument('--timeout', type=float, default=900.0,
                    help='s each training run may take, TensorFlow start-up included')
    ap.add_argument('--no-inprocess', action='store_true',
                    help='skip the in-process comparison on the embedded simulator')
    ap.add_argument('--via', choices=('nodes', 'launch'), default='nodes',
                    help='nodes: sim_node and train_node as processes (PyPI wheels are '
                         'enough); launch: ros2 launch (a sourced ROS 2 and workspace)')
    ap.add_argument('--keep', action='store_true',
                    help='keep the temporary folder with run directories and logs')
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, _on_sigterm)

    import yaml

    from rl_f1_driver import ros_install
    from rl_f1_driver.dds import loopback_environ
    ros = ros_install.describe()
    if ros['source'] is None:
        sys.exit('bench_ros_train: no ROS 2 for this Python: `make ros-wheels` installs it '
                 'into .venv, or source a ROS 2 install')
    prefix = None
    if args.via == 'launch':
        if shutil.which('ros2') is None:
            sys.exit('bench_ros_train: --via launch needs `ros2` on PATH: source ROS 2 '
                     'Humble and the workspace (PyPI wheels have no launch: --via nodes)')
        try:
            from ament_index_python.packages import get_package_prefix
            prefix = get_package_prefix(PACKAGE)
        except Exception as exc:  # noqa: BLE001 - not installed, or ament_index missing
            sys.exit(f'bench_ros_train: {PACKAGE} is not installed in a sourced colcon '
                     f'workspace ({exc}): bash test/colcon_build.sh WS .venv/bin/python && '
                     '. WS/install/setup.bash')
    if args.config:
        config_name = args.config
        base = yaml.safe_load(Path(args.config).read_text()) or {}
    else:
        config_name = 'config/train.yaml + train.min_steps: 0'
        base = yaml.safe_load((ROOT / 'config' / 'train.yaml').read_text())
        base['train'] = dict(base.get('train') or {}, min_steps=0)
    domain = os.environ.get('ROS_DOMAIN_ID') or str(80 + os.getpid() % 10)
    env = dict(loopback_environ(int(domain)), PYTHONUNBUFFERED='1',
               RCUTILS_COLORIZED_OUTPUT='0', TF_CPP_MIN_LOG_LEVEL='2')

    info: Dict[str, Any] = {
        'bench': 'ros_train', 'config': config_name,
        'via': ('ros2 launch rl_f1_driver train.launch.py simulator:=embedded (stepping: '
                'the launch default, lockstep)' if args.via == 'launch' else
                'sim_node (lockstep) and train_node as processes, parameters as '
                'train.launch.py passes them'),
        'install_prefix': prefix, 'ros': ros, 'dds': 'loopback only (config/dds/)',
        'cpu': cpu_model(), 'cores': os.cpu_count(),
        'cores_usable': len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity')
        else os.cpu_count(),
        'ros_domain_id': int(domain), 'load_average_start': load_average(),
        'goal': f'time_to_first_lap_s <= {GOAL_FIRST_LAP_S:.0f}',
    }
    work = Path(tempfile.mkdtemp(prefix='bench_ros_train.'))
    progress(f'ROS_DOMAIN_ID {domain}, work folder {work}')
    from rl_f1_driver.errors import UserError
    try:
        seed_config(base, args.seeds[0], work / 'check.yaml')
    except UserError as exc:   # a bad config: say so before anything starts
        shutil.rmtree(work, ignore_errors=True)
        sys.exit(f'bench_ros_train: {exc}')
    runs: List[Dict[str, Any]] = []
    interrupted = None
    try:
        for seed in args.seeds:
            runs.append({'seed': seed, 'goal_met': False})
            bench_seed(seed, base, work, args, env, runs[-1])
    except (KeyboardInterrupt, SystemExit) as exc:
        interrupted = 'SIGINT' if isinstance(exc, KeyboardInterrupt) else 'SIGTERM'
        progress(f'{interrupted}: stopping')
        if runs and not runs[-1].get('complete'):
            runs[-1]['error'] = f'interrupted ({interrupted})'
    finally:
        for proc in list(_running):
            stop(proc)
        if args.keep:
            progress(f'kept {work}')
        else:
            shutil.rmtree(work, ignore_errors=True)
    info['load_average_end'] = load_average()
    info['runs'] = runs
    if interrupted:
        info['interrupted'] = interrupted
    info['summary'] = {
        'seeds': [r['seed'] for r in runs],
        'median_time_to_first_lap_s': _median(runs, 'time_to_first_lap_s'),
        'median_launch_wall_s': _median(runs, 'launch_wall_s'),
        'median_loop_steps_per_s': _median(runs, 'loop_steps_per_s'),
        'goal_met': bool(runs) and all(r['goal_met'] for r in runs),
    }
    if not args.no_inprocess:
        inproc = [r['inprocess'] for r in runs if 'inprocess' in r]
        info['summary']['inprocess_median_time_to_first_lap_s'] = _median(
            inproc, 'time_to_first_lap_s')
        info['summary']['inprocess_median_loop_steps_per_s'] = _median(
            inproc, 'loop_steps_per_s')
    print(json.dumps(info), flush=True)
    failed = interrupted or any('error' in r or 'error' in r.get('inprocess', {})
                                for r in runs)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
