"""Lane readings follow the true counts with realistic noise, spikes, hands and glitches."""

import math
import statistics

import pytest

from ezshop_common.store_config import load_store
from ezshop_sim.lanes import lane_signals
from ezshop_sim.scenario import load_scenario
from ezshop_sim.world import build_world

RATE = 15.0


@pytest.fixture(scope='module')
def store(config_dir):
    return load_store(config_dir / 'store.yaml')


def readings(signal, t0, t1):
    first, last = int(t0 * RATE), int(t1 * RATE)
    out = [signal.reading(k) for k in range(first, last)]
    return [r for r in out if r is not None]


def by_lane(world, seed=1):
    return {(s.lane.shelf_id, s.lane.lane_id): s for s in lane_signals(world, seed, RATE)}


def test_ultrasonic_readings_follow_the_count_with_millimetre_noise(store):
    world = build_world(load_scenario('one_shopper'), store)
    take = next(e for e in world.events if e.kind == 'TAKE')
    signal = by_lane(world)[('shelf_a', 'lane_1')]
    geo = signal.lane.ultrasonic
    before = [r.value for r in readings(signal, 0.0, take.t - 2.0) if math.isfinite(r.value)]
    after = [r.value for r in readings(signal, take.t + 0.2, world.end_s)
             if math.isfinite(r.value)]
    assert statistics.median(before) == pytest.approx(geo.distance_for_count(6), abs=0.002)
    assert statistics.median(after) == pytest.approx(geo.distance_for_count(5), abs=0.002)
    assert 0.001 < statistics.pstdev(before[:50]) < 0.01 or len(before) < 50


def test_a_hand_in_the_lane_dips_the_reading(store):
    world = build_world(load_scenario('one_shopper'), store)
    timeline = world.lanes[('shelf_a', 'lane_1')]
    t_in, t_out = timeline.hands[0]
    assert 0.3 <= t_out - t_in <= 2.0
    signal = by_lane(world)[('shelf_a', 'lane_1')]
    during = [r.value for r in readings(signal, t_in, t_out) if math.isfinite(r.value)]
    full = signal.lane.ultrasonic.distance_for_count(6)
    assert during and statistics.median(during) < full - 0.01


def test_spikes_are_rare_and_follow_rep_117(store):
    world = build_world(load_scenario('one_shopper'), store)
    signal = by_lane(world)[('shelf_b', 'lane_2')]
    values = [r.value for r in readings(signal, 0.0, 600.0)]
    bad = [v for v in values if not math.isfinite(v)]
    assert 0 < len(bad) < 0.02 * len(values)
    assert all(v in (math.inf, -math.inf) for v in bad)


def test_light_lane_is_dark_with_the_item_and_bright_without(store):
    world = build_world(load_scenario('two_shoppers_one_shelf'), store)
    take = next(e for e in world.events if e.item_id == 'sandwich')
    signal = by_lane(world)[('shelf_a', 'lane_3')]
    light = signal.lane.light
    before = statistics.median(r.value for r in readings(signal, 0.0, take.t - 2.0))
    after = statistics.median(r.value for r in readings(signal, take.t + 0.2, world.end_s))
    assert before < light.dark_below_lux < after
    assert after == pytest.approx(light.bright_lux, rel=0.1)


def test_glitches_silence_nan_and_spike(store):
    world = build_world(load_scenario('sensor_glitch'), store)
    signals = by_lane(world, seed=world.scenario.seed)
    dead = signals[('shelf_b', 'lane_1')]
    ks = range(int(4.0 * RATE), int(8.0 * RATE))
    assert all(dead.reading(k) is None for k in ks)
    assert dead.reading(int(12.0 * RATE)) is not None
    nan = [signals[('shelf_b', 'lane_2')].reading(k).value for k in range(int(4.5 * RATE),
                                                                        int(6.5 * RATE))]
    assert all(math.isnan(v) for v in nan)
    burst = readings(signals[('shelf_a', 'lane_2')], 5.0, 9.0)
    geo = signals[('shelf_a', 'lane_2')].lane.ultrasonic
    off = [r for r in burst if not abs(r.value - geo.distance_for_count(6)) < 0.02]
    assert len(off) > 0.25 * len(burst)


def test_readings_are_deterministic(store):
    world = build_world(load_scenario('demo'), store)
    a = [s.reading(k) for s in lane_signals(world, 42, RATE) for k in range(0, 300, 7)]
    b = [s.reading(k) for s in lane_signals(world, 42, RATE) for k in range(0, 300, 7)]
    c = [s.reading(k) for s in lane_signals(world, 43, RATE) for k in range(0, 300, 7)]
    assert a == b and a != c
