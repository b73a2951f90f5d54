"""`rl-f1`: train, drive, benchmark and generate worlds, with no ROS needed.

Errors in user input (config, circuit, policy dir) are printed as one line and exit code 2.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Optional, Sequence

from .cli_args import non_negative_int, port_number, positive_int, train_config
from .errors import UserError


def _cmd_bench(args: argparse.Namespace) -> int:
    from . import benchmarks
    if args.what == 'env':
        for obs in args.obs or ['lines']:
            print(json.dumps(benchmarks.bench_env(obs, args.steps, args.track, args.seed,
                                                  args.config)), flush=True)
        return 0
    if args.what == 'drive':
        from .drive.controller import load_controller
        controller = load_controller(args.policy, _drive_config(args),
                                     'pid' if args.controller == 'pid' else 'policy',
                                     runtime=args.runtime)
        print(json.dumps({**benchmarks.bench_drive(controller, frames=args.frames,
                                                   seed=args.seed),
                          'runtime': getattr(controller, 'runtime', None)}), flush=True)
        return 0
    raise UserError(f'unknown benchmark {args.what!r}')


def _drive_config(args: argparse.Namespace):
    """Config for driving: the policy's own (it defines observations), or defaults for PID."""
    from .config import load_config
    overrides = {'seed': args.seed}
    if getattr(args, 'track', None):
        overrides['track'] = args.track
    if getattr(args, 'randomize', False):
        overrides['randomization.enabled'] = True
    if args.controller == 'pid' or not args.policy:
        return load_config(*([args.config] if args.config else []), overrides=overrides)
    from pathlib import Path

    from .config import with_overrides
    from .drive.controller import policy_config
    return with_overrides(policy_config(Path(args.policy)), overrides, 'command line')


