"""The live view (--foxglove): a WebSocket client subscribes and receives the ROS 2 messages.

The client speaks the Foxglove WebSocket protocol with the `websockets` package and decodes
payloads with mcap-ros2-support's CDR decoder from the advertised schema text, as Foxglove
does. Waits are bounded; the drive runs in a worker thread while the client reads.
"""
import asyncio
import json
import socket
import struct

import pytest

from rl_f1_driver import cli
from rl_f1_driver.config import load_config
from rl_f1_driver.drive.controller import load_controller
from rl_f1_driver.drive.runner import drive
from rl_f1_driver.scene import car_front
from rl_f1_driver.record.topics import Topics
from rl_f1_driver.track import load_circuit

websockets = pytest.importorskip('websockets')
pytest.importorskip('foxglove')
from mcap.records import Schema  # noqa: E402
from mcap_ros2.decoder import DecoderFactory  # noqa: E402

from rl_f1_driver.record import recorder as recorder_module  # noqa: E402
from rl_f1_driver.record.foxglove_sink import FoxgloveSink  # noqa: E402
from rl_f1_driver.record.messages import Messages  # noqa: E402
from rl_f1_driver.record.recorder import DriveRecorder  # noqa: E402

TOPICS = Topics.load('drive_node')
TIMEOUT = 20.0
# foxglove-sdk speaks foxglove.sdk.v1; older Foxglove servers foxglove.websocket.v1.
SUBPROTOCOLS = ['foxglove.sdk.v1', 'foxglove.websocket.v1']


class LiveClient:
    """A minimal Foxglove WebSocket client: channels, subscribe, decoded messages."""

    def __init__(self, ws):
        self.ws = ws
        self.channels = {}      # topic -> advertised channel
        self._subs = {}         # subscription id -> topic
        self._decoders = {}

    @classmethod
    async def connect(cls, port, topics):
        ws = await websockets.connect(f'ws://127.0.0.1:{port}', subprotocols=SUBPROTOCOLS,
                                      open_timeout=TIMEOUT, max_size=None)
        client = cls(ws)
        while not set(topics) <= set(client.channels):
            msg = await asyncio.wait_for(ws.recv(), TIMEOUT)
            if isinstance(msg, str):
                data = json.loads(msg)
                if data['op'] == 'advertise':
                    client.channels.update({c['topic']: c for c in data['channels']})
        return client

    async def subscribe(self, topics):
        subs = []
        for topic in topics:
            sid = len(self._subs) + 1
            self._subs[sid] = topic
            subs.append({'id': sid, 'channelId': self.channels[topic]['id']})
        await self.ws.send(json.dumps({'op': 'subscribe', 'subscriptions': subs}))

    def decode(self, topic, payload):
        if topic not in self._decoders:
            c = self.channels[topic]
            assert (c['encoding'], c['schemaEncoding']) == ('cdr', 'ros2msg')
            schema = Schema(id=1, name=c['schemaName'], encoding='ros2msg',
                            data=c['schema'].encode())
            self._decoders[topic] = DecoderFactory().decoder_for('cdr', schema)
        return self._decoders[topic](payload)

    async def receive(self, until):
        """{topic: [decoded]} until `until(received)` holds (at most TIMEOUT seconds)."""
        got = {}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TIMEOUT
        while not until(got):
            left = deadline - loop.time()
            assert left > 0, f'timed out; received {sorted(got)}'
            msg = await asyncio.wait_for(self.ws.recv(), left)
            if isinstance(msg, bytes) and msg[0] == 1:     # MessageData
                sid, _ = struct.unpack_from('<IQ', msg, 1)
                topic = self._subs[sid]
                got.setdefault(topic, []).append(self.decode(topic, msg[13:]))
        return got


async def wait_for(condition, what):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while not condition():
        assert loop.time() < deadline, f'timed out waiting for {what}'
        await asyncio.sleep(0.01)


@pytest.fixture
def sink():
    s = FoxgloveSink(Messages(), port=0)
    yield s
    s.close()


