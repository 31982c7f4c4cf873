"""Enrolment checks and embeddings: every photo must show exactly one usable face (large and
sharp enough); only embeddings leave this module, never pixels. Plain Python, no rclpy."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ezshop_vision.face_engine import EMBEDDING_DIM, DetectorSettings, FaceEngine, sharpness
from ezshop_vision.face_photos import load_rgb


@dataclass(frozen=True)
class PhotoRules:
    """What makes a face usable for enrolment."""

    min_face_px: int = 60          # smaller faces give poor embeddings
    min_sharpness: float = 20.0    # variance of the Laplacian on a 128 px face crop


@dataclass(frozen=True)
class PhotoCheck:
    """The outcome for one photo: an embedding, or the reason it was refused."""

    path: Path
    embedding: np.ndarray | None
    reason: str = ''

    @property
    def ok(self) -> bool:
        return self.embedding is not None


@dataclass(frozen=True)
class Person:
    """A person to enrol: a display name and photo paths."""

    name: str
    photos: tuple[Path, ...]


def make_engine(num_jitters: int = 1) -> FaceEngine:
    """The engine enrolment uses: HOG with one upsampling step (finds faces down to ~40 px)."""
    return FaceEngine(DetectorSettings(model='hog', upsample=1), num_jitters=num_jitters)


def check_photo(engine: FaceEngine, path: str | Path, rules: PhotoRules | None = None
                ) -> PhotoCheck:
    """Detect, check and encode the one face of a photo."""
    path = Path(path)
    try:
        rgb = load_rgb(path)
    except ValueError as exc:
        return PhotoCheck(path, None, str(exc))
    embedding, reason = check_face(engine, rgb, rules)
    return PhotoCheck(path, embedding, reason)


def check_face(engine: FaceEngine, rgb: np.ndarray, rules: PhotoRules | None = None
               ) -> tuple[np.ndarray | None, str]:
    """The embedding of the one usable face of an RGB image, or None and why not (no face or
    several, too small, too blurred): the checks of enrolment, also used by face login."""
    rules = rules or PhotoRules()
    boxes = engine.detect(rgb)
    if len(boxes) != 1:
        return None, f'{len(boxes)} faces found, need exactly one'
    box = boxes[0]
    if min(box.width, box.height) < rules.min_face_px:
        return None, (f'face too small ({int(box.width)}x{int(box.height)} px, need '
                      f'{rules.min_face_px})')
    sharp = sharpness(rgb, box)
    if sharp < rules.min_sharpness:
        return None, f'face too blurred (sharpness {sharp:.1f}, need {rules.min_sharpness})'
    return engine.encode(rgb, [box])[0], ''


def person_embeddings(engine: FaceEngine, person: Person, rules: PhotoRules | None = None
                      ) -> tuple[np.ndarray, list[PhotoCheck]]:
    """The embeddings (n, dim) of the person's usable photos, and every photo's check."""
    checks = [check_photo(engine, photo, rules) for photo in person.photos]
    good = [c.embedding for c in checks if c.ok]
    if not good:
        return np.zeros((0, EMBEDDING_DIM), np.float32), checks
    return np.vstack(good).astype(np.float32), checks


def parse_photo_numbers(text: str | None) -> list[int] | None:
    """'1,2' -> [1, 2]; '' or None -> None (all photos). Raises ValueError on junk."""
    if not text:
        return None
    try:
        return [int(part) for part in text.split(',') if part.strip()]
    except ValueError:
        raise ValueError(f'--photos must be numbers separated by commas, got {text!r}'
                         ) from None
