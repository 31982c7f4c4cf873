"""Face tracks across frames: detections associated by overlap, template following between
detections. Plain Python (OpenCV + numpy), no rclpy.

Detection is expensive (~34 ms per 640x480 frame with HOG), so it runs on every n-th frame;
in between, each track follows its face by normalised template matching in a small search
window around its predicted position on a downscaled grey image (well under 1 ms per face).
A detection round re-anchors every track to its detection and refreshes its template.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from ezshop_common.boxes import Box
from ezshop_common.settings import setting
from ezshop_vision.gallery import Match


@dataclass(frozen=True)
class TrackerSettings:
    """Association and following thresholds, read on every frame (so they may change at run
    time) except ``tracking_scale``, the scale the tracks' templates were cut at."""

    min_iou: float = setting(0.2, 'Overlap needed to continue a track with a detection',
                             0.01, 1.0, dynamic=True)
    max_misses: int = setting(2, 'Detection rounds a track may go unmatched before it ends',
                              0, 30, dynamic=True)
    min_follow_score: float = setting(
        0.5, 'Template-match score needed to follow a face between detections', -1.0, 1.0,
        dynamic=True)
    search_factor: float = 0.5    # search window margin, as a fraction of the face size
    tracking_scale: float = setting(0.5, 'Image scale used for template following', 0.1, 1.0)
    min_appearance: float = setting(
        0.3, 'Template similarity (-1..1) a detection needs to continue a track: lower lets a '
        'track jump to a neighbour who crosses it (a crowd at a shelf); a different person '
        'stepping into the same place starts a new track', -1.0, 1.0, dynamic=True)
    jump_widths: float = setting(
        2.0, 'A track that lost its face may continue with a detection that does not overlap '
        'it (a sudden lean towards a shelf) up to this many face widths away, if the faces '
        'look alike (jump_min_appearance)', 0.0, 10.0, dynamic=True)
    jump_min_appearance: float = setting(
        0.85, 'Template similarity (-1..1, best around the detection) such a jump needs: on '
        "the dev photos two different people's faces reach at most 0.80 (99 % below 0.73), "
        'the same face moved 1.0', -1.0, 1.0, dynamic=True)
    gap_recheck_s: float = setting(
        0.3, 'A track continued across a gap in its sightings longer than this (s) whose face '
        'matches its template less than jump_min_appearance is re-identified at once: frames '
        'come far apart on a busy machine and someone may have stepped into the same place',
        0.0, 60.0, dynamic=True)


@dataclass
class Track:
    """One face followed across frames, with its identity evidence."""

    track_id: int
    box: Box
    first_seen: float
    last_seen: float
    visible: bool = True
    detected: bool = True
    misses: int = 0
    velocity: tuple[float, float] = (0.0, 0.0)
    template: np.ndarray | None = None
    suspect: bool = False
    #: Started by a weak detection (face_pipeline) and not found by the detector since: shown
    #: only while it names someone.
    weak: bool = False
    embeddings: deque = field(default_factory=deque)
    votes: deque = field(default_factory=deque)
    last_encoded: float = float('-inf')
    encoded_box: Box | None = None  # where the face was when last encoded
    customer_id: str = ''
    distance: float = float('nan')
    confidence: float = 0.0


def new_id_source(start: int = 1) -> Iterator[int]:
    """Track ids; share one source between trackers so ids are unique per node."""
    return itertools.count(start)


