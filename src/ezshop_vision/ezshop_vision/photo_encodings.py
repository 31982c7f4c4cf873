"""Faces and embeddings of photo files, cached on disk by photo content. Plain Python.

Benches and tests encode the same photos again and again (~0.1-0.5 s each); the cache keys
each photo by the SHA-1 of its bytes plus the detector settings, so a changed photo or
setting is recomputed. Cache folder: $EZSHOP_CACHE, else ~/.cache/ezshop/face_encodings.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ezshop_common.boxes import Box
from ezshop_vision.face_engine import EMBEDDING_DIM, DetectorSettings, FaceEngine
from ezshop_vision.face_photos import load_rgb


@dataclass(frozen=True)
class PhotoFaces:
    """Every face found in one photo: boxes and embeddings (rows), plus the image size."""

    path: Path
    boxes: tuple[Box, ...]
    embeddings: np.ndarray
    width: int
    height: int


def cache_dir() -> Path:
    return Path(os.environ.get('EZSHOP_CACHE') or Path.home() / '.cache' / 'ezshop') \
        / 'face_encodings'


def _key(path: Path, settings: DetectorSettings, landmarks: str, jitters: int) -> str:
    digest = hashlib.sha1(path.read_bytes()).hexdigest()
    return (f'{digest}-{settings.model}-up{settings.upsample}-ds{settings.downscale:g}'
            f'-{landmarks}-j{jitters}')


def photo_faces(paths, settings: DetectorSettings | None = None, landmarks: str = 'large',
                jitters: int = 1, use_cache: bool = True) -> dict[Path, PhotoFaces]:
    """Detect (HOG, upsample 1 by default) and encode every face of every photo (cached)."""
    settings = settings or DetectorSettings(upsample=1)
    folder = cache_dir()
    results = {}
    engine = None
    for path in map(Path, paths):
        file = folder / f'{_key(path, settings, landmarks, jitters)}.npz'
        if use_cache and file.is_file():
            data = np.load(file)
            boxes = tuple(Box(*row) for row in data['boxes'])
            results[path] = PhotoFaces(path, boxes, data['embeddings'],
                                       int(data['size'][0]), int(data['size'][1]))
            continue
        if engine is None:
            engine = FaceEngine(settings, num_jitters=jitters, landmarks=landmarks)
        rgb = load_rgb(path)
        boxes = engine.detect(rgb)
        embeddings = engine.encode(rgb, boxes)
        faces = PhotoFaces(path, tuple(boxes), embeddings, rgb.shape[1], rgb.shape[0])
        results[path] = faces
        if use_cache:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = file.with_suffix('.tmp.npz')
            np.savez(tmp, boxes=np.array([[b.x, b.y, b.width, b.height] for b in boxes],
                                         np.float64).reshape(-1, 4),
                     embeddings=embeddings.reshape(-1, EMBEDDING_DIM),
                     size=np.array([rgb.shape[1], rgb.shape[0]]))
            os.replace(tmp, file)
    return results
