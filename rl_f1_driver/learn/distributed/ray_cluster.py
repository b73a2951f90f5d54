"""This process on a Ray cluster: a local Ray started here (the default), or a cluster joined
with --ray-address (started with `ray start --head` on one machine and `ray start --address`
on the others).

A local Ray:
- listens on loopback only (Ray binds its servers to the node's address, made 127.0.0.1
  here), with its dashboard off unless asked;
- keeps Ray's token authentication on (Ray makes and keeps the token in ~/.ray/auth_token
  unless RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH says otherwise); a process told to turn it off
  (RAY_AUTH_MODE=disabled) stops with an error instead;
- keeps its session folder (logs, sockets, spilled objects) in the run directory:
  RUN/distributed/ray. Unix sockets take paths of at most 107 bytes, so Ray is given a short
  link to that folder, ~/.rl_f1_driver/ray/<id>, removed when this process ends (and, when
  it was killed, at the next start of any run).
"""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Callable, Optional

from ...errors import UserError

Log = Callable[[str], None]
# Ray's switch for clusters beyond this machine: off makes the node's address 127.0.0.1, and
# Ray binds its servers (GCS, raylet, workers, object manager) to the node's address.
LOOPBACK_ONLY = {'RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER': '0'}
QUIET = {'RAY_USAGE_STATS_ENABLED': '0', 'RAY_DEDUP_LOGS': '0'}
LINKS = Path.home() / '.rl_f1_driver' / 'ray'


def auth_environment(environ: Optional[dict] = None) -> dict:
    """The variables that keep Ray's token authentication on, checked: UserError when the
    environment turns it off."""
    environ = os.environ if environ is None else environ
    mode = environ.get('RAY_AUTH_MODE', 'token')
    if mode != 'token':
        raise UserError(f'RAY_AUTH_MODE={mode}: rl_f1_driver runs Ray with its token '
                        'authentication on (RAY_AUTH_MODE=token); unset the variable, and start '
                        'clusters with RAY_AUTH_MODE=token too')
    return {'RAY_AUTH_MODE': 'token'}


def ensure_token() -> None:
    """A token at Ray's default path (~/.ray/auth_token) unless the environment names one:
    `ray start --head` needs one made beforehand (ray.init makes its own)."""
    if os.environ.get('RAY_AUTH_TOKEN') or os.environ.get('RAY_AUTH_TOKEN_PATH'):
        return
    path = Path.home() / '.ray' / 'auth_token'
    if not path.is_file() or not path.read_text().strip():
        import secrets
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as out:
            out.write(secrets.token_hex(32))


def ray_environment(local: bool) -> dict:
    """Variables for this process and the Ray processes it starts (a local Ray, or a cluster
    on loopback) or for the `ray start` commands of a cluster on this machine alone (tests,
    benchmarks)."""
    env = dict(auth_environment(), **QUIET)
    if local:
        env.update(LOOPBACK_ONLY)
    return env


