"""The package's imports run one way: no cycle, and none up the layers declared below.

Every import of the package's own modules is read with `ast` (module level, inside
functions and under `if TYPE_CHECKING:` alike: a deferred import is still a dependency), so a
new import that runs back up fails here with the module, the line and both layers.
"""
import ast
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Set, Tuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = 'rl_f1_driver'

# Lowest first. A module may import its own layer and any layer before it, never one after.
# The order is the one the code has:
# - base: errors, paths, small process helpers (interrupts, process_guard; node_process, dds
#   and ros_install: how a ROS node process is started, kept on loopback and described,
#   without rclpy), and the config (schema, loader, ROS parameter file), which everything
#   reads;
# - scene (heights and the car's body, from the camera mount) and track (circuits): facts
#   of the world, on the config only;
# - sim (the embedded simulator: car, camera, renderer) drives on a track;
# - perception reads camera images (the camera model of sim);
# - env (the RL environment) puts sim, perception and track together;
# - drive (controllers, lap statistics, the CLI's drive loop) and learn (DQN training) use
#   env; learn exports numpy policies of drive, so they share a layer;
# - messages: ROS message content without ROS (conversions, path trace, rviz markers), for
#   both record and ros below;
# - gazebo: world generation (SDF, meshes) from circuits, the camera and the scene;
# - record: recordings and the live view (no ROS), using drive's lap statistics and learn's
#   plots;
# - ros: the rclpy nodes and their pure helpers, on top of every library layer;
# - entry points: the command line, its argument types (cli_args) and the distributed
#   training commands that live in learn/ but start ROS nodes; the nodes' entry points
#   (node_entry); the launch helpers, the gymnasium registration, benchmarks.
LAYERS: List[Tuple[str, Tuple[str, ...]]] = [
    ('base', ('errors', 'paths', 'quiet', 'interrupts', 'process_guard', 'node_process', 'dds',
              'ros_install', 'config')),
    ('world facts', ('scene', 'track')),
    ('sim', ('sim',)),
    ('perception', ('perception',)),
    ('env', ('env',)),
    ('drive/learn', ('drive', 'learn')),
    ('messages', ('messages',)),
    ('gazebo', ('gazebo',)),
    ('record', ('record',)),
    ('ros', ('ros',)),
    ('entry points', ('cli', 'cli_args', 'launch_common', 'gym', 'benchmarks', '__main__', '',
                      'node_entry',
                      'learn.distributed.cli')),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix('').parts)
    if parts[-1] == '__init__':
        parts = parts[:-1]
    return '.'.join(parts)


def package_modules() -> Dict[str, Path]:
    return {module_name(p): p for p in sorted((ROOT / PACKAGE).rglob('*.py'))}


def imports_of(name: str, path: Path, modules: Set[str]) -> List[Tuple[str, int]]:
    """(imported module of the package, line) for every import in the file."""
    package = name if path.name == '__init__.py' else name.rpartition('.')[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')[:len(package.split('.')) - (node.level - 1)]
                target = '.'.join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ''
            if target != PACKAGE and not target.startswith(PACKAGE + '.'):
                continue
            for alias in node.names:
                # `from .pkg import module` depends on that module, else on the package.
                sub = f'{target}.{alias.name}'
                out.append((sub if sub in modules else target, node.lineno))
        elif isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names
                    if a.name == PACKAGE or a.name.startswith(PACKAGE + '.')]
    return out


def import_graph() -> Dict[str, List[Tuple[str, int]]]:
    modules = package_modules()
    return {name: [(t, line) for t, line in imports_of(name, path, set(modules)) if t != name]
            for name, path in modules.items()}


def layer_of(module: str) -> int:
    """Index in LAYERS of the longest prefix that names `module` (the package itself: '')."""
    rel = module[len(PACKAGE):].lstrip('.')
    best, best_len = None, -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (rel == prefix or rel.startswith(prefix + '.') or prefix == '' == rel) \
                    and len(prefix) > best_len:
                best, best_len = i, len(prefix)
    if best is None:
        raise AssertionError(f'{module} is in no layer: add it to LAYERS in {__file__}')
    return best


def find_cycles(graph: Dict[str, List[Tuple[str, int]]]) -> List[List[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    out: List[List[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w, _ in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_walk_sees_the_imports_it_must():
    """The walker is not blind: relative, absolute and function-level imports are found."""
    graph = import_graph()
    assert len(graph) > 50
    edges = {m: {t for t, _ in ts} for m, ts in graph.items()}
    assert f'{PACKAGE}.errors' in edges[f'{PACKAGE}.config.loader']          # from ..errors
    assert f'{PACKAGE}.messages.conversions' in edges[f'{PACKAGE}.ros.node_util']
    assert f'{PACKAGE}.env' in edges[PACKAGE]                   # inside a function
    assert f'{PACKAGE}.drive.lap_stats' in edges[f'{PACKAGE}.record.recorder']


def test_every_module_has_a_layer():
    for name in package_modules():
        layer_of(name)


def test_no_import_cycle():
    cycles = find_cycles(import_graph())
    assert not cycles, 'import cycles: ' + '; '.join(' <-> '.join(c) for c in cycles)


def test_no_import_runs_up_the_layers():
    modules = package_modules()
    upward = defaultdict(list)
    for name, targets in import_graph().items():
        mine = layer_of(name)
        for target, line in targets:
            theirs = layer_of(target)
            if theirs > mine:
                rel = modules[name].relative_to(ROOT)
                upward[name].append(f'{rel}:{line} imports {target} '
                                    f'({LAYERS[mine][0]} -> {LAYERS[theirs][0]})')
    assert not upward, 'imports running up the layers:\n' + '\n'.join(
        x for xs in upward.values() for x in xs)


@pytest.mark.parametrize('source, expected', [
    ('from ..ros import node_util\n', 'rl_f1_driver.ros.node_util'),
    ('from ..ros.params import X\n', 'rl_f1_driver.ros.params'),
    ('def f():\n    from rl_f1_driver import cli\n', 'rl_f1_driver.cli'),
    ('import rl_f1_driver.record.messages\n', 'rl_f1_driver.record.messages'),
])
def test_an_upward_import_would_be_caught(tmp_path, source, expected):
    """A module of the sim layer importing these is reported as running up."""
    path = tmp_path / 'probe.py'
    path.write_text(source)
    modules = set(package_modules())
    found = imports_of(f'{PACKAGE}.sim.probe', path, modules)
    assert [t for t, _ in found] == [expected]
    assert layer_of(expected) > layer_of(f'{PACKAGE}.sim.probe')


def test_a_cycle_would_be_caught():
    graph = {'a': [('b', 1)], 'b': [('c', 1)], 'c': [('a', 1)], 'd': [('a', 1)]}
    assert find_cycles(graph) == [['a', 'b', 'c']]
