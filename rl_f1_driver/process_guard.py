"""Run a process that ignores SIGINT and SIGTERM (gzserver) so it never outlives its launch.

    python -m rl_f1_driver.process_guard [--grace S] [--hold-while NAME --hold-max S] \\
        -- gzserver WORLD -s libgazebo_ros_init.so ...

gzserver with gazebo_ros ignores SIGINT and SIGTERM (it hangs in a plugin's destructor), and
`ros2 launch` that gets SIGTERM exits at once without stopping its processes. So the launch
files start gzserver through this guard, which:

- starts the command in a process group of its own (a terminal's Ctrl-C reaches the guard,
  not the command directly), with PR_SET_PDEATHSIG = SIGKILL: if the guard itself is killed,
  the command dies with it;
- on SIGINT, SIGTERM or SIGHUP, or when its own parent (ros2 launch) dies (its own
  PR_SET_PDEATHSIG, and getppid() polled as a backup), sends SIGINT to the command's group,
  waits `--grace` seconds, then SIGKILLs the whole group;
- with `--hold-while NAME`, first keeps the command running while a sibling process (another
  child of the same parent: a node of the same launch) whose command line names NAME still
  runs, at most `--hold-max` seconds: the trainer's last steps and evaluation after Ctrl-C
  need the simulator. A second Ctrl-C ends the hold at once;
- exits with the command's status when it ends by itself (launch then ends the launch when
  the command is required), with 0 when it was stopped on request (unless it failed on the
  way out: a status other than 0 or 128 + SIGINT before any SIGKILL).

Empty arguments are dropped: a launch substitution for a switched-off option (`--verbose`
when verbose:=false) expands to ''. Linux only (prctl, /proc). No ROS.
"""
from __future__ import annotations

import argparse
import ctypes
import os
import signal
import subprocess
import sys
import time
from typing import Callable, Iterable, List, Optional, Sequence, Set

from .interrupts import InterruptCounter

PR_SET_PDEATHSIG = 1
DEFAULT_GRACE = 3.0          # s between SIGINT and SIGKILL
POLL = 0.1                   # s between checks of the child, the parent and the hold
SCAN_PERIOD = 1.0            # s between looks for the processes that hold the child
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _resolve_prctl() -> Optional[Callable[..., int]]:
    if not sys.platform.startswith('linux'):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


# Resolved at import, not in a child between fork and exec (set_parent_death_signal runs
# there as a preexec_fn), where nothing may load libraries or take locks.
_PRCTL = _resolve_prctl()


