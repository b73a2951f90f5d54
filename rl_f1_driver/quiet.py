"""Keep TensorFlow's and tf-agents' start-up chatter off the user's terminal.

Progress lines are the point of a training run; deprecation notes from inside libraries are
not actionable for users. Real errors still show.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings


def quiet_tensorflow() -> None:
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    # autograph writes generated code with `is ()` comparisons; Python warns at compile time.
    warnings.filterwarnings('ignore', category=SyntaxWarning)
    warnings.filterwarnings('ignore', message='Encoding a StructuredValue with type')
    logging.getLogger('tensorflow').setLevel(logging.ERROR)
    try:
        from absl import logging as absl_logging
        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:
        pass


def import_tf_agents_quietly() -> None:
    """Import tf_agents once with stderr captured: gym (a tf-agents dependency we do not use)
    prints an 'unmaintained' notice on import."""
    with contextlib.redirect_stderr(io.StringIO()):
        import tf_agents  # noqa: F401
        import tf_agents.environments  # noqa: F401
    import tensorflow as tf
    tf.get_logger().setLevel(logging.ERROR)
