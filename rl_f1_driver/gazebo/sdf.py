"""Small helpers for writing SDF text by hand: stable number formatting, colours, boxes."""
from __future__ import annotations

from typing import Iterable, List, Sequence
from xml.sax.saxutils import escape, quoteattr


def num(v: float) -> str:
    """Up to 4 decimals (0.1 mm), no trailing zeros, no '-0': byte-stable across machines."""
    s = f'{float(v):.4f}'.rstrip('0').rstrip('.')
    return '0' if s in ('-0', '') else s


def nums(values: Iterable[float]) -> str:
    return ' '.join(num(v) for v in values)


def pose(x: float = 0.0, y: float = 0.0, z: float = 0.0, roll: float = 0.0,
         pitch: float = 0.0, yaw: float = 0.0) -> str:
    return f'<pose>{nums((x, y, z, roll, pitch, yaw))}</pose>'


def rgb_from_bgr(bgr: Sequence[int]) -> List[str]:
    """An OpenCV BGR colour (the embedded renderer's palette) as 'r', 'g', 'b' in 0..1: the
    one conversion behind the SDF materials and the meshes' .mtl files."""
    b, g, r = bgr
    return [num(r / 255.0), num(g / 255.0), num(b / 255.0)]


def rgba_from_bgr(bgr: Sequence[int], alpha: float = 1.0) -> str:
    """An OpenCV BGR colour as SDF 'r g b a' in 0..1."""
    return ' '.join([*rgb_from_bgr(bgr), num(alpha)])


def material(bgr: Sequence[int]) -> str:
    """Same colour for ambient and diffuse, no shine: the camera sees the palette colour."""
    c = rgba_from_bgr(bgr)
    return (f'<material><ambient>{c}</ambient><diffuse>{c}</diffuse>'
            f'<specular>0 0 0 1</specular><emissive>0 0 0 1</emissive></material>')


def attr(value: str) -> str:
    return quoteattr(value)


def text(value: str) -> str:
    return escape(value)


def box_visual(name: str, size: Sequence[float], at: Sequence[float], bgr: Sequence[int],
               indent: str = '') -> str:
    """A visual box; `at` is (x, y, z, roll, pitch, yaw) of its centre."""
    return (f'{indent}<visual name={attr(name)}>{pose(*at)}'
            f'<geometry><box><size>{nums(size)}</size></box></geometry>'
            f'{material(bgr)}</visual>')
