"""Stamp-gated, bounded waiting (FrameGate, StampedBuffer, wait_future) without ROS."""
import threading
import time

import pytest

from rl_f1_driver.ros.frame_gate import (FrameGate, LinkStopped, LinkTimeout,
                                         StampedBuffer, wait_future)


def test_returns_the_first_item_stamped_after_the_action():
    gate = FrameGate('camera /f1/camera/image_raw')
    gate.offer('old', 1.00)
    # Fed from another thread, as the ROS executor does; the waiter blocks until it arrives.
    feeder = threading.Thread(target=lambda: (gate.offer('still old', 1.00),
                                              gate.offer('new', 1.05)))
    feeder.start()
    item, stamp = gate.wait_after(1.00, timeout=5.0)
    feeder.join()
    assert (item, stamp) in {('new', 1.05)}


def test_an_item_already_newer_returns_at_once():
    gate = FrameGate('camera')
    gate.offer('a', 2.0)
    assert gate.wait_after(1.5, timeout=0.0) == ('a', 2.0)
    assert gate.wait_after(None, timeout=0.0) == ('a', 2.0)


def test_stale_frames_time_out_with_a_message_naming_the_source():
    gate = FrameGate('camera /f1/camera/image_raw')
    gate.offer('a', 3.0)
    with pytest.raises(LinkTimeout) as exc:
        gate.wait_after(3.0, timeout=0.05)
    msg = str(exc.value)
    assert 'camera /f1/camera/image_raw' in msg and 'after 3.000 s' in msg
    assert 'nothing arrived during the wait' in msg


def test_nothing_ever_received_is_said_so():
    with pytest.raises(LinkTimeout, match='nothing was ever received'):
        FrameGate('camera').wait_after(None, timeout=0.01)


def test_rejected_items_are_counted_in_the_timeout_message():
    gate = FrameGate('camera')
    gate.offer('x', 9.0)
    started = threading.Event()

    def feed():
        started.wait()
        for k in range(3):
            gate.offer(k, 10.0 + k)

    def reject(item, stamp):
        started.set()      # the wait has begun: feed now
        return False
    t = threading.Thread(target=feed)
    t.start()
    with pytest.raises(LinkTimeout, match=r'3 item\(s\) arrived.*none accepted'):
        gate.wait_after(8.0, timeout=0.3, accept=reject)
    t.join()


def test_accept_predicate_filters_items():
    gate = FrameGate('camera')
    gate.offer({'pose_ok': False}, 5.0)
    with pytest.raises(LinkTimeout):
        gate.wait_after(4.0, 0.02, accept=lambda item, stamp: item['pose_ok'])
    gate.offer({'pose_ok': True}, 5.1)
    item, _ = gate.wait_after(4.0, 0.02, accept=lambda item, stamp: item['pose_ok'])
    assert item['pose_ok']


def test_a_simulation_clock_reset_is_accepted_instead_of_waiting_forever():
    gate = FrameGate('camera', time_reset_jump=1.0)
    gate.offer('before reset', 50.0)
    done = threading.Event()

    def camera():  # publishes at its rate, stamped on the reset clock, until the wait ends
        while not done.is_set():
            gate.offer('after reset', 0.1)
            done.wait(0.001)
    feeder = threading.Thread(target=camera)
    feeder.start()
    try:
        item, stamp = gate.wait_after(50.0, timeout=5.0)
    finally:
        done.set()
        feeder.join()
    assert (item, stamp) == ('after reset', 0.1)
    assert gate.clock_resets == 1


def test_an_old_frame_from_before_the_wait_is_not_taken_for_a_clock_reset():
    # The camera stopped at 10 s while odometry went on to 50 s: that frame is stale.
    gate = FrameGate('camera', time_reset_jump=1.0)
    gate.offer('stopped camera', 10.0)
    with pytest.raises(LinkTimeout, match='nothing arrived during the wait'):
        gate.wait_after(50.0, timeout=0.01)


def test_a_slightly_older_frame_is_stale_not_a_clock_reset():
    gate = FrameGate('camera', time_reset_jump=1.0)
    gate.offer('a', 50.0)
    gate.offer('late', 49.95)
    assert gate.clock_resets == 0
    with pytest.raises(LinkTimeout):
        gate.wait_after(50.0, timeout=0.01)


def test_stamped_buffer_nearest_within_tolerance():
    buf = StampedBuffer(maxlen=3)
    assert buf.nearest(1.0, 0.1) is None and buf.latest() is None
    for t in (1.0, 1.02, 1.04, 1.06):
        buf.add(t, f'p{t}')
    assert buf.latest() == (1.06, 'p1.06')
    assert buf.nearest(1.031, 0.1) == 'p1.04'
    assert buf.nearest(1.0, 0.01) is None          # evicted (maxlen 3) and too far
    assert buf.nearest(1.2, 0.1) is None


def test_stamped_buffer_forgets_history_when_the_clock_goes_back():
    buf = StampedBuffer()
    buf.add(10.0, 'a')
    buf.add(0.5, 'b')
    assert buf.nearest(10.0, 1.0) is None and buf.latest() == (0.5, 'b')


