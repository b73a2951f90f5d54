#!/usr/bin/env python3
"""Time to the first full lap from a cold start, over seeds, and how the policies generalise.

    .venv/bin/python bench/bench_train.py [--config config/train.yaml] [--seeds 0 1 2]

Each seed trains in a fresh `rl-f1 train` process (cold start: TensorFlow tracing included).
Each exported policy then drives one lap of every built-in circuit and of the circuits in
bench/circuits/ (never trained on), in each of --directions, as does the PID baseline. Prints
one JSON line per run and per drive, a summary line, and writes Markdown tables (one per
direction) to --table.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def rl_f1(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
    return subprocess.run([sys.executable, '-m', 'rl_f1_driver', *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True)


def drive(track: str, policy: str = '', direction: str = 'forward') -> dict:
    with tempfile.NamedTemporaryFile(suffix='.json') as f:
        args = ['drive', '--track', track, '--report', f.name, '--direction', direction,
                '--no-baseline']
        args += ['--policy', policy] if policy else ['--controller', 'pid']
        rl_f1(*args)
        return json.loads(Path(f.name).read_text())


def cell(r: dict) -> str:
    """Lap completion, lap time, mean |deviation| from the line."""
    dev = f"{r['mean_abs_deviation_m']:.2f} m"
    if r['laps_completed']:
        return f"100%, {r['lap_time_s']:.1f} s, {dev}"
    return f"{100 * r['completion']:.0f}% ({r['end_reason']}), {dev}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--config', default='config/train.yaml')
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    ap.add_argument('--out', default='runs/bench', help='run directories go here')
    ap.add_argument('--table', default='runs/bench/table.md')
    ap.add_argument('--directions', nargs='+', choices=['forward', 'reverse'],
                    default=['forward', 'reverse'])
    args = ap.parse_args()
    from rl_f1_driver.track import builtin_names
    tracks = builtin_names() + sorted(str(p.relative_to(ROOT))
                                      for p in (HERE / 'circuits').glob('*.yaml'))
    rows = []
    for seed in args.seeds:
        out = Path(args.out) / f'seed{seed}'
        rl_f1('train', '--config', args.config, '--seed', str(seed), '--out', str(out),
              '--allow-config-change')
        report = json.loads((out / 'report.json').read_text())
        keys = ('seed', 'observation', 'time_to_first_lap_s', 'env_steps_to_first_lap',
                'train_wall_s', 'env_steps', 'gradient_steps', 'steps_per_s',
                'gradient_steps_per_s', 'loop_steps_per_s', 'loop_gradient_steps_per_s',
                'stopped')
        print(json.dumps({'bench': 'train', **{k: report[k] for k in keys}}), flush=True)
        drives = {(t, d): drive(t, str(out / 'policy'), d)
                  for t in tracks for d in args.directions}
        for (t, d), r in drives.items():
            print(json.dumps({'bench': 'generalise', 'seed': seed, 'track': t, 'direction': d,
                              **{k: r[k] for k in ('completion', 'laps_completed',
                                                   'lap_time_s', 'mean_abs_deviation_m',
                                                   'max_abs_deviation_m', 'mean_speed_mps')}}),
                  flush=True)
        rows.append((f'DQN seed {seed}', report, drives))
    pid = {(t, d): drive(t, '', d) for t in tracks for d in args.directions}
    firsts = [r['time_to_first_lap_s'] for _, r, _ in rows if r['time_to_first_lap_s']]
    from rl_f1_driver.benchmarks import cpu_model
    lapped = [all(r['laps_completed'] for r in drives.values()) for _, _, drives in rows]
    summary = {'bench': 'train_summary', 'cpu': cpu_model(), 'config': args.config,
               'seeds': args.seeds, 'laps_driven': len(firsts),
               'policies_lapping_every_circuit_and_direction': sum(lapped),
               'time_to_first_lap_s': firsts,
               'median_time_to_first_lap_s': statistics.median(firsts) if firsts else None,
               'max_time_to_first_lap_s': max(firsts) if firsts else None}
    print(json.dumps(summary), flush=True)
    names = [Path(t).stem + ('' if '/' not in t else ' (unseen)') for t in tracks]
    lines = ['Each cell: lap completed, lap time, mean |deviation| from the line.']
    for d in args.directions:
        lines += ['', f'{d}:', '',
                  '| controller | first lap (s) | ' + ' | '.join(names) + ' |',
                  '|---|---|' + '---|' * len(tracks)]
        for label, report, drives in rows:
            first = report['time_to_first_lap_s']
            lines.append(f'| {label} | {first if first is not None else "-"} | '
                         + ' | '.join(cell(drives[t, d]) for t in tracks) + ' |')
        lines.append('| PID baseline | - | '
                     + ' | '.join(cell(pid[t, d]) for t in tracks) + ' |')
    Path(args.table).parent.mkdir(parents=True, exist_ok=True)
    Path(args.table).write_text('\n'.join(lines) + '\n')
    print('\n'.join(lines))


if __name__ == '__main__':
    main()
