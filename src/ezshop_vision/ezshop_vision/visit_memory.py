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
name cannot creep from face to face.

Tracks that ended unknown are kept as well (their unknown votes, for ``visit_memory_s``
after their last sighting): when the customer a track's faces looked most like is
identified later, at another camera, and the track's votes now name them (``votes_needed``
of them, none naming anyone else), the memory returns a TrackLink and the face node
publishes it (TrackIdentity): fusion then settles the picks held for that unknown face and
the store moves the visit's start back to the track's first sighting (a shopper the doors and
shelves never identified, identified only on the way out).

What it costs in strangers accepted is measured with bench/recognition.py ("with the visit
memory"). Held in memory only and never published: customers' accepted faces, dropped after
``visit_memory_s`` and as soon as the customer leaves the gallery (forget_customer); unknown
tracks' embeddings (which may be a stranger's), dropped ``visit_memory_s`` after the track
ended, as soon as it is linked, or when a new gallery names them.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass, replace

import numpy as np

from ezshop_common.settings import setting
from ezshop_vision.gallery import Gallery, Match, MatchPolicy, vote_confidence


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


@dataclass(frozen=True)
class TrackLink:
    """A track that was unknown (ended, or still followed), named now from its own faces:
    they match a customer identified since."""

    camera_id: str
    track_id: int
    customer_id: str
    first_seen: float  # s, the track's first image
    last_seen: float   # s, its last image
    distance: float    # its nearest vote's distance to the customer's remembered faces
    confidence: float  # as a track's (gallery.vote_confidence)
    stamp: float       # s, the image in which the customer was identified (the evidence)


@dataclass(frozen=True)
class _EndedTrack:
    camera_id: str
    track_id: int
    first_seen: float
    last_seen: float
    embeddings: tuple[np.ndarray, ...]
    votes: tuple[Match, ...]


class VisitMemory:
    """Accepted faces per customer, shared by every camera of a face node (thread-safe)."""

    def __init__(self, settings: VisitMemorySettings | None = None):
        self.settings = settings or VisitMemorySettings()
        self._faces: dict[str, deque[_Face]] = {}
        self._ended: dict[tuple[str, int], _EndedTrack] = {}
        self._lock = threading.Lock()
        #: Changes whenever a face is remembered: tracks with unknown votes are checked again.
        self.revision = 0
        self._rows: tuple[int, dict[str, np.ndarray]] = (-1, {})  # stacked, per revision

    def __len__(self) -> int:
        """Customers with remembered faces."""
        with self._lock:
            return len(self._faces)

    @property
    def ended_tracks(self) -> int:
        """Tracks that ended unknown and are kept."""
        with self._lock:
            return len(self._ended)

    def remember(self, customer_id: str, embedding: np.ndarray, stamp: float,
                 policy: MatchPolicy | None = None, votes_needed: int = 2) -> list[TrackLink]:
        """A face the gallery accepted as ``customer_id`` at ``stamp`` (s). Returns the
        tracks that ended unknown and are that customer now (with ``policy``; each once)."""
        settings = self.settings
        if settings.visit_memory_s <= 0.0 or not customer_id:
            return []
        face = _Face(stamp, np.asarray(embedding, dtype=np.float32).reshape(-1).copy())
        if not np.all(np.isfinite(face.embedding)):
            return []
        with self._lock:
            faces = self._faces.setdefault(customer_id, deque())
            faces.append(face)
            while len(faces) > settings.visit_faces_kept:
                faces.popleft()
            self._expire(stamp)
            self.revision += 1
            ended = [t for t in self._ended.values()
                     if any(v.nearest_id == customer_id for v in t.votes)]
        if policy is None:
            return []
        links = [link for track in ended
                 if (link := self._link(track, customer_id, policy, votes_needed, stamp))]
        with self._lock:
            for link in links:
                self._ended.pop((link.camera_id, link.track_id), None)
        return links

    def track_ended(self, camera_id: str, track_id: int, first_seen: float,
                    last_seen: float, embeddings, votes) -> None:
        """A track is gone: kept if every vote it had was unknown (a name it had was
        published already), to be linked when its customer is identified later."""
        votes = tuple(votes)
        if self.settings.visit_memory_s <= 0.0 or not votes or \
                any(v.known for v in votes) or not any(v.nearest_id for v in votes):
            return
        track = _EndedTrack(camera_id, track_id, first_seen, last_seen,
                            tuple(np.asarray(e, dtype=np.float32) for e in embeddings), votes)
        with self._lock:
            self._ended[(camera_id, track_id)] = track

    def _link(self, track: _EndedTrack, customer_id: str, policy: MatchPolicy,
              votes_needed: int, stamp: float) -> TrackLink | None:
        """The track's votes again, through the memory: a link when ``votes_needed`` of them
        name the customer, more than stay unknown, and none names anyone else."""
        again = [self.identify(e, v, policy) for e, v in zip(track.embeddings, track.votes,
                                                             strict=True)]
        named = [m for m in again if m.customer_id == customer_id]
        unknown = sum(1 for m in again if not m.known)
        if len(named) < votes_needed or len(named) <= unknown or \
                len(named) + unknown < len(again):
            return None
        mean = float(np.mean([m.distance for m in named]))
        return TrackLink(track.camera_id, track.track_id, customer_id, track.first_seen,
                         track.last_seen, min(m.distance for m in named),
                         vote_confidence(len(named), len(again), mean, policy), stamp)

    def expire(self, now: float) -> None:
        """Forget faces older than ``visit_memory_s`` before ``now`` (s, image time)."""
        with self._lock:
            self._expire(now)

    def use_gallery(self, gallery: Gallery, policy: MatchPolicy) -> None:
        """The gallery changed: forget everyone no longer in it, and take the ended tracks'
        votes again against it (one it names now is no longer unknown: dropped)."""
        wanted = set(gallery.customer_ids)
        with self._lock:
            for customer_id in [c for c in self._faces if c not in wanted]:
                del self._faces[customer_id]
            ended = list(self._ended.values())
            self.revision += 1
        again = {}
        for track in ended:
            votes = tuple(gallery.identify(e, policy) for e in track.embeddings)
            if not any(v.known for v in votes):
                again[(track.camera_id, track.track_id)] = replace(track, votes=votes)
        with self._lock:
            self._ended = {key: again[key] for key in self._ended if key in again}

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
        rows = dict(self._stacked())
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

    def _stacked(self) -> dict[str, np.ndarray]:
        """Each customer's remembered faces as one array (made once per change)."""
        with self._lock:
            revision, rows = self._rows
            if revision != self.revision:
                rows = {cid: np.stack([f.embedding for f in faces])
                        for cid, faces in self._faces.items() if faces}
                self._rows = (self.revision, rows)
            return rows

    def _expire(self, now: float) -> None:
        cutoff = now - self.settings.visit_memory_s
        removed_any = False
        for customer_id in list(self._faces):
            faces = self._faces[customer_id]
            while faces and faces[0].stamp < cutoff:
                faces.popleft()
                removed_any = True
            if not faces:
                del self._faces[customer_id]
        if removed_any:
            self.revision += 1
        for key in [k for k, t in self._ended.items() if t.last_seen < cutoff]:
            del self._ended[key]


def _nearest(rows: np.ndarray, query: np.ndarray) -> float:
    if not len(rows):
        return math.inf
    return float(np.sqrt(np.min(np.sum((rows - query) ** 2, axis=1))))
