"""The lane filter on generated HC-SR04 / LDR traces: every case of the issue, exact events.

Each scenario runs over several seeds (different noise, spikes and hand paths); every seed
must give exactly the expected events.
"""

import math
import random
import uuid

import pytest

from ezshop_common.store_config import Lane, LightGeometry, UltrasonicGeometry
from ezshop_sensors.lane_counts import KeptLane
from ezshop_sensors.lane_filter import (
    NS,
    REJECT_NAN,
    REJECT_OUT_OF_ORDER,
    REJECT_SPIKE,
    REJECT_TOO_CLOSE,
    REJECT_TOO_FAR,
    FilterParams,
    LaneFilter,
)
from ezshop_testing.lane_traces import (
    CountChange,
    DeadSensor,
    Drift,
    HandDip,
    Lean,
    NoiseModel,
    generate_trace,
)

SEEDS = range(12)
PARAMS = FilterParams()

COLA = Lane(shelf_id='shelf_a', lane_id='lane_1', item_id='cola', capacity=6,
            initial_count=4, sensor='ultrasonic', frame_id='shelf_a_lane_1',
            ultrasonic=UltrasonicGeometry(lane_length_m=0.45, sensor_offset_m=0.03,
                                          item_depth_m=0.07))
CHOC = Lane(shelf_id='shelf_b', lane_id='lane_2', item_id='chocolate', capacity=6,
            initial_count=6, sensor='ultrasonic', frame_id='shelf_b_lane_2',
            ultrasonic=UltrasonicGeometry(lane_length_m=0.40, sensor_offset_m=0.03,
                                          item_depth_m=0.05))
SANDWICH = Lane(shelf_id='shelf_a', lane_id='lane_3', item_id='sandwich', capacity=1,
                initial_count=1, sensor='light', frame_id='shelf_a_lane_3',
                light=LightGeometry(dark_below_lux=60.0, bright_lux=400.0))


def run(lane, episodes, duration_s, seed, noise=None, initial=None, check_every_s=0.5):
    """Feed a generated trace to a fresh filter (with a timeout check like the node's timer)."""
    rng = random.Random(seed)
    trace = generate_trace(lane, episodes, duration_s, rng, noise, initial_count=initial)
    lane_filter = LaneFilter(lane, PARAMS, start_ns=0, initial_count=initial)
    events, health = [], []
    next_check = 0.0
    for t, value in trace.samples + [(duration_s, None)]:
        while next_check <= t:
            health += lane_filter.check_timeout(int(next_check * NS))
            next_check += check_every_s
        if value is None:
            break
        new_events, changes = lane_filter.add(int(t * NS), value)
        events += new_events
        health += changes
    return trace, lane_filter, events, health


def deltas(events):
    return [(e.count_before, e.count_after) for e in events]


def assert_stamp_near(event, change, lane_filter):
    """Stamp = first reading of the new level (at the latest one reading after the hand left;
    earlier only if the hand itself hovered at that depth); confirmed one settle time later."""
    stamp = event.stamp_ns / NS
    assert change.began_s <= stamp <= change.change_s + 0.35, (stamp, change)
    settle = lane_filter.settle_for(event.count_before, event.count_after) / NS
    waited = (event.confirmed_ns - event.stamp_ns) / NS
    assert settle - 0.03 <= waited <= settle + 0.15, waited


# ------------------------------------------------------------ nothing happens
@pytest.mark.parametrize('seed', SEEDS)
def test_noise_only_initialises_the_count_without_an_event(seed):
    _, lane_filter, events, health = run(COLA, [], 20.0, seed)
    assert events == [] and health == []
    assert lane_filter.count == 4 and lane_filter.sensor_ok


@pytest.mark.parametrize('seed', SEEDS)
def test_single_bad_echoes_make_no_event(seed):
    noise = NoiseModel(zero_prob=0.03, max_range_prob=0.03, bad_echo_prob=0.03)
    _, lane_filter, events, _ = run(COLA, [], 30.0, seed, noise)
    assert events == []
    assert lane_filter.count == 4
    rejected = lane_filter.counters
    assert rejected[REJECT_TOO_CLOSE] > 0 and rejected[REJECT_TOO_FAR] > 0
    assert rejected[REJECT_SPIKE] > 0


