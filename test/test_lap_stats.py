"""Lap and episode statistics from ground-truth poses (drive.lap_stats), without ROS."""
import math

import pytest

from rl_f1_driver.config import load_config
from rl_f1_driver.drive.controller import PidController
from rl_f1_driver.drive.lap_stats import JUMP_M, LapStats, drive_circuit
from rl_f1_driver.drive.runner import drive
from rl_f1_driver.errors import UserError
from rl_f1_driver.sim.types import Pose2D
from rl_f1_driver.track import load_circuit


def _feed(stats, poses, t0=0.0, dt=0.05):
    """Feed (x, y, yaw) poses dt apart; all records returned, and the last stamp."""
    records, t = [], t0
    for k, (x, y, yaw) in enumerate(poses):
        t = t0 + k * dt
        records += stats.update(t, Pose2D(x, y, yaw))
    return records, t


def _along(circuit, start, metres, step=0.5, lateral=lambda d: 0.0):
    """Poses along the circuit's line (its driving direction), lateral(d) m to its left
    after d metres."""
    for k in range(int(metres / step) + 1):
        d = k * step
        x, y, yaw = circuit.pose_at(start + d / circuit.length)
        off = lateral(d)
        yield x - off * math.sin(yaw), y + off * math.cos(yaw), yaw


def _driven_poses(result, circuit, start=0.0):
    """The reset pose and the pose after every step of runner.drive's recorded path."""
    yield circuit.pose_at(start)
    for x, y, _speed in result['path']:
        yield x, y, 0.0


@pytest.mark.parametrize('reverse', [False, True])
def test_a_pid_lap_on_the_embedded_simulator_is_one_lap_like_rl_f1_drive_reports(reverse):
    cfg = load_config()
    circuit = load_circuit('simple')
    driven = circuit.reversed() if reverse else circuit
    result = drive(PidController(cfg), driven, laps=1)
    assert result['laps_completed'] == 1
    stats = LapStats(circuit)       # the forward circuit: the direction is found from poses
    records, _ = _feed(stats, _driven_poses(result, driven), dt=cfg.camera.control_period)
    assert [r['event'] for r in records] == ['lap']
    lap = records[0]
    assert lap['lap'] == 1 and lap['completion'] == 1.0 and lap['episode'] == 1
    assert lap['direction'] == ('reverse' if reverse else 'forward')
    # Same poses, same tracker and metrics as `rl-f1 drive`: the same lap time.
    assert lap['lap_time_s'] == pytest.approx(result['lap_time_s'], abs=1e-6)
    # The PID drives between its min and max speed: 2-6 m/s.
    assert circuit.length / 6.0 < lap['lap_time_s'] < circuit.length / 2.0
    assert lap['mean_speed_mps'] == pytest.approx(lap['distance_m'] / lap['lap_time_s'])
    assert lap['distance_m'] == pytest.approx(circuit.length, rel=0.05)
    assert lap['mean_abs_deviation_m'] == pytest.approx(result['mean_abs_deviation_m'],
                                                        rel=0.05)
    assert 0.0 < lap['mean_abs_deviation_m'] <= lap['max_abs_deviation_m'] < 1.0
    assert lap['stamp'] == pytest.approx(lap['lap_time_s'])
    end = stats.finish()
    assert end['event'] == 'episode' and end['laps'] == 1 and end['completion'] == 1.0
    assert end['direction'] == lap['direction'] and end['end_reason'] == 'shutdown'


