"""Config: defaults.yaml is the single source, layering, and errors naming the file and key."""
import dataclasses
import typing

import pytest
import yaml

from conftest import write_yaml
from rl_f1_driver.config import load_config
from rl_f1_driver.config import schema
from rl_f1_driver.config.loader import save_config, to_dict
from rl_f1_driver.errors import ConfigError, UserError
from rl_f1_driver.paths import config_dir


def _error(*files, overrides=None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(*files, overrides=overrides)
    assert '\n' not in str(info.value), 'config errors are one line'
    return str(info.value)


# --- defaults ------------------------------------------------------------------------------

def test_defaults_file_holds_exactly_the_schema_fields():
    raw = yaml.safe_load((config_dir() / 'defaults.yaml').read_text())

    def check(cls, data, prefix):
        hints = typing.get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls)}
        assert set(data) == names, f'{prefix or "top level"}: defaults.yaml vs schema'
        for name in names:
            if dataclasses.is_dataclass(hints[name]):
                check(hints[name], data[name], name)

    check(schema.Config, raw, '')


def test_schema_has_no_defaults_of_its_own():
    # defaults.yaml is the one source of defaults: a dataclass default would be a second one.
    for cls in [schema.Config, *schema.SECTIONS.values()]:
        for f in dataclasses.fields(cls):
            assert f.default is dataclasses.MISSING, f'{cls.__name__}.{f.name}'
            assert f.default_factory is dataclasses.MISSING, f'{cls.__name__}.{f.name}'


def test_defaults_build_and_match_the_file(cfg):
    raw = yaml.safe_load((config_dir() / 'defaults.yaml').read_text())
    assert to_dict(cfg) == raw
    assert isinstance(cfg.camera.width, int) and isinstance(cfg.camera.hfov, float)
    assert isinstance(cfg.perception.rows, tuple)
    assert all(isinstance(a, tuple) and len(a) == 2 for a in cfg.actions)


def test_save_and_load_round_trip(tmp_path, cfg):
    changed = load_config(overrides={'reward.speed_weight': 0.75, 'env.observation': 'image',
                                     'actions': [[1.0, 0.0], [2.0, 0.5]]})
    path = tmp_path / 'saved.yaml'
    save_config(changed, path)
    assert load_config(path) == changed
    assert changed != cfg


def test_camera_derived_values(cfg):
    import math
    c = cfg.camera
    assert c.fx == pytest.approx(c.width / 2 / math.tan(c.hfov / 2))
    assert c.control_period == pytest.approx(1.0 / c.rate_hz)
    assert c.horizon_fraction == pytest.approx(0.5)  # pitch 0 puts the horizon mid-image
    tilted = dataclasses.replace(c, pitch=0.2)
    assert tilted.horizon_fraction < c.horizon_fraction  # looking down raises the horizon


# --- layering ------------------------------------------------------------------------------

def test_files_then_overrides_layer_in_order(tmp_path):
    a = write_yaml(tmp_path, 'a.yaml', {'reward': {'speed_weight': 0.5, 'zigzag_weight': 0.1},
                                        'env': {'max_steps': 100}})
    b = write_yaml(tmp_path, 'b.yaml', {'reward': {'speed_weight': 0.7}})
    cfg = load_config(a, b, overrides={'env.max_steps': 42, 'seed': 9})
    assert cfg.reward.speed_weight == 0.7      # b over a
    assert cfg.reward.zigzag_weight == 0.1     # a kept where b is silent
    assert cfg.env.max_steps == 42             # override over files
    assert cfg.seed == 9


def test_nested_and_dotted_overrides_agree():
    assert (load_config(overrides={'reward': {'lost_penalty': 2.0}})
            == load_config(overrides={'reward.lost_penalty': 2.0}))


def test_empty_file_changes_nothing(tmp_path, cfg):
    assert load_config(write_yaml(tmp_path, 'empty.yaml', '')) == cfg


def test_integer_accepted_where_a_number_is_expected():
    cfg = load_config(overrides={'camera.hfov': 1})
    assert cfg.camera.hfov == 1.0 and isinstance(cfg.camera.hfov, float)


# --- errors: unknown keys ------------------------------------------------------------------

