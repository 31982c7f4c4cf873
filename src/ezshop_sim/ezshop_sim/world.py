"""The world model: what happens in the simulated store, deterministic for a seed.

``build_world(scenario, store)`` plays a scenario through and returns a World holding:
- the ground-truth events (ENTERED, TAKE, PUT_BACK, EXITED, SCENARIO_DONE) with their times;
- every lane's true item count over time and the intervals a hand is in the lane;
- every appearance of a shopper in a camera's view, as keyframed face poses in pixels.

Times are seconds of scenario time (0 = scenario start). A shopper enters through the
entrance door's camera (ENTERED when the face is closest), walks (unseen) to shelves, appears
in every shelf camera that covers the lane they stand at, reaches into the lane for each take
or put-back (the count changes when the hand leaves the lane: that is the TAKE/PUT_BACK time),
and leaves through the exit door's camera (EXITED when closest). People queue for a lane: two
changes of one lane are at least ``timing.lane_gap_s`` apart. People passing a door at
overlapping times walk as a group (``poses.door_group_tracks``); the members of a scenario
group wait for each other at the exit and leave ``exit_delay_s`` apart.
"""

from __future__ import annotations

import bisect
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ezshop_common.store_config import ROLE_ENTRANCE, ROLE_EXIT, Camera, Lane, StoreConfig
from ezshop_sim import poses
from ezshop_sim.scenario import (
    Exit,
    PutBack,
    Scenario,
    ScenarioError,
    SensorDead,
    SensorEvent,
    SpikeBurst,
    Take,
    Wait,
    WalkTo,
    check_against_store,
)

ENTERED, EXITED, TAKE, PUT_BACK, SCENARIO_DONE = (
    'ENTERED', 'EXITED', 'TAKE', 'PUT_BACK', 'SCENARIO_DONE')


@dataclass(frozen=True)
class TruthEvent:
    """One ground-truth event (quantity > 0 items for TAKE / PUT_BACK)."""

    t: float
    kind: str
    shopper: str = ''
    enrolled: bool = False
    shelf_id: str = ''
    lane_id: str = ''
    item_id: str = ''
    quantity: int = 0
    door_id: str = ''


@dataclass
class Appearance:
    """A shopper in one camera's view: keyframes (t, x, y, size) interpolated linearly.

    Door passes also carry when the shopper looks away (the camera sees the back of the head)
    and ``clear_s``, how long the face is close and clearly visible (poses.door_group_tracks).
    """

    camera_id: str
    shopper_index: int
    identity: str
    photo: Path | None
    keyframes: list[tuple[float, float, float, float]] = field(default_factory=list)
    reaching: list[tuple[float, float]] = field(default_factory=list)
    looking_away: list[tuple[float, float]] = field(default_factory=list)
    clear_s: float | None = None

    @property
    def t_start(self) -> float:
        return self.keyframes[0][0]

    @property
    def t_end(self) -> float:
        return self.keyframes[-1][0]

    def add(self, t: float, pose: poses.Pose) -> None:
        if self.keyframes and t < self.keyframes[-1][0]:
            t = self.keyframes[-1][0]
        self.keyframes.append((t, *pose))

    def looks_away(self, t: float) -> bool:
        return any(a <= t < b for a, b in self.looking_away)

    def pose_at(self, t: float) -> poses.Pose | None:
        """The face pose at time t, or None when the shopper is not in view."""
        if not self.keyframes or t < self.t_start or t > self.t_end:
            return None
        i = bisect.bisect_right(self.keyframes, t, key=lambda k: k[0])
        if i >= len(self.keyframes):
            return self.keyframes[-1][1:]
        t0, *a = self.keyframes[i - 1]
        t1, *b = self.keyframes[i]
        f = 0.0 if t1 <= t0 else (t - t0) / (t1 - t0)
        return tuple(p + f * (q - p) for p, q in zip(a, b, strict=True))