def _cmd_drive(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .drive.controller import load_controller
    from .drive.runner import drive
    from .learn.run_dir import write_json
    from .track import load_circuit
    cfg = _drive_config(args)
    circuit = load_circuit(cfg.track)
    kind = 'pid' if args.controller == 'pid' else 'policy'
    controller = load_controller(args.policy, cfg, kind, runtime=args.runtime)
    runtime = getattr(controller, 'runtime', None)
    from .record.setup import drive_recorder
    recorder = drive_recorder(args, cfg, circuit, controller)  # --record, --foxglove
    print(f'driving {args.laps} lap{"s" if args.laps > 1 else ""} of {circuit.name} '
          f'({circuit.length:.0f} m, {args.direction}) with the {kind} controller'
          + (f' from {args.policy} ({runtime} runtime)' if kind == 'policy' else ''),
          flush=True)
    try:
        result = drive(controller, circuit, laps=args.laps, seed=args.seed, config=cfg,
                       video=Path(args.video) if args.video else None,
                       max_steps=args.max_steps, progress=lambda s: print(s, flush=True),
                       direction=args.direction, recorder=recorder,
                       pace=1.0 if args.foxglove is not None else None)
    finally:
        if recorder is not None:
            recorder.close()
    path = result.pop('path')
    report = {'track': circuit.name, 'controller': kind, 'policy': args.policy,
              'runtime': runtime,
              'laps_requested': args.laps, 'seed': args.seed, **result}
    if kind == 'policy' and not args.no_baseline:
        # The classic controller on the same circuit, same start and laps: the yardstick.
        pid = drive(load_controller(None, cfg, 'pid'), circuit, laps=args.laps,
                    seed=args.seed, config=cfg, max_steps=args.max_steps,
                    direction=args.direction)
        report['pid_baseline'] = {k: pid[k] for k in (
            'laps_completed', 'completion', 'lap_time_s', 'mean_abs_deviation_m',
            'max_abs_deviation_m', 'mean_speed_mps', 'steps', 'end_reason')}
    lap = report['lap_time_s']
    print(f'{report["laps_completed"]} lap(s), {100 * report["completion"]:.0f}% of the first'
          + (f', lap time {lap:.2f} s' if lap else '')
          + f', |deviation| mean {report["mean_abs_deviation_m"]:.3f} m max '
          f'{report["max_abs_deviation_m"]:.3f} m, {report["mean_speed_mps"]:.2f} m/s, '
          f'{report["steps"]} steps ({report["end_reason"]})', flush=True)
    base = report.get('pid_baseline')
    if base:
        print(f'PID baseline: {100 * base["completion"]:.0f}% of the first lap'
              + (f', lap time {base["lap_time_s"]:.2f} s' if base['lap_time_s'] else '')
              + f', |deviation| mean {base["mean_abs_deviation_m"]:.3f} m max '
              f'{base["max_abs_deviation_m"]:.3f} m', flush=True)
    if args.report:
        write_json(Path(args.report), report)
        print(f'report: {args.report}')
    if args.plot:
        from .learn.plots import plot_trajectory
        plot_trajectory(circuit, path, Path(args.plot),
                        title=f'{circuit.name}: {kind}, {100 * report["completion"]:.0f}% '
                              'of a lap' + (f' in {lap:.1f} s' if lap else ''))
        print(f'trajectory: {args.plot}')
    if args.video:
        print(f'video: {args.video}')
    if args.record:
        print(f'recording: {args.record} (Foxglove; ros2 bag play -s mcap {args.record})')
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path
    cfg = train_config(args)
    out = Path(args.out) if args.out else Path('runs') / (
        f'{Path(cfg.track).stem}-{cfg.env.observation}-s{cfg.seed}-'
        + time.strftime('%Y%m%d-%H%M%S'))
    from .learn.trainer import train
    from .record.setup import train_monitor
    ray_address = None
    if args.ray_address:
        from .errors import UserError
        from .learn.distributed.replay import ray_address as checked_address
        if not args.actors:
            raise UserError('--ray-address is for training with actors: add --actors N')
        ray_address = checked_address(args.ray_address)
    monitor = train_monitor(args, cfg)
    try:
        if args.actors:
            from .learn.distributed.launcher import train_with_actors
            report = train_with_actors(cfg, out, args.actors, resume=args.resume,
                                       allow_config_change=args.allow_config_change,
                                       monitor=monitor, ray_address=ray_address,
                                       log=lambda s: print(s, flush=True))
        else:
            report = train(cfg, out, resume=args.resume,
                           allow_config_change=args.allow_config_change, monitor=monitor)
    finally:
        if monitor is not None:
            monitor.close()
    if monitor is not None and monitor.recorded:
        print(f'evaluation drives recorded: {len(monitor.recorded)} MCAP file(s) in '
              f'{args.record_evals}')
    return 130 if report['stopped'] == 'interrupted' else 0


def _cmd_circuits(args: argparse.Namespace) -> int:
    from .track import builtin_names, load_circuit
    for name in builtin_names():
        c = load_circuit(name)
        print(f'{name:16s} {c.length:7.1f} m  road {c.road_width:4.1f} m  line '
              f'{c.line_width:.2f} m  min radius {1.0 / max(1e-9, abs(c.curvature()).max()):5.1f}'
              f' m  {c.description}')
    return 0


def _add_live_arguments(p: argparse.ArgumentParser) -> None:
    from .record.topics import DEFAULT_PORT
    p.add_argument('--foxglove', nargs='?', const=DEFAULT_PORT, type=port_number, metavar='PORT',
                   help='serve the topics live to Foxglove over WebSocket on PORT '
                        f'(default {DEFAULT_PORT}; 0: any free port)'
                        + ('; the drive then runs in real time' if p.prog.endswith('drive')
                           else ''))
    p.add_argument('--compressed', action='store_true',
                   help='camera and overlay as JPEG sensor_msgs/CompressedImage '
                        '(<topic>/compressed) in recordings and the live view')


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog='rl-f1', description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest='command', required=True)

    d = sub.add_parser('drive', help='drive laps with a trained policy or the PID baseline')
    d.add_argument('--policy', help='exported policy directory (RUN/policy)')
    d.add_argument('--controller', choices=['policy', 'pid'], default='policy')
    d.add_argument('--config', help='config YAML for the PID controller')
    d.add_argument('--track', help='circuit to drive (default: the one it was trained on)')
    d.add_argument('--laps', type=positive_int, default=1)
    d.add_argument('--direction', choices=['forward', 'reverse'], default='forward',
                   help="forward: the circuit file's order; reverse: the same loop the "
                        'other way, from the same start')
    d.add_argument('--seed', type=int, default=0)
    d.add_argument('--randomize', action='store_true', help='enable domain randomisation')
    d.add_argument('--max-steps', type=positive_int, help='time limit in control steps')
    d.add_argument('--report', help='write the JSON report here')
    d.add_argument('--video', help='write the camera view with overlay (.mp4 or .avi)')
    d.add_argument('--plot', help='write the driven path over the circuit (.png)')
    d.add_argument('--record', metavar='FILE.mcap',
                   help='record the drive as ROS 2 messages into an MCAP file (Foxglove, '
                        'ros2 bag play -s mcap)')
    _add_live_arguments(d)
    d.add_argument('--runtime', choices=['auto', 'numpy', 'tensorflow'], default='auto',
                   help='policy runtime: numpy (q_network.npz, no TensorFlow), tensorflow '
                        '(the SavedModel); auto: numpy when the policy has q_network.npz')
    d.add_argument('--no-baseline', action='store_true',
                   help='skip the PID baseline drive added to the report for comparison')
    d.set_defaults(func=_cmd_drive)

    b = sub.add_parser('bench', help='print speed figures as JSON')
    b.add_argument('what', choices=['env', 'drive'],
                   help='env: environment steps/s; drive: frame-to-Twist latency')
    b.add_argument('--policy', help='bench drive: exported policy directory')
    b.add_argument('--controller', choices=['policy', 'pid'], default='policy')
    b.add_argument('--runtime', choices=['auto', 'numpy', 'tensorflow'], default='auto',
                   help='bench drive: policy runtime (see rl-f1 drive --help)')
    b.add_argument('--frames', type=positive_int, default=2000,
                   help='bench drive: frames to time')
    b.add_argument('--obs', choices=['lines', 'image'], action='append',
                   help='observation mode (repeat for both; default lines)')
    b.add_argument('--steps', type=positive_int, default=20000)
    b.add_argument('--track', default='simple')
    b.add_argument('--seed', type=int, default=0)
    b.add_argument('--config', help='config YAML layered over config/defaults.yaml')
    b.set_defaults(func=_cmd_bench)

    t = sub.add_parser('train', help='train a DQN driver (embedded simulator)')
    t.add_argument('--config', default=None,
                   help='YAML layered over config/defaults.yaml (e.g. config/train.yaml)')
    t.add_argument('--out', help='run directory (default: runs/TRACK-OBS-sSEED-TIME)')
    t.add_argument('--track', help='built-in circuit name or circuit YAML path')
    t.add_argument('--observation', choices=['lines', 'image'])
    t.add_argument('--steps', type=positive_int, help='environment steps (train.steps)')
    t.add_argument('--seed', type=int)
    t.add_argument('--set', action='append', metavar='KEY=VALUE',
                   help='override any config key, e.g. --set train.gamma=0.9 (repeatable)')
    t.add_argument('--resume', action='store_true',
                   help='continue the run in --out from its last checkpoint')
    t.add_argument('--allow-config-change', action='store_true',
                   help='reuse a run directory made with a different config')
    t.add_argument('--actors', type=non_negative_int, default=0, metavar='N',
                   help='N > 0: the learner here, a replay service and N actors (each with '
                        'its own simulator) on Ray (see docs/scale-out.md); 0: everything in '
                        'this process')
    t.add_argument('--ray-address', metavar='HOST:PORT',
                   help='with --actors: run the replay and the actors on the Ray cluster '
                        'whose head is there (`ray start --head`; this machine joined with '
                        '`ray start --address`), or auto; default: a local Ray on loopback, '
                        'its session folder in RUN/distributed/ray')
    t.add_argument('--record-evals', metavar='DIR',
                   help='record every evaluation drive into DIR, one MCAP file each')
    _add_live_arguments(t)
    t.set_defaults(func=_cmd_train)

    c = sub.add_parser('circuits', help='list the built-in circuits')
    c.set_defaults(func=_cmd_circuits)

    from .gazebo.cli import register as register_worlds
    register_worlds(sub)  # rl-f1 worlds: Gazebo worlds generated from the circuit files
    from .learn.distributed.cli import register as register_distributed
    register_distributed(sub)  # rl-f1 replay-server / learner / actor
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    from .quiet import quiet_tensorflow
    quiet_tensorflow()
    parser = build_parser()
    args = parser.parse_args(argv)
    # TensorFlow only where it is used: the PID driver and the numpy policy runtime run
    # without it (seconds of start-up and over 400 MB of memory saved).
    from .drive.numpy_policy import policy_runtime
    needs_tf = (args.command in ('train', 'learner', 'actor', 'replay-server')
                or (args.command == 'bench' and args.what == 'env')
                or (args.command in ('drive', 'bench') and args.controller != 'pid'
                    and policy_runtime(args.policy, args.runtime) == 'tensorflow'))
    try:
        if needs_tf:
            from .quiet import import_tf_agents_quietly
            import_tf_agents_quietly()   # a TensorFlow without Keras 2: one line (UserError)
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f'rl-f1: error: {exc}', file=sys.stderr)
        # A lost replay server is not bad input: the same code as the watchdog's exit.
        return 3 if type(exc).__name__ == 'ReplayServerLost' else 2
    except KeyboardInterrupt:
        print('rl-f1: interrupted', file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())
