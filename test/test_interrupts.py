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


def test_the_trainers_first_interrupt_asks_waits_to_give_up_until_its_run_ends():
    import signal

    from rl_f1_driver.learn.trainer import _StopFlag
    assert not interrupts.stop_requested()
    with _StopFlag() as stop:
        assert not interrupts.stop_requested()
        stop._handle(signal.SIGINT, None)
        assert stop.signal == signal.SIGINT and interrupts.stop_requested()
    # A later run in the same process (a test, a notebook) starts without it.
    assert not interrupts.stop_requested()
