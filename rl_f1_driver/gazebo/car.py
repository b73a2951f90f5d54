"""Our F1-style car for Gazebo: visuals, a planar-move drive plugin and the camera.

The car is kinematic like the embedded simulator's: no collisions and no gravity on its one
link, so contact friction cannot fight the planar-move plugin, which sets the velocities from
`cmd_vel` (it rotates the link about its centre of mass, placed at the model origin, which is
the reference point of the embedded car). The camera sensor's intrinsics and mount come from
the same `CameraConfig` as the embedded renderer. All body parts lie behind the camera, so
they never appear in its image (the embedded camera sees no car either).
"""
from __future__ import annotations

import math
from typing import List, Tuple

from ..config import CameraConfig
from ..scene import HELMET, TYRE, body_parts, camera_mount, car_front, wheels
from .sdf import attr, box_visual, material, nums, pose, text


def part_corners(camera: CameraConfig) -> List[Tuple[str, Tuple[float, float, float]]]:
    """Corners of every body part and wheel (wheels as boxes), for the visibility check."""
    front = car_front(camera)
    out = []
    boxes = [(p.name, p.size, p.centre) for p in body_parts(front)]
    boxes += [(n, (2 * r, w, 2 * r), (x, y, r)) for n, x, y, r, w in wheels(front)]
    for name, (sx, sy, sz), (cx, cy, cz) in boxes:
        for dx in (-sx / 2, sx / 2):
            for dy in (-sy / 2, sy / 2):
                for dz in (-sz / 2, sz / 2):
                    out.append((name, (cx + dx, cy + dy, cz + dz)))
    return out


def visible_in_camera(camera: CameraConfig, point: Tuple[float, float, float]) -> bool:
    """Whether a point of the car frame falls inside the camera's view frustum."""
    mx, _, mz = camera_mount(camera)[:3]      # the sensor's place in the car frame
    px = point[0] - mx
    py = point[1]
    pz = point[2] - mz
    cp, sp = math.cos(camera.pitch), math.sin(camera.pitch)
    depth = px * cp - pz * sp                    # along the optical axis (pitched down)
    if depth < camera.clip_near or depth > camera.clip_far:
        return False
    down = -(px * sp + pz * cp)
    f = camera.fx
    u = camera.width / 2.0 - f * py / depth
    v = camera.height / 2.0 + f * down / depth
    return 0 <= u < camera.width and 0 <= v < camera.height


def car_model_sdf(name: str, start: Tuple[float, float, float], z: float,
                  camera: CameraConfig, namespace: str, cmd_vel_topic: str, odom_topic: str,
                  camera_topic: str, odom_frame: str, base_frame: str, camera_frame: str,
                  indent: str = '    ') -> str:
    """The car model, placed at `start` (x, y, yaw) with its origin `z` above the ground."""
    front = car_front(camera)
    i2, i3, i4 = indent + '  ', indent + '    ', indent + '      '
    lines = [f'{indent}<model name={attr(name)}>',
             f'{i2}{pose(start[0], start[1], z, 0, 0, start[2])}',
             f'{i2}<static>false</static>',
             f'{i2}<link name={attr(base_frame)}>',
             f'{i3}<gravity>false</gravity>',
             f'{i3}<inertial><pose>0 0 0.3 0 0 0</pose><mass>600</mass><inertia>'
             '<ixx>60</ixx><ixy>0</ixy><ixz>0</ixz><iyy>550</iyy><iyz>0</iyz><izz>580</izz>'
             '</inertia></inertial>']
    for p in body_parts(front):
        lines.append(box_visual(p.name, p.size, (*p.centre, 0, 0, 0), p.bgr, i3))
    for wname, x, y, r, w in wheels(front):
        lines.append(f'{i3}<visual name={attr(wname)}>{pose(x, y, r, math.pi / 2, 0, 0)}'
                     f'<geometry><cylinder><radius>{nums([r])}</radius>'
                     f'<length>{nums([w])}</length></cylinder></geometry>'
                     f'{material(TYRE)}</visual>')
    lines.append(f'{i3}<visual name="helmet">{pose(front - 1.75, 0, 0.62)}'
                 '<geometry><sphere><radius>0.13</radius></sphere></geometry>'
                 f'{material(HELMET)}</visual>')
    c = camera
    # Gazebo's camera looks along +x of its sensor frame; a positive pitch tilts it down.
    # cx, cy: image centre in ROS pixel coordinates (pixel centres on integers), as the
    # embedded renderer's pinhole model has it; only camera_info uses them.
    lines += [
        f'{i3}<sensor name="camera" type="camera">',
        f'{i4}<always_on>true</always_on>',
        f'{i4}<update_rate>{nums([c.rate_hz])}</update_rate>',
        f'{i4}<visualize>false</visualize>',
        f'{i4}{pose(*camera_mount(c))}',
        f'{i4}<camera name="front">',
        f'{i4}  <horizontal_fov>{nums([c.hfov])}</horizontal_fov>',
        f'{i4}  <image><width>{c.width}</width><height>{c.height}</height>'
        '<format>R8G8B8</format></image>',
        f'{i4}  <clip><near>{nums([c.clip_near])}</near><far>{nums([c.clip_far])}</far></clip>',
        f'{i4}</camera>',
        f'{i4}<plugin name="camera_driver" filename="libgazebo_ros_camera.so">',
        f'{i4}  <ros>',
        f'{i4}    <namespace>{text(namespace)}</namespace>',
        f'{i4}    <remapping>camera/image_raw:={text(camera_topic)}</remapping>',
        f'{i4}  </ros>',
        f'{i4}  <camera_name>camera</camera_name>',
        f'{i4}  <frame_name>{text(camera_frame)}</frame_name>',
        f'{i4}  <cx>{nums([(c.width - 1) / 2.0])}</cx>',
        f'{i4}  <cy>{nums([(c.height - 1) / 2.0])}</cy>',
        f'{i4}</plugin>',
        f'{i3}</sensor>',
        f'{i2}</link>',
        # Planar move: Twist in, world pose out as odometry (ground truth), odom->base TF.
        f'{i2}<plugin name="drive" filename="libgazebo_ros_planar_move.so">',
        f'{i3}<ros>',
        f'{i3}  <namespace>{text(namespace)}</namespace>',
        f'{i3}  <remapping>cmd_vel:={text(cmd_vel_topic)}</remapping>',
        f'{i3}  <remapping>odom:={text(odom_topic)}</remapping>',
        f'{i3}</ros>',
        f'{i3}<update_rate>100</update_rate>',
        f'{i3}<publish_rate>{nums([max(50.0, 2 * c.rate_hz)])}</publish_rate>',
        f'{i3}<publish_odom>true</publish_odom>',
        f'{i3}<publish_odom_tf>true</publish_odom_tf>',
        f'{i3}<odometry_frame>{text(odom_frame)}</odometry_frame>',
        f'{i3}<robot_base_frame>{text(base_frame)}</robot_base_frame>',
        f'{i2}</plugin>',
        f'{indent}</model>',
    ]
    return '\n'.join(lines)