@dataclass
class LaneTimeline:
    """A lane's true count over time, the intervals a hand is in it, and sensor glitches."""

    lane: Lane
    changes: list[tuple[float, int]] = field(default_factory=list)  # (t, count from t on)
    hands: list[tuple[float, float]] = field(default_factory=list)  # (t_in, t_out)
    glitches: list[SensorEvent] = field(default_factory=list)

    def __post_init__(self):
        if not self.changes:
            self.changes.append((float('-inf'), self.lane.initial_count))

    @property
    def count(self) -> int:
        """The count after the last change."""
        return self.changes[-1][1]

    def count_at(self, t: float) -> int:
        i = bisect.bisect_right(self.changes, t, key=lambda c: c[0])
        return self.changes[max(0, i - 1)][1]

    def hand_at(self, t: float) -> float | None:
        """When the hand that is in the lane at t came in, or None (no hand)."""
        return next((t_in for t_in, t_out in self.hands if t_in <= t < t_out), None)

    def glitch_at(self, t: float) -> SensorEvent | None:
        for glitch in self.glitches:
            if glitch.start_s <= t < glitch.start_s + glitch.duration_s:
                return glitch
        return None


@dataclass
class World:
    """A scenario played through: ground truth, lane timelines, camera appearances."""

    scenario: Scenario
    store: StoreConfig
    events: list[TruthEvent]
    lanes: dict[tuple[str, str], LaneTimeline]
    appearances: dict[str, list[Appearance]]  # camera id -> appearances
    end_s: float

    def in_view(self, camera_id: str, t: float) -> list[tuple[Appearance, poses.Pose]]:
        """Shoppers a camera sees at time t, with their face poses."""
        out = []
        for appearance in self.appearances.get(camera_id, ()):
            pose = appearance.pose_at(t)
            if pose is not None:
                out.append((appearance, pose))
        return out

    def counts_at(self, t: float) -> dict[tuple[str, str], int]:
        return {key: timeline.count_at(t) for key, timeline in self.lanes.items()}


@dataclass
class _DoorPass:
    camera: Camera
    door_id: str
    t0: float
    shopper_index: int
    identity: str
    photo: Path | None
    looking_away: tuple[tuple[float, float], ...] = ()


@dataclass
class _Cursor:
    """A shopper being played through."""

    index: int
    shopper: object
    t: float
    next_action: int = 0
    lane: tuple[str, str] | None = None
    held: Counter = field(default_factory=Counter)
    views: dict[str, Appearance] = field(default_factory=dict)  # camera id -> open appearance
    spots: dict[str, int] = field(default_factory=dict)  # camera id -> standing spot index
    arriving: tuple[str, str] | None = None  # lane walked to, reached at ``t``
    done: bool = False