@pytest.mark.parametrize('seed', SEEDS)
@pytest.mark.parametrize('dip_s', [0.3, 1.0, 2.0])
def test_hand_in_the_beam_makes_no_event(seed, dip_s):
    _, lane_filter, events, _ = run(COLA, [HandDip(5.0, dip_s), HandDip(12.0, dip_s)], 20.0,
                                    seed)
    assert events == [] and lane_filter.count == 4


@pytest.mark.parametrize('seed', SEEDS)
def test_hand_in_the_beam_of_an_almost_empty_lane_makes_no_event(seed):
    _, lane_filter, events, _ = run(CHOC, [HandDip(5.0, 2.0)], 12.0, seed, initial=1)
    assert events == [] and lane_filter.count == 1


@pytest.mark.parametrize('seed', SEEDS)
def test_shopper_leaning_in_makes_no_event(seed):
    _, lane_filter, events, _ = run(COLA, [Lean(5.0, 4.0)], 15.0, seed, initial=2)
    assert events == [] and lane_filter.count == 2


@pytest.mark.parametrize('seed', SEEDS)
def test_slow_drift_makes_no_event(seed):
    episodes = [Drift(4.0, 20.0, 0.012), Drift(30.0, 20.0, -0.024)]
    _, lane_filter, events, _ = run(CHOC, episodes, 60.0, seed, initial=3)
    assert events == [] and lane_filter.count == 3


# ------------------------------------------------------------- real changes
@pytest.mark.parametrize('seed', SEEDS)
def test_pick_is_one_event_of_minus_one_stamped_when_the_change_began(seed):
    trace, lane_filter, events, _ = run(COLA, [CountChange(5.0, 1.2, 3)], 12.0, seed)
    assert deltas(events) == [(4, 3)]
    event = events[0]
    assert event.delta == -1
    assert (event.shelf_id, event.lane_id, event.item_id) == ('shelf_a', 'lane_1', 'cola')
    assert_stamp_near(event, trace.changes[0], lane_filter)
    assert 0.5 <= event.confidence <= 1.0
    assert uuid.UUID(event.event_id).version == 5  # a name: the same change read twice has one id
    assert lane_filter.count == 3


@pytest.mark.parametrize('seed', SEEDS)
def test_two_item_grab_is_one_event_of_minus_two(seed):
    trace, lane_filter, events, _ = run(COLA, [CountChange(5.0, 1.5, 2)], 12.0, seed)
    assert deltas(events) == [(4, 2)]
    assert_stamp_near(events[0], trace.changes[0], lane_filter)


@pytest.mark.parametrize('seed', SEEDS)
def test_two_item_grab_with_a_glimpse_of_the_middle_count_is_one_event(seed):
    grab = CountChange(5.0, 1.6, 2, glimpse_count=3, glimpse_s=0.4)
    _, _, events, _ = run(COLA, [grab], 12.0, seed)
    assert deltas(events) == [(4, 2)]


@pytest.mark.parametrize('seed', SEEDS)
def test_put_back_is_one_positive_event(seed):
    trace, lane_filter, events, _ = run(CHOC, [CountChange(5.0, 1.0, 4)], 12.0, seed,
                                        initial=3)
    assert deltas(events) == [(3, 4)]
    assert events[0].delta == +1
    assert_stamp_near(events[0], trace.changes[0], lane_filter)


@pytest.mark.parametrize('seed', SEEDS)
def test_slow_push_after_a_put_back_is_one_event(seed):
    push = CountChange(5.0, 0.8, 3, push_s=2.5, push_items=0.9)
    _, lane_filter, events, _ = run(COLA, [push], 15.0, seed, initial=2)
    assert deltas(events) == [(2, 3)]
    assert lane_filter.count == 3


@pytest.mark.parametrize('seed', SEEDS)
def test_pick_put_back_and_grab_in_a_row_give_three_events(seed):
    episodes = [CountChange(5.0, 1.0, 5), HandDip(10.0, 1.5), CountChange(15.0, 0.7, 6),
                CountChange(22.0, 1.8, 4)]
    _, lane_filter, events, _ = run(CHOC, episodes, 30.0, seed)
    assert deltas(events) == [(6, 5), (5, 6), (6, 4)]
    assert len({e.event_id for e in events}) == 3


@pytest.mark.parametrize('seed', SEEDS)
def test_last_item_taken_and_lane_empty(seed):
    _, lane_filter, events, _ = run(CHOC, [CountChange(5.0, 1.0, 0)], 12.0, seed, initial=1)
    assert deltas(events) == [(1, 0)] and lane_filter.count == 0


