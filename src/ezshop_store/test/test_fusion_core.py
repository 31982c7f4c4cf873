"""Fusion scoring and decisions, pure Python (no ROS)."""

from ezshop_common.boxes import Box
from ezshop_store.fusion_core import (
    AMBIGUOUS_ASSIGNED,
    AMBIGUOUS_HELD,
    ASSIGNED,
    HELD_OUTCOMES,
    LOW_CONFIDENCE_HELD,
    POLICY_ASSIGN_BEST,
    POLICY_HOLD,
    UNATTRIBUTED,
    Face,
    FaceBuffer,
    Frame,
    FusionParams,
    ShelfChange,
    decide,
    lane_nearness,
    names_that_follow,
    ready_to_decide,
    renamed_tracks,
    run_names,
)

MS = 1_000_000
CAM = 'cam_shelf_a'
# Reach zones of cam_shelf_a in config/store.yaml: lane_1 x 0..213, lane_2 213..427, lane_3 427..640.
ZONES = {'lane_1': Box(0, 60, 213, 300), 'lane_2': Box(213, 60, 214, 300),
         'lane_3': Box(427, 60, 213, 300)}
PARAMS = FusionParams(window_before_ns=1000 * MS, window_after_ns=500 * MS)
EVENT_T = 10_000 * MS


def face(track, customer, cx, cy=200, size=80):
    return Face(track, customer, Box(cx - size / 2, cy - size / 2, size, size))


def frames(faces_at, start=EVENT_T - 1000 * MS, end=EVENT_T + 500 * MS, step=66 * MS):
    """Frames every 66 ms over [start, end]; faces_at(t) -> faces in that frame."""
    out, t = [], start
    while t <= end:
        out.append(Frame(CAM, t, tuple(faces_at(t))))
        t += step
    return out


def change(lane='lane_1', delta=-1, item='cola'):
    return ShelfChange('ev-1', EVENT_T, 'shelf_a', lane, item, delta)


def run(frames_list, lane='lane_1', delta=-1, in_store=('alice', 'bob'), holdings=None,
        params=PARAMS, item='cola'):
    buffer = FaceBuffer(horizon_ns=10_000 * MS)
    for frame in frames_list:
        buffer.add(frame)
    window = buffer.window(CAM, EVENT_T - params.window_before_ns,
                           EVENT_T + params.window_after_ns)
    near = lane_nearness({CAM: window}, {CAM: ZONES[lane]}, params.distance_scale_px)
    return near.scores, decide(change(lane, delta, item), near.scores, in_store,
                               holdings or {}, params, near.peaks, near.contested)


def test_one_shopper_at_the_lane_is_charged():
    scores, decision = run(frames(lambda t: [face(1, 'alice', 100)]))
    assert scores['alice'] > 0.95
    assert decision.outcome == ASSIGNED and decision.customer_id == 'alice'
    assert decision.quantity == 1 and not decision.ambiguous
    assert decision.candidates[0][0] == 'alice'


def test_two_shoppers_at_the_same_lane_are_held_by_default_with_both_candidates():
    held = run(frames(lambda t: [face(1, 'alice', 90), face(2, 'bob', 120)]))[1]
    assert PARAMS.ambiguous_policy == POLICY_HOLD
    assert held.outcome == AMBIGUOUS_HELD and held.customer_id == '' and held.ambiguous
    assert held.held
    assert {c for c, _ in held.candidates} == {'alice', 'bob'}
    _, decision = run(frames(lambda t: [face(1, 'alice', 90), face(2, 'bob', 120)]),
                      params=FusionParams(window_before_ns=1000 * MS, window_after_ns=500 * MS,
                                          ambiguous_policy=POLICY_ASSIGN_BEST))
    assert decision.ambiguous and decision.outcome == AMBIGUOUS_ASSIGNED
    assert decision.customer_id == 'alice'


