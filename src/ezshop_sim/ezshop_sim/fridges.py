"""Simulated fridge and freezer probes (plain Python, no rclpy).

A unit holds its set point (the middle of its limits) with a compressor cycle: a triangle
wave of CYCLE_AMPLITUDE_FRACTION of its span, CYCLE_S long, plus DS18B20-like noise and
0.0625 C steps. A door opening (scenario ``fridge_doors``) pulls the air toward the room
temperature with time constant OPEN_TAU_S while open; closed again, the compressor brings the
excess down with time constant CLOSE_TAU_S. A 10 s opening warms a freezer by ~2.5 C (within
limits), a minute by ~13 C (an alarm once it lasts the hold time).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from ezshop_common.store_config import Fridge

ROOM_C = 21.0
CYCLE_S = 600.0
CYCLE_AMPLITUDE_FRACTION = 0.15
OPEN_TAU_S = 150.0
CLOSE_TAU_S = 60.0
NOISE_C = 0.05
RESOLUTION_C = 0.0625
#: Readings per scenario second, per unit.
RATE_HZ = 1.0


@dataclass(frozen=True)
class DoorOpening:
    """A unit's door stands open from ``at_s`` for ``open_s`` seconds (scenario time)."""

    fridge_id: str
    at_s: float
    open_s: float
    path: str = ''


class FridgeModel:
    """One unit's temperature at any scenario second (deterministic for a seed)."""

    def __init__(self, fridge: Fridge, openings: list[DoorOpening], seed: int):
        self.fridge = fridge
        self.openings = sorted((o for o in openings if o.fridge_id == fridge.fridge_id),
                               key=lambda o: o.at_s)
        self.seed = seed
        self.set_point_c = (fridge.min_c + fridge.max_c) / 2.0
        self.amplitude_c = CYCLE_AMPLITUDE_FRACTION * (fridge.max_c - fridge.min_c)
        # Units cycle out of step with each other.
        self.phase_s = random.Random(f'{seed}:{fridge.fridge_id}:phase').uniform(0, CYCLE_S)

    def door_open(self, t: float) -> bool:
        return any(o.at_s <= t < o.at_s + o.open_s for o in self.openings)

    def excess_c(self, t: float) -> float:
        """How much warmer than the compressor cycle the doors made it at t."""
        excess, last = 0.0, -math.inf
        for opening in self.openings:
            if opening.at_s >= t:
                break
            if last > -math.inf:  # cooled down since the last door closed
                excess *= math.exp(-(opening.at_s - last) / CLOSE_TAU_S)
            open_for = min(t, opening.at_s + opening.open_s) - opening.at_s
            room_gap = ROOM_C - self.set_point_c - excess
            excess += room_gap * (1.0 - math.exp(-open_for / OPEN_TAU_S))
            last = opening.at_s + open_for
        if last > -math.inf and t > last:
            excess *= math.exp(-(t - last) / CLOSE_TAU_S)
        return excess

    def cycle_c(self, t: float) -> float:
        """The compressor's triangle wave around the set point."""
        x = ((t + self.phase_s) % CYCLE_S) / CYCLE_S
        return self.set_point_c + self.amplitude_c * (4.0 * abs(x - 0.5) - 1.0)

    def temperature(self, t: float, k: int) -> float:
        """Reading number k, taken at scenario second t (degrees C, probe resolution)."""
        noise = random.Random(f'{self.seed}:{self.fridge.fridge_id}:{k}').gauss(0.0, NOISE_C)
        value = self.cycle_c(t) + self.excess_c(t) + noise
        return round(value / RESOLUTION_C) * RESOLUTION_C
