"""Gazebo Classic 11 worlds generated from the circuit files and the camera config (no ROS)."""
from .world import WorldNames, build_world, segment_loop, world_filename, write_worlds

__all__ = ['WorldNames', 'build_world', 'segment_loop', 'world_filename', 'write_worlds']