# ------------------------------------------------------------- dead sensor
@pytest.mark.parametrize('mode', ['silent', 'zeros', 'nan', 'max_range'])
def test_dead_sensor_is_unmonitored_after_the_timeout_and_recovers(mode):
    _, lane_filter, events, health = run(COLA, [DeadSensor(5.0, 8.0, mode)], 20.0, 3)
    assert events == []
    assert [h.ok for h in health] == [False, True]
    down, up = health
    timeout = PARAMS.sensor_timeout_s
    assert 5.0 + timeout - 0.2 <= down.stamp_ns / NS <= 5.0 + timeout + 0.6
    assert 13.0 <= up.stamp_ns / NS <= 13.6
    assert lane_filter.sensor_ok and lane_filter.count == 4
    assert lane_filter.counters['unmonitored_periods'] == 1
    if mode != 'silent':
        assert 'garbage' in down.reason


def test_short_garbage_burst_stays_monitored():
    _, _, events, health = run(COLA, [DeadSensor(5.0, 1.5, 'zeros')], 12.0, 3)
    assert events == [] and health == []


def test_count_change_while_unmonitored_is_one_event_with_lower_confidence():
    episodes = [DeadSensor(5.0, 8.0, 'silent'), CountChange(8.0, 1.0, 2)]
    _, lane_filter, events, health = run(COLA, episodes, 20.0, 2)
    assert [h.ok for h in health] == [False, True]
    assert deltas(events) == [(4, 2)]
    assert events[0].stamp_ns / NS >= 13.0
    assert events[0].confidence <= 0.5


def test_a_lane_that_never_reports_is_flagged():
    lane_filter = LaneFilter(COLA, PARAMS, start_ns=0)
    assert lane_filter.check_timeout(int(2.0 * NS)) == []
    changes = lane_filter.check_timeout(int(3.5 * NS))
    assert [c.ok for c in changes] == [False]
    assert lane_filter.reported_count == COLA.initial_count


# ------------------------------------------------------------- light lanes
@pytest.mark.parametrize('seed', SEEDS)
def test_light_lane_pick_and_put_back(seed):
    episodes = [CountChange(6.0, 1.0, 0), CountChange(16.0, 1.5, 1)]
    trace, lane_filter, events, _ = run(SANDWICH, episodes, 25.0, seed)
    assert deltas(events) == [(1, 0), (0, 1)]
    assert_stamp_near(events[0], trace.changes[0], lane_filter)
    # A put-back darkens the sensor from the moment the hand shades it.
    assert_stamp_near(events[1], trace.changes[1], lane_filter)


@pytest.mark.parametrize('seed', SEEDS)
def test_hand_shadow_over_an_empty_light_lane_makes_no_event(seed):
    _, lane_filter, events, _ = run(SANDWICH, [HandDip(6.0, 2.0), Lean(12.0, 3.0)], 20.0,
                                    seed, initial=0)
    assert events == [] and lane_filter.count == 0


