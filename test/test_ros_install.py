"""The colcon install space as a ROS user sees it: executables, share files, launch arguments.

`ros2 pkg executables`, `ros2 pkg prefix` and `ros2 launch ... --show-args` of the installed
rl_f1_driver (test/run.sh builds it with colcon into a throw-away workspace first). The
installed data files and Python modules must be byte-identical to the source, so a stale
install (a workspace built before the last edit) fails here instead of running old code, and
the node scripts must start with a Python that has TensorFlow (a colcon run on the system
Python installs scripts that cannot even import the trainer).
"""
import re
import subprocess
from pathlib import Path
from typing import Dict, List

import pytest

from ros_support import PACKAGE, fresh_domain_id, require_installed_package, ros_env

SHARE = require_installed_package()
PREFIX = SHARE.parent.parent
ROOT = Path(__file__).resolve().parent.parent
NODES = {'train_node', 'drive_node', 'sim_node'}
CONSOLE_SCRIPT = 'rl-f1'
LAUNCH_FILES = ('train.launch.py', 'drive.launch.py', 'world.launch.py')
# Every launch file a user can start (a stray one too: it must work, and the stale-install
# test says it has no source).
INSTALLED_LAUNCH_FILES = sorted(p.name for p in (SHARE / 'launch').glob('*.launch.py'))
# Data folders setup.py installs whole (its tree()), and single files.
DATA_TREES = ('launch', 'config', 'worlds')
DATA_FILES = ('package.xml',)
# Launch arguments and defaults the README's table promises, per launch file ("all" = these
# three). Arguments whose default is a substitution (world, ros_config) are only listed.
PROMISED: Dict[str, Dict[str, object]] = {
    'train.launch.py': {'circuit': 'simple', 'world': None, 'simulator': 'gazebo',
                        'gui': 'false', 'rviz': 'false', 'config': '', 'ros_config': None,
                        'run_dir': 'runs/gazebo', 'resume': 'false', 'stepping': 'lockstep',
                        'verbose': 'false', 'role': 'train', 'ray_address': '',
                        'replay': 'replay', 'actor_id': '0'},
    'drive.launch.py': {'circuit': 'simple', 'world': None, 'simulator': 'gazebo',
                        'gui': 'true', 'rviz': 'false', 'config': '', 'ros_config': None,
                        'policy_dir': '', 'controller': 'policy', 'stepping': 'realtime',
                        'verbose': 'false'},
    'world.launch.py': {'circuit': 'simple', 'world': None, 'gui': 'true', 'verbose': 'false'},
}
CLI_TIMEOUT = 60.0        # s for a `ros2 pkg` / `ros2 launch --show-args` call
IMPORT_TIMEOUT = 300.0    # s for a cold `import tensorflow, tf_agents` on a loaded 2-core box


def ros2(*args: str, timeout: float = CLI_TIMEOUT) -> subprocess.CompletedProcess:
    """`ros2 ARGS` on a domain of its own (no verb used here starts the daemon)."""
    try:
        return subprocess.run(['ros2', *args], capture_output=True, text=True,
                              env=ros_env(fresh_domain_id()), timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f'`ros2 {" ".join(args)}` did not finish within {timeout} s; output so '
                    f'far:\n{exc.stdout!r}\n{exc.stderr!r}')


def _output(proc: subprocess.CompletedProcess) -> str:
    return f'rc {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}'


def _data_files(base: Path) -> Dict[str, Path]:
    """{relative path: path} of what setup.py installs from (or into) `base`: every file of the
    data trees (glob semantics: hidden files skipped; __pycache__ is no data) and the single
    files."""
    found = {}
    for folder in DATA_TREES:
        for path in (base / folder).glob('**/*'):
            if path.is_file() and '__pycache__' not in path.parts:
                found[str(path.relative_to(base))] = path
    for name in DATA_FILES:
        if (base / name).is_file():
            found[name] = base / name
    return found


def _modules(package_dir: Path) -> Dict[str, Path]:
    return {str(p.relative_to(package_dir)): p for p in package_dir.rglob('*.py')
            if '__pycache__' not in p.parts}


def _compare(source: Dict[str, Path], installed: Dict[str, Path], where: Path) -> List[str]:
    """Differences between the source files and their installed copies, one line each."""
    problems = [f'{rel}: not installed' for rel in sorted(set(source) - set(installed))]
    problems += [f'{rel}: installed but not in the source (left over from an older build)'
                 for rel in sorted(set(installed) - set(source))]
    problems += [f'{rel}: installed copy differs from the source'
                 for rel in sorted(set(source) & set(installed))
                 if source[rel].read_bytes() != installed[rel].read_bytes()]
    if problems:
        problems.append(f'(install space {where}: rebuild it, e.g. test/colcon_build.sh)')
    return problems


def _show_args(text: str) -> Dict[str, str]:
    """{argument: default as printed} from `ros2 launch ... --show-args` output."""
    found = {}
    for block in re.split(r'\n\s*\n', text):
        name = re.search(r"^    '([^']+)':", block, re.M)
        default = re.search(r'^\s+\(default: (.*)\)\s*$', block, re.M)
        if name:
            found[name.group(1)] = default.group(1) if default else None
    return found


