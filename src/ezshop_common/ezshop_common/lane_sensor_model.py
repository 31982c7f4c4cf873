"""What a lane's sensor reports for the lane's physical state: the one noise model of the
HC-SR04 and the LDR, shared by the simulator (ezshop_sim.lanes) and the synthetic traces of the
tests and benches (ezshop_testing.lane_traces), so both measure the same sensor.

HC-SR04: the echo of the front item with Gaussian noise of a few mm; now and then a failed echo
(a zero or a too-short time: below min range), no echo (max range) or a single echo from a
random distance. A hand in the beam reads at a random-walking distance in front of the items
and sometimes lets the echo of the items through; a leaning body sits closer to the sensor and
covers the beam about half the time. Values are what the sensor node publishes (REP-117, see
ezshop_sensors.lane_drivers.range_value): -inf below min range, +inf at or beyond max range.
LDR: a covered sensor reads dark, an uncovered one the lane's bright level (+/- a few %); a hand
casts a shadow of random depth; now and then a zero (a missed charge edge).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace

from ezshop_common.store_config import SENSOR_ULTRASONIC, Lane

#: How a dead sensor misbehaves: sends nothing, zeros, NaN, or max range.
DEAD_MODES = ('silent', 'zeros', 'nan', 'max_range')
SILENT = None  # a reading that is not published (dead sensor)


@dataclass(frozen=True)
class NoiseModel:
    """How a real sensor misbehaves; defaults are typical of an HC-SR04 / LDR on a Pi."""

    sigma_m: float = 0.003               # echo distance noise (m, 1 sigma)
    zero_prob: float = 0.004             # a failed echo: zero / below min range
    max_range_prob: float = 0.004        # no echo: max range
    bad_echo_prob: float = 0.002         # an echo from a random distance
    hand_step_m: float = 0.02            # random-walk step of a hand in the beam (m)
    hand_jitter_m: float = 0.006         # noise of the hand's echo (m)
    hand_see_through_prob: float = 0.15  # a hand lets the items' echo through
    lean_cover_prob: float = 0.5         # a leaning body covers the beam
    lux_sigma_ratio: float = 0.04        # light noise, relative
    dark_lux: float = 20.0               # a covered LDR (lux), at most 35 % of the threshold

    def bursting(self, bad_reading_prob: float) -> NoiseModel:
        """The same sensor during a burst of bad readings (interference, a loose wire): each
        reading is bad with ``bad_reading_prob``, split as the usual bad readings are."""
        usual = self.zero_prob + self.max_range_prob + self.bad_echo_prob
        scale = bad_reading_prob / usual if usual else 0.0
        return replace(self, zero_prob=self.zero_prob * scale,
                       max_range_prob=self.max_range_prob * scale,
                       bad_echo_prob=self.bad_echo_prob * scale)


@dataclass(slots=True)
class LaneState:
    """The physical state of a lane at one sample."""

    level: float                 # items in place (fractional while one is pushed back)
    hand: bool = False           # a hand is in the lane
    lean: bool = False           # a shopper leans into the beam
    drift: float = 0.0           # slow drift: metres (ultrasonic) or a lux ratio - 1 (light)
    dead: str = ''               # '' or one of DEAD_MODES
    episode: object = None       # the occluding episode: a new one starts a new hand walk
    noise: NoiseModel | None = None  # a different noise for this sample (a burst)


class LaneSensorModel:
    """One lane's sensor: ``reading(state, rng)`` is the value it publishes for that state
    (metres or lux; +/-inf and NaN as the real node publishes them) or SILENT.

    Noise comes from ``rng``; a hand's position is a walk kept here between samples."""

    def __init__(self, lane: Lane, noise: NoiseModel | None = None):
        self.lane = lane
        self.noise = noise or NoiseModel()
        self.ultrasonic = lane.sensor == SENSOR_ULTRASONIC
        self._episode = None
        self._walk = 0.0  # hand distance (m) or shadow ratio (light), per episode

    def reading(self, state: LaneState, rng: random.Random) -> float | None:
        if state.dead == 'silent':
            return SILENT
        if state.dead == 'nan':
            return math.nan
        noise = state.noise or self.noise
        if self.ultrasonic:
            return self._ultrasonic(state, noise, rng)
        return self._light(state, noise, rng)

    def _ultrasonic(self, state: LaneState, noise: NoiseModel, rng: random.Random) -> float:
        geo = self.lane.ultrasonic
        if state.dead == 'zeros':
            return -math.inf
        if state.dead == 'max_range':
            return math.inf
        front = geo.empty_distance_m - state.level * geo.item_depth_m + state.drift
        distance = front + rng.gauss(0.0, noise.sigma_m)
        if state.hand or state.lean:
            low = geo.min_range_m + 0.01
            high = max(low, front - 0.02)
            if state.lean:
                high = min(high, low + 0.15)
            if self._episode != state.episode:
                self._episode = state.episode
                self._walk = rng.uniform(low, high)
            step = noise.hand_step_m * (0.4 if state.lean else 1.0)
            self._walk = _reflect(self._walk + rng.gauss(0.0, step), low, high)
            covered = rng.random() < (noise.lean_cover_prob if state.lean
                                      else 1.0 - noise.hand_see_through_prob)
            if covered:
                return _published(self._walk + rng.gauss(0.0, noise.hand_jitter_m), geo)
        roll = rng.random()
        if roll < noise.zero_prob:
            return -math.inf
        roll -= noise.zero_prob
        if roll < noise.max_range_prob:
            return math.inf
        roll -= noise.max_range_prob
        if roll < noise.bad_echo_prob:
            distance = rng.uniform(geo.min_range_m, geo.empty_distance_m)
        return _published(distance, geo)

    def _light(self, state: LaneState, noise: NoiseModel, rng: random.Random) -> float:
        geo = self.lane.light
        if state.dead in ('zeros', 'max_range'):
            return 0.0
        dark = min(noise.dark_lux, 0.35 * geo.dark_below_lux)
        lux = dark if state.level >= 0.5 else geo.bright_lux * (1 + state.drift)
        if state.hand or state.lean:
            if self._episode != state.episode:
                self._episode = state.episode
                self._walk = rng.uniform(0.04, 0.4)
            if not state.lean or rng.random() < noise.lean_cover_prob:
                lux = min(lux, geo.bright_lux * self._walk)
        roll = rng.random()
        if roll < noise.zero_prob:
            return 0.0
        return max(0.5, lux * (1.0 + rng.gauss(0.0, noise.lux_sigma_ratio)))


def _published(distance_m: float, geo) -> float:
    """The echo distance as the sensor node publishes it (REP-117)."""
    if distance_m < geo.min_range_m:
        return -math.inf
    if distance_m >= geo.max_range_m:
        return math.inf
    return distance_m


def _reflect(value: float, low: float, high: float) -> float:
    """Keep a random walk inside [low, high] by bouncing off the bounds."""
    if high <= low:
        return low
    span = 2.0 * (high - low)
    value = (value - low) % span
    return low + (value if value <= high - low else span - value)
