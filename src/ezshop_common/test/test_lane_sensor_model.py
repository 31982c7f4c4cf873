"""The one lane sensor model: REP-117 values, noise, hands, bursts, dead sensors, light lanes."""

import math
import random
import statistics

import pytest

from ezshop_common.lane_sensor_model import (
    SILENT,
    LaneSensorModel,
    LaneState,
    NoiseModel,
)
from ezshop_common.store_config import Lane, LightGeometry, UltrasonicGeometry

COLA = Lane(shelf_id='shelf_a', lane_id='lane_1', item_id='cola', capacity=6, initial_count=4,
            sensor='ultrasonic', frame_id='shelf_a_lane_1',
            ultrasonic=UltrasonicGeometry(lane_length_m=0.45, sensor_offset_m=0.03,
                                          item_depth_m=0.07, max_range_m=0.6))
SALAD = Lane(shelf_id='shelf_b', lane_id='lane_3', item_id='salad', capacity=1, initial_count=1,
             sensor='light', frame_id='shelf_b_lane_3',
             light=LightGeometry(dark_below_lux=40.0, bright_lux=300.0))
N = 20000


def readings(lane, state, n=N, noise=None, seed=1):
    sensor = LaneSensorModel(lane, noise)
    rng = random.Random(seed)
    return [sensor.reading(state, rng) for _ in range(n)]


def test_a_quiet_lane_reads_its_front_item_with_mm_noise_and_rep117_bad_echoes():
    values = readings(COLA, LaneState(4.0))
    expected = COLA.ultrasonic.distance_for_count(4)
    good = [v for v in values if math.isfinite(v) and abs(v - expected) < 0.02]
    assert statistics.mean(good) == pytest.approx(expected, abs=0.0005)
    assert statistics.pstdev(good) == pytest.approx(0.003, rel=0.1)
    too_close = values.count(-math.inf) / N
    no_echo = values.count(math.inf) / N
    assert too_close == pytest.approx(0.004, abs=0.0015)
    assert no_echo == pytest.approx(0.004, abs=0.0015)
    assert all(v == -math.inf or v == math.inf or COLA.ultrasonic.min_range_m <= v
               < COLA.ultrasonic.max_range_m for v in values)


def test_distances_beyond_max_range_are_published_as_plus_inf():
    # Drifted far past the back wall, beyond the sensor's 0.6 m: REP-117 +inf, never a number.
    values = readings(COLA, LaneState(0.0, drift=0.2), n=500)
    assert set(values) == {math.inf} | {v for v in values if v < 0.6}
    assert values.count(math.inf) > 400


def test_a_hand_reads_in_front_of_the_items_walks_smoothly_and_lets_some_pings_through():
    front = COLA.ultrasonic.distance_for_count(4)
    sensor = LaneSensorModel(COLA)
    rng = random.Random(3)
    values = [sensor.reading(LaneState(4.0, hand=True, episode='hand 1'), rng)
              for _ in range(2000)]
    hand = [v for v in values if math.isfinite(v) and v < front - 0.01]
    through = [v for v in values if math.isfinite(v) and abs(v - front) < 0.015]
    assert 0.75 < len(hand) / len(values) < 0.92
    assert 0.08 < len(through) / len(values) < 0.22
    steps = [abs(b - a) for a, b in zip(hand, hand[1:], strict=False)]
    assert statistics.median(steps) < 0.04  # a walk, not a new place every ping


def test_a_new_hand_starts_its_walk_somewhere_new():
    sensor = LaneSensorModel(COLA, NoiseModel(hand_see_through_prob=0.0, hand_step_m=0.0,
                                              hand_jitter_m=0.0))
    rng = random.Random(5)
    first = {sensor.reading(LaneState(4.0, hand=True, episode=1), rng) for _ in range(5)}
    second = {sensor.reading(LaneState(4.0, hand=True, episode=2), rng) for _ in range(5)}
    assert len(first) == 1 and len(second) == 1 and first != second


def test_a_burst_makes_that_share_of_readings_bad():
    values = readings(COLA, LaneState(4.0, noise=NoiseModel().bursting(0.5)))
    expected = COLA.ultrasonic.distance_for_count(4)
    bad = sum(1 for v in values if not math.isfinite(v) or abs(v - expected) > 0.02)
    assert bad / N == pytest.approx(0.5, abs=0.03)


@pytest.mark.parametrize(('mode', 'value'), [('zeros', -math.inf), ('max_range', math.inf)])
def test_a_dead_hc_sr04_sends_rep117_garbage(mode, value):
    assert set(readings(COLA, LaneState(4.0, dead=mode), n=50)) == {value}


def test_a_dead_sensor_is_silent_or_sends_nan():
    assert set(readings(COLA, LaneState(4.0, dead='silent'), n=50)) == {SILENT}
    assert all(math.isnan(v) for v in readings(SALAD, LaneState(1.0, dead='nan'), n=50))


def test_a_light_lane_is_dark_below_its_threshold_with_the_item_and_bright_without():
    covered = readings(SALAD, LaneState(1.0))
    empty = readings(SALAD, LaneState(0.0))
    threshold = SALAD.light.dark_below_lux
    assert statistics.median(covered) <= 0.35 * threshold * 1.05
    assert statistics.median(empty) == pytest.approx(SALAD.light.bright_lux, rel=0.02)
    assert sum(1 for v in covered if v >= threshold) / N < 0.01
    assert sum(1 for v in empty if v < threshold) / N < 0.01


def test_a_hand_shadows_an_empty_light_lane_by_one_depth_per_hand():
    sensor = LaneSensorModel(SALAD, NoiseModel(zero_prob=0.0, bad_echo_prob=0.0))
    rng = random.Random(2)
    shadowed = [sensor.reading(LaneState(0.0, hand=True, episode=7), rng) for _ in range(200)]
    assert statistics.median(shadowed) < 0.45 * SALAD.light.bright_lux
    assert statistics.pstdev(shadowed) < 0.1 * statistics.median(shadowed)
