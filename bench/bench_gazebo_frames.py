#!/usr/bin/env python3
"""Gazebo camera frames vs the embedded renderer: JSON figures per circuit.

For each circuit of the data folder ($RL_F1_GAZEBO_FRAMES, default ../shared/gazebo-frames):
poses, poses compared, mean of the per-pose max |dx| (px) of the red line's centre over the
perception rows and the rows the Gazebo run measured, the worst |dx|, and the rows where only
one image shows the line. `at_capture` repeats what the Gazebo run measured against the
renderer of its day (frames.json `summary`).

    .venv/bin/python bench/bench_gazebo_frames.py [--data DIR] [--per-pose]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rl_f1_driver.config import load_config  # noqa: E402
from rl_f1_driver.gazebo import frames as gf  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', type=Path, default=None, help='data folder')
    p.add_argument('--per-pose', action='store_true', help='also print dx per pose and row')
    args = p.parse_args(argv)
    folder = args.data or gf.default_dir(ROOT)
    if not (folder / 'frames.json').is_file():
        print(f'bench_gazebo_frames: no frames.json in {folder}', file=sys.stderr)
        return 2
    cfg = load_config()
    index = gf.load_index(folder)
    out = {'data': str(folder), 'source': index.get('source'),
           'camera_mismatches': gf.camera_mismatches(index['camera'], cfg), 'circuits': {}}
    for name, r in gf.compare(folder, cfg).items():
        entry = r.summary()
        entry['at_capture'] = index.get('summary', {}).get(name)
        if args.per_pose:
            entry['per_pose'] = [{'file': q.file, 'dx': q.dx, 'missing_rows': q.missing_rows}
                                 for q in r.poses]
        out['circuits'][name] = entry
    print(json.dumps(out, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
