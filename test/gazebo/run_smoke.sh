#!/usr/bin/env bash
# Gazebo smoke test: start a simulator with a circuit's world, run test/gazebo/smoke.py
# against it, stop everything this script started.
#
#   test/gazebo/run_smoke.sh [--simulator gazebo|embedded] [--circuit NAME] [-- SMOKE_ARGS]
#
#   gazebo (default)  gzserver, headless: `ros2 launch rl_f1_driver world.launch.py gui:=false`,
#                     under its own Xvfb when DISPLAY is unset (the camera sensor renders with
#                     OpenGL). Needs ROS 2 Humble with gazebo_ros_pkgs, and this package built
#                     with colcon; both sourced.
#   embedded          sim_node in place of Gazebo (checks the smoke test where there is none).
#                     Needs ROS 2 Humble sourced.
#
# SMOKE_ARGS go to smoke.py (e.g. --timeout 300; see smoke.py --help). PYTHON (default
# python3) must import rclpy and rl_f1_driver with its Python stack. Logs and the one-line JSON
# summary (also printed on stdout at the end) go to SMOKE_LOG_DIR (default: a new folder in
# /tmp). Exit status: smoke.py's (0 passed, 1 failed), or 2 when the set-up is incomplete.
#
# Used by the gazebo-smoke job of .github/workflows/ros-humble.yml.
set -o pipefail
# Job control: every background job gets its own process group, so the last-resort SIGKILL
# reaches the simulator's children (gzserver) too.
set -m

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
simulator=gazebo
circuit=simple
smoke_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --simulator) simulator=$2; shift 2 ;;
    --circuit) circuit=$2; shift 2 ;;
    --) shift; smoke_args=("$@"); break ;;
    -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' \
                   "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "run_smoke.sh: unknown argument '$1' (smoke.py's arguments go after --)" >&2
       exit 2 ;;
  esac
done
case $simulator in
  gazebo | embedded) ;;
  *) echo "run_smoke.sh: --simulator must be gazebo or embedded, not '$simulator'" >&2; exit 2 ;;
esac

PYTHON=${PYTHON:-python3}
log_dir=${SMOKE_LOG_DIR:-$(mktemp -d /tmp/rl_f1_smoke.XXXXXX)}
mkdir -p "$log_dir" || exit 2
sim_log=$log_dir/simulator.log
sim_pid=
xvfb_pid=
smoke_pid=

say() { echo "run_smoke: $*" >&2; }
die() { say "$*"; exit 2; }

# Stop a process started here with signal $3 (default INT: ros2 launch then stops gzserver in
# order), SIGKILL to its process group after 20 s. Called from the EXIT trap (SC2317).
# shellcheck disable=SC2317
stop() {
  local pid=$1 name=$2 sig=${3:-INT}
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
  kill -"$sig" "$pid" 2>/dev/null
  for _ in $(seq 40); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    sleep 0.5
  done
  say "$name (pid $pid) did not stop within 20 s of SIG$sig: killing its process group"
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}

# shellcheck disable=SC2317
cleanup() {
  [ -n "$smoke_pid" ] && stop "$smoke_pid" smoke.py
  [ -n "$sim_pid" ] && stop "$sim_pid" "the $simulator simulator"
  [ -n "$xvfb_pid" ] && stop "$xvfb_pid" Xvfb TERM
}
trap cleanup EXIT
trap 'exit 130' INT TERM   # runs the EXIT trap

"$PYTHON" -c 'import rclpy, rl_f1_driver' 2>/dev/null \
  || die "$PYTHON cannot import rclpy and rl_f1_driver: source /opt/ros/humble/setup.bash, and use the Python with the rl_f1_driver stack (PYTHON=.venv/bin/python)"

if [ "$simulator" = gazebo ]; then
  command -v gzserver >/dev/null || die 'gzserver not found: apt-get install ros-humble-gazebo-ros-pkgs'
  command -v ros2 >/dev/null || die 'ros2 not found: source /opt/ros/humble/setup.bash'
  ros2 pkg prefix rl_f1_driver >/dev/null 2>&1 \
    || die 'rl_f1_driver is not in the sourced workspace: colcon build it, then source install/setup.bash'
  if [ -z "${DISPLAY:-}" ]; then
    command -v Xvfb >/dev/null || die 'no DISPLAY and no Xvfb: apt-get install xvfb'
    # -displayfd: Xvfb picks a free display and writes its number once it accepts clients.
    Xvfb -displayfd 3 -screen 0 1280x1024x24 -nolisten tcp +extension GLX \
      3>"$log_dir/display" >"$log_dir/xvfb.log" 2>&1 &
    xvfb_pid=$!
    for _ in $(seq 100); do
      [ -s "$log_dir/display" ] && break
      kill -0 "$xvfb_pid" 2>/dev/null || break
      sleep 0.1
    done
    [ -s "$log_dir/display" ] || { cat "$log_dir/xvfb.log" >&2; die 'Xvfb did not start'; }
    DISPLAY=":$(tr -d '[:space:]' <"$log_dir/display")"
    export DISPLAY
    say "Xvfb on display $DISPLAY (pid $xvfb_pid)"
  fi
  # Gazebo's own resource and plugin paths (gzserver.launch.py only adds the packages' ones).
  if [ -f /usr/share/gazebo/setup.sh ]; then
    # shellcheck disable=SC1091
    . /usr/share/gazebo/setup.sh
  fi
  ros2 launch rl_f1_driver world.launch.py "circuit:=$circuit" gui:=false verbose:=true \
    >"$sim_log" 2>&1 &
  sim_pid=$!
else
  "$PYTHON" -m rl_f1_driver.ros.sim_node --ros-args -p "track:=$circuit" >"$sim_log" 2>&1 &
  sim_pid=$!
fi
say "$simulator simulator started (pid $sim_pid), log: $sim_log"

# smoke.py: messages on stderr (shown and kept), the JSON summary on stdout (kept). Should the
# simulator end meanwhile (gzserver crashed, a launch error), smoke.py is stopped at once
# instead of waiting out its timeouts.
"$PYTHON" "$here/smoke.py" --circuit "$circuit" "${smoke_args[@]}" \
  >"$log_dir/summary.json" 2> >(tee "$log_dir/smoke.log" >&2) &
smoke_pid=$!
while kill -0 "$smoke_pid" 2>/dev/null; do
  if ! kill -0 "$sim_pid" 2>/dev/null; then
    wait "$sim_pid"
    say "the $simulator simulator exited (status $?) during the smoke test: stopping smoke.py"
    kill -INT "$smoke_pid" 2>/dev/null
    break
  fi
  sleep 1
done
wait "$smoke_pid"
rc=$?
if ! kill -0 "$sim_pid" 2>/dev/null; then
  rc=$((rc ? rc : 1))   # a simulator that stopped by itself is a failure, whatever smoke.py said
fi
if [ "$rc" -ne 0 ]; then
  say "last lines of $sim_log:"
  tail -n 80 "$sim_log" >&2
fi
cat "$log_dir/summary.json"
say "$([ "$rc" -eq 0 ] && echo passed || echo "FAILED (status $rc)"); logs in $log_dir"
exit "$rc"
