"""The fusion engine without ROS: presence from every camera, late attribution, holds."""

from ezshop_common.boxes import Box
from ezshop_store.fusion_core import (
    AMBIGUOUS_HELD,
    ASSIGNED,
    LOW_CONFIDENCE_HELD,
    UNATTRIBUTED,
    Face,
    Frame,
    FusionParams,
    ShelfChange,
)
from ezshop_store.fusion_engine import LATE_SUFFIX, EngineSettings, FusionEngine
from ezshop_store.presence import ABSENT, SEEN, PresenceSettings

MS = 1_000_000
S = 1000 * MS
CAM = 'cam_shelf_a'
ZONES = {'lane_1': Box(0, 60, 213, 300), 'lane_2': Box(213, 60, 214, 300)}
ROLES = {'cam_entrance': 'entrance', 'cam_exit': 'exit', CAM: 'shelf'}
EVENT_T = 100 * S


def engine(settings=None, **presence):
    return FusionEngine(
        FusionParams(window_before_ns=1000 * MS, window_after_ns=500 * MS),
        lambda shelf, lane: {CAM: ZONES[lane]} if lane in ZONES else {}, ROLES,
        settings or EngineSettings(decision_timeout_ns=1 * S, buffer_horizon_ns=30 * S,
                                   late_attribution_ns=10 * S, late_naming=True),
        PresenceSettings(**{'absent_checkout_ns': 60 * S, **presence}))


def face(track, customer, cx, cy=200, size=80, confidence=0.9):
    return Face(track, customer, Box(cx - size / 2, cy - size / 2, size, size),
                confidence if customer else 0.0)


def play(eng, faces_at, start, end, camera=CAM, step=100 * MS):
    """Feed frames every 100 ms over [start, end]; returns every effect merged."""
    out = []
    t = start
    while t <= end:
        out.append(eng.on_frame(Frame(camera, t, tuple(faces_at(t))), now_ns=t))
        t += step
    return out


def actions(effects):
    return [a for e in effects for a in e.actions]


def presence_events(effects):
    return [p for e in effects for p in e.presence]


def take(eng, lane='lane_1', delta=-1, event_id='ev-1', t=EVENT_T):
    return eng.on_shelf_event(ShelfChange(event_id, t, 'shelf_a', lane, 'cola', delta),
                              now_ns=t)


def test_a_shopper_whose_entry_was_missed_is_let_in_and_charged():
    eng = engine()
    seen = play(eng, lambda t: [face(1, 'alice', 100)], EVENT_T - 3 * S, EVENT_T)
    assert [(p.kind, p.stamp_ns) for p in presence_events(seen)] == [(SEEN, EVENT_T - 3 * S)]
    assert any(a.kind == 'late_entry' for e in seen for a in e.alerts)
    effects = [take(eng)]
    effects += play(eng, lambda t: [face(1, 'alice', 100)], EVENT_T + 100 * MS,
                    EVENT_T + 700 * MS)
    decided = actions(effects)
    assert [(a.customer_id, a.outcome, a.quantity) for a in decided] == [('alice', ASSIGNED, 1)]


def test_unknown_at_the_reach_named_a_moment_later_is_attributed_once():
    eng = engine()
    eng.on_door_event(True, 'alice', EVENT_T - 20 * S)
    before = [take(eng)]
    before += play(eng, lambda t: [face(7, '', 100)], EVENT_T - 1000 * MS, EVENT_T + 600 * MS)
    first = actions(before)
    assert [(a.customer_id, a.outcome) for a in first] == [('', UNATTRIBUTED)]
    assert len(eng.held) == 1
    later = play(eng, lambda t: [face(7, 'alice', 100)], EVENT_T + 2 * S, EVENT_T + 4 * S)
    late = actions(later)
    assert len(late) == 1
    assert late[0].customer_id == 'alice' and late[0].outcome == ASSIGNED
    assert late[0].resolves_event_id == 'ev-1' and late[0].event_id == 'ev-1' + LATE_SUFFIX
    assert late[0].stamp_ns == EVENT_T and late[0].quantity == 1
    assert eng.held == []


def test_a_put_back_is_attributed_late_too():
    eng = engine()
    eng.on_door_event(True, 'alice', EVENT_T - 20 * S)
    eng.on_cart('alice', True, {'cola': 1}, EVENT_T - 10 * S)
    take(eng, delta=+1)
    play(eng, lambda t: [face(7, '', 100)], EVENT_T - 1000 * MS, EVENT_T + 600 * MS)
    late = actions(play(eng, lambda t: [face(7, 'alice', 100)], EVENT_T + 1 * S,
                        EVENT_T + 2 * S))
    assert [(a.customer_id, a.quantity, a.resolves_event_id) for a in late] == [
        ('alice', -1, 'ev-1')]


