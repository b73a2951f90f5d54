"""flake8 over the package, tests, bench, launch and setup.py with setup.cfg's settings
(those of ament_flake8), as `make lint` and colcon test run it."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ['rl_f1_driver', 'test', 'bench', 'launch', 'setup.py']


def test_flake8():
    targets = [t for t in TARGETS if (ROOT / t).exists()]
    assert 'rl_f1_driver' in targets and 'test' in targets
    proc = subprocess.run([sys.executable, '-m', 'flake8', *targets], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f'flake8 found problems:\n{proc.stdout}{proc.stderr}'
