"""Shopper photos: which photos enrol a person and which ones the simulator shows.

Photos live in an identities folder holding ``<identity>/<photo>.jpg`` (by default
``faces_root()/dev``: $EZSHOP_FACES, else the photos shipped with ezshop_common; both parts
are settings), listed by ezshop_vision.face_photos (numeric order: 1.jpg, 2.jpg, ..., 10.jpg).
For every identity the photos are split deterministically:
the first one (two when the person has three or more) enrol the person, the others are what
the cameras show; a person with a single photo is shown with it. Photos are only ever read from
that folder, never copied.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ezshop_common.paths import faces_root
from ezshop_vision.face_photos import PHOTO_SUFFIXES, list_photos, load_bgr

DEFAULT_SUBDIR = 'dev'
#: Margin kept around the detected face box when cropping, as a fraction of the box size.
CROP_MARGIN = 0.35
#: Photos are searched for a face at most this large (longest side, pixels), for speed.
DETECT_MAX_SIDE = 480


class PhotoError(ValueError):
    """A photo folder or photo is missing or unusable; the message names it."""


def identities_dir(faces_dir: str | os.PathLike | None = None,
                   subdir: str | None = DEFAULT_SUBDIR) -> Path:
    """The folder holding <identity>/ photo folders: faces_dir (default faces_root()) / subdir."""
    base = Path(faces_dir) if faces_dir else faces_root()
    return base / subdir if subdir else base


def list_identities(folder: str | os.PathLike) -> list[str]:
    """Identity folder names under ``folder`` that hold at least one photo, sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PhotoError(f'{folder}: no such photo folder (set EZSHOP_FACES or faces_dir)')
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and list_photos(p))


@dataclass(frozen=True)
class PhotoSplit:
    """One identity's photos: those used to enrol, those the cameras show."""

    identity: str
    enrolment: tuple[Path, ...]
    appearance: tuple[Path, ...]


def split_photos(folder: str | os.PathLike, identity: str) -> PhotoSplit:
    """Split ``folder/identity``'s photos into enrolment and appearance photos."""
    person = Path(folder) / identity
    if not person.is_dir():
        raise PhotoError(f'{person}: no photo folder for identity {identity!r}')
    photos = list_photos(person)
    if not photos:
        raise PhotoError(f'{person}: no photos ({", ".join(PHOTO_SUFFIXES)})')
    if len(photos) == 1:
        return PhotoSplit(identity, tuple(photos), tuple(photos))
    n_enrol = 2 if len(photos) >= 3 else 1
    return PhotoSplit(identity, tuple(photos[:n_enrol]), tuple(photos[n_enrol:]))


def enrolment_photos(scenario, folder: str | os.PathLike | None = None) -> dict[str, list[Path]]:
    """Per enrolled shopper identity of a scenario, the photos to enrol them with."""
    folder = Path(folder) if folder else identities_dir()
    return {identity: list(split_photos(folder, identity).enrolment)
            for identity in scenario.enrolled_identities}


@dataclass(frozen=True)
class FaceCrop:
    """A crop of a photo around its face, and where the face box lies in the crop."""

    image: np.ndarray          # bgr8
    face_box: tuple[int, int, int, int]  # x, y, width, height inside ``image``
    source: Path


_crop_cache: dict[Path, FaceCrop] = {}
_crop_lock = threading.Lock()


def load_face_crop(photo: str | os.PathLike) -> FaceCrop:
    """The photo cropped around its face (face_recognition HOG detector), cached per photo.

    The largest face found is used; a photo where none is found is used whole.
    """
    photo = Path(photo).resolve()
    with _crop_lock:
        if photo in _crop_cache:
            return _crop_cache[photo]
    try:
        image = load_bgr(photo)
    except ValueError as exc:
        raise PhotoError(str(exc)) from None
    box = _find_face(image)
    crop = _crop_around(image, box, photo)
    with _crop_lock:
        _crop_cache[photo] = crop
    return crop


def _find_face(image: np.ndarray) -> tuple[int, int, int, int]:
    import face_recognition  # slow import (~1-2 s): only when photos are loaded

    height, width = image.shape[:2]
    scale = min(1.0, DETECT_MAX_SIDE / max(height, width))
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) \
        if scale < 1.0 else image
    rgb = np.ascontiguousarray(small[:, :, ::-1])
    boxes = face_recognition.face_locations(rgb, number_of_times_to_upsample=1)
    if not boxes:
        return (0, 0, width, height)
    top, right, bottom, left = max(boxes, key=lambda b: (b[2] - b[0]) * (b[1] - b[3]))
    x0, y0 = max(0, int(left / scale)), max(0, int(top / scale))
    x1, y1 = min(width, int(right / scale)), min(height, int(bottom / scale))
    return (x0, y0, x1 - x0, y1 - y0)


def _crop_around(image: np.ndarray, box: tuple[int, int, int, int], source: Path) -> FaceCrop:
    height, width = image.shape[:2]
    x, y, w, h = box
    mx, my = int(w * CROP_MARGIN), int(h * CROP_MARGIN)
    x0, y0 = max(0, x - mx), max(0, y - my)
    x1, y1 = min(width, x + w + mx), min(height, y + h + my)
    crop = np.ascontiguousarray(image[y0:y1, x0:x1])
    return FaceCrop(image=crop, face_box=(x - x0, y - y0, w, h), source=source)
