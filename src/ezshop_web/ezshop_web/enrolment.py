"""Enrolment from the console: staff send the shopper's name, their consent and photos (files,
or frames of the browser camera). Each photo passes enrolment's checks (one face, large and
sharp enough) or is refused with the reason; the accepted faces must be one person, and not
someone the gallery already knows (two accounts with one face would leave both unidentifiable,
so neither could ever be charged). Plain Python, no rclpy."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ezshop_vision.gallery import Gallery, MatchPolicy
from ezshop_web.face_login import MAX_PHOTO_BYTES, FaceLogin

MAX_ENROL_PHOTOS = 10
MAX_NAME_CHARS = 80
#: Largest enrolment request (bytes): every photo at its largest, plus the form's fields.
MAX_ENROL_BYTES = MAX_ENROL_PHOTOS * MAX_PHOTO_BYTES + 64 * 1024


@dataclass(frozen=True)
class Enrolment:
    """What to send to RegisterCustomer, or why nothing can be sent."""

    name: str
    embeddings: np.ndarray                      # (n, dim) float32; empty when refused
    refused: list[tuple[str, str]] = field(default_factory=list)  # (photo, why), per photo
    problem: str = ''                           # why nobody can be enrolled; '' = ready
    already_enrolled: str = ''                  # the customer id the face belongs to

    @property
    def ready(self) -> bool:
        return not self.problem


def check_details(name: str, consent: bool, photo_count: int) -> str:
    """Why the form cannot be enrolled before any photo is looked at, or ''."""
    if not name.strip():
        return "the shopper's name is missing"
    if len(name.strip()) > MAX_NAME_CHARS:
        return f'the name is longer than {MAX_NAME_CHARS} characters'
    if any(ord(ch) < 32 for ch in name):
        return 'the name contains control characters'
    if not consent:
        return 'the shopper must consent to face identification (tick the box)'
    if photo_count == 0:
        return 'no photo: upload photos or take them with the camera'
    if photo_count > MAX_ENROL_PHOTOS:
        return f'at most {MAX_ENROL_PHOTOS} photos per enrolment'
    return ''


def prepare(faces: FaceLogin, name: str, photos: list[tuple[str, bytes]], gallery: Gallery,
            policy: MatchPolicy) -> Enrolment:
    """Check every photo and the faces together (slow: one face model run per photo)."""
    accepted, refused = [], []
    for label, photo in photos:
        check = faces.check(photo)
        if check.embedding is None:
            refused.append((label, check.problem))
        else:
            accepted.append(check.embedding)
    name = name.strip()
    if not accepted:
        return Enrolment(name, _none(), refused, 'no usable photo: ' + (
            '; '.join(f'{label}: {why}' for label, why in refused) or 'none sent'))
    embeddings = np.asarray(accepted, np.float32)
    if not _one_person(embeddings, policy.tolerance):
        return Enrolment(name, _none(), refused,
                         'the photos do not look like one person: send photos of the shopper '
                         'alone, straight on')
    for embedding in embeddings:
        nearest = gallery.nearest_customers(embedding, 1)
        if nearest and nearest[0][1] <= policy.tolerance:
            return Enrolment(name, _none(), refused,
                             'this face is already enrolled: use that account, or forget it '
                             'first', already_enrolled=nearest[0][0])
    return Enrolment(name, embeddings, refused)


def _one_person(embeddings: np.ndarray, tolerance: float) -> bool:
    """True when every face links to the others through faces within tolerance of each other
    (photos of one person can spread further than tolerance end to end; two people do not
    come that close)."""
    near = np.linalg.norm(embeddings[:, None, :] - embeddings[None, :, :], axis=-1) <= tolerance
    reached, frontier = {0}, [0]
    while frontier:
        for other in np.flatnonzero(near[frontier.pop()]):
            if int(other) not in reached:
                reached.add(int(other))
                frontier.append(int(other))
    return len(reached) == len(embeddings)


def _none() -> np.ndarray:
    return np.zeros((0, 0), np.float32)
