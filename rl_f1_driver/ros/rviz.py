"""What rviz needs beyond the nodes' own topics: the circuit and the car, the numbers, and
the camera's frame. Imports rclpy: used only by node modules.

- circuit_topic: the circuit (road edges, red line, start line) and the car (locked to the
  base frame), one latched MarkerArray (TRANSIENT_LOCAL, reliable, depth 1), so an rviz
  started later still gets it;
- numbers_topic: the numbers as TEXT_VIEW_FACING markers over the car (volatile: only the
  newest matter);
- /tf_static: base_frame -> camera_frame from the camera mount of the config (scene.camera_mount,
  the same pose the Gazebo sensor has), so every frame id the nodes stamp is connected
  (odom -> base_link comes from sim_node or Gazebo's planar-move plugin).

The marker content is messages.markers' (as in recordings and the live view).
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

from geometry_msgs.msg import Point, TransformStamped
from visualization_msgs.msg import Marker, MarkerArray

from ..config import CameraConfig
from ..messages.conversions import quaternion_from_rpy
from ..messages.markers import fill_marker_array, scene_markers, text_markers
from ..scene import camera_mount, car_front
from ..track import Circuit
# numbers: the newest only, reliable like rviz's default; the circuit latched
from .node_util import LATCHED_QOS, MONITOR_QOS
from .tf_publish import StaticTransformPublisher


def _point(x: float, y: float, z: float) -> Point:
    return Point(x=float(x), y=float(y), z=float(z))


def marker_array(specs: Sequence[Any]) -> MarkerArray:
    """MarkerArray of messages.markers specs; stamps left at 0 (rviz takes the newest
    transform, so frame-locked markers follow the car however late they were sent)."""
    return fill_marker_array(MarkerArray(), specs, Marker, _point)


def camera_transform(camera: CameraConfig, base_frame: str, camera_frame: str,
                     stamp: Any) -> TransformStamped:
    """base_frame -> camera_frame at the camera mount."""
    x, y, z, roll, pitch, yaw = camera_mount(camera)
    tf = TransformStamped()
    tf.header.stamp = stamp
    tf.header.frame_id = base_frame
    tf.child_frame_id = camera_frame
    tf.transform.translation.x, tf.transform.translation.y = x, y
    tf.transform.translation.z = z
    q = tf.transform.rotation
    q.x, q.y, q.z, q.w = quaternion_from_rpy(roll, pitch, yaw)
    return tf


class RvizPublisher:
    """Publishes the circuit once (latched), the camera mount once (static TF), and the
    numbers whenever `numbers` is called. `p`: the node's parameters (circuit_topic,
    numbers_topic, odom_frame, base_frame, camera_frame)."""

    def __init__(self, node: Any, p: Dict[str, Any], circuit: Circuit,
                 camera: Optional[CameraConfig]):
        self.node = node
        self.p = p
        self.circuit_pub = node.create_publisher(MarkerArray, p['circuit_topic'], LATCHED_QOS)
        self.numbers_pub = node.create_publisher(MarkerArray, p['numbers_topic'], MONITOR_QOS)
        front = car_front(camera) if camera is not None else None
        self.circuit_msg = marker_array(scene_markers(circuit, p['odom_frame'], p['base_frame'],
                                                      front))
        self.circuit_pub.publish(self.circuit_msg)
        self.static_tf = None
        if camera is not None:
            self.static_tf = StaticTransformPublisher(node)
            self.static_tf.send(camera_transform(
                camera, p['base_frame'], p['camera_frame'], node.get_clock().now().to_msg()))

    def numbers(self, lines: Sequence[str]) -> None:
        """The numbers as text over the car, only while someone subscribes."""
        if self.numbers_pub.get_subscription_count() > 0:
            self.numbers_pub.publish(marker_array(text_markers(lines, self.p['base_frame'])))
