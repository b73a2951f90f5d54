"""One Ctrl-C delivered twice (terminal and ros2 launch) counts once; a later one counts."""
from rl_f1_driver import interrupts
from rl_f1_driver.interrupts import DUPLICATE_SIGNAL_S, InterruptCounter


def test_a_repeat_within_the_window_is_the_same_interrupt(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(interrupts.time, 'monotonic', lambda: now[0])
    counter = InterruptCounter()
    assert counter.record() is True and counter.count == 1
    now[0] += DUPLICATE_SIGNAL_S / 10
    assert counter.record() is False and counter.count == 1
    now[0] += DUPLICATE_SIGNAL_S
    assert counter.record() is True and counter.count == 2
