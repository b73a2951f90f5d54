"""The numpy policy runtime (q_network.npz): same Q-values and actions as TensorFlow, no
TensorFlow in the driving process, clear errors for broken files."""
import json
import logging
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from rl_f1_driver import cli
from rl_f1_driver.config import load_config
from rl_f1_driver.drive.controller import load_controller, observation_shape, policy_config
from rl_f1_driver.drive.numpy_policy import (ARCHITECTURE, NPZ_NAME, NumpyQNetwork, conv2d,
                                             policy_runtime)
from rl_f1_driver.drive.runner import drive
from rl_f1_driver.env.observation import ObservationBuilder
from rl_f1_driver.errors import UserError
from rl_f1_driver.track import load_circuit

ROOT = Path(__file__).resolve().parent.parent
OBSERVATIONS = 300
TF_MODULES = ('tensorflow', 'tf_agents', 'keras', 'tensorflow_probability', 'gym')


@pytest.fixture(scope='module')
def image_run(tmp_path_factory):
    """A short image-observation training run with a small convolutional network."""
    from train_helpers import run_training, short_config
    out = tmp_path_factory.mktemp('runs') / 'image'
    cfg = short_config(**{'env.observation': 'image',
                          'train.conv_layers': [[8, 5, 2], [8, 3, 2]]})
    run_training(out, cfg)
    return out


@pytest.fixture(scope='module', params=['lines', 'image'])
def run(request):
    """The run directory of a trained policy of each observation mode."""
    if request.param == 'lines':
        return request.getfixturevalue('trained_run')[0]
    return request.getfixturevalue('image_run')


def saved_model_q_values(run_dir: Path, observations: np.ndarray) -> np.ndarray:
    """Q-values from TensorFlow: the run's Q-network rebuilt and given the SavedModel's
    variables (independent of the numpy export)."""
    import tensorflow as tf
    from tf_agents.specs import tensor_spec

    from rl_f1_driver.learn.networks import build_q_network
    cfg = load_config(run_dir / 'config.yaml')
    saved = tf.saved_model.load(str(run_dir / 'policy'))
    obs_spec = tensor_spec.from_spec(ObservationBuilder(cfg).spec())
    act_spec = tensor_spec.BoundedTensorSpec((), tf.int32, 0, len(cfg.actions) - 1)
    net = build_q_network(obs_spec, act_spec, cfg.train, cfg.env.observation)
    net.create_variables()
    assert len(net.variables) == len(saved.model_variables)
    for mine, theirs in zip(net.variables, saved.model_variables):
        assert mine.shape == theirs.shape
        assert mine.name.split('/')[-1] == theirs.name.split('/')[-1]
        mine.assign(theirs)
    return net(tf.constant(observations), training=False)[0].numpy()


def real_observations(policy_dir: Path, n: int = OBSERVATIONS, seed: int = 0) -> np.ndarray:
    """Observations of the embedded simulator, driven by the policy with 30% random actions
    (episodes of a barely trained policy are short: many starts, many situations)."""
    from rl_f1_driver.env import env_from_config
    cfg = policy_config(policy_dir)
    env = env_from_config(cfg)
    net = NumpyQNetwork.load(policy_dir / NPZ_NAME)
    rng = np.random.default_rng(seed)
    step = env.reset()
    out = []
    for _ in range(n):
        out.append(np.array(step.observation))
        a = (rng.integers(len(cfg.actions)) if rng.random() < 0.3
             else net.action(step.observation))
        step = env.step(np.asarray(a, env.action_spec().dtype))
        if step.is_last():
            step = env.reset()
    env.close()
    return np.stack(out)


