"""ROS 2 message content without ROS: conversions, the driven path, rviz markers.

Shared by the recordings and live view (`record/`, no ROS) and the rclpy nodes (`ros/`), so
both show the same thing and neither imports the other. Functions fill any object with the
fields of the ROS message (rclpy messages, rosbags messages, simple namespaces); nothing here
imports rclpy. Nothing is imported here, so each user loads only what it needs.
"""