def test_a_clear_lead_with_low_confidence_is_held_not_charged():
    # alice inside the zone half the window, bob nearby all the time: alice leads by more than
    # the margin, but her confidence (score x lead) is below min_confidence.
    def faces_at(t):
        return [face(1, 'alice', 100 if t > EVENT_T - 250 * MS else 560),
                face(2, 'bob', 330)]
    params = FusionParams(window_before_ns=1000 * MS, window_after_ns=500 * MS,
                          min_confidence=0.6)
    scores, decision = run(frames(faces_at), params=params)
    assert scores['alice'] - scores['bob'] >= params.ambiguity_margin
    assert decision.outcome == LOW_CONFIDENCE_HELD and decision.customer_id == ''
    assert decision.confidence < 0.6 and decision.held
    _, charged = run(frames(faces_at))
    assert charged.customer_id == 'alice' and not charged.held


def test_a_track_named_after_the_window_counts_when_named_late():
    unknown = frames(lambda t: [face(7, '', 100)])
    buffer = FaceBuffer(horizon_ns=10_000 * MS)
    for frame in unknown:
        buffer.add(frame)
    window = {CAM: buffer.window(CAM, EVENT_T - 1000 * MS, EVENT_T + 500 * MS)}
    scores, peaks, _ = lane_nearness(window, {CAM: ZONES['lane_1']}, 60.0)
    first = decide(change(), scores, ('alice',), {}, PARAMS, peaks)
    assert first.outcome == UNATTRIBUTED
    scores, peaks, _ = lane_nearness(window, {CAM: ZONES['lane_1']}, 60.0,
                                     {(CAM, 7): 'alice'})
    late = decide(change(), scores, ('alice',), {}, PARAMS, peaks)
    assert late.outcome == ASSIGNED and late.customer_id == 'alice'


def test_two_shoppers_at_neighbouring_lanes_each_get_their_own():
    both = frames(lambda t: [face(1, 'alice', 100), face(2, 'bob', 320)])
    _, at_lane_1 = run(both, lane='lane_1')
    _, at_lane_2 = run(both, lane='lane_2')
    assert (at_lane_1.customer_id, at_lane_1.ambiguous) == ('alice', False)
    assert (at_lane_2.customer_id, at_lane_2.ambiguous) == ('bob', False)


def test_someone_walking_past_loses_to_the_one_who_stayed():
    def faces_at(t):
        found = [face(1, 'alice', 560)]  # stands at lane_3 all the time
        if abs(t - EVENT_T) < 150 * MS:  # bob crosses lane_3 for ~4 frames
            found.append(face(2, 'bob', 520))
        return found
    scores, decision = run(frames(faces_at), lane='lane_3', item='sandwich')
    assert scores['alice'] > 3 * scores['bob']
    assert decision.customer_id == 'alice' and not decision.ambiguous


def test_walking_past_alone_is_below_the_minimum_and_unattributed():
    def faces_at(t):
        return [face(2, 'bob', 520)] if abs(t - EVENT_T) < 70 * MS else []
    _, decision = run(frames(faces_at), lane='lane_3', item='sandwich')
    assert decision.outcome == UNATTRIBUTED and decision.customer_id == ''


def test_stale_frames_outside_the_window_do_not_count():
    old = frames(lambda t: [face(1, 'alice', 100)], start=EVENT_T - 5000 * MS,
                 end=EVENT_T - 2000 * MS)
    now = frames(lambda t: [])
    _, decision = run(old + now)
    assert decision.outcome == UNATTRIBUTED


def test_no_frames_at_all_is_unattributed():
    scores, decision = run([])
    assert scores == {}
    assert decision.outcome == UNATTRIBUTED and decision.candidates == ()


def test_customer_not_in_store_is_never_chosen():
    _, decision = run(frames(lambda t: [face(1, 'alice', 100), face(2, 'bob', 150)]),
                      in_store=('bob',))
    assert decision.customer_id == 'bob'
    assert 'alice' not in {c for c, _ in decision.candidates}


