"""launch_testing: `ros2 launch rl_f1_driver drive.launch.py simulator:=embedded` drives a lap.

Once with the PID baseline and once with a DQN policy trained on the embedded simulator
(`rl-f1 train`, about half a minute). drive_node and sim_node of the colcon-installed package
talk over DDS; sim_node runs lock-step, so the car goes as fast as frame -> Twist -> frame goes
round. The test reads what rviz shows: the lap line (completion 1.0) on the drive statistics
topic, the perception overlay and the driven path.
"""
import json
import subprocess
import sys
import unittest
from pathlib import Path

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

LAP_TIMEOUT = 240.0


def _train_policy() -> Path:
    """A lines policy of the quick-start config, stopped at its first lap both ways."""
    work = launch_tmp_path('launch_drive')
    config = work / 'train.yaml'
    config.write_text(yaml.safe_dump({'track': 'simple', 'seed': 0,
                                      'env': {'observation': 'lines'},
                                      'train': {'steps': 30000, 'stop_on_lap': True,
                                                'min_steps': 0}}))
    done = subprocess.run([sys.executable, '-m', 'rl_f1_driver', 'train', '--config',
                           str(config), '--out', str(work / 'run')],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return work / 'run' / 'policy'


@pytest.mark.launch_test
@launch_testing.parametrize('controller', ['pid', 'policy'])
def generate_test_description(controller):
    domain = fresh_domain_id()
    args = {'simulator': 'embedded', 'circuit': 'simple', 'controller': controller,
            'stepping': 'lockstep'}
    if controller == 'policy':
        args['policy_dir'] = _train_policy()
    drive = ros2_launch_action('drive.launch.py', args, domain, name='drive_launch')
    return (launch.LaunchDescription([drive, KeepAliveProc(), ReadyToTest()]),
            {'drive': drive, 'domain': domain})


class TestDrivingThroughTheRosGraph(unittest.TestCase):
    def test_drives_a_full_lap_and_shows_it(self, domain, drive, controller):
        from nav_msgs.msg import Path as PathMsg
        from sensor_msgs.msg import Image
        from std_msgs.msg import String

        from ros_support import wait_for
        from rl_f1_driver.ros.node_util import MONITOR_QOS
        probe = Probe(domain)
        try:
            stats = probe.collect(String, '/rl_f1/drive_stats')
            overlays = probe.collect(Image, '/rl_f1/overlay', MONITOR_QOS)
            paths = probe.collect(PathMsg, '/rl_f1/path', MONITOR_QOS)

            def laps():
                return [r for r in map(json.loads, (m.data for m in stats))
                        if r['event'] == 'lap']
            lapped = wait_for(lambda: laps() and overlays and paths, LAP_TIMEOUT)
        finally:
            probe.close()
        self.assertTrue(lapped, f'{controller}: no lap within {LAP_TIMEOUT} s '
                                f'(stats: {[m.data for m in stats][-3:]})')
        lap = laps()[0]
        self.assertEqual(lap['completion'], 1.0)
        self.assertEqual(lap['direction'], 'forward')
        # simple is 208 m: a lap at the car's 4-7 m/s takes 30-60 s of simulation time.
        self.assertTrue(25.0 < lap['lap_time_s'] < 80.0, lap)
        self.assertLess(lap['mean_abs_deviation_m'], 1.0)
        image = overlays[-1]
        self.assertEqual((image.width, image.height, image.encoding), (640, 480, 'bgr8'))
        self.assertEqual(paths[-1].header.frame_id, 'odom')
        self.assertGreaterEqual(len(paths[-1].poses), 10)


@launch_testing.post_shutdown_test()
class TestExit(unittest.TestCase):
    def test_the_launch_exits_cleanly(self, proc_info, drive):
        launch_testing.asserts.assertExitCodes(proc_info, [0], process=drive)
