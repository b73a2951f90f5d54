"""Launch files checked without ROS (launch is not installed here).

Each launch file is parsed with ast, and run: generate_launch_description() is called with
stand-ins for the launch / launch_ros classes that only keep their arguments. So what is
checked is the launch description itself, with what the file takes from
rl_f1_driver/launch_common.py.
"""
import ast
import importlib.util
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAUNCH = sorted((ROOT / 'launch').glob('*.launch.py'))
COMMON = 'rl_f1_driver.launch_common'
# The launch / launch_ros API the launch files may use (ROS 2 Humble).
API = {
    'launch': ['LaunchDescription'],
    'launch.actions': ['DeclareLaunchArgument', 'IncludeLaunchDescription', 'Shutdown'],
    'launch.conditions': ['IfCondition'],
    'launch.launch_description_sources': ['PythonLaunchDescriptionSource'],
    'launch.substitutions': ['LaunchConfiguration', 'PathJoinSubstitution', 'PythonExpression'],
    'launch_ros': [],
    'launch_ros.actions': ['Node'],
    'launch_ros.parameter_descriptions': ['ParameterValue'],
    'launch_ros.substitutions': ['FindPackageShare'],
}


class Stub:
    """Stands for a launch / launch_ros class: keeps its arguments, equal by value."""

    made = []   # every stub made while a launch description is generated

    def __init__(self, *args, **kwargs):
        self.args = args
        self.kwargs = {k: dict(v) if isinstance(v, type({}.items())) else v
                       for k, v in kwargs.items()}
        Stub.made.append(self)

    def __eq__(self, other):
        return (type(self) is type(other) and self.args == other.args
                and self.kwargs == other.kwargs)

    __hash__ = None

    def __repr__(self):
        parts = [*map(repr, self.args), *(f'{k}={v!r}' for k, v in self.kwargs.items())]
        return f"{type(self).__name__}({', '.join(parts)})"

    def kw(self, key):
        return self.kwargs.get(key)


STUBS = {name: type(name, (Stub,), {}) for names in API.values() for name in names}
S = types.SimpleNamespace(**STUBS)


def generate(path):
    """The entities of the launch description of the launch file at `path`, and every
    stub made on the way."""
    saved = {m: sys.modules.get(m) for m in [*API, COMMON]}
    try:
        for module, names in API.items():
            fake = types.ModuleType(module)
            for name in names:
                setattr(fake, name, STUBS[name])
            sys.modules[module] = fake
        sys.modules.pop(COMMON, None)   # import it afresh, on the stand-ins
        spec = importlib.util.spec_from_file_location(path.stem.replace('.', '_'), path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        Stub.made = []
        description = module.generate_launch_description()
        made = Stub.made
    finally:
        for module, old in saved.items():
            if old is None:
                sys.modules.pop(module, None)
            else:
                sys.modules[module] = old
        package = sys.modules.get('rl_f1_driver')
        if package is not None and saved[COMMON] is None:
            vars(package).pop('launch_common', None)
    assert isinstance(description, S.LaunchDescription)
    (entities,) = description.args
    return list(entities), made


def _of(entities, kind):
    return [e for e in entities if isinstance(e, kind)]


def _arguments(entities):
    return {a.args[0]: a for a in _of(entities, S.DeclareLaunchArgument)}


def _share(package):
    return S.FindPackageShare(package)


def test_the_three_launch_files_exist():
    assert {p.name for p in LAUNCH} == {'train.launch.py', 'drive.launch.py',
                                        'world.launch.py'}


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
    entities, made = generate(path)
    declared = _of(entities, S.DeclareLaunchArgument)
    assert declared
    names = []
    for argument in declared:
        (name,) = argument.args
        assert isinstance(name, str)
        names.append(name)
        assert argument.kw('default_value') is not None, f'{name}: no default_value'
        desc = argument.kw('description')
        assert isinstance(desc, str) and desc.strip(), f'{name}: no text'
    assert len(names) == len(set(names))
    # Declared before anything that reads them.
    assert entities[:len(declared)] == declared
    used = {c.args[0] for c in made if isinstance(c, S.LaunchConfiguration)}
    assert used <= set(names), f'used but not declared: {used - set(names)}'


@pytest.mark.parametrize('name, expected', [
    ('train.launch.py', {'circuit', 'world', 'simulator', 'gui', 'rviz', 'config',
                         'ros_config', 'run_dir', 'resume', 'stepping'}),
    ('drive.launch.py', {'circuit', 'world', 'simulator', 'gui', 'rviz', 'config',
                         'ros_config', 'policy_dir', 'controller', 'stepping'}),
    ('world.launch.py', {'circuit', 'world', 'gui'}),
])
def test_arguments_the_docs_promise(name, expected):
    entities, _ = generate(ROOT / 'launch' / name)
    assert expected <= set(_arguments(entities))


@pytest.mark.parametrize('name, executables', [
    ('train.launch.py', {'train_node', 'sim_node', 'rviz2'}),
    ('drive.launch.py', {'drive_node', 'sim_node', 'rviz2'}),
])
def test_nodes_started_exist_and_get_the_parameter_file(name, executables):
    entities, _ = generate(ROOT / 'launch' / name)
    nodes = _of(entities, S.Node)
    found = {n.kw('executable') for n in nodes}
    assert found == executables
    setup_py = (ROOT / 'setup.py').read_text()
    for node in nodes:
        exe = node.kw('executable')
        assert all(p.get('use_sim_time', True) is True
                   for p in node.kw('parameters') if isinstance(p, dict))
        if node.kw('package') == 'rl_f1_driver':
            assert f"'{exe} = rl_f1_driver.ros.{exe}:main'" in setup_py
            assert node.kw('name') == exe   # the ros.yaml section name
            # Fully specified (namespace given): launch arguments then override ros.yaml's
            # node section instead of losing to it.
            assert node.kw('namespace') == ''
            if exe != 'sim_node':
                assert isinstance(node.kw('on_exit'), S.Shutdown)
            first = node.kw('parameters')[0]
            assert first == S.LaunchConfiguration('ros_config')
    assert _arguments(entities)['ros_config'].kw('default_value') == S.PathJoinSubstitution(
        [_share('rl_f1_driver'), 'config', 'ros.yaml'])


@pytest.mark.parametrize('path', LAUNCH, ids=lambda p: p.name)
def test_gazebo_is_started_through_gazebo_ros_with_our_world_and_clock_rate(path):
    entities, _ = generate(path)
    gazebo_launch = S.PathJoinSubstitution([_share('gazebo_ros'), 'launch'])
    includes = _of(entities, S.IncludeLaunchDescription)

    def source(file):
        return S.PythonLaunchDescriptionSource(S.PathJoinSubstitution([gazebo_launch, file]))

    (server,) = [i for i in includes if i.args[0] == source('gzserver.launch.py')]
    assert [i for i in includes if i.args[0] == source('gzclient.launch.py')]
    launch_arguments = server.kw('launch_arguments')
    assert launch_arguments['world'] == S.LaunchConfiguration('world')
    assert launch_arguments['params_file'] == S.PathJoinSubstitution(
        [_share('rl_f1_driver'), 'config', 'gazebo.yaml'])
    world = _arguments(entities)['world']
    # Humble's PathJoinSubstitution takes one substitution per part (a nested list fails at
    # launch time): the folder is joined, then the extension appended.
    assert world.kw('default_value') == [S.PathJoinSubstitution(
        [_share('rl_f1_driver'), 'worlds', S.LaunchConfiguration('circuit')]), '.world']
