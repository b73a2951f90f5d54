# rl_f1_driver on ROS 2 Humble (Ubuntu 22.04, Python 3.10) with Gazebo Classic 11 and the
# pinned Python stack (constraints.txt: TensorFlow 2.21, tf-keras, tf-agents 0.19, numpy 1.26.4).
#
# Build:
#   docker build -t rl_f1_driver .
#   docker build --build-arg GPU=true -t rl_f1_driver:gpu .     # TensorFlow with CUDA
#
# Run: the entrypoint sources ROS 2, Gazebo and the package's workspace (/ws/install) and,
# when DISPLAY is unset, starts Xvfb (gzserver renders the car camera with OpenGL even without
# a GUI). The working directory is /ws: runs/ below is /ws/runs.
#   docker run --rm -v $PWD/runs:/ws/runs rl_f1_driver        # train in Gazebo, headless
#   docker run --rm -v $PWD/runs:/ws/runs rl_f1_driver \
#     ros2 launch rl_f1_driver train.launch.py simulator:=embedded      # no Gazebo
#   docker run --rm -v $PWD/runs:/ws/runs rl_f1_driver \
#     ros2 launch rl_f1_driver drive.launch.py policy_dir:=runs/gazebo/policy gui:=false
#   docker run --rm rl_f1_driver bash src/rl_f1_driver/test/gazebo/run_smoke.sh  # smoke test
# With the Gazebo GUI and rviz on the host's X server:
#   xhost +local:docker
#   docker run --rm -it --net=host -e DISPLAY=$DISPLAY -v /tmp/.X11-unix:/tmp/.X11-unix:rw \
#     -v $PWD/runs:/ws/runs rl_f1_driver \
#     ros2 launch rl_f1_driver train.launch.py circuit:=simple gui:=true rviz:=true
# NVIDIA GPU (image built with GPU=true): add `--gpus all -e NVIDIA_DRIVER_CAPABILITIES=all`.
# The test suite, ROS tests included (ROS is sourced, so test/run.sh builds the package first):
#   docker run --rm rl_f1_driver bash -c 'cd src/rl_f1_driver && PY=/opt/venv/bin/python bash test/run.sh'
# More in docs/ros2-and-gazebo.md and docs/tests-and-ci.md.
FROM osrf/ros:humble-desktop

