#!/usr/bin/env python3
"""Environment steps per second on the embedded simulator (random actions, resets included).

    .venv/bin/python bench/bench_env.py [--steps 20000] [--track simple]

Prints one JSON line per observation mode. Goals on a 2-core laptop-class CPU:
lines >= 10,000 steps/s, image >= 3,000 steps/s (Gazebo: about 20 steps/s).
"""
import argparse
import json
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')


def main() -> None:
    from rl_f1_driver.benchmarks import bench_env
    from rl_f1_driver.quiet import import_tf_agents_quietly
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--steps', type=int, default=20000)
    ap.add_argument('--track', default='simple')
    ap.add_argument('--repeats', type=int, default=3, help='best of N (other load on the CPU)')
    args = ap.parse_args()
    import_tf_agents_quietly()
    for obs in ('lines', 'image'):
        runs = [bench_env(obs, args.steps, args.track) for _ in range(args.repeats)]
        best = max(runs, key=lambda r: r['steps_per_s'])
        best['all_steps_per_s'] = [r['steps_per_s'] for r in runs]
        print(json.dumps(best), flush=True)


if __name__ == '__main__':
    main()
