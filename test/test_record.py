"""Recordings (rl-f1 drive --record, rl-f1 train --record-evals), read back independently.

The recorder serialises with rosbags; these tests read the files with mcap's reader and
mcap-ros2-support's own CDR decoder (built from the schema text in the file), as Foxglove and
rosbag2's MCAP storage read them. `ros2 bag play` itself is not run here (no rosbag2).
"""
import json
from collections import Counter, defaultdict

import cv2
import numpy as np
import pytest

from rl_f1_driver import cli
from rl_f1_driver.config import load_config
from rl_f1_driver.record.topics import Topics
from rl_f1_driver.sim.embedded import EmbeddedSimulator
from rl_f1_driver.sim.types import Pose2D, Twist
from rl_f1_driver.track import load_circuit

mcap_reader = pytest.importorskip('mcap.reader')
ros2_reader = pytest.importorskip('mcap_ros2.reader')

TOPICS = Topics.load('drive_node')
STEPS = 60


def read(path):
    """{topic: [(log_time ns, schema name, decoded message)]} in file order, via mcap_ros2."""
    out = defaultdict(list)
    for m in ros2_reader.read_ros2_messages(str(path)):
        out[m.channel.topic].append((m.log_time_ns, m.schema.name, m.ros_msg))
    return out


def summary(path):
    with open(path, 'rb') as f:
        reader = mcap_reader.make_reader(f)
        header = reader.get_header()
        s = reader.get_summary()
    return header, s


def stamp_ns(header):
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


def image_bgr(msg):
    assert msg.encoding == 'bgr8' and msg.step == 3 * msg.width
    return np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.width, 3)


@pytest.fixture(scope='module')
def pid_recording(tmp_path_factory):
    folder = tmp_path_factory.mktemp('rec')
    path = folder / 'drive.mcap'
    report = folder / 'report.json'
    rc = cli.main(['drive', '--controller', 'pid', '--track', 'simple', '--max-steps',
                   str(STEPS), '--record', str(path), '--report', str(report)])
    assert rc == 0
    return path, json.loads(report.read_text())


def test_recording_has_the_ros_topics_types_and_counts(pid_recording):
    path, report = pid_recording
    msgs = read(path)
    steps = report['steps']
    assert steps == STEPS
    types = {topic: {s for _, s, _ in v} for topic, v in msgs.items()}
    expected = {
        TOPICS.camera: 'sensor_msgs/msg/Image', TOPICS.overlay: 'sensor_msgs/msg/Image',
        TOPICS.cmd_vel: 'geometry_msgs/msg/Twist', TOPICS.odom: 'nav_msgs/msg/Odometry',
        TOPICS.path: 'nav_msgs/msg/Path', TOPICS.tf: 'tf2_msgs/msg/TFMessage',
        TOPICS.circuit: 'visualization_msgs/msg/MarkerArray',
        TOPICS.stats: 'std_msgs/msg/String',
        TOPICS.telemetry('speed'): 'std_msgs/msg/Float32',
        TOPICS.telemetry('deviation'): 'std_msgs/msg/Float32'}
    assert types == {k: {v} for k, v in expected.items()}
    # The names are ros.yaml's: those drive_node and sim_node publish.
    assert TOPICS.camera == '/f1/camera/image_raw' and TOPICS.stats == '/rl_f1/drive_stats'
    counts = Counter({k: len(v) for k, v in msgs.items()})
    assert counts[TOPICS.cmd_vel] == steps                   # one command per step
    for topic in (TOPICS.camera, TOPICS.overlay, TOPICS.odom, TOPICS.tf):
        assert counts[topic] == steps + 1, topic              # and the frame it ended on
    assert counts[TOPICS.circuit] == 1
    # The statistics record is drive_node's (LapStats on the odometry).
    (_, _, last), = msgs[TOPICS.stats][-1:]
    record = json.loads(last.data)
    assert record['event'] == 'episode' and record['track'] == 'simple'
    assert record['samples'] == steps + 1

    header, s = summary(path)
    assert header.profile == 'ros2'
    assert {sc.encoding for sc in s.schemas.values()} == {'ros2msg'}
    assert {ch.message_encoding for ch in s.channels.values()} == {'cdr'}
    # rosbag2's MCAP storage takes its topic list and counts from the statistics record.
    by_id = {ch.id: ch.topic for ch in s.channels.values()}
    assert {by_id[i]: n for i, n in s.statistics.channel_message_counts.items()} == dict(counts)


