"""The ROS package metadata, checked without ROS: package.xml, setup.py, rviz config, lint."""
import ast
import importlib.metadata
import importlib.util
import re
import sys
from pathlib import Path

import pytest
import yaml

from rl_f1_driver.config import ros_params as params

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = 'rl_f1_driver'
# pip packages that have a rosdep key, which package.xml must then name.
ROSDEP = {'numpy': 'python3-numpy', 'cv2': 'python3-opencv', 'yaml': 'python3-yaml',
          'matplotlib': 'python3-matplotlib',
          # gazebo_ros installs its launch helpers (GazeboRosPaths) as the Python package
          # `scripts`; launch_common reads Gazebo's model and plugin paths from it.
          'scripts': 'gazebo_ros'}
# ROS Python packages: never installable from pip (PyPI's ROS 2 wheels install some of them
# into the venv, so an import that resolves is not enough to call it a pip package). Any other
# import that is neither a pip requirement nor resolves here is taken to be a ROS package too.
ROS = {'rclpy', 'launch', 'launch_ros', 'launch_testing', 'launch_testing_ros', 'sensor_msgs',
       'geometry_msgs', 'nav_msgs', 'std_msgs', 'std_srvs', 'gazebo_msgs', 'cv_bridge',
       'tf2_msgs', 'rosgraph_msgs', 'builtin_interfaces', 'ament_index_python',
       'visualization_msgs', 'rcl_interfaces'}
# The requirement files that name the pip packages (no rosdep keys: pip installs them, never
# rosdep). requirements-ros.txt is not one: its wheels are ROS packages.
PIP_REQUIREMENTS = ('requirements.txt', 'requirements-nodeps.txt', 'requirements-test.txt')
# Imports of pip packages the requirement files do not name (none today: dm-reverb left the
# stack for Ray, and nothing imports it any more).
PIP_IMPORTS_BEYOND_REQUIREMENTS: dict = {}


def _requirement_names(path):
    """The distribution names a requirements file lists (comments, options, versions and
    environment markers stripped)."""
    names = []
    for line in path.read_text(encoding='utf-8').splitlines():
        line = line.split('#', 1)[0].strip()
        if not line or line.startswith('-'):
            continue
        names.append(re.match(r'[A-Za-z0-9][A-Za-z0-9._-]*', line).group(0))
    return names


def _normalise(name):
    return re.sub(r'[-_.]+', '-', name).lower()


def pip_import_names(root=ROOT):
    """import name -> pip distribution, for every distribution the requirement files name.

    An installed distribution gives its real top-level modules (opencv-python-headless: cv2,
    PyYAML: yaml); one not installed here is taken to provide its own name (ray: ray)."""
    wanted = {_normalise(n): n for f in PIP_REQUIREMENTS for n in _requirement_names(root / f)}
    names = {}
    for module, dists in importlib.metadata.packages_distributions().items():
        for dist in dists:
            if _normalise(dist) in wanted:
                names[module] = wanted[_normalise(dist)]
    for dist in wanted.values():
        names.setdefault(re.sub(r'[-.]', '_', dist).lower(), dist)
    names.update(PIP_IMPORTS_BEYOND_REQUIREMENTS)
    return names


@pytest.fixture(scope='module')
def manifest():
    catkin_pkg = pytest.importorskip('catkin_pkg.package')
    return catkin_pkg.parse_package(str(ROOT / 'package.xml'))


def _runtime_deps(manifest):
    return {d.name for d in manifest.exec_depends + manifest.build_export_depends}


