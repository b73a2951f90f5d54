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
    'launch.actions': ['DeclareLaunchArgument', 'ExecuteProcess', 'Shutdown'],
    'launch.conditions': ['IfCondition'],
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
            assert f"'{exe} = rl_f1_driver.node_entry:{exe}'" in setup_py
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


def _guarded(process):
    """The guard's options and the command it runs, from an ExecuteProcess's cmd."""
    cmd = process.kw('cmd')
    assert cmd[:3] == [sys.executable, '-m', 'rl_f1_driver.process_guard']
    split = cmd.index('--')
    return cmd[3:split], cmd[split + 1:]


def _processes(entities):
    return {p.kw('name'): p for p in _of(entities, S.ExecuteProcess)}


@pytest.mark.parametrize('path', LAUNCH, ids=lambda p: p.name)
def test_gazebo_runs_under_the_guard_with_gazebo_ros_plugins_our_world_and_clock_rate(path):
    entities, _ = generate(path)
    processes = _processes(entities)
    assert set(processes) == {'gzserver', 'gzclient'}
    server = processes['gzserver']
    options, cmd = _guarded(server)
    # What gazebo_ros's gzserver.launch.py runs by default, with our world and params file.
    assert cmd[:2] == ['gzserver', S.LaunchConfiguration('world')]
    plugins = [cmd[i + 1] for i, a in enumerate(cmd) if a == '-s']
    assert plugins == ['libgazebo_ros_init.so', 'libgazebo_ros_factory.so',
                       'libgazebo_ros_force_system.so']
    ros_args = cmd[cmd.index('--ros-args'):]
    assert ros_args == ['--ros-args', '--params-file', S.PathJoinSubstitution(
        [_share('rl_f1_driver'), 'config', 'gazebo.yaml']), '--']
    # server_required: when gzserver (so its guard) ends, the launch ends.
    assert isinstance(server.kw('on_exit'), S.Shutdown)
    grace = float(options[options.index('--grace') + 1])
    hold = float(options[options.index('--hold-max') + 1]) if '--hold-max' in options else 0.0
    # Launch's SIGTERM only after the guard had its time (SIGTERM would end its hold).
    assert float(server.kw('sigterm_timeout')) > hold + grace
    if path.name != 'train.launch.py':
        # Ctrl-C, SIGTERM or the main node ending: gone within the 10 s budget.
        assert hold == 0.0 and grace + float(server.kw('sigkill_timeout')) < 10.0
    client_options, client = _guarded(processes['gzclient'])
    assert client[0] == 'gzclient'
    world = _arguments(entities)['world']
    # Humble's PathJoinSubstitution takes one substitution per part (a nested list fails at
    # launch time): the folder is joined, then the extension appended.
    assert world.kw('default_value') == [S.PathJoinSubstitution(
        [_share('rl_f1_driver'), 'worlds', S.LaunchConfiguration('circuit')]), '.world']


def test_training_keeps_gazebo_while_the_trainer_finishes_after_ctrl_c():
    entities, _ = generate(ROOT / 'launch' / 'train.launch.py')
    options, _ = _guarded(_processes(entities)['gzserver'])
    assert options[options.index('--hold-while') + 1] == 'train_node'
    (trainer,) = [n for n in _of(entities, S.Node) if n.kw('executable') == 'train_node']
    # Held as long as launch lets the trainer finish (then the trainer is gone anyway).
    assert float(options[options.index('--hold-max') + 1]) >= float(
        trainer.kw('sigterm_timeout'))


@pytest.mark.parametrize('path', LAUNCH, ids=lambda p: p.name)
def test_the_guard_accepts_the_command_line_the_launch_file_builds(path, monkeypatch):
    from rl_f1_driver import process_guard
    entities, _ = generate(path)
    seen = {}

    class Recorder(process_guard.Guard):
        def start(self):
            seen['cmd'] = self.cmd
            raise OSError('not started in this test')

    monkeypatch.setattr(process_guard, 'Guard', Recorder)
    monkeypatch.setattr(process_guard, 'set_parent_death_signal', lambda sig: True)
    monkeypatch.setattr(Recorder, 'install_signal_handlers', lambda self: None)
    cmd = _processes(entities)['gzserver'].kw('cmd')
    # Substitutions stand for text at launch time; a switched-off flag expands to ''.
    text = ['' if isinstance(a, S.PythonExpression) else a if isinstance(a, str) else 'X'
            for a in cmd[3:]]
    assert process_guard.main(text) == 127
    assert seen['cmd'][0] == 'gzserver' and '' not in seen['cmd']
