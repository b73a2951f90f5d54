"""Driving with a trained policy or the PID baseline, from camera frames."""