def test_a_held_pick_is_given_up_after_the_late_attribution_time():
    eng = engine()
    eng.on_door_event(True, 'alice', EVENT_T - 20 * S)
    take(eng)
    play(eng, lambda t: [face(7, '', 100)], EVENT_T - 1000 * MS, EVENT_T + 600 * MS)
    play(eng, lambda t: [], EVENT_T + 1 * S, EVENT_T + 11 * S)
    effects = eng.tick(EVENT_T + 11 * S)
    assert eng.held == [] and effects.counters['held_not_resolved'] == 1
    assert actions(play(eng, lambda t: [face(7, 'alice', 100)], EVENT_T + 12 * S,
                        EVENT_T + 13 * S)) == []


def test_two_shoppers_at_one_lane_are_held_and_never_flipped_later():
    eng = engine()
    eng.on_door_event(True, 'alice', EVENT_T - 20 * S)
    eng.on_door_event(True, 'bob', EVENT_T - 20 * S)
    both = [take(eng)]
    both += play(eng, lambda t: [face(1, 'alice', 90), face(2, 'bob', 120)],
                 EVENT_T - 1000 * MS, EVENT_T + 600 * MS)
    assert [(a.customer_id, a.outcome) for a in actions(both)] == [('', AMBIGUOUS_HELD)]
    # More names arriving elsewhere re-check the hold but cannot make it a coin flip.
    later = play(eng, lambda t: [face(3, 'carol', 500)], EVENT_T + 1 * S, EVENT_T + 2 * S)
    assert actions(later) == []


def test_the_engine_decides_on_timeout_when_the_camera_is_silent():
    eng = engine()
    take(eng)
    assert actions([eng.tick(EVENT_T + 1400 * MS)]) == []
    timed_out = eng.tick(EVENT_T + 1600 * MS)
    assert timed_out.counters['decided_on_timeout'] == 1
    assert [a.outcome for a in timed_out.actions] == [UNATTRIBUTED]


def test_a_customer_unseen_for_the_absence_time_is_checked_out():
    eng = engine(absent_checkout_ns=5 * S)
    eng.on_door_event(True, 'alice', EVENT_T)
    play(eng, lambda t: [face(1, 'alice', 100)], EVENT_T, EVENT_T + 1 * S)
    play(eng, lambda t: [face(2, 'bob', 400)], EVENT_T + 2 * S, EVENT_T + 7 * S)
    effects = eng.tick(EVENT_T + 7 * S)
    absent = [p for p in effects.presence if p.customer_id == 'alice']
    assert [(p.kind, p.stamp_ns) for p in absent] == [(ABSENT, EVENT_T + 1 * S)]
    assert any(a.kind == 'absent_checkout' for a in effects.alerts)


def test_duplicate_shelf_events_are_counted_not_decided_twice():
    eng = engine()
    take(eng)
    assert take(eng).counters['duplicate_shelf_events'] == 1
    assert len(eng.waiting) == 1


def test_the_late_window_runs_from_the_decision_not_the_stamp():
    """A light lane reports its change 2.5 s after it began; the track is named 3 s after the
    decision (5.5 s after the stamp): still inside a 4 s late window."""
    eng = engine(EngineSettings(decision_timeout_ns=1 * S, buffer_horizon_ns=30 * S,
                                late_attribution_ns=4 * S, late_naming=True))
    eng.on_door_event(True, 'alice', EVENT_T - 20 * S)
    play(eng, lambda t: [face(7, '', 100)], EVENT_T - 1000 * MS, EVENT_T + 2500 * MS)
    assert [a.outcome for a in actions([take(eng, t=EVENT_T)])] == [UNATTRIBUTED]
    play(eng, lambda t: [face(7, '', 100)], EVENT_T + 2600 * MS, EVENT_T + 5400 * MS)
    assert eng.tick(EVENT_T + 5400 * MS).counters['held_not_resolved'] == 0
    assert len(eng.held) == 1
    late = actions(play(eng, lambda t: [face(7, 'alice', 100)], EVENT_T + 5500 * MS,
                        EVENT_T + 6000 * MS))
    assert [(a.customer_id, a.resolves_event_id) for a in late] == [('alice', 'ev-1')]


