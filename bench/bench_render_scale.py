#!/usr/bin/env python3
"""How the embedded renderer scales with the circuit: map build time, bytes held, env steps/s.

    .venv/bin/python bench/bench_render_scale.py [--steps 20000] [--repeats 3]

For `simple`, the real-size `montmelo_like` and synthetic rounded-rectangle circuits of 5, 12
and 20 km (written as circuit YAML into a temporary folder), prints one JSON line each:
TrackMap build time and bytes, env steps/s for `lines` and `image` (the median of
10 x --repeats blocks of --steps/10 random-action steps, alternating between the circuits) and
the ratio to `simple`; then the peak RSS of a whole
`rl-f1 drive --controller pid --track <5 km file>` process (with --policy DIR: that policy,
on --runtime auto|numpy|tensorflow, instead of the PID). The first line names the CPU.
Goals: a 5 km map in <= 3 s, that drive in <= 500 MB, 5 km steps/s within 10% of `simple`.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

# name: (width, height) of the rounded rectangle, m
SYNTHETIC = {'rect_5km': (2000, 500), 'square_12km': (3000, 3000), 'rect_20km': (9000, 1000)}


def drive_peak_rss_mb(track: Path, policy: Optional[str] = None, runtime: str = 'auto'
                      ) -> dict:
    """Peak RSS of a whole `rl-f1 drive` process (one lap), from wait4: the PID controller,
    or `policy` on `runtime`."""
    exe = Path(sys.executable).parent / 'rl-f1'
    cmd = ([str(exe)] if exe.exists() else [sys.executable, '-m', 'rl_f1_driver.cli'])
    cmd += ['drive', '--track', str(track), '--no-baseline']
    cmd += (['--policy', policy, '--runtime', runtime] if policy else ['--controller', 'pid'])
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    out = proc.stdout.read().decode(errors='replace')
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {'bench': 'drive_rss', 'track': track.name, 'exit_code': proc.returncode,
            'controller': 'policy' if policy else 'pid', 'runtime': runtime if policy else None,
            'peak_rss_mb': round(usage.ru_maxrss / 1024, 1), 'wall_s': round(wall, 2),
            'output_tail': out.strip().splitlines()[-1:] if out.strip() else []}


def main() -> None:
    import yaml

    from rl_f1_driver.benchmarks import cpu_model
    from rl_f1_driver.quiet import import_tf_agents_quietly
    from rl_f1_driver.sim.render import TrackMap
    from rl_f1_driver.track import load_circuit
    from rl_f1_driver.track.shapes import rounded_rectangle
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--steps', type=int, default=20000)
    ap.add_argument('--repeats', type=int, default=3,
                    help='10 x N alternating blocks per circuit (median)')
    ap.add_argument('--no-drive', action='store_true', help='skip the drive RSS measurement')
    ap.add_argument('--policy', help='drive RSS with this exported policy instead of the PID')
    ap.add_argument('--runtime', choices=['auto', 'numpy', 'tensorflow'], default='auto',
                    help='policy runtime for --policy')
    args = ap.parse_args()
    print(json.dumps({'cpu': cpu_model(), 'cores': os.cpu_count()}), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        tracks = {'simple': 'simple', 'montmelo_like': 'montmelo_like'}
        for name, (w, h) in SYNTHETIC.items():
            path = Path(tmp) / f'{name}.yaml'
            path.write_text(yaml.safe_dump({'name': name, 'road_width': 8.0,
                                            'centerline': rounded_rectangle(w, h)}))
            tracks[name] = str(path)
        # Peak RSS first, in a fresh process, before this one imports TensorFlow.
        drive = None if args.no_drive else drive_peak_rss_mb(Path(tracks['rect_5km']),
                                                             args.policy, args.runtime)
        import_tf_agents_quietly()
        rows = {}
        for name, track in tracks.items():
            circuit = load_circuit(track)
            t0 = time.perf_counter()
            m = TrackMap(circuit)
            build = time.perf_counter() - t0
            x0, y0, x1, y1 = circuit.bounds()
            rows[name] = {
                'bench': 'render_scale', 'track': name, 'length_m': round(circuit.length),
                'box_km': [round((x1 - x0) / 1000, 2), round((y1 - y0) / 1000, 2)],
                'map_build_s': round(build, 2), 'map_mb': round(m.nbytes / 1e6, 1),
                'map_bytes_per_m': round(m.nbytes / circuit.length), 'tiles': len(m.keys),
                'whole_circuit_array': m.dense is not None}
            del m
        # One environment per circuit and observation, stepped in alternating blocks: other
        # load on the machine and clock drift hit every circuit alike, and the median block
        # ignores the blocks an outside burst slowed down.
        import numpy as np

        from rl_f1_driver.env import make_env
        for obs in ('lines', 'image'):
            envs = {name: make_env(track=track, observation=obs, seed=0)
                    for name, track in tracks.items()}
            rngs = {name: np.random.default_rng(0) for name in tracks}
            for env in envs.values():
                env.reset()
            block = max(100, args.steps // 10)
            for _ in range(args.repeats * 10):
                for name, env in envs.items():
                    n_act = int(env.action_spec().maximum) + 1
                    actions = rngs[name].integers(0, n_act, block).astype(np.int32)
                    t0 = time.perf_counter()
                    for a in actions:
                        env.step(a)
                    rows[name].setdefault(f'{obs}_blocks_steps_per_s', []).append(
                        block / (time.perf_counter() - t0))
            for env in envs.values():
                env.close()
        for name, row in rows.items():
            for obs in ('lines', 'image'):
                blocks = row.pop(f'{obs}_blocks_steps_per_s')
                row[f'{obs}_steps_per_s'] = round(float(np.median(blocks)), 1)
                row[f'{obs}_steps_per_s_p90'] = round(float(np.percentile(blocks, 90)), 1)
                row[f'{obs}_vs_simple'] = round(
                    row[f'{obs}_steps_per_s'] / rows['simple'][f'{obs}_steps_per_s'] - 1, 3)
            print(json.dumps(row), flush=True)
        if drive is not None:
            print(json.dumps(drive), flush=True)


if __name__ == '__main__':
    main()