# ------------------------------------------------------------- bad input
def test_impossible_readings_are_rejected_by_reason():
    lane_filter = LaneFilter(COLA, PARAMS)
    for i, value in enumerate([math.nan, 0.0, -math.inf, math.inf, 4.0, 0.01, 0.2]):
        lane_filter.add(i * NS // 10, value)
    counters = lane_filter.counters
    assert counters[REJECT_NAN] == 1
    assert counters[REJECT_TOO_CLOSE] == 3
    assert counters[REJECT_TOO_FAR] == 2
    assert counters['accepted'] == 1


def test_out_of_order_reading_is_rejected():
    lane_filter = LaneFilter(COLA, PARAMS)
    lane_filter.add(2 * NS, 0.2)
    lane_filter.add(1 * NS, 0.2)
    assert lane_filter.counters[REJECT_OUT_OF_ORDER] == 1


def test_params_are_validated():
    with pytest.raises(ValueError):
        FilterParams(level_tolerance_items=0.6)
    with pytest.raises(ValueError):
        FilterParams(hysteresis_items=0.2, level_tolerance_items=0.3)


def test_new_params_apply_from_the_next_reading():
    """What `ros2 param set settle_s` does to a running lane: a pending change settles at the
    new time (settle times are kept in ns, so they must follow the params)."""
    import dataclasses

    lane_filter = LaneFilter(COLA, PARAMS)
    level = COLA.ultrasonic.distance_for_count
    for i in range(20):                       # 2 s at 4 items: the first count, no event
        assert lane_filter.add(i * NS // 10, level(4)) == ([], [])
    events = []
    for i in range(20, 27):                   # 0.7 s at 3 items: shorter than settle_s 1.0
        events += lane_filter.add(i * NS // 10, level(3))[0]
    assert events == [] and lane_filter.count == 4
    lane_filter.params = dataclasses.replace(PARAMS, settle_s=0.5)
    events += lane_filter.add(27 * NS // 10, level(3))[0]
    assert [(e.count_before, e.count_after) for e in events] == [(4, 3)]


# ------------------------------------------------------------ after a restart
def run_kept(lane, kept, physical, seed, duration_s=10.0):
    """A monitor restarted with `kept` as the lane's last known count, on a lane that now
    holds `physical` items and nobody touches."""
    trace = generate_trace(lane, [], duration_s, random.Random(seed), initial_count=physical)
    lane_filter = LaneFilter(lane, PARAMS, start_ns=0, kept=KeptLane(kept))
    assert lane_filter.reported_count == kept
    events = []
    for t, value in trace.samples:
        events += lane_filter.add(int(t * NS), value)[0]
    return lane_filter, events


@pytest.mark.parametrize('seed', SEEDS)
def test_a_count_that_changed_while_nobody_watched_is_one_unobserved_event(seed):
    lane_filter, events = run_kept(COLA, kept=6, physical=4, seed=seed)
    assert deltas(events) == [(6, 4)]
    assert events[0].unobserved and events[0].confidence == 0.0
    assert lane_filter.count == 4


@pytest.mark.parametrize('seed', SEEDS)
def test_the_kept_count_found_again_is_no_event_and_later_changes_are_observed(seed):
    lane_filter, events = run_kept(CHOC, kept=6, physical=6, seed=seed)
    assert events == [] and lane_filter.count == 6
    trace = generate_trace(CHOC, [CountChange(2.0, 1.2, 5)], 8.0, random.Random(seed),
                           initial_count=6)
    later = []
    for t, value in trace.samples:
        later += lane_filter.add(int((t + 20.0) * NS), value)[0]
    assert deltas(later) == [(6, 5)] and not later[0].unobserved


def replay_after_restart(lane, seed, die_at_s, kept_at_s=None):
    """A lane of 6 with takes at 3 s and 12 s, read by one filter up to ``die_at_s`` (its lane
    kept as at ``kept_at_s``, default the same moment), then by a new filter from that kept
    lane over the whole history (the readings topic replays it): (first's events, second's)."""
    trace = generate_trace(lane, [CountChange(3.0, 1.2, 5), CountChange(12.0, 1.2, 4)], 20.0,
                           random.Random(seed), initial_count=6)
    first = LaneFilter(lane, PARAMS, start_ns=0, initial_count=6)
    first_events, kept = [], None
    kept_at_s = die_at_s if kept_at_s is None else kept_at_s
    for t, value in trace.samples:
        if t > die_at_s:
            break
        first_events += first.add(int(t * NS), value)[0]
        if t <= kept_at_s:
            kept = KeptLane(first.count, first.counted_ns, first.last_raw_ns)
    second = LaneFilter(lane, PARAMS, start_ns=0, kept=kept)
    second_events = []
    for t, value in trace.samples:
        second_events += second.add(int(t * NS), value)[0]
    return first_events, second_events, second


@pytest.mark.parametrize('seed', SEEDS)
def test_a_restarted_filter_replays_its_outage_and_skips_what_it_had_counted(seed):
    # Dies at 8 s, after the first take was counted; the second take happens while it is down.
    first, second, lane_filter = replay_after_restart(COLA, seed, die_at_s=8.0)
    assert deltas(first) == [(6, 5)]
    assert deltas(second) == [(5, 4)] and not second[0].unobserved
    assert second[0].confidence > 0.5 and abs(second[0].stamp_ns / NS - 13.2) < 0.5
    assert lane_filter.counters['replayed'] > 0 and lane_filter.count == 4


@pytest.mark.parametrize('seed', SEEDS)
def test_a_change_published_but_not_kept_is_read_again_with_the_same_id(seed):
    # Dies at 16 s, after publishing the second take, but its lanes were last kept at 11 s.
    first, second, _ = replay_after_restart(COLA, seed, die_at_s=16.0, kept_at_s=11.0)
    assert deltas(first) == [(6, 5), (5, 4)]
    assert deltas(second) == [(5, 4)]
    assert second[0].event_id == first[1].event_id and second[0].stamp_ns == first[1].stamp_ns