def test_a_weak_late_attribution_is_not_charged():
    # The unknown taker is never named; bob, standing off the zone, is named after the window:
    # bob now wins by a hair, which is not enough for a late charge.
    eng = engine()
    eng.on_door_event(True, 'bob', EVENT_T - 20 * S)
    take(eng)
    play(eng, lambda t: [face(8, '', 261)], EVENT_T - 1000 * MS, EVENT_T + 600 * MS)
    assert len(eng.held) == 1
    later = play(eng, lambda t: [face(8, 'bob', 261)], EVENT_T + 1 * S, EVENT_T + 2 * S)
    assert actions(later) == [] and len(eng.held) == 1
    # The same scores would be charged as a first decision (confidence ~0.2 > 0.15).
    pick = eng.held[0]
    assert 0.15 < eng._score(pick, eng._late_name(pick, eng._score(pick))).confidence < 0.3


def test_only_the_nearest_unknown_face_can_be_named_late():
    # The taker (track 7, never identified) is followed at the same place by bob (track 8,
    # unknown at first): one unknown chain. bob being named later must not charge bob.
    eng = engine()
    eng.on_door_event(True, 'bob', EVENT_T - 20 * S)
    take(eng)
    play(eng, lambda t: [face(7, '', 100)] if t < EVENT_T - 200 * MS else [face(8, '', 110)],
         EVENT_T - 1000 * MS, EVENT_T + 600 * MS)
    assert len(eng.held) == 1
    later = play(eng, lambda t: [face(8, 'bob', 110)], EVENT_T + 1 * S, EVENT_T + 2 * S)
    assert actions(later) == [] and len(eng.held) == 1


def test_with_late_naming_off_a_name_that_comes_later_settles_nothing():
    eng = engine(EngineSettings(late_naming=False))
    eng.on_door_event(True, 'alice', EVENT_T - 20 * S)
    take(eng)
    play(eng, lambda t: [face(7, '', 100)], EVENT_T - 1000 * MS, EVENT_T + 600 * MS)
    assert len(eng.held) == 1
    later = play(eng, lambda t: [face(7, 'alice', 100)], EVENT_T + 1 * S, EVENT_T + 2 * S)
    assert actions(later) == [] and len(eng.held) == 1


def test_a_late_name_is_the_one_the_face_got_next_not_whoever_has_the_track_now():
    eng = engine()
    eng.on_door_event(True, 'bob', EVENT_T - 20 * S)
    take(eng)
    play(eng, lambda t: [face(7, '', 100)], EVENT_T - 1000 * MS, EVENT_T + 600 * MS)
    assert len(eng.held) == 1
    # The taker's track is named alice, who was not in the store at the pick (too unsure to
    # count as a sighting): she cannot be charged...
    play(eng, lambda t: [face(7, 'alice', 100, confidence=0.2)], EVENT_T + 1 * S,
         EVENT_T + 2 * S)
    # ... then the track passes to bob, who is in the store: the pick is not his.
    later = play(eng, lambda t: [face(7, 'bob', 100)], EVENT_T + 2100 * MS, EVENT_T + 3 * S)
    assert actions(later) == [] and len(eng.held) == 1


def test_a_late_name_needs_every_track_of_the_unknown_chain_to_agree():
    eng = engine()
    eng.on_door_event(True, 'bob', EVENT_T - 20 * S)
    eng.on_door_event(True, 'alice', EVENT_T - 20 * S)
    take(eng)
    # One unknown person near the lane on two tracks, one after the other at the same place.
    play(eng, lambda t: [face(7, '', 100)] if t < EVENT_T - 200 * MS else [face(8, '', 110)],
         EVENT_T - 1000 * MS, EVENT_T + 600 * MS)
    assert len(eng.held) == 1
    agreed = play(eng, lambda t: [face(8, 'alice', 110)], EVENT_T + 1 * S, EVENT_T + 2 * S)
    assert actions(agreed) == [] and len(eng.held) == 1  # track 7 was never named


