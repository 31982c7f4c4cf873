"""Who took it: pure fusion logic (no rclpy), from face observations to cart decisions.

Times are integer nanoseconds (header stamps). A shelf event is decided from the frames of the
cameras that cover its lane within [stamp - window_before_s, stamp + window_after_s]. Every face
track seen there is scored by how near its face was to the lane's reach zone and for how long:

    proximity(frame) = exp(-d / distance_scale_px), d = pixel distance from the face centre
                       to the reach zone rectangle (0 inside it)
    score(track)     = sum of proximity over the camera's frames in the window
                       / number of that camera's frames in the window        (0 .. 1)

so a shopper standing at the lane for the whole window scores ~1, someone walking past for two
frames scores little. A track's faces count for the name the face node gave them; its unnamed
faces count for the name that follows them on the track (the votes had not settled yet), and
those after its last name stay unknown (the track lost its name: it may have passed to someone
else). A customer's tracks count together (their nearest face in each frame), and unknown runs
that follow one another where the previous ended count as one unknown person (a tracker breaks
a fast-moving face into pieces). The score is the best over the covering cameras.
Unknown tracks are candidates too (named ``unknown:<camera>:<track>``): they can make a decision
ambiguous or unattributed but are never charged. A track still unknown in the window but
identified later can be named by the caller (``late_names``): the same scoring then decides
again (late attribution). One person has one face: a name on two faces of one frame is settled
by which track keeps it (the caller passes the tracks renamed after the window,
``renamed_tracks``), or the name is contested.

No coin flips: a decision is charged only when the best candidate is identified, in the store,
scores at least ``min_score``, wins with confidence >= ``min_confidence`` and a lead of at
least ``ambiguity_margin``, and their face was at the lane in at least one frame (peak
proximity >= ``min_reach_proximity``: whoever took it reached into the lane; a customer who
only stood near while the cameras missed the taker's face is not charged) and their name is not
contested; anything else is held for staff (the default policy) with every candidate kept.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from ezshop_common.boxes import Box

UNKNOWN_PREFIX = 'unknown:'

POLICY_ASSIGN_BEST = 'assign_best'
POLICY_HOLD = 'hold'
AMBIGUOUS_POLICIES = (POLICY_ASSIGN_BEST, POLICY_HOLD)

#: Decision outcomes.
ASSIGNED = 'assigned'
AMBIGUOUS_ASSIGNED = 'ambiguous_assigned'
AMBIGUOUS_HELD = 'ambiguous_held'
LOW_CONFIDENCE_HELD = 'low_confidence_held'
UNATTRIBUTED = 'unattributed'
#: Outcomes that put nothing on a cart (kept for staff and for late attribution).
HELD_OUTCOMES = (AMBIGUOUS_HELD, LOW_CONFIDENCE_HELD, UNATTRIBUTED)

TrackKey = tuple[str, int]  # (camera id, track id)


@dataclass(frozen=True)
class Face:
    """One face in one frame."""

    track_id: int
    customer_id: str
    box: Box
    confidence: float = 1.0  # the face node's confidence in customer_id (0 .. 1)


@dataclass(frozen=True)
class Frame:
    """All faces one camera saw in one image (stamp = the image's stamp, ns)."""

    camera_id: str
    stamp_ns: int
    faces: tuple[Face, ...]


@dataclass(frozen=True)
class FusionParams:
    window_before_ns: int = 1_500_000_000
    window_after_ns: int = 1_000_000_000
    distance_scale_px: float = 30.0
    min_score: float = 0.15
    ambiguity_margin: float = 0.15
    ambiguous_policy: str = POLICY_HOLD
    min_confidence: float = 0.15
    late_min_confidence: float = 0.3  # a late attribution rests on names that came later
    min_reach_proximity: float = 0.9  # the winner's face entered the reach zone


@dataclass(frozen=True)
class ShelfChange:
    """The parts of a shelf event fusion needs."""

    event_id: str
    stamp_ns: int
    shelf_id: str
    lane_id: str
    item_id: str
    quantity_delta: int
    unobserved: bool = False  # changed while the shelf monitor was not watching


@dataclass(frozen=True)
class Decision:
    """A cart action to publish: customer_id '' = unattributed (held for staff)."""

    event_id: str
    stamp_ns: int
    customer_id: str
    item_id: str
    quantity: int
    confidence: float
    ambiguous: bool
    outcome: str
    candidates: tuple[tuple[str, float], ...]
    shelf_id: str = ''
    lane_id: str = ''
    reason: str = ''
    resolves_event_id: str = ''  # set on a late attribution: the held decision it settles

    @property
    def held(self) -> bool:
        return self.outcome in HELD_OUTCOMES


class FaceBuffer:
    """A short, stamp-ordered buffer of frames per camera."""

    def __init__(self, horizon_ns: int):
        self.horizon_ns = horizon_ns
        self._stamps: dict[str, list[int]] = {}
        self._frames: dict[str, list[Frame]] = {}

    def add(self, frame: Frame) -> None:
        """Insert a frame in stamp order; older than the newest minus horizon is dropped."""
        stamps = self._stamps.setdefault(frame.camera_id, [])
        frames = self._frames.setdefault(frame.camera_id, [])
        index = bisect.bisect_right(stamps, frame.stamp_ns)
        stamps.insert(index, frame.stamp_ns)
        frames.insert(index, frame)
        cutoff = stamps[-1] - self.horizon_ns
        drop = bisect.bisect_left(stamps, cutoff)
        if drop:
            del stamps[:drop]
            del frames[:drop]

    def latest_stamp(self, camera_id: str) -> int | None:
        stamps = self._stamps.get(camera_id)
        return stamps[-1] if stamps else None

    def window(self, camera_id: str, start_ns: int, end_ns: int) -> list[Frame]:
        """Frames of one camera with start_ns <= stamp <= end_ns, oldest first."""
        stamps = self._stamps.get(camera_id, [])
        lo = bisect.bisect_left(stamps, start_ns)
        hi = bisect.bisect_right(stamps, end_ns)
        return self._frames.get(camera_id, [])[lo:hi]


def ready_to_decide(event_stamp_ns: int, window_after_ns: int,
                    latest_by_camera: Mapping[str, int | None],
                    camera_ids: Iterable[str]) -> bool:
    """True once every covering camera has a frame stamped at or after stamp + window_after_s."""
    needed = event_stamp_ns + window_after_ns
    for camera_id in camera_ids:
        latest = latest_by_camera.get(camera_id)
        if latest is None or latest < needed:
            return False
    return True


def proximity(face: Box, zone: Box, distance_scale_px: float) -> float:
    """1.0 with the face centre in the reach zone, decaying with its pixel distance."""
    cx, cy = face.center
    return math.exp(-zone.distance_to(cx, cy) / distance_scale_px)


#: Unknown tracks are pieces of one person when one ends and the next starts this soon after ...
LINK_GAP_NS = 700_000_000
#: ... this near (in face widths, centre to centre). A tracker breaks a face into pieces when
#: it moves fast or the frame rate drops; a walk-in scored piece by piece loses to a customer
#: who only stood nearby.
LINK_DISTANCE_FACES = 1.5


#: (track id, run): one run of a track under one name.
PieceKey = tuple[int, int]


@dataclass
class _Piece:
    """One run of a track in a camera's window: its span and where it started and ended."""

    first_ns: int
    last_ns: int
    first: tuple[float, float]
    last: tuple[float, float]
    width: float
    name: str = ''


def run_names(names: list[str]) -> list[str]:
    """The name each face of one track counts for, given the names the face node gave it.

    Unnamed faces before the track's first name are that person before the votes settled, and
    so are unnamed faces between two runs of one name (a disputed vote) or before another name
    (the new person before their votes settled). Unnamed faces after the last name stay
    unnamed: the track lost its name, most likely to someone it passed to; counting them for the
    name it had charged a customer for a walk-in's reach (measured in the hard bench).
    """
    labels = list(names)
    following = ''
    for index in range(len(labels) - 1, -1, -1):
        if labels[index]:
            following = labels[index]
        elif following:
            labels[index] = following
    return labels


def _pieces(frames: list[Frame]) -> tuple[dict[PieceKey, _Piece], list[dict[int, PieceKey]]]:
    """Every run of every track in a camera's window (see :func:`run_names`), and for each
    frame the run each of its faces belongs to."""
    faces_of: dict[int, list[tuple[int, Frame, Face]]] = {}
    for index, frame in enumerate(frames):
        for face in frame.faces:
            faces_of.setdefault(face.track_id, []).append((index, frame, face))
    pieces: dict[PieceKey, _Piece] = {}
    piece_of: list[dict[int, PieceKey]] = [{} for _ in frames]
    for track_id, seen in faces_of.items():
        labels = run_names([face.customer_id for _, _, face in seen])
        run = 0
        for position, ((index, frame, face), name) in enumerate(zip(seen, labels, strict=True)):
            if position and name != labels[position - 1]:
                run += 1
            key = (track_id, run)
            centre = face.box.center
            piece = pieces.get(key)
            if piece is None:
                piece = pieces[key] = _Piece(frame.stamp_ns, frame.stamp_ns, centre, centre,
                                             face.box.width, name)
            piece.last_ns, piece.last = frame.stamp_ns, centre
            piece_of[index][track_id] = key
    return pieces, piece_of


def link_unknown_pieces(pieces: Mapping[PieceKey, _Piece]) -> dict[PieceKey, int]:
    """Unknown run -> the track of the first run of its chain (pieces of one person, one after
    the other, each starting near where the previous one ended)."""
    chains: dict[PieceKey, int] = {}
    open_ends: list[tuple[int, _Piece]] = []  # (chain head, last piece of the chain)
    for key, piece in sorted(pieces.items(), key=lambda kv: (kv[1].first_ns, kv[0])):
        if piece.name:
            continue
        best = None
        for index, (head, end) in enumerate(open_ends):
            gap = piece.first_ns - end.last_ns
            reach = LINK_DISTANCE_FACES * max(piece.width, end.width)
            distance = math.dist(end.last, piece.first)
            if 0 < gap <= LINK_GAP_NS and distance <= reach and \
                    (best is None or distance < best[0]):
                best = (distance, index, head)
        if best is None:
            chains[key] = key[0]
            open_ends.append((key[0], piece))
        else:
            chains[key] = best[2]
            open_ends[best[1]] = (best[2], piece)
    return chains


def unknown_chain(frames: list[Frame], head: int) -> set[int]:
    """The tracks of the unknown chain whose first track is ``head`` (see
    :func:`link_unknown_pieces`) in one camera's window."""
    pieces, _ = _pieces(frames)
    return {track for (track, _), first in link_unknown_pieces(pieces).items()
            if first == head}


def _faces_by_track(frames: list[Frame]) -> dict[int, list[tuple[int, Face]]]:
    """Track -> its (frame stamp, face) in frame order."""
    seen: dict[int, list[tuple[int, Face]]] = {}
    for frame in frames:
        for face in frame.faces:
            seen.setdefault(face.track_id, []).append((frame.stamp_ns, face))
    return seen


def names_that_follow(frames: list[Frame], until_ns: int) -> dict[int, str]:
    """Track -> the name its last face at or before ``until_ns`` counts for, judged with the
    frames after that too (:func:`run_names` over the whole track): the name an unnamed face
    of a pick's window got once its track's votes settled, not whatever the track is called
    now (it may have passed to someone else since). The name counts only where the track got
    it: within a face width of that last face (a walk-in's track, left behind when they walked
    off, slid onto the customer standing beside and named them for the walk-in's reach;
    measured in the hard bench), while no other track carried it elsewhere (the track had
    jumped onto that person's face; another track on the same face is the tracker following
    one face twice), and if no other track carried it beside the unnamed face (that person
    was already seen: the unnamed face was someone else, or the same face twice). A name that
    does not count and that the track carried while another track carried it a face width
    away was borrowed (the track had followed someone else's face, still under their name):
    the next name the track goes on to is the person it had followed, under the same rules
    (seen on seed 77: kit leaned in front of amy, whose track followed his reach named amy
    to the window's end and was renamed kit 2 s later; there kit had stepped back 1.15 face
    widths by then, so the pick stays held)."""
    named_at: dict[int, dict[str, list[Face]]] = {}  # stamp -> name -> faces carrying it
    for frame in frames:
        for face in frame.faces:
            if face.customer_id:
                named_at.setdefault(frame.stamp_ns, {}).setdefault(
                    face.customer_id, []).append(face)
    following: dict[int, str] = {}
    for track_id, faces in _faces_by_track(frames).items():
        labels = run_names([face.customer_id for _, face in faces])
        last = [i for i, (stamp, _) in enumerate(faces) if stamp <= until_ns]
        if not last or not labels[last[-1]]:
            continue
        end = last[-1]
        name = labels[end]
        counts = _name_counts(track_id, name, faces, end, end, named_at)
        if not counts and _carried_elsewhere(track_id, name, faces[:end + 1], named_at):
            after = next((i for i in range(end + 1, len(faces))
                          if labels[i] and labels[i] != name), None)
            if after is not None:
                name = labels[after]
                counts = _name_counts(track_id, name, faces, end, after, named_at)
        if counts:
            following[track_id] = name
    return following


def _name_counts(track_id: int, name: str, faces: list[tuple[int, Face]], end: int, start: int,
                 named_at: Mapping[int, Mapping[str, list[Face]]]) -> bool:
    """Whether ``name``, first carried by the track at or after its face ``start``, counts for
    its face ``end`` (the window's last; the rules of :func:`names_that_follow`)."""
    then = faces[end][1].box
    stamp, named = next((stamp, face) for stamp, face in faces[start:]
                        if face.customer_id == name)
    others = [other for other in named_at[stamp][name] if other.track_id != track_id]
    beside = named_at.get(faces[end][0], {}).get(name, [])
    return not (any(_apart(other.box, named.box) for other in others)
                or any(other.track_id != track_id for other in beside)
                or _apart(then, named.box))


def _carried_elsewhere(track_id: int, name: str, faces: list[tuple[int, Face]],
                       named_at: Mapping[int, Mapping[str, list[Face]]]) -> bool:
    """Whether another track carried ``name`` more than a face width from one of these faces
    of the track while it carried the name too (one of the two had borrowed it)."""
    return any(other.track_id != track_id and _apart(other.box, face.box)
               for stamp, face in faces if face.customer_id == name
               for other in named_at[stamp][name])


#: A track unnamed this long after its name (to the newest frame) has lost it, not a vote
#: still settling.
LOST_NAME_NS = 500_000_000


def renamed_tracks(camera_id: str, frames: list[Frame], until_ns: int) -> frozenset[TrackKey]:
    """Tracks whose name at ``until_ns`` (their last name up to then, judged with the later
    frames as :func:`run_names` does) was followed by another name, or by none for at least
    ``LOST_NAME_NS`` up to the newest frame: the name was not theirs to keep."""
    newest = frames[-1].stamp_ns if frames else until_ns
    renamed = set()
    for track_id, faces in _faces_by_track(frames).items():
        labels = run_names([face.customer_id for _, face in faces])
        upto = [i for i, (stamp, _) in enumerate(faces) if stamp <= until_ns and labels[i]]
        if not upto:
            continue
        name = labels[upto[-1]]
        for (stamp, _), label in zip(faces[upto[-1] + 1:], labels[upto[-1] + 1:],
                                     strict=True):
            if label and label != name:
                renamed.add((camera_id, track_id))
                break
            if not label:
                if newest - stamp >= LOST_NAME_NS:
                    renamed.add((camera_id, track_id))
                break
    return frozenset(renamed)


class Nearness(NamedTuple):
    """Everyone near a lane in a shelf event's window (see :func:`lane_nearness`)."""

    scores: dict[str, float]  # candidate id -> score in 0 .. 1 (see module doc)
    peaks: dict[str, float]  # candidate id -> the nearest their face came to the zone
    contested: frozenset[str]  # customers named on two faces of one frame


def lane_nearness(frames_by_camera: Mapping[str, list[Frame]], zones: Mapping[str, Box],
                  distance_scale_px: float,
                  late_names: Mapping[TrackKey, str] | None = None,
                  renamed: Collection[TrackKey] = ()) -> Nearness:
    """Every person near a lane: their scores, peak proximities (the nearest their face came
    to the reach zone in any frame) and the customers whose name was on two faces at once.

    A customer's tracks count together (in each frame their nearest face). Unknown tracks that
    follow one another where the previous one ended are one unknown person; ``late_names``
    (tracks identified only after the window) name such a chain when they agree.

    One person has one face. A name on two faces of one frame, more than a face width apart,
    means one of the two tracks carries it wrongly: it followed someone else who leaned in
    front (the tracker took over the track) or the face node took a stranger for that
    customer. The track that goes on under another name, in the window or after it
    (``renamed``, see :func:`renamed_tracks`), was the wrong one: its faces under that name
    count as unknown. When that cannot be told (yet), the name is contested and its score not
    trusted. A named run whose track goes on under another customer's name inside the window
    (and that the above did not settle) counts as unknown too. The wrong track's faces from the
    first frame its name was on the other face onwards were not that customer's; when the
    track goes straight on under another name (same place, no gap), they count for that name:
    the track had followed that person's face since (measured in the hard bench: a customer
    leaned in front of a neighbour, whose track followed the reach and was renamed in the
    window; the reach, scored as an unknown face, tied with the taker and the pick was held).
    A track that ends in the window under that name was left behind by a fast move (a step
    along the shelf) and contests nothing; one that goes on to the window's end may be a
    person who walks off just after it (measured: taking that for left behind charged a
    customer for a walk-in's reach).
    """
    late_names = late_names or {}
    renamed = frozenset(renamed)
    scores: dict[str, float] = {}
    peaks: dict[str, float] = {}
    contested: set[str] = set()
    for camera_id, frames in frames_by_camera.items():
        zone = zones.get(camera_id)
        if zone is None or not frames:
            continue
        pieces, piece_of = _pieces(frames)
        candidate = _candidate_names(camera_id, pieces, late_names)
        shared, handed_on = _settle_shared_names(camera_id, frames, pieces, piece_of,
                                                 candidate, renamed, late_names)
        contested |= shared
        _unname_renamed_runs(camera_id, pieces, candidate)
        sums: dict[str, float] = {}
        for index, (frame, runs) in enumerate(zip(frames, piece_of, strict=True)):
            nearest: dict[str, float] = {}
            for face in frame.faces:
                name = candidate[handed_on.get((index, face.track_id), runs[face.track_id])]
                nearest[name] = max(nearest.get(name, 0.0),
                                    proximity(face.box, zone, distance_scale_px))
            for name, value in nearest.items():
                sums[name] = sums.get(name, 0.0) + value
                peaks[name] = max(peaks.get(name, 0.0), value)
        for name, total in sums.items():
            scores[name] = max(scores.get(name, 0.0), total / len(frames))
    return Nearness(scores, peaks, frozenset(contested))


def _runs_by_track(pieces: Mapping[PieceKey, _Piece]) -> dict[int, list[_Piece]]:
    """Track -> its runs in the window, in order."""
    runs_of: dict[int, list[_Piece]] = {}
    for (track_id, _), piece in sorted(pieces.items()):
        runs_of.setdefault(track_id, []).append(piece)
    return runs_of


def _unname_renamed_runs(camera_id: str, pieces: Mapping[PieceKey, _Piece],
                         candidate: dict[PieceKey, str]) -> None:
    """A named run whose track goes on, in the window, under another customer's name: the
    track changed faces (or the name was wrong), and when is not known, so the run's faces
    count as an unknown person. Runs :func:`_settle_shared_names` already gave another name
    (the customer was seen elsewhere at the time) keep it."""
    runs_of = _runs_by_track(pieces)
    for (track_id, index), piece in pieces.items():
        later = runs_of[track_id][index + 1:]
        if piece.name and candidate[(track_id, index)] == piece.name and \
                any(run.name and run.name != piece.name for run in later):
            candidate[(track_id, index)] = f'{UNKNOWN_PREFIX}{camera_id}:{track_id}'


def _settle_shared_names(camera_id: str, frames: list[Frame],
                         pieces: Mapping[PieceKey, _Piece], piece_of: list[dict[int, PieceKey]],
                         candidate: dict[PieceKey, str], renamed: frozenset[TrackKey],
                         late_names: Mapping[TrackKey, str],
                         ) -> tuple[set[str], dict[tuple[int, int], PieceKey]]:
    """One camera's names on two faces of one frame (see :func:`lane_nearness`): the run of
    the track that went on under another name becomes unknown in ``candidate`` (or the late
    name the caller gives that track: the person it went on to be named). Returns the names
    that cannot be settled (contested) and, as (frame index, track id) -> run, the faces of
    such a run from its first clash on that count for the run its track goes straight on
    with (see :func:`_handed_on`)."""
    end_ns = frames[-1].stamp_ns
    runs_of = _runs_by_track(pieces)

    def loses(run: PieceKey) -> bool:
        track_id, index = run
        later = runs_of[track_id][index + 1:]
        return any(piece.name for piece in later) or (camera_id, track_id) in renamed

    def left_behind(run: PieceKey) -> bool:
        track_id, index = run
        if index + 1 < len(runs_of[track_id]) or (camera_id, track_id) in renamed:
            return False
        return pieces[run].last_ns < end_ns

    contested: set[str] = set()
    first_clash: dict[PieceKey, int] = {}  # wrong run -> index of its first clashing frame
    for index, (frame, runs) in enumerate(zip(frames, piece_of, strict=True)):
        where: dict[str, list[tuple[Box, PieceKey]]] = {}
        for face in frame.faces:
            run = runs[face.track_id]
            name = candidate[run]
            if name.startswith(UNKNOWN_PREFIX):
                continue
            for box, other in where.get(name, []):
                if other == run or not _apart(box, face.box) or left_behind(run) \
                        or left_behind(other):
                    continue
                if loses(run) != loses(other):
                    wrong = run if loses(run) else other
                    late = late_names.get((camera_id, wrong[0]), '')
                    if late and late != name:
                        candidate[wrong] = late
                    else:
                        candidate[wrong] = f'{UNKNOWN_PREFIX}{camera_id}:{wrong[0]}'
                        first_clash.setdefault(wrong, index)
                else:
                    contested.add(name)
            where.setdefault(name, []).append((face.box, run))
    return contested, _handed_on(piece_of, runs_of, first_clash)


def _handed_on(piece_of: list[dict[int, PieceKey]], runs_of: Mapping[int, list[_Piece]],
               first_clash: Mapping[PieceKey, int]) -> dict[tuple[int, int], PieceKey]:
    """(frame index, track id) -> run: the faces of each wrongly named run from its first
    clash on, handed to the next run of its track when that run is named and starts where
    and when the wrong one ended (the same face: no gap longer than ``LINK_GAP_NS``, less
    than a face width away)."""
    handed: dict[tuple[int, int], PieceKey] = {}
    for (track_id, run_index), start in first_clash.items():
        runs = runs_of[track_id]
        if run_index + 1 >= len(runs):
            continue
        wrong, following = runs[run_index], runs[run_index + 1]
        if not following.name or following.first_ns - wrong.last_ns > LINK_GAP_NS or \
                math.dist(wrong.last, following.first) > max(wrong.width, following.width):
            continue
        for index in range(start, len(piece_of)):
            if piece_of[index].get(track_id) == (track_id, run_index):
                handed[(index, track_id)] = (track_id, run_index + 1)
    return handed


def _apart(a: Box, b: Box) -> bool:
    """Two face boxes too far apart to be one face (centres more than a face width apart);
    nearer ones are one face the tracker follows twice (a template and a new detection)."""
    return math.dist(a.center, b.center) > max(a.width, b.width)


def _candidate_names(camera_id: str, pieces: Mapping[PieceKey, _Piece],
                     late_names: Mapping[TrackKey, str]) -> dict[PieceKey, str]:
    """Run -> candidate id: its customer, a late name, or its unknown chain's name."""
    chains = link_unknown_pieces(pieces)
    chain_names: dict[int, set[str]] = {}
    for (track_id, _), head in chains.items():
        late = late_names.get((camera_id, track_id))
        if late:
            chain_names.setdefault(head, set()).add(late)
    candidate: dict[PieceKey, str] = {}
    for key, piece in pieces.items():
        if piece.name:
            candidate[key] = piece.name
            continue
        head = chains[key]
        names = chain_names.get(head, set())
        candidate[key] = (next(iter(names)) if len(names) == 1
                          else f'{UNKNOWN_PREFIX}{camera_id}:{head}')
    return candidate


def decide(change: ShelfChange, scores: Mapping[str, float], in_store: Iterable[str],
           holdings: Mapping[str, Mapping[str, int]], params: FusionParams,
           peaks: Mapping[str, float], contested: Iterable[str] = ()) -> Decision:
    """Pick the customer a shelf change belongs to.

    Takes (quantity_delta < 0) go to the best-scoring identified customer who is in the store.
    Put-backs prefer nearby customers who hold the item. Best and second best within
    ``ambiguity_margin``: ambiguous (assigned to the best or held, by policy). A winner whose
    confidence is below ``min_confidence``, or whose face never came within
    ``min_reach_proximity`` of the reach zone (``peaks``, from :func:`lane_nearness`): held
    (the taker was someone the cameras did not see; the customer nearest them only stood by).
    A winner named on two faces at once in the window (``contested``, see
    :func:`lane_nearness`): held, one of those faces was someone else. Nobody identified above
    ``min_score``, or an unknown face scoring best: unattributed.
    """
    present = set(in_store)
    quantity = -change.quantity_delta
    ranked = sorted(((score, cid) for cid, score in scores.items()
                     if score >= params.min_score
                     and (cid.startswith(UNKNOWN_PREFIX) or cid in present)),
                    key=lambda pair: (-pair[0], pair[1]))
    if quantity < 0:
        # Customers who do not hold the item drop out; unknown faces stay: an unknown face
        # nearest a put-back (someone not yet identified) must not hand the credit to the
        # holder standing beside them.
        holders = [(s, c) for s, c in ranked
                   if c.startswith(UNKNOWN_PREFIX)
                   or holdings.get(c, {}).get(change.item_id, 0) > 0]
        best_holder = max((s for s, c in holders if not c.startswith(UNKNOWN_PREFIX)),
                          default=None)
        # A customer clearly nearer than every holder put it back (their own take may still be
        # held): the credit is not handed to a holder beside them.
        if best_holder is not None and ranked[0][0] < best_holder + params.ambiguity_margin:
            ranked = holders
    candidates = tuple((cid, round(float(score), 4)) for score, cid in ranked)

    def make(customer_id: str, confidence: float, ambiguous: bool, outcome: str,
             reason: str) -> Decision:
        return Decision(event_id=change.event_id, stamp_ns=change.stamp_ns,
                        customer_id=customer_id, item_id=change.item_id, quantity=quantity,
                        confidence=max(0.0, min(1.0, confidence)), ambiguous=ambiguous,
                        outcome=outcome, candidates=candidates, shelf_id=change.shelf_id,
                        lane_id=change.lane_id, reason=reason)

    if not ranked:
        return make('', 0.0, False, UNATTRIBUTED, 'no identified customer in the store near '
                    f'{change.shelf_id}/{change.lane_id}')
    best_score, best_id = ranked[0]
    second_score = ranked[1][0] if len(ranked) > 1 else 0.0
    confidence = min(1.0, best_score) * (1.0 - second_score / best_score)
    if best_id.startswith(UNKNOWN_PREFIX):
        return make('', confidence, False, UNATTRIBUTED,
                    f'an unidentified face ({best_id}) was nearest the lane')
    if len(ranked) > 1 and best_score - second_score < params.ambiguity_margin:
        if params.ambiguous_policy == POLICY_HOLD:
            return make('', confidence, True, AMBIGUOUS_HELD,
                        f'{best_id} and {ranked[1][1]} too close to call; held for staff')
        return make(best_id, confidence, True, AMBIGUOUS_ASSIGNED,
                    f'{best_id} and {ranked[1][1]} too close to call; assigned to the best')
    if confidence < params.min_confidence:
        return make('', confidence, False, LOW_CONFIDENCE_HELD,
                    f'{best_id} best but confidence {confidence:.2f} is below '
                    f'{params.min_confidence:.2f}; held for staff')
    if best_id in set(contested):
        return make('', confidence, False, LOW_CONFIDENCE_HELD,
                    f'{best_id} best but named on two faces at once (one of them is someone '
                    'else); held for staff')
    if peaks.get(best_id, 0.0) < params.min_reach_proximity:
        return make('', confidence, False, LOW_CONFIDENCE_HELD,
                    f'{best_id} best but never at the lane (nearest proximity '
                    f'{peaks.get(best_id, 0.0):.2f} < {params.min_reach_proximity:.2f}); '
                    'held for staff')
    return make(best_id, confidence, False, ASSIGNED, '')