def set_parent_death_signal(sig: int) -> bool:
    """Ask the kernel to send `sig` to this process when its parent dies (Linux). False
    where that is not possible; then only polling getppid() notices the parent's death.
    Safe in a child between fork and exec (subprocess's preexec_fn)."""
    return _PRCTL is not None and _PRCTL(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0


def exit_status(returncode: int) -> int:
    """A Popen returncode as a shell exit status: killed by signal N -> 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


def _cmdline(pid: int) -> List[str]:
    try:
        with open(f'/proc/{pid}/cmdline', 'rb') as f:
            return [a.decode(errors='replace') for a in f.read().split(b'\0') if a]
    except OSError:
        return []


def _ppid_and_state(pid: int) -> Optional[tuple]:
    try:
        with open(f'/proc/{pid}/stat', 'rb') as f:
            stat = f.read().decode(errors='replace')
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = stat[stat.rfind(')') + 2:].split()
    return int(fields[1]), fields[0]


def names_process(argv: Sequence[str], names: Iterable[str]) -> bool:
    """Whether a command line runs one of `names`: the program's base name, or for an
    interpreter (a console script runs as `python3 /path/train_node ...`) the script's. Only
    those: an argument that merely mentions the name (our own `--hold-while NAME`) is not."""
    wanted = set(names)
    if not argv:
        return False
    program = os.path.basename(argv[0])
    if program.startswith('python') and len(argv) > 1:
        return os.path.basename(argv[1]) in wanted or program in wanted
    return program in wanted


def children_named(parent: int, names: Iterable[str]) -> Set[int]:
    """Living children of `parent` whose command line names one of `names` (see /proc)."""
    names = tuple(names)
    found = set()
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        info = _ppid_and_state(int(entry))
        if (info and info[0] == parent and info[1] != 'Z' and int(entry) != os.getpid()
                and names_process(_cmdline(int(entry)), names)):
            found.add(int(entry))
    return found


def alive(pid: int) -> bool:
    """Running (a zombie, dead but not yet reaped, is not)."""
    info = _ppid_and_state(pid)
    return info is not None and info[1] != 'Z'


class Guard:
    """Runs `cmd` and stops it for sure; see the module docstring. `run()` returns the exit
    status. `log` receives one line per decision (stderr by default)."""

    def __init__(self, cmd: Sequence[str], grace: float = DEFAULT_GRACE,
                 hold_while: Sequence[str] = (), hold_max: float = 0.0, poll: float = POLL,
                 name: Optional[str] = None, log: Optional[Callable[[str], None]] = None):
        self.cmd = [a for a in cmd if a != '']
        if not self.cmd:
            raise ValueError('no command to run')
        self.grace = grace
        self.hold_while = tuple(hold_while)
        self.hold_max = hold_max
        self.poll = poll
        self.name = name or os.path.basename(self.cmd[0])
        self._log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.interrupts = InterruptCounter()
        self.child: Optional[subprocess.Popen] = None
        self._parent = os.getppid()
        self._holders: Set[int] = set()
        self._scanned = -float('inf')
        self._last_signal = 'a signal'

    def log(self, message: str) -> None:
        try:
            self._log(f'[process_guard {self.name}] {message}')
        except (OSError, ValueError):
            # Our stderr is a pipe to ros2 launch: once launch is gone (SIGTERM ends it at
            # once) writing fails with EPIPE, and the guard must still stop the command.
            pass

    def _on_signal(self, signum: int, _frame) -> None:
        # Counted, not acted on here: the loop decides (a signal handler must stay short).
        if self.interrupts.record():
            self._last_signal = signal.Signals(signum).name

    def install_signal_handlers(self) -> None:
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._on_signal)

    def start(self) -> subprocess.Popen:
        guard = os.getpid()

        def child_setup() -> None:
            # In the child, before exec: a group of its own (killed as one), and death with
            # the guard, even when the guard is SIGKILLed (then nobody else would stop it).
            os.setpgid(0, 0)
            set_parent_death_signal(signal.SIGKILL)
            if os.getppid() != guard:   # the guard died before prctl took effect
                os._exit(1)

        self.child = subprocess.Popen(self.cmd, preexec_fn=child_setup)
        return self.child

    def parent_gone(self) -> bool:
        return os.getppid() != self._parent

    def _scan_holders(self, now: float, force: bool = False) -> None:
        if not self.hold_while or self.parent_gone() or (
                not force and now - self._scanned < SCAN_PERIOD):
            return
        self._scanned = now
        self._holders |= children_named(self._parent, self.hold_while)

    def _holding(self) -> bool:
        self._holders = {pid for pid in self._holders
                         if alive(pid) and names_process(_cmdline(pid), self.hold_while)}
        return bool(self._holders)

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.child.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def run(self) -> int:
        """Start (unless started) and supervise the child until it is gone."""
        if self.child is None:
            self.start()
        child = self.child
        stop_at: Optional[float] = None      # when the stop was requested
        phase = 'running'                     # running -> holding -> interrupted -> killed
        kill_at = 0.0
        while True:
            try:
                child.wait(timeout=self.poll)
            except subprocess.TimeoutExpired:
                pass
            rc = child.poll()
            now = time.monotonic()
            if rc is not None:
                break
            self._scan_holders(now)
            if phase == 'running' and (self.interrupts.count or self.parent_gone()):
                why = (self._last_signal if self.interrupts.count
                       else 'the parent process ended')
                stop_at = now
                self._scan_holders(now, force=True)   # who needs the child, as of now
                phase = 'holding'
                if self._holders:
                    self.log(f'{why}: keeping {self.name} while {", ".join(self.hold_while)} '
                             f'runs (at most {self.hold_max:g} s; Ctrl-C again to stop now)')
                else:
                    self.log(f'{why}: stopping {self.name}')
            if phase == 'holding' and (not self._holding() or now - stop_at >= self.hold_max
                                       or self.interrupts.count > 1):
                self._signal_group(signal.SIGINT)
                phase, kill_at = 'interrupted', now + self.grace
            if phase == 'interrupted' and (now >= kill_at or self.interrupts.count > 2):
                self.log(f'{self.name} did not stop {self.grace:g} s after SIGINT: SIGKILL')
                self._signal_group(signal.SIGKILL)
                phase = 'killed'
        # Whatever the child left in its group (helpers) goes with it.
        self._signal_group(signal.SIGKILL)
        if phase == 'running':
            if rc != 0:
                self.log(f'{self.name} ended by itself with status {exit_status(rc)}')
            return exit_status(rc)
        self.log(f'{self.name} stopped {now - stop_at:.2f} s after the stop request')
        # Stopped on request: not a failure, unless it failed by itself on the way out. After
        # our SIGINT, 128 + SIGINT (a shell wrapper's or a program's "interrupted") is the
        # answer to the request, not a failure.
        if phase == 'killed' or (phase == 'interrupted' and rc == exit_status(-signal.SIGINT)):
            return 0
        return max(rc, 0)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog='python -m rl_f1_driver.process_guard',
        description='Run a command that may ignore SIGINT/SIGTERM so that it never outlives '
                    'its parent: SIGINT on request, SIGKILL after a grace period.')
    parser.add_argument('--grace', type=float, default=DEFAULT_GRACE,
                        help='seconds between SIGINT and SIGKILL (default %(default)s)')
    parser.add_argument('--hold-while', action='append', default=[], metavar='NAME',
                        help='on a stop request, keep the command while a sibling process '
                             'named NAME runs (repeatable)')
    parser.add_argument('--hold-max', type=float, default=0.0,
                        help='longest hold, seconds (default %(default)s)')
    parser.add_argument('--name', default=None, help='name in messages (default: command)')
    parser.add_argument('command', nargs=argparse.REMAINDER,
                        help='-- then the command and its arguments')
    args = parser.parse_args(argv)
    cmd = args.command[1:] if args.command[:1] == ['--'] else args.command
    cmd = [a for a in cmd if a != '']
    if not cmd:
        parser.error('no command given (put it after --)')
    guard = Guard(cmd, grace=args.grace, hold_while=args.hold_while, hold_max=args.hold_max,
                  name=args.name)
    # Signals first, then the parent check: a parent that died before prctl is seen too.
    guard.install_signal_handlers()
    set_parent_death_signal(signal.SIGTERM)
    try:
        guard.start()
    except OSError as exc:
        guard.log(f'cannot start {cmd[0]}: {exc}')
        return 127
    return guard.run()


if __name__ == '__main__':
    sys.exit(main())
