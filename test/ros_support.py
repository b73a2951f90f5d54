"""What the ROS tests need, and whether they run or skip.

Without ROS 2 (a laptop with only the venv) the ROS tests skip, module by module. Where ROS
must be there (RL_F1_REQUIRE_ROS=1: `make test` with a sourced Humble sets it, as in the
GitHub workflow and the Docker image), a missing piece is an error instead: a ROS test that
quietly skipped there would be a test that never ran.
"""
import itertools
import os
import subprocess
import time
from pathlib import Path
from typing import Callable, Optional

import pytest

REQUIRED = os.environ.get('RL_F1_REQUIRE_ROS') == '1'
# The launch tests need launch, launch_ros, launch_testing and a colcon install: a sourced
# ROS 2 (Humble), not PyPI's wheels. test/run.sh requires them where ROS 2 is sourced.
LAUNCH_REQUIRED = os.environ.get('RL_F1_REQUIRE_LAUNCH') == '1'
PACKAGE = 'rl_f1_driver'


def _missing(what: str, required: bool = REQUIRED, variable: str = 'RL_F1_REQUIRE_ROS') -> None:
    if required:
        pytest.fail(f'{variable}=1 but {what}', pytrace=False)
    pytest.skip(what, allow_module_level=True)


def require_ros(*modules: str) -> None:
    """Import rclpy and `modules`, or skip the calling test module (fail when required)."""
    import importlib
    for name in ('rclpy', *modules):
        try:
            importlib.import_module(name)
        except ImportError as exc:
            _missing(f'ROS 2 is not sourced ({name}: {exc})')


# Every message package the nodes import: with these and rclpy the nodes run as processes
# (PyPI's ROS 2 wheels plus ros_wheels/, or a sourced ROS 2), no launch or colcon needed.
NODE_MESSAGES = ('sensor_msgs.msg', 'geometry_msgs.msg', 'nav_msgs.msg', 'std_msgs.msg',
                 'std_srvs.srv', 'rosgraph_msgs.msg', 'visualization_msgs.msg', 'tf2_msgs.msg',
                 'gazebo_msgs.msg', 'gazebo_msgs.srv')


def require_nodes() -> None:
    """rclpy and the nodes' messages, or skip the calling test module (fail when required)."""
    require_ros(*NODE_MESSAGES)


def require_installed_package() -> Path:
    """The share folder of the colcon-installed rl_f1_driver, or skip (fail when
    RL_F1_REQUIRE_LAUNCH=1): the launch-file tests, which need a sourced ROS 2."""
    import importlib
    for name in ('rclpy', 'ament_index_python', 'launch', 'launch_ros', 'launch_testing'):
        try:
            importlib.import_module(name)
        except ImportError as exc:
            _missing(f'launch tests need a sourced ROS 2 with launch_ros and launch_testing '
                     f'(not in the PyPI wheels; {name}: {exc})', LAUNCH_REQUIRED,
                     'RL_F1_REQUIRE_LAUNCH')
    from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
    try:
        return Path(get_package_share_directory(PACKAGE))
    except PackageNotFoundError:
        _missing(f'{PACKAGE} is not installed in a sourced colcon workspace (make test builds '
                 'one when ROS 2 is sourced)', LAUNCH_REQUIRED, 'RL_F1_REQUIRE_LAUNCH')


# Each test launch gets its own DDS domain: tests (and test runs side by side) never hear
# each other. Domains 0..232 are valid; 100..231 are ours, clear of the default 0 and of the
# pytest process's own (30..89, conftest), each run starting at its own place in the range.
_DOMAIN_FIRST, _DOMAIN_COUNT = 100, 132
_domains = itertools.count((os.getpid() * 7) % _DOMAIN_COUNT)


def fresh_domain_id() -> int:
    return _DOMAIN_FIRST + next(_domains) % _DOMAIN_COUNT


def ros_env(domain_id: int, **extra: str) -> dict:
    """The environment of a child process on its own domain, unbuffered, no colours."""
    from rl_f1_driver.dds import loopback_environ
    env = dict(loopback_environ(domain_id), PYTHONUNBUFFERED='1', RCUTILS_COLORIZED_OUTPUT='0',
               TF_CPP_MIN_LOG_LEVEL='2')
    env.update(extra)
    return env


