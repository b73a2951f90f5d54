"""/tf and /tf_static without tf2_ros: TFMessage publishers with tf2_ros's own QoS.

tf2_ros is not among the ROS 2 wheels on PyPI, and the nodes only ever send transforms, which
is one publisher each. The QoS profiles are those of tf2_ros's broadcasters (Humble to Kilted),
so rviz, tf2_echo and every TransformListener receive them as from tf2_ros:
- /tf: reliable, volatile, keep last 100 (DynamicBroadcasterQoS);
- /tf_static: reliable, transient local, keep last 1 (StaticBroadcasterQoS): one message that
  holds every static transform of the node, re-sent whole when one is added, so a late
  listener gets them all.
"""
from __future__ import annotations

from typing import Any, Dict

from geometry_msgs.msg import TransformStamped
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from tf2_msgs.msg import TFMessage

from .node_util import LATCHED_QOS

TF_TOPIC = '/tf'
TF_STATIC_TOPIC = '/tf_static'
DYNAMIC_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100,
                         reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.VOLATILE)
# Latched, as the circuit for rviz: tf2_ros's StaticBroadcasterQoS is that same profile.
STATIC_QOS = LATCHED_QOS


class TransformPublisher:
    """Moving transforms on /tf (odom -> base_link)."""

    def __init__(self, node: Any):
        self._pub = node.create_publisher(TFMessage, TF_TOPIC, DYNAMIC_QOS)

    def send(self, transform: TransformStamped) -> None:
        self._pub.publish(TFMessage(transforms=[transform]))


class StaticTransformPublisher:
    """Fixed transforms on /tf_static (base_link -> camera_link), latched."""

    def __init__(self, node: Any):
        self._pub = node.create_publisher(TFMessage, TF_STATIC_TOPIC, STATIC_QOS)
        self._by_child: Dict[str, TransformStamped] = {}

    def send(self, transform: TransformStamped) -> None:
        self._by_child[transform.child_frame_id] = transform
        self._pub.publish(TFMessage(transforms=list(self._by_child.values())))
