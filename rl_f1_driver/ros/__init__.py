"""The ROS 2 layer: a Simulator over Gazebo topics and services, and the nodes.

Modules that import rclpy (the node modules and `gazebo_link`) are never imported from here or
from pure modules, so `conversions`, `frame_gate`, `watchdog`, `params` and `path_trace` stay
importable and tested on machines without ROS.
"""