def wait_for(condition: Callable[[], bool], timeout: float, spin: Optional[Callable] = None,
             period: float = 0.05) -> bool:
    """Poll `condition` until true or `timeout` wall seconds passed; `spin(period)` between
    polls (an executor's spin_once) or a short wait on the clock."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        if spin is not None:
            spin(period)
        else:
            time.sleep(period)  # polling interval of a bounded wait, not synchronisation
    return condition()


def ctrl_c(proc: subprocess.Popen) -> None:
    """What Ctrl-C in a terminal does: SIGINT to the whole foreground process group, the
    launch and every node (ros2_launch starts each launch in a session of its own). ros2
    launch then leaves the SIGINT to the nodes, as it does in a terminal."""
    import signal
    try:
        os.killpg(proc.pid, signal.SIGINT)
    except ProcessLookupError:
        pass


def stop_process(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    """Ctrl-C, then SIGKILL to its whole process group so no node outlives the test."""
    import signal
    if proc.poll() is None:
        ctrl_c(proc)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)   # nodes left behind, if any
    except (ProcessLookupError, PermissionError):
        pass
    if proc.poll() is None:
        proc.wait(5)


class Probe:
    """An rclpy node on its own context and DDS domain, spun on a background thread.

    Tests subscribe through it and read what arrived; other tests' rclpy contexts (and other
    domains) are untouched.
    """

    def __init__(self, domain_id: int, name: str = 'probe'):
        import threading

        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        self.rclpy = rclpy
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = rclpy.create_node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while not self._stop.is_set() and self.context.ok():
            try:
                self.executor.spin_once(timeout_sec=0.05)
            except Exception:  # noqa: BLE001 - context shut down under us
                break

    def collect(self, msg_type, topic: str, qos=10) -> list:
        """Subscribe; the returned list fills with the messages that arrive."""
        got: list = []
        self.node.create_subscription(msg_type, topic, got.append, qos)
        return got

    def parameters(self, node: str, names, timeout: float = 60.0) -> dict:
        """{name: value} of a running node's parameters, through its get_parameters service."""
        from rcl_interfaces.srv import GetParameters
        from rclpy.parameter import parameter_value_to_python
        client = self.node.create_client(GetParameters, f'{node}/get_parameters')
        try:
            if not client.wait_for_service(timeout_sec=timeout):
                raise AssertionError(f'{node}/get_parameters not available within {timeout} s')
            future = client.call_async(GetParameters.Request(names=list(names)))
            if not wait_for(future.done, timeout):
                raise AssertionError(f'{node}/get_parameters did not answer within {timeout} s')
            values = future.result().values
            return {n: parameter_value_to_python(v) for n, v in zip(names, values)}
        finally:
            self.node.destroy_client(client)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.executor.shutdown()
        self.node.destroy_node()
        self.rclpy.try_shutdown(context=self.context)


def ros2_launch(launch_file: str, args: dict, domain_id: int, log: Path) -> subprocess.Popen:
    """`ros2 launch rl_f1_driver <launch_file> k:=v ...` on its own domain, output to `log`."""
    cmd = ['ros2', 'launch', PACKAGE, launch_file, *(f'{k}:={v}' for k, v in args.items())]
    out = open(log, 'wb')
    try:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                env=ros_env(domain_id), start_new_session=True)
    finally:
        out.close()


def ros2_launch_action(launch_file: str, args: dict, domain_id: int, name: str):
    """launch_testing: `ros2 launch rl_f1_driver <launch_file> k:=v ...` as one process on
    its own domain (what the user types; it may end by itself without ending the test)."""
    from launch.actions import ExecuteProcess
    cmd = ['ros2', 'launch', PACKAGE, launch_file, *(f'{k}:={v}' for k, v in args.items())]
    env = {k: v for k, v in ros_env(domain_id).items() if k not in os.environ
           or os.environ[k] != v}
    return ExecuteProcess(cmd=cmd, name=name, output='screen', additional_env=env,
                          sigterm_timeout='20', sigkill_timeout='20')