def test_unknown_face_nearest_makes_it_unattributed():
    _, decision = run(frames(lambda t: [face(7, '', 100), face(2, 'bob', 330)]))
    assert decision.outcome == UNATTRIBUTED and decision.customer_id == ''
    assert decision.candidates[0][0].startswith('unknown:')


def test_track_identified_mid_window_counts_for_the_customer():
    _, decision = run(frames(lambda t: [face(1, 'alice' if t > EVENT_T else '', 100)]))
    assert decision.customer_id == 'alice'


def test_put_back_prefers_the_nearby_holder():
    both = frames(lambda t: [face(1, 'alice', 90), face(2, 'bob', 200)])
    _, decision = run(both, delta=+1, holdings={'bob': {'cola': 1}})
    assert decision.customer_id == 'bob' and decision.quantity == -1
    assert not decision.ambiguous


def test_frames_arriving_out_of_order_are_kept_in_stamp_order():
    buffer = FaceBuffer(horizon_ns=1000 * MS)
    for stamp in (300, 100, 200):
        buffer.add(Frame(CAM, stamp * MS, ()))
    assert [f.stamp_ns for f in buffer.window(CAM, 0, 10**12)] == [100 * MS, 200 * MS, 300 * MS]
    buffer.add(Frame(CAM, 1500 * MS, ()))
    assert [f.stamp_ns for f in buffer.window(CAM, 0, 10**12)] == [1500 * MS]


def test_ready_only_when_every_covering_camera_reached_the_window_end():
    latest = {'cam_a': EVENT_T + 600 * MS, 'cam_b': EVENT_T + 100 * MS}
    assert ready_to_decide(EVENT_T, 500 * MS, latest, ['cam_a'])
    assert not ready_to_decide(EVENT_T, 500 * MS, latest, ['cam_a', 'cam_b'])
    assert not ready_to_decide(EVENT_T, 500 * MS, latest, ['cam_c'])


def test_a_walk_in_broken_into_pieces_still_outscores_a_customer_standing_by():
    # The walk-in's face (reaching into lane_1) is tracked as three pieces one after the other;
    # alice stands beside the zone all the time. Scored piece by piece, alice would win.
    def faces_at(t):
        piece = 7 if t < EVENT_T - 500 * MS else 8 if t < EVENT_T else 9
        return [face(piece, '', 100 + (piece - 7) * 10), face(1, 'alice', 260, cy=90)]
    scores, decision = run(frames(faces_at), in_store=('alice',))
    assert decision.outcome == UNATTRIBUTED and decision.customer_id == ''
    assert decision.candidates[0][0] == f'unknown:{CAM}:7'
    assert scores[f'unknown:{CAM}:7'] > 0.9 > scores['alice']


def test_a_customer_tracked_in_two_pieces_counts_once_for_the_whole_window():
    def faces_at(t):
        return [face(3 if t < EVENT_T else 4, 'alice', 100)]
    scores, decision = run(frames(faces_at))
    assert scores['alice'] > 0.95 and decision.customer_id == 'alice'


def test_unknown_pieces_far_apart_or_overlapping_are_different_people():
    def faces_at(t):
        found = [face(5, '', 100)]
        if t >= EVENT_T:  # starts while 5 is still there: someone else
            found.append(face(6, '', 120))
        if t < EVENT_T - 500 * MS:
            found.append(face(7, '', 560))
        elif t >= EVENT_T - 400 * MS:  # follows 7 in time, but across the image
            found.append(face(8, '', 330))
        return found
    scores, _ = run(frames(faces_at))
    assert {f'unknown:{CAM}:{n}' for n in (5, 6, 7, 8)} == set(scores)


