"""Entry/exit decisions from the face tracks of a door camera. Plain Python, no rclpy.

A pass is one track that is close (face height >= ``min_face_height_px``) and seen steadily
(no gap longer than ``max_gap_s``) for ``min_steady_s`` with the same identified customer:
it yields one event, and never a second one for the same track. In a group the name may settle
only as the person leaves the view (few encodings to go round, the face hidden behind another
for part of the pass): a track that ends (unseen for ``max_gap_s``) close and named, after
being seen for at least ``min_track_s``, is a pass too, stamped at its last sighting. A
customer who got an event less than ``cooldown_s`` ago gets no new one (a track lost and found
again in the same pass).
A close face that stays unknown for ``unknown_after_s`` (longer than identification takes)
raises one UNKNOWN_PERSON per track. All times are the images' capture stamps (seconds).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from ezshop_common.settings import setting

KIND_PASS = 'pass'
KIND_UNKNOWN = 'unknown'


@dataclass(frozen=True)
class DoorSettings:
    """The door's thresholds; all read on every frame, so all may change at run time."""

    min_face_height_px: float = setting(
        80.0, 'A face at least this tall (pixels) is close enough to count as passing the door',
        1.0, 4000.0, dynamic=True)
    min_steady_s: float = setting(
        0.5, 'Time a close, identified face must be seen steadily before the pass counts (s)',
        0.0, 30.0, dynamic=True)
    max_gap_s: float = setting(
        0.5, 'Longest gap in sightings that still counts as steady (s)', 0.0, 30.0,
        dynamic=True)
    cooldown_s: float = setting(
        10.0, 'No second event for the same customer within this time (s)', 0.0, 3600.0,
        dynamic=True)
    unknown_after_s: float = setting(
        2.0, 'A close face still unknown after this time raises UNKNOWN_PERSON (s)', 0.0, 60.0,
        dynamic=True)
    forget_after_s: float = setting(
        5.0, 'Forget a track not seen for this long (s)', 0.1, 600.0, dynamic=True)
    min_track_s: float = setting(
        0.2, 'A track that leaves close and identified before its steady time counts as a '
        'pass when it was seen at least this long (s)', 0.0, 30.0, dynamic=True)


@dataclass(frozen=True)
class FaceSeen:
    """One face of one FaceArray, as the door logic needs it."""

    track_id: int
    customer_id: str
    height_px: float
    confidence: float


@dataclass(frozen=True)
class DoorDecision:
    """An event to publish: a pass of ``customer_id`` or an unknown person (customer '')."""

    kind: str
    customer_id: str
    track_id: int
    confidence: float
    stamp: float


#: Door event ids are UUID 5 names in this namespace (see decision_event_id).
DOOR_EVENT_NAMESPACE = uuid.UUID('5b0e4c7e-2d4a-4f7e-9a55-0d7f3c1e2a10')


def decision_event_id(door_id: str, decision: DoorDecision) -> str:
    """The same id for the same decision, however often it is made: a door node that restarts
    replays the faces it had already seen (the faces topic keeps a history) and decides those
    passes again; the store applies each id once."""
    name = f'{door_id}/{decision.kind}/{decision.customer_id}/{decision.track_id}/' \
        f'{decision.stamp!r}'
    return str(uuid.uuid5(DOOR_EVENT_NAMESPACE, name))


@dataclass
class _TrackState:
    customer_id: str = ''
    steady_since: float | None = None
    close_since: float | None = None
    first_seen: float = 0.0
    last_seen: float = 0.0
    close_at_end: bool = False
    ended: bool = False
    passed: bool = False
    passed_customer: str = ''
    unknown_reported: bool = False
    confidences: list[float] = field(default_factory=list)


@dataclass
class DoorStats:
    faces: int = 0
    passes: int = 0
    unknown_persons: int = 0
    suppressed_by_cooldown: int = 0
    out_of_order: int = 0
    passes_at_track_end: int = 0