def test_ros2_pkg_executables_lists_the_three_nodes():
    proc = ros2('pkg', 'executables', PACKAGE)
    assert proc.returncode == 0, _output(proc)
    listed = set()
    for line in proc.stdout.splitlines():
        parts = line.split()
        assert len(parts) == 2 and parts[0] == PACKAGE, f'unexpected line {line!r}'
        listed.add(parts[1])
    assert NODES <= listed, f'missing executables {NODES - listed}; listed {sorted(listed)}'
    assert listed - NODES <= {CONSOLE_SCRIPT}, \
        f'unexpected executables {sorted(listed - NODES)}; expected {sorted(NODES)}'
    for name in listed:
        script = PREFIX / 'lib' / PACKAGE / name
        assert script.is_file(), f'{name} is listed but {script} does not exist'


def test_ros2_pkg_prefix_is_the_install_space_with_every_data_file():
    proc = ros2('pkg', 'prefix', PACKAGE)
    assert proc.returncode == 0, _output(proc)
    prefix = Path(proc.stdout.strip())
    assert prefix.resolve() == PREFIX.resolve(), \
        f'ros2 pkg prefix says {prefix}, the ament index of this process says {PREFIX}'
    share = prefix / 'share' / PACKAGE
    from rl_f1_driver.track import builtin_names
    circuits = builtin_names()
    assert circuits, 'no built-in circuits found'
    assert set(circuits) == {p.stem for p in (ROOT / 'config' / 'circuits').glob('*.yaml')}
    needed = [*(f'launch/{name}' for name in LAUNCH_FILES),
              *(f'worlds/{name}.world' for name in circuits),
              'config/ros.yaml', 'config/defaults.yaml', 'config/rl_f1_driver.rviz',
              'config/gazebo.yaml', 'package.xml']
    missing = [rel for rel in needed if not (share / rel).is_file()]
    assert not missing, f'not in the install space {share}: {missing}'


def test_installed_data_files_are_the_source_files():
    problems = _compare(_data_files(ROOT), _data_files(SHARE), PREFIX)
    assert not problems, 'stale install:\n' + '\n'.join(problems)


def test_installed_python_modules_are_the_source_modules():
    """The nodes run the installed copy of the package, not the checkout."""
    installed = sorted(PREFIX.glob(f'lib/python3*/site-packages/{PACKAGE}'))
    assert len(installed) == 1, \
        f'expected one installed {PACKAGE} package under {PREFIX}/lib, found {installed}'
    problems = _compare(_modules(ROOT / PACKAGE), _modules(installed[0]), PREFIX)
    assert not problems, 'stale install:\n' + '\n'.join(problems)


@pytest.mark.parametrize('launch_file', INSTALLED_LAUNCH_FILES)
def test_show_args_lists_every_declared_argument_with_the_promised_defaults(launch_file):
    path = SHARE / 'launch' / launch_file
    from launch.launch_description_sources import get_launch_description_from_python_launch_file
    declared = [a.name for a in
                get_launch_description_from_python_launch_file(str(path)).get_launch_arguments()]
    assert len(declared) == len(set(declared)), f'declared twice: {declared}'
    promised = PROMISED.get(launch_file, {})
    if launch_file in PROMISED:
        assert set(declared) == set(promised), (
            f'{launch_file} declares {sorted(declared)}; the README table promises '
            f'{sorted(promised)}')

    proc = ros2('launch', PACKAGE, launch_file, '--show-args')
    assert proc.returncode == 0, _output(proc)
    shown = _show_args(proc.stdout)
    assert set(shown) == set(declared), (
        f'--show-args lists {sorted(shown)}, {launch_file} declares {sorted(declared)}\n'
        + _output(proc))
    for name, default in promised.items():
        assert shown[name] is not None, f'{launch_file}: {name} shows no default'
        if default is not None:
            assert shown[name] == repr(default), \
                f'{launch_file}: {name} defaults to {shown[name]}, the README says {default!r}'


def test_node_scripts_start_with_a_python_that_has_tensorflow():
    interpreters: Dict[str, List[str]] = {}
    for name in sorted(NODES):
        script = PREFIX / 'lib' / PACKAGE / name
        first = script.read_bytes().split(b'\n', 1)[0].decode(errors='replace')
        assert first.startswith('#!'), f'{script} has no shebang line: {first!r}'
        command = first[2:].split()
        assert command, f'{script}: empty shebang line'
        interpreters.setdefault(' '.join(command), []).append(name)
    for interpreter, names in interpreters.items():
        try:
            proc = subprocess.run([*interpreter.split(), '-c', 'import tensorflow, tf_agents'],
                                  capture_output=True, text=True, timeout=IMPORT_TIMEOUT,
                                  env=ros_env(fresh_domain_id()), check=False)
        except subprocess.TimeoutExpired:
            pytest.fail(f'{interpreter} (shebang of {names}) did not import tensorflow and '
                        f'tf_agents within {IMPORT_TIMEOUT} s')
        except OSError as exc:
            pytest.fail(f'{names} start with #!{interpreter}, which cannot run: {exc}')
        assert proc.returncode == 0, (
            f'{names} start with #!{interpreter}, which cannot import tensorflow and '
            f'tf_agents (colcon ran on the wrong Python?):\n{proc.stderr[-2000:]}')
