"""Red-line perception: camera image -> per-row line errors or line masks."""
from .line_detector import LineDetector, LineReading
from .overlay import draw_overlay

__all__ = ['LineDetector', 'LineReading', 'draw_overlay']
