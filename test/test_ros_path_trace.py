"""Path recording for the monitoring topics."""
import pytest

from rl_f1_driver.messages.path_trace import PathTrace
from rl_f1_driver.sim.types import Pose2D


def test_path_keeps_spaced_poses_and_the_newest_ones():
    trace = PathTrace(max_points=3, min_spacing=0.5)
    assert trace.add(0.0, Pose2D(0, 0, 0))
    assert not trace.add(0.1, Pose2D(0.3, 0, 0))         # closer than 0.5 m
    for k in range(1, 5):
        assert trace.add(k, Pose2D(k, 0, 0))
    assert [p.x for _, p in trace.poses()] == [2, 3, 4] and len(trace) == 3
    trace.clear()
    assert trace.poses() == []


def test_path_rejects_tiny_capacity():
    with pytest.raises(ValueError):
        PathTrace(max_points=1)
