"""The Foxglove layout shipped as config/rl_f1_driver.foxglove.json, made from config/ros.yaml.

Camera and perception overlay on the left, a 3D view of the circuit, the driven path and the
car (following base_link in odom) in the middle, plots on the right: speed and deviation,
reward and average return, loss, epsilon and environment steps/s. Written with the layout
classes of foxglove-sdk; `python -m rl_f1_driver.record.layout` writes the file again after a
topic name changed in ros.yaml (a test checks it is current).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from ..paths import config_dir
from .topics import Topics

LAYOUT_FILE = 'rl_f1_driver.foxglove.json'


def layout_json(topics: Optional[Topics] = None, compressed: bool = False) -> str:
    import foxglove.layouts as fl
    t = topics or Topics.load('drive_node')

    def image(topic: str, title: str) -> fl.ImagePanel:
        name = t.compressed(topic) if compressed else topic
        return fl.ImagePanel(title=title, config=fl.ImageConfig(
            image_mode=fl.ImageModeConfig(image_topic=name)))

    def plot(title: str, signals: Sequence[str]) -> fl.PlotPanel:
        return fl.PlotPanel(title=title, config=fl.PlotConfig(
            paths=[fl.PlotSeries(value=f'{t.telemetry(s)}.data', label=s, enabled=True)
                   for s in signals], show_legend=True))

    def split(direction: str, items: List, proportions: Optional[Sequence[float]] = None):
        proportions = proportions or [1.0] * len(items)
        return fl.SplitContainer(direction=direction, items=[
            fl.SplitItem(proportion=p, content=c) for p, c in zip(proportions, items)])

    three_d = fl.ThreeDeePanel(title='circuit and car', config=fl.ThreeDeeConfig(
        follow_tf=t.base_frame, fixed_frame=t.odom_frame, follow_mode='follow-position',
        topics={t.circuit: fl.BaseRendererRosMarkerTopicSettings(visible=True),
                t.path: fl.BaseRendererBaseSettings(visible=True),
                t.odom: fl.BaseRendererBaseSettings(visible=False)}))
    layout = fl.Layout(content=split('row', [
        split('column', [image(t.camera, 'camera'), image(t.overlay, 'perception overlay')]),
        three_d,
        split('column', [plot('speed (m/s), deviation (m)', ['speed', 'deviation']),
                         plot('reward, average return', ['reward', 'return']),
                         plot('loss', ['loss']),
                         plot('epsilon', ['epsilon']),
                         plot('env steps/s', ['env_steps_per_s'])]),
    ], [1.0, 1.4, 1.0]))
    return json.dumps(json.loads(layout.to_json()), indent=2)


def shipped_file() -> Path:
    return config_dir() / LAYOUT_FILE


def main(argv: Optional[Sequence[str]] = None) -> int:
    out = Path(argv[0]) if argv else shipped_file()
    out.write_text(layout_json() + '\n')
    print(f'wrote {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
