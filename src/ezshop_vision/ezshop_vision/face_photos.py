"""Face photo folders: ``<root>/<identity>/<n>.jpg`` (the layout of the shipped faces/dev).

Used by enrolment (bulk mode), the simulator and the benches. Plain Python, no rclpy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

#: File name endings taken as photos.
PHOTO_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')


@dataclass(frozen=True)
class Identity:
    """One person's folder: the folder name and the photos in it (sorted by number)."""

    name: str
    photos: tuple[Path, ...]


def _photo_key(path: Path):
    return (0, int(path.stem), path.name) if path.stem.isdigit() else (1, 0, path.name)


def list_photos(folder: str | Path) -> list[Path]:
    """Photos directly in a folder, ``1.jpg, 2.jpg, ..., 10.jpg`` in numeric order."""
    folder = Path(folder)
    photos = [p for p in folder.iterdir()
              if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES]
    return sorted(photos, key=_photo_key)


def list_identities(root: str | Path) -> list[Identity]:
    """Every sub-folder of ``root`` holding photos, sorted by name."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f'face photo folder not found: {root}')
    identities = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        photos = list_photos(folder)
        if photos:
            identities.append(Identity(folder.name, tuple(photos)))
    return identities


def select_photos(photos: list[Path] | tuple[Path, ...], numbers: list[int] | None
                  ) -> list[Path]:
    """The photos whose file stem is one of ``numbers`` (all when numbers is None)."""
    if numbers is None:
        return list(photos)
    wanted = {str(n) for n in numbers}
    return [p for p in photos if p.stem in wanted]


def load_rgb(path: str | Path) -> np.ndarray:
    """Read a photo as an HxWx3 uint8 RGB array (greyscale photos are expanded to RGB)."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f'cannot read image {path}')
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def load_bgr(path: str | Path) -> np.ndarray:
    """Read a photo as an HxWx3 uint8 BGR array (OpenCV's order, for bgr8 messages)."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f'cannot read image {path}')
    return bgr


def load_groups(root: str | Path) -> list[dict]:
    """``groups/groups.json`` of a faces folder (group photos with face counts), or []."""
    path = Path(root) / 'groups' / 'groups.json'
    if not path.is_file():
        return []
    entries = json.loads(path.read_text())
    for entry in entries:
        entry['path'] = Path(root) / entry['file']
    return entries
