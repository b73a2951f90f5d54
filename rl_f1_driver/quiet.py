"""Keep TensorFlow's and tf-agents' start-up chatter off the user's terminal.

Progress lines are the point of a training run; deprecation notes from inside libraries are
not actionable for users. Real errors still show.

Every entry that uses TensorFlow (the `rl-f1` command line, train_node, drive_node) calls
`quiet_tensorflow()` before TensorFlow is imported, then `import_tf_agents_quietly()`, which
also ends with one line (a UserError) where the installed TensorFlow has no Keras 2 for
tf-agents: `keras_problem`.
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import os
import re
import warnings
from typing import Any, Optional

from .errors import UserError

# The values TensorFlow takes for "route tf.keras to the tf-keras package" (its lazy loader).
_LEGACY_KERAS_ON = ('1', 'true', 'True')


def quiet_tensorflow() -> None:
    """Before TensorFlow is imported: its C++ start-up logs, absl's and TensorFlow's Python
    warnings (tf.function argument names sanitized on export, deprecations inside tf-agents)
    and autograph's compile-time SyntaxWarnings are dropped; errors still show."""
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    # autograph writes generated code with `is ()` comparisons; Python warns at compile time.
    warnings.filterwarnings('ignore', category=SyntaxWarning)
    warnings.filterwarnings('ignore', message='Encoding a StructuredValue with type')
    # TensorFlow's deprecation notes ('... is deprecated and will be removed') are warnings of
    # the 'tensorflow' logger (tf.get_logger() is that logger).
    logging.getLogger('tensorflow').setLevel(logging.ERROR)
    try:
        # 'WARNING:absl:`0/step_type` is not a valid tf.function parameter name' on export.
        from absl import logging as absl_logging
        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:
        pass


def tf_keras_installed() -> bool:
    """Whether the tf-keras package (Keras 2 for TensorFlow >= 2.16) can be imported; it is
    looked up, not imported."""
    try:
        return importlib.util.find_spec('tf_keras') is not None
    except (ImportError, ValueError):
        return False


def _major_minor(version: str) -> Optional[tuple]:
    match = re.match(r'\s*(\d+)\.(\d+)', version)
    return (int(match.group(1)), int(match.group(2))) if match else None


_AS_THE_PACKAGE_SETS = object()


def keras_problem(tf_version: str, has_tf_keras: bool,
                  legacy_keras: Any = _AS_THE_PACKAGE_SETS) -> Optional[str]:
    """None where tf-agents will find the Keras 2 it needs as tf.keras; else the one line a
    TensorFlow entry ends with.

    tf_version: TensorFlow's version ('2.15.1', '2.21.0'); has_tf_keras: whether the tf-keras
    package is importable; legacy_keras: TF_USE_LEGACY_KERAS as TensorFlow read it (None:
    unset; left out: as rl_f1_driver/__init__.py sets it, '1' where tf-keras is installed).
    From TensorFlow 2.16 on tf.keras is Keras 3, which tf-agents cannot use, unless
    TF_USE_LEGACY_KERAS=1 routes it to tf-keras; before 2.16 Keras 2 is built in, but
    TF_USE_LEGACY_KERAS=1 still makes TensorFlow look for tf-keras.
    """
    if legacy_keras is _AS_THE_PACKAGE_SETS:
        legacy_keras = '1' if has_tf_keras else None
    version = _major_minor(tf_version)
    if version is None:
        return None   # not a version we can read: let TensorFlow speak for itself
    short = f'{version[0]}.{version[1]}'
    legacy = legacy_keras in _LEGACY_KERAS_ON
    if version >= (2, 16):
        if not has_tf_keras:
            return (f'TensorFlow {short} needs the tf-keras package '
                    f'(TF_USE_LEGACY_KERAS=1): pip install tf-keras=={short}.*')
        if not legacy:
            now = 'not set' if legacy_keras is None else f'{legacy_keras!r}'
            return (f'TensorFlow {short} needs TF_USE_LEGACY_KERAS=1 (without it tf.keras is '
                    f'Keras 3, which tf-agents cannot use), but it is {now}: set it to 1 '
                    'before TensorFlow is imported')
        return None
    if legacy and not has_tf_keras:
        return (f'TF_USE_LEGACY_KERAS={legacy_keras} makes TensorFlow {short} '
                f'use the tf-keras package, which is not installed: pip install '
                f'tf-keras=={short}.*, or unset TF_USE_LEGACY_KERAS')
    return None


def import_tf_agents_quietly() -> None:
    """Import tf_agents once with stderr captured: gym (a tf-agents dependency we do not use)
    prints an 'unmaintained' notice on import.

    Raises UserError (one line) where TensorFlow has no Keras 2 for tf-agents
    (`keras_problem`): tf-agents would otherwise fail deep inside its networks."""
    import tensorflow as tf
    problem = keras_problem(tf.__version__, tf_keras_installed(),
                            os.environ.get('TF_USE_LEGACY_KERAS'))
    if problem is not None:
        raise UserError(problem)
    with contextlib.redirect_stderr(io.StringIO()):
        import tf_agents  # noqa: F401
        import tf_agents.environments  # noqa: F401
    tf.get_logger().setLevel(logging.ERROR)
