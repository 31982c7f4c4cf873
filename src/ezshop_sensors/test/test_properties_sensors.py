"""Property tests (hypothesis) of the lane filter: any readings, in any order, with any
stamps, never crash it, never put a count outside the lane, and its events chain."""

from hypothesis import given, settings
from hypothesis import strategies as st

from ezshop_common.store_config import load_store
from ezshop_sensors.lane_counts import KeptLane
from ezshop_sensors.lane_filter import LaneFilter

STORE = load_store(None)  # the packaged store: an ultrasonic lane and a light lane
COLA = STORE.lane('shelf_a', 'lane_1')
SANDWICH = STORE.lane('shelf_a', 'lane_3')
assert COLA.sensor == 'ultrasonic' and SANDWICH.sensor == 'light'

readings = st.lists(st.tuples(
    st.integers(min_value=0, max_value=2 ** 62),
    st.one_of(st.floats(allow_nan=True, allow_infinity=True),
              st.floats(min_value=0.0, max_value=0.6))), max_size=200)
sorted_readings = st.lists(st.tuples(
    st.integers(min_value=0, max_value=50_000_000),  # steps of up to 50 ms
    st.floats(min_value=0.0, max_value=0.6)), max_size=300)


def check_chain(lane, lane_filter, events, start):
    count = start
    for event in events:
        assert 0 <= event.count_after <= lane.capacity
        assert event.count_before != event.count_after
        if count is not None:
            assert event.count_before == count
        count = event.count_after
    assert lane_filter.count is None or 0 <= lane_filter.count <= lane.capacity


@settings(max_examples=200, deadline=None)
@given(readings, st.sampled_from([COLA, SANDWICH]), st.one_of(st.none(), st.integers(0, 6)))
def test_any_readings_never_crash_and_keep_counts_in_the_lane(samples, lane, kept):
    kept = None if kept is None else min(kept, lane.capacity)
    lane_filter = LaneFilter(lane, start_ns=0, kept=None if kept is None else KeptLane(kept))
    events = []
    for stamp, value in samples:
        new, _ = lane_filter.add(stamp, value)
        events += new
        lane_filter.check_timeout(stamp)
    check_chain(lane, lane_filter, events, kept)


@settings(max_examples=200, deadline=None)
@given(sorted_readings)
def test_readings_in_time_order_give_a_chain_of_events(steps):
    lane_filter = LaneFilter(COLA, start_ns=0)
    events, t = [], 0
    for step, value in steps:
        t += step
        events += lane_filter.add(t, value)[0]
    check_chain(COLA, lane_filter, events, None)
    assert all(e.stamp_ns <= e.confirmed_ns for e in events)