def test_a_track_that_followed_someone_else_is_settled_for_the_person_it_went_on_to_be():
    # alice stands above lane_1; bob leans in front of her and her track (1) follows his face
    # into the reach zone, still named alice, while a new track (2) finds alice where she
    # stands. Track 1 then loses the name and is identified as bob.
    eng = engine()
    eng.on_door_event(True, 'alice', EVENT_T - 20 * S)
    eng.on_door_event(True, 'bob', EVENT_T - 20 * S)
    standing = play(eng, lambda t: [face(1, 'alice', 60, cy=20)],
                    EVENT_T - 1500 * MS, EVENT_T - 1000 * MS)
    assert actions(standing) == []

    def faces_at(t):
        if t < EVENT_T + 300 * MS:
            return [face(1, 'alice', 100), face(2, 'alice', 60, cy=20)]
        if t < EVENT_T + 500 * MS:
            return [face(1, '', 100), face(2, 'alice', 60, cy=20)]
        return [face(1, 'bob', 100), face(2, 'alice', 60, cy=20)]
    effects = [take(eng)]
    effects += play(eng, faces_at, EVENT_T - 900 * MS, EVENT_T + 1500 * MS)
    # Alice's name is the wrong one on the reach; from the frames where alice was seen
    # elsewhere, the track was the face it went straight on to be named: bob, once.
    assert [(a.customer_id, a.outcome, a.resolves_event_id) for a in actions(effects)] == [
        ('bob', ASSIGNED, '')]


def test_a_name_borrowed_through_the_window_is_settled_late_for_the_name_the_track_goes_on_to():
    # As above, but track 1 keeps alice's name to the end of the window: which of the two
    # faces is alice is not known at the decision (contested, held). A second later track 1
    # loses alice's name where it is and is identified as bob: the reach was his.
    eng = engine()
    eng.on_door_event(True, 'alice', EVENT_T - 20 * S)
    eng.on_door_event(True, 'bob', EVENT_T - 20 * S)
    play(eng, lambda t: [face(1, 'alice', 60, cy=20)], EVENT_T - 1500 * MS, EVENT_T - 1000 * MS)

    def faces_at(t):
        if t < EVENT_T + 1500 * MS:
            return [face(1, 'alice', 100), face(2, 'alice', 60, cy=20)]
        if t < EVENT_T + 1800 * MS:
            return [face(1, '', 100, cy=150), face(2, 'alice', 60, cy=20)]
        return [face(1, 'bob', 100, cy=150), face(2, 'alice', 60, cy=20)]
    effects = [take(eng)]
    effects += play(eng, faces_at, EVENT_T - 900 * MS, EVENT_T + 3000 * MS)
    assert [(a.customer_id, a.outcome, a.resolves_event_id) for a in actions(effects)] == [
        ('', LOW_CONFIDENCE_HELD, ''), ('bob', ASSIGNED, 'ev-1')]


def test_a_pick_from_before_a_restart_is_not_guessed_at_but_one_after_is_decided():
    eng = engine()
    eng.on_door_event(True, 'ann', EVENT_T - 5 * S)
    # Restarted at EVENT_T: the first frames it gets are from then on; the take it is
    # replayed happened before, while it was not watching.
    old = eng.on_shelf_event(ShelfChange('ev-old', EVENT_T - 3 * S, 'shelf_a', 'lane_1', 'cola',
                                         -1), now_ns=EVENT_T)
    effects = [old] + play(eng, lambda t: [face(1, 'ann', 100)], EVENT_T, EVENT_T + 3 * S)
    assert actions(effects) == [] and not any(e.alerts for e in effects)
    assert sum(e.counters['before_watching'] for e in effects) == 1
    assert eng.waiting == []
    # A take it watched is decided as ever, even one whose window began before its first frame.
    new = [take(eng, event_id='ev-early', t=EVENT_T + 200 * MS)]
    new += [take(eng, event_id='ev-new', t=EVENT_T + 4 * S)]
    new += play(eng, lambda t: [face(1, 'ann', 100)], EVENT_T + 3 * S, EVENT_T + 6 * S)
    assert [(a.event_id, a.customer_id, a.outcome) for a in actions(new)] == [
        ('ev-early', 'ann', ASSIGNED), ('ev-new', 'ann', ASSIGNED)]


def test_a_change_nobody_watched_names_nobody_whoever_stands_at_the_lane():
    eng = engine()
    eng.on_door_event(True, 'ann', EVENT_T - 5 * S)
    play(eng, lambda t: [face(1, 'ann', 100)], EVENT_T - 2 * S, EVENT_T)
    effects = eng.on_shelf_event(ShelfChange('ev-gone', EVENT_T, 'shelf_a', 'lane_1', 'cola',
                                             -2, unobserved=True), now_ns=EVENT_T)
    effects = [effects] + play(eng, lambda t: [face(1, 'ann', 100)], EVENT_T, EVENT_T + 2 * S)
    assert [(a.event_id, a.customer_id, a.quantity, a.outcome) for a in actions(effects)] == [
        ('ev-gone', '', 2, UNATTRIBUTED)]
    assert eng.held == [] and eng.waiting == []  # never attributed later either
    assert any('not watching' in a.message for e in effects for a in e.alerts)