def _imports(path):
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.Import):
            names.update(a.name.split('.')[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split('.')[0])
    return names


def _launch_sources():
    """The launch files, and the module of launch actions they share."""
    return [*sorted((ROOT / 'launch').glob('*.py')), ROOT / PACKAGE / 'launch_common.py']


def _code_files():
    return sorted([*(ROOT / PACKAGE).rglob('*.py'), *(ROOT / 'launch').glob('*.py')])


def test_manifest_basics(manifest):
    assert manifest.name == PACKAGE
    assert str(manifest.package_format) == '3'
    assert manifest.get_build_type() == 'ament_python'
    setup_py = (ROOT / 'setup.py').read_text()
    assert f"version='{manifest.version}'" in setup_py
    assert (ROOT / 'resource' / PACKAGE).is_file()


def ros_dependency(name, pip_names):
    """The package.xml dependency an import needs, or None for a pip package without a rosdep
    key (requirements*.txt)."""
    if name in ROSDEP:
        return ROSDEP[name]
    if name in ROS:
        return name
    if name in pip_names:
        return None
    return name if importlib.util.find_spec(name) is None else None


def test_pip_packages_are_never_taken_for_ros_packages():
    pip_names = pip_import_names()
    # Named by the requirement files, whether or not installed here.
    for name in ('ray', 'tensorflow', 'tf_agents', 'tf_keras', 'gym', 'pytest', 'catkin_pkg'):
        assert ros_dependency(name, pip_names) is None, name
    assert pip_names['ray'] == 'ray'
    # Not named anywhere and not installed: taken for a ROS package to declare, so a
    # leftover `import reverb` (dm-reverb left the stack) would fail the exec_depend check.
    assert ros_dependency('reverb', pip_names) == 'reverb'
    # pip packages with a rosdep key: package.xml names the key.
    assert ros_dependency('numpy', pip_names) == 'python3-numpy'
    assert ros_dependency('cv2', pip_names) == 'python3-opencv'
    # ROS packages stay ROS packages, also where PyPI's ROS 2 wheels made them importable.
    for name in ('rclpy', 'sensor_msgs', 'launch_ros', 'tf2_msgs'):
        assert ros_dependency(name, pip_names) == name
    assert ros_dependency('not_a_pip_package_here', pip_names) == 'not_a_pip_package_here'


def test_pip_import_names_follow_the_requirement_files(tmp_path):
    for name in PIP_REQUIREMENTS:
        (tmp_path / name).write_text('')
    (tmp_path / 'requirements.txt').write_text(
        '# a comment\nSome.Package[extra] >= 1 ; python_version < "3.13"  # why\n'
        '-c constraints.txt\nopencv-python-headless\n')
    names = pip_import_names(tmp_path)
    assert names['some_package'] == 'Some.Package'
    if importlib.util.find_spec('cv2') is not None:
        assert names['cv2'] == 'opencv-python-headless'
    assert 'ray' not in names and 'tensorflow' not in names


def test_every_ros_package_imported_is_a_dependency(manifest):
    deps = _runtime_deps(manifest)
    stdlib = set(sys.stdlib_module_names)
    pip_names = pip_import_names()
    missing = {}
    for path in _code_files():
        for name in _imports(path) - stdlib - {PACKAGE, '__future__'}:
            dep = ros_dependency(name, pip_names)
            if dep is not None and dep not in deps:
                missing.setdefault(dep, []).append(str(path.relative_to(ROOT)))
    assert missing == {}, f'add <exec_depend> for these to package.xml: {missing}'


def test_packages_named_in_launch_files_and_worlds_are_dependencies(manifest):
    deps = _runtime_deps(manifest)
    named = set()
    for path in _launch_sources():
        text = path.read_text()
        named |= set(re.findall(r"FindPackageShare\('([\w]+)'\)", text))
        named |= set(re.findall(r"package='([\w]+)'", text))
        if re.search(r'from scripts import GazeboRosPaths', text):   # gazebo_ros's module
            named.add('gazebo_ros')
    named.discard(PACKAGE)
    assert {'gazebo_ros', 'rviz2'} <= named
    assert named <= deps
    plugins = set()
    for world in (ROOT / 'worlds').glob('*.world'):
        plugins |= set(re.findall(r'filename="(lib[\w]+\.so)"', world.read_text()))
    assert plugins == {'libgazebo_ros_state.so', 'libgazebo_ros_camera.so',
                       'libgazebo_ros_planar_move.so'}
    assert {'gazebo_ros', 'gazebo_plugins'} <= deps   # state plugin / camera + planar move


def _setup_call():
    tree = ast.parse((ROOT / 'setup.py').read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, 'id', '') == 'setup':
            return {k.arg: k.value for k in node.keywords}
    raise AssertionError('no setup() call in setup.py')


def test_console_scripts_point_at_main_functions_and_cover_every_node():
    kwargs = _setup_call()
    scripts = ast.literal_eval(kwargs['entry_points'])['console_scripts']
    targets = dict(s.replace(' ', '').split('=') for s in scripts)
    for name, target in targets.items():
        module, func = target.split(':')
        path = ROOT / (module.replace('.', '/') + '.py')
        assert path.is_file(), f'{name}: {path} does not exist'
        funcs = {n.name for n in ast.parse(path.read_text()).body
                 if isinstance(n, ast.FunctionDef)}
        assert func in funcs, f'{name}: {module} has no {func}()'
    nodes = {p.stem for p in (ROOT / PACKAGE / 'ros').glob('*_node.py')}
    assert nodes == {'train_node', 'drive_node', 'sim_node'}
    assert nodes <= set(targets)
    assert set(params.NODES) == nodes


def test_data_files_install_launch_config_and_worlds():
    kwargs = _setup_call()
    trees = {c.args[0].value for c in ast.walk(kwargs['data_files'])
             if isinstance(c, ast.Call) and getattr(c.func, 'id', '') == 'tree'}
    assert {'launch', 'config', 'worlds'} <= trees
    for folder in ('launch', 'worlds'):
        assert list((ROOT / folder).iterdir()), f'{folder}/ is empty'
    for needed in ('config/ros.yaml', 'config/gazebo.yaml', 'config/rl_f1_driver.rviz'):
        assert (ROOT / needed).is_file()
    cfg = (ROOT / 'setup.cfg').read_text()
    assert f'script_dir=$base/lib/{PACKAGE}' in cfg
    assert f'install_scripts=$base/lib/{PACKAGE}' in cfg


def test_rviz_config_shows_the_configured_topics():
    rviz = yaml.safe_load((ROOT / 'config' / 'rl_f1_driver.rviz').read_text())
    manager = rviz['Visualization Manager']
    topics = {d['Name']: d['Topic']['Value'] for d in manager['Displays'] if 'Topic' in d}
    shared = params.load_param_file(params.default_file())['/**']
    assert topics == {'Odometry': shared['odom_topic'], 'Driven path': shared['path_topic'],
                      'Camera': shared['camera_topic'],
                      'Perception overlay': shared['overlay_topic'],
                      'Circuit': shared['circuit_topic'], 'Numbers': shared['numbers_topic']}
    classes = {d['Class'] for d in manager['Displays']}
    assert {'rviz_default_plugins/Image', 'rviz_default_plugins/Path',
            'rviz_default_plugins/Odometry', 'rviz_default_plugins/TF',
            'rviz_default_plugins/MarkerArray'} <= classes
    # The circuit is latched (published once): only a Transient Local subscription gets it.
    by_name = {d['Name']: d for d in manager['Displays']}
    assert by_name['Circuit']['Topic']['Durability Policy'] == 'Transient Local'
    assert by_name['Circuit']['Topic']['Reliability Policy'] == 'Reliable'
    assert by_name['Circuit']['Class'] == by_name['Numbers']['Class'] == \
        'rviz_default_plugins/MarkerArray'
    assert manager['Global Options']['Fixed Frame'] == shared['odom_frame']


def test_gazebo_params_file_raises_the_clock_rate():
    data = yaml.safe_load((ROOT / 'config' / 'gazebo.yaml').read_text())
    assert data['/gazebo']['ros__parameters']['publish_rate'] >= 50.0


def test_ros_modules_import_rclpy_only_in_node_modules():
    """Pure modules stay importable without ROS (that is what the tests here rely on)."""
    ros_only = {'rclpy', 'sensor_msgs', 'geometry_msgs', 'nav_msgs', 'std_msgs', 'std_srvs',
                'gazebo_msgs', 'cv_bridge', 'tf2_ros', 'tf2_msgs', 'rosgraph_msgs',
                'builtin_interfaces', 'visualization_msgs'}
    allowed = {'gazebo_link.py', 'node_util.py', 'train_node.py', 'drive_node.py',
               'sim_node.py', 'rviz.py', 'tf_publish.py'}
    for path in (ROOT / PACKAGE).rglob('*.py'):
        if path.name in allowed and path.parent.name == 'ros':
            continue
        top_level = {n.module.split('.')[0] for n in ast.parse(path.read_text()).body
                     if isinstance(n, ast.ImportFrom) and n.module and n.level == 0}
        top_level |= {a.name.split('.')[0] for n in ast.parse(path.read_text()).body
                      if isinstance(n, ast.Import) for a in n.names}
        assert not (top_level & ros_only), f'{path} imports {top_level & ros_only}'


def test_docs_list_every_parameter_and_launch_argument():
    # The front page links to docs/; the ROS reference lives there.
    doc = '\n'.join(p.read_text() for p in [ROOT / 'README.md', *sorted(ROOT.glob('docs/*.md'))])
    keys = set(params.SHARED).union(*params.NODES.values())
    assert {k for k in keys if f'`{k}`' not in doc} == set()
    found = set()
    for path in _launch_sources():
        for name in re.findall(r"DeclareLaunchArgument\(\s*'(\w+)'", path.read_text()):
            assert f'`{name}`' in doc, f'{path.name}: argument {name} is not documented'
            found.add(name)
    # The pattern still finds every argument (the launch files declare them this way).
    assert {'circuit', 'world', 'simulator', 'gui', 'rviz', 'config', 'ros_config', 'verbose',
            'run_dir', 'resume', 'policy_dir', 'controller'} <= found