class LaunchLog:
    """The output file of a `ros2 launch` (ros2_launch): wait for lines, find node pids."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def text(self) -> str:
        return self.path.read_text(errors='replace') if self.path.exists() else ''

    def wait_for(self, needle: str, timeout: float) -> bool:
        return wait_for(lambda: needle in self.text(), timeout, period=0.1)

    def pid(self, node: str, timeout: float = 30.0) -> int:
        """pid of `node` from launch's 'process started with pid [N]' line."""
        import re
        pattern = re.compile(rf'\[{node}-\d+\]: process started with pid \[(\d+)\]')
        found: list = []

        def seen() -> bool:
            found[:] = pattern.findall(self.text())
            return bool(found)
        if not wait_for(seen, timeout, period=0.1):
            raise AssertionError(f'{node} did not start within {timeout} s:\n'
                                 + self.text()[-3000:])
        return int(found[-1])

    def tail(self, n: int = 4000) -> str:
        return self.text()[-n:]


def ros_config_with(folder: Path, **node_values: dict) -> Path:
    """A copy of the installed config/ros.yaml with node sections changed, e.g.
    ros_config_with(tmp, train_node={'frame_timeout': 2.0}), written into `folder`."""
    import yaml
    data = yaml.safe_load((require_installed_package() / 'config' / 'ros.yaml').read_text())
    for node, values in node_values.items():
        data[node]['ros__parameters'].update(values)
    path = Path(folder) / 'ros.yaml'
    path.write_text(yaml.safe_dump(data))
    return path


def spin_until(executor, condition: Callable[[], bool], timeout: float) -> bool:
    """wait_for(), spinning `executor` between polls (in-process rclpy tests)."""
    return wait_for(condition, timeout, spin=lambda period: executor.spin_once(timeout_sec=period))


def unique_topics(values: dict, prefix: str) -> dict:
    """Node parameters with every shared topic and service name under `/prefix`, so in-process
    tests (and test runs side by side) never hear each other."""
    from rl_f1_driver.config import ros_params
    out = dict(values)
    for key, spec in ros_params.SHARED.items():
        if key in out and spec.name and key not in ('car_model', 'car_namespace'):
            out[key] = f'/{prefix}{out[key]}'
    return out


def start_node(executable: str, folder: Path, domain_id: int, params: Optional[dict] = None,
               ros_config: Optional[Path] = None, log_name: Optional[str] = None) -> tuple:
    """(process, LaunchLog): node `executable` started on `domain_id` (loopback DDS), in a
    session of its own, stdout and stderr to folder/<log_name>.log."""
    from rl_f1_driver.node_process import node_command, write_node_params
    name = log_name or executable
    params_file = write_node_params(Path(folder) / f'{name}.params.yaml', executable,
                                    params or {})
    log = Path(folder) / f'{name}.log'
    with open(log, 'wb') as out:
        proc = subprocess.Popen(node_command(executable, params_file, ros_config),
                                stdout=out, stderr=subprocess.STDOUT, env=ros_env(domain_id),
                                start_new_session=True)
    return proc, LaunchLog(log)


def loopback_violations(pid: int) -> list:
    """The sockets of process `pid` bound to an address other than loopback, as
    'udp 0.0.0.0:7400' strings (Linux: /proc/PID/fd and /proc/net). Unbound sockets (port 0)
    are not listening anywhere and are left out."""
    import ipaddress
    inodes = set()
    fd_dir = Path(f'/proc/{pid}/fd')
    for fd in fd_dir.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith('socket:['):
            inodes.add(target[8:-1])
    bad = []
    for proto in ('udp', 'udp6', 'tcp', 'tcp6'):
        table = Path(f'/proc/{pid}/net/{proto}')
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] not in inodes:
                continue
            hex_addr, hex_port = fields[1].split(':')
            port = int(hex_port, 16)
            raw = bytes.fromhex(hex_addr)
            if proto.endswith('6'):
                # /proc/net/*6 prints the address as four little-endian 32-bit words.
                raw = b''.join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
            else:
                raw = raw[::-1]
            addr = ipaddress.ip_address(raw)
            # ::ffff:127.0.0.1 (an IPv4 loopback socket opened as IPv6, as gRPC does) is
            # loopback too.
            addr = getattr(addr, 'ipv4_mapped', None) or addr
            if port and not addr.is_loopback:
                bad.append(f'{proto} {addr}:{port}')
    return bad
