"""Synthetic but realistic lane sensor traces with ground truth (plain Python, no rclpy).

A timeline of episodes (hand dips, count changes, leaning shoppers, drift, a dead sensor)
becomes a list of ``(t, reading)`` samples — metres for HC-SR04 lanes, lux for light lanes —
with the noise of the real sensors, plus the true changes. Used by the core tests and
bench/shelf_events.py.

The readings come from the one lane sensor model (ezshop_common.lane_sensor_model), which the
simulator uses too: what is measured here is the sensor the simulated store has.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ezshop_common.lane_sensor_model import (
    DEAD_MODES,
    SILENT,
    LaneSensorModel,
    LaneState,
    NoiseModel,
)
from ezshop_common.store_config import SENSOR_ULTRASONIC, Lane

__all__ = ['DEAD_MODES', 'NoiseModel', 'HandDip', 'Lean', 'CountChange', 'Drift', 'DeadSensor',
           'TrueChange', 'Trace', 'generate_trace', 'random_episodes']

#: Readings per second of a lane sensor node, and the jitter of its sampling period (s).
RATE_HZ = 10.0
PERIOD_JITTER_S = 0.004


@dataclass(frozen=True)
class HandDip:
    """A hand in the beam that takes nothing."""

    start_s: float
    duration_s: float


@dataclass(frozen=True)
class Lean:
    """A shopper leaning in: the body covers the beam on and off, nothing changes."""

    start_s: float
    duration_s: float


@dataclass(frozen=True)
class CountChange:
    """A hand in the beam for ``duration_s``; when it leaves the lane holds ``new_count``.

    ``push_s`` > 0: the front item first stands ``push_items`` forward and is pushed slowly
    back into place. ``glimpse_count``: half-way, the hand leaves for ``glimpse_s`` showing
    that count (e.g. the first of two items already taken) before it comes back.
    """

    start_s: float
    duration_s: float
    new_count: int
    push_s: float = 0.0
    push_items: float = 0.7
    glimpse_count: int | None = None
    glimpse_s: float = 0.0

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


@dataclass(frozen=True)
class Drift:
    """A slow drift of the readings: ``total`` metres (ultrasonic) or a lux ratio - 1 (light)."""

    start_s: float
    duration_s: float
    total: float


@dataclass(frozen=True)
class DeadSensor:
    """The sensor is silent or sends garbage (``mode`` in DEAD_MODES)."""

    start_s: float
    duration_s: float
    mode: str = 'silent'


@dataclass(frozen=True)
class TrueChange:
    """A real change: the hand came at ``began_s``, the new level is first visible at
    ``change_s`` and in place by ``settled_s`` (later only for slow pushes)."""

    began_s: float
    change_s: float
    settled_s: float
    count_before: int
    count_after: int

    @property
    def delta(self) -> int:
        return self.count_after - self.count_before


@dataclass
class Trace:
    samples: list[tuple[float, float]] = field(default_factory=list)
    changes: list[TrueChange] = field(default_factory=list)
    final_count: int = 0


def generate_trace(lane: Lane, episodes: list, duration_s: float, rng: random.Random,
                   noise: NoiseModel | None = None, initial_count: int | None = None,
                   rate_hz: float = RATE_HZ) -> Trace:
    """Samples of ``lane``'s sensor over ``duration_s`` with the given episodes."""
    count = lane.initial_count if initial_count is None else initial_count
    changes_sorted = sorted((e for e in episodes if isinstance(e, CountChange)),
                            key=lambda e: e.start_s)
    trace = Trace()
    before = count
    for change in changes_sorted:
        trace.changes.append(TrueChange(change.start_s, change.end_s,
                                        change.end_s + change.push_s, before, change.new_count))
        before = change.new_count
    trace.final_count = before
    sensor = LaneSensorModel(lane, noise)
    period = 1.0 / rate_hz
    k = 0
    while True:
        t = k * period + rng.uniform(0.0, PERIOD_JITTER_S)
        k += 1
        if t >= duration_s:
            break
        value = sensor.reading(_state_at(t, count, changes_sorted, episodes), rng)
        if value is not SILENT:
            trace.samples.append((round(t, 6), value))
    return trace


