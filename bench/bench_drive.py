#!/usr/bin/env python3
"""Frame-to-Twist latency (perception + policy) on a 640x480 BGR frame, p50 / p99.

    .venv/bin/python bench/bench_drive.py --policy runs/RUN/policy [--frames 3000]

Goal: p99 <= 2 ms for the `lines` observation. The PID baseline is measured too.
"""
import argparse
import json
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')


def main() -> None:
    from rl_f1_driver.benchmarks import bench_drive
    from rl_f1_driver.drive.controller import load_controller
    from rl_f1_driver.quiet import import_tf_agents_quietly
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--policy', required=True, help='exported policy directory')
    ap.add_argument('--frames', type=int, default=3000)
    args = ap.parse_args()
    import_tf_agents_quietly()
    print(json.dumps(bench_drive(load_controller(args.policy), frames=args.frames)), flush=True)
    print(json.dumps(bench_drive(load_controller(None, kind='pid'), frames=args.frames)),
          flush=True)


if __name__ == '__main__':
    main()