def test_export_writes_the_network_for_both_observation_modes(run):
    policy = run / 'policy'
    assert (policy / NPZ_NAME).is_file()
    net = NumpyQNetwork.load(policy / NPZ_NAME)
    cfg = policy_config(policy)
    shape, dtype = observation_shape(cfg)
    assert net.observation_shape == shape and net.observation_dtype == dtype
    assert net.num_actions == len(cfg.actions)
    kinds = [layer['kind'] for layer in net.layers]
    if cfg.env.observation == 'image':
        assert kinds == ['scale', 'conv2d', 'conv2d', 'flatten', 'dense', 'dense']
        assert net.layers[0]['divisor'] == 255.0 and net.layers[0]['offset'] == 0.0
        assert all(la['padding'] == 'valid' for la in net.layers if la['kind'] == 'conv2d')
    else:
        assert kinds == ['flatten', 'dense', 'dense']
    assert [la.get('activation') for la in net.layers][-1] == 'linear'
    assert set(net.export_files) == {'saved_model.pb', 'variables/variables.index',
                                     'variables/variables.data-00000-of-00001'}
    assert not (policy.parent / 'policy.tmp').exists()


def test_numpy_and_tensorflow_give_the_same_q_values_and_actions(run):
    policy = run / 'policy'
    obs = real_observations(policy)
    numpy_ctrl = load_controller(policy)
    tf_ctrl = load_controller(policy, runtime='tensorflow')
    assert (numpy_ctrl.runtime, tf_ctrl.runtime) == ('numpy', 'tensorflow')
    want = saved_model_q_values(run, obs)
    got = numpy_ctrl.network.q_values(obs)
    assert got.shape == want.shape == (OBSERVATIONS, len(numpy_ctrl.config.actions))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())
    # One at a time, as when driving: the same Q-values as the batch.
    np.testing.assert_allclose(numpy_ctrl.network.q_values(obs[7]), got[7], rtol=1e-6)
    # Actions: the SavedModel's own action() against the numpy argmax. A near tie (two
    # Q-values within float rounding) may go either way: none expected here.
    top2 = np.sort(want, axis=1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0]) > 1e-5
    assert clear.sum() > 0.9 * OBSERVATIONS
    tf_actions = np.array([tf_ctrl.action(o) for o in obs])
    np_actions = np.array([numpy_ctrl.action(o) for o in obs])
    assert (tf_actions[clear] == np_actions[clear]).all()
    assert (np_actions == want.argmax(axis=1))[clear].all()
    # The observations are not all alike (a barely trained image policy may still take
    # the same action everywhere).
    assert np.ptp(want, axis=0).max() > 1e-3 * np.abs(want).max()


def test_numpy_drive_replays_the_tensorflow_drive(run):
    policy = run / 'policy'
    circuit = load_circuit('simple')
    a = drive(load_controller(policy, runtime='numpy'), circuit, laps=1, max_steps=150)
    b = drive(load_controller(policy, runtime='tensorflow'), circuit, laps=1, max_steps=150)
    assert a['steps'] == b['steps'] and a['end_reason'] == b['end_reason']
    assert a['path'] == b['path']


def test_numpy_drive_does_not_import_tensorflow(trained_run, tmp_path):
    policy = trained_run[0] / 'policy'
    report = tmp_path / 'drive.json'
    script = (
        'import json, sys\n'
        'from rl_f1_driver import cli\n'
        f'rc = cli.main(["drive", "--policy", {str(policy)!r}, "--no-baseline",\n'
        f'               "--max-steps", "30", "--report", {str(report)!r}])\n'
        f'rc += cli.main(["bench", "drive", "--policy", {str(policy)!r}, "--frames", "20"])\n'
        f'print(json.dumps({{"rc": rc, "tf": sorted(m for m in sys.modules\n'
        f'                                   if m.split(".")[0] in {TF_MODULES!r})}}))\n')
    proc = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    assert result == {'rc': 0, 'tf': []}
    assert json.loads(lines[-2])['runtime'] == 'numpy'   # the bench line
    assert json.loads(report.read_text())['runtime'] == 'numpy'
    assert '(numpy runtime)' in proc.stdout


