"""Image / Twist / pose conversions on the real ROS 2 Humble message definitions (rosbags)."""
import math
from types import SimpleNamespace

import numpy as np
import pytest

from rl_f1_driver.messages import conversions as cv
from rl_f1_driver.sim.types import Pose2D, Twist

rosbags_typesys = pytest.importorskip('rosbags.typesys')
TS = rosbags_typesys.get_typestore(rosbags_typesys.Stores.ROS2_HUMBLE)
T = TS.types
IMAGE = 'sensor_msgs/msg/Image'


def _header(sec=12, nanosec=345_000_000, frame='camera_link'):
    return T['std_msgs/msg/Header'](stamp=T['builtin_interfaces/msg/Time'](sec=sec,
                                                                           nanosec=nanosec),
                                    frame_id=frame)


def _roundtrip(msg, typename):
    """Serialise to CDR and back, as a message crossing DDS would."""
    return TS.deserialize_cdr(TS.serialize_cdr(msg, typename), typename)


def _image_msg(pixels: np.ndarray, encoding: str, pad: int = 0):
    """An Image whose rows are `pad` bytes longer than the pixels (filled with 0xEE)."""
    h, w = pixels.shape[:2]
    ch = 1 if pixels.ndim == 2 else pixels.shape[2]
    step = w * ch + pad
    raw = np.full((h, step), 0xEE, np.uint8)
    raw[:, :w * ch] = pixels.reshape(h, w * ch)
    msg = T[IMAGE](header=_header(), height=h, width=w, encoding=encoding, is_bigendian=0,
                   step=step, data=raw.reshape(-1))
    return _roundtrip(msg, IMAGE)


@pytest.fixture
def bgr():
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)


@pytest.mark.parametrize('pad', [0, 3])
def test_bgr8_roundtrip_with_row_padding(bgr, pad):
    out = cv.image_to_bgr(_image_msg(bgr, 'bgr8', pad))
    assert out.shape == (5, 7, 3) and out.dtype == np.uint8 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, bgr)


@pytest.mark.parametrize('pad', [0, 5])
def test_rgb8_is_reordered_to_bgr(bgr, pad):
    out = cv.image_to_bgr(_image_msg(bgr[:, :, ::-1].copy(), 'rgb8', pad))
    np.testing.assert_array_equal(out, bgr)


def test_a_pure_red_rgb8_pixel_comes_out_red_in_bgr():
    red_rgb = np.zeros((1, 2, 3), np.uint8)
    red_rgb[..., 0] = 255
    out = cv.image_to_bgr(_image_msg(red_rgb, 'rgb8'))
    assert out[0, 0].tolist() == [0, 0, 255]


@pytest.mark.parametrize('pad', [0, 1])
def test_mono8_becomes_three_equal_channels(pad):
    mono = np.arange(4 * 6, dtype=np.uint8).reshape(4, 6) * 10
    out = cv.image_to_bgr(_image_msg(mono, 'mono8', pad))
    assert out.shape == (4, 6, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[:, :, c], mono)


def test_rgba8_drops_alpha(bgr):
    rgba = np.concatenate([bgr[:, :, ::-1], np.full((5, 7, 1), 9, np.uint8)], axis=2)
    np.testing.assert_array_equal(cv.image_to_bgr(_image_msg(rgba, 'rgba8', 2)), bgr)


def test_bgr_to_image_fields_roundtrips_through_cdr(bgr):
    for enc in ('bgr8', 'rgb8'):
        f = cv.bgr_to_image_fields(bgr, enc)
        assert (f.height, f.width, f.step, f.encoding) == (5, 7, 21, enc)
        msg = T[IMAGE](header=_header(), height=f.height, width=f.width, encoding=f.encoding,
                       is_bigendian=f.is_bigendian, step=f.step,
                       data=np.frombuffer(f.data, np.uint8))
        np.testing.assert_array_equal(cv.image_to_bgr(_roundtrip(msg, IMAGE)), bgr)


def test_bgr_to_mono8_matches_opencv(bgr):
    import cv2
    f = cv.bgr_to_image_fields(bgr, 'mono8')
    got = np.frombuffer(f.data, np.uint8).reshape(5, 7)
    assert np.abs(got.astype(int) - cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)).max() <= 1


def test_fill_image_msg_writes_an_array_of_bytes(bgr):
    import array
    msg = SimpleNamespace()
    cv.fill_image_msg(msg, bgr)
    assert isinstance(msg.data, array.array) and msg.data.typecode == 'B'
    np.testing.assert_array_equal(cv.image_to_bgr(msg), bgr)


@pytest.mark.parametrize('change, message', [
    (dict(encoding='16UC1'), 'not supported'),
    (dict(step=20), 'step 20 is less than'),
    (dict(height=6), r'expected step \* height'),
    (dict(width=0), 'no pixels'),
])
def test_bad_images_raise_a_clear_error(bgr, change, message):
    msg = _image_msg(bgr, 'bgr8')
    fields = dict(height=msg.height, width=msg.width, encoding=msg.encoding, step=msg.step,
                  data=msg.data)
    fields.update(change)
    with pytest.raises(cv.ImageConversionError, match=message):
        cv.image_to_bgr(SimpleNamespace(**fields))


def test_bgr_to_image_rejects_non_bgr_arrays():
    with pytest.raises(cv.ImageConversionError, match='uint8 BGR'):
        cv.bgr_to_image_fields(np.zeros((4, 4), np.uint8))
    with pytest.raises(cv.ImageConversionError, match='bgr8, rgb8 or mono8'):
        cv.bgr_to_image_fields(np.zeros((4, 4, 3), np.uint8), 'yuv422')


