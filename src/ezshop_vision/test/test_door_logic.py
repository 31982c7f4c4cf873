"""Door decisions: one event per pass, several people at once, cooldown, unknown persons."""

from ezshop_vision.door_logic import KIND_PASS, KIND_UNKNOWN, DoorLogic, DoorSettings, FaceSeen

SETTINGS = DoorSettings(min_face_height_px=80, min_steady_s=0.5, max_gap_s=0.5,
                        cooldown_s=10.0, unknown_after_s=2.0, forget_after_s=5.0,
                        min_track_s=0.2)


def _run(logic, frames):
    """frames: list of (stamp, [FaceSeen...]); returns every decision."""
    out = []
    for stamp, faces in frames:
        out += logic.update(stamp, faces)
    return out


def _walk(track_id, customer, start, seconds, height=120.0, fps=10):
    return [(start + i / fps, [FaceSeen(track_id, customer, height, 0.8)])
            for i in range(int(seconds * fps))]


def test_one_event_per_pass_however_long_the_face_stays():
    decisions = _run(DoorLogic(SETTINGS), _walk(1, 'ada', 0.0, 4.0))
    assert [(d.kind, d.customer_id, d.track_id) for d in decisions] == [(KIND_PASS, 'ada', 1)]
    assert abs(decisions[0].stamp - 0.5) < 1e-6
    assert abs(decisions[0].confidence - 0.8) < 1e-6


def test_far_or_brief_faces_make_no_event():
    logic = DoorLogic(SETTINGS)
    assert _run(logic, _walk(1, 'ada', 0.0, 3.0, height=50) + [(4.0, [])]) == []
    assert _run(logic, _walk(2, 'bob', 10.0, 0.15) + [(11.0, [])]) == []


def test_a_group_member_named_only_as_they_leave_still_passes():
    """Four at the door: the fourth is hidden behind the first, then seen for 0.3 s at a few
    frames per second, named in the last frame, and gone: the pass counts when the track ends."""
    frames = [(0.0, [FaceSeen(9, '', 125, 0.0)]), (0.3, [FaceSeen(9, 'dan', 125, 0.7)]),
              (0.6, []), (0.9, []), (1.2, [])]
    logic = DoorLogic(SETTINGS)
    decisions = _run(logic, frames)
    assert [(d.kind, d.customer_id, d.track_id, d.stamp) for d in decisions] == [
        (KIND_PASS, 'dan', 9, 0.3)]
    assert logic.stats.passes_at_track_end == 1
    # Nobody gets it twice: the same pass found again by another track is in the cooldown.
    assert _run(logic, _walk(10, 'dan', 1.3, 1.0)) == []


def test_a_track_leaving_far_or_unnamed_is_no_pass():
    far = [(0.0, [FaceSeen(1, 'ada', 120, 0.8)]), (0.3, [FaceSeen(1, 'ada', 60, 0.8)]),
           (1.0, [])]
    unnamed = [(5.0, [FaceSeen(2, '', 120, 0.0)]), (5.3, [FaceSeen(2, '', 120, 0.0)]),
               (6.0, [])]
    assert _run(DoorLogic(SETTINGS), far + unnamed) == []


def test_a_gap_restarts_the_steady_time():
    frames = _walk(1, 'ada', 0.0, 0.4) + _walk(1, 'ada', 1.2, 0.4)
    assert _run(DoorLogic(SETTINGS), frames) == []


def test_two_people_together_each_get_one_event():
    frames = []
    for i in range(20):
        t = i / 10
        frames.append((t, [FaceSeen(1, 'ada', 120, 0.9), FaceSeen(2, 'bob', 110, 0.7),
                           FaceSeen(3, '', 40, 0.0)]))
    decisions = _run(DoorLogic(SETTINGS), frames)
    assert sorted(d.customer_id for d in decisions) == ['ada', 'bob']
    assert all(d.kind == KIND_PASS for d in decisions)


def test_cooldown_suppresses_a_re_found_track_of_the_same_pass():
    logic = DoorLogic(SETTINGS)
    frames = _walk(1, 'ada', 0.0, 1.0) + _walk(7, 'ada', 1.5, 1.0)
    assert [d.track_id for d in _run(logic, frames)] == [1]
    assert logic.stats.suppressed_by_cooldown == 1
    # A new pass after the cooldown counts again.
    assert [d.customer_id for d in _run(logic, _walk(9, 'ada', 30.0, 1.0))] == ['ada']


def test_identity_must_be_steady_too():
    frames = [(i / 10, [FaceSeen(1, 'ada' if i % 2 else 'bob', 120, 0.5)]) for i in range(20)]
    assert _run(DoorLogic(SETTINGS), frames) == []


def test_close_unknown_face_raises_one_unknown_person():
    logic = DoorLogic(SETTINGS)
    decisions = _run(logic, _walk(4, '', 0.0, 5.0))
    assert [(d.kind, d.track_id) for d in decisions] == [(KIND_UNKNOWN, 4)]
    assert 2.0 <= decisions[0].stamp < 2.2


def test_face_identified_before_the_unknown_delay_is_no_unknown_person():
    frames = _walk(4, '', 0.0, 1.0) + _walk(4, 'ada', 1.0, 3.0)
    decisions = _run(DoorLogic(SETTINGS), frames)
    assert [(d.kind, d.customer_id) for d in decisions] == [(KIND_PASS, 'ada')]


def test_out_of_order_frames_are_counted_and_ignored():
    logic = DoorLogic(SETTINGS)
    _run(logic, _walk(1, 'ada', 5.0, 0.2))
    assert logic.update(1.0, [FaceSeen(1, 'ada', 120, 1.0)]) == []
    assert logic.stats.out_of_order == 1


def test_a_track_taken_over_by_the_next_person_gives_their_pass_too():
    """Ada passes; Bob steps into her place and the tracker keeps her track id: once the face
    pipeline renames the track, Bob's pass is his own event (not swallowed as Ada's)."""
    frames = _walk(4, 'ada', 0.0, 1.0) + _walk(4, '', 1.1, 0.2) + _walk(4, 'bob', 1.3, 1.0)
    decisions = _run(DoorLogic(SETTINGS), frames)
    assert [(d.customer_id, d.track_id) for d in decisions] == [('ada', 4), ('bob', 4)]


def test_identity_flicker_on_one_track_is_still_one_pass():
    frames = _walk(4, 'ada', 0.0, 1.0) + _walk(4, '', 1.0, 0.2) + _walk(4, 'ada', 1.2, 1.0)
    assert [d.customer_id for d in _run(DoorLogic(SETTINGS), frames)] == ['ada']