def test_a_named_track_is_never_continued_by_an_unknown_one():
    # alice leaves the lane, an unknown face steps into her place at once: not alice.
    def faces_at(t):
        return [face(1, 'alice', 100)] if t < EVENT_T - 700 * MS else [face(2, '', 100)]
    scores, decision = run(frames(faces_at))
    assert decision.outcome == UNATTRIBUTED
    assert scores[f'unknown:{CAM}:2'] > scores['alice']


def test_a_customer_who_never_reached_is_not_charged_for_a_taker_the_cameras_missed():
    # alice stands just beside lane_1 the whole window (near enough to score, never in the
    # zone); the taker's face was never detected. Charging alice would be a guess.
    scores, decision = run(frames(lambda t: [face(1, 'alice', 250)]), in_store=('alice',))
    assert scores['alice'] >= PARAMS.min_score
    assert decision.outcome == LOW_CONFIDENCE_HELD and decision.customer_id == ''
    assert 'never at the lane' in decision.reason
    # Standing just above the zone (20 px: where a shopper stands before leaning in) is not
    # reaching either.
    beside = run(frames(lambda t: [face(1, 'alice', 100, cy=40)]), in_store=('alice',))[1]
    assert beside.outcome == LOW_CONFIDENCE_HELD
    # The same shopper stepping into the zone for a moment is charged.
    def reaching(t):
        return [face(1, 'alice', 100 if abs(t - EVENT_T) < 100 * MS else 270)]
    assert run(frames(reaching), in_store=('alice',))[1].customer_id == 'alice'


def test_unnamed_faces_count_for_the_name_that_follows_them_on_the_track():
    assert run_names(['', 'a', '', 'a', '', 'b', '']) == ['a', 'a', 'a', 'a', 'b', 'b', '']
    assert run_names(['', '']) == ['', '']


def test_a_track_that_loses_its_name_counts_for_nobody_after():
    # alice's track passes to a walk-in who leans into lane_1 (alice is pushed aside and gets a
    # new track): the face node drops the name once the walk-in's votes come in. The reach is
    # the walk-in's, not alice's.
    def faces_at(t):
        if t < EVENT_T - 800 * MS:
            return [face(1, 'alice', 260, cy=90)]
        named = 'alice' if t < EVENT_T - 600 * MS else ''
        return [face(1, named, 100), face(2, 'alice', 300, cy=60)]
    scores, decision = run(frames(faces_at), in_store=('alice',))
    assert decision.outcome == UNATTRIBUTED and decision.customer_id == ''
    assert scores[f'unknown:{CAM}:1'] > scores['alice']


def test_late_names_name_a_chain_of_unknown_pieces_when_they_agree():
    def faces_at(t):
        return [face(7 if t < EVENT_T else 8, '', 100)]
    window = {CAM: frames(faces_at)}
    late = lane_nearness(window, {CAM: ZONES['lane_1']}, 60.0, {(CAM, 8): 'alice'}).scores
    assert late['alice'] > 0.95 and len(late) == 1
    both = lane_nearness(window, {CAM: ZONES['lane_1']}, 60.0,
                         {(CAM, 7): 'bob', (CAM, 8): 'alice'}).scores
    assert set(both) == {f'unknown:{CAM}:7'}


def test_an_unknown_face_nearest_a_put_back_keeps_it_held_not_credited_to_a_holder():
    both = frames(lambda t: [face(7, '', 100), face(2, 'bob', 250)])
    scores, decision = run(both, delta=+1, holdings={'bob': {'cola': 1}})
    assert scores['bob'] >= PARAMS.min_score  # bob is a candidate, just not the nearest
    assert decision.outcome == UNATTRIBUTED and decision.customer_id == ''


def test_a_put_back_by_someone_clearly_nearer_than_the_holder_is_not_credited_to_the_holder():
    # alice puts back at lane_1 (her own take was held, so the carts say she holds none); bob
    # holds cola and stands off the zone: bob must not be credited.
    both = frames(lambda t: [face(1, 'alice', 100), face(2, 'bob', 250)])
    scores, decision = run(both, delta=+1, holdings={'bob': {'cola': 1}})
    assert scores['bob'] >= PARAMS.min_score
    assert decision.customer_id != 'bob'