def test_stamps_are_simulation_time_and_never_go_back(pid_recording):
    path, report = pid_recording
    msgs = read(path)
    log_times = [t for v in msgs.values() for t, _, _ in v]
    assert min(log_times) == 0
    dt = load_config().camera.control_period
    assert max(log_times) == pytest.approx(report['steps'] * dt * 1e9, abs=1e3)
    with open(path, 'rb') as f:
        in_file = [m.log_time for _, _, m in mcap_reader.make_reader(f).iter_messages(
            log_time_order=False)]
    assert in_file == sorted(in_file)
    for topic in (TOPICS.camera, TOPICS.overlay, TOPICS.odom):
        for t, _, msg in msgs[topic]:
            assert stamp_ns(msg.header) == t
    for t, _, msg in msgs[TOPICS.tf]:
        (tf,) = msg.transforms
        assert stamp_ns(tf.header) == t
        assert (tf.header.frame_id, tf.child_frame_id) == (TOPICS.odom_frame, TOPICS.base_frame)
    _, _, odom = msgs[TOPICS.odom][0]
    assert (odom.header.frame_id, odom.child_frame_id) == (TOPICS.odom_frame, TOPICS.base_frame)
    _, _, cam = msgs[TOPICS.camera][0]
    assert cam.header.frame_id == TOPICS.camera_frame
    # Twist stamps: the frame the command was computed from.
    assert [t for t, _, _ in msgs[TOPICS.cmd_vel]] == [t for t, _, _ in msgs[TOPICS.camera]][:-1]


def test_images_decode_to_the_frames_that_were_driven(pid_recording):
    """Replay the recorded commands on a fresh simulator: every recorded camera image is the
    frame the car saw, and the odometry its pose."""
    path, _ = pid_recording
    msgs = read(path)
    cfg = load_config(overrides={'seed': 0, 'track': 'simple'})
    circuit = load_circuit('simple')
    sim = EmbeddedSimulator(circuit, cfg.camera, cfg.car, cfg.randomization, seed=0)
    sim.request_view(None)
    frame = sim.reset(Pose2D(*circuit.pose_at(0.0)))
    cams = [image_bgr(m) for _, _, m in msgs[TOPICS.camera]]
    odoms = [m for _, _, m in msgs[TOPICS.odom]]
    cmds = [m for _, _, m in msgs[TOPICS.cmd_vel]]
    for k, cmd in enumerate(cmds + [None]):
        assert cams[k].shape == (cfg.camera.height, cfg.camera.width, 3)
        assert np.array_equal(cams[k], frame.image), f'frame {k}'
        assert odoms[k].pose.pose.position.x == pytest.approx(frame.pose.x, abs=1e-9)
        assert odoms[k].pose.pose.position.y == pytest.approx(frame.pose.y, abs=1e-9)
        if cmd is not None:
            frame = sim.step(Twist(cmd.linear.x, cmd.angular.z))
    # The overlay is the camera frame with the perception drawn on it, not the raw frame.
    overlay = image_bgr(msgs[TOPICS.overlay][0][2])
    assert overlay.shape == cams[0].shape and not np.array_equal(overlay, cams[0])


def test_circuit_markers_path_and_car(pid_recording):
    path, _ = pid_recording
    msgs = read(path)
    _, _, markers = msgs[TOPICS.circuit][0]
    by_ns = Counter(m.ns for m in markers.markers)
    assert by_ns['road_edges'] == 2 and by_ns['red_line'] == 1 and by_ns['car'] >= 4
    circuit = load_circuit('simple')
    line = next(m for m in markers.markers if m.ns == 'red_line')
    assert line.header.frame_id == TOPICS.odom_frame
    pts = np.array([[p.x, p.y] for p in line.points])
    # Closed strip along the centreline.
    assert np.allclose(pts[0], pts[-1])
    assert np.abs(np.linalg.norm(pts[:, None] - circuit.points[None], axis=2).min(1)).max() < 1e-6
    assert all(m.header.frame_id == TOPICS.base_frame and m.frame_locked
               for m in markers.markers if m.ns == 'car')
    _, _, last_path = msgs[TOPICS.path][-1]
    assert last_path.header.frame_id == TOPICS.odom_frame and len(last_path.poses) >= 2
    _, _, last_odom = msgs[TOPICS.odom][-1]
    end = last_path.poses[-1].pose.position
    assert np.hypot(end.x - last_odom.pose.pose.position.x,
                    end.y - last_odom.pose.pose.position.y) < TOPICS.path_min_spacing + 1e-9