class FakeFuture:
    def __init__(self):
        self._callbacks, self._done, self._result, self._exc = [], False, None, None
        self.cancelled = False

    def add_done_callback(self, cb):
        if self._done:
            cb(self)
        else:
            self._callbacks.append(cb)

    def set_result(self, result):
        self._result, self._done = result, True
        for cb in self._callbacks:
            cb(self)

    def done(self):
        return self._done

    def result(self):
        return self._result

    def exception(self):
        return self._exc

    def cancel(self):
        self.cancelled = True


def test_wait_future_returns_the_result_completed_on_another_thread():
    fut = FakeFuture()
    threading.Thread(target=fut.set_result, args=('ok',)).start()
    assert wait_future(fut, 5.0, 'set_entity_state') == 'ok'


def test_wait_future_times_out_and_cancels():
    fut = FakeFuture()
    with pytest.raises(LinkTimeout, match='/gazebo/set_entity_state: no response within'):
        wait_future(fut, 0.02, '/gazebo/set_entity_state')
    assert fut.cancelled


def test_wait_future_reports_a_failed_call():
    fut = FakeFuture()
    fut._exc = RuntimeError('boom')
    fut.set_result(None)
    with pytest.raises(LinkTimeout, match='call failed: boom'):
        wait_future(fut, 1.0, 'svc')


# --- a frame's ground truth: odometry matched by stamp, waited for (bounded) ---------------

def _odometry(buffer, stamps):
    for t in stamps:
        buffer.add(t, f'pose@{t:.3f}')


def test_odometry_already_there_matches_at_once():
    buf = StampedBuffer()
    _odometry(buf, [0.98, 1.00, 1.02])
    assert buf.wait_nearest(1.00, tolerance=0.1, timeout=5.0) == 'pose@1.000'


def test_odometry_arriving_after_the_frame_is_waited_for():
    buf = StampedBuffer()
    _odometry(buf, [0.90])    # only older odometry when the frame arrives
    feeder = threading.Thread(target=_odometry, args=(buf, [0.92, 0.94, 0.96, 0.98, 1.00]))
    feeder.start()
    got = buf.wait_nearest(1.00, tolerance=0.1, timeout=5.0)
    feeder.join()
    # The exact instant, not the 0.9 s pose that was there first.
    assert got == 'pose@1.000'


def test_odometry_missing_gives_none_after_the_timeout():
    buf = StampedBuffer()
    t0 = time.monotonic()
    assert buf.wait_nearest(1.00, tolerance=0.1, timeout=0.3) is None
    assert time.monotonic() - t0 >= 0.25


def test_odometry_that_skipped_the_instant_gives_none_without_waiting_the_timeout():
    buf = StampedBuffer()
    _odometry(buf, [0.5, 1.5])
    t0 = time.monotonic()
    assert buf.wait_nearest(1.00, tolerance=0.1, timeout=30.0) is None
    assert time.monotonic() - t0 < 5.0


def test_odometry_near_but_not_past_the_frame_is_taken_after_settling():
    """A paused simulation sends nothing newer: an earlier pose within tolerance is used."""
    buf = StampedBuffer()
    _odometry(buf, [0.97])
    t0 = time.monotonic()
    assert buf.wait_nearest(1.00, tolerance=0.1, timeout=30.0, settle=0.2) == 'pose@0.970'
    assert time.monotonic() - t0 < 5.0


def test_odometry_at_another_rate_than_the_camera():
    buf = StampedBuffer(maxlen=1000)
    _odometry(buf, [round(0.02 * i, 3) for i in range(200)])   # 50 Hz
    for k in range(1, 60):                                     # camera at 15 Hz
        stamp = k / 15.0
        got = buf.wait_nearest(stamp, tolerance=0.1, timeout=5.0)
        nearest = min((round(0.02 * i, 3) for i in range(200)), key=lambda t: abs(t - stamp))
        assert got == f'pose@{nearest:.3f}'


def test_published_simulation_time_never_runs_backwards():
    from rl_f1_driver.ros.frame_gate import MonotonicStamps
    clock = MonotonicStamps()
    # The simulator steps, is reset to time 0 (twice), steps on.
    out = [clock(t) for t in (0.05, 0.10, 0.15, 0.0, 0.05, 0.10, 0.0, 0.05)]
    assert out == sorted(out)
    assert out[:3] == [0.05, 0.10, 0.15]            # unchanged while time runs forward
    assert out[4] - out[3] == pytest.approx(0.05)   # and steps keep their length after


def test_a_stop_request_ends_a_wait_that_nothing_answered():
    """Ctrl-C while train_node waits for the first frame of a simulator that never sends
    one: the wait ends within a poll period instead of after its whole timeout."""
    gate = FrameGate('camera image on /f1/camera/image_raw')
    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()
    t0 = time.monotonic()
    with pytest.raises(LinkStopped) as exc:
        gate.wait_after(None, timeout=30.0, should_stop=stop.is_set)
    assert time.monotonic() - t0 < 10.0   # far less than the 30 s timeout
    assert 'camera image on /f1/camera/image_raw' in str(exc.value)
    assert 'Ctrl-C' in str(exc.value)


def test_a_frame_already_there_wins_over_a_stop_request():
    gate = FrameGate('camera')
    gate.offer('frame', 1.0)
    assert gate.wait_after(None, timeout=1.0, should_stop=lambda: True) == ('frame', 1.0)


def test_without_a_stop_request_the_wait_still_times_out():
    gate = FrameGate('camera')
    with pytest.raises(LinkTimeout):
        gate.wait_after(None, timeout=0.3, should_stop=lambda: False)
