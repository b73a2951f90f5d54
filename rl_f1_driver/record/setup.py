"""What `rl-f1 drive --record/--foxglove` and `rl-f1 train --record-evals/--foxglove` build."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, List, Optional

from ..config import Config
from ..track import Circuit


def drive_recorder(args: argparse.Namespace, cfg: Config, circuit: Circuit,
                   controller: Any) -> Optional[Any]:
    """The DriveRecorder of `rl-f1 drive` (None without --record and --foxglove)."""
    record, port = getattr(args, 'record', None), getattr(args, 'foxglove', None)
    if not record and port is None:
        return None
    from ..scene import car_front
    from .mcap_sink import McapSink
    from .messages import Messages
    from .recorder import DriveRecorder
    from .topics import Topics
    messages = Messages()
    topics = Topics.load('drive_node')
    sinks: List[Any] = []
    try:
        if record:
            sinks.append(McapSink(Path(record), messages))
        if port is not None:
            sinks.append(live_sink(messages, port))
    except BaseException:
        for sink in sinks:
            sink.close()
        raise
    return DriveRecorder(sinks, topics, messages, circuit, detector=controller.detector,
                         compressed=args.compressed, car_front=car_front(cfg.camera),
                         lap_stats=circuit)


def train_monitor(args: argparse.Namespace, cfg: Config) -> Optional[Any]:
    """The trainer's TrainMonitor (None without --record-evals and --foxglove)."""
    folder, port = getattr(args, 'record_evals', None), getattr(args, 'foxglove', None)
    if not folder and port is None:
        return None
    from .messages import Messages
    from .monitor import TrainMonitor, prepare_folder
    if folder:
        prepare_folder(Path(folder), '--record-evals')   # before the server starts
    messages = Messages()
    live = live_sink(messages, port) if port is not None else None
    try:
        return TrainMonitor(cfg, live=live, record_evals=Path(folder) if folder else None,
                            compressed=args.compressed, messages=messages)
    except BaseException:
        if live is not None:
            live.close()
        raise


def live_sink(messages: Any, port: int) -> Any:
    from .foxglove_sink import FoxgloveSink
    sink = FoxgloveSink(messages, port=port)
    print(f'live view: {sink.url} (Foxglove: Open connection -> Foxglove WebSocket; layout '
          'config/rl_f1_driver.foxglove.json)', flush=True)
    return sink