def test_runtime_option_of_drive_and_bench(trained_run, tmp_path, capsys):
    policy = str(trained_run[0] / 'policy')
    report = tmp_path / 'drive.json'
    assert cli.main(['drive', '--policy', policy, '--runtime', 'tensorflow', '--max-steps',
                     '20', '--no-baseline', '--report', str(report)]) == 0
    assert json.loads(report.read_text())['runtime'] == 'tensorflow'
    assert cli.main(['bench', 'drive', '--policy', policy, '--runtime', 'numpy',
                     '--frames', '20']) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert figures['runtime'] == 'numpy' and figures['frames'] == 20
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(['drive', '--runtime', 'torch'])
    with pytest.raises(UserError, match='unknown policy runtime'):
        load_controller(policy, runtime='torch')


@pytest.fixture
def policy_copy(trained_run, tmp_path):
    copy = tmp_path / 'policy'
    shutil.copytree(trained_run[0] / 'policy', copy)
    return copy


def test_policy_exported_without_the_network_drives_with_tensorflow(policy_copy):
    """Policies exported before q_network.npz existed: auto takes TensorFlow."""
    circuit = load_circuit('simple')
    with_npz = drive(load_controller(policy_copy), circuit, max_steps=60)
    (policy_copy / NPZ_NAME).unlink()
    assert policy_runtime(policy_copy) == 'tensorflow'
    controller = load_controller(policy_copy)
    assert controller.runtime == 'tensorflow' and controller.network is None
    assert drive(controller, circuit, max_steps=60)['path'] == with_npz['path']
    with pytest.raises(UserError, match=f'no {NPZ_NAME} for the numpy runtime.*--runtime '
                                        'tensorflow'):
        load_controller(policy_copy, runtime='numpy')


