"""ament_python package that also installs with plain pip (no ROS) into a virtual env.

Python dependencies: requirements*.txt name them, constraints.txt pins every version (one
place); the Makefile installs them.
colcon builds get ROS dependencies from package.xml and the Python stack from pip (Dockerfile).
"""
from glob import glob
import os

from setuptools import find_packages, setup

package_name = 'rl_f1_driver'


def tree(folder, pattern='*'):
    """data_files entries for every file under folder/, keeping sub-folders."""
    entries = {}
    for path in glob(os.path.join(folder, '**', pattern), recursive=True):
        if os.path.isfile(path):
            target = os.path.join('share', package_name, os.path.dirname(path))
            entries.setdefault(target, []).append(path)
    return sorted(entries.items())


setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*', 'bench']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        *tree('launch'),
        *tree('config'),
        *tree('worlds'),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='rl_f1_driver maintainers',
    maintainer_email='maintainers@rl-f1-driver.invalid',
    description='DQN line following for a Formula-1 car in Gazebo or an embedded simulator',
    license='Apache-2.0',
    tests_require=['pytest'],
    python_requires='>=3.10',
    entry_points={
        'console_scripts': [
            'rl-f1 = rl_f1_driver.cli:main',
            'train_node = rl_f1_driver.node_entry:train_node',
            'drive_node = rl_f1_driver.node_entry:drive_node',
            'sim_node = rl_f1_driver.node_entry:sim_node',
        ],
    },
)
