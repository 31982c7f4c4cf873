"""One camera's face pipeline: detect (every n-th frame), track, encode only where needed,
identify by voting. Plain Python, no rclpy; face_node wraps one per camera.

Encodings (~20 ms with dlib on OpenBLAS, ~105 ms with dlib-bin) are the expensive part, so a
frame encodes at most ``max_encodings_per_frame`` faces, chosen among tracks that still need
evidence: suspect tracks first (a name that may have passed to someone else can charge the
wrong customer; a missing one only holds a pick), then new or unconfirmed tracks (fewest
votes), then confirmed tracks due for their low-rate re-check. A track's identity is the
customer holding at least ``votes_needed`` of its last ``vote_window`` votes and more votes
than any other outcome (unknown included), provided the newest vote does not name someone
else. A vote that disagrees with the track's identity (or
names someone on an unknown track) makes the track suspect: it is encoded again on the next
frames until the votes settle, so a track that jumped to another person loses the wrong name
within a few frames. ``votes_needed`` agreeing votes at the end of a track whose older votes
say otherwise start its identity over (the tracker stepped onto another face: the older votes
were that other person's). Unknown tracks are re-checked more often
(``unknown_recheck_interval_s``) than named ones: a walk-in's track can pass to a customer.

With a VisitMemory (shared by the node's cameras), the faces the gallery accepted as a
customer are remembered, and a face the gallery leaves unknown may be named from them
(ezshop_vision.visit_memory); when the memory grows, the unknown votes of every track are
checked against it again, so a track seen before the customer was identified elsewhere is
named too; tracks that ended unknown go to the memory, and those it links to a customer
identified later are collected in ``links`` for the node to publish.

HOG boxes scoring below the detector's threshold, from ``weak_face_score`` (a head turned
aside scores there, and rarely something that is not a face), are tracked only where they
continue a track that named someone or their face, encoded at once, names a customer (the
gallery or the visit memory): a face the detector hardly sees counts when it is someone's.

With a SecondLook (shelf cameras), a detection round that found no face at a lane where
someone stands looks there again with the CNN detector (ezshop_vision.second_look), and
``unnamed_at_lane`` says whether the newest frame has a face at a lane that is not named yet
(or whose name is in doubt): face_node gives such a camera its frames first.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ezshop_common.boxes import Box
from ezshop_common.settings import setting
from ezshop_vision.gallery import Gallery, Match, MatchPolicy, vote_confidence
from ezshop_vision.second_look import SecondLook
from ezshop_vision.tracker import FaceTracker, Track, TrackerSettings, record_vote
from ezshop_vision.visit_memory import TrackLink, VisitMemory


@dataclass(frozen=True)
class PipelineSettings:
    """How often to detect, how much to encode, how to vote. All read on every frame, so all
    may change at run time except ``vote_window`` (the length of every track's vote queue)."""

    detect_every: int = setting(
        3, 'Run the detector on every n-th processed frame; faces are followed by template '
        'matching in between', 1, 30, dynamic=True)
    max_encodings_per_frame: int = setting(
        1, 'Most face encodings computed in one frame (~20 ms each on OpenBLAS, ~105 ms with '
        'dlib-bin)', 1, 16, dynamic=True)
    votes_needed: int = setting(
        2, 'Agreeing encodings needed to name a customer (at most vote_window)', 1, 20,
        dynamic=True)
    vote_window: int = setting(5, 'Encodings (votes) kept per track', 1, 20)
    recheck_interval_s: float = setting(
        2.0, 'Re-encode an already decided track this often (s)', 0.1, 60.0, dynamic=True)
    min_face_px: int = setting(
        40, 'Faces smaller than this (pixels) are tracked but not identified', 8, 1000,
        dynamic=True)
    unknown_recheck_interval_s: float = setting(
        0.5, "Re-encode a track that is still unknown after vote_window votes this often (s): "
        "a walk-in's track may pass to a customer", 0.05, 60.0, dynamic=True)
    weak_face_score: float = setting(
        -0.5, "HOG detections scoring from this up to the detector's threshold (0) are "
        'tracked only where their face names a customer or continues a track that named '
        'one: a head turned aside scores there (and, rarely, something that is not a face; '
        'bench/detection.py); 0 = off', -1.5, 0.0, dynamic=True)

    def __post_init__(self):
        if self.detect_every < 1:
            raise ValueError('detect_every must be >= 1')
        if not 1 <= self.votes_needed <= self.vote_window:
            raise ValueError('votes_needed must be in 1..vote_window')
        if self.max_encodings_per_frame < 1:
            raise ValueError('max_encodings_per_frame must be >= 1')


@dataclass(frozen=True)
class FaceResult:
    """One visible face in one frame."""

    track_id: int
    box: Box
    customer_id: str
    distance: float
    confidence: float
    detected: bool


@dataclass
class PipelineStats:
    frames: int = 0
    detections_run: int = 0
    faces_detected: int = 0
    encodings: int = 0
    tracks_started: int = 0
    visit_matches: int = 0  # votes named through the visit memory
    second_looks: int = 0  # lane regions looked at with the CNN detector
    second_look_faces: int = 0  # faces only the CNN detector found
    weak_encodings: int = 0  # weak detections encoded to see whether they name someone
    weak_faces: int = 0  # ... that did


def decide_identity(track: Track, policy: MatchPolicy, votes_needed: int) -> None:
    """Set the track's customer_id, distance and confidence from its votes."""
    _decide_from_votes(track, policy, votes_needed)
    run = _newest_run(list(track.votes))
    if len(run) >= votes_needed and run[0].customer_id and \
            track.customer_id != run[0].customer_id:
        # The newest votes agree on someone the older ones outvote: the track now follows
        # another face, and the older votes were that other person's.
        for _ in range(len(track.votes) - len(run)):
            track.votes.popleft()
            track.embeddings.popleft()
        _decide_from_votes(track, policy, votes_needed)


def _newest_run(votes: list) -> list:
    """The newest votes that all name the same outcome."""
    run = []
    for vote in reversed(votes):
        if run and vote.customer_id != run[0].customer_id:
            break
        run.insert(0, vote)
    return run


def _decide_from_votes(track: Track, policy: MatchPolicy, votes_needed: int) -> None:
    votes = list(track.votes)
    track.customer_id, track.confidence = '', 0.0
    track.distance = votes[-1].distance if votes else math.nan
    if not votes:
        return
    counts = Counter(v.customer_id for v in votes)
    known = [(n, cid) for cid, n in counts.items() if cid]
    if not known:
        return
    count, customer_id = max(known)
    others = max((n for cid, n in counts.items() if cid != customer_id), default=0)
    if count < votes_needed or count <= others:
        return
    if votes[-1].customer_id not in ('', customer_id):
        return  # the newest evidence names someone else: unknown until votes settle
    if _rules_out(votes[-1], customer_id, policy):
        return  # the newest face is not this customer's: the track may have changed faces
    distances = [v.distance for v in votes if v.customer_id == customer_id]
    mean_distance = float(np.mean(distances))
    track.customer_id = customer_id
    track.distance = min(distances)
    track.confidence = vote_confidence(count, len(votes), mean_distance, policy)


#: Weak detections (weak_face_score) encoded in one detection round to see whether their face
#: names a customer (~20 ms each).
WEAK_ENCODINGS_PER_ROUND = 1

#: Beyond the tolerance by this much, an unknown vote's nearest customer is not the face.
RULED_OUT_EXTRA = 0.1


def _rules_out(vote, customer_id: str, policy: MatchPolicy) -> bool:
    """Whether an unknown vote says the face is not ``customer_id``: it looks more like
    someone else, or is far from everyone. (Measured in the hard bench: a track that followed
    a passer-by in front of its customer kept her name on his face for seconds, because his
    unknown votes did not outvote hers, and charged her for his reach.) A vote near the
    customer but just beyond the tolerance (a poor frame of the same face) rules nothing out."""
    if vote.customer_id or not vote.nearest_id:
        return False
    return vote.nearest_id != customer_id or \
        vote.distance > policy.tolerance + RULED_OUT_EXTRA


class FacePipeline:
    """Detect, track and identify the faces of one camera, frame by frame."""

    def __init__(self, engine, settings: PipelineSettings | None = None,
                 policy: MatchPolicy | None = None, gallery: Gallery | None = None,
                 tracker_settings: TrackerSettings | None = None,
                 id_source: Iterator[int] | None = None,
                 visit_memory: VisitMemory | None = None, camera_id: str = '',
                 second_look: SecondLook | None = None):
        self.engine = engine
        self.second_look = second_look
        self.settings = settings or PipelineSettings()
        self.policy = policy or MatchPolicy()
        self.gallery = gallery or Gallery()
        self.visit_memory = visit_memory
        self._memory_revision = visit_memory.revision if visit_memory else 0
        self.camera_id = camera_id
        #: Tracks named from their own kept faces once the memory knew the customer (ended
        #: ones of any camera sharing the memory, and this camera's own live ones): the node
        #: publishes and clears them.
        self.links: list[TrackLink] = []
        self.tracker = FaceTracker(tracker_settings, id_source, self.settings.vote_window)
        self.stats = PipelineStats()
        #: The newest frame has a face at one of the camera's lanes, unknown or suspect.
        self.unnamed_at_lane = False
        self._frames_since_detect = None
        #: Where weak detections named nobody lately: (box, stamp).
        self._weak_rejects: list[tuple[Box, float]] = []

    def set_gallery(self, gallery: Gallery) -> None:
        """Swap the gallery and re-decide every track from its kept embeddings."""
        self.gallery = gallery
        for track in self.tracker.tracks:
            for i, embedding in enumerate(track.embeddings):
                track.votes[i] = self._identify(embedding)
            decide_identity(track, self.policy, self.settings.votes_needed)

    def _identify(self, embedding: np.ndarray) -> Match:
        match = self.gallery.identify(embedding, self.policy)
        if self.visit_memory is not None:
            match = self.visit_memory.identify(embedding, match, self.policy)
        return match

    def _recheck_unknown_votes(self, stamp: float) -> None:
        """The visit memory has new faces: a track's unknown votes may name someone now
        (a shelf camera saw the customer before another camera identified them). A track
        named so goes into ``links`` as an ended one would: its picks may have been given up
        to staff already, and this name rests on the track's own faces, as an ended track's
        does (it once came only as frames, which fusion does not trust for a pick held
        longer than late_attribution_s, and the shopper's takes stayed held while his
        put-back, held later, was settled: the receipt missed the item)."""
        memory = self.visit_memory
        if memory is None or memory.revision == self._memory_revision:
            return
        self._memory_revision = memory.revision
        for track in self.tracker.tracks:
            before = track.customer_id
            changed = False
            for i, (embedding, vote) in enumerate(zip(track.embeddings, track.votes,
                                                      strict=True)):
                if vote.known or not vote.nearest_id:
                    continue
                again = memory.identify(embedding, vote, self.policy)
                if again.known:
                    track.votes[i] = again
                    self.stats.visit_matches += 1
                    changed = True
            if changed:
                decide_identity(track, self.policy, self.settings.votes_needed)
                if track.customer_id and not before and not track.weak:  # weak: never shown
                    self.links.append(TrackLink(
                        self.camera_id, track.track_id, track.customer_id, track.first_seen,
                        track.last_seen, track.distance, track.confidence, stamp))

    def process(self, rgb: np.ndarray, stamp: float) -> list[FaceResult]:
        """Run one RGB uint8 frame (capture time ``stamp`` in seconds) through the pipeline."""
        self.stats.frames += 1
        gray = self.tracker.small_gray(rgb)
        detect = (self._frames_since_detect is None
                  or self._frames_since_detect + 1 >= self.settings.detect_every)
        if detect:
            before = list(self.tracker.tracks)
            found, weak = self.engine.detect_scored(rgb, self.settings.weak_face_score)
            named_weak = self._weak_faces(rgb, weak, found, stamp)
            found += self._look_closely(rgb, gray, stamp,
                                        found + [box for box, _ in named_weak])
            boxes = found + [box for box, _ in named_weak]
            self.stats.detections_run += 1
            self.stats.faces_detected += len(boxes)
            self.tracker.update(boxes, gray, stamp)
            self._vote_weak(named_weak, found, stamp)
            now_ids = {t.track_id for t in self.tracker.tracks}
            known_ids = {t.track_id for t in before}
            self.stats.tracks_started += len(now_ids - known_ids)
            if self.visit_memory is not None:
                for track in before:
                    if track.track_id not in now_ids and not self._hidden(track):
                        self.visit_memory.track_ended(
                            self.camera_id, track.track_id, track.first_seen,
                            track.last_seen, track.embeddings, track.votes)
            self._frames_since_detect = 0
        else:
            self.tracker.follow(gray, stamp)
            self._frames_since_detect += 1
        if self.visit_memory is not None:
            self.visit_memory.expire(stamp)
            self._recheck_unknown_votes(stamp)
        self._encode_some(rgb, stamp)
        visible = [t for t in self.tracker.visible() if not self._hidden(t)]
        self.unnamed_at_lane = self.second_look is not None and any(
            (not t.customer_id or t.suspect) and self.second_look.at_lane(t.box)
            for t in visible)
        return [FaceResult(t.track_id, t.box, t.customer_id, t.distance, t.confidence,
                           t.detected) for t in visible]

    def _look_closely(self, rgb: np.ndarray, gray: np.ndarray, stamp: float,
                      boxes: list[Box]) -> list[Box]:
        """Faces the CNN detector finds at a lane where the round found none (none without
        a SecondLook, or when no lane is due)."""
        if self.second_look is None:
            return []
        region = self.second_look.choose(gray, self.tracker.settings.tracking_scale, stamp,
                                         boxes)
        if region is None:
            return []
        self.stats.second_looks += 1
        found = [b for b in self.engine.detect_closely(rgb, region)
                 if not any(o.contains(*b.center) for o in boxes)]
        self.stats.second_look_faces += len(found)
        return found

    def _needs_encoding(self, track: Track, stamp: float, width: int, height: int) -> bool:
        box = track.box.clipped(width, height)
        if box.width < self.settings.min_face_px or box.height < self.settings.min_face_px:
            return False
        if track.suspect or self._moved_since_encoded(track):
            return True
        if not track.customer_id and len(track.votes) < self.settings.vote_window:
            return True
        since = stamp - track.last_encoded
        interval = (self.settings.recheck_interval_s if track.customer_id
                    else self.settings.unknown_recheck_interval_s)
        return since >= interval or since < 0.0  # < 0: time jumped back

    @staticmethod
    def _moved_since_encoded(track: Track) -> bool:
        """A face width or more from where it was last encoded: crossing others is where a
        track changes faces, so who it is now is checked then, not at the next re-check."""
        then = track.encoded_box
        return then is not None and \
            math.dist(then.center, track.box.center) >= max(then.width, track.box.width)

    def _encode_some(self, rgb: np.ndarray, stamp: float) -> None:
        height, width = rgb.shape[:2]
        due = [t for t in self.tracker.visible() if self._needs_encoding(t, stamp, width, height)]
        if not due:
            return
        due.sort(key=lambda t: (not t.suspect, bool(t.customer_id), len(t.votes),
                                t.last_encoded))
        chosen = due[:self.settings.max_encodings_per_frame]
        embeddings = self.engine.encode(rgb, [t.box.clipped(width, height) for t in chosen])
        self.stats.encodings += len(chosen)
        for track, embedding in zip(chosen, embeddings, strict=True):
            self._take_vote(track, embedding, self._identify(embedding), stamp)

    def _take_vote(self, track: Track, embedding: np.ndarray, match: Match,
                   stamp: float) -> None:
        """One encoding of the track's face: its vote, the track's identity, the memory."""
        before = track.customer_id
        self.stats.visit_matches += match.from_visit
        record_vote(track, embedding, match, stamp)
        decide_identity(track, self.policy, self.settings.votes_needed)
        if self.visit_memory is not None and match.known and not match.from_visit \
                and track.customer_id == match.customer_id:
            self.links += self.visit_memory.remember(
                match.customer_id, embedding, stamp, self.policy, self.settings.votes_needed)
        if track.customer_id == match.customer_id:
            track.suspect = False  # the votes agree with the newest one
        elif match.customer_id != before and (before or match.customer_id):
            track.suspect = True  # someone else, or someone on an unknown track

    def _weak_faces(self, rgb: np.ndarray, weak: list[tuple[Box, float]], found: list[Box],
                    stamp: float) -> list[tuple[Box, tuple[np.ndarray, Match] | None]]:
        """The weak detections to track, with the vote of those encoded (at most
        WEAK_ENCODINGS_PER_ROUND a round, strongest first): one over a track that has named
        someone continues it (its face turned aside), encoded while that track is not shown
        yet (one vote short of a name: the door has a moment to see a leaving customer);
        one elsewhere only if its face names a customer. A spot whose face named nobody is
        not encoded again for ``unknown_recheck_interval_s``, so something that only looks
        like a face costs one encoding that often."""
        self._weak_rejects = [(box, at) for box, at in self._weak_rejects
                              if 0.0 <= stamp - at < self.settings.unknown_recheck_interval_s]
        if not weak:
            return []
        min_iou = self.tracker.settings.min_iou
        named = [t for t in self.tracker.tracks
                 if t.customer_id or any(v.known for v in t.votes)]
        kept: list[tuple[Box, tuple[np.ndarray, Match] | None]] = []
        encoded = 0
        for box, _ in sorted(weak, key=lambda w: -w[1]):
            if any(o.contains(*box.center) or box.contains(*o.center)
                   for o in found + [b for b, _ in kept]):
                continue  # a face found already
            track = next((t for t in named if box.iou(t.box) >= min_iou), None)
            can_encode = encoded < WEAK_ENCODINGS_PER_ROUND and \
                min(box.width, box.height) >= self.settings.min_face_px
            if track is not None and not (self._hidden(track) and can_encode):
                kept.append((box, None))
                continue
            if not can_encode or (track is None and any(
                    box.iou(r) >= min_iou for r, _ in self._weak_rejects)):
                continue
            embedding = self.engine.encode(rgb, [box])[0]
            encoded += 1
            self.stats.encodings += 1
            self.stats.weak_encodings += 1
            match = self._identify(embedding)
            if match.known or track is not None:
                self.stats.weak_faces += match.known
                kept.append((box, (embedding, match)))
            else:
                self._weak_rejects.append((box, stamp))
        return kept

    def _vote_weak(self, named_weak: list[tuple[Box, tuple[np.ndarray, Match] | None]],
                   found: list[Box], stamp: float) -> None:
        """Give the tracks the weak detections became the votes their faces already cast
        (a track a weak one started is weak until the detector finds its face)."""
        for track in self.tracker.tracks:
            if track.weak and any(track.box is box for box in found):
                track.weak = False
        for box, vote in named_weak:
            if vote is None:
                continue
            for track in self.tracker.tracks:
                if track.box is box:
                    track.weak = track.weak or track.first_seen == stamp  # it started one
                    self._take_vote(track, vote[0], vote[1], stamp)
                    break

    @staticmethod
    def _hidden(track: Track) -> bool:
        """A track only weak detections found that names nobody (now) is not shown: a weak
        box never makes an unknown face."""
        return track.weak and not track.customer_id
