"""launch_testing: sim_node and drive_node (PID controller) come up and drive the car.

Runs only with ROS 2 Humble sourced and the package installed (colcon); skipped elsewhere.
CI: .github/workflows/ros-humble.yml.
"""
import time
import unittest

import pytest

rclpy = pytest.importorskip('rclpy')
launch = pytest.importorskip('launch')
launch_ros = pytest.importorskip('launch_ros')
launch_testing = pytest.importorskip('launch_testing')
pytest.importorskip('ament_index_python')

import launch_testing.actions  # noqa: E402
import launch_testing.asserts  # noqa: E402
from ament_index_python.packages import get_package_share_directory  # noqa: E402
from geometry_msgs.msg import Twist  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402

ROS_YAML = f'{get_package_share_directory("rl_f1_driver")}/config/ros.yaml'


@pytest.mark.launch_test
def generate_test_description():
    sim = launch_ros.actions.Node(
        package='rl_f1_driver', executable='sim_node', name='sim_node', output='screen',
        parameters=[ROS_YAML, {'track': 'simple'}])
    drive = launch_ros.actions.Node(
        package='rl_f1_driver', executable='drive_node', name='drive_node', output='screen',
        parameters=[ROS_YAML, {'controller': 'pid'}])
    return (launch.LaunchDescription([sim, drive, launch_testing.actions.ReadyToTest()]),
            {'sim': sim, 'drive': drive})


class TestPipeline(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        rclpy.init()

    @classmethod
    def tearDownClass(cls):
        rclpy.shutdown()

    def setUp(self):
        self.node = rclpy.create_node('pipeline_probe')

    def tearDown(self):
        self.node.destroy_node()

    def _collect(self, kind, topic, done, timeout=60.0):
        got = []
        self.node.create_subscription(kind, topic, got.append, 10)
        end = time.monotonic() + timeout
        while time.monotonic() < end and not done(got):
            rclpy.spin_once(self.node, timeout_sec=0.1)
        return got

    def test_camera_images_are_published(self):
        images = self._collect(Image, '/f1/camera/image_raw', lambda g: len(g) >= 3)
        self.assertGreaterEqual(len(images), 3)
        self.assertEqual((images[0].width, images[0].height), (640, 480))

    def test_drive_node_drives_the_car_forward(self):
        twists = self._collect(Twist, '/f1/cmd_vel',
                               lambda g: sum(m.linear.x > 0 for m in g) >= 5)
        self.assertGreaterEqual(sum(m.linear.x > 0 for m in twists), 5)


@launch_testing.post_shutdown_test()
class TestShutdown(unittest.TestCase):
    def test_nodes_exit_cleanly(self, proc_info):
        # 0: our nodes catch SIGINT, send a last stop command and exit normally.
        launch_testing.asserts.assertExitCodes(proc_info, allowable_exit_codes=[0])
