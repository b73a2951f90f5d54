"""Recordings (MCAP, rosbag2-compatible) and the live Foxglove view of drives and training.

messages: ROS 2 Humble messages, CDR-encoded (one layer for every sink); mcap_sink and
foxglove_sink: where they go; recorder.DriveRecorder: a drive -> messages; monitor: the
trainer's hooks (live plots, recorded evaluation drives); setup: what the command line asks.
Nothing is imported here, so the command line loads these libraries only when used.
"""
