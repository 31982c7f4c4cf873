"""A customer logs in with their face: one photo from the browser camera, the checks of
enrolment (exactly one face, large and sharp enough), then the gallery with face_node's
tolerance and margin. Anything less than a clear match is no login: never a login on a guess.
Plain Python, no rclpy."""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from ezshop_vision.enrollment import PhotoRules, check_face, make_engine
from ezshop_vision.gallery import Gallery, MatchPolicy

#: Largest photo accepted (bytes) and largest side (pixels): a camera frame is far smaller.
MAX_PHOTO_BYTES = 5 * 1024 * 1024
MAX_SIDE_PX = 4096


@dataclass(frozen=True)
class FaceLoginResult:
    customer_id: str   # '' = no login
    reason: str = ''   # why not, for the shopper
    distance: float = float('nan')
    bad_file: bool = False  # the upload was not a usable image at all


@dataclass(frozen=True)
class FaceCheck:
    """One photo through enrolment's checks: its embedding, or why not."""

    embedding: np.ndarray | None
    problem: str = ''
    bad_file: bool = False  # not a usable image at all (else: an image without a clear face)


class FaceLogin:
    """Decode, check and identify one photo. The face models load on first use."""

    def __init__(self, rules: PhotoRules | None = None):
        self.rules = rules or PhotoRules()
        self._engine = None
        self._lock = threading.Lock()  # dlib's models are not shared between threads

    def check(self, photo: bytes) -> FaceCheck:
        """Decode a photo and check its face as enrolment does."""
        rgb, problem = decode_photo(photo)
        if rgb is None:
            return FaceCheck(None, problem, bad_file=True)
        with self._lock:
            if self._engine is None:
                self._engine = make_engine()
            embedding, problem = check_face(self._engine, rgb, self.rules)
        return FaceCheck(embedding, problem)

    def identify(self, photo: bytes, gallery: Gallery, policy: MatchPolicy) -> FaceLoginResult:
        check = self.check(photo)
        if check.bad_file:
            return FaceLoginResult('', check.problem, bad_file=True)
        if check.embedding is None:
            return FaceLoginResult('', f'{check.problem}: look straight at the camera, alone, '
                                       'in good light')
        match = gallery.identify(check.embedding, policy)
        if not match.known:
            return FaceLoginResult('', 'not recognised: you are not enrolled here, or the '
                                       'photo was not clear enough; try again', match.distance)
        return FaceLoginResult(match.customer_id, '', match.distance)


def decode_photo(photo: bytes) -> tuple[np.ndarray | None, str]:
    """An RGB image from JPEG / PNG / WebP bytes, or None and why not."""
    if not photo:
        return None, 'no photo'
    if len(photo) > MAX_PHOTO_BYTES:
        return None, f'photo too large (over {MAX_PHOTO_BYTES // (1024 * 1024)} MB)'
    try:
        # The header alone: a small file that would decode to a huge image is refused first.
        with Image.open(io.BytesIO(photo)) as header:
            kind, size = header.format, header.size
    except (UnidentifiedImageError, OSError, ValueError):
        return None, 'not an image (JPEG, PNG or WebP expected)'
    if kind not in ('JPEG', 'PNG', 'WEBP'):
        return None, f'{kind} images are not accepted (JPEG, PNG or WebP expected)'
    if max(size) > MAX_SIDE_PX:
        return None, f'image too large (over {MAX_SIDE_PX} px on a side)'
    bgr = cv2.imdecode(np.frombuffer(photo, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        return None, 'the image is damaged'
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), ''
