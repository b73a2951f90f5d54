#!/usr/bin/env bash
# ROS 2 from PyPI's wheels into a venv: `make test` runs this once (a stamp) when no ROS 2 is
# sourced. It installs requirements-ros.txt (rclpy, Fast DDS, the messages, the rosidl
# toolchain), then builds the interface packages the wheels lack, ros_wheels/interfaces/
# (tf2_msgs, gazebo_msgs: the types the nodes use, field for field), with the toolchain wheels,
# cmake and a C/C++ compiler, into the venv's own prefix: they need no environment variables
# at run time. A failure stops with one line naming what failed and where its log is.
#   bash ros_wheels/install.sh VENV
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(cd "${1:?usage: ros_wheels/install.sh VENV}" && pwd)
py=$venv/bin/python
work=$venv/ros-build
rm -rf "$work"
mkdir -p "$work"

fail() {
    echo "ros_wheels/install.sh: $*" >&2
    exit 1
}

for tool in cmake c++ cc; do
    command -v "$tool" >/dev/null || fail "no '$tool' on PATH: building the ROS 2 interface packages needs cmake and a C/C++ compiler (Debian: apt-get install cmake g++)"
done

echo "ros_wheels: pip install -r requirements-ros.txt (ROS 2 wheels) into $venv"
# Versions from the venv's constraints (the Makefile writes them: constraints.txt with the
# venv's numpy), else constraints.txt: the wheels ask for an unpinned numpy; the venv's stays.
constraints=$venv/constraints.txt
[ -f "$constraints" ] || constraints=constraints.txt
if ! "$py" -m pip install -q -r requirements-ros.txt -c "$constraints" >"$work/pip.log" 2>&1; then
    why=$(grep -m1 -E '^ERROR' "$work/pip.log" || tail -n1 "$work/pip.log")
    fail "pip could not install the ROS 2 wheels of requirements-ros.txt: $why (log: $work/pip.log)"
fi

# AMENT_PREFIX_PATH must name the venv at build time (ament finds the toolchain's resources
# there); the toolchain's scripts run on the venv's Python.
export AMENT_PREFIX_PATH=$venv PATH=$venv/bin:$PATH
for pkg in tf2_msgs gazebo_msgs; do
    echo "ros_wheels: building $pkg (ros_wheels/interfaces/$pkg) into $venv"
    log=$work/$pkg.log
    cmake -S "ros_wheels/interfaces/$pkg" -B "$work/$pkg" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_INSTALL_PREFIX="$venv" -DCMAKE_PREFIX_PATH="$venv" \
        -DPython3_EXECUTABLE="$py" -DBUILD_TESTING=OFF \
        -DCMAKE_PROJECT_INCLUDE="$PWD/ros_wheels/wheel_fixes.cmake" >"$log" 2>&1 \
        || fail "cmake could not configure the ROS 2 interface package $pkg (log: $log)"
    cmake --build "$work/$pkg" -j "$(nproc)" >>"$log" 2>&1 \
        || fail "the build of the ROS 2 interface package $pkg failed (log: $log)"
    cmake --install "$work/$pkg" >>"$log" 2>&1 \
        || fail "installing the ROS 2 interface package $pkg into $venv failed (log: $log)"
done

"$py" -c 'import rclpy, tf2_msgs.msg, gazebo_msgs.srv, sensor_msgs.msg' >"$work/check.log" 2>&1 \
    || fail "rclpy or the messages do not import after the install: $(tail -n1 "$work/check.log")"
rm -rf "$work"
echo "ros_wheels: ROS 2 ready in $venv ($("$py" -c 'from importlib.metadata import version; print("rclpy", version("ros-rclpy"))'))"
