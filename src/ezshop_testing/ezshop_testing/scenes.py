"""Synthetic camera frames built from real face photos: face crops pasted on a plain
background, moving. Used by tests and bench/vision_fps.py (and usable by the simulator).
Plain Python, no rclpy."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ezshop_common.boxes import Box


@dataclass(frozen=True)
class FaceSprite:
    """A face crop (BGR) with the face box inside it, and who it is ('' = unknown)."""

    image: np.ndarray
    face: Box
    identity: str


def make_sprite(bgr: np.ndarray, face: Box, identity: str, face_px: int = 110,
                context: float = 0.35) -> FaceSprite:
    """Crop the face with ``context`` margin on each side, scaled so the face is face_px."""
    height, width = bgr.shape[:2]
    pad_x, pad_y = face.width * context, face.height * context
    crop = Box(face.x - pad_x, face.y - pad_y, face.width + 2 * pad_x,
               face.height + 2 * pad_y).clipped(width, height)
    x0, y0 = int(crop.x), int(crop.y)
    x1, y1 = int(crop.x + crop.width), int(crop.y + crop.height)
    scale = face_px / max(face.width, 1.0)
    patch = cv2.resize(bgr[y0:y1, x0:x1], None, fx=scale, fy=scale,
                       interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    inner = Box((face.x - x0) * scale, (face.y - y0) * scale, face.width * scale,
                face.height * scale)
    return FaceSprite(patch, inner, identity)


@dataclass
class Mover:
    """A sprite moving in straight lines, bouncing off the frame edges (or off the edges
    of ``bounds`` = (x0, y0, x1, y1) when given, to keep sprites apart)."""

    sprite: FaceSprite
    x: float
    y: float
    vx: float
    vy: float
    bounds: tuple[int, int, int, int] | None = None

    def step(self, width: int, height: int) -> None:
        h, w = self.sprite.image.shape[:2]
        x0, y0, x1, y1 = self.bounds or (0, 0, width, height)
        self.x += self.vx
        self.y += self.vy
        if self.x < x0 or self.x + w > x1:
            self.vx = -self.vx
            self.x = min(max(self.x, x0), x1 - w)
        if self.y < y0 or self.y + h > y1:
            self.vy = -self.vy
            self.y = min(max(self.y, y0), y1 - h)

    @property
    def face_box(self) -> Box:
        f = self.sprite.face
        return Box(self.x + f.x, self.y + f.y, f.width, f.height)


def background(width: int = 640, height: int = 480, seed: int = 0) -> np.ndarray:
    """A soft grey gradient with mild noise (BGR)."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(90, 170, width, dtype=np.float32)[None, :].repeat(height, 0)
    noise = rng.normal(0, 4, (height, width)).astype(np.float32)
    grey = np.clip(ramp + noise, 0, 255).astype(np.uint8)
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)


def render(movers: list[Mover], base: np.ndarray) -> tuple[np.ndarray, list[tuple[Box, str]]]:
    """Paste every sprite at its position; returns the frame and (face box, identity) pairs."""
    frame = base.copy()
    truth = []
    for mover in movers:
        img = mover.sprite.image
        h, w = img.shape[:2]
        x, y = int(round(mover.x)), int(round(mover.y))
        frame[y:y + h, x:x + w] = img
        face = mover.sprite.face
        truth.append((Box(x + face.x, y + face.y, face.width, face.height),
                      mover.sprite.identity))
    return frame, truth
