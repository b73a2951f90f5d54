"""config/ros.yaml: the one source of node defaults, checked without ROS."""
import pytest
import yaml

from rl_f1_driver.errors import ConfigError
from rl_f1_driver.config import ros_params as params


def _write(tmp_path, data):
    path = tmp_path / 'ros.yaml'
    path.write_text(yaml.safe_dump(data), encoding='utf-8')
    return path


def _shipped():
    return yaml.safe_load(params.default_file().read_text(encoding='utf-8'))


def test_shipped_file_gives_every_node_all_its_parameters():
    for node, spec in params.NODES.items():
        values = params.node_defaults(node)
        assert set(values) == set(spec)
        params.validate(node, values, 'test')


def test_shared_section_feeds_every_node_the_same_topics():
    shipped = _shipped()['/**']['ros__parameters']
    for node in params.NODES:
        values = params.node_defaults(node)
        for key in ('camera_topic', 'cmd_vel_topic'):
            assert values[key] == shipped[key]


def test_a_node_section_overrides_the_shared_value(tmp_path):
    data = _shipped()
    data['drive_node']['ros__parameters']['camera_topic'] = '/other/image'
    path = _write(tmp_path, data)
    assert params.node_defaults('drive_node', path)['camera_topic'] == '/other/image'
    assert params.node_defaults('train_node', path)['camera_topic'] == '/f1/camera/image_raw'


@pytest.mark.parametrize('section, key, value, message', [
    ('train_node', 'frame_timeout', 5, r'train_node.ros__parameters.frame_timeout: expected a '
                                       r'number \(written with a decimal point'),
    ('train_node', 'ground_truth', 'gps', 'expected one of odom, model_states'),
    ('drive_node', 'controller', 'neural', 'expected one of policy, pid'),
    ('/**', 'camera_topic', 'camera image', 'expected a ROS name'),
    ('/**', 'base_frame', '/base_link', 'expected a TF frame id'),
    ('train_node', 'reset_retries', -1, r'expected an integer in \[0, 100\]'),
    ('train_node', 'resume', 'yes', 'expected true or false'),
])
def test_bad_values_name_file_node_and_key(tmp_path, section, key, value, message):
    data = _shipped()
    data[section]['ros__parameters'][key] = value
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError, match=message) as exc:
        params.check_file(path)
    assert str(path) in str(exc.value)


def test_unknown_and_missing_parameters(tmp_path):
    data = _shipped()
    data['sim_node']['ros__parameters']['spped'] = 1.0
    with pytest.raises(ConfigError, match="sim_node: unknown parameter 'spped'"):
        params.check_file(_write(tmp_path, data))
    data = _shipped()
    del data['sim_node']['ros__parameters']['real_time_factor']
    with pytest.raises(ConfigError, match='sim_node: missing parameter.*real_time_factor'):
        params.node_defaults('sim_node', _write(tmp_path, data))
    data = _shipped()
    data['/**']['ros__parameters']['camera_topc'] = '/x'
    with pytest.raises(ConfigError, match=r"/\*\*: unknown parameter 'camera_topc'"):
        params.check_file(_write(tmp_path, data))


def test_malformed_structure(tmp_path):
    with pytest.raises(ConfigError, match="expected exactly one key 'ros__parameters'"):
        params.load_param_file(_write(tmp_path, {'train_node': {'run_dir': 'x'}}))
    with pytest.raises(ConfigError, match='expected a mapping of node names'):
        params.load_param_file(_write(tmp_path, ['a']))


def test_foreign_sections_and_use_sim_time_are_left_alone(tmp_path):
    data = _shipped()
    data['gazebo'] = {'ros__parameters': {'publish_rate': 100.0}}
    data['train_node']['ros__parameters']['use_sim_time'] = True
    path = _write(tmp_path, data)
    assert 'use_sim_time' not in params.node_defaults('train_node', path)


class FakeNode:
    """declare_parameter / get_parameter as rclpy has them, with launch overrides."""

    def __init__(self, overrides):
        self.overrides, self.declared = overrides, {}

    def declare_parameter(self, name, value):
        if name in self.declared:
            raise RuntimeError(f'{name} declared twice')
        self.declared[name] = self.overrides.get(name, value)

    def get_parameter(self, name):
        class P:
            value = self.declared[name]
        return P


def test_declare_node_parameters_uses_file_defaults_and_overrides():
    node = FakeNode({'policy_dir': '/tmp/policy', 'frame_timeout': 0.25})
    values = params.declare_node_parameters(node, 'drive_node')
    assert values['policy_dir'] == '/tmp/policy' and values['frame_timeout'] == 0.25
    assert values['controller'] == 'policy'
    assert set(node.declared) == set(params.NODES['drive_node'])


def test_declare_node_parameters_rejects_a_bad_override():
    with pytest.raises(ConfigError, match="ROS parameters: drive_node.controller"):
        params.declare_node_parameters(FakeNode({'controller': 'magic'}), 'drive_node')


def test_config_file_parameter():
    assert params.split_config_files('') == ()
    assert params.split_config_files(' config/train.yaml') == ('config/train.yaml',)