class _Builder:
    def __init__(self, scenario: Scenario, store: StoreConfig,
                 photos: dict[str, list[Path]] | None):
        self.scenario = scenario
        self.store = store
        self.timing = scenario.timing
        self.photos = photos or {}
        self.rng = random.Random(scenario.seed)
        # Photo choices have their own stream: timings do not depend on the photo folder.
        self.photo_rng = random.Random(f'{scenario.seed}:photos')
        self.events: list[TruthEvent] = []
        self.lanes = {lane.key: LaneTimeline(lane) for lane in store.lanes}
        self.free_at: dict[tuple[str, str], float] = {}
        self.appearances: dict[str, list[Appearance]] = {c.camera_id: [] for c in store.cameras}
        self.door_passes: list[_DoorPass] = []
        self.occupied: dict[str, dict[int, list[int]]] = {  # camera -> spot -> standing there
            c.camera_id: {} for c in store.cameras}
        self.entrance = next(d for d in store.doors if d.role == ROLE_ENTRANCE)
        self.exit = next(d for d in store.doors if d.role == ROLE_EXIT)
        self.group_sizes = Counter(s.group for s in scenario.shoppers if s.group)
        self.at_exit: dict[str, list[_Cursor]] = {}  # group -> members waiting at the exit
        for glitch in scenario.events:
            self.lanes[(glitch.shelf_id, glitch.lane_id)].glitches.append(glitch)

    def pick_photo(self, identity: str) -> Path | None:
        options = self.photos.get(identity)
        return self.photo_rng.choice(options) if options else None

    def door_pass_s(self) -> float:
        t = self.timing
        return t.door_approach_s + t.door_hold_s + t.door_leave_s

    def build(self) -> World:
        cursors = [_Cursor(i, s, s.enter_s) for i, s in enumerate(self.scenario.shoppers)]
        for cursor in cursors:
            self.pass_door(cursor, self.entrance, ENTERED)
        while True:
            active = [c for c in cursors if not c.done]
            if not active:
                break
            cursor = min(active, key=lambda c: (c.t, c.index))
            self.step(cursor)
        self.place_door_passes()
        last = max([e.t for e in self.events] + [
            a.t_end for views in self.appearances.values() for a in views])
        end_s = last + self.timing.end_padding_s
        self.events.append(TruthEvent(end_s, SCENARIO_DONE))
        self.events.sort(key=lambda e: e.t)
        for views in self.appearances.values():
            views.sort(key=lambda a: (a.t_start, a.shopper_index))
        return World(self.scenario, self.store, self.events, self.lanes, self.appearances,
                     end_s)

    # --- actions -------------------------------------------------------------------------
    def step(self, cursor: _Cursor) -> None:
        if cursor.arriving is not None:
            self.arrive(cursor)
            return
        shopper = cursor.shopper
        j = cursor.next_action
        action = shopper.actions[j]
        path = f'{shopper.path}.actions[{j}]'
        cursor.next_action += 1
        if isinstance(action, WalkTo):
            self.walk_to(cursor, (action.shelf_id, action.lane_id))
        elif isinstance(action, (Take, PutBack)):
            self.reach(cursor, action, path)
        elif isinstance(action, Wait):
            self.anchor(cursor)
            cursor.t += action.seconds
            self.anchor(cursor)
        elif isinstance(action, Exit):
            self.leave_shelf(cursor)
            cursor.t += self.timing.walk_s
            cursor.done = True
            self.leave_store(cursor)

    def leave_store(self, cursor: _Cursor) -> None:
        """Through the exit; a group member waits (unseen) until the whole group is at the
        exit, then each passes ``exit_delay_s`` after the last one arrived."""
        group = cursor.shopper.group
        if not group:
            self.pass_door(cursor, self.exit, EXITED)
            return
        waiting = self.at_exit.setdefault(group, [])
        waiting.append(cursor)
        if len(waiting) < self.group_sizes[group]:
            return
        start = max(member.t for member in waiting)
        for member in waiting:
            member.t = start + member.shopper.exit_delay_s
            self.pass_door(member, self.exit, EXITED)

    def zones(self, key: tuple[str, str]) -> dict[str, tuple[Camera, object]]:
        return {cam.camera_id: (cam, zone) for cam, zone in self.store.cameras_covering(*key)}

    def anchor(self, cursor: _Cursor) -> None:
        """Hold the standing pose up to now in every view (so interpolation stays put)."""
        if cursor.lane is None:
            return
        for cam_id, (cam, zone) in self.zones(cursor.lane).items():
            if cam_id in cursor.views:
                cursor.views[cam_id].add(cursor.t, self.stand(cursor, cam, zone))

    def take_spot(self, cursor: _Cursor, cam: Camera, zone) -> None:
        """Stand at the free spot of this camera's view nearest the lane (steps are played
        in time order, so the spots taken are those of the people there now)."""
        self.release_spot(cursor, cam.camera_id)
        spots = poses.standing_spots(cam, zone)
        taken = self.occupied[cam.camera_id]
        centre = zone.x + zone.width / 2.0
        spacing = spots[1] - spots[0] if len(spots) > 1 else cam.width
        by_distance = sorted(range(len(spots)), key=lambda i: (abs(spots[i] - centre), i))
        # In front of the lane or one spot beside it; failing that two spots away (a crowd);
        # failing that behind someone in front of the lane (people queue: reaching in from
        # the far end of the shelf, across everyone, is not what people do).
        near = [i for i in by_distance if abs(spots[i] - centre) <= spacing + 1.0]
        wider = [i for i in by_distance if abs(spots[i] - centre) <= 2 * spacing + 1.0]
        fallback = near[0] if near else by_distance[0]
        spot = next((i for i in near if not taken.get(i)),
                    next((i for i in wider if not taken.get(i)), fallback))
        taken.setdefault(spot, []).append(cursor.index)  # a queue when several stand there
        cursor.spots[cam.camera_id] = spot

    def release_spot(self, cursor: _Cursor, cam_id: str) -> None:
        spot = cursor.spots.pop(cam_id, None)
        standing = self.occupied[cam_id].get(spot, [])
        if cursor.index in standing:
            standing.remove(cursor.index)

    def stand(self, cursor: _Cursor, cam: Camera, zone) -> poses.Pose:
        """The shopper's standing pose at their spot in this camera's view: in front, or
        behind whoever came to the spot before them."""
        spot = cursor.spots[cam.camera_id]
        queue = self.occupied[cam.camera_id].get(spot, [])
        place = queue.index(cursor.index) if cursor.index in queue else 0
        return poses.queue_pose(cam, zone, poses.standing_spots(cam, zone)[spot], place)

    def walk_to(self, cursor: _Cursor, key: tuple[str, str]) -> None:
        if cursor.lane == key:
            return
        if cursor.lane is not None and cursor.lane[0] == key[0]:  # along the same shelf
            old, new = self.zones(cursor.lane), self.zones(key)
            self.anchor(cursor)
            t0, t1 = cursor.t, cursor.t + self.timing.step_s
            for cam_id, (cam, zone) in old.items():
                if cam_id not in new:
                    cursor.views.pop(cam_id).add(t1, poses.offscreen_pose(cam, zone))
                    self.release_spot(cursor, cam_id)
            for cam_id, (cam, zone) in new.items():
                if cam_id in cursor.views:
                    self.take_spot(cursor, cam, zone)
                    cursor.views[cam_id].add(t1, self.stand(cursor, cam, zone))
                else:
                    self.open_view(cursor, cam, zone, t0, t1)
            cursor.t = t1
            cursor.lane = key
        else:
            # Arriving is a step of its own, played when the walk ends: the spots free then
            # are those of the people there then (taken now, a spot was still held by someone
            # who leaves before the walk ends, and two shoppers were drawn on one spot).
            self.leave_shelf(cursor)
            cursor.t += self.timing.walk_s
            cursor.arriving = key

    def arrive(self, cursor: _Cursor) -> None:
        key, cursor.arriving = cursor.arriving, None
        t0, t1 = cursor.t, cursor.t + self.timing.arrive_s
        for _cam_id, (cam, zone) in self.zones(key).items():
            self.open_view(cursor, cam, zone, t0, t1)
        cursor.t = t1
        cursor.lane = key

    def open_view(self, cursor: _Cursor, cam: Camera, zone, t0: float, t1: float) -> None:
        shopper = cursor.shopper
        view = Appearance(cam.camera_id, cursor.index, shopper.identity,
                          self.pick_photo(shopper.identity))
        self.take_spot(cursor, cam, zone)
        view.add(t0, poses.offscreen_pose(cam, zone))
        view.add(t1, self.stand(cursor, cam, zone))
        self.appearances[cam.camera_id].append(view)
        cursor.views[cam.camera_id] = view

    def leave_shelf(self, cursor: _Cursor) -> None:
        if cursor.lane is None:
            return
        self.anchor(cursor)
        t1 = cursor.t + self.timing.arrive_s
        for cam_id, (cam, zone) in self.zones(cursor.lane).items():
            if cam_id in cursor.views:
                cursor.views.pop(cam_id).add(t1, poses.offscreen_pose(cam, zone))
            self.release_spot(cursor, cam_id)
        cursor.views.clear()
        cursor.lane = None
        cursor.t = t1

    def reach(self, cursor: _Cursor, action: Take | PutBack, path: str) -> None:
        shopper = cursor.shopper
        kind = 'take' if isinstance(action, Take) else 'put_back'
        if cursor.lane is None:
            raise ScenarioError(f'{path}.{kind}: the shopper is at no lane (walk_to first)')
        timeline = self.lanes[cursor.lane]
        lane = timeline.lane
        timing = self.timing
        start = max(cursor.t, self.free_at.get(cursor.lane, 0.0))
        t_in = start + timing.reach_in_s
        t_out = t_in + self.rng.uniform(timing.hand_min_s, timing.hand_max_s)
        count = timeline.count
        n = action.quantity
        if isinstance(action, Take):
            if n > count:
                raise ScenarioError(
                    f'{path}.take: takes {n} {lane.item_id} from {lane.shelf_id}/'
                    f'{lane.lane_id} but only {count} are left at {t_out:.1f} s')
            cursor.held[lane.item_id] += n
            new_count, kind_name = count - n, TAKE
        else:
            if cursor.held[lane.item_id] < n:
                raise ScenarioError(
                    f'{path}.put_back: puts back {n} {lane.item_id} but holds '
                    f'{cursor.held[lane.item_id]}')
            if count + n > lane.capacity:
                raise ScenarioError(
                    f'{path}.put_back: {lane.shelf_id}/{lane.lane_id} holds {count} of '
                    f'{lane.capacity}; {n} more do not fit')
            cursor.held[lane.item_id] -= n
            new_count, kind_name = count + n, PUT_BACK
        timeline.changes.append((t_out, new_count))
        timeline.hands.append((t_in, t_out))
        self.free_at[cursor.lane] = t_out + timing.lane_gap_s
        self.events.append(TruthEvent(
            t_out, kind_name, shopper.identity, shopper.enrolled, lane.shelf_id, lane.lane_id,
            lane.item_id, n))
        t_back = t_out + timing.hold_s
        for cam_id, (cam, zone) in self.zones(cursor.lane).items():
            view = cursor.views.get(cam_id)
            if view is None:
                continue
            view.add(cursor.t, self.stand(cursor, cam, zone))
            view.add(start, self.stand(cursor, cam, zone))
            view.add(t_in, poses.reach_pose(zone))
            view.add(t_back, poses.reach_pose(zone))
            view.add(t_back + timing.reach_in_s, self.stand(cursor, cam, zone))
            view.reaching.append((start, t_back + timing.reach_in_s))
        cursor.t = t_back + timing.reach_in_s

    # --- doors ---------------------------------------------------------------------------
    def pass_door(self, cursor: _Cursor, door, kind: str) -> None:
        shopper = cursor.shopper
        camera = self.store.camera(door.camera_id)
        duration = self.door_pass_s()
        away = tuple((cursor.t + look.start_frac * duration, cursor.t + look.end_frac * duration)
                     for look in shopper.look_away if look.door == door.role)
        self.door_passes.append(_DoorPass(camera, door.door_id, cursor.t, cursor.index,
                                          shopper.identity, self.pick_photo(shopper.identity),
                                          away))
        self.events.append(TruthEvent(cursor.t + self.timing.door_approach_s, kind,
                                      shopper.identity, shopper.enrolled, door_id=door.door_id))
        cursor.t += duration

    def place_door_passes(self) -> None:
        """People passing one door at overlapping times walk there as a group."""
        duration = self.door_pass_s()
        by_camera: dict[str, list[_DoorPass]] = {}
        for p in self.door_passes:
            by_camera.setdefault(p.camera.camera_id, []).append(p)
        for passes in by_camera.values():
            passes.sort(key=lambda p: (p.t0, p.shopper_index))
            cluster: list[_DoorPass] = []
            cluster_end = float('-inf')
            for p in passes + [None]:
                if p is not None and p.t0 < cluster_end:
                    cluster.append(p)
                    cluster_end = max(cluster_end, p.t0 + duration)
                    continue
                if cluster:
                    self.place_cluster(cluster)
                if p is not None:
                    cluster, cluster_end = [p], p.t0 + duration
        for views in self.appearances.values():
            views.sort(key=lambda a: (a.t_start, a.shopper_index))

    def place_cluster(self, cluster: list[_DoorPass]) -> None:
        t = self.timing
        walks = [poses.DoorWalk(p.t0, p.shopper_index, p.looking_away) for p in cluster]
        tracks = poses.door_group_tracks(cluster[0].camera, walks, t.door_approach_s,
                                         t.door_hold_s, t.door_leave_s)
        for p, track in zip(cluster, tracks, strict=True):
            view = Appearance(p.camera.camera_id, p.shopper_index, p.identity, p.photo,
                              looking_away=list(p.looking_away), clear_s=track.clear_s)
            for key in track.keyframes:
                view.add(key[0], key[1:])
            self.appearances[p.camera.camera_id].append(view)


def build_world(scenario: Scenario, store: StoreConfig,
                photos: dict[str, list[Path]] | None = None) -> World:
    """Play a scenario through. ``photos``: identity -> appearance photos (None: no photos).

    Raises ScenarioError (naming the action) when the scenario cannot happen in this store:
    unknown lanes, taking more than a lane holds, putting back what was not taken.
    """
    check_against_store(scenario, store)
    return _Builder(scenario, store, photos).build()


__all__ = ['World', 'TruthEvent', 'Appearance', 'LaneTimeline', 'build_world', 'ENTERED',
           'EXITED', 'TAKE', 'PUT_BACK', 'SCENARIO_DONE', 'SensorDead', 'SpikeBurst']