def test_a_client_subscribes_and_receives_a_live_drive(sink, monkeypatch):
    cfg = load_config()
    circuit = load_circuit('simple')
    controller = load_controller(None, cfg, 'pid')
    overlays = []
    real_overlay = recorder_module.draw_overlay
    monkeypatch.setattr(recorder_module, 'draw_overlay',
                        lambda *a, **k: overlays.append(1) or real_overlay(*a, **k))
    rec = DriveRecorder([sink], TOPICS, sink._messages, circuit, detector=controller.detector,
                        car_front=car_front(cfg.camera), lap_stats=circuit, shared=[sink])
    live = [TOPICS.camera, TOPICS.cmd_vel, TOPICS.odom, TOPICS.stats]

    async def main():
        client = await LiveClient.connect(sink.port, live + [TOPICS.circuit, TOPICS.overlay])
        await client.subscribe(live)
        await wait_for(lambda: all(sink._channels[t].has_sinks() for t in live),
                       'the subscriptions')
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(None, lambda: drive(
            controller, circuit, laps=1, max_steps=40, config=cfg, recorder=rec))
        got = await client.receive(lambda g: set(live) <= set(g))
        # The circuit was sent before anyone subscribed: it is latched, a new subscriber
        # gets it.
        await client.subscribe([TOPICS.circuit])
        got.update(await client.receive(lambda g: TOPICS.circuit in g))
        await client.ws.close()
        return result, got

    result, got = asyncio.run(main())
    image = got[TOPICS.camera][0]
    assert (image.height, image.width, image.encoding) == (480, 640, 'bgr8')
    assert image.header.frame_id == TOPICS.camera_frame
    twist = got[TOPICS.cmd_vel][0]
    assert twist.linear.x > 0.0 and twist.linear.y == 0.0
    odom = got[TOPICS.odom][0]
    assert (odom.header.frame_id, odom.child_frame_id) == (TOPICS.odom_frame, TOPICS.base_frame)
    record = json.loads(got[TOPICS.stats][-1].data)
    assert record['event'] == 'episode' and record['samples'] == result['steps'] + 1
    assert {m.ns for m in got[TOPICS.circuit][0].markers} >= {'road_edges', 'red_line', 'car'}
    # Throttled for viewers, never more than one message per step.
    assert 1 <= len(got[TOPICS.cmd_vel]) <= result['steps']
    # Nobody subscribed to the overlay: it was never drawn.
    assert overlays == []


def test_training_plots_and_environment_stream_live(sink):
    from rl_f1_driver.learn.trainer import default_env_factory
    from rl_f1_driver.record.monitor import TrainMonitor
    cfg = load_config()
    monitor = TrainMonitor(cfg, live=sink, messages=sink._messages)
    topics = monitor.topics
    env = monitor.wrap_env_factory(default_env_factory)(cfg, 0)
    plots = [topics.telemetry(s) for s in ('loss', 'epsilon', 'return', 'env_steps_per_s')]
    stream = [topics.camera, topics.telemetry('reward'), topics.telemetry('speed')]

    async def main():
        client = await LiveClient.connect(sink.port, plots + stream)
        await client.subscribe(plots + stream)
        await wait_for(lambda: all(sink._channels[t].has_sinks() for t in plots + stream),
                       'the subscriptions')
        env.reset()
        for _ in range(5):
            env.step(1)
        monitor.progress(1234, loss=0.25, epsilon=0.5, average_return=12.0, steps_per_s=900.0)
        got = await client.receive(lambda g: set(plots + stream) <= set(g))
        await client.ws.close()
        return got

    got = asyncio.run(main())
    assert got[topics.telemetry('loss')][0].data == pytest.approx(0.25)
    assert got[topics.telemetry('epsilon')][0].data == pytest.approx(0.5)
    assert got[topics.telemetry('env_steps_per_s')][0].data == pytest.approx(900.0)
    image = got[topics.camera][0]
    # Training renders only the rows perception reads; the live view gets the whole frame.
    assert (image.height, image.width) == (cfg.camera.height, cfg.camera.width)
    env.close()


@pytest.mark.parametrize('command', [
    ['drive', '--controller', 'pid', '--max-steps', '3'],
    ['train', '--steps', '10'],
])
def test_a_port_in_use_is_a_one_line_error(tmp_path, capsys, command):
    with socket.socket() as taken:
        taken.bind(('127.0.0.1', 0))
        taken.listen()
        port = taken.getsockname()[1]
        extra = ['--out', str(tmp_path / 'run')] if command[0] == 'train' else []
        rc = cli.main(command + extra + ['--foxglove', str(port)])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and f'cannot serve on 127.0.0.1:{port}' in err
    assert not (tmp_path / 'run').exists()


def test_shipped_layout_is_current_and_uses_the_ros_yaml_topics():
    from rl_f1_driver.record.layout import layout_json, shipped_file
    text = shipped_file().read_text()
    assert text.strip() == layout_json().strip(), (
        'config/rl_f1_driver.foxglove.json is stale: python -m rl_f1_driver.record.layout')
    layout = json.loads(text)
    panels = []

    def walk(node):
        if node.get('type') == 'panel':
            panels.append(node)
        for item in node.get('items', []):
            walk(item['content'])
    walk(layout['content'])
    kinds = [p['panelType'] for p in panels]
    assert kinds.count('Image') == 2 and kinds.count('ThreeDee') == 1 and 'Plot' in kinds
    images = {p['config']['imageMode']['imageTopic'] for p in panels if p['panelType'] == 'Image'}
    assert images == {TOPICS.camera, TOPICS.overlay}
    three_d = next(p for p in panels if p['panelType'] == 'ThreeDee')['config']
    assert three_d['followTf'] == TOPICS.base_frame and TOPICS.circuit in three_d['topics']
    series = {s['value'].rsplit('.', 1)[0] for p in panels if p['panelType'] == 'Plot'
              for s in p['config']['paths']}
    assert {TOPICS.telemetry(s) for s in ('speed', 'deviation', 'reward', 'loss',
                                          'epsilon')} <= series
