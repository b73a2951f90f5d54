"""ROS 2 Humble messages of a drive, CDR-encoded, for recordings and the live view.

One message layer for every sink: a `Message` is a topic, a ROS type name, its CDR bytes and
the simulation time it belongs to; `Messages.schema(type)` is the type's full message
definition (ros2msg text with its dependencies), as rosbag2 stores it in MCAP. Messages are
built and serialised with rosbags' typestore of the Humble message definitions, so no ROS
installation is needed and nothing here hand-writes CDR.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Tuple

import numpy as np

from ..messages.conversions import bgr_to_image_fields, quaternion_from_yaw, seconds_to_stamp
from ..messages.markers import MarkerSpec, fill_marker_array, scene_markers
from ..sim.types import Frame, Pose2D, Twist
from ..track import Circuit

IMAGE = 'sensor_msgs/msg/Image'
COMPRESSED_IMAGE = 'sensor_msgs/msg/CompressedImage'
TWIST = 'geometry_msgs/msg/Twist'
ODOMETRY = 'nav_msgs/msg/Odometry'
PATH = 'nav_msgs/msg/Path'
TF = 'tf2_msgs/msg/TFMessage'
MARKERS = 'visualization_msgs/msg/MarkerArray'
STRING = 'std_msgs/msg/String'
FLOAT32 = 'std_msgs/msg/Float32'

JPEG_QUALITY = 90


@dataclass(frozen=True)
class Message:
    topic: str
    type: str            # ROS 2 type name, e.g. sensor_msgs/msg/Image
    data: bytes          # CDR, little endian, with its 4-byte encapsulation header
    log_time: int        # ns of simulation time

    @property
    def stamp(self) -> float:
        return self.log_time * 1e-9


def stamp_ns(t: float) -> int:
    sec, nanosec = seconds_to_stamp(t)
    return sec * 1_000_000_000 + nanosec


class Messages:
    """Builds and serialises the messages of a drive; one per process is enough."""

    def __init__(self):
        from rosbags.typesys import Stores, get_typestore
        self.store = get_typestore(Stores.ROS2_HUMBLE)
        self._t = self.store.types
        self._schemas: Dict[str, bytes] = {}
        self._circuits: Dict[Tuple[int, str, str, Optional[float]], List[MarkerSpec]] = {}

    def schema(self, msgtype: str) -> bytes:
        """The full ros2msg definition of `msgtype` (with its dependencies), as rosbag2 writes
        it into an MCAP schema record."""
        if msgtype not in self._schemas:
            text, _ = self.store.generate_msgdef(msgtype, ros_version=2)
            self._schemas[msgtype] = text.encode()
        return self._schemas[msgtype]

    def decode(self, msg: Message) -> Any:
        """The rosbags message object (for checks and tools)."""
        return self.store.deserialize_cdr(bytes(msg.data), msg.type)

    # --- building blocks ------------------------------------------------------------------

    def _encode(self, topic: str, msgtype: str, obj: Any, t: float) -> Message:
        return Message(topic, msgtype, bytes(self.store.serialize_cdr(obj, msgtype)),
                       stamp_ns(t))

    def _time(self, t: float) -> Any:
        sec, nanosec = seconds_to_stamp(t)
        return self._t['builtin_interfaces/msg/Time'](sec=sec, nanosec=nanosec)

    def _header(self, t: float, frame_id: str) -> Any:
        return self._t['std_msgs/msg/Header'](stamp=self._time(t), frame_id=frame_id)

    def _vector(self, x: float = 0.0, y: float = 0.0, z: float = 0.0) -> Any:
        return self._t['geometry_msgs/msg/Vector3'](x=float(x), y=float(y), z=float(z))

    def _point(self, x: float = 0.0, y: float = 0.0, z: float = 0.0) -> Any:
        return self._t['geometry_msgs/msg/Point'](x=float(x), y=float(y), z=float(z))

    def _quaternion(self, yaw: float) -> Any:
        x, y, z, w = quaternion_from_yaw(yaw)
        return self._t['geometry_msgs/msg/Quaternion'](x=x, y=y, z=z, w=w)

    def _pose(self, p: Pose2D, z: float = 0.0) -> Any:
        return self._t['geometry_msgs/msg/Pose'](
            position=self._point(p.x, p.y, z), orientation=self._quaternion(p.yaw))

    # --- messages -------------------------------------------------------------------------

    def image(self, topic: str, bgr: np.ndarray, t: float, frame_id: str) -> Message:
        """sensor_msgs/Image, bgr8 (as sim_node publishes the camera)."""
        f = bgr_to_image_fields(np.ascontiguousarray(bgr), 'bgr8')
        msg = self._t[IMAGE](header=self._header(t, frame_id), height=f.height, width=f.width,
                             encoding=f.encoding, is_bigendian=f.is_bigendian, step=f.step,
                             data=np.frombuffer(f.data, np.uint8))
        return self._encode(topic, IMAGE, msg, t)

    def compressed_image(self, topic: str, bgr: np.ndarray, t: float, frame_id: str,
                         quality: int = JPEG_QUALITY) -> Message:
        """sensor_msgs/CompressedImage, JPEG, named as image_transport's compressed plugin
        names it (`format: bgr8; jpeg compressed bgr8`)."""
        import cv2
        ok, jpeg = cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        if not ok:
            raise ValueError('JPEG encoding failed')
        msg = self._t[COMPRESSED_IMAGE](header=self._header(t, frame_id),
                                        format='bgr8; jpeg compressed bgr8',
                                        data=np.asarray(jpeg, np.uint8).reshape(-1))
        return self._encode(topic, COMPRESSED_IMAGE, msg, t)

    def twist(self, topic: str, cmd: Twist, t: float) -> Message:
        msg = self._t[TWIST](linear=self._vector(cmd.linear_x), angular=self._vector(
            z=cmd.angular_z))
        return self._encode(topic, TWIST, msg, t)

    def odometry(self, topic: str, frame: Frame, frame_id: str, child_frame_id: str,
                 angular_z: float = 0.0, z: float = 0.0) -> Message:
        """nav_msgs/Odometry as sim_node sends it: the world pose, the twist in the car frame."""
        T = self._t
        zeros = np.zeros(36, np.float64)
        msg = T[ODOMETRY](
            header=self._header(frame.stamp, frame_id), child_frame_id=child_frame_id,
            pose=T['geometry_msgs/msg/PoseWithCovariance'](pose=self._pose(frame.pose, z),
                                                           covariance=zeros),
            twist=T['geometry_msgs/msg/TwistWithCovariance'](
                twist=T[TWIST](linear=self._vector(float(frame.speed or 0.0)),
                               angular=self._vector(z=angular_z)),
                covariance=zeros))
        return self._encode(topic, ODOMETRY, msg, frame.stamp)

    def transform(self, topic: str, pose: Pose2D, t: float, parent: str, child: str,
                  z: float = 0.0) -> Message:
        """tf2_msgs/TFMessage with one transform parent -> child (odom -> base_link)."""
        T = self._t
        tf = T['geometry_msgs/msg/TransformStamped'](
            header=self._header(t, parent), child_frame_id=child,
            transform=T['geometry_msgs/msg/Transform'](
                translation=self._vector(pose.x, pose.y, z), rotation=self._quaternion(pose.yaw)))
        return self._encode(topic, TF, T[TF](transforms=[tf]), t)

    def pose_stamped(self, t: float, pose: Pose2D, frame_id: str, z: float = 0.0) -> Any:
        """A geometry_msgs/PoseStamped object (a path's element, built once per pose)."""
        return self._t['geometry_msgs/msg/PoseStamped'](
            header=self._header(t, frame_id), pose=self._pose(pose, z))

    def path(self, topic: str, poses: Iterable[Any], t: float, frame_id: str) -> Message:
        """nav_msgs/Path of `pose_stamped` objects."""
        return self._encode(topic, PATH, self._t[PATH](header=self._header(t, frame_id),
                                                       poses=list(poses)), t)

    def string(self, topic: str, record: Dict[str, Any], t: float) -> Message:
        """std_msgs/String holding one JSON object, as the nodes' statistics topics do."""
        return self._encode(topic, STRING, self._t[STRING](data=json.dumps(record, default=float)),
                            t)

    def float32(self, topic: str, value: float, t: float) -> Message:
        return self._encode(topic, FLOAT32, self._t[FLOAT32](data=float(value)), t)

    def circuit(self, topic: str, circuit: Circuit, t: float, frame_id: str,
                car_frame_id: str, car_front: Optional[float] = None) -> Message:
        """visualization_msgs/MarkerArray: both road edges, the red line and the start line
        (in `frame_id`), and, with `car_front`, the car's body boxes and wheels locked to
        `car_frame_id` (the Gazebo car's shapes): messages.markers.scene_markers, as the
        nodes publish it."""
        key = (id(circuit), frame_id, car_frame_id, car_front)
        specs = self._circuits.get(key)
        if specs is None:
            specs = scene_markers(circuit, frame_id, car_frame_id, car_front)
            self._circuits[key] = specs
        return self.markers(topic, specs, t)

    def markers(self, topic: str, specs: Iterable[MarkerSpec], t: float) -> Message:
        """visualization_msgs/MarkerArray of `specs`, stamped `t`."""
        msg = fill_marker_array(self._t[MARKERS](markers=[]), specs, self._blank_marker,
                                self._point, t)
        return self._encode(topic, MARKERS, msg, t)

    def _blank_marker(self) -> Any:
        """A Marker with every field empty (rosbags messages take all fields at creation)."""
        T = self._t
        M = T['visualization_msgs/msg/Marker']
        empty = np.zeros(0, np.uint8)
        return M(header=self._header(0.0, ''), ns='', id=0, type=0, action=M.ADD,
                 pose=self._pose(Pose2D(0.0, 0.0, 0.0)), scale=self._vector(),
                 color=T['std_msgs/msg/ColorRGBA'](r=0.0, g=0.0, b=0.0, a=0.0),
                 lifetime=T['builtin_interfaces/msg/Duration'](sec=0, nanosec=0),
                 frame_locked=False, points=[], colors=[], texture_resource='',
                 texture=T[COMPRESSED_IMAGE](header=self._header(0.0, ''), format='',
                                             data=empty),
                 uv_coordinates=[], text='', mesh_resource='',
                 mesh_file=T['visualization_msgs/msg/MeshFile'](filename='', data=empty),
                 mesh_use_embedded_materials=False)