def test_corrupt_network_file_is_a_user_error(policy_copy):
    npz = policy_copy / NPZ_NAME
    data = npz.read_bytes()
    npz.write_bytes(b'not a zip file at all')
    with pytest.raises(UserError, match=f'{NPZ_NAME}: corrupt numpy policy file, cannot read'):
        load_controller(policy_copy)
    npz.write_bytes(data[:len(data) // 2])   # truncated
    with pytest.raises(UserError, match=f'{NPZ_NAME}: corrupt numpy policy file'):
        load_controller(policy_copy)
    # The TensorFlow runtime does not read it.
    assert load_controller(policy_copy, runtime='tensorflow').runtime == 'tensorflow'


def test_numpy_runtime_refuses_a_savedmodel_changed_since_the_export(policy_copy):
    """q_network.npz records the SavedModel's digests: a folder whose SavedModel was
    replaced (another run's policy copied over it) or damaged is not driven."""
    index = policy_copy / 'variables' / 'variables.index'
    data = index.read_bytes()
    index.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(UserError, match='cannot load the SavedModel with numpy: variables/'
                                        'variables.index is not the file exported with'):
        load_controller(policy_copy)
    index.unlink()
    with pytest.raises(UserError, match='variables.index is missing'):
        load_controller(policy_copy)


def rewrite(npz: Path, edit) -> None:
    """Load q_network.npz, let edit(architecture, arrays) change it, write it back."""
    with np.load(npz) as data:
        arrays = {k: data[k] for k in data.files}
    architecture = json.loads(str(arrays.pop(ARCHITECTURE)))
    edit(architecture, arrays)
    with open(npz, 'wb') as f:
        np.savez(f, **{ARCHITECTURE: np.array(json.dumps(architecture))}, **arrays)


@pytest.mark.parametrize('edit, message', [
    (lambda a, w: w.pop('layer1.kernel'), r'layer 1 \(dense\): no layer1.kernel array'),
    (lambda a, w: w.update({'layer1.kernel': w['layer1.kernel'][:-1]}),
     r'layer 1 \(dense\): kernel \(\d+, 16\) for inputs'),
    (lambda a, w: w.update({'layer2.bias': w['layer2.bias'][:-1]}), r'bias \(\d+,\) for kernel'),
    (lambda a, w: w['layer2.kernel'].__setitem__((0, 0), np.nan), 'non-finite'),
    (lambda a, w: w.update({'layer2.kernel': w['layer2.kernel'].astype(np.float64)}),
     'float64 array'),
    (lambda a, w: a['layers'][1].update(kind='lstm'), "unknown kind 'lstm'"),
    (lambda a, w: a['layers'][1].update(activation='swish'), "activation 'swish'"),
    (lambda a, w: a.update(format=99), 'format 99'),
    (lambda a, w: a.pop('observation'), "lacks or misstates 'observation'"),
    (lambda a, w: a.update(num_actions=3), r'gives \(\d+,\) values for 3 actions'),
    (lambda a, w: a['export_files'].update({'../x': '0' * 64}), "export_files entry '../x'"),
])
def test_inconsistent_network_file_is_a_user_error(policy_copy, edit, message):
    rewrite(policy_copy / NPZ_NAME, edit)
    with pytest.raises(UserError, match=f'{NPZ_NAME}: corrupt numpy policy file .*{message}'):
        load_controller(policy_copy)


def test_network_of_another_policy_is_detected(policy_copy):
    """A consistent network, but for other observations and actions than the description."""
    def widen(a, w):
        a['observation']['shape'][0] += 3
        a['num_actions'] += 1
        w['layer1.kernel'] = np.zeros((w['layer1.kernel'].shape[0] + 3, 16), np.float32)
        w['layer2.kernel'] = np.zeros((16, a['num_actions']), np.float32)
        w['layer2.bias'] = np.zeros(a['num_actions'], np.float32)
    rewrite(policy_copy / NPZ_NAME, widen)
    with pytest.raises(UserError, match=f'{NPZ_NAME} expects .* mixes files of different'):
        load_controller(policy_copy)


@pytest.mark.parametrize('padding', ['VALID', 'SAME'])
@pytest.mark.parametrize('kernel, strides, dilation', [
    ((3, 3), (1, 1), (1, 1)), ((4, 5), (2, 2), (1, 1)), ((5, 5), (2, 3), (1, 1)),
    ((3, 2), (1, 1), (2, 3)), ((1, 1), (3, 3), (1, 1))])
def test_convolution_matches_tensorflow(padding, kernel, strides, dilation):
    import tensorflow as tf
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 11, 14, 3)).astype(np.float32)
    k = rng.normal(size=kernel + (3, 5)).astype(np.float32)
    b = rng.normal(size=5).astype(np.float32)
    want = tf.nn.conv2d(x, k, strides=strides, padding=padding, dilations=dilation) + b
    got = conv2d(x, k, b, strides, padding.lower(), dilation)
    assert got.shape == tuple(want.shape)
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('overrides', [
    {}, {'env.prev_action': True}, {'env.prev_action': False}, {'env.observation': 'image'},
    {'env.observation': 'image', 'env.stack': 2, 'perception.mask_width': 48}])
def test_observation_shape_is_the_environments(overrides):
    cfg = load_config(overrides=overrides)
    spec = ObservationBuilder(cfg).spec()
    assert observation_shape(cfg) == (spec.shape, spec.dtype)


def greedy_policy_of(q_net, obs_spec, n_actions=5):
    from tf_agents.policies import greedy_policy, q_policy
    from tf_agents.specs import tensor_spec
    from tf_agents.trajectories import time_step as ts
    act = tensor_spec.BoundedTensorSpec((), np.int32, 0, n_actions - 1)
    q_net.create_variables()
    return greedy_policy.GreedyPolicy(q_policy.QPolicy(ts.time_step_spec(obs_spec), act,
                                                       q_network=q_net))