def is_loopback(address: str) -> bool:
    host = address.rpartition(':')[0].strip('[]')
    return host in ('localhost', '::1') or host.startswith('127.')


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """UserError at once when nothing listens at HOST:PORT (Ray itself retries for minutes)."""
    import socket
    host, _, port = address.rpartition(':')
    try:
        with socket.create_connection((host.strip('[]'), int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise UserError(f'no Ray cluster at {address} ({exc.strerror or exc}): start its head '
                        'with `ray start --head` (or rl-f1 replay-server) and give the address '
                        'it prints') from None


def short_link(folder: Path) -> Path:
    """A short path (for Ray's unix sockets) that leads to `folder`."""
    LINKS.mkdir(parents=True, exist_ok=True)
    for old in LINKS.iterdir():       # links of runs that were killed
        if old.is_symlink() and not old.exists():
            old.unlink(missing_ok=True)
    name = hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:10]
    link = LINKS / name
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(folder.resolve(), target_is_directory=True)
    return link


class RayCluster:
    """Joined in __enter__, left (a local Ray stopped) in __exit__."""

    def __init__(self, address: Optional[str], run_dir: Optional[Path], *, num_cpus:
                 Optional[float] = None, dashboard: bool = False, log: Log = print,
                 worker_env: Optional[dict] = None):
        self.requested, self.run_dir = address, run_dir
        self.num_cpus, self.dashboard, self.log = num_cpus, dashboard, log
        self.worker_env = dict(worker_env or {})
        self.address = address or ''
        self.local = not address
        self.folder: Optional[Path] = None
        self._link: Optional[Path] = None
        self._reaper = None

    def __enter__(self) -> 'RayCluster':
        loopback = self.local or is_loopback(self.requested)
        os.environ.update(ray_environment(loopback))
        if not self.local and self.requested != 'auto':
            check_reachable(self.requested)
        import ray
        kwargs = dict(namespace='rl_f1_driver', log_to_driver=False, logging_level='ERROR',
                      include_dashboard=self.dashboard)
        if self.worker_env:
            kwargs['runtime_env'] = {'env_vars': self.worker_env}
        try:
            if self.local:
                base = Path(self.run_dir) if self.run_dir else Path.cwd()
                self.folder = base / 'distributed' / 'ray'
                self.folder.mkdir(parents=True, exist_ok=True)
                self._link = short_link(self.folder)
                self._start_reaper()
                ray.init(_temp_dir=str(self._link), num_cpus=self.num_cpus, **kwargs)
            else:
                kwargs.pop('include_dashboard')
                ray.init(address=self.requested, **kwargs)
        except UserError:
            raise
        except Exception as exc:  # noqa: BLE001 - Ray raises many types here
            self._stop_reaper()
            self._unlink()
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            where = (f'the Ray cluster at {self.requested}' if self.requested
                     else 'a local Ray')
            hint = ('; on this machine run `ray start --address ' + self.requested + '` first '
                    '(with RAY_AUTH_MODE=token and the cluster\'s token)' if self.requested
                    else '')
            raise UserError(f'cannot start or join {where} ({first}){hint}') from None
        self.address = ray.get_runtime_context().gcs_address
        if self.local and not self.address.startswith('127.'):
            raise UserError(f'the local Ray listens on {self.address}, not on loopback: '
                            'is RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER set to 1?')
        return self

    def __exit__(self, *exc) -> None:
        import ray
        try:
            ray.shutdown()
        finally:
            self._stop_reaper()
            self._unlink()
            if self.folder is not None:
                # Sockets and the session link are no use once Ray is gone; logs stay.
                for session in self.folder.glob('session_*'):
                    shutil.rmtree(session / 'sockets', ignore_errors=True)
                (self.folder / 'session_latest').unlink(missing_ok=True)

    def _start_reaper(self) -> None:
        """The reaper (ray_reaper) of the processes of the Ray started here: it ends them
        when this process ends, whatever the way."""
        import secrets
        import subprocess
        import sys

        from .ray_reaper import MARK_VARIABLE
        mark = secrets.token_hex(8)
        env = {k: v for k, v in os.environ.items() if k != MARK_VARIABLE}
        self._reaper = subprocess.Popen(
            [sys.executable, '-m', 'rl_f1_driver.learn.distributed.ray_reaper', mark,
             str(self._link), str(os.getpid())],
            stdin=subprocess.PIPE, env=env, start_new_session=True)
        os.environ[MARK_VARIABLE] = mark   # inherited by every Ray process started from here

    def _stop_reaper(self) -> None:
        import subprocess

        from .ray_reaper import MARK_VARIABLE
        if self._reaper is None:
            return
        self._reaper.stdin.close()   # it ends Ray's stragglers, if any, and exits
        try:
            self._reaper.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._reaper.kill()
        self._reaper = None
        os.environ.pop(MARK_VARIABLE, None)

    def _unlink(self) -> None:
        if self._link is not None:
            self._link.unlink(missing_ok=True)
            self._link = None


def free_port() -> int:
    """A TCP port on loopback free at the time of asking."""
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def node_command(folder: Path, *, head_port: int = 0, head_address: str = '',
                 num_cpus: Optional[float] = None, loopback: bool = True) -> tuple:
    """(argv, env) of `ray start --block` for a Ray node on this machine: the head
    (head_port) or a further node joining `head_address`. What the docs show as plain
    `ray start` lines, for the tests and benchmarks of a cluster on one machine; the head's
    session folder in `folder` (through a short link: see short_link). Stop it with SIGTERM.
    loopback: one node, on 127.0.0.1 only; False: Ray's cluster mode (several nodes, on the
    machine's address), which Ray allows only so."""
    import sys
    folder.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, '-m', 'ray.scripts.scripts', 'start', '--block',
            '--disable-usage-stats']
    if loopback:
        argv += ['--node-ip-address', '127.0.0.1']
    if head_address:
        argv += ['--address', head_address]
    else:
        ensure_token()
        argv += ['--head', '--port', str(head_port or free_port()), '--include-dashboard',
                 'false', '--ray-client-server-port', str(free_port()),
                 '--temp-dir', str(short_link(folder))]
    if num_cpus is not None:
        argv += ['--num-cpus', str(num_cpus)]
    env = dict(os.environ, **ray_environment(loopback))
    if not loopback:
        env.pop('RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER', None)
    return argv, env
