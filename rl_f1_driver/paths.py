"""Where the package's data (config/, worlds/, launch/) lives in each kind of install."""
from __future__ import annotations

import os
import sys
from pathlib import Path

PACKAGE = 'rl_f1_driver'


def share_dir() -> Path:
    """Folder holding config/ and worlds/.

    Checked in order: $RL_F1_SHARE, the source checkout (also an editable pip install), a pip
    install's data_files under sys.prefix, and the ament index of a colcon install.
    """
    env = os.environ.get('RL_F1_SHARE')
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / 'config' / 'defaults.yaml').is_file():
        return checkout
    installed = Path(sys.prefix) / 'share' / PACKAGE
    if (installed / 'config' / 'defaults.yaml').is_file():
        return installed
    try:
        from ament_index_python.packages import get_package_share_directory
        return Path(get_package_share_directory(PACKAGE))
    except Exception:  # noqa: BLE001 - any failure means: not a colcon install
        pass
    raise FileNotFoundError(
        'cannot find the rl_f1_driver data folder (config/defaults.yaml); '
        'set RL_F1_SHARE to the folder that holds config/')


def config_dir() -> Path:
    return share_dir() / 'config'


def circuits_dir() -> Path:
    return config_dir() / 'circuits'


def worlds_dir() -> Path:
    return share_dir() / 'worlds'
