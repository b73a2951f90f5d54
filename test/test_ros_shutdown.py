"""Ctrl-C and SIGTERM while inputs keep arriving: the nodes end with status 0, their last
statistics published (issue: drive_node crashed in rclpy's take under Gazebo's camera).

A probe floods the node's inputs (camera images and odometry for drive_node, commands for a
lock-step sim_node) from a thread while the node gets the signal. Each node runs as a
process, as a launch file starts it (ros_support.start_node: config/ros.yaml, then the node's
own values), on a DDS domain of its own; needs rclpy and the nodes' messages, skips without
them.
"""
import json
import signal
import threading

import numpy as np
import pytest

from ros_support import Probe, fresh_domain_id, require_nodes, start_node, wait_for

require_nodes()
START_TIMEOUT = 60.0
EXIT_TIMEOUT = 20.0


class Flood:
    """Publishes `make(i)` on `topic` as fast as it goes, from a thread, until stopped."""

    def __init__(self, probe, msg_type, topic, qos, make):
        self.pub = probe.node.create_publisher(msg_type, topic, qos)
        self.make = make
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                self.pub.publish(self.make(self.sent))
            except Exception:  # noqa: BLE001 - probe closing
                return
            self.sent += 1

    def stop(self):
        self._stop.set()
        self._thread.join(5)


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM], ids=['SIGINT', 'SIGTERM'])
def test_drive_node_ends_cleanly_under_a_flood_of_frames(tmp_path, sig):
    from geometry_msgs.msg import Twist
    from nav_msgs.msg import Odometry
    from sensor_msgs.msg import Image
    from std_msgs.msg import String

    from rl_f1_driver.ros.node_util import (CAMERA_QOS, COMMAND_QOS, STATE_QOS, image_msg,
                                            time_msg)
    domain = fresh_domain_id()
    proc, log = start_node('drive_node', tmp_path, domain,
                           {'controller': 'pid', 'track': 'simple'})
    probe = Probe(domain)
    floods = []
    try:
        stats = probe.collect(String, '/rl_f1/drive_stats', 10)
        commands = probe.collect(Twist, '/f1/cmd_vel', COMMAND_QOS)
        assert log.wait_for('driving from', START_TIMEOUT), log.tail()
        image = np.zeros((480, 640, 3), np.uint8)
        image[:, 300:340, 2] = 255   # a red line ahead

        def odom(i):
            msg = Odometry()
            msg.header.stamp = time_msg(i * 0.01)
            msg.header.frame_id = 'odom'
            msg.pose.pose.position.x = i * 0.001
            msg.pose.pose.orientation.w = 1.0
            return msg
        floods.append(Flood(probe, Odometry, '/f1/odom', STATE_QOS, odom))
        floods.append(Flood(probe, Image, '/f1/camera/image_raw', CAMERA_QOS,
                            lambda i: image_msg(image, time_msg(i * 0.05), 'camera_link')))
        assert wait_for(lambda: len(commands) > 20, START_TIMEOUT), log.tail()
        proc.send_signal(sig)
        proc.wait(EXIT_TIMEOUT)
        assert proc.returncode == 0, log.tail()
        assert 'Traceback' not in log.text(), log.tail()

        def shutdown_record():
            records = [json.loads(m.data) for m in stats]
            return [r for r in records if r.get('end_reason') == 'shutdown']
        assert wait_for(shutdown_record, 10.0), f'no last statistics: {stats}\n' + log.tail()
    finally:
        for flood in floods:
            flood.stop()
        probe.close()
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM], ids=['SIGINT', 'SIGTERM'])
def test_sim_node_ends_cleanly_under_a_flood_of_commands(tmp_path, sig):
    from geometry_msgs.msg import Twist
    from sensor_msgs.msg import Image

    from rl_f1_driver.ros.node_util import COMMAND_QOS, MONITOR_QOS
    domain = fresh_domain_id()
    proc, log = start_node('sim_node', tmp_path, domain,
                           {'track': 'simple', 'stepping': 'lockstep', 'drain_timeout': 0.0})
    probe = Probe(domain)
    flood = None
    try:
        frames = probe.collect(Image, '/f1/camera/image_raw', MONITOR_QOS)
        assert log.wait_for('embedded simulator', START_TIMEOUT), log.tail()

        def cmd(_i):
            msg = Twist()
            msg.linear.x = 1.0
            return msg
        flood = Flood(probe, Twist, '/f1/cmd_vel', COMMAND_QOS, cmd)
        assert wait_for(lambda: len(frames) > 20, START_TIMEOUT), log.tail()
        proc.send_signal(sig)
        proc.wait(EXIT_TIMEOUT)
        assert proc.returncode == 0, log.tail()
        assert 'Traceback' not in log.text(), log.tail()
    finally:
        if flood is not None:
            flood.stop()
        probe.close()
        if proc.poll() is None:
            proc.kill()


# Small network, short run (as test_ros_faults): the point is the end, not the driving.
QUICK_TRAIN = {'track': 'simple', 'seed': 0, 'env': {'observation': 'lines'},
               'train': {'steps': 20000, 'initial_collect_steps': 300, 'log_interval': 200,
                         'eval_interval': 1000, 'eval_max_steps': 60,
                         'checkpoint_interval': 500, 'fc_layers': [16], 'stop_on_lap': False}}


def test_train_node_ends_cleanly_on_sigterm_with_its_outputs_saved(tmp_path):
    """SIGTERM (what ros2 launch sends, and what a node gets when its launch dies) while
    train_node trains against a lock-step sim_node: it evaluates, checkpoints and exports,
    then ends with status 0."""
    import yaml
    domain = fresh_domain_id()
    config = tmp_path / 'quick.yaml'
    config.write_text(yaml.safe_dump(QUICK_TRAIN))
    run_dir = tmp_path / 'run'
    sim, sim_log = start_node('sim_node', tmp_path, domain, {
        'track': 'simple', 'stepping': 'lockstep', 'use_sim_time': False})
    train, log = start_node('train_node', tmp_path, domain, {
        'track': 'simple', 'config_file': config, 'run_dir': run_dir, 'use_sim_time': True})
    try:
        # Past the periodic evaluation at 1,000 steps: the last one is made after the signal.
        assert log.wait_for('step     1,200/20,000', 240), log.tail() + sim_log.tail()
        train.send_signal(signal.SIGTERM)
        train.wait(150)
        assert train.returncode == 0, log.tail()
        assert 'Traceback' not in log.text(), log.tail()
        report = json.loads((run_dir / 'report.json').read_text())
        assert report['stopped'] == 'interrupted'
        assert report['last_eval']['env_steps'] == report['env_steps']   # evaluated at the end
        assert (run_dir / 'policy' / 'saved_model.pb').is_file()
        assert (run_dir / 'checkpoints' / 'checkpoint').is_file()
    finally:
        for proc in (train, sim):
            if proc.poll() is None:
                proc.kill()
