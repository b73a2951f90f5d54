"""Launch files checked without ROS (launch is not installed here): parsed with ast."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAUNCH = sorted((ROOT / 'launch').glob('*.launch.py'))


def test_the_three_launch_files_exist():
    assert {p.name for p in LAUNCH} == {'train.launch.py', 'drive.launch.py',
                                        'world.launch.py'}


def _calls(tree, name):
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)
            and (getattr(n.func, 'id', None) == name or getattr(n.func, 'attr', None) == name)]


def _kw(call, key):
    return next((k.value for k in call.keywords if k.arg == key), None)


def _text(node):
    """A string constant, or the module's PACKAGE constant."""
    if isinstance(node, ast.Name) and node.id == 'PACKAGE':
        return 'rl_f1_driver'
    return node.value


@pytest.mark.parametrize('path', LAUNCH, ids=lambda p: p.name)
def test_compiles_and_defines_generate_launch_description(path):
    source = path.read_text()
    compile(source, str(path), 'exec')
    tree = ast.parse(source)
    funcs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert 'generate_launch_description' in {f.name for f in funcs}
    assert ast.get_docstring(tree), 'say how to run it in the module docstring'


@pytest.mark.parametrize('path', LAUNCH, ids=lambda p: p.name)
def test_every_argument_has_a_default_and_a_description(path):
    tree = ast.parse(path.read_text())
    declared = _calls(tree, 'DeclareLaunchArgument')
    assert declared
    names = []
    for call in declared:
        names.append(call.args[0].value)
        assert _kw(call, 'default_value') is not None, f'{names[-1]}: no default_value'
        desc = _kw(call, 'description')
        assert isinstance(desc, ast.Constant) and desc.value.strip(), f'{names[-1]}: no text'
    assert len(names) == len(set(names))
    used = {c.args[0].value for c in _calls(tree, 'LaunchConfiguration')
            if c.args and isinstance(c.args[0], ast.Constant)}
    assert used <= set(names), f'used but not declared: {used - set(names)}'


@pytest.mark.parametrize('name, expected', [
    ('train.launch.py', {'circuit', 'world', 'simulator', 'gui', 'rviz', 'config',
                         'ros_config', 'run_dir', 'resume'}),
    ('drive.launch.py', {'circuit', 'world', 'simulator', 'gui', 'rviz', 'config',
                         'ros_config', 'policy_dir', 'controller'}),
    ('world.launch.py', {'circuit', 'world', 'gui'}),
])
def test_arguments_the_docs_promise(name, expected):
    tree = ast.parse((ROOT / 'launch' / name).read_text())
    names = {c.args[0].value for c in _calls(tree, 'DeclareLaunchArgument')}
    assert expected <= names


@pytest.mark.parametrize('name, executables', [
    ('train.launch.py', {'train_node', 'sim_node', 'rviz2'}),
    ('drive.launch.py', {'drive_node', 'sim_node', 'rviz2'}),
])
def test_nodes_started_exist_and_get_the_parameter_file(name, executables):
    tree = ast.parse((ROOT / 'launch' / name).read_text())
    nodes = _calls(tree, 'Node')
    found = {_kw(n, 'executable').value for n in nodes}
    assert found == executables
    setup_py = (ROOT / 'setup.py').read_text()
    for node in nodes:
        exe = _kw(node, 'executable').value
        if _text(_kw(node, 'package')) == 'rl_f1_driver':
            assert f"'{exe} = rl_f1_driver.ros.{exe}:main'" in setup_py
            assert _kw(node, 'name').value == exe   # the ros.yaml section name
            first = _kw(node, 'parameters').elts[0]
            assert getattr(first, 'id', None) == 'ros_config'


def test_gazebo_is_started_through_gazebo_ros_with_our_world_and_clock_rate():
    for name in ('train.launch.py', 'drive.launch.py', 'world.launch.py'):
        text = (ROOT / 'launch' / name).read_text()
        assert "'gzserver.launch.py'" in text and "'gzclient.launch.py'" in text
        assert "'params_file'" in text and "'gazebo.yaml'" in text
        assert "'worlds', [circuit, '.world']" in text
