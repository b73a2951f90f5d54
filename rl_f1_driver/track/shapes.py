"""Synthetic circuit shapes (centre lines) for tests and benchmarks of big circuits."""
from __future__ import annotations

import math


def rounded_rectangle(w: float, h: float, r: float = 40.0, step: float = 20.0) -> list:
    """Counter-clockwise loop, radius-r corners, a control point every `step` m on straights."""
    pts: list = []

    def straight(ax: float, ay: float, bx: float, by: float) -> None:
        n = max(1, int(round(math.hypot(bx - ax, by - ay) / step)))
        pts.extend([ax + (bx - ax) * k / n, ay + (by - ay) * k / n] for k in range(n))

    def arc(cx: float, cy: float, a0: float) -> None:
        pts.extend([cx + r * math.cos(a0 + k * math.pi / 18),
                    cy + r * math.sin(a0 + k * math.pi / 18)] for k in range(9))

    straight(r, 0, w - r, 0)
    arc(w - r, r, -math.pi / 2)
    straight(w, r, w, h - r)
    arc(w - r, h - r, 0.0)
    straight(w - r, h, r, h)
    arc(r, h - r, math.pi / 2)
    straight(0, h - r, 0, r)
    arc(r, r, math.pi)
    return pts
