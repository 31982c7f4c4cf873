"""The faces a customer showed in the store lately, as evidence for their harder views.
Plain Python, no rclpy.

A customer the gallery identified at one camera may turn up at another in a view their
enrolment photos do not reach (a shelf camera's angle, other light): the gallery then finds
them nearest but beyond the tolerance, the face stays unknown and their picks are held, or
their exit is missed. The visit memory keeps, per customer, the embeddings of faces the
gallery itself accepted as them (tolerance and margin) in the last ``visit_memory_s`` seconds
of image time. A face the gallery leaves unknown is that customer when all of these hold:

- the gallery's nearest customer is that customer (two pieces of evidence agree);
- one of the customer's remembered faces is within the tolerance;
- every other customer, enrolled or remembered, is at least the margin further away.

Only faces the gallery accepted are remembered, never faces named through the memory, so a
name cannot creep from face to face. What it costs in strangers accepted is measured with
bench/recognition.py ("with the visit memory"). Held in memory only, for customers only
(never a stranger's face), dropped after ``visit_memory_s`` and as soon as the customer leaves
the gallery (forget_customer).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass, replace

import numpy as np

from ezshop_common.settings import setting
from ezshop_vision.gallery import Match, MatchPolicy


@dataclass(frozen=True)
class VisitMemorySettings:
    """How long and how many of a customer's accepted faces are kept; read on every use."""

    visit_memory_s: float = setting(
        900.0, "Keep the faces the gallery accepted as a customer this long (s, image time) "
        "to identify the same customer's harder views (another camera's angle); 0: off",
        0.0, 86_400.0, dynamic=True)
    visit_faces_kept: int = setting(
        16, 'Faces kept per customer for that (the newest)', 1, 1024, dynamic=True)


@dataclass(frozen=True)
class _Face:
    stamp: float
    embedding: np.ndarray


class VisitMemory:
    """Accepted faces per customer, shared by every camera of a face node (thread-safe)."""

    def __init__(self, settings: VisitMemorySettings | None = None):
        self.settings = settings or VisitMemorySettings()
        self._faces: dict[str, deque[_Face]] = {}
        self._lock = threading.Lock()
        #: Changes whenever a face is remembered: tracks with unknown votes are checked again.
        self.revision = 0

    def __len__(self) -> int:
        """Customers with remembered faces."""
        with self._lock:
            return len(self._faces)

    def remember(self, customer_id: str, embedding: np.ndarray, stamp: float) -> None:
        """A face the gallery accepted as ``customer_id`` at ``stamp`` (s)."""
        settings = self.settings
        if settings.visit_memory_s <= 0.0 or not customer_id:
            return
        face = _Face(stamp, np.asarray(embedding, dtype=np.float32).reshape(-1).copy())
        if not np.all(np.isfinite(face.embedding)):
            return
        with self._lock:
            faces = self._faces.setdefault(customer_id, deque())
            faces.append(face)
            while len(faces) > settings.visit_faces_kept:
                faces.popleft()
            self._expire(stamp)
            self.revision += 1

    def expire(self, now: float) -> None:
        """Forget faces older than ``visit_memory_s`` before ``now`` (s, image time)."""
        with self._lock:
            self._expire(now)

    def keep_only(self, customer_ids) -> None:
        """The gallery changed: forget everyone no longer in it."""
        wanted = set(customer_ids)
        with self._lock:
            for customer_id in [c for c in self._faces if c not in wanted]:
                del self._faces[customer_id]

    def identify(self, embedding: np.ndarray, match: Match, policy: MatchPolicy) -> Match:
        """``match`` (the gallery's answer for ``embedding``), or, when the gallery left the
        face unknown, its nearest customer if the remembered faces settle it (module doc).
        A match through the memory has ``from_visit`` set and the remembered face's
        distance."""
        if match.known or not match.nearest_id or self.settings.visit_memory_s <= 0.0:
            return match
        query = np.asarray(embedding, dtype=np.float32).reshape(-1)
        if not np.all(np.isfinite(query)):
            return match
        with self._lock:
            rows = {cid: np.stack([f.embedding for f in faces])
                    for cid, faces in self._faces.items() if faces}
        own = rows.pop(match.nearest_id, None)
        if own is None:
            return match
        distance = _nearest(own, query)
        if distance > policy.tolerance:
            return match
        second = min([match.second_distance] + [_nearest(r, query) for r in rows.values()])
        if second - distance < policy.margin:
            return match
        return replace(match, customer_id=match.nearest_id, distance=distance,
                       second_distance=second, from_visit=True)

    def _expire(self, now: float) -> None:
        cutoff = now - self.settings.visit_memory_s
        for customer_id in list(self._faces):
            faces = self._faces[customer_id]
            while faces and faces[0].stamp < cutoff:
                faces.popleft()
            if not faces:
                del self._faces[customer_id]


def _nearest(rows: np.ndarray, query: np.ndarray) -> float:
    if not len(rows):
        return math.inf
    return float(np.sqrt(np.min(np.sum((rows - query) ** 2, axis=1))))
