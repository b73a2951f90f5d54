"""The live view: the same ROS 2 messages served over the Foxglove WebSocket protocol.

A `foxglove-sdk` WebSocket server in its own context, one channel per topic (schema `ros2msg`,
encoding `cdr`, the bytes the recorder writes to MCAP). A message is built only when a client
subscribes to its channel (`Channel.has_sinks`); the recorder also sends each topic at most
every so many wall seconds (LIVE_PERIODS: training steps far faster than anyone can watch,
and a camera frame is 900 kB). Latched topics (the circuit) are sent again to each new
subscriber. Log times are wall clock (when it was sent, as in any live connection); header
stamps stay simulation time.
"""
from __future__ import annotations

import threading
import time
from typing import Dict, Optional

import foxglove
from foxglove.websocket import ServerListener

from ..errors import UserError
from .messages import Message, Messages
from .topics import DEFAULT_PORT
# Wall seconds between two messages of a kind sent live (a drive in real time, evaluations).
LIVE_PERIODS = {'image': 1.0 / 15.0, 'path': 0.5, 'other': 1.0 / 50.0}


class FoxgloveSink:
    live = True   # the recorder throttles what it sends here

    def __init__(self, messages: Messages, port: int = DEFAULT_PORT, host: str = '127.0.0.1',
                 name: str = 'rl_f1_driver'):
        self._messages = messages
        self._context = foxglove.Context()
        self._channels: Dict[str, object] = {}
        self._latched: Dict[str, Optional[Message]] = {}
        self._lock = threading.Lock()
        try:
            self.server = foxglove.start_server(
                name=name, host=host, port=port, context=self._context,
                server_listener=_Listener(self))
        except (RuntimeError, OSError) as exc:
            reason = str(exc).split(':', 1)[-1].strip() if 'FoxgloveError' in str(exc) else exc
            raise UserError(f'--foxglove: cannot serve on {host}:{port} ({reason})') from None
        self.closed = False

    @property
    def port(self) -> int:
        return int(self.server.port)

    @property
    def url(self) -> str:
        return f'ws://localhost:{self.port}'

    def declare(self, topic: str, msgtype: str, latched: bool = False) -> None:
        """Advertise `topic` now, so a client can subscribe before the first message."""
        if topic in self._channels:
            return
        schema = foxglove.Schema(name=msgtype, encoding='ros2msg',
                                 data=self._messages.schema(msgtype))
        self._channels[topic] = foxglove.Channel(topic, message_encoding='cdr', schema=schema,
                                                 context=self._context)
        if latched:
            self._latched[topic] = None

    def wants(self, topic: str) -> bool:
        if topic in self._latched:
            return True   # kept for later subscribers
        channel = self._channels.get(topic)
        return channel is not None and channel.has_sinks()

    def write(self, msg: Message) -> None:
        channel = self._channels.get(msg.topic)
        if channel is None or self.closed:
            return
        with self._lock:
            if msg.topic in self._latched:
                self._latched[msg.topic] = msg
            if channel.has_sinks():
                channel.log(msg.data, log_time=time.time_ns())

    def resend_latched(self, topic: str) -> None:
        """A client subscribed: give it the latched message of `topic`, if any."""
        with self._lock:
            msg = self._latched.get(topic)
            channel = self._channels.get(topic)
            if msg is not None and channel is not None and not self.closed:
                channel.log(msg.data, log_time=time.time_ns())

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.server.stop()


class _Listener(ServerListener):
    def __init__(self, sink: FoxgloveSink):
        super().__init__()
        self._sink = sink

    def on_subscribe(self, client, channel) -> None:
        self._sink.resend_latched(channel.topic)