class _ExportLog:
    """Warnings of the export module, caught on its own logger: ROS's `launch` (imported by
    other tests in the same session) makes new loggers stop propagating, so pytest's caplog
    on the root logger would see nothing."""

    def __init__(self):
        self.records: list = []

    def __enter__(self):
        self.logger = logging.getLogger('rl_f1_driver.learn.export')
        self.handler = logging.Handler(logging.WARNING)
        self.handler.emit = lambda record: self.records.append(record.getMessage())
        self.old_level = self.logger.level
        self.logger.setLevel(logging.WARNING)
        self.logger.addHandler(self.handler)
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(self.old_level)

    @property
    def text(self) -> str:
        return '\n'.join(self.records)


def test_export_refuses_a_network_it_cannot_compute(tmp_path):
    """Dropout: no numpy network written (logged why); the policy drives with TensorFlow."""
    import tensorflow as tf
    from tf_agents.networks import q_network
    from tf_agents.specs import tensor_spec

    from rl_f1_driver.learn.export import export_policy
    cfg = load_config()
    obs_spec = tensor_spec.BoundedTensorSpec(observation_shape(cfg)[0], tf.float32, -1, 1)
    net = q_network.QNetwork(obs_spec, tensor_spec.BoundedTensorSpec(
        (), tf.int32, 0, len(cfg.actions) - 1), fc_layer_params=(8,),
        dropout_layer_params=(0.5,))
    policy = greedy_policy_of(net, obs_spec, len(cfg.actions))
    with _ExportLog() as caplog:
        out = export_policy(policy, tmp_path / 'policy', cfg, tf.Variable(0, dtype=tf.int64))
    assert (out / 'saved_model.pb').is_file() and not (out / NPZ_NAME).exists()
    assert 'q_network.npz not written' in caplog.text
    assert 'PermanentVariableRateDropout' in caplog.text
    controller = load_controller(out)
    assert controller.runtime == 'tensorflow'
    assert drive(controller, load_circuit('simple'), max_steps=5)['steps'] == 5


def test_export_refuses_a_preprocessing_it_cannot_read(tmp_path):
    import tensorflow as tf
    from tf_agents.networks import q_network
    from tf_agents.specs import tensor_spec

    from rl_f1_driver.learn.export import write_numpy_network
    # Bounds as (1,) arrays, as the environment's image spec has them: a scalar uint8 maximum
    # of 255 + 1 wraps to 0 under numpy 2 when tf-agents samples the spec.
    obs_spec = tensor_spec.BoundedTensorSpec((6, 8, 2), tf.uint8, np.zeros(1, np.uint8),
                                             np.full(1, 255, np.uint8))
    act_spec = tensor_spec.BoundedTensorSpec((), tf.int32, 0, 2)

    def network(function):
        return q_network.QNetwork(obs_spec, act_spec, conv_layer_params=((4, 3, 1),),
                                  fc_layer_params=(8,),
                                  preprocessing_layers=tf.keras.layers.Lambda(function))

    (tmp_path / 'saved_model.pb').write_bytes(b'stands for the SavedModel exported first')
    squares = network(lambda x: tf.square(tf.cast(x, tf.float32) / 255.0))
    with _ExportLog() as caplog:
        assert not write_numpy_network(greedy_policy_of(squares, obs_spec, 3),
                                       tmp_path / NPZ_NAME)
    assert 'not x / divisor + offset' in caplog.text and not (tmp_path / NPZ_NAME).exists()
    # An affine scaling other than / 255 is read, and computed exactly.
    centred = network(lambda x: tf.cast(x, tf.float32) / 127.5 - 1.0)
    assert write_numpy_network(greedy_policy_of(centred, obs_spec, 3), tmp_path / NPZ_NAME)
    net = NumpyQNetwork.load(tmp_path / NPZ_NAME)
    assert net.layers[0] == {'kind': 'scale', 'divisor': 127.5, 'offset': -1.0}
    assert list(net.export_files) == ['saved_model.pb']
    with zipfile.ZipFile(tmp_path / NPZ_NAME) as z:
        assert all(name.endswith('.npy') for name in z.namelist())
