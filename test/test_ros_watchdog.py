"""The drive node's watchdog timing, on a fake clock."""
import pytest

from rl_f1_driver.ros.watchdog import Watchdog


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_quiet_before_the_first_frame_unless_armed():
    clock = Clock()
    dog = Watchdog(0.5, clock=clock)
    clock.t += 10
    assert not dog.due() and dog.silence() is None
    armed = Watchdog(0.5, armed_at_start=True, clock=clock)
    clock.t += 0.6
    assert armed.due()


def test_stops_once_frames_stop_then_repeats_and_rearms_on_a_frame():
    clock = Clock()
    dog = Watchdog(0.5, repeat=1.0, clock=clock)
    dog.feed()
    clock.t += 0.4
    assert not dog.due()                    # frames are late but within the timeout
    clock.t += 0.2
    assert dog.expired and dog.due()        # first stop
    assert not dog.due()                    # not again at once
    clock.t += 0.99
    assert not dog.due()
    clock.t += 0.02
    assert dog.due()                        # repeated while still expired
    assert dog.stops == 2
    dog.feed()
    assert not dog.expired and not dog.due()
    clock.t += 0.51
    assert dog.due()                        # a new silence stops again at once
    assert dog.silence() == pytest.approx(0.51)


@pytest.mark.parametrize('kwargs', [dict(timeout=0), dict(timeout=1, repeat=0)])
def test_rejects_non_positive_periods(kwargs):
    with pytest.raises(ValueError):
        Watchdog(**kwargs)