class FaceTracker:
    """Keeps the tracks of one camera."""

    def __init__(self, settings: TrackerSettings | None = None,
                 id_source: Iterator[int] | None = None, vote_window: int = 5):
        self.settings = settings or TrackerSettings()
        self._ids = id_source or new_id_source()
        self._vote_window = vote_window
        self.tracks: list[Track] = []

    def small_gray(self, rgb: np.ndarray) -> np.ndarray:
        """The grey, downscaled image templates are matched on."""
        scale = self.settings.tracking_scale
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else rgb
        if scale != 1.0:
            gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        return gray

    def update(self, detections: list[Box], gray: np.ndarray, stamp: float) -> None:
        """A detection round: continue matched tracks, start new ones, age the others."""
        for track in self.tracks:
            track.detected = False
        pairs = []
        for ti, track in enumerate(self.tracks):
            predicted = track.box.shifted(*track.velocity)
            for di, det in enumerate(detections):
                overlap = max(predicted.iou(det), track.box.iou(det))
                if overlap >= self.settings.min_iou and \
                        self.appearance(track, gray, det) >= self.settings.min_appearance:
                    pairs.append((overlap, ti, di))
        used_tracks, used_dets = set(), set()
        for _, ti, di in sorted(pairs, reverse=True):
            if ti in used_tracks or di in used_dets:
                continue
            used_tracks.add(ti)
            used_dets.add(di)
            # Found again after the detector lost it (or after a long gap between frames):
            # whoever is there now may be someone else who stepped into the same place, so
            # the identity is re-checked at once.
            track, det = self.tracks[ti], detections[di]
            suspect = track.misses > 0 or self._changed_after_gap(
                track, stamp, lambda t=track, d=det: self._best_match_around(t, gray, d))
            self._continue(track, det, gray, stamp, suspect=suspect)
        # A jump is never certain to be the same face: re-checked at once as well.
        for _, ti, di in self._jumps(detections, gray, used_tracks, used_dets):
            used_tracks.add(ti)
            used_dets.add(di)
            self._continue(self.tracks[ti], detections[di], gray, stamp, suspect=True)
        survivors = []
        for ti, track in enumerate(self.tracks):
            if ti not in used_tracks:
                track.misses += 1
                if track.misses > self.settings.max_misses:
                    continue
                self._follow_one(track, gray, stamp)
            survivors.append(track)
        self.tracks = survivors
        for di, det in enumerate(detections):
            if di not in used_dets:
                self.tracks.append(Track(
                    track_id=next(self._ids), box=det, first_seen=stamp, last_seen=stamp,
                    template=self._template(gray, det),
                    embeddings=deque(maxlen=self._vote_window),
                    votes=deque(maxlen=self._vote_window)))

    def _continue(self, track: Track, det: Box, gray: np.ndarray, stamp: float,
                  suspect: bool) -> None:
        track.velocity = (det.x - track.box.x, det.y - track.box.y)
        track.box = det
        track.suspect = track.suspect or suspect
        track.misses = 0
        track.visible = track.detected = True
        track.last_seen = stamp
        track.template = self._template(gray, det)

    def _jumps(self, detections: list[Box], gray: np.ndarray, used_tracks: set[int],
               used_dets: set[int]) -> list[tuple[float, int, int]]:
        """Tracks left without a detection paired with a detection nobody took, a few face
        widths away and looking alike: one face that moved faster than the overlap and the
        template search follow (a shopper leaning in to reach a shelf). Without this the
        face got a second track (measured in the hard bench: the lagging track and the new
        one both named the taker, whose pick was then held as named on two faces).
        Best-looking pairs first."""
        settings = self.settings
        if settings.jump_widths <= 0.0:
            return []
        pairs = []
        for ti, track in enumerate(self.tracks):
            if ti in used_tracks:
                continue
            centre = track.box.shifted(*track.velocity).center
            for di, det in enumerate(detections):
                if di in used_dets:
                    continue
                width = max(track.box.width, det.width)
                ratio = det.width / max(track.box.width, 1e-6)
                if not 2.0 / 3.0 <= ratio <= 1.5 or \
                        math.dist(centre, det.center) > settings.jump_widths * width:
                    continue
                score = self._best_match_around(track, gray, det)
                if score >= settings.jump_min_appearance:
                    pairs.append((score, ti, di))
        chosen, tracks_taken, dets_taken = [], set(), set()
        for score, ti, di in sorted(pairs, reverse=True):
            if ti not in tracks_taken and di not in dets_taken:
                chosen.append((score, ti, di))
                tracks_taken.add(ti)
                dets_taken.add(di)
        return chosen

    def _changed_after_gap(self, track: Track, stamp: float,
                           similarity: Callable[[], float]) -> bool:
        """Whether a track found ``stamp - track.last_seen`` after its last sighting may show
        someone else: the gap is longer than gap_recheck_s and the face there matches the
        track's template (``similarity()``, computed only then) less than a moved face does.
        (Measured beside a CPU hog: shelf frames 0.4-0.8 s apart, a shopper stepped into the
        very place another had reached from, the tracker continued the other's track by
        overlap and its name credited him with the put-back.)"""
        settings = self.settings
        return stamp - track.last_seen > settings.gap_recheck_s and \
            similarity() < settings.jump_min_appearance

    def follow(self, gray: np.ndarray, stamp: float) -> None:
        """A frame without detection: move every track by template matching."""
        for track in self.tracks:
            track.detected = False
            self._follow_one(track, gray, stamp)

    def appearance(self, track: Track, gray: np.ndarray, box: Box) -> float:
        """Similarity (-1..1) of the track's template and the image inside ``box``."""
        if track.template is None:
            return 1.0
        patch = self._template(gray, box)
        if patch is None:
            return 1.0
        th, tw = track.template.shape
        patch = cv2.resize(patch, (tw, th), interpolation=cv2.INTER_AREA)
        score = float(cv2.matchTemplate(patch, track.template, cv2.TM_CCOEFF_NORMED)[0, 0])
        return score if np.isfinite(score) else 0.0

    def _best_match_around(self, track: Track, gray: np.ndarray, box: Box) -> float:
        """Best similarity (-1..1) of the track's template anywhere around ``box``, at the
        template's own size, the box's, or between: the detector's box sits differently on
        the same face from one round to the next (shifted, a pyramid level larger), and
        scoring the box's pixels alone drops to ~0.4 for it."""
        if track.template is None:
            return -1.0
        s = self.settings.tracking_scale
        b = box.scaled(s)
        height, width = gray.shape
        th0, tw0 = track.template.shape
        ratio = b.width / max(tw0, 1)
        best = -1.0
        for factor in sorted({1.0, math.sqrt(ratio), ratio}):
            tw, th = int(round(tw0 * factor)), int(round(th0 * factor))
            if tw < 4 or th < 4:
                continue
            template = track.template if factor == 1.0 else cv2.resize(
                track.template, (tw, th), interpolation=cv2.INTER_AREA)
            cx, cy = b.center
            margin = 0.5 * max(tw, th)
            x0, y0 = int(max(cx - tw / 2 - margin, 0)), int(max(cy - th / 2 - margin, 0))
            x1 = int(min(cx + tw / 2 + margin, width))
            y1 = int(min(cy + th / 2 + margin, height))
            if x1 - x0 < tw or y1 - y0 < th:
                continue
            scores = cv2.matchTemplate(gray[y0:y1, x0:x1], template, cv2.TM_CCOEFF_NORMED)
            score = float(cv2.minMaxLoc(scores)[1])
            if np.isfinite(score):
                best = max(best, score)
        return best

    def visible(self) -> list[Track]:
        return [t for t in self.tracks if t.visible]

    def _template(self, gray: np.ndarray, box: Box) -> np.ndarray | None:
        s = self.settings.tracking_scale
        b = box.scaled(s).clipped(gray.shape[1], gray.shape[0])
        x0, y0 = int(round(b.x)), int(round(b.y))
        w, h = int(round(b.width)), int(round(b.height))
        if w < 4 or h < 4:
            return None
        return gray[y0:y0 + h, x0:x0 + w].copy()

    def _follow_one(self, track: Track, gray: np.ndarray, stamp: float) -> None:
        track.visible = False
        template = track.template
        if template is None:
            return
        s = self.settings.tracking_scale
        th, tw = template.shape
        predicted = track.box.shifted(*track.velocity).scaled(s)
        margin = self.settings.search_factor * max(tw, th)
        height, width = gray.shape
        x0 = int(max(predicted.x - margin, 0))
        y0 = int(max(predicted.y - margin, 0))
        x1 = int(min(predicted.x + tw + margin, width))
        y1 = int(min(predicted.y + th + margin, height))
        if x1 - x0 < tw or y1 - y0 < th:
            return
        scores = cv2.matchTemplate(gray[y0:y1, x0:x1], template, cv2.TM_CCOEFF_NORMED)
        _, best, _, (bx, by) = cv2.minMaxLoc(scores)
        if not np.isfinite(best) or best < self.settings.min_follow_score:
            return
        new_box = Box((x0 + bx) / s, (y0 + by) / s, track.box.width, track.box.height)
        if self._changed_after_gap(track, stamp, lambda: best):
            track.suspect = True
        track.velocity = (new_box.x - track.box.x, new_box.y - track.box.y)
        track.box = new_box
        track.visible = True
        track.last_seen = stamp


def record_vote(track: Track, embedding: np.ndarray, match: Match, stamp: float) -> None:
    """Keep an embedding and its match as one identity vote of the track."""
    track.embeddings.append(embedding)
    track.votes.append(match)
    track.last_encoded = stamp
    track.encoded_box = track.box