def test_each_lap_is_measured_on_its_own():
    circuit = load_circuit('simple')
    stats = LapStats(circuit)
    # 10 m/s (0.5 m every 0.05 s), 1 m left of the line on the first lap, 0.2 m on the next.
    records, _ = _feed(stats, _along(circuit, 0.0, 2 * circuit.length + 5.0,
                                     lateral=lambda d: 1.0 if d < circuit.length else 0.2))
    laps = [r for r in records if r['event'] == 'lap']
    assert [r['lap'] for r in laps] == [1, 2]
    assert all(r['direction'] == 'forward' for r in laps)
    assert laps[0]['lap_time_s'] == pytest.approx(circuit.length / 10.0, rel=0.02)
    assert laps[1]['lap_time_s'] == pytest.approx(laps[0]['lap_time_s'], rel=0.02)
    # 10 m/s along the line; 1 m beside it the curves make the path a little shorter.
    assert laps[1]['mean_speed_mps'] == pytest.approx(10.0, rel=0.02)
    assert laps[0]['mean_speed_mps'] == pytest.approx(10.0, rel=0.05)
    assert laps[0]['mean_abs_deviation_m'] == pytest.approx(1.0, abs=0.05)
    assert laps[1]['mean_abs_deviation_m'] == pytest.approx(0.2, abs=0.05)
    assert laps[1]['max_abs_deviation_m'] < 0.5      # the first lap's 1 m does not carry over
    assert stats.laps == 2


def test_a_teleport_ends_the_episode_and_starts_the_next():
    circuit = load_circuit('simple')
    stats = LapStats(circuit)
    records, t = _feed(stats, _along(circuit, 0.0, circuit.length / 2))
    assert records == []
    # A reset puts the car back at the start: a jump of far more than JUMP_M in one step.
    x, y, yaw = circuit.pose_at(0.0)
    records = stats.update(t + 0.05, Pose2D(x, y, yaw))
    assert [r['event'] for r in records] == ['episode']
    ep = records[0]
    assert ep['episode'] == 1 and ep['end_reason'] == 'reset' and ep['laps'] == 0
    assert ep['completion'] == pytest.approx(0.5, abs=0.01)
    assert ep['distance_m'] == pytest.approx(circuit.length / 2, rel=0.01)
    assert ep['direction'] == 'forward' and ep['stamp'] == pytest.approx(t)
    # The new episode starts at the reset pose: its progress does not include the old one.
    records, t = _feed(stats, _along(circuit, 0.0, 20.0), t0=t + 0.1)
    assert records == [] and stats.episodes == 2
    end = stats.finish()
    assert end['episode'] == 2 and end['completion'] == pytest.approx(20.0 / circuit.length,
                                                                      abs=0.01)
    assert stats.finish() is None                   # ended: nothing more to report


def test_time_running_backwards_is_a_reset_but_standing_still_or_driving_fast_is_not():
    circuit = load_circuit('simple')
    stats = LapStats(circuit)
    x, y, yaw = circuit.pose_at(0.1)
    assert stats.update(10.0, Pose2D(x, y, yaw)) == []
    assert stats.update(15.0, Pose2D(x, y, yaw)) == []             # stopped for 5 s
    # 9 m in 0.5 s (18 m/s, between odometry messages a few apart): driving, not a reset.
    x2, y2, yaw2 = circuit.pose_at(0.1 + 9.0 / circuit.length)
    assert math.hypot(x2 - x, y2 - y) > JUMP_M
    assert stats.update(15.5, Pose2D(x2, y2, yaw2)) == []
    records = stats.update(1.0, Pose2D(x2, y2, yaw2))              # simulation restarted
    assert [r['event'] for r in records] == ['episode'] and stats.episodes == 2


def test_the_circuit_comes_from_the_track_parameter_else_the_config():
    assert drive_circuit('hairpins', None).name == load_circuit('hairpins').name
    cfg = load_config(overrides={'track': 'many_curves'})
    assert drive_circuit('', cfg).name == load_circuit('many_curves').name
    assert drive_circuit('  ', None).name == load_circuit(load_config().track).name
    with pytest.raises(UserError, match=r"drive_node parameter track = 'nowhere'.*"
                                        r"unknown track"):
        drive_circuit('nowhere', cfg, 'drive_node parameter track')
    with pytest.raises(UserError, match=r"track .*config.* = 'missing\.yaml'.*not found"):
        drive_circuit('', load_config(overrides={'track': 'missing.yaml'}))
