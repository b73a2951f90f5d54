"""One machine, one command: `rl-f1 train --actors N` runs the replay server and N actors as
child processes of the learner, restarts actors that fail and stops them all when it ends."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Optional

from ...config import Config, save_config
from ...errors import UserError
from ...process_guard import set_parent_death_signal
from .learner import run_learner

Log = Callable[[str], None]


class _Children:
    """The replay server and actor processes of `rl-f1 train --actors N`.

    They run in their own sessions, so a Ctrl-C in the terminal reaches the learner only: it
    stops them in order (actors first, then the server) after its last checkpoint.
    """

    def __init__(self, out_dir: Path, cfg_file: Path, log: Log):
        self.out_dir, self.cfg_file, self.log = out_dir, cfg_file, log
        self.logs = out_dir / 'distributed'
        self.logs.mkdir(parents=True, exist_ok=True)
        # The children's temporary folder (TMPDIR: TensorFlow's autograph files, anything a
        # library makes with tempfile) lives in the run, not in /tmp: removed when they have
        # stopped, and at the next start when the learner itself was killed before that.
        self.tmp = self.logs / 'tmp'
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir()
        self.server: Optional[subprocess.Popen] = None
        self.actors: dict = {}
        self.restarts: dict = {}
        self.max_restarts = 3
        self.stopping = threading.Event()
        self.lock = threading.Lock()   # spawning vs stopping

    def _spawn(self, args: list, log_name: str) -> subprocess.Popen:
        out = open(self.logs / log_name, 'ab')
        try:
            return subprocess.Popen([sys.executable, '-m', 'rl_f1_driver.cli', *args],
                                    stdout=out, stderr=subprocess.STDOUT,
                                    env=dict(os.environ, TMPDIR=str(self.tmp)),
                                    start_new_session=True, preexec_fn=_die_with_parent)
        finally:
            out.close()

    def start_server(self, port: int, timeout: float = 120.0) -> str:
        port_file = self.logs / 'replay.port'
        port_file.unlink(missing_ok=True)
        self.server = self._spawn(['replay-server', '--config', str(self.cfg_file),
                                   '--port', str(port), '--port-file', str(port_file)],
                                  'replay-server.log')
        t0 = time.perf_counter()
        while not port_file.is_file():
            if self.server.poll() is not None:
                tail = (self.logs / 'replay-server.log').read_text(errors='replace')
                raise UserError('the replay server did not start: '
                                + (tail.strip().splitlines() or ['no output'])[-1])
            if time.perf_counter() - t0 > timeout:
                raise UserError(f'the replay server did not start within {timeout:.0f} s '
                                f'(see {self.logs / "replay-server.log"})')
            self.stopping.wait(0.2)  # bounded poll for the port file
        return f'localhost:{int(port_file.read_text().strip())}'

    def start_actor(self, i: int, address: str) -> None:
        with self.lock:
            if self.stopping.is_set():
                return
            self.actors[i] = self._spawn(['actor', '--config', str(self.cfg_file), '--replay',
                                          address, '--id', str(i)], f'actor-{i}.log')

    def any_actor_alive(self) -> bool:
        """False once every actor has ended and none will be restarted."""
        with self.lock:
            return any(p.poll() is None or (p.returncode != 0
                                            and self.restarts.get(i, 0) < self.max_restarts)
                       for i, p in self.actors.items())

    def watch(self, address: str) -> None:
        """Restart actors that fail (a thread): the learner goes on with the others. One
        that ended by itself (exit 0: the learner has finished) is not restarted."""
        def loop() -> None:
            while not self.stopping.wait(1.0):
                for i, proc in list(self.actors.items()):
                    code = proc.poll()
                    if code is None or code == 0 or self.stopping.is_set():
                        continue
                    n = self.restarts.get(i, 0)
                    if n >= self.max_restarts:
                        continue
                    self.restarts[i] = n + 1
                    self.log(f'actor {i} ended (exit code {code}); restarting it '
                             f'({n + 1}/{self.max_restarts}, log '
                             f'{self.logs / f"actor-{i}.log"})')
                    self.start_actor(i, address)
        threading.Thread(target=loop, name='actor-watch', daemon=True).start()

    def kill(self) -> None:
        """At once (the learner is about to exit without its usual clean-up)."""
        self.stopping.set()
        for proc in [*self.actors.values(), self.server]:
            if proc is not None and proc.poll() is None:
                proc.kill()

    def stop(self, grace: float = 20.0) -> None:
        """Actors first (SIGTERM: they stop at their next step, or within a second when the
        rate limiter holds them), then the server; SIGKILL what is left after `grace`."""
        with self.lock:
            self.stopping.set()
            actors = [p for p in self.actors.values() if p.poll() is None]
        for proc in actors:
            proc.send_signal(signal.SIGTERM)
        deadline = time.perf_counter() + grace
        try:
            for proc in actors:
                proc.wait(timeout=max(0.1, min(5.0, deadline - time.perf_counter())))
        except subprocess.TimeoutExpired:
            pass  # one is blocked in Reverb (ending an episode): stopping the server frees it
        if self.server is not None:
            if self.server.poll() is None:
                self.server.send_signal(signal.SIGTERM)
            _wait_or_kill(self.server, deadline)
        for proc in actors:
            _wait_or_kill(proc, deadline)


def _die_with_parent() -> None:
    """In a child, before exec: SIGTERM it when the launching process dies (Linux), so a
    learner killed without its clean-up (SIGKILL, out of memory) leaves no server or actors
    behind."""
    set_parent_death_signal(signal.SIGTERM)


def _wait_or_kill(proc: subprocess.Popen, deadline: float) -> None:
    try:
        proc.wait(timeout=max(0.1, deadline - time.perf_counter()))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def train_with_actors(cfg: Config, out_dir: Path, actors: int, *, resume: bool = False,
                      allow_config_change: bool = False, log: Log = print,
                      monitor=None) -> dict:
    """`rl-f1 train --actors N`: replay server, N actor processes and the learner here."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    children = _Children(out_dir, out_dir / 'distributed' / 'config.yaml', log)
    save_config(cfg, children.cfg_file)
    log(f'starting a replay server and {actors} actor process(es); their logs: '
        f'{children.logs}')
    try:
        address = children.start_server(cfg.distributed.port)
        for i in range(actors):
            children.start_actor(i, address)
        children.watch(address)
        report = run_learner(cfg, out_dir, address, resume=resume,
                             allow_config_change=allow_config_change, log=log,
                             monitor=monitor, on_server_lost=children.kill,
                             actors_alive=children.any_actor_alive,
                             resume_hint='rl-f1 train --actors N --resume')
    finally:
        try:
            children.stop()
        except BaseException:   # another Ctrl-C while stopping: no process may outlive us
            children.kill()
            raise
        finally:
            shutil.rmtree(children.tmp, ignore_errors=True)
    report['distributed']['actor_processes'] = actors
    report['distributed']['actor_restarts'] = dict(children.restarts)
    from ..run_dir import write_json
    write_json(out_dir / 'report.json', report)
    return report
