"""Circuits and where the car is on them."""
from .circuit import Circuit, builtin_names, circuit_from_dict, load_circuit, resolve_track
from .tracker import TrackState, TrackTracker, wrap_angle

__all__ = ['Circuit', 'builtin_names', 'circuit_from_dict', 'load_circuit', 'resolve_track',
           'TrackState', 'TrackTracker', 'wrap_angle']
