"""Shared fixtures for the rl_f1_driver tests (no ROS needed for these)."""
import os

# Before anything imports TensorFlow (tf-agents does): keep its C++ start-up chatter out.
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

# Before anything imports rclpy: DDS on loopback only, for this process (in-process ROS tests)
# and every process it starts; and a domain of this run's own, so runs side by side never
# hear each other (test launches and node processes get one each: ros_support).
from rl_f1_driver.dds import confine_process  # noqa: E402

confine_process(int(os.environ.get('ROS_DOMAIN_ID') or 30 + os.getpid() % 60))

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import yaml  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / 'fixtures'
STRAIGHT_OVAL = FIXTURES / 'straight_oval.yaml'


def write_yaml(folder: Path, name: str, data) -> Path:
    """Write `data` (or raw text when a str) to folder/name and return the path."""
    path = Path(folder) / name
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
    path.write_text(text, encoding='utf-8')
    return path


@pytest.fixture(scope='session')
def cfg():
    """The defaults, typed."""
    from rl_f1_driver.config import load_config
    return load_config()


@pytest.fixture(scope='session')
def straight_oval():
    """Stadium circuit whose straights are straight to < 0.1 mm in the middle (fixture file)."""
    from rl_f1_driver.track import load_circuit
    return load_circuit(STRAIGHT_OVAL)


@pytest.fixture(scope='session')
def simple_circuit():
    from rl_f1_driver.track import load_circuit
    return load_circuit('simple')


@pytest.fixture(scope='session')
def trained_run(tmp_path_factory):
    """(run dir, report, log lines) of one short lines-observation training run."""
    from train_helpers import run_training
    out = tmp_path_factory.mktemp('runs') / 'short'
    report, lines = run_training(out)
    return out, report, lines


@pytest.fixture
def launches(tmp_path):
    """start(launch_file, {arg: value}, domain=None) -> (process, LaunchLog, domain id):
    `ros2 launch rl_f1_driver ...` on its own DDS domain; every launch started is stopped
    (Ctrl-C, then SIGKILL to its process group) at the end of the test. ROS tests only."""
    from ros_support import LaunchLog, fresh_domain_id, ros2_launch, stop_process
    started = []

    def start(launch_file, args, domain=None):
        domain = fresh_domain_id() if domain is None else domain
        log = tmp_path / f'{launch_file}.{len(started)}.log'
        started.append(ros2_launch(launch_file, args, domain, log))
        return started[-1], LaunchLog(log), domain

    yield start
    for proc in started:
        stop_process(proc)


@pytest.fixture
def nodes(tmp_path):
    """start(executable, params=None, domain=None, ros_config=None, log_name=None) ->
    (process, LaunchLog, domain id): one of our nodes as a process on its own DDS domain
    (ros_support.start_node); every node started is stopped (Ctrl-C, then SIGKILL) at the end
    of the test. ROS tests only."""
    from ros_support import fresh_domain_id, start_node, stop_process
    started = []

    def start(executable, params=None, domain=None, ros_config=None, log_name=None):
        domain = fresh_domain_id() if domain is None else domain
        proc, log = start_node(executable, tmp_path, domain, params, ros_config,
                               log_name or f'{executable}.{len(started)}')
        started.append(proc)
        return proc, log, domain

    yield start
    for proc in reversed(started):
        stop_process(proc)


_CONFIG: list = []


def pytest_configure(config):
    _CONFIG.append(config)


def launch_tmp_path(name: str) -> Path:
    """A fresh folder from the factory behind `tmp_path`, for launch_testing modules.

    Their generate_test_description runs outside pytest's fixtures, so they cannot ask for
    tmp_path; this gives them the same kind of folder (under pytest's base temp, pruned with
    the other tmp_paths), instead of a mkdtemp folder left in /tmp for good. The factory is
    looked up at call time: pytest's tmp_path plugin sets it up after this conftest's
    pytest_configure has run.
    """
    return _CONFIG[-1]._tmp_path_factory.mktemp(name)


def pytest_report_header(config):
    """Which ROS 2 this run used, and how its DDS is confined (printed before the tests)."""
    from rl_f1_driver import ros_install
    return [f'{ros_install.summary()}; DDS on loopback only '
            f'({os.path.basename(os.environ["FASTDDS_DEFAULT_PROFILES_FILE"])}), '
            f'ROS_DOMAIN_ID {os.environ["ROS_DOMAIN_ID"]} for in-process tests, one per node '
            f'test']
