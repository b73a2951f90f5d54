"""Ends a local Ray's processes when the process that started it is gone, however it ended.

Ray ties its GCS, raylet and workers to the process that started them, but not every
helper: after a SIGKILLed learner, Ray's dashboard and runtime-env agents were seen running
on, reparented to init. So `RayCluster` starts this reaper in a session of its own, holding
the write end of a pipe, and marks the environment of everything it starts afterwards
(RL_F1_RAY_RUN=<id>, inherited by every Ray process). Until the pipe closes (the starter
ended: exit, crash or SIGKILL) the reaper notes the starter's descendants once a second;
then it SIGKILLs those still alive (the same process: same start time) and every process
whose environment carries the mark (a process that renames itself, as Ray's agents do, may
overwrite the memory /proc shows as its environment: hence both), and removes the
starter's short link to the session folder.

    python -m rl_f1_driver.learn.distributed.ray_reaper MARK LINK STARTER_PID   (stdin: the pipe)
"""
from __future__ import annotations

import os
import select
import signal
import sys
from pathlib import Path
from typing import Dict, List, Optional

MARK_VARIABLE = 'RL_F1_RAY_RUN'


def marked(mark: str, spare: int = 0) -> List[int]:
    """Processes (not this one, nor `spare`) whose environment has RL_F1_RAY_RUN=mark."""
    needle = f'{MARK_VARIABLE}={mark}'.encode()
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit() or int(entry) in (os.getpid(), spare):
            continue
        try:
            environ = Path(f'/proc/{entry}/environ').read_bytes()
        except OSError:
            continue   # gone, or another user's
        if needle in environ.split(b'\0'):
            found.append(int(entry))
    return found


def _start_time(pid: int) -> Optional[str]:
    try:
        return Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def descendants(root: int) -> Dict[int, str]:
    """pid -> start time of every descendant of `root`."""
    children: Dict[int, List[int]] = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                ppid = int(Path(f'/proc/{entry}/stat').read_text().rsplit(')', 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out: Dict[int, str] = {}
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            started = _start_time(child)
            if started is not None:
                out[child] = started
                todo.append(child)
    return out


def reap(mark: str, spare: int = 0, known: Optional[Dict[int, str]] = None) -> List[int]:
    """SIGKILL the marked processes and the `known` ones still alive (but `spare`: the
    starter, still finishing); those it found."""
    pids = set(marked(mark, spare))
    pids |= {pid for pid, started in (known or {}).items()
             if pid not in (spare, os.getpid()) and _start_time(pid) == started}
    for pid in sorted(pids):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    return sorted(pids)


def main(argv: List[str]) -> int:
    mark, link, starter = argv[0], Path(argv[1]), int(argv[2])
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # a terminal's Ctrl-C is the starter's
    known: Dict[int, str] = {}
    # Until the starter closes its end (at its exit, or the kernel closes it at its death),
    # note its descendants once a second.
    stdin = sys.stdin.buffer
    while True:
        known.update(descendants(starter))
        ready, _, _ = select.select([stdin], [], [], 1.0)
        if ready and not os.read(stdin.fileno(), 4096):
            break
    reap(mark, spare=starter, known=known)
    if link.is_symlink():
        link.unlink(missing_ok=True)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
