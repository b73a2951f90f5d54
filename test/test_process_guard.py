"""process_guard: a command that ignores SIGINT and SIGTERM (like gzserver) never outlives it.

A stand-in for gzserver ignores SIGINT and SIGTERM and starts a helper that ignores them too;
the guard runs it. Whatever ends the guard (SIGINT, SIGTERM, its parent killed, the stand-in
dying), everything must be gone within the launch budget (10 s). No ROS needed.
"""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ros_support import wait_for
from rl_f1_driver import process_guard as pg
from rl_f1_driver.interrupts import DUPLICATE_SIGNAL_S

ROOT = Path(__file__).resolve().parent.parent
BUDGET = 10.0     # s: the "all processes gone" budget
GRACE = 1.0       # s between SIGINT and SIGKILL in these tests (launch uses the default)

pytestmark = pytest.mark.skipif(not sys.platform.startswith('linux'),
                                reason='the guard uses prctl and /proc (Linux)')

# Ignores SIGINT and SIGTERM like gzserver; so does its helper. SIGUSR1: exit with status 3
# (the simulator ending by itself). Writes "<its pid> <helper pid>" when ready.
STAND_IN = textwrap.dedent('''
    import os, signal, subprocess, sys, time
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGUSR1, lambda *_: os._exit(3))
    helper = subprocess.Popen([sys.executable, '-c',
        'import signal, time\\n'
        'signal.signal(signal.SIGINT, signal.SIG_IGN)\\n'
        'signal.signal(signal.SIGTERM, signal.SIG_IGN)\\n'
        'time.sleep(600)'])
    tmp = sys.argv[1] + '.tmp'
    with open(tmp, 'w') as f:
        f.write(f'{os.getpid()} {helper.pid}')
    os.rename(tmp, sys.argv[1])
    while True:
        time.sleep(1)
''')

# The parent of the guard (ros2 launch's place): starts the guard and, optionally, a
# sibling process named fake_trainer; writes "<guard pid> <sibling pid or 0>"; waits.
PARENT = textwrap.dedent('''
    import os, subprocess, sys, time
    out, sibling_script, guard_cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
    sibling = (subprocess.Popen([sys.executable, sibling_script]) if sibling_script != '-'
               else None)
    guard = subprocess.Popen(guard_cmd, stderr=open(out + '.log', 'w'))
    with open(out + '.tmp', 'w') as f:
        f.write(f'{guard.pid} {sibling.pid if sibling else 0}')
    os.rename(out + '.tmp', out)
    guard.wait()
    time.sleep(600)
''')

# A node that needs the simulator after Ctrl-C (the trainer): runs until SIGUSR1.
SIBLING = textwrap.dedent('''
    import os, signal, time
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGUSR1, lambda *_: os._exit(0))
    while True:
        time.sleep(1)
''')


def _env():
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get('PYTHONPATH')) if p)
    return dict(os.environ, PYTHONPATH=path)


def _read_pids(path: Path, timeout: float = 30.0):
    assert wait_for(path.exists, timeout), f'{path.name} not written within {timeout} s'
    return [int(v) for v in path.read_text().split()]


def _gone(*pids: int) -> bool:
    return not any(pg.alive(pid) for pid in pids)


def _guard_cmd(standin: Path, pidfile: Path, *options: str):
    return [sys.executable, '-m', 'rl_f1_driver.process_guard', *options, '--',
            sys.executable, str(standin), '', str(pidfile)]   # '' is dropped by the guard


