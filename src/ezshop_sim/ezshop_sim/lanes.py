"""Lane sensor readings that follow the true item counts, as the real sensors report them.

The readings come from the one lane sensor model (ezshop_common.lane_sensor_model), which the
shelf benchmark's traces use too; this module only says what state each lane is in at a
sample time: the true count, a hand in the lane, and the scenario's glitches (a dead sensor,
silent or NaN; a burst of bad readings).

The noise of sample k is drawn from (seed, lane, k) and a hand's walk goes on from sample to
sample: a replay that draws every sample is identical.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ezshop_common.lane_sensor_model import SILENT, LaneSensorModel, LaneState, NoiseModel
from ezshop_sim.scenario import SensorDead, SpikeBurst
from ezshop_sim.world import LaneTimeline

__all__ = ['SILENT', 'LaneReading', 'LaneSignal', 'lane_signals']


@dataclass(frozen=True)
class LaneReading:
    """One reading: the value to publish (metres or lux; inf/-inf/NaN allowed)."""

    t: float
    value: float


class LaneSignal:
    """Readings of one lane's sensor at ``rate_hz``; sample k is taken at k / rate_hz + phase."""

    def __init__(self, timeline: LaneTimeline, seed: int, index: int, rate_hz: float,
                 noise: NoiseModel | None = None):
        self.timeline = timeline
        self.lane = timeline.lane
        self.seed = seed
        self.index = index
        self.rate_hz = rate_hz
        self.sensor = LaneSensorModel(self.lane, noise)
        # Lanes are not sampled in lockstep (real sensors are not).
        self.phase = random.Random(f'{seed}:{self.lane.shelf_id}/{self.lane.lane_id}:phase') \
            .uniform(0.0, 1.0 / rate_hz)

    def sample_time(self, k: int) -> float:
        return k / self.rate_hz + self.phase

    def state_at(self, t: float) -> LaneState:
        """The lane at time t: its true count, a hand in it, a glitch of its sensor."""
        timeline = self.timeline
        hand = timeline.hand_at(t)
        glitch = timeline.glitch_at(t)
        return LaneState(
            float(timeline.count_at(t)), hand=hand is not None, episode=hand,
            dead=glitch.mode if isinstance(glitch, SensorDead) else '',
            noise=self.sensor.noise.bursting(glitch.rate) if isinstance(glitch, SpikeBurst)
            else None)

    def reading(self, k: int) -> LaneReading | None:
        """Sample k, or None when the sensor is silent (dead)."""
        t = self.sample_time(k)
        rng = random.Random(f'{self.seed}:{self.lane.shelf_id}/{self.lane.lane_id}:{k}')
        value = self.sensor.reading(self.state_at(t), rng)
        return None if value is SILENT else LaneReading(t, value)


def lane_signals(world, seed: int, rate_hz: float) -> list[LaneSignal]:
    """A LaneSignal for every lane of the world's store, in store order."""
    return [LaneSignal(world.lanes[lane.key], seed, i, rate_hz)
            for i, lane in enumerate(world.store.lanes)]
