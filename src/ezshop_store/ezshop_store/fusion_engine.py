"""The fusion node's logic without ROS: which shelf events are ready, who took the items, late
attribution of held picks, presence and the alerts all of that calls for.

The node feeds it inputs (faces, shelf events, door events, carts) and the clock, and publishes
the FusionEffects each call returns, like the store node does with the store's Effects.

- **Readiness.** A shelf event is decided once every covering camera sent a frame stamped at
  or after stamp + window_after_s, or at its deadline (node clock) with what has arrived.
- **Decisions** come from fusion_core (scores by proximity to the reach zone x time).
- **Late attribution.** A held pick (unattributed, ambiguous or low confidence) keeps its
  window and candidate tracks for ``late_attribution_ns`` after it was decided (image time; a
  light lane reports its change seconds after the stamp). When a candidate becomes present
  (or, with ``late_naming``, the unknown face that was nearest is identified: that track only,
  and only its new name may win), the same scoring decides again; a charge that
  clears every rule, with at least ``late_min_confidence`` (names that came later rest on
  tracks that may have changed hands), is published once, as a CartAction resolving the held
  one.
- **Missing frames.** A pick decided at its deadline without its window's frames (a face node
  restarting: it catches up on the camera's recent past and sends them late) is held and
  decided again, with the ordinary thresholds, once its cameras have sent the whole window;
  it is given up only after its cameras' images are ``late_attribution_ns`` past the window.
  Each camera's faces come in stamp order: a frame at or before the newest had is stale
  (the replay of a face node that restarted overlaps what was sent before it died).
- **Identified later.** A held pick given up with an unknown face nearest keeps its scores for
  ``identity_wait_ns``: when a face node names that face's track from its own faces (a
  TrackIdentity, for a track ended or still followed: its visit memory matched the faces to
  a customer identified later, at another camera), the unknown face's score becomes the
  customer's and the same rules decide again, with the customer's stay moved back to the
  track's first sighting when it was opened late. A held pick still within
  ``late_attribution_ns`` counts such a name like one its track got in a frame. A take is not
  charged so while a put-back of the same item after it is still held (measured in the hard
  bench: the shopper's take was settled, his put-back, with no face near the lane, could not
  be, and his receipt charged an item he had put back).
- **Presence** (presence.Presence): late entries and absent checkouts as SEEN / ABSENT events.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ezshop_common.boxes import Box
from ezshop_common.store_config import ROLE_ENTRANCE, ROLE_EXIT
from ezshop_store import fusion_core as core
from ezshop_store.presence import SEEN, Presence, PresenceEvent, PresenceSettings
from ezshop_store.store_types import INFO, WARN, AlertOut

S = 1_000_000_000
SEEN_EVENTS_KEPT = 10_000
LINKED_TRACKS_KEPT = 10_000
LATE_SUFFIX = ':late'

#: cameras_covering(shelf_id, lane_id) -> {camera id: reach zone}
CoverageFn = Callable[[str, str], dict[str, Box]]


@dataclass(frozen=True)
class EngineSettings:
    decision_timeout_ns: int = 1 * S
    buffer_horizon_ns: int = 20 * S
    late_attribution_ns: int = 4 * S
    late_naming: bool = True  # decide again when the nearest unknown face is named later
    identity_wait_ns: int = 900 * S  # a given-up pick waits this long for a TrackIdentity


@dataclass
class FusionEffects:
    """What one input changed: actions, presence events and alerts to publish."""

    actions: list[core.Decision] = field(default_factory=list)
    presence: list[PresenceEvent] = field(default_factory=list)
    alerts: list[AlertOut] = field(default_factory=list)
    counters: Counter = field(default_factory=Counter)

    def merge(self, other: FusionEffects) -> None:
        self.actions += other.actions
        self.presence += other.presence
        self.alerts += other.alerts
        self.counters.update(other.counters)


@dataclass
class _Pick:
    """A shelf event waiting for its frames, or held and waiting for a late attribution."""

    change: core.ShelfChange
    zones: dict[str, Box]
    deadline_ns: int
    held: core.Decision | None = None
    held_since_ns: int = 0  # newest image stamp when it was held
    #: Decided at the deadline before every covering camera sent the whole window.
    incomplete: bool = False


@dataclass
class _Awaiting:
    """A held pick given up with an unknown face nearest: its scores, kept until that face's
    track is named after it ended (a TrackIdentity) or ``identity_wait_ns`` passes."""

    pick: _Pick
    near: core.Nearness
    unknown: str                     # the unknown face's candidate id in near.scores
    tracks: frozenset[core.TrackKey]  # the tracks that were that face
    since_ns: int


class FusionEngine:
    """Shelf events + faces + door events -> cart actions, presence events, alerts."""

    def __init__(self, params: core.FusionParams, coverage: CoverageFn,
                 camera_roles: dict[str, str], settings: EngineSettings | None = None,
                 presence: PresenceSettings | None = None):
        self.params = params
        self.settings = settings or EngineSettings()
        self.coverage = coverage
        self.buffer = core.FaceBuffer(self.settings.buffer_horizon_ns)
        self.presence = Presence(presence or PresenceSettings(), dict(camera_roles))
        self.scored_cameras = {cam for cam, role in camera_roles.items()
                               if role not in (ROLE_ENTRANCE, ROLE_EXIT)}
        self.holdings: dict[str, dict[str, int]] = {}
        self.waiting: list[_Pick] = []
        self.held: list[_Pick] = []
        self.track_names: dict[core.TrackKey, str] = {}
        self.track_first: dict[core.TrackKey, int] = {}
        #: Each camera's first frame since this engine started (what it can know about).
        self.first_frame_ns: dict[str, int] = {}
        #: Each camera's newest frame: an older or equal one is stale (see the module doc).
        self.newest_frame_ns: dict[str, int] = {}
        self.seen_events: OrderedDict[str, None] = OrderedDict()
        self.awaiting: list[_Awaiting] = []
        #: Put-backs held for staff, unresolved: event id -> (item, stamp, held since).
        self.held_put_backs: dict[str, tuple[str, int, int]] = {}
        #: Tracks named after they ended (TrackIdentity) -> customer.
        self.linked_tracks: OrderedDict[core.TrackKey, str] = OrderedDict()

    # ------------------------------------------------------------------ inputs
    def on_frame(self, frame: core.Frame, now_ns: int) -> FusionEffects:
        """Faces of one camera image (any camera: shelf frames are also scored)."""
        effects = FusionEffects()
        newest = self.newest_frame_ns.get(frame.camera_id)
        if newest is not None and frame.stamp_ns <= newest:
            effects.counters['stale_face_frames'] += 1
            return effects
        self.newest_frame_ns[frame.camera_id] = frame.stamp_ns
        effects.counters['face_frames'] += 1
        self.first_frame_ns.setdefault(frame.camera_id, frame.stamp_ns)
        newly_named = False
        for face in frame.faces:
            key = (frame.camera_id, face.track_id)
            first = self.track_first.setdefault(key, frame.stamp_ns)
            if not face.customer_id:
                continue
            if self.track_names.get(key) != face.customer_id:
                self.track_names[key] = face.customer_id
                newly_named = True
            for event in self.presence.sighting(face.customer_id, frame.camera_id, first,
                                                frame.stamp_ns, face.confidence):
                effects.presence.append(event)
                effects.merge(self._presence_alert(event))
        self.presence.now_ns = max(self.presence.now_ns, frame.stamp_ns)
        if frame.camera_id in self.scored_cameras:
            self.buffer.add(frame)
        if newly_named or effects.presence or self._completed_held(frame.camera_id):
            effects.merge(self._retry_held())
        effects.merge(self.decide_ready(now_ns))
        self._forget_old_tracks()
        return effects

    def on_door_event(self, entered: bool, customer_id: str, stamp_ns: int,
                      camera_id: str = '') -> FusionEffects:
        if not customer_id:
            return FusionEffects()
        if entered:
            self.presence.door_entered(customer_id, stamp_ns)
        else:
            self.presence.door_exited(customer_id, stamp_ns, camera_id)
        return self._retry_held()

    def on_cart(self, customer_id: str, open_visit: bool, lines: dict[str, int],
                stamp_ns: int) -> FusionEffects:
        self.holdings[customer_id] = dict(lines)
        self.presence.store_visit(customer_id, open_visit, stamp_ns)
        return self._retry_held() if open_visit else FusionEffects()

    def on_track_identity(self, camera_id: str, track_id: int, customer_id: str,
                          first_ns: int, last_ns: int, confidence: float) -> FusionEffects:
        """A track that ended unknown is ``customer_id`` (see the module doc)."""
        effects = FusionEffects()
        key = (camera_id, track_id)
        if key in self.linked_tracks:
            effects.counters['duplicate_track_identities'] += 1
            return effects
        self.linked_tracks[key] = customer_id
        while len(self.linked_tracks) > LINKED_TRACKS_KEPT:
            self.linked_tracks.popitem(last=False)
        effects.counters['track_identities'] += 1
        for event in self.presence.identified_later(customer_id, camera_id, first_ns, last_ns,
                                                    confidence):
            effects.presence.append(event)
            effects.merge(self._presence_alert(event))
        effects.merge(self._retry_held())
        effects.merge(self._settle_awaiting())
        return effects

    def on_shelf_event(self, change: core.ShelfChange, now_ns: int) -> FusionEffects:
        effects = FusionEffects()
        if change.event_id in self.seen_events:
            effects.counters['duplicate_shelf_events'] += 1
            return effects
        self.seen_events[change.event_id] = None
        while len(self.seen_events) > SEEN_EVENTS_KEPT:
            self.seen_events.popitem(last=False)
        effects.counters['shelf_events'] += 1
        if change.unobserved:
            return self._unobserved(change, effects)
        zones = self.coverage(change.shelf_id, change.lane_id)
        if not zones:
            effects.counters['lanes_without_camera'] += 1
        deadline = now_ns + self.params.window_after_ns + self.settings.decision_timeout_ns
        self.waiting.append(_Pick(change, zones, deadline))
        effects.merge(self.decide_ready(now_ns))
        return effects

    def tick(self, now_ns: int) -> FusionEffects:
        """Timer: decisions at their deadline, presence due, held picks given up."""
        effects = self.decide_ready(now_ns)
        events = self.presence.tick()
        effects.presence += events
        for event in events:
            effects.merge(self._presence_alert(event))
        if events:
            effects.merge(self._retry_held())
        kept = []
        for pick in self.held:
            if not self._given_up(pick):
                kept.append(pick)
                continue
            effects.counters['held_not_resolved'] += 1
            self._await_identity(pick)
        self.held = kept
        wait = self.settings.identity_wait_ns
        waiting = [a for a in self.awaiting if self.presence.now_ns - a.since_ns <= wait]
        effects.counters['identity_wait_expired'] += len(self.awaiting) - len(waiting)
        self.awaiting = waiting
        for event_id in [e for e, (_, _, since) in self.held_put_backs.items()
                         if self.presence.now_ns - since > wait]:
            del self.held_put_backs[event_id]
        return effects

    def _put_back_held_after(self, change: core.ShelfChange) -> bool:
        """A take with a held put-back of the same item after it."""
        return change.quantity_delta < 0 and any(
            item == change.item_id and stamp > change.stamp_ns
            for item, stamp, _ in self.held_put_backs.values())

    def _await_identity(self, pick: _Pick) -> None:
        """Keep a given-up pick whose nearest face is unknown for a TrackIdentity."""
        if self.settings.identity_wait_ns <= 0 or pick.incomplete:
            return
        near = self._nearness(pick)
        decision = self._decide_from(pick, near)
        best = decision.candidates[0][0] if decision.candidates else ''
        if decision.outcome != core.UNATTRIBUTED or not best.startswith(core.UNKNOWN_PREFIX):
            return
        camera_id, _, head = best[len(core.UNKNOWN_PREFIX):].rpartition(':')
        window = self._window(pick).get(camera_id, [])
        chain = core.unknown_chain(window, int(head)) or {int(head)}
        self.awaiting.append(_Awaiting(pick, near, best,
                                       frozenset((camera_id, t) for t in chain),
                                       self.presence.now_ns))

    def _settle_awaiting(self) -> FusionEffects:
        """Decide again every pick whose unknown face's tracks are named now."""
        effects = FusionEffects()
        still = []
        for waiting in self.awaiting:
            names = {self.linked_tracks.get(key, '') for key in waiting.tracks}
            named = names - {''}
            if len(named) != 1:
                still.append(waiting)  # not named yet, or its tracks were two people
                continue
            if self._put_back_held_after(waiting.pick.change):
                effects.counters['identified_later_after_held_put_back'] += 1
                still.append(waiting)  # may be put back: charging it would be a guess
                continue
            customer_id = named.pop()
            near = waiting.near
            scores, peaks = dict(near.scores), dict(near.peaks)
            scores[customer_id] = max(scores.get(customer_id, 0.0),
                                      scores.pop(waiting.unknown, 0.0))
            peaks[customer_id] = max(peaks.get(customer_id, 0.0),
                                     peaks.pop(waiting.unknown, 0.0))
            decision = self._decide_from(waiting.pick,
                                         core.Nearness(scores, peaks, near.contested))
            if decision.outcome != core.ASSIGNED or decision.customer_id != customer_id \
                    or decision.confidence < self.params.late_min_confidence:
                effects.counters['identified_later_still_held'] += 1
                continue
            effects.merge(self._publish_late(waiting.pick, decision))
            effects.counters['late_attributions_identified_later'] += 1
        self.awaiting = still
        return effects

    def _given_up(self, pick: _Pick) -> bool:
        """Held long enough: late_attribution_ns of image time since it was held or, for a
        pick decided without its frames, since its window's end in its own cameras' images
        (they may come late, from a face node catching up), never past the buffer horizon."""
        now = self.presence.now_ns
        if now - pick.held_since_ns > self.settings.buffer_horizon_ns:
            return True
        if pick.incomplete:
            reached = [self.newest_frame_ns.get(cam) for cam in pick.zones]
            end = pick.change.stamp_ns + self.params.window_after_ns
            return all(r is not None and r - end > self.settings.late_attribution_ns
                       for r in reached)
        return pick.held_since_ns < now - self.settings.late_attribution_ns

    def _window_complete(self, pick: _Pick) -> bool:
        return core.ready_to_decide(pick.change.stamp_ns, self.params.window_after_ns,
                                    self.newest_frame_ns, pick.zones)

    def _completed_held(self, camera_id: str) -> bool:
        """A held pick decided without its frames has them all now (this camera's last)."""
        return any(p.incomplete and camera_id in p.zones and self._window_complete(p)
                   for p in self.held)

    # ------------------------------------------------------------------ decisions
    def decide_ready(self, now_ns: int) -> FusionEffects:
        effects = FusionEffects()
        if not self.waiting:
            return effects
        latest = {cam: self.buffer.latest_stamp(cam) for p in self.waiting for cam in p.zones}
        held_before = len(self.held)
        still = []
        for pick in self.waiting:
            ready = core.ready_to_decide(pick.change.stamp_ns, self.params.window_after_ns,
                                         latest, pick.zones)
            if ready or now_ns >= pick.deadline_ns:
                if self._before_watching(pick):
                    # Replayed to a restarted fusion: decided before the crash, or held by
                    # the store as undecided; an "unattributed" guess here would be noise.
                    effects.counters['before_watching'] += 1
                    continue
                if not ready:
                    effects.counters['decided_on_timeout'] += 1
                    pick.incomplete = bool(pick.zones)
                effects.merge(self._decide(pick))
            else:
                still.append(pick)
        self.waiting = still
        if len(self.held) > held_before:
            # What the window's own frames already tell (a face named a moment after the
            # reach) settles a new hold now, not at the next naming.
            effects.merge(self._retry_held())
        return effects

    def _unobserved(self, change: core.ShelfChange, effects: FusionEffects) -> FusionEffects:
        """A change nobody watched (the shelf monitor was down): whoever is near the lane now
        did not do it. Nobody is named; the store holds it for staff."""
        effects.counters['unobserved_shelf_events'] += 1
        decision = core.Decision(
            change.event_id, change.stamp_ns, '', change.item_id, -change.quantity_delta, 0.0,
            False, core.UNATTRIBUTED, (), change.shelf_id, change.lane_id,
            reason='the lane changed while the shelf monitor was not watching')
        effects.actions.append(decision)
        effects.alerts.append(self._pick_alert(WARN, 'unattributed_pick', change,
                                               decision.reason, decision))
        return effects

    def _before_watching(self, pick: _Pick) -> bool:
        """The pick happened before the first frame this engine got from every camera covering
        its lane: before fusion was watching (a replay to a restarted fusion), so no frame of
        its reach can ever come. (A pick after the first frames is decided as ever, even with
        part of its window missing.)"""
        firsts = [self.first_frame_ns.get(cam) for cam in pick.zones]
        return bool(firsts) and all(first is not None and first > pick.change.stamp_ns
                                    for first in firsts)

    def _window(self, pick: _Pick) -> dict[str, list[core.Frame]]:
        start = pick.change.stamp_ns - self.params.window_before_ns
        end = pick.change.stamp_ns + self.params.window_after_ns
        return {cam: self.buffer.window(cam, start, end) for cam in pick.zones}

    def _since_window(self, pick: _Pick, camera_id: str) -> list[core.Frame]:
        """One camera's frames from the pick's window start to the newest."""
        start = pick.change.stamp_ns - self.params.window_before_ns
        latest = self.buffer.latest_stamp(camera_id)
        return [] if latest is None else self.buffer.window(camera_id, start, latest)

    def _nearness(self, pick: _Pick,
                  late_names: dict[core.TrackKey, str] | None = None) -> core.Nearness:
        end = pick.change.stamp_ns + self.params.window_after_ns
        renamed = frozenset().union(*(core.renamed_tracks(cam, self._since_window(pick, cam), end)
                                      for cam in pick.zones))
        return core.lane_nearness(self._window(pick), pick.zones,
                                  self.params.distance_scale_px, late_names, renamed)

    def _decide_from(self, pick: _Pick, near: core.Nearness) -> core.Decision:
        return core.decide(pick.change, near.scores,
                           self.presence.present_at(pick.change.stamp_ns), self.holdings,
                           self.params, near.peaks, near.contested)

    def _score(self, pick: _Pick,
               late_names: dict[core.TrackKey, str] | None = None) -> core.Decision:
        return self._decide_from(pick, self._nearness(pick, late_names))

    def _late_name(self, pick: _Pick, now: core.Decision) -> dict[core.TrackKey, str]:
        """The name the held pick's nearest unknown face went on to get, if its track got one
        (the name its unnamed faces count for, see fusion_core.run_names) and, where that face
        is a chain of tracks, every track of the chain got the same one. Only that face is
        named late: naming other tracks let a bystander outscore a taker the cameras never
        identified (measured in the hard bench). A face that is a track's run under a name
        another track kept (fusion_core.lane_nearness) is named by the name that track went
        on to: the person it had followed. ``now`` is the pick scored afresh: a name contested
        when it was held may be settled by now (the track that carried it wrongly was
        renamed), and the face nearest is then unknown."""
        best = now.candidates[0][0] if now.candidates else ''
        if not self.settings.late_naming or not best.startswith(core.UNKNOWN_PREFIX):
            return {}
        camera_id, _, head = best[len(core.UNKNOWN_PREFIX):].rpartition(':')
        window = self._window(pick).get(camera_id, [])
        chain = core.unknown_chain(window, int(head)) or {int(head)}
        end = pick.change.stamp_ns + self.params.window_after_ns
        following = core.names_that_follow(self._since_window(pick, camera_id), end)
        for track in chain:  # tracks named after they ended (TrackIdentity)
            if not following.get(track):
                following[track] = self.linked_tracks.get((camera_id, track), '')
        names = {following.get(track, '') for track in chain}
        if len(names) != 1 or '' in names:
            return {}
        return {(camera_id, track): following[track] for track in chain}

    def _decide(self, pick: _Pick) -> FusionEffects:
        effects = FusionEffects()
        decision = self._score(pick)
        effects.counters[f'decisions_{decision.outcome}'] += 1
        if decision.customer_id:
            for event in self.presence.ensure_open([decision.customer_id]):
                effects.presence.append(event)
                effects.merge(self._presence_alert(event))
        effects.actions.append(decision)
        if decision.outcome == core.ASSIGNED:
            return effects
        if decision.held:
            pick.held = decision
            pick.held_since_ns = max(self.presence.now_ns, pick.change.stamp_ns)
            self.held.append(pick)
            if pick.change.quantity_delta > 0:
                self.held_put_backs[pick.change.event_id] = (
                    pick.change.item_id, pick.change.stamp_ns, pick.held_since_ns)
        reason = decision.reason if pick.zones else \
            f'no camera covers {pick.change.shelf_id}/{pick.change.lane_id}'
        kind = 'ambiguous_pick' if decision.ambiguous else 'unattributed_pick'
        level = INFO if decision.outcome == core.AMBIGUOUS_ASSIGNED else WARN
        effects.alerts.append(self._pick_alert(level, kind, pick.change, reason, decision))
        return effects

    def _retry_held(self) -> FusionEffects:
        """Decide every held pick again with what is known now; publish a charge once."""
        effects = FusionEffects()
        still = []
        for pick in self.held:
            if pick.incomplete and self._window_complete(pick):
                # Its frames came late: decided as it would have been on time.
                pick.incomplete = False
                decision = self._score(pick)
                if decision.outcome != core.ASSIGNED:
                    pick.held = decision  # late naming may still settle it, from now on
                    pick.held_since_ns = max(self.presence.now_ns, pick.change.stamp_ns)
                    still.append(pick)
                    continue
                effects.counters['decided_with_late_frames'] += 1
            else:
                now = self._score(pick)
                named = self._late_name(pick, now)
                decision = self._score(pick, named) if named else now
                if decision.outcome != core.ASSIGNED \
                        or decision.confidence < self.params.late_min_confidence \
                        or (named and decision.customer_id not in named.values()):
                    still.append(pick)
                    continue
            effects.merge(self._publish_late(pick, decision))
        self.held = still
        return effects

    def _publish_late(self, pick: _Pick, decision: core.Decision) -> FusionEffects:
        """A held pick settled: one CartAction resolving it."""
        effects = FusionEffects()
        self.held_put_backs.pop(pick.change.event_id, None)
        for event in self.presence.ensure_open([decision.customer_id]):
            effects.presence.append(event)
            effects.merge(self._presence_alert(event))
        late = replace(decision, event_id=pick.change.event_id + LATE_SUFFIX,
                       resolves_event_id=pick.change.event_id,
                       reason=f'late attribution of {pick.change.event_id}')
        effects.actions.append(late)
        effects.counters['late_attributions'] += 1
        effects.alerts.append(self._pick_alert(
            INFO, 'late_attribution', pick.change,
            f'held pick settled: {late.customer_id} (confidence {late.confidence:.2f})', late))
        return effects

    # ------------------------------------------------------------------ helpers
    def _forget_old_tracks(self) -> None:
        if len(self.track_first) < 4096:
            return
        cutoff = self.presence.now_ns - self.settings.buffer_horizon_ns
        for key in [k for k, t in self.track_first.items() if t < cutoff]:
            del self.track_first[key]
            self.track_names.pop(key, None)

    @staticmethod
    def _pick_alert(level: int, kind: str, change: core.ShelfChange, reason: str,
                    decision: core.Decision) -> AlertOut:
        return AlertOut(level, kind, f'shelf event {change.event_id} '
                        f'({change.quantity_delta:+d} {change.item_id}): {reason}',
                        (change.event_id, change.item_id, f'{change.shelf_id}/{change.lane_id}',
                         *(c for c, _ in decision.candidates)), change.stamp_ns)

    @staticmethod
    def _presence_alert(event: PresenceEvent) -> FusionEffects:
        effects = FusionEffects()
        if event.kind == SEEN:
            effects.counters['late_entries'] += 1
            text = (f'{event.customer_id} was seen in the store at {event.camera_id} without '
                    'a door pass: visit opened from that sighting')
            kind = 'late_entry'
        else:
            effects.counters['absent_checkouts'] += 1
            text = (f'{event.customer_id} not seen anywhere since the last sighting at '
                    f'{event.camera_id or "?"}: checked out as absent')
            kind = 'absent_checkout'
        effects.alerts.append(AlertOut(WARN, kind, text, (event.customer_id, event.event_id),
                                       event.stamp_ns))
        return effects
