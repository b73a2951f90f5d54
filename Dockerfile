# rl_f1_driver on ROS 2 Humble with Gazebo Classic 11 and the pinned Python stack.
#
#   docker build -t rl_f1_driver .
#   docker build --build-arg GPU=true -t rl_f1_driver:gpu .     # TensorFlow with CUDA
#
# Run (X11 for gzclient and rviz; runs/ kept on the host):
#   xhost +local:docker
#   docker run --rm -it --net=host -e DISPLAY=$DISPLAY -v /tmp/.X11-unix:/tmp/.X11-unix:rw \
#     -v $PWD/runs:/ws/runs rl_f1_driver \
#     ros2 launch rl_f1_driver train.launch.py circuit:=simple gui:=true rviz:=true
# Headless (gzserver still needs an OpenGL context for the camera):
#   docker run --rm -v $PWD/runs:/ws/runs rl_f1_driver \
#     xvfb-run -a -s "-screen 0 1280x1024x24" ros2 launch rl_f1_driver train.launch.py
# NVIDIA GPU: add `--gpus all -e NVIDIA_DRIVER_CAPABILITIES=all` to docker run.
# More in README.md, section "ROS 2 and Gazebo".
FROM osrf/ros:humble-desktop

ARG GPU=false
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 \
    TF_CPP_MIN_LOG_LEVEL=2

RUN apt-get update && apt-get install -y --no-install-recommends \
        ros-humble-gazebo-ros-pkgs \
        ros-humble-cv-bridge \
        ros-humble-tf2-ros \
        ros-humble-rviz2 \
        ros-humble-launch-testing-ros \
        python3-pip \
        python3-pytest \
        python3-colcon-common-extensions \
        xvfb \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /ws/src/rl_f1_driver
COPY requirements.txt ./
# The Python stack pinned in requirements.txt, with numpy 1.26.4: Humble's cv_bridge is built
# against numpy 1.x and breaks with numpy 2. The system setuptools stays, because colcon on
# Humble drives `setup.py` with it; tf-agents and TensorFlow are happy with it.
RUN grep -v '^setuptools' requirements.txt > /tmp/requirements.txt \
    && if [ "$GPU" = "true" ]; then \
         sed -i 's/^tensorflow-cpu==/tensorflow[and-cuda]==/' /tmp/requirements.txt; \
       fi \
    && python3 -m pip install -r /tmp/requirements.txt rosbags==0.10.4 \
    && python3 -c "import numpy, sys; sys.exit(0 if numpy.__version__.startswith('1.') \
                   else 'numpy ' + numpy.__version__ + ' breaks cv_bridge on Humble')"

COPY . .
RUN . /opt/ros/humble/setup.sh \
    && cd /ws \
    && colcon build --packages-select rl_f1_driver --event-handlers console_direct+

RUN printf '%s\n' '#!/bin/bash' 'set -e' \
        'source /opt/ros/humble/setup.bash' \
        'source /usr/share/gazebo/setup.sh' \
        'source /ws/install/setup.bash' \
        'exec "$@"' > /entrypoint.sh \
    && chmod +x /entrypoint.sh

WORKDIR /ws
ENTRYPOINT ["/entrypoint.sh"]
CMD ["ros2", "launch", "rl_f1_driver", "train.launch.py"]
