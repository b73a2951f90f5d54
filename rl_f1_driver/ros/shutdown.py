"""Ending a node cleanly on Ctrl-C and SIGTERM while messages keep arriving. No rclpy.

A signal handler that raises KeyboardInterrupt can fire inside rclpy's take of a message; the
binding then reports "RuntimeError: Unable to convert call argument to Python object" and the
node crashed with status 1 (drive_node under Gazebo). So nodes that spin in the main thread
take signals as a flag checked between callbacks (spin_until), and an error that surfaces
once an interrupt was received is the shutdown, not a failure (exit_status).
"""
from __future__ import annotations

import sys
from typing import Callable, Optional


def spin_until(spin_once: Callable[[], None], done: Callable[[], bool]) -> None:
    """Call `spin_once` until `done()`. An error from a callback or a take that happens once
    `done()` holds (interrupted, context going down) ends the loop quietly; before, it is
    raised."""
    while not done():
        try:
            spin_once()
        except Exception:  # noqa: BLE001 - re-raised unless we are stopping anyway
            if not done():
                raise
            return


def exit_status(main: Callable[[], Optional[int]], interrupted: Callable[[], bool]) -> int:
    """`main()`'s status; 0 when Ctrl-C/SIGTERM ended it (KeyboardInterrupt), also when the
    interrupt surfaced inside an rclpy call as a RuntimeError (rclpy's errors derive from
    it). Any other error, and a RuntimeError without an interrupt, is raised."""
    try:
        return int(main() or 0)
    except KeyboardInterrupt:
        return 0
    except RuntimeError as exc:
        if not interrupted():
            raise
        print(f'(stopping after an interrupt: {type(exc).__name__}: {exc})', file=sys.stderr)
        return 0
