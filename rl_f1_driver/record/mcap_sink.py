"""Recordings: ROS 2 messages into an MCAP file as rosbag2's MCAP storage writes them.

The file is written with the `mcap` library: profile `ros2`, one schema per message type
(`ros2msg` encoding, the full definition), one channel per topic (`cdr` encoding), message
log times in simulation nanoseconds, chunk indexes and the statistics record that rosbag2's
MCAP reader takes its topic list and counts from. So it opens in Foxglove and plays with
`ros2 bag play -s mcap FILE.mcap` (Humble needs the `-s mcap`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Union

from ..errors import UserError
from .messages import Message, Messages

LIBRARY = 'rl_f1_driver'


class McapSink:
    """Every message offered is written (`wants` is always true)."""

    def __init__(self, path: Union[str, Path], messages: Messages):
        from mcap.writer import CompressionType, Writer
        self.path = Path(path)
        if self.path.is_dir():
            raise UserError(f'{self.path}: is a folder; give a file name like drive.mcap')
        if not self.path.parent.is_dir():
            raise UserError(f'{self.path}: cannot write the recording: the folder '
                            f'{self.path.parent} does not exist')
        try:
            self._file = open(self.path, 'wb')
        except OSError as exc:
            raise UserError(f'{self.path}: cannot write the recording ({exc.strerror})') from None
        self._messages = messages
        # LZ4 chunks: camera frames shrink several times at a fraction of zstd's CPU cost;
        # rosbag2's MCAP reader and Foxglove read both.
        self._writer = Writer(self._file, compression=CompressionType.LZ4)
        self._writer.start(profile='ros2', library=LIBRARY)
        self._schemas: Dict[str, int] = {}
        self._channels: Dict[str, int] = {}
        self.counts: Dict[str, int] = {}
        self.closed = False

    def wants(self, topic: str) -> bool:
        return True

    def write(self, msg: Message) -> None:
        channel = self._channels.get(msg.topic)
        if channel is None:
            schema = self._schemas.get(msg.type)
            if schema is None:
                schema = self._writer.register_schema(msg.type, 'ros2msg',
                                                      self._messages.schema(msg.type))
                self._schemas[msg.type] = schema
            channel = self._writer.register_channel(msg.topic, 'cdr', schema)
            self._channels[msg.topic] = channel
        self._writer.add_message(channel, log_time=msg.log_time, data=msg.data,
                                 publish_time=msg.log_time, sequence=self.counts.get(
                                     msg.topic, 0))
        self.counts[msg.topic] = self.counts.get(msg.topic, 0) + 1

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            self._writer.finish()
        finally:
            self._file.close()
