"""A debug image for humans, videos and rviz: what the detector saw and what the car does."""
from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

from .line_detector import LineDetector, LineReading


def draw_overlay(bgr: np.ndarray, detector: LineDetector, reading: Optional[LineReading] = None,
                 command: Optional[tuple[float, float]] = None, text: str = '') -> np.ndarray:
    """Full frame with the red mask tinted, the perception rows, centres and the image centre."""
    out = bgr.copy()
    h, w = out.shape[:2]
    mask = detector.red_mask(bgr)
    # Tint = 0.4 * pixel + 0.6 * cyan, copied in under the mask: a few whole-image OpenCV
    # passes (a numpy where() over the full frame cost as much as the detection itself).
    tinted = cv2.add(cv2.convertScaleAbs(bgr, alpha=0.4), (153, 153, 0, 0))
    cv2.copyTo(tinted, mask, out)
    reading = reading or detector.detect(bgr)
    idx = detector.row_indices(h, None)
    cv2.line(out, (w // 2, 0), (w // 2, h - 1), (0, 255, 255), 1)
    for r, row in enumerate(idx):
        colour = (0, 255, 0) if reading.found[r] else (0, 0, 255)
        cv2.line(out, (0, int(row)), (w - 1, int(row)), colour, 1)
        if reading.found[r]:
            x = int(round(float(reading.columns[r])))
            cv2.circle(out, (x, int(row)), 6, (0, 255, 0), 2)
            cv2.putText(out, f'{reading.errors[r]:+.2f}', (min(x + 8, w - 60), int(row) - 6),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        else:
            cv2.putText(out, 'lost', (8, int(row) - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                        (0, 0, 255), 1, cv2.LINE_AA)
    lines = []
    if command is not None:
        lines.append(f'v {command[0]:.1f} m/s  w {command[1]:+.2f} rad/s')
        # Steering arrow: length ~ speed, angle ~ turn rate.
        base = (w // 2, h - 10)
        ang = -command[1] * 0.5
        tip = (int(base[0] - 60 * np.sin(ang) * 1.0), int(base[1] - 15 - 8 * command[0]))
        cv2.arrowedLine(out, base, tip, (255, 255, 255), 2, tipLength=0.3)
    if text:
        lines.extend(text.split('\n'))
    for i, line in enumerate(lines):
        cv2.putText(out, line, (10, 24 + 22 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3,
                    cv2.LINE_AA)
        cv2.putText(out, line, (10, 24 + 22 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                    (255, 255, 255), 1, cv2.LINE_AA)
    return out