def _crash_at_the_reach(eng):
    """alice at lane_1 until the face node dies 1.5 s before the reach; the pick is decided
    at its deadline without a frame of its window: held."""
    eng.on_door_event(True, 'alice', EVENT_T - 20 * S)
    play(eng, lambda t: [face(1, 'alice', 100)], EVENT_T - 3 * S, EVENT_T - 1500 * MS)
    take(eng)
    held = eng.tick(EVENT_T + 1600 * MS)
    assert [(a.outcome, a.customer_id) for a in held.actions] == [(UNATTRIBUTED, '')]
    assert held.counters['decided_on_timeout'] == 1 and len(eng.held) == 1


def test_a_pick_decided_without_its_frames_is_decided_when_they_come_late():
    eng = engine()
    _crash_at_the_reach(eng)
    # The door cameras' face node runs on: image time passes the late attribution time ...
    play(eng, lambda t: [], EVENT_T - 400 * MS, EVENT_T + 15 * S, camera='cam_entrance')
    assert len(eng.tick(EVENT_T + 16 * S).actions) == 0 and len(eng.held) == 1
    # ... before the restarted shelf face node catches up, from 2 s before it died, with new
    # tracks; what it had already sent is stale.
    replay = play(eng, lambda t: [face(9, 'alice', 100)], EVENT_T - 2 * S, EVENT_T + 2 * S,
                  step=200 * MS)
    late = actions(replay)
    assert [(a.customer_id, a.outcome, a.quantity, a.resolves_event_id) for a in late] == [
        ('alice', ASSIGNED, 1, 'ev-1')]
    assert late[0].event_id == 'ev-1' + LATE_SUFFIX and late[0].stamp_ns == EVENT_T
    counters = sum((e.counters for e in replay), start=type(replay[0].counters)())
    assert counters['decided_with_late_frames'] == 1
    assert counters['stale_face_frames'] == 3  # -2.0, -1.8, -1.6 s had been sent before
    assert eng.held == []


def test_late_frames_are_judged_as_on_time_ones_two_at_the_lane_stay_held():
    eng = engine()
    eng.on_door_event(True, 'bob', EVENT_T - 20 * S)
    _crash_at_the_reach(eng)
    replay = play(eng, lambda t: [face(8, 'alice', 90), face(9, 'bob', 120)],
                  EVENT_T - 400 * MS, EVENT_T + 2 * S, step=200 * MS)
    assert actions(replay) == [] and len(eng.held) == 1


def test_a_pick_without_its_frames_is_given_up_once_its_camera_is_well_past_it():
    eng = engine()
    _crash_at_the_reach(eng)
    play(eng, lambda t: [], EVENT_T - 400 * MS, EVENT_T + 10 * S, step=500 * MS)
    assert len(eng.held) == 1 and eng.tick(EVENT_T + 11 * S).counters['held_not_resolved'] == 0
    play(eng, lambda t: [], EVENT_T + 10_500 * MS, EVENT_T + 12 * S, step=500 * MS)
    assert eng.tick(EVENT_T + 13 * S).counters['held_not_resolved'] == 1 and eng.held == []


# ---------------------------------------------------------------- identified later

def _held_now(eng, track=7):
    """A pick whose only face near the lane is unknown: held."""
    take(eng)
    play(eng, lambda t: [face(track, '', 100)], EVENT_T - 1000 * MS, EVENT_T + 600 * MS)
    assert len(eng.held) == 1


def _held_for_an_unknown_face(eng, track=7):
    """The same, given up after the late attribution time (10 s here), kept waiting for its
    track's name."""
    _held_now(eng, track)
    play(eng, lambda t: [], EVENT_T + 1 * S, EVENT_T + 12 * S)
    eng.tick(EVENT_T + 12 * S)
    assert eng.held == [] and len(eng.awaiting) == 1