def _track_swap(before=(60, 40), clash_at=EVENT_T - 500 * MS, bob_x=100):
    """Track 1 is alice at ``before`` (x, cy), then in the lane from ``clash_at`` while a new
    track 2 names alice where she stands; from EVENT_T + 200 ms track 1 is named bob, at
    ``bob_x``."""
    def faces_at(t):
        if t < clash_at:
            return [face(1, 'alice', before[0], cy=before[1])]
        if t < EVENT_T + 200 * MS:
            return [face(1, 'alice', 100, cy=200), face(2, 'alice', 60, cy=40)]
        return [face(1, 'bob', bob_x, cy=200), face(2, 'alice', 60, cy=40)]
    return run(frames(faces_at))


def test_a_name_on_two_faces_at_once_is_not_charged_the_track_s_next_name_is():
    # Seen in the hard bench: bob leans in front of alice to take the cola; alice's track
    # follows bob's face into the lane (still named alice) while a new track finds alice where
    # she stands and names her too. Then alice's old track is identified again: bob. Alice is
    # not charged for bob's reach; from the moment alice was seen elsewhere the old track was
    # bob's face (it went straight on under his name), so the reach is his.
    scores, decision = _track_swap()
    assert scores['alice'] < 0.5 < scores['bob']
    assert decision.outcome == ASSIGNED and decision.customer_id == 'bob'


def test_a_reach_before_the_name_was_seen_elsewhere_is_not_handed_to_the_next_name():
    # Alice reaches under her own name; as she steps back, bob steps in to the same place and
    # her track stays on his face (later named bob) while a new track finds alice. The reach
    # came before alice was seen elsewhere: it is not bob's, and nobody is charged.
    scores, decision = _track_swap(before=(100, 200), clash_at=EVENT_T)
    assert scores['bob'] < scores[f'unknown:{CAM}:1']
    assert decision.outcome in HELD_OUTCOMES and decision.customer_id == ''


def test_a_wrong_name_s_faces_are_not_handed_to_a_name_the_track_got_elsewhere():
    # As the first test, but bob's name comes after the track jumped a shelf-width away: the
    # faces under alice's name are not handed on, they stay unknown, and nobody is charged.
    scores, decision = _track_swap(bob_x=400)
    assert scores.get('bob', 0.0) < scores[f'unknown:{CAM}:1']
    assert decision.outcome in HELD_OUTCOMES and decision.customer_id == ''


def test_a_name_on_two_faces_nobody_has_lost_yet_is_contested_and_held():
    # Both tracks still carry alice at the decision: which one is wrong is not known yet.
    def faces_at(t):
        if t < EVENT_T - 500 * MS:
            return [face(1, 'alice', 60, cy=40)]
        return [face(1, 'alice', 100, cy=200), face(2, 'alice', 60, cy=40)]
    _, decision = run(frames(faces_at))
    assert decision.outcome == LOW_CONFIDENCE_HELD and decision.customer_id == ''
    assert 'two faces' in decision.reason


def test_a_stranger_taken_for_a_customer_loses_the_name_after_the_window():
    # A walk-in at the lane is taken for alice while alice stands at the next lane; the walk-in's
    # track loses the name a second after the window: the reach is the stranger's.
    def faces_at(t):
        return [face(1, 'alice', 100, cy=200), face(2, 'alice', 320, cy=40)]
    window = frames(faces_at)
    after = [Frame(CAM, EVENT_T + 600 * MS + i * 100 * MS,
                   (face(1, '', 100, cy=200), face(2, 'alice', 320, cy=40))) for i in range(8)]
    renamed = renamed_tracks(CAM, window + after, EVENT_T + 500 * MS)
    assert renamed == {(CAM, 1)}
    near = lane_nearness({CAM: window}, {CAM: ZONES['lane_1']}, 60.0, renamed=renamed)
    assert not near.contested and near.scores[f'unknown:{CAM}:1'] > 0.9
    decision = decide(change(), near.scores, ('alice',), {}, PARAMS, near.peaks, near.contested)
    assert decision.outcome == UNATTRIBUTED
    # Without what came after, the name is contested: held, never charged.
    near = lane_nearness({CAM: window}, {CAM: ZONES['lane_1']}, 60.0)
    assert near.contested == {'alice'}