@pytest.fixture
def files(tmp_path):
    standin = tmp_path / 'standin.py'
    standin.write_text(STAND_IN)
    parent = tmp_path / 'parent.py'
    parent.write_text(PARENT)
    sibling = tmp_path / 'fake_trainer'
    sibling.write_text(SIBLING)
    started = []
    yield tmp_path, started
    for pid in started:   # nothing outlives the test, whatever failed
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _start_guard(tmp_path, started, *options, grace=GRACE):
    pidfile = tmp_path / 'standin.pids'
    log = open(tmp_path / 'guard.log', 'w')
    guard = subprocess.Popen(_guard_cmd(tmp_path / 'standin.py', pidfile, '--grace', str(grace),
                                        *options), env=_env(), stderr=log)
    log.close()
    started.append(guard.pid)
    standin, helper = _read_pids(pidfile)
    started += [standin, helper]
    return guard, standin, helper


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM], ids=['SIGINT', 'SIGTERM'])
def test_a_stop_signal_ends_a_command_that_ignores_it_within_the_budget(files, sig):
    tmp_path, started = files
    guard, standin, helper = _start_guard(tmp_path, started)
    t0 = time.monotonic()
    guard.send_signal(sig)
    assert wait_for(lambda: guard.poll() is not None and _gone(standin, helper), BUDGET)
    took = time.monotonic() - t0
    print(f'{sig.name}: guard, stand-in and helper gone {took:.2f} s after the signal')
    assert guard.returncode == 0, (tmp_path / 'guard.log').read_text()
    assert took >= GRACE * 0.9   # SIGINT was tried first, for the grace period
    assert 'SIGKILL' in (tmp_path / 'guard.log').read_text()