class DoorLogic:
    """Turns per-frame face lists into one decision per pass."""

    def __init__(self, settings: DoorSettings | None = None):
        self.settings = settings or DoorSettings()
        self.stats = DoorStats()
        self._tracks: dict[int, _TrackState] = {}
        self._last_event: dict[str, float] = {}
        self._latest_stamp = float('-inf')

    def update(self, stamp: float, faces: list[FaceSeen]) -> list[DoorDecision]:
        """Feed one frame's faces (capture time ``stamp``); returns the decisions it causes."""
        s = self.settings
        if stamp <= self._latest_stamp:  # stale: a restarted face node replays its past
            self.stats.out_of_order += 1
            return []
        self._latest_stamp = stamp
        decisions = []
        for face in faces:
            self.stats.faces += 1
            state = self._tracks.setdefault(face.track_id, _TrackState(
                first_seen=stamp, last_seen=stamp))
            gap = stamp - state.last_seen
            state.last_seen = stamp
            state.ended = False
            close = face.height_px >= s.min_face_height_px
            state.close_at_end = close
            if not close or gap > s.max_gap_s:
                state.close_since = stamp if close else None
                state.steady_since = stamp if close and face.customer_id else None
                state.customer_id = face.customer_id
                state.confidences = [face.confidence] if close and face.customer_id else []
                continue
            if state.close_since is None:
                state.close_since = stamp
            if face.customer_id != state.customer_id or state.steady_since is None:
                if face.customer_id and face.customer_id != state.passed_customer:
                    # The track now shows someone else (it jumped to a person stepping into
                    # the same place): their pass is a new one.
                    state.passed = False
                state.customer_id = face.customer_id
                state.steady_since = stamp if face.customer_id else None
                state.confidences = []
            if face.customer_id:
                state.confidences.append(face.confidence)
            decision = self._decide(face, state, stamp)
            if decision:
                decisions.append(decision)
        decisions += self._ended_tracks(stamp)
        self._forget(stamp)
        return decisions

    def _ended_tracks(self, stamp: float) -> list[DoorDecision]:
        """Tracks gone for max_gap_s that left close and named without their pass: a pass."""
        s = self.settings
        decisions = []
        for track_id, state in self._tracks.items():
            if state.ended or stamp - state.last_seen <= s.max_gap_s:
                continue
            state.ended = True
            if state.passed or not state.customer_id or not state.close_at_end \
                    or state.last_seen - state.first_seen < s.min_track_s:
                continue
            decision = self._pass(state, track_id, state.customer_id, state.last_seen)
            if decision is not None:
                self.stats.passes_at_track_end += 1
                decisions.append(decision)
        return decisions

    def _decide(self, face: FaceSeen, state: _TrackState, stamp: float) -> DoorDecision | None:
        s = self.settings
        if face.customer_id and not state.passed and state.steady_since is not None \
                and stamp - state.steady_since >= s.min_steady_s:
            return self._pass(state, face.track_id, face.customer_id, stamp)
        if not face.customer_id and not state.passed and not state.unknown_reported \
                and state.close_since is not None \
                and stamp - state.close_since >= s.unknown_after_s:
            state.unknown_reported = True
            self.stats.unknown_persons += 1
            return DoorDecision(KIND_UNKNOWN, '', face.track_id, 1.0, stamp)
        return None

    def _pass(self, state: _TrackState, track_id: int, customer_id: str,
              stamp: float) -> DoorDecision | None:
        """The track's pass (once), unless this customer passed within the cooldown."""
        state.passed = True
        state.passed_customer = customer_id
        last = self._last_event.get(customer_id)
        self._last_event[customer_id] = stamp
        if last is not None and stamp - last < self.settings.cooldown_s:
            self.stats.suppressed_by_cooldown += 1
            return None
        self.stats.passes += 1
        confidence = sum(state.confidences) / max(len(state.confidences), 1)
        return DoorDecision(KIND_PASS, customer_id, track_id, confidence, stamp)

    def _forget(self, stamp: float) -> None:
        horizon = self.settings.forget_after_s
        for track_id in [t for t, st in self._tracks.items() if stamp - st.last_seen > horizon]:
            del self._tracks[track_id]
        for cid in [c for c, t in self._last_event.items()
                    if stamp - t > max(self.settings.cooldown_s, horizon)]:
            del self._last_event[cid]

    @property
    def active_tracks(self) -> int:
        return len(self._tracks)
