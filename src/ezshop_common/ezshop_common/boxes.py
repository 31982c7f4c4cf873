"""Axis-aligned rectangles in image pixels (faces, reach zones): the one rectangle type."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Box:
    """A rectangle with its top-left corner at (x, y) and its size, in image pixels."""

    x: float
    y: float
    width: float
    height: float

    @classmethod
    def from_trbl(cls, top: float, right: float, bottom: float, left: float) -> Box:
        """From face_recognition's (top, right, bottom, left) tuple."""
        return cls(float(left), float(top), float(right - left), float(bottom - top))

    def to_trbl(self) -> tuple[int, int, int, int]:
        """face_recognition's (top, right, bottom, left), rounded to ints."""
        return (int(round(self.y)), int(round(self.x + self.width)),
                int(round(self.y + self.height)), int(round(self.x)))

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.width / 2.0, self.y + self.height / 2.0)

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    def scaled(self, factor: float) -> Box:
        return Box(self.x * factor, self.y * factor, self.width * factor, self.height * factor)

    def shifted(self, dx: float, dy: float) -> Box:
        return Box(self.x + dx, self.y + dy, self.width, self.height)

    def clipped(self, width: int, height: int) -> Box:
        """The part of the box inside a width x height image (may be empty)."""
        x0, y0 = max(self.x, 0.0), max(self.y, 0.0)
        x1, y1 = min(self.x + self.width, float(width)), min(self.y + self.height, float(height))
        return Box(x0, y0, max(x1 - x0, 0.0), max(y1 - y0, 0.0))

    def iou(self, other: Box) -> float:
        """Intersection over union, 0.0 .. 1.0."""
        ix = max(0.0, min(self.x + self.width, other.x + other.width) - max(self.x, other.x))
        iy = max(0.0, min(self.y + self.height, other.y + other.height) - max(self.y, other.y))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def contains(self, px: float, py: float) -> bool:
        """Whether the point is inside the rectangle (its edges included)."""
        return self.distance_to(px, py) == 0.0

    def distance_to(self, px: float, py: float) -> float:
        """Euclidean distance from a point to this rectangle (0 inside)."""
        dx = max(self.x - px, 0.0, px - (self.x + self.width))
        dy = max(self.y - py, 0.0, py - (self.y + self.height))
        return math.hypot(dx, dy)
