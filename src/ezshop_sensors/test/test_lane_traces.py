"""The trace generator makes what it promises: noise of a few mm, spikes, dips, truth."""

import math
import random
import statistics

from ezshop_common.store_config import Lane, LightGeometry, UltrasonicGeometry
from ezshop_testing.lane_traces import (
    CountChange,
    DeadSensor,
    HandDip,
    NoiseModel,
    generate_trace,
    random_episodes,
)

LANE = Lane(shelf_id='s', lane_id='l', item_id='cola', capacity=6, initial_count=4,
            sensor='ultrasonic', frame_id='s_l',
            ultrasonic=UltrasonicGeometry(lane_length_m=0.45, sensor_offset_m=0.03,
                                          item_depth_m=0.07))
LIGHT = Lane(shelf_id='s', lane_id='m', item_id='salad', capacity=1, initial_count=1,
             sensor='light', frame_id='s_m', light=LightGeometry(60.0, 400.0))


def test_quiet_lane_reads_its_level_with_mm_noise_and_rare_spikes():
    trace = generate_trace(LANE, [], 600.0, random.Random(1))
    values = [v for _, v in trace.samples]
    assert 5900 <= len(values) <= 6000
    expected = LANE.ultrasonic.distance_for_count(4)
    good = [v for v in values if abs(v - expected) < 0.05]
    assert abs(statistics.mean(good) - expected) < 0.001
    assert 0.002 < statistics.stdev(good) < 0.004
    spikes = len(values) - len(good)
    assert 0.005 * len(values) < spikes < 0.02 * len(values)
    assert -math.inf in values and math.inf in values  # REP-117, as the sensor node publishes


def test_hand_dip_reads_in_front_of_the_items():
    trace = generate_trace(LANE, [HandDip(2.0, 2.0)], 6.0, random.Random(2),
                           NoiseModel(zero_prob=0, max_range_prob=0, bad_echo_prob=0))
    front = LANE.ultrasonic.distance_for_count(4)
    dip = [v for t, v in trace.samples if 2.0 <= t < 4.0]
    assert sum(v < front - 0.015 for v in dip) >= 0.6 * len(dip)
    assert trace.changes == []


def test_count_change_truth_and_silent_dead_sensor():
    episodes = [CountChange(2.0, 1.0, 2), DeadSensor(6.0, 2.0, 'silent')]
    trace = generate_trace(LANE, episodes, 10.0, random.Random(3))
    (change,) = trace.changes
    assert (change.began_s, change.change_s, change.delta) == (2.0, 3.0, -2)
    assert trace.final_count == 2
    assert not [t for t, _ in trace.samples if 6.0 <= t < 8.0]


def test_nan_dead_sensor_and_light_levels():
    trace = generate_trace(LIGHT, [DeadSensor(1.0, 1.0, 'nan')], 4.0, random.Random(4),
                           NoiseModel(zero_prob=0))
    assert all(math.isnan(v) for t, v in trace.samples if 1.0 <= t < 2.0)
    assert all(v < 60.0 for t, v in trace.samples if t >= 2.0)


def test_random_episodes_are_reproducible_and_respect_capacity():
    first = random_episodes(LANE, 600.0, random.Random(5))
    assert first == random_episodes(LANE, 600.0, random.Random(5))
    count = LANE.initial_count
    end = 0.0
    for episode in first:
        assert episode.start_s >= end
        end = episode.start_s + episode.duration_s + getattr(episode, 'push_s', 0.0)
        if isinstance(episode, CountChange):
            count = episode.new_count
            assert 0 <= count <= LANE.capacity
    assert end <= 600.0