def test_unknown_top_level_key_names_file_and_key(tmp_path):
    path = write_yaml(tmp_path, 'user.yaml', {'sedd': 3})
    msg = _error(path)
    assert str(path) in msg and "'sedd'" in msg


def test_unknown_nested_key_names_file_and_full_key(tmp_path):
    path = write_yaml(tmp_path, 'user.yaml', {'reward': {'speed_wieght': 0.5}})
    msg = _error(path)
    assert str(path) in msg and 'reward.speed_wieght' in msg
    assert 'speed_weight' in msg.split('reward.speed_wieght', 1)[1]  # lists the known keys


def test_unknown_override_key_is_an_error():
    msg = _error(overrides={'camera.fov': 1.0})
    assert 'override' in msg and 'camera.fov' in msg


# --- errors: types and ranges ----------------------------------------------------------------

BAD_VALUES = [
    ('camera.width', 'wide', 'integer'),
    ('camera.width', 640.5, 'integer'),
    ('camera.width', 8, 'integer'),
    ('camera.hfov', 3.5, 'number'),
    ('camera.rate_hz', 0.0, 'number'),          # open lower bound
    ('camera.mount_height', float('nan'), 'number'),
    ('car.max_linear_speed', True, 'number'),    # a bool is not a number
    ('reward.speed_weight', -1, 'number'),
    ('env.observation', 'pixels', 'lines'),
    ('env.stack', 0, 'integer'),
    ('env.prev_action', 1, 'true or false'),
    ('randomization.enabled', 'yes', 'true or false'),
    ('train.gamma', 1.5, 'number'),
    ('seed', -1, 'integer'),
    ('track', 3, 'string'),
    ('perception.rows', 0.6, 'list'),
    ('actions', [[1.0, 0.0]], 'at least 2'),
]


@pytest.mark.parametrize('key,value,expected', BAD_VALUES,
                         ids=[f'{k}={v!r}' for k, v, _ in BAD_VALUES])
def test_bad_value_in_file_names_file_and_key(tmp_path, key, value, expected):
    *sections, leaf = key.split('.')
    data = {leaf: value}
    for s in reversed(sections):
        data = {s: data}
    path = write_yaml(tmp_path, 'user.yaml', data)
    msg = _error(path)
    assert msg.startswith(f'{path}: '), msg
    assert f'{key}: expected' in msg and expected in msg, msg


@pytest.mark.parametrize('key,value,expected', BAD_VALUES[:6],
                         ids=[f'{k}={v!r}' for k, v, _ in BAD_VALUES[:6]])
def test_bad_override_names_override_and_key(key, value, expected):
    msg = _error(overrides={key: value})
    assert msg.startswith('override: ') and f'{key}: expected' in msg and expected in msg


def test_section_given_a_scalar_names_file_and_section(tmp_path):
    path = write_yaml(tmp_path, 'user.yaml', {'camera': 5})
    msg = _error(path)
    assert str(path) in msg and 'camera' in msg and 'mapping' in msg


def test_top_level_not_a_mapping(tmp_path):
    path = write_yaml(tmp_path, 'user.yaml', '- a\n- b\n')
    msg = _error(path)
    assert str(path) in msg and 'mapping' in msg


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = write_yaml(tmp_path, 'user.yaml', 'reward:\n  speed_weight: [0.5\n')
    msg = _error(path)
    assert str(path) in msg and '(line ' in msg and 'YAML' in msg


def test_missing_file_is_named(tmp_path):
    msg = _error(tmp_path / 'nope.yaml')
    assert str(tmp_path / 'nope.yaml') in msg and 'not found' in msg


def test_config_error_is_a_user_error():
    assert issubclass(ConfigError, UserError)


# --- element and cross-field errors name the user's file -----------------------------------
# A value set in the user's file must be blamed on that file, also when the problem is one
# element of a list or a relation to another key (issue: "naming the file and key").

def test_list_element_out_of_range_names_the_users_file(tmp_path):
    path = write_yaml(tmp_path, 'user.yaml', {'perception': {'rows': [0.6, 1.5]}})
    msg = _error(path)
    assert 'perception.rows[1]' in msg
    assert msg.startswith(f'{path}: '), msg


def test_list_element_out_of_range_in_override_names_override():
    msg = _error(overrides={'perception.rows': [0.6, 1.5]})
    assert 'perception.rows[1]' in msg
    assert msg.startswith('override: '), msg