def _state_at(t: float, initial: int, changes: list[CountChange], episodes: list) -> LaneState:
    level = float(initial)
    hand = lean = False
    drift = 0.0
    dead = ''
    occluder = None  # the occluding episode: a new hand starts a new walk
    for change in changes:
        if t >= change.end_s:
            level = float(change.new_count)
            if change.push_s > 0 and t < change.end_s + change.push_s:
                remaining = 1.0 - (t - change.end_s) / change.push_s
                level += change.push_items * remaining
        elif t >= change.start_s:
            mid = change.start_s + (change.duration_s - change.glimpse_s) / 2
            if change.glimpse_count is not None and mid <= t < mid + change.glimpse_s:
                level = float(change.glimpse_count)
            else:
                hand, occluder = True, id(change)
    for episode in episodes:
        if isinstance(episode, Drift) and t >= episode.start_s:
            done = min(1.0, (t - episode.start_s) / episode.duration_s)
            drift += episode.total * done
        if not episode.start_s <= t < episode.start_s + episode.duration_s:
            continue
        if isinstance(episode, HandDip):
            hand, occluder = True, id(episode)
        elif isinstance(episode, Lean):
            lean, occluder = True, id(episode)
        elif isinstance(episode, DeadSensor):
            dead = episode.mode
    return LaneState(level, hand=hand, lean=lean, drift=drift, dead=dead, episode=occluder)


def random_episodes(lane: Lane, duration_s: float, rng: random.Random,
                    initial_count: int | None = None, min_gap_s: float = 4.0,
                    max_gap_s: float = 9.0, dead_prob: float = 0.03) -> list:
    """A plausible random minute (or more) of shopping at one lane."""
    count = lane.initial_count if initial_count is None else initial_count
    capacity = lane.capacity
    ultrasonic = lane.sensor == SENSOR_ULTRASONIC
    episodes: list = []
    drift_now = 0.0  # keep the total drift bounded (temperature, items settling)
    t = rng.uniform(4.0, 4.0 + max_gap_s)  # the starting level settles first
    while True:
        roll = rng.random()
        dip = rng.uniform(0.3, 2.0)
        if roll < dead_prob:
            episode = DeadSensor(t, rng.uniform(0.5, 8.0), rng.choice(DEAD_MODES))
        elif roll < 0.25 and count > 0:
            episode = CountChange(t, dip, count - 1)
        elif roll < 0.35 and count > 1 and ultrasonic:
            if rng.random() < 0.5:
                episode = CountChange(t, dip, count - 2)
            else:
                episode = CountChange(t, dip, count - 2, glimpse_count=count - 1,
                                      glimpse_s=rng.uniform(0.1, 0.4))
        elif roll < 0.50 and count < capacity:
            push = rng.uniform(0.8, 2.5) if ultrasonic and rng.random() < 0.3 else 0.0
            episode = CountChange(t, dip, count + 1, push_s=push,
                                  push_items=rng.uniform(0.4, 0.9) if push else 0.7)
        elif roll < 0.75:
            episode = HandDip(t, dip)
        elif roll < 0.85:
            episode = Lean(t, rng.uniform(1.0, 4.0))
        elif roll < 0.92:
            target = rng.uniform(-0.012, 0.012) if ultrasonic else rng.uniform(-0.2, 0.2)
            episode = Drift(t, rng.uniform(5.0, 20.0), target - drift_now)
            drift_now = target
        else:
            episode = None
        end = t
        if episode is not None:
            end = t + episode.duration_s + getattr(episode, 'push_s', 0.0)
            if end + min_gap_s > duration_s:
                break
            episodes.append(episode)
            if isinstance(episode, CountChange):
                count = episode.new_count
        if isinstance(episode, DeadSensor):
            end += 1.0
        t = end + rng.uniform(min_gap_s, max_gap_s)
        if t >= duration_s:
            break
    return episodes
