"""Nodes end cleanly on Ctrl-C while messages keep arriving (ros.shutdown, no ROS needed)."""
import pytest

from rl_f1_driver.ros.shutdown import exit_status, spin_until

TAKE_ERROR = RuntimeError('Unable to convert call argument to Python object')


def test_spins_until_done_then_stops_taking():
    calls = []
    spin_until(lambda: calls.append(1), lambda: len(calls) >= 3)
    assert len(calls) == 3


def test_an_error_in_a_take_after_the_interrupt_ends_the_loop_quietly():
    state = {'interrupted': False, 'spins': 0}

    def spin_once():
        state['spins'] += 1
        if state['spins'] == 5:
            state['interrupted'] = True   # Ctrl-C arrives during this take
            raise TAKE_ERROR
    spin_until(spin_once, lambda: state['interrupted'])
    assert state['spins'] == 5


def test_an_error_while_running_is_not_hidden():
    with pytest.raises(ValueError):
        spin_until(lambda: (_ for _ in ()).throw(ValueError('bad callback')), lambda: False)


def test_ctrl_c_is_a_normal_end():
    def interrupted_main():
        raise KeyboardInterrupt
    assert exit_status(interrupted_main, lambda: True) == 0
    assert exit_status(lambda: None, lambda: False) == 0
    assert exit_status(lambda: 2, lambda: False) == 2


def test_an_rclpy_error_after_an_interrupt_is_the_shutdown_not_a_crash(capsys):
    def main():
        raise TAKE_ERROR
    assert exit_status(main, lambda: True) == 0
    assert 'Unable to convert' in capsys.readouterr().err
    with pytest.raises(RuntimeError):
        exit_status(main, lambda: False)   # no interrupt: a real failure, status 1


def test_other_errors_are_raised_even_after_an_interrupt():
    def main():
        raise OSError('disk full while saving')
    with pytest.raises(OSError):
        exit_status(main, lambda: True)
