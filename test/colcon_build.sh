#!/usr/bin/env bash
# Build rl_f1_driver with colcon into workspace folder WS (created), for the Python PY.
#   test/colcon_build.sh WS [PY]        (PY default .venv/bin/python; ROS 2 must be sourced)
# Then: . WS/install/setup.bash
#
# colcon builds an ament_python package with the Python that runs colcon, and the node
# scripts it installs start with that interpreter: it must be the venv's, which has
# TensorFlow. So colcon runs on PY when PY can import it (apt's colcon, seen through a
# --system-site-packages venv on Ubuntu), else the colcon on PATH runs with PY's folder first
# on PATH (e.g. colcon from PyPI in the venv).
set -euo pipefail
ws=${1:?usage: test/colcon_build.sh WS [PY]}
PY=${2:-${PY:-.venv/bin/python}}
cd "$(dirname "$0")/.."
mkdir -p "$ws"
ws=$(cd "$ws" && pwd)
PY=$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")
export PATH="$(dirname "$PY"):$PATH"
if "$PY" -c 'import colcon_core' 2>/dev/null; then
    colcon=("$PY" -c 'import sys; from colcon_core.command import main; sys.exit(main())')
elif command -v colcon >/dev/null; then
    colcon=(colcon)
else
    echo "test/colcon_build.sh: no colcon (apt: python3-colcon-common-extensions; pip: colcon-common-extensions)" >&2
    exit 1
fi
if ! "${colcon[@]}" --log-base "$ws/log" build --base-paths . --packages-select rl_f1_driver \
        --build-base "$ws/build" --install-base "$ws/install" >"$ws/colcon.out" 2>&1; then
    cat "$ws/colcon.out" >&2
    exit 1
fi
node="$ws/install/rl_f1_driver/lib/rl_f1_driver/train_node"
shebang=$(head -1 "$node")
interpreter=${shebang#\#!}
if [ "$(dirname "$interpreter")" != "$(dirname "$PY")" ]; then
    echo "test/colcon_build.sh: $node starts with '$shebang', expected the Python of" \
         "$(dirname "$PY") (colcon ran on another Python, which lacks TensorFlow)" >&2
    exit 1
fi
