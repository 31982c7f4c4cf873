"""Lane sensor readings that follow the true item counts, like real sensors would report them.

Ultrasonic lanes (HC-SR04): the echo distance from the store geometry
(UltrasonicGeometry.distance_for_count) plus Gaussian noise of a few millimetres, now and then a
bad echo (no echo -> +inf, too close -> -inf, or a random distance: REP-117 conventions), and
while a hand is in the lane, the hand's distance (a few centimetres in front of the sensor).
Light lanes (LDR): dark when the item is there, bright when not, with noise; a hand casts a
shadow. Scenario glitches: a dead sensor (silent, or NaN) and spike bursts.

Every reading is a pure function of (seed, lane, sample index): replays are identical.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from ezshop_common.store_config import SENSOR_ULTRASONIC
from ezshop_sim.scenario import SensorDead, SpikeBurst
from ezshop_sim.world import LaneTimeline

#: Standard deviation of the HC-SR04 echo distance (metres).
ULTRASONIC_NOISE_M = 0.003
#: Chance that one ultrasonic reading is a bad echo, outside glitches.
SPIKE_RATE = 0.005
#: Illuminance of a light lane with its item on it (lux); relative noise of light readings.
DARK_LUX = 20.0
LIGHT_NOISE = 0.05

SILENT = None  # a reading that is not published (dead sensor)


@dataclass(frozen=True)
class LaneReading:
    """One reading: the value to publish (metres or lux; inf/-inf/NaN allowed)."""

    t: float
    value: float


class LaneSignal:
    """Readings of one lane's sensor at ``rate_hz``; sample k is taken at k / rate_hz + phase."""

    def __init__(self, timeline: LaneTimeline, seed: int, index: int, rate_hz: float):
        self.timeline = timeline
        self.lane = timeline.lane
        self.seed = seed
        self.index = index
        self.rate_hz = rate_hz
        # Lanes are not sampled in lockstep (real sensors are not).
        self.phase = random.Random(f'{seed}:{self.lane.shelf_id}/{self.lane.lane_id}:phase') \
            .uniform(0.0, 1.0 / rate_hz)

    def sample_time(self, k: int) -> float:
        return k / self.rate_hz + self.phase

    def reading(self, k: int) -> LaneReading | None:
        """Sample k, or None when the sensor is silent (dead)."""
        t = self.sample_time(k)
        rng = random.Random(f'{self.seed}:{self.lane.shelf_id}/{self.lane.lane_id}:{k}')
        glitch = self.timeline.glitch_at(t)
        if isinstance(glitch, SensorDead):
            return SILENT if glitch.mode == 'silent' else LaneReading(t, math.nan)
        spike_rate = glitch.rate if isinstance(glitch, SpikeBurst) else SPIKE_RATE
        if self.lane.sensor == SENSOR_ULTRASONIC:
            return LaneReading(t, self._ultrasonic(t, rng, spike_rate))
        return LaneReading(t, self._light(t, rng, spike_rate))

    def _ultrasonic(self, t: float, rng: random.Random, spike_rate: float) -> float:
        geo = self.lane.ultrasonic
        if rng.random() < spike_rate:
            roll = rng.random()
            if roll < 0.4:
                return math.inf   # no echo
            if roll < 0.6:
                return -math.inf  # too close
            return rng.uniform(geo.min_range_m, geo.max_range_m)
        items = geo.distance_for_count(self.timeline.count_at(t))
        if self.timeline.hand_in(t):
            # The hand is between the sensor and the front item: a shorter echo.
            near = geo.min_range_m + 0.005
            far = max(near + 0.005, min(items, geo.sensor_offset_m + 0.12) - 0.015)
            distance = rng.uniform(near, far)
        else:
            distance = items
        distance += rng.gauss(0.0, ULTRASONIC_NOISE_M)
        if distance < geo.min_range_m:
            return -math.inf
        if distance > geo.max_range_m:
            return math.inf
        return distance

    def _light(self, t: float, rng: random.Random, spike_rate: float) -> float:
        geo = self.lane.light
        dark = min(DARK_LUX, 0.35 * geo.dark_below_lux)
        if rng.random() < spike_rate:
            return rng.choice((0.0, rng.uniform(0.0, 2.0 * geo.bright_lux)))
        present = self.timeline.count_at(t) > 0
        if self.timeline.hand_in(t):
            # The hand shadows the sensor: somewhere between dark and half bright.
            lux = rng.uniform(dark, 0.5 * geo.bright_lux)
        else:
            lux = dark if present else geo.bright_lux
        return max(0.0, lux * (1.0 + rng.gauss(0.0, LIGHT_NOISE)) + rng.gauss(0.0, 1.0))


def lane_signals(world, seed: int, rate_hz: float) -> list[LaneSignal]:
    """A LaneSignal for every lane of the world's store, in store order."""
    return [LaneSignal(world.lanes[lane.key], seed, i, rate_hz)
            for i, lane in enumerate(world.store.lanes)]
