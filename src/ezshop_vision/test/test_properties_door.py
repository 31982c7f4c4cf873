"""Property tests (hypothesis) of the door logic: any frames, in any order, never crash it;
one pass per track and customer; no customer passes twice within the cooldown."""

from hypothesis import given, settings
from hypothesis import strategies as st

from ezshop_vision.door_logic import DoorLogic, DoorSettings, FaceSeen

faces = st.lists(st.builds(
    FaceSeen, track_id=st.integers(0, 6), customer_id=st.sampled_from(['', 'ada', 'bob']),
    height_px=st.one_of(st.floats(allow_nan=True), st.floats(0.0, 300.0)),
    confidence=st.floats(0.0, 1.0)), max_size=4)
frames = st.lists(st.tuples(st.floats(-1e6, 1e6, allow_nan=False), faces), max_size=150)
ordered = st.lists(st.tuples(st.floats(0.0, 0.5), faces), max_size=200)


@settings(max_examples=200, deadline=None)
@given(frames)
def test_any_frames_never_crash_the_door(sequence):
    logic = DoorLogic()
    for stamp, seen in sequence:
        logic.update(stamp, seen)


@settings(max_examples=200, deadline=None)
@given(ordered)
def test_one_pass_per_track_and_none_twice_within_the_cooldown(steps):
    config = DoorSettings()
    logic = DoorLogic(config)
    t, passes = 0.0, []
    for step, seen in steps:
        t += step
        passes += [d for d in logic.update(t, seen) if d.customer_id]
    pairs = [(d.track_id, d.customer_id) for d in passes]
    assert len(pairs) == len(set(pairs))  # one pass per track and customer
    last: dict[str, float] = {}
    for decision in passes:
        if decision.customer_id in last:
            assert decision.stamp - last[decision.customer_id] >= config.cooldown_s - 1e-9
        last[decision.customer_id] = decision.stamp