def test_a_vote_still_settling_at_the_newest_frame_is_not_a_lost_name():
    window = [Frame(CAM, EVENT_T + i * 100 * MS, (face(1, 'alice', 100),)) for i in range(5)]
    after = [Frame(CAM, EVENT_T + 500 * MS + i * 100 * MS, (face(1, '', 100),))
             for i in range(1, 4)]
    assert renamed_tracks(CAM, window + after, EVENT_T + 400 * MS) == frozenset()
    longer = after + [Frame(CAM, EVENT_T + 1200 * MS, (face(1, '', 100),))]
    assert renamed_tracks(CAM, window + longer, EVENT_T + 400 * MS) == {(CAM, 1)}


def test_a_track_left_behind_by_a_fast_move_does_not_contest_the_name():
    # alice steps from the next lane into this one: a new track picks her up at the lane
    # while her old track lingers a few frames where she stood, then ends (in the window, or
    # after it: the track's fate).
    def faces_at(t):
        if t < EVENT_T - 700 * MS:
            return [face(1, 'alice', 320, cy=40)]
        if t < EVENT_T - 500 * MS:
            return [face(1, 'alice', 320, cy=40), face(2, 'alice', 100, cy=200)]
        return [face(2, 'alice', 100, cy=200)]
    _, decision = run(frames(faces_at))
    assert decision.outcome == ASSIGNED and decision.customer_id == 'alice'


def test_a_track_that_goes_on_to_the_window_end_was_not_left_behind():
    # Both faces named alice until the window's end, one of them walks off just after it: not
    # a stale track (that one ends inside the window), so the name stays contested.
    def faces_at(t):
        return [face(1, 'alice', 320, cy=40), face(2, 'alice', 100, cy=200)]
    window = frames(faces_at)
    after = [Frame(CAM, EVENT_T + 600 * MS, (face(2, 'alice', 100, cy=200),))]
    renamed = renamed_tracks(CAM, window + after, EVENT_T + 500 * MS)
    assert renamed == frozenset()
    near = lane_nearness({CAM: window}, {CAM: ZONES['lane_1']}, 60.0, renamed=renamed)
    assert near.contested == {'alice'}


def test_two_faces_of_one_unknown_chain_are_not_a_contested_name():
    def faces_at(t):
        return [face(1, 'alice', 100, cy=200), face(2, '', 300, cy=40), face(3, '', 500)]
    _, decision = run(frames(faces_at))
    assert decision.outcome == ASSIGNED and decision.customer_id == 'alice'


def test_one_face_followed_by_two_tracks_is_not_a_contested_name():
    # A template-followed track and a new detection of the same face, side by side.
    def faces_at(t):
        return [face(1, 'alice', 100, cy=200), face(2, 'alice', 130, cy=210)]
    _, decision = run(frames(faces_at))
    assert decision.outcome == ASSIGNED and decision.customer_id == 'alice'


def test_a_late_name_the_track_got_beside_another_track_of_that_name_does_not_count():
    # A walk-in's unknown track, left behind when they walk off, lands on alice standing
    # there: it is named alice while alice's own track is still there.
    frames_list = [Frame(CAM, EVENT_T + i * 100 * MS,
                         (face(1, '' if i < 20 else 'alice', 500),
                          face(2, 'alice', 510))) for i in range(30)]
    assert names_that_follow(frames_list, EVENT_T) == {2: 'alice'}
    alone = [Frame(f.camera_id, f.stamp_ns, f.faces[:1]) for f in frames_list]
    assert names_that_follow(alone, EVENT_T) == {1: 'alice'}


