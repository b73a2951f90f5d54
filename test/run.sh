#!/usr/bin/env bash
# The test command behind `make test`: the whole suite, ROS tests included where ROS 2 is.
#
# With ROS 2 Humble sourced (ROS_DISTRO set: your own install, or ../shared/ros2-humble's
# activate.sh as .ci/run does), the package is first built with colcon into a throw-away
# workspace over it and that workspace is sourced, so the ROS tests run the installed package
# as a user's `ros2 launch` does. Without ROS the ROS tests skip themselves.
#   test/run.sh [pytest arguments]      PY=python (default .venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}

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
fi
"$PY" -m pytest test "$@"
