"""launch_testing: `ros2 launch rl_f1_driver train.launch.py simulator:=embedded`, end to end.

sim_node (lock-step) and train_node of the colcon-installed package talk over DDS only. The
test watches what rviz would show (overlay, path, episode statistics) while the DQN trains
until its greedy policy drives a full lap both ways; then train_node exports the policy, writes
report.json and ends, and the launch ends sim_node with it (nobody presses Ctrl-C).
"""
import json
import unittest

import pytest
import yaml

from conftest import launch_tmp_path
from ros_support import Probe, fresh_domain_id, require_installed_package, ros2_launch_action

SHARE = require_installed_package()

import launch  # noqa: E402
import launch_testing  # noqa: E402
import launch_testing.asserts  # noqa: E402
from launch_testing.actions import ReadyToTest  # noqa: E402
from launch_testing.util import KeepAliveProc  # noqa: E402

DOMAIN = fresh_domain_id()
WORK = launch_tmp_path('launch_train')
RUN_DIR = WORK / 'run'
CONFIG = WORK / 'train.yaml'
# The quick-start config (config/train.yaml), stopping at the first lap both ways.
CONFIG.write_text(yaml.safe_dump({'track': 'simple', 'seed': 0,
                                  'env': {'observation': 'lines'},
                                  'train': {'steps': 30000, 'stop_on_lap': True,
                                            'min_steps': 0}}))
TRAIN_TIMEOUT = 600.0


@pytest.mark.launch_test
def generate_test_description():
    # The user's command itself, `ros2 launch ...`, as one process: it must end by itself,
    # which launch_testing would take for a failure if the train launch ran inside it.
    train = ros2_launch_action('train.launch.py', {
        'simulator': 'embedded', 'config': CONFIG, 'run_dir': RUN_DIR}, DOMAIN,
        name='train_launch')
    return launch.LaunchDescription([train, KeepAliveProc(), ReadyToTest()]), {'train': train}


class TestTrainingThroughTheRosGraph(unittest.TestCase):
    def test_trains_to_a_lap_exports_the_policy_and_the_launch_ends(self, proc_info, train,
                                                                    proc_output):
        from nav_msgs.msg import Path as PathMsg
        from sensor_msgs.msg import Image
        from std_msgs.msg import String

        from rl_f1_driver.ros.node_util import MONITOR_QOS
        probe = Probe(DOMAIN)
        try:
            overlays = probe.collect(Image, '/rl_f1/overlay', MONITOR_QOS)
            paths = probe.collect(PathMsg, '/rl_f1/path', MONITOR_QOS)
            stats = probe.collect(String, '/rl_f1/episode_stats')
            # train_node ends by itself when the greedy policy laps, and the launch ends with
            # it: it stops sim_node because train_node is its main node.
            proc_info.assertWaitForShutdown(process=train, timeout=TRAIN_TIMEOUT)
        finally:
            probe.close()
        launch_testing.asserts.assertInStdout(
            proc_output, 'process[train_node-2] was required: shutting down launched system',
            train)
        launch_testing.asserts.assertInStdout(proc_output, 'process has finished cleanly',
                                              train)

        report = json.loads((RUN_DIR / 'report.json').read_text())
        self.assertEqual(report['stopped'], 'lap_driven')
        self.assertEqual(report['last_eval']['completion'], 1.0)
        self.assertEqual(report['last_eval']['reverse_completion'], 1.0)
        self.assertIsNotNone(report['time_to_first_lap_s'])
        self.assertTrue((RUN_DIR / 'policy' / 'saved_model.pb').is_file())
        self.assertTrue((RUN_DIR / 'policy' / 'rl_f1_driver.yaml').is_file())
        self.assertTrue((RUN_DIR / 'train_state.json').is_file())

        # What rviz shows: the camera overlay, the driven path, a JSON line per episode.
        self.assertTrue(overlays, 'no overlay image arrived')
        self.assertEqual((overlays[-1].width, overlays[-1].height, overlays[-1].encoding),
                         (640, 480, 'bgr8'))
        self.assertTrue(paths, 'no path arrived')
        self.assertEqual(paths[-1].header.frame_id, 'odom')
        self.assertTrue(any(len(p.poses) >= 10 for p in paths))
        self.assertTrue(stats, 'no episode statistics arrived')
        episodes = [json.loads(m.data) for m in stats]
        for key in ('episode', 'completion', 'end_reason', 'steps', 'mean_abs_deviation_m'):
            self.assertIn(key, episodes[0])
        self.assertEqual([e['episode'] for e in episodes],
                         sorted(e['episode'] for e in episodes))


@launch_testing.post_shutdown_test()
class TestExit(unittest.TestCase):
    def test_the_launch_exits_cleanly(self, proc_info, train):
        launch_testing.asserts.assertExitCodes(proc_info, [0], process=train)
