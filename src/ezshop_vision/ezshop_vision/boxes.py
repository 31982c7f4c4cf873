"""Axis-aligned face boxes in image pixels. Plain Python."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Box:
    """A box with its top-left corner at (x, y), in pixels."""

    x: float
    y: float
    w: float
    h: float

    @classmethod
    def from_trbl(cls, top: float, right: float, bottom: float, left: float) -> Box:
        """From face_recognition's (top, right, bottom, left) tuple."""
        return cls(float(left), float(top), float(right - left), float(bottom - top))

    def to_trbl(self) -> tuple[int, int, int, int]:
        """face_recognition's (top, right, bottom, left), rounded to ints."""
        return (int(round(self.y)), int(round(self.x + self.w)), int(round(self.y + self.h)),
                int(round(self.x)))

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.w / 2.0, self.y + self.h / 2.0)

    @property
    def area(self) -> float:
        return max(self.w, 0.0) * max(self.h, 0.0)

    def scaled(self, factor: float) -> Box:
        return Box(self.x * factor, self.y * factor, self.w * factor, self.h * factor)

    def shifted(self, dx: float, dy: float) -> Box:
        return Box(self.x + dx, self.y + dy, self.w, self.h)

    def clipped(self, width: int, height: int) -> Box:
        """The part of the box inside a width x height image (may be empty)."""
        x0, y0 = max(self.x, 0.0), max(self.y, 0.0)
        x1, y1 = min(self.x + self.w, float(width)), min(self.y + self.h, float(height))
        return Box(x0, y0, max(x1 - x0, 0.0), max(y1 - y0, 0.0))

    def iou(self, other: Box) -> float:
        """Intersection over union, 0.0 .. 1.0."""
        ix = max(0.0, min(self.x + self.w, other.x + other.w) - max(self.x, other.x))
        iy = max(0.0, min(self.y + self.h, other.y + other.h) - max(self.y, other.y))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0