def test_action_beyond_car_limits_names_the_users_file(tmp_path):
    path = write_yaml(tmp_path, 'user.yaml', {'actions': [[20.0, 0.0], [1.0, 0.0]]})
    msg = _error(path)
    assert 'actions[0]' in msg and 'max_linear_speed' in msg
    assert msg.startswith(f'{path}: '), msg


def test_bad_conv_layer_names_the_users_file(tmp_path):
    path = write_yaml(tmp_path, 'user.yaml', {'train': {'conv_layers': [[16, 5]]}})
    msg = _error(path)
    assert 'train.conv_layers[0]' in msg
    assert msg.startswith(f'{path}: '), msg


def test_cross_field_error_names_the_file_that_set_the_value(tmp_path):
    # The user only changed hue_low_max; the message must not send them to defaults.yaml.
    path = write_yaml(tmp_path, 'user.yaml', {'perception': {'hue_low_max': 175}})
    msg = _error(path)
    assert 'hue_low_max' in msg
    assert msg.startswith(f'{path}: '), msg


@pytest.mark.parametrize('overrides,key', [
    ({'perception.hue_low_max': 170}, 'perception.hue_high_min'),
    ({'perception.rows': [0.7, 0.6]}, 'perception.rows'),
    ({'perception.rows': [0.6, 0.6]}, 'perception.rows'),
    ({'perception.rows': [0.4, 0.6]}, 'perception.rows'),      # above the horizon
    ({'camera.pitch': 0.3, 'perception.mask_top': 0.2}, 'perception.mask_top'),
    ({'camera.clip_near': 5.0, 'camera.clip_far': 4.0}, 'camera.clip_far'),
    ({'env.start': 1.0}, 'env.start'),
    ({'env.start': -0.1}, 'env.start'),
    ({'env.start': 'middle'}, 'env.start'),
    ({'actions': [[-1.0, 0.0], [1.0, 0.0]]}, 'actions[0]'),
    ({'actions': [[1.0, 4.0], [1.0, 0.0]]}, 'actions[0]'),
    ({'actions': [[1.0, 0.0], [1.0, 0.0]]}, 'actions'),
    ({'actions': [[0.0, 0.5], [0.0, -0.5]]}, 'actions'),
    ({'train.epsilon_end': 0.9, 'train.epsilon_start': 0.5}, 'train.epsilon_end'),
])
def test_cross_field_rules(overrides, key):
    msg = _error(overrides=overrides)
    assert f'{key}: expected' in msg


@pytest.mark.parametrize('start', ['random', 0.0, 0.5, 0.999])
def test_valid_start_values(start):
    assert load_config(overrides={'env.start': start}).env.start == start


def test_rows_above_horizon_allowed_when_camera_looks_down():
    cfg = load_config(overrides={'camera.pitch': 0.3, 'perception.rows': [0.3, 0.6, 0.8]})
    assert cfg.perception.rows == (0.3, 0.6, 0.8)


# --- make_env keyword overrides -------------------------------------------------------------

def test_make_env_unknown_keyword_is_a_config_error():
    from rl_f1_driver.env import config_overrides
    with pytest.raises(ConfigError, match='maxsteps'):
        config_overrides(maxsteps=10)


def test_make_env_keyword_mapping():
    from rl_f1_driver.env import config_overrides
    out = config_overrides(max_steps=10, reward={'speed_weight': 0.1}, randomize=True,
                           track='long', **{'camera.width': 320})
    assert out == {'env.max_steps': 10, 'reward.speed_weight': 0.1,
                   'randomization.enabled': True, 'track': 'long', 'camera.width': 320}


def test_make_env_bad_override_names_override():
    import rl_f1_driver
    with pytest.raises(ConfigError) as info:
        rl_f1_driver.make_env(max_steps=0)
    assert str(info.value).startswith('override: env.max_steps')


def test_make_env_bad_override_on_a_config_object_names_override(cfg):
    import rl_f1_driver
    with pytest.raises(ConfigError) as info:
        rl_f1_driver.make_env(config=cfg, max_steps=0)
    assert 'env.max_steps' in str(info.value)
    assert str(info.value).startswith('override: '), str(info.value)