def test_a_command_that_honours_sigint_ends_without_sigkill(files, tmp_path):
    polite = tmp_path / 'polite.py'
    polite.write_text('import time\nprint("up", flush=True)\ntime.sleep(600)\n')
    guard = subprocess.Popen([sys.executable, '-m', 'rl_f1_driver.process_guard', '--grace',
                              '30', '--', sys.executable, str(polite)], env=_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    files[1].append(guard.pid)
    assert guard.stdout.readline().strip() == 'up'
    t0 = time.monotonic()
    guard.send_signal(signal.SIGINT)
    guard.wait(BUDGET)
    assert time.monotonic() - t0 < 5.0   # well inside the 30 s grace: SIGINT did it
    assert guard.returncode == 0
    assert 'SIGKILL' not in guard.stderr.read()


def test_a_command_that_answers_sigint_with_status_130_was_stopped_not_failed(files, tmp_path):
    # A shell wrapper (or any program) reports "interrupted" as 128 + SIGINT: the answer to
    # the guard's own request, so the guard still ends with 0 (launch shows no failure).
    polite = tmp_path / 'polite130.py'
    polite.write_text('import os, signal, time\n'
                      'signal.signal(signal.SIGINT, lambda *_: os._exit(130))\n'
                      'print("up", flush=True)\ntime.sleep(600)\n')
    guard = subprocess.Popen([sys.executable, '-m', 'rl_f1_driver.process_guard', '--grace',
                              '30', '--', sys.executable, str(polite)], env=_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    files[1].append(guard.pid)
    assert guard.stdout.readline().strip() == 'up'
    guard.send_signal(signal.SIGINT)
    guard.wait(BUDGET)
    assert guard.returncode == 0, guard.stderr.read()


def test_killing_the_guards_parent_ends_everything(files):
    tmp_path, started = files
    out = tmp_path / 'parent.pids'
    parent = subprocess.Popen([sys.executable, str(tmp_path / 'parent.py'), str(out), '-',
                               *_guard_cmd(tmp_path / 'standin.py', tmp_path / 'standin.pids',
                                           '--grace', str(GRACE))],
                              env=_env(), start_new_session=True)
    started.append(parent.pid)
    guard, _ = _read_pids(out)
    standin, helper = _read_pids(tmp_path / 'standin.pids')
    started += [guard, standin, helper]
    t0 = time.monotonic()
    parent.kill()    # ros2 launch killed (or ended on SIGTERM without stopping its children)
    parent.wait(5)
    assert wait_for(lambda: _gone(guard, standin, helper), BUDGET), \
        (tmp_path / 'parent.pids.log').read_text()
    print(f'parent SIGKILLed: all gone {time.monotonic() - t0:.2f} s later')


def test_killing_the_guard_itself_takes_the_command_with_it(files):
    tmp_path, started = files
    guard, standin, helper = _start_guard(tmp_path, started)
    guard.kill()
    guard.wait(5)
    # The stand-in dies with the guard (its parent-death signal); its helper, now nobody's,
    # is not reachable without the guard: only the stand-in's death is promised here.
    assert wait_for(lambda: _gone(standin), BUDGET)


@pytest.mark.parametrize('how, status', [('exit', 3), ('crash', 128 + 9)])
def test_the_command_ending_by_itself_ends_the_guard_with_its_status(files, how, status):
    tmp_path, started = files
    guard, standin, helper = _start_guard(tmp_path, started)
    os.kill(standin, signal.SIGUSR1 if how == 'exit' else signal.SIGKILL)
    assert wait_for(lambda: guard.poll() is not None, BUDGET)
    assert guard.returncode == status
    # Its helper (same process group) goes too: nothing of the simulator is left.
    assert wait_for(lambda: _gone(helper), BUDGET)


def _start_held(files, grace: float, hold_max: float):
    """A guard holding the stand-in while a sibling `fake_trainer` runs, both children of one
    parent (as gzserver's guard and train_node are children of ros2 launch): their pids and
    the guard's log."""
    tmp_path, started = files
    out = tmp_path / 'parent.pids'
    parent = subprocess.Popen([sys.executable, str(tmp_path / 'parent.py'), str(out),
                               str(tmp_path / 'fake_trainer'),
                               *_guard_cmd(tmp_path / 'standin.py', tmp_path / 'standin.pids',
                                           '--grace', str(grace), '--hold-while',
                                           'fake_trainer', '--hold-max', str(hold_max))],
                              env=_env(), start_new_session=True)
    started.append(parent.pid)
    guard, trainer = _read_pids(out)
    standin, helper = _read_pids(tmp_path / 'standin.pids')
    started += [guard, trainer, standin, helper]
    return guard, trainer, standin, helper, tmp_path / 'parent.pids.log'


def test_a_node_that_still_needs_the_simulator_holds_it_then_it_goes(files):
    guard, trainer, standin, helper, log = _start_held(files, GRACE, 120)
    os.kill(guard, signal.SIGINT)
    assert wait_for(lambda: 'keeping' in log.read_text(), BUDGET), log.read_text()
    assert pg.alive(standin)          # held: the trainer still drives it
    t0 = time.monotonic()
    os.kill(trainer, signal.SIGUSR1)  # the trainer finished
    assert wait_for(lambda: _gone(guard, standin, helper), BUDGET), log.read_text()
    print(f'hold released: all gone {time.monotonic() - t0:.2f} s after the trainer ended')


def test_the_hold_is_bounded(files):
    guard, trainer, standin, helper, _ = _start_held(files, 0.5, 1)
    os.kill(guard, signal.SIGINT)
    assert wait_for(lambda: _gone(guard, standin, helper), BUDGET)
    assert pg.alive(trainer)


def test_a_second_ctrl_c_ends_the_hold_at_once(files):
    guard, trainer, standin, helper, log = _start_held(files, GRACE, 120)
    os.kill(guard, signal.SIGINT)
    first = time.monotonic()
    assert wait_for(lambda: 'keeping' in log.read_text(), BUDGET), log.read_text()
    # A repeat within DUPLICATE_SIGNAL_S is the same Ctrl-C (terminal and launch both send
    # it): the second one must come after that window to count. Meanwhile the hold holds.
    window = DUPLICATE_SIGNAL_S + 0.2 - (time.monotonic() - first)
    assert not wait_for(lambda: not pg.alive(standin), max(window, 0.0)), log.read_text()
    os.kill(guard, signal.SIGINT)
    t0 = time.monotonic()
    assert wait_for(lambda: _gone(guard, standin, helper), BUDGET), log.read_text()
    assert time.monotonic() - t0 < GRACE + 5.0         # not the 120 s hold
    assert pg.alive(trainer)                           # the hold ended, not the trainer


def test_names_process_matches_a_console_script_by_base_name():
    assert pg.names_process(['/usr/bin/python3', '/ws/lib/rl_f1_driver/train_node',
                             '--ros-args'], ['train_node'])
    assert pg.names_process(['/opt/ros/lib/gazebo_ros/train_node', '-s'], ['train_node'])
    assert not pg.names_process(['/usr/bin/python3', '-m', 'rl_f1_driver.process_guard',
                                 '--hold-while', 'train_node', '--', 'gzserver'],
                                ['train_node'])


def test_exit_status_of_a_signalled_child():
    assert pg.exit_status(-9) == 137 and pg.exit_status(2) == 2


def test_no_command_is_an_error():
    with pytest.raises(SystemExit):
        pg.main(['--grace', '1', '--', ''])
