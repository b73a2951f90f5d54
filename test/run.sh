#!/usr/bin/env bash
# The test command behind `make test`: the whole suite, ROS tests included.
#
# Without a sourced ROS 2, `make test` has installed ROS 2 from PyPI's wheels into the venv
# (ros_wheels/install.sh): rclpy and the messages import, so RL_F1_REQUIRE_ROS=1 (unless set
# otherwise) makes every test that needs only them (the nodes as processes over DDS, in-process
# node tests) fail instead of skipping; the launch-file tests skip (no launch in the wheels).
#
# With ROS 2 Humble sourced (ROS_DISTRO set: /opt/ros/humble, the ros:humble container of
# .github/workflows/ros-humble.yml, the Docker image), the package is first built with colcon
# into a throw-away workspace over it and that workspace is sourced, so the ROS tests run the
# installed package as a user's `ros2 launch` does, and RL_F1_REQUIRE_ROS=1 and
# RL_F1_REQUIRE_LAUNCH=1 (unless set otherwise) make a ROS or launch test that cannot run fail
# instead of skipping. With no ROS at all (PY=python of a venv without the wheels) the ROS
# tests skip themselves with a reason.
#   test/run.sh [pytest arguments]      PY=python (default .venv/bin/python)
#   test/run.sh --other-pythons [pytest arguments]    only OTHER_PYTHON_TESTS (below)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}

# What CI runs on the other supported Pythons (.ci/run: 3.10, and 3.12 with numpy 2; the whole
# suite runs on 3.11): the tests whose outcome depends on the Python, numpy, TensorFlow and
# ROS 2 wheels of the venv, not the pure-Python logic the whole suite covers once:
# - the learning loop to a first lap, lines and image observations (uint8 images: numpy 2's
#   promotion rules), and its export driving that lap again;
# - export and drive: the numpy runtime against TensorFlow, the drive command and its errors,
#   the policies and checkpoints of TensorFlow 2.15 runs;
# - training checkpoints, resume and Ctrl-C through the real CLI;
# - the environment and its specs (tf-agents' validation; the uint8 bounds under numpy 2);
# - distributed training on Ray: the scale-out test (`train --actors 2` to a first lap on a
#   local Ray, every socket on loopback, nothing left) and the replay buffer; the fault tests
#   (minutes each) run on 3.11 with the whole suite;
# - the ROS nodes on that Python's ROS 2 wheels: sim_node + train_node to a lap over DDS,
#   drive_node, and the interface packages built against the venv's numpy.
OTHER_PYTHON_TESTS=(
    test/test_quick_start.py
    test/test_drive.py test/test_numpy_policy.py test/test_old_runs.py
    test/test_train.py
    test/test_env.py
    test/test_distributed.py::test_a_learner_with_two_actors_drives_a_first_lap
    test/test_replay_store.py
    test/test_ros_nodes.py test/test_ros_interfaces.py
)
tests=(test)
if [ "${1:-}" = --other-pythons ]; then
    shift
    tests=("${OTHER_PYTHON_TESTS[@]}")
fi

if [ -n "${ROS_DISTRO:-}" ]; then
    ws=$(mktemp -d "${TMPDIR:-/tmp}/rl_f1_ws.XXXXXX")
    trap 'rm -rf "$ws"' EXIT
    echo "test/run.sh: ROS 2 $ROS_DISTRO: colcon build into $ws"
    bash test/colcon_build.sh "$ws" "$PY"
    set +u   # colcon's setup scripts are not `set -u` clean
    . "$ws/install/setup.bash"
    set -u
    # Every ROS test picks its own domain; this one is for anything that does not.
    export ROS_DOMAIN_ID=${ROS_DOMAIN_ID:-97}
    export RL_F1_REQUIRE_ROS=${RL_F1_REQUIRE_ROS:-1}
    export RL_F1_REQUIRE_LAUNCH=${RL_F1_REQUIRE_LAUNCH:-1}
elif "$PY" -c 'import rclpy' >/dev/null 2>&1; then
    echo "test/run.sh: ROS 2 from the venv (PyPI wheels): node tests must run, launch tests skip"
    export RL_F1_REQUIRE_ROS=${RL_F1_REQUIRE_ROS:-1}
fi
"$PY" -m pytest "${tests[@]}" -rs "$@"   # -rs: each skipped module with its reason