def test_compressed_recording_holds_jpeg_frames(tmp_path):
    path = tmp_path / 'jpeg.mcap'
    assert cli.main(['drive', '--controller', 'pid', '--max-steps', '5', '--record', str(path),
                     '--compressed']) == 0
    msgs = read(path)
    cam = Topics.compressed(TOPICS.camera)
    assert TOPICS.camera not in msgs and len(msgs[cam]) == 6
    assert {s for _, s, _ in msgs[cam]} == {'sensor_msgs/msg/CompressedImage'}
    msg = msgs[cam][0][2]
    assert msg.format == 'bgr8; jpeg compressed bgr8'
    decoded = cv2.imdecode(np.frombuffer(bytes(msg.data), np.uint8), cv2.IMREAD_COLOR)
    cfg = load_config()
    circuit = load_circuit(cfg.track)
    sim = EmbeddedSimulator(circuit, cfg.camera, cfg.car, cfg.randomization, seed=0)
    sim.request_view(None)
    full = sim.reset(Pose2D(*circuit.pose_at(0.0))).image
    assert decoded.shape == full.shape
    assert np.abs(decoded.astype(int) - full.astype(int)).mean() < 3.0   # JPEG at quality 90


@pytest.mark.parametrize('where', ['missing_folder', 'folder', 'under_a_file'])
def test_bad_record_paths_are_one_line_errors(tmp_path, capsys, where):
    (tmp_path / 'file').write_text('x')
    target = {'missing_folder': tmp_path / 'nope' / 'd.mcap', 'folder': tmp_path,
              'under_a_file': tmp_path / 'file' / 'd.mcap'}[where]
    rc = cli.main(['drive', '--controller', 'pid', '--max-steps', '5', '--record',
                   str(target)])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and err.startswith('rl-f1: error:') and str(target) in err


def test_record_evals_into_a_file_is_an_error(tmp_path, capsys):
    (tmp_path / 'file').write_text('x')
    rc = cli.main(['train', '--steps', '10', '--out', str(tmp_path / 'run'),
                   '--record-evals', str(tmp_path / 'file')])
    assert rc == 2
    assert '--record-evals' in capsys.readouterr().err


def test_train_records_every_evaluation_drive(tmp_path):
    """A tiny run: one MCAP per evaluation, each the greedy drive the report describes."""
    from train_helpers import SHORT
    folder = tmp_path / 'evals'
    out = tmp_path / 'run'
    args = ['train', '--out', str(out), '--record-evals', str(folder)]
    for key, value in SHORT.items():
        args += ['--set', f'{key}={json.dumps(value)}']
    assert cli.main(args) == 0
    report = json.loads((out / 'report.json').read_text())
    files = sorted(folder.glob('*.mcap'))
    # Trained both ways (the default): each evaluation drives forward and reverse.
    expected = [(f'eval-{e["env_steps"]:09d}-{d}.mcap', e, d) for e in report['evaluations']
                for d in ('forward', 'reverse')]
    assert [f.name for f in files] == [name for name, _, _ in expected]
    topics = Topics.load('train_node')
    for f, (_, entry, direction) in zip(files, expected):
        msgs = read(f)
        (_, schema, stats), = msgs[topics.stats]
        assert schema == 'std_msgs/msg/String' and topics.stats == '/rl_f1/episode_stats'
        record = json.loads(stats.data)
        steps = record['steps']
        if direction == 'forward':
            assert steps == entry['steps']
            assert record['completion'] == pytest.approx(entry['completion'])
        else:
            assert record['completion'] == pytest.approx(entry['reverse_completion'])
        assert len(msgs[topics.cmd_vel]) == steps
        assert len(msgs[topics.camera]) == steps + 1
        assert len(msgs[topics.telemetry('reward')]) == steps
        times = [t for v in msgs.values() for t, _, _ in v]
        cams = [t for t, _, _ in msgs[topics.camera]]
        assert cams == sorted(cams) and max(times) == cams[-1]
        first = image_bgr(msgs[topics.camera][0][2])
        assert first.shape == (480, 640, 3)
