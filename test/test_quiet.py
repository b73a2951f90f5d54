"""rl_f1_driver.quiet: TensorFlow entries without library chatter, and the Keras 2 that
tf-agents needs (tf-keras and TF_USE_LEGACY_KERAS from TensorFlow 2.16 on)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rl_f1_driver import quiet

ROOT = Path(__file__).resolve().parent.parent

# --- keras_problem: which TensorFlow needs what -----------------------------------------------


@pytest.mark.parametrize('version, short', [('2.21.0', '2.21'), ('2.16.1', '2.16'),
                                            ('2.17.0rc1', '2.17'), ('3.0.0-dev20260101', '3.0')])
def test_tensorflow_2_16_on_without_tf_keras_is_one_line_naming_the_package(version, short):
    line = quiet.keras_problem(version, False)
    assert line == (f'TensorFlow {short} needs the tf-keras package (TF_USE_LEGACY_KERAS=1): '
                    f'pip install tf-keras=={short}.*')
    # The same whatever the variable says: without tf-keras there is no Keras 2 to route to.
    assert quiet.keras_problem(version, False, None) == line
    assert quiet.keras_problem(version, False, '1') == line


def test_tensorflow_2_16_on_with_tf_keras_needs_nothing_more():
    assert quiet.keras_problem('2.21.0', True) is None   # the package sets the variable
    for value in ('1', 'true', 'True'):   # the values TensorFlow takes
        assert quiet.keras_problem('2.21.0', True, value) is None


@pytest.mark.parametrize('value, shown', [('0', "'0'"), (None, 'not set')])
def test_tensorflow_2_16_on_with_legacy_keras_off_is_one_line(value, shown):
    line = quiet.keras_problem('2.21.1', True, value)
    assert line.startswith('TensorFlow 2.21 needs TF_USE_LEGACY_KERAS=1 (')
    assert f'but it is {shown}' in line and '\n' not in line


@pytest.mark.parametrize('has_tf_keras', [False, True])
def test_tensorflow_2_15_needs_nothing(has_tf_keras):
    """Keras 2 is built in: with or without tf-keras, as the package leaves the variable."""
    assert quiet.keras_problem('2.15.1', has_tf_keras) is None
    assert quiet.keras_problem('2.15.0', has_tf_keras, None) is None


def test_tensorflow_2_15_asked_for_tf_keras_without_it_is_one_line():
    """TensorFlow 2.15 reads TF_USE_LEGACY_KERAS too: set by hand without tf-keras, it has no
    tf.keras at all."""
    line = quiet.keras_problem('2.15.1', False, '1')
    assert line == ('TF_USE_LEGACY_KERAS=1 makes TensorFlow 2.15 use the tf-keras package, '
                    'which is not installed: pip install tf-keras==2.15.*, or unset '
                    'TF_USE_LEGACY_KERAS')


def test_a_version_it_cannot_read_is_left_to_tensorflow():
    assert quiet.keras_problem('unknown', False) is None


def test_tf_keras_is_looked_up_not_imported(tmp_path, monkeypatch):
    package = tmp_path / 'tf_keras'
    package.mkdir()
    (package / '__init__.py').write_text('raise ImportError("imported, not looked up")\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    assert quiet.tf_keras_installed() is True


# --- the package sets TF_USE_LEGACY_KERAS before anything imports TensorFlow ----------------

@pytest.mark.parametrize('tf_keras, given, expected', [
    (True, None, '1'),     # tf-keras installed: tf.keras is Keras 2 on any TensorFlow
    (False, None, None),   # not installed: TensorFlow 2.15's own Keras 2 (1 would break it)
    (True, '0', '0'),      # what the user set is kept
])
def test_importing_the_package_asks_for_legacy_keras_where_tf_keras_is(tmp_path, tf_keras,
                                                                       given, expected):
    if tf_keras:
        (tmp_path / 'tf_keras').mkdir()
        (tmp_path / 'tf_keras' / '__init__.py').write_text('')
    env = {k: v for k, v in os.environ.items() if k != 'TF_USE_LEGACY_KERAS'}
    env['PYTHONPATH'] = os.pathsep.join([str(tmp_path), str(ROOT)])
    if given is not None:
        env['TF_USE_LEGACY_KERAS'] = given
    # Without tf-keras: a finder ahead of the others hides the installed one (the stack
    # installs it), as if it were not there.
    hide = ('' if tf_keras else
            'class NoTfKeras:\n'
            '    def find_spec(self, name, path=None, target=None):\n'
            '        if name == "tf_keras": raise ModuleNotFoundError(name)\n'
            'sys.meta_path.insert(0, NoTfKeras())\n')
    code = ('import os, sys\n' + hide + 'import rl_f1_driver\n'
            "print(os.environ.get('TF_USE_LEGACY_KERAS'), 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, '-c', code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(expected), 'False']


# --- a TensorFlow without Keras 2 for tf-agents: one line ---------------------------------

@pytest.fixture
def tensorflow_2_21_without_tf_keras(monkeypatch):
    import tensorflow as tf
    monkeypatch.setattr(tf, '__version__', '2.21.0')
    monkeypatch.setattr(quiet, 'tf_keras_installed', lambda: False)


def test_import_tf_agents_quietly_raises_the_line(tensorflow_2_21_without_tf_keras):
    from rl_f1_driver.errors import UserError
    with pytest.raises(UserError, match=r'^TensorFlow 2\.21 needs the tf-keras package'):
        quiet.import_tf_agents_quietly()


def test_the_cli_ends_with_one_line(tensorflow_2_21_without_tf_keras, capsys):
    from rl_f1_driver import cli
    rc = cli.main(['bench', 'env', '--steps', '1'])   # a TensorFlow command
    out, err = capsys.readouterr()
    assert rc == 2 and out == ''
    assert err == ('rl-f1: error: TensorFlow 2.21 needs the tf-keras package '
                   '(TF_USE_LEGACY_KERAS=1): pip install tf-keras==2.21.*\n')


# --- quiet: no library chatter, real errors still show -------------------------------------

# Each line sets off one kind of chatter seen in train_node's log before it was quieted.
CHATTER = '''
import sys
if sys.argv[1] == 'quiet':
    from rl_f1_driver.quiet import import_tf_agents_quietly, quiet_tensorflow
    quiet_tensorflow()
    import_tf_agents_quietly()
import warnings
import tensorflow as tf
import tensorflow_probability as tfp
import tf_agents.environments  # gym's 'unmaintained' notice
from absl import logging as absl_logging
from tensorflow.core.function.polymorphism import function_type
from tensorflow.python.saved_model import nested_structure_coder
from tf_agents.utils import common
# WARNING:absl:`0/step_type` is not a valid tf.function parameter name (PolicySaver.save)
function_type.sanitize_arg_name('0/step_type')
# WARNING:tensorflow:... calling foldr_v2 ... with back_prop=False is deprecated (tf-agents)
tf.foldr(lambda a, x: a + x, tf.constant([1, 2, 3]), back_prop=False)
# SyntaxWarning: "is not" with a literal, compiling autograph's version of tf-agents' code
tf.function(common.safe_has_state)(tf.constant(1))
# UserWarning: Encoding a StructuredValue with type tfp.distributions.Deterministic_ACTTypeSpec
nested_structure_coder.encode_structure(tfp.distributions.Deterministic(0.)._type_spec)
tf.get_logger().error('a real TensorFlow error')
absl_logging.error('a real absl error')
warnings.warn('a warning of our own')
print('done')
'''
MARKERS = ('Gym has been unmaintained', 'WARNING:absl', 'not a valid tf.function parameter',
           'is deprecated', 'WARNING:tensorflow', 'SyntaxWarning', 'StructuredValue')


@pytest.mark.parametrize('mode', ['loud', 'quiet'])
def test_quieting_before_tensorflow_drops_the_chatter_and_keeps_errors(mode):
    """'loud' shows the snippet does set off every marker; 'quiet' is what the CLI,
    train_node and drive_node do before TensorFlow is imported."""
    out = subprocess.run([sys.executable, '-c', CHATTER, mode], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == 'done'
    for error in ('a real TensorFlow error', 'a real absl error', 'a warning of our own'):
        assert error in out.stderr
    found = [m for m in MARKERS if m in out.stderr]
    if mode == 'loud':
        assert found == list(MARKERS), out.stderr
    else:
        assert found == [], out.stderr