def test_twist_roundtrip_through_cdr():
    msg = T['geometry_msgs/msg/Twist'](linear=T['geometry_msgs/msg/Vector3'](x=9, y=9, z=9),
                                       angular=T['geometry_msgs/msg/Vector3'](x=9, y=9, z=9))
    cv.fill_twist_msg(msg, Twist(3.5, -0.9))
    back = _roundtrip(msg, 'geometry_msgs/msg/Twist')
    assert cv.twist_from_msg(back) == Twist(3.5, -0.9)
    assert (back.linear.y, back.linear.z, back.angular.x, back.angular.y) == (0, 0, 0, 0)
    assert cv.twist_fields(Twist(1.0, 2.0)) == {'linear': {'x': 1.0, 'y': 0.0, 'z': 0.0},
                                                'angular': {'x': 0.0, 'y': 0.0, 'z': 2.0}}


def test_clip_twist():
    assert cv.clip_twist(Twist(12.0, -5.0), 10.0, 3.0) == Twist(10.0, -3.0)


@pytest.mark.parametrize('t', [0.0, 12.345, 1e-9, 100000.999999999, -0.25])
def test_stamps(t):
    sec, nanosec = cv.seconds_to_stamp(t)
    assert 0 <= nanosec < 1_000_000_000
    stamp = T['builtin_interfaces/msg/Time'](sec=sec, nanosec=nanosec)
    assert cv.stamp_to_seconds(_roundtrip(stamp, 'builtin_interfaces/msg/Time')) == \
        pytest.approx(t, abs=1e-9)


@pytest.mark.parametrize('yaw', [0.0, 0.5, -2.0, math.pi - 1e-6, -math.pi / 2])
def test_pose_and_quaternion(yaw):
    pose = T['geometry_msgs/msg/Pose'](position=T['geometry_msgs/msg/Point'](x=0, y=0, z=0),
                                       orientation=T['geometry_msgs/msg/Quaternion'](
                                           x=0, y=0, z=0, w=1))
    cv.fill_pose_msg(pose, Pose2D(1.5, -2.0, yaw), z=0.01)
    back = cv.pose2d_from_pose(_roundtrip(pose, 'geometry_msgs/msg/Pose'))
    assert (back.x, back.y) == (1.5, -2.0)
    assert math.isclose(math.cos(back.yaw - yaw), 1.0, abs_tol=1e-12)


def test_odometry_state_from_a_planar_move_message():
    odom = T['nav_msgs/msg/Odometry'](
        header=_header(3, 500_000_000, 'odom'), child_frame_id='base_link',
        pose=T['geometry_msgs/msg/PoseWithCovariance'](
            pose=cv.fill_pose_msg(T['geometry_msgs/msg/Pose'](
                position=T['geometry_msgs/msg/Point'](x=0, y=0, z=0),
                orientation=T['geometry_msgs/msg/Quaternion'](x=0, y=0, z=0, w=1)),
                Pose2D(4.0, 5.0, 1.0)),
            covariance=np.zeros(36)),
        twist=T['geometry_msgs/msg/TwistWithCovariance'](
            twist=cv.fill_twist_msg(T['geometry_msgs/msg/Twist'](
                linear=T['geometry_msgs/msg/Vector3'](x=0, y=0, z=0),
                angular=T['geometry_msgs/msg/Vector3'](x=0, y=0, z=0)), Twist(2.5, 0.1)),
            covariance=np.zeros(36)))
    stamp, pose, speed = cv.odometry_state(_roundtrip(odom, 'nav_msgs/msg/Odometry'))
    assert stamp == pytest.approx(3.5)
    assert (pose.x, pose.y) == (4.0, 5.0) and pose.yaw == pytest.approx(1.0)
    assert speed == 2.5


def _model_states_store():
    """gazebo_msgs is not in rosbags' Humble store: register its (stable) definition."""
    from rosbags.typesys import get_types_from_msg
    store = rosbags_typesys.get_typestore(rosbags_typesys.Stores.ROS2_HUMBLE)
    store.register(get_types_from_msg(
        'string[] name\ngeometry_msgs/Pose[] pose\ngeometry_msgs/Twist[] twist\n',
        'gazebo_msgs/msg/ModelStates'))
    return store


def test_model_state_picks_the_named_model_and_projects_speed_on_heading():
    store = _model_states_store()
    S = store.types

    def pose(x, yaw):
        return cv.fill_pose_msg(S['geometry_msgs/msg/Pose'](
            position=S['geometry_msgs/msg/Point'](x=0, y=0, z=0),
            orientation=S['geometry_msgs/msg/Quaternion'](x=0, y=0, z=0, w=1)),
            Pose2D(x, 0.0, yaw))

    def twist(vx, vy):
        return S['geometry_msgs/msg/Twist'](linear=S['geometry_msgs/msg/Vector3'](x=vx, y=vy,
                                                                                  z=0),
                                            angular=S['geometry_msgs/msg/Vector3'](x=0, y=0,
                                                                                   z=0))
    msg = S['gazebo_msgs/msg/ModelStates'](name=['ground', 'f1_car'],
                                           pose=[pose(0, 0), pose(7.0, math.pi / 2)],
                                           twist=[twist(0, 0), twist(0.0, 3.0)])
    raw = store.serialize_cdr(msg, 'gazebo_msgs/msg/ModelStates')
    back = store.deserialize_cdr(raw, 'gazebo_msgs/msg/ModelStates')
    p, speed = cv.model_state(back, 'f1_car')
    assert p.x == 7.0 and p.yaw == pytest.approx(math.pi / 2)
    assert speed == pytest.approx(3.0)
    assert cv.model_state(back, 'missing') is None