def test_a_name_the_track_loses_to_another_name_in_the_window_is_not_charged():
    # Alice stands back; bob leans in to the lane and the tracker carries alice's track (and
    # name) onto his face; alice's own face is not recognised. Bob's votes rename the track
    # within the window: when the track changed faces is not known, so nobody is charged.
    def faces_at(t):
        return [face(1, 'alice' if t < EVENT_T + 300 * MS else 'bob', 100, cy=200),
                face(2, '', 300, cy=40)]
    _, decision = run(frames(faces_at))
    assert decision.outcome in HELD_OUTCOMES and decision.customer_id == ''
    # The same track keeping alice's name to the window's end is alice's reach.
    _, decision = run(frames(lambda t: [face(1, 'alice', 100, cy=200), face(2, '', 300, cy=40)]))
    assert decision.outcome == ASSIGNED and decision.customer_id == 'alice'


def test_a_late_name_shared_with_a_second_track_on_the_same_face_counts():
    # Alice's track is lost before the pick; she leans in as a new, unknown track (the camera
    # is too slow to name her in time); once her new track is named, her old track comes
    # back on the same face, also named alice: one face followed twice, not a borrowed name.
    frames_list = [Frame(CAM, EVENT_T - 2000 * MS, (face(1, 'alice', 300),))]
    frames_list += [Frame(CAM, EVENT_T + i * 100 * MS, (face(2, '', 100),)) for i in range(10)]
    frames_list += [Frame(CAM, EVENT_T + 1000 * MS, (face(2, 'alice', 120),
                                                      face(1, 'alice', 130)))]
    assert names_that_follow(frames_list, EVENT_T + 500 * MS).get(2) == 'alice'
    # ... but where alice's old track comes back a face width away, the name was borrowed.
    frames_list[-1] = Frame(CAM, EVENT_T + 1000 * MS, (face(2, 'alice', 120),
                                                        face(1, 'alice', 300)))
    assert 2 not in names_that_follow(frames_list, EVENT_T + 500 * MS)


def test_a_name_a_track_got_somewhere_else_is_not_the_unknown_face():
    # A walk-in reaches (unknown), walks off; the track slides onto alice standing two face
    # widths away and names her there.
    def x_at(i):
        return 100 if i < 15 else min(100 + (i - 15) * 20, 300)
    slid = [Frame(CAM, EVENT_T + i * 100 * MS, (face(1, '' if i < 30 else 'alice', x_at(i)),))
            for i in range(35)]
    assert names_that_follow(slid, EVENT_T + 500 * MS) == {}
    stayed = [Frame(CAM, EVENT_T + i * 100 * MS, (face(1, '' if i < 30 else 'alice', 100),))
              for i in range(35)]
    assert names_that_follow(stayed, EVENT_T + 500 * MS) == {1: 'alice'}


def test_the_name_after_a_borrowed_one_counts_only_where_the_face_was():
    # Track 1 carries alice into the reach while track 2 carries her a shelf-width away;
    # after the window track 1 is renamed bob: where the face was, bob is the late name; a
    # bob found a face width away is not.
    def frames_with(bob_x):
        out = [Frame(CAM, EVENT_T + i * 100 * MS,
                     (face(1, 'alice', 100, cy=200), face(2, 'alice', 400, cy=40)))
               for i in range(-5, 6)]
        out += [Frame(CAM, EVENT_T + i * 100 * MS,
                      (face(1, 'bob', bob_x, cy=200), face(2, 'alice', 400, cy=40)))
                for i in range(6, 10)]
        return out
    assert names_that_follow(frames_with(100), EVENT_T + 500 * MS).get(1) == 'bob'
    assert 1 not in names_that_follow(frames_with(200), EVENT_T + 500 * MS)
