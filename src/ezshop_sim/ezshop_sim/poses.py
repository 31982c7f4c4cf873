"""Where a shopper's face appears in a camera image (pixels): door passes and shelf poses.

A pose is (x, y, size): the centre of the face box and its side in pixels. The world model
strings poses into keyframes; the renderer interpolates between them. People passing a door
camera at overlapping times are laid out together (``door_group_tracks``): side by side or a
step behind each other, never stacked, each one close and clearly visible for a while.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ezshop_common.store_config import Camera, ReachZone

Pose = tuple[float, float, float]

#: Face size when a door camera sees a shopper far away, and when close (pixels).
DOOR_FAR_SIZE = 50.0
DOOR_CLOSE_SIZE = 165.0
#: Close face size when 1, 2, 3, 4 or more people of a group are close to the camera at once.
DOOR_GROUP_CLOSE_SIZES = (DOOR_CLOSE_SIZE, 150.0, 130.0, 120.0)
#: Height of the face centre in a door camera's image, as a fraction of the image height.
DOOR_Y = 0.42
#: A face this tall counts as close: the door node counts faces >= 80 px, plus a margin for
#: the renderer's size jitter and the detector's box.
DOOR_SEEN_SIZE = 90.0
#: A face counts as clearly visible when this fraction of its box is in the image and not
#: covered by the photo of someone nearer.
DOOR_VISIBLE_FRACTION = 0.97
#: Each person of a group is laid out to be close and clearly visible this long (s) ...
DOOR_CLEAR_S = 1.0
#: ... and, when the layout allows it, this long.
DOOR_WANTED_CLEAR_S = 1.2
#: A rendered face crop reaches this far from the face centre, in face sizes (the photo's
#: 35 % margin around the face box, see photos.CROP_MARGIN).
CROP_REACH = 0.85
#: Ways out of a door camera's view after the close hold.
LEAVE_LEFT, LEAVE_RIGHT, LEAVE_DOWN = 'left', 'right', 'down'

#: Someone queueing behind a shopper at a shelf: each place back, the face is this much
#: smaller, this many face sizes higher up and this many face sizes to the side.
QUEUE_STEP_SCALE = 0.8
QUEUE_RISE_FACES = 0.5
QUEUE_SIDE_FACES = 0.5

Keyframe = tuple[float, float, float, float]  # t, x, y, size


def door_keyframes(camera: Camera, t0: float, x: float, close: float, approach_s: float,
                   hold_s: float, leave_s: float, leave: str) -> list[Keyframe]:
    """A pass through a door at image column x: far -> close (the face grows), hold, then out
    of view sideways (``leave`` left / right) or under the camera (down, growing)."""
    y = camera.height * DOOR_Y
    mid = DOOR_FAR_SIZE + 0.55 * (close - DOOR_FAR_SIZE)
    if leave == LEAVE_DOWN:
        out = (x, camera.height + 0.8 * close, 1.3 * close)
    else:
        out = (camera.width + close if leave == LEAVE_RIGHT else -close, y, close)
    return [
        (t0, x, y, DOOR_FAR_SIZE),
        (t0 + 0.45 * approach_s, x, y, mid),
        (t0 + approach_s, x, y, close),
        (t0 + approach_s + hold_s, x, y, close),
        (t0 + approach_s + hold_s + leave_s, *out),
    ]


def stand_size(zone: ReachZone) -> float:
    """Face size of a shopper standing in front of a lane (pixels)."""
    return max(50.0, min(100.0, 0.5 * zone.width, 0.4 * zone.height))


def stand_pose(zone: ReachZone, x: float | None = None) -> Pose:
    """Standing at the lane, not reaching: the face above the reach zone (a shopper leans
    down and in to take something), at image column ``x`` (default: the lane's centre)."""
    size = stand_size(zone)
    return (zone.x + zone.width / 2.0 if x is None else x, zone.y - 0.45 * size, size)


def standing_spots(camera: Camera, zone: ReachZone) -> list[float]:
    """Image columns where shoppers can stand side by side in front of a shelf camera, at least
    1.1 face widths apart and spread evenly over the image: people never stand inside each
    other."""
    size = stand_size(zone)
    span = camera.width - 1.2 * size
    count = max(1, int(span // (1.1 * size)) + 1)
    if count == 1:
        return [camera.width / 2.0]
    return [0.6 * size + i * span / (count - 1) for i in range(count)]


def queue_pose(camera: Camera, zone: ReachZone, x: float, place: int) -> Pose:
    """Standing at spot x, ``place`` people behind the first one there (0 = in front): each
    place a step further back (higher up and smaller) and half a face to the side, alternately
    right and left (kept in the image), so a face behind is partly covered, never hidden."""
    front_x, front_y, size = stand_pose(zone, x)
    if place <= 0:
        return (front_x, front_y, size)
    back = QUEUE_STEP_SCALE ** place
    side = (1 if place % 2 else -1) * QUEUE_SIDE_FACES * size * ((place + 1) // 2)
    queue_size = size * back
    low, high = 0.5 * queue_size, camera.width - 0.5 * queue_size
    queue_x = front_x + side if low <= front_x + side <= high else front_x - side
    return (min(max(queue_x, low), high), front_y - QUEUE_RISE_FACES * size * place, queue_size)


def reach_pose(zone: ReachZone) -> Pose:
    """Reaching into the lane: leaning in, the face inside the reach zone and closer."""
    return (zone.x + zone.width / 2.0, zone.y + 0.35 * zone.height, 1.25 * stand_size(zone))


def offscreen_pose(camera: Camera, zone: ReachZone) -> Pose:
    """Just outside the image, on the side nearer the lane (where a shopper walks in from)."""
    x, y, size = stand_pose(zone)
    out_x = -0.7 * size if x < camera.width / 2.0 else camera.width + 0.7 * size
    return (out_x, y, size)


# --- people passing a door together ---------------------------------------------------------

#: Columns a person can walk at in a door camera's image (fractions of the width): the centres
#: of 1, 2, 3 or 4 people side by side.
DOOR_COLUMNS = (0.5, 0.25, 0.75, 1 / 6, 5 / 6, 0.125, 0.375, 0.625, 0.875)
#: Time step of the visibility check (s), and how many layouts the search tries at most.
_SAMPLE_S = 0.05
_SEARCH_BUDGET = 3000


@dataclass(frozen=True)
class DoorWalk:
    """One person's pass through a door camera's view: start time, who, when they look away."""

    t0: float
    shopper_index: int
    looks_away: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class DoorTrack:
    """Where a DoorWalk's face goes, and how long it is close and clearly visible (s)."""

    keyframes: list[Keyframe]
    clear_s: float


def door_group_tracks(camera: Camera, walks: list[DoorWalk], approach_s: float, hold_s: float,
                      leave_s: float) -> list[DoorTrack]:
    """Lay out people passing one door at overlapping times (``walks`` sorted by start).

    Whoever starts earlier is nearer the camera, so bigger, and drawn in front. One person
    alone walks down the middle and leaves sideways. In a group each one walks at a column of
    the image and leaves sideways or under the camera, chosen by a small search (nearest the
    middle first) so that no face is ever stacked on another and everyone is close and clearly
    visible for DOOR_WANTED_CLEAR_S outside their look-away intervals, else at least
    DOOR_CLEAR_S, else (everyone in one row) as long as can be. People behind may be partly
    hidden for part of their pass.
    """
    if len(walks) == 1:
        walk = walks[0]
        leave = LEAVE_RIGHT if walk.shopper_index % 2 == 0 else LEAVE_LEFT
        keys = door_keyframes(camera, walk.t0, camera.width / 2.0, DOOR_CLOSE_SIZE, approach_s,
                              hold_s, leave_s, leave)
        layout = _GroupLayout(camera, walks, [[keys]])
        return [DoorTrack(keys, float(layout.clear_s(0, ())[0][0]))]
    close = DOOR_GROUP_CLOSE_SIZES[min(_most_close_at_once(walks, approach_s, hold_s),
                                       len(DOOR_GROUP_CLOSE_SIZES)) - 1]
    options = []
    for walk in walks:
        options.append([door_keyframes(camera, walk.t0, x, close, approach_s, hold_s, leave_s,
                                       leave)
                        for x, leave in _door_choices(camera, walk)])
    layout = _GroupLayout(camera, walks, options)
    xs = [x for x, _ in _door_choices(camera, walks[0])]
    best = layout.search(list(range(len(xs))), _SEARCH_BUDGET)
    for abreast in (4, 3, 2):  # failing that, everyone side by side in one row
        if best[0][0] and best[0][1] >= DOOR_CLEAR_S:
            break
        columns = [camera.width * (i + 0.5) / abreast for i in range(abreast)]
        allowed = [c for c, x in enumerate(xs) if any(abs(x - col) < 1e-6 for col in columns)]
        best = max(best, layout.search(allowed, _SEARCH_BUDGET // 2), key=lambda b: b[0])
    _, chosen, clears = best
    return [DoorTrack(options[k][c], clear) for k, (c, clear) in
            enumerate(zip(chosen, clears, strict=True))]


def _most_close_at_once(walks: list[DoorWalk], approach_s: float, hold_s: float) -> int:
    """How many of the walkers are near the camera (second half of the approach, hold) at once."""
    spans = [(w.t0 + 0.45 * approach_s, w.t0 + approach_s + hold_s) for w in walks]
    return max(sum(1 for a, b in spans if a <= start < b) for start, _ in spans)


def _door_choices(camera: Camera, walk: DoorWalk) -> list[tuple[float, str]]:
    """(column, way out) pairs, most natural first: near the middle, out on the nearer side."""
    middle = camera.width / 2.0
    choices = []
    for x in sorted((f * camera.width for f in DOOR_COLUMNS), key=lambda x: abs(x - middle)):
        right = x > middle or (x == middle and walk.shopper_index % 2 == 0)
        near, far = (LEAVE_RIGHT, LEAVE_LEFT) if right else (LEAVE_LEFT, LEAVE_RIGHT)
        choices += [(x, near), (x, LEAVE_DOWN), (x, far)]
    return choices


def _overlap(a0, a1, b0, b1):
    return np.clip(np.minimum(a1, b1) - np.maximum(a0, b0), 0.0, None)


class _GroupLayout:
    """Sampled face tracks of every choice of every walker, and the search over them."""

    def __init__(self, camera: Camera, walks: list[DoorWalk], options: list[list[list]]):
        self.walks = walks
        start = min(k[0][0] for opts in options for k in opts)
        end = max(k[-1][0] for opts in options for k in opts)
        self.times = np.arange(start, end + _SAMPLE_S, _SAMPLE_S)
        # tracks[k]: arrays (choices, samples) of x, y, size; NaN when out of view.
        self.tracks = [self._sample(opts) for opts in options]
        self.usable = []  # per walker (choices, samples): close, in the image, looking
        for walk, (x, y, size) in zip(walks, self.tracks, strict=True):
            half = size / 2.0
            inside = (_overlap(x - half, x + half, 0.0, camera.width)
                      * _overlap(y - half, y + half, 0.0, camera.height)) / (size * size)
            away = np.zeros_like(self.times, dtype=bool)
            for a, b in walk.looks_away:
                away |= (self.times >= a) & (self.times < b)
            self.usable.append(((np.nan_to_num(size) >= DOOR_SEEN_SIZE) & ~away,
                                np.nan_to_num(inside)))
        self._cover: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def _sample(self, options: list[list]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        out = np.full((3, len(options), len(self.times)), np.nan)
        for c, keys in enumerate(options):
            t = [k[0] for k in keys]
            inside = (self.times >= t[0]) & (self.times <= t[-1])
            for i in range(3):
                out[i, c] = np.where(inside, np.interp(self.times, t, [k[i + 1] for k in keys]),
                                     np.nan)
        return out[0], out[1], out[2]

    def cover(self, front: int, back: int) -> tuple[np.ndarray, np.ndarray]:
        """(front choices, back choices, samples) fraction of the back face under the front
        crop, and (front choices, back choices) whether the two faces are ever stacked."""
        if (front, back) not in self._cover:
            fx, fy, fs = (a[:, None, :] for a in self.tracks[front])
            bx, by, bs = (a[None, :, :] for a in self.tracks[back])
            reach, half = CROP_REACH * fs, bs / 2.0
            covered = (_overlap(bx - half, bx + half, fx - reach, fx + reach)
                       * _overlap(by - half, by + half, fy - reach, fy + reach)) / (bs * bs)
            apart = 0.5 * np.fmax(fs, bs)
            stacked = (np.abs(fx - bx) < apart) & (np.abs(fy - by) < apart)
            self._cover[(front, back)] = (np.nan_to_num(covered), stacked.any(axis=2))
        return self._cover[(front, back)]

    def clear_s(self, k: int, earlier: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """For every choice of walker k, given the choices of the walkers before (in front of)
        them: the longest time k is close, looking and clearly visible (s), and whether k's
        face is ever stacked on one in front."""
        usable, visible = self.usable[k]
        visible = visible.copy()
        stacked = np.zeros(len(visible), dtype=bool)
        for j, c in enumerate(earlier):
            covered, on_top = self.cover(j, k)
            visible -= covered[c]
            stacked |= on_top[c]
        return _longest_runs(usable & (visible >= DOOR_VISIBLE_FRACTION)) * _SAMPLE_S, stacked

    def search(self, allowed: list[int], budget: int) -> tuple[tuple, tuple[int, ...],
                                                              tuple[float, ...]]:
        """Depth first over the walkers in order, each trying the ``allowed`` choices that
        show them longest first (then the more natural ones); stops at the first layout where
        nobody is stacked and everyone is clear for DOOR_WANTED_CLEAR_S, else returns the best
        one found within ``budget`` tries: (key, choices, clear times), key = (not stacked,
        least clear time)."""
        n = len(self.walks)
        best: list = [(-1, -1.0), (), ()]
        left = [budget]

        def visit(chosen: tuple[int, ...], clears: tuple[float, ...], stacked: bool) -> bool:
            k = len(chosen)
            if k == n:
                key = (int(not stacked), min(min(clears), DOOR_WANTED_CLEAR_S))
                if key > best[0]:
                    best[:] = [key, chosen, clears]
                return key == (1, DOOR_WANTED_CLEAR_S)
            children = []
            all_clear, all_stacked = self.clear_s(k, chosen)
            least = min(clears, default=DOOR_WANTED_CLEAR_S)
            left[0] -= len(allowed)
            for rank, choice in enumerate(allowed):
                clear, now_stacked = float(all_clear[choice]), stacked or all_stacked[choice]
                key = (int(not now_stacked), min(clear, DOOR_WANTED_CLEAR_S, least))
                if key > best[0]:  # else it cannot beat the best layout found so far
                    children.append((key, -rank, choice, clear, now_stacked))
            for key, _, choice, clear, now_stacked in sorted(children, reverse=True):
                if key <= best[0] or (left[0] < 0 and best[1]):
                    continue
                if visit(chosen + (choice,), clears + (clear,), now_stacked):
                    return True
            return False

        visit((), (), False)
        return best[0], best[1], best[2]


def _longest_runs(flags: np.ndarray) -> np.ndarray:
    """Per row of a 2-d boolean array, the length of its longest run of True."""
    steps = np.arange(flags.shape[1])
    last_false = np.maximum.accumulate(np.where(flags, -1, steps), axis=1)
    return np.where(flags, steps - last_false, 0).max(axis=1, initial=0)