def test_a_track_named_after_it_ended_settles_the_pick_and_moves_the_visit_start():
    """Nobody identified the shopper before the exit: the exit camera names him a minute
    later (a late entry there), then the face node names the shelf track that ended unknown
    (its visit memory). The held pick goes on his cart once, and the stay moves back to the
    track's first image, so the store moves the visit's start there."""
    eng = engine()
    _held_for_an_unknown_face(eng)
    exit_t = EVENT_T + 60 * S
    seen = play(eng, lambda t: [face(40, 'bob', 100)], exit_t, exit_t + 1 * S, camera='cam_exit')
    assert [(p.kind, p.stamp_ns) for p in presence_events(seen)] == [(SEEN, exit_t)]
    first = EVENT_T - 1000 * MS
    effects = eng.on_track_identity(CAM, 7, 'bob', first, EVENT_T + 600 * MS, 0.8)
    assert [(p.kind, p.customer_id, p.stamp_ns) for p in effects.presence] == [
        (SEEN, 'bob', first)]
    late = effects.actions
    assert [(a.customer_id, a.outcome, a.quantity, a.resolves_event_id) for a in late] == [
        ('bob', ASSIGNED, 1, 'ev-1')]
    assert eng.awaiting == []
    again = eng.on_track_identity(CAM, 7, 'bob', first, EVENT_T + 600 * MS, 0.8)
    assert again.actions == [] and again.counters['duplicate_track_identities'] == 1


def test_a_named_track_that_was_not_the_nearest_face_settles_nothing():
    eng = engine()
    eng.on_door_event(True, 'alice', EVENT_T - 20 * S)
    _held_for_an_unknown_face(eng)
    effects = eng.on_track_identity(CAM, 8, 'alice', EVENT_T - 1 * S, EVENT_T, 0.8)
    assert effects.actions == [] and len(eng.awaiting) == 1


def test_a_name_for_a_track_still_held_counts_like_a_late_name():
    eng = engine()
    eng.on_door_event(True, 'alice', EVENT_T - 20 * S)
    _held_now(eng)
    effects = eng.on_track_identity(CAM, 7, 'alice', EVENT_T - 1000 * MS, EVENT_T + 600 * MS,
                                    0.8)
    assert [(a.customer_id, a.resolves_event_id) for a in effects.actions] == [
        ('alice', 'ev-1')]
    assert eng.held == []


def test_a_pick_waits_for_a_name_only_identity_wait_ns():
    eng = engine(EngineSettings(decision_timeout_ns=1 * S, buffer_horizon_ns=30 * S,
                                late_attribution_ns=10 * S, identity_wait_ns=20 * S))
    _held_for_an_unknown_face(eng)
    play(eng, lambda t: [], EVENT_T + 13 * S, EVENT_T + 33 * S, step=1 * S)
    effects = eng.tick(EVENT_T + 33 * S)
    assert eng.awaiting == [] and effects.counters['identity_wait_expired'] == 1
    late = eng.on_track_identity(CAM, 7, 'bob', EVENT_T - 1 * S, EVENT_T, 0.8)
    assert late.actions == []


def test_a_track_named_after_the_exit_still_settles_the_pick():
    """The exit door spoke before the face node named the shelf track: the closed stay moves
    back all the same (the store amends the receipt)."""
    eng = engine()
    _held_for_an_unknown_face(eng)
    exit_t = EVENT_T + 60 * S
    play(eng, lambda t: [face(40, 'bob', 100)], exit_t, exit_t + 1 * S, camera='cam_exit')
    eng.on_door_event(False, 'bob', exit_t + 1 * S, 'cam_exit')
    effects = eng.on_track_identity(CAM, 7, 'bob', EVENT_T - 1 * S, EVENT_T + 600 * MS, 0.8)
    assert [(p.kind, p.stamp_ns) for p in effects.presence] == [(SEEN, EVENT_T - 1 * S)]
    assert [(a.customer_id, a.resolves_event_id) for a in effects.actions] == [('bob', 'ev-1')]


def test_a_take_named_later_is_not_charged_while_a_put_back_of_the_item_is_held():
    """Bob took a cola and put one back where no camera saw a face: settling the take alone
    would charge him for a cola he may have put back (measured in the hard bench)."""
    eng = engine()
    _held_for_an_unknown_face(eng)
    back_t = EVENT_T + 15 * S
    take(eng, delta=+1, event_id='ev-back', t=back_t)
    effects = play(eng, lambda t: [], back_t - 1 * S, back_t + 1 * S)
    assert [(a.event_id, a.customer_id) for a in actions(effects)] == [('ev-back', '')]
    late = eng.on_track_identity(CAM, 7, 'bob', EVENT_T - 1 * S, EVENT_T + 600 * MS, 0.8)
    assert late.actions == [] and late.counters['identified_later_after_held_put_back'] == 1
    assert len(eng.awaiting) == 1