ARG GPU=false
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1 \
    TF_CPP_MIN_LOG_LEVEL=2
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Xvfb and Mesa's software OpenGL: gzserver's camera sensor needs a display, a GPU does not.
RUN apt-get update && apt-get install -y --no-install-recommends \
        ros-humble-gazebo-ros-pkgs \
        ros-humble-cv-bridge \
        ros-humble-tf2-msgs \
        ros-humble-rviz2 \
        ros-humble-launch-testing-ros \
        python3-venv \
        python3-colcon-common-extensions \
        xvfb \
        libgl1-mesa-dri \
    && rm -rf /var/lib/apt/lists/*

# The Python stack lives in a venv over the system site packages. Humble's Python modules come
# from /opt/ros/humble (PYTHONPATH, once sourced), their apt dependencies (lark for launch,
# netifaces, colcon) from /usr/lib/python3/dist-packages, which only a venv made with
# --system-site-packages sees; pip never touches the apt packages. The venv's own packages win
# over the apt ones: numpy 1.26.4 (Humble's cv_bridge is built against numpy 1.x and breaks
# with numpy 2) and Ubuntu's setuptools 59.6, which constraints.txt allows (<81) and colcon
# on Humble drives setup.py with.
# colcon builds an ament_python package with the Python that runs it and writes that
# interpreter into the node scripts: /opt/venv/bin/colcon, first on PATH, runs the apt colcon
# on the venv's Python, so `ros2 run`/`ros2 launch` start the nodes where TensorFlow is.
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
RUN python3 -m venv --system-site-packages /opt/venv \
    && printf '%s\n' '#!/bin/sh' \
        '# colcon (apt) on the venv'"'"'s Python: the node scripts it installs start with it.' \
        "exec /opt/venv/bin/python -c 'import sys; from colcon_core.command import main; sys.exit(main())' \"\$@\"" \
        > /opt/venv/bin/colcon \
    && chmod +x /opt/venv/bin/colcon \
    && command -v colcon | grep -qx /opt/venv/bin/colcon

WORKDIR /ws/src/rl_f1_driver
COPY constraints.txt requirements.txt requirements-nodeps.txt requirements-test.txt ./
# As the Makefile installs it: every version from constraints.txt; then tf-keras and tf-agents
# with --no-deps (requirements-nodeps.txt: tf-keras declares the full tensorflow package,
# tf-agents pygame, an older tensorflow-probability and typing-extensions). TensorFlow >= 2.16
# needs TF_USE_LEGACY_KERAS=1 for tf-agents' Keras 2: rl_f1_driver sets it on import where
# tf-keras is installed. requirements-test.txt is small (pytest, mcap-ros2-support,
# websockets, catkin_pkg, flake8): the image can run the test suite too. GPU=true swaps
# tensorflow-cpu for TensorFlow with its CUDA libraries, at the same version.
RUN cp requirements.txt /tmp/requirements.txt && cp constraints.txt /tmp/constraints.txt \
    && if [ "$GPU" = "true" ]; then \
         sed -i 's/^tensorflow-cpu$/tensorflow[and-cuda]/' /tmp/requirements.txt \
         && sed -i 's/^tensorflow-cpu==/tensorflow==/' /tmp/constraints.txt \
         && grep -qx 'tensorflow\[and-cuda\]' /tmp/requirements.txt; \
       fi \
    && python3 -m pip install -c /tmp/constraints.txt -r /tmp/requirements.txt \
        -r requirements-test.txt \
    && python3 -m pip install --no-deps -c /tmp/constraints.txt -r requirements-nodeps.txt \
    && python3 -c "import numpy, sys; sys.exit(0 if numpy.__version__.startswith('1.') \
                   else 'numpy ' + numpy.__version__ + ' breaks cv_bridge on Humble')"

COPY . .
RUN source /opt/ros/humble/setup.bash \
    && cd /ws \
    && colcon build --packages-select rl_f1_driver --event-handlers console_direct+ \
    && head -n 1 install/rl_f1_driver/lib/rl_f1_driver/train_node | grep -q '^#!/opt/venv/bin/python' \
    && source install/setup.bash \
    && python3 -c "import rclpy, launch, launch_ros, cv_bridge, tf2_msgs.msg, gazebo_msgs.srv; \
                   import rl_f1_driver, tensorflow, tf_agents, tf_agents.environments; \
                   import rl_f1_driver.ros.gazebo_link"

# Sources ROS 2, Gazebo and the workspace (rl-f1 and the node scripts on PATH); without a
# DISPLAY starts Xvfb on :99 (RL_F1_XVFB=0: don't). exec: the command gets docker's signals
# (docker stop: ros2 launch shuts the nodes down, train_node saves a checkpoint).
RUN printf '%s\n' '#!/bin/bash' 'set -e' \
        'source /opt/ros/humble/setup.bash' \
        'source /usr/share/gazebo/setup.sh' \
        'source /ws/install/setup.bash' \
        'export PATH="/ws/install/rl_f1_driver/lib/rl_f1_driver:$PATH"' \
        'if [ -z "${DISPLAY:-}" ] && [ "${RL_F1_XVFB:-1}" != 0 ]; then' \
        '  Xvfb :99 -screen 0 1280x1024x24 -nolisten tcp > /tmp/xvfb.log 2>&1 &' \
        '  export DISPLAY=:99' \
        'fi' \
        'exec "$@"' > /entrypoint.sh \
    && chmod +x /entrypoint.sh

WORKDIR /ws
ENTRYPOINT ["/entrypoint.sh"]
CMD ["ros2", "launch", "rl_f1_driver", "train.launch.py"]
