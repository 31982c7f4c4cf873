"""Judge fridge and freezer temperatures against their limits (plain Python, no rclpy).

One ``UnitMonitor`` per unit of the store file (``ezshop_common.store_config.Fridge``), fed
the probe's readings (degrees C, stamped at the reading) and, on a timer, the clock:

- A reading above ``max_c`` (below ``min_c``) starts a hold. Out of limits at every reading
  for ``alarm_after_s`` (from the first reading out to a reading that still is) is one alarm,
  ``temperature_high`` (``temperature_low``); a door opened for a moment comes back in time and
  is none. Any reading back within the limits ends the hold.
- An alarmed unit is back when a reading is ``hysteresis_c`` inside the limit it broke:
  one ``temperature_recovered``.
- No valid reading for ``sensor_timeout_s`` (the node clock, checked by :meth:`check`) is one
  ``temperature_sensor_dead``; the next valid reading is one ``temperature_sensor_recovered``.
  A hold keeps running through the gap (the unit was out before it and is out after it).
- NaN, +/-inf, values outside ``VALID_RANGE_C`` (no fridge is there; a DS18B20's power-on
  85 C is caught by the driver) and readings not newer than the last one are counted and
  ignored.

Every call returns what changed, as ``TemperatureAlert``s, for the node to publish.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ezshop_common.settings import setting
from ezshop_common.store_config import Fridge
from ezshop_common.temperature_alerts import (
    KIND_HIGH,
    KIND_LOW,
    KIND_RECOVERED,
    KIND_SENSOR_DEAD,
    KIND_SENSOR_RECOVERED,
)

NS = 1_000_000_000
#: Readings outside this range (degrees C) are garbage, never a temperature to judge.
VALID_RANGE_C = (-60.0, 60.0)

#: Levels: the values of ezshop_msgs/Alert (INFO, WARN, ERROR) and of
#: diagnostic_msgs/DiagnosticStatus (OK, WARN, ERROR).
INFO = OK = 0
WARN = 1
ERROR = 2

HIGH = 'high'
LOW = 'low'

# Counters of refused readings (diagnostic values).
BAD_NAN = 'bad_nan'
BAD_ABSURD = 'bad_absurd'
BAD_OUT_OF_ORDER = 'bad_out_of_order'
BAD_REASONS = (BAD_NAN, BAD_ABSURD, BAD_OUT_OF_ORDER)


@dataclass(frozen=True)
class TemperatureSettings:
    """How the temperature monitor judges every unit; all may change at run time."""

    sensor_timeout_s: float = setting(
        60.0, 'A unit without a valid reading this long (s) is reported sensor dead', 1.0,
        86400.0, dynamic=True)
    hysteresis_c: float = setting(
        0.5, 'An alarmed unit is back only this far inside the limit it broke (degrees C)',
        0.0, 10.0, dynamic=True)
    alarm_after_override_s: float = setting(
        0.0, "When above 0: every unit alarms after this long (s) out of limits instead of "
        "its store file's alarm_after_s (a simulated store's scenarios last minutes)", 0.0,
        86400.0, dynamic=True)
    check_period_s: float = setting(
        1.0, 'Units are checked for a silent probe this often (s)', 0.05, 60.0, dynamic=True)


@dataclass(frozen=True)
class TemperatureAlert:
    """Something staff should hear about one unit (an Alert), stamped at its cause."""

    fridge_id: str
    kind: str
    level: int
    stamp_ns: int
    message: str
    #: The reading that caused it (degrees C); NaN for a dead probe.
    value_c: float = math.nan


@dataclass
class UnitMonitor:
    """One fridge or freezer: its readings judged against its limits with a hold time."""

    fridge: Fridge
    settings: TemperatureSettings
    #: Silence is counted from here until the first reading (the monitor's start).
    watch_since_ns: int = 0
    last_valid_ns: int = 0
    last_c: float = math.nan
    #: The side (HIGH / LOW) of a running hold, and the stamp of its first reading out.
    out_side: str | None = None
    out_since_ns: int = 0
    #: The side of an active alarm.
    alarm: str | None = None
    sensor_ok: bool = True
    counters: dict = field(default_factory=lambda: {
        'readings': 0, 'alarms': 0, 'dead_periods': 0, **{reason: 0 for reason in BAD_REASONS}})

    @property
    def hold_s(self) -> float:
        override = self.settings.alarm_after_override_s
        return override if override > 0 else self.fridge.alarm_after_s

    @property
    def bad_readings(self) -> int:
        return sum(self.counters[reason] for reason in BAD_REASONS)

    def add(self, stamp_ns: int, value_c: float) -> list[TemperatureAlert]:
        """One reading; what changed."""
        try:
            value_c = float(value_c)
        except (TypeError, ValueError):
            value_c = math.nan
        if not math.isfinite(value_c):
            self.counters[BAD_NAN] += 1
            return []
        if not VALID_RANGE_C[0] <= value_c <= VALID_RANGE_C[1]:
            self.counters[BAD_ABSURD] += 1
            return []
        if stamp_ns <= self.last_valid_ns:
            self.counters[BAD_OUT_OF_ORDER] += 1
            return []
        self.counters['readings'] += 1
        self.last_valid_ns, self.last_c = stamp_ns, value_c
        alerts = []
        if not self.sensor_ok:
            self.sensor_ok = True
            alerts.append(self._alert(KIND_SENSOR_RECOVERED, INFO, stamp_ns, value_c,
                                      f'probe reads again: {value_c:.1f} C'))
        if self.alarm is not None and self._back_inside(value_c):
            alerts.append(self._alert(
                KIND_RECOVERED, INFO, stamp_ns, value_c,
                f'back within limits: {value_c:.1f} C (limits {self._limits()})'))
            self.alarm = None
            self.out_side = None
        side = self.side(value_c)
        if side is None:
            self.out_side = None
            return alerts
        if self.alarm is not None:
            return alerts
        if side != self.out_side:
            self.out_side, self.out_since_ns = side, stamp_ns
        out_s = (stamp_ns - self.out_since_ns) / NS
        if out_s >= self.hold_s:
            self.alarm = side
            self.counters['alarms'] += 1
            limit = self.fridge.max_c if side == HIGH else self.fridge.min_c
            alerts.append(self._alert(
                KIND_HIGH if side == HIGH else KIND_LOW, ERROR, stamp_ns, value_c,
                f'{value_c:.1f} C, {"above" if side == HIGH else "below"} {limit:g} C for '
                f'{out_s:.0f} s (alarm after {self.hold_s:g} s)'))
        return alerts

    def check(self, now_ns: int) -> list[TemperatureAlert]:
        """The clock: a probe silent for sensor_timeout_s is dead (once)."""
        since = max(self.last_valid_ns, self.watch_since_ns)
        if not self.sensor_ok or since == 0:
            return []
        silent_s = (now_ns - since) / NS
        if silent_s <= self.settings.sensor_timeout_s:
            return []
        self.sensor_ok = False
        self.counters['dead_periods'] += 1
        what = 'no valid reading' if self.last_valid_ns else 'no reading yet'
        return [self._alert(KIND_SENSOR_DEAD, ERROR, now_ns, math.nan,
                            f'probe silent: {what} for {silent_s:.0f} s; the temperature is '
                            'not watched')]

    def side(self, value_c: float) -> str | None:
        """HIGH above max_c, LOW below min_c, None within the limits."""
        if value_c > self.fridge.max_c:
            return HIGH
        if value_c < self.fridge.min_c:
            return LOW
        return None

    def status(self) -> tuple[int, str]:
        """(level, summary) for /diagnostics: ERROR alarm or dead probe, WARN out of limits
        within the hold (or no reading yet), OK within limits."""
        if not self.sensor_ok:
            return ERROR, 'probe silent: temperature not watched'
        if self.alarm is not None:
            return ERROR, f'ALARM: {self.last_c:.1f} C (limits {self._limits()})'
        if not self.last_valid_ns:
            return WARN, 'waiting for a first reading'
        if self.out_side is not None:
            out_s = max(0.0, (self.last_valid_ns - self.out_since_ns) / NS)
            return WARN, (f'{self.last_c:.1f} C out of limits for {out_s:.0f} s (alarm after '
                          f'{self.hold_s:g} s)')
        return OK, f'{self.last_c:.1f} C (limits {self._limits()})'

    def values(self) -> dict[str, object]:
        return {'kind': self.fridge.kind, 'sensor': self.fridge.sensor,
                'temperature_c': f'{self.last_c:.2f}', 'min_c': self.fridge.min_c,
                'max_c': self.fridge.max_c, 'alarm_after_s': self.hold_s,
                'alarm': self.alarm or '-', 'sensor_ok': self.sensor_ok,
                'bad_readings': self.bad_readings, **self.counters}

    def _back_inside(self, value_c: float) -> bool:
        margin = self.settings.hysteresis_c
        if self.alarm == HIGH:
            return value_c <= self.fridge.max_c - margin
        return value_c >= self.fridge.min_c + margin

    def _limits(self) -> str:
        return f'{self.fridge.min_c:g}..{self.fridge.max_c:g} C'

    def _alert(self, kind: str, level: int, stamp_ns: int, value_c: float,
               what: str) -> TemperatureAlert:
        return TemperatureAlert(self.fridge.fridge_id, kind, level, stamp_ns,
                                f'{self.fridge.kind} {self.fridge.fridge_id} '
                                f'({self.fridge.name}): {what}', value_c)



class TemperatureMonitor:
    """Every unit of the store file (or those asked for), by fridge id."""

    def __init__(self, fridges, settings: TemperatureSettings, start_ns: int = 0):
        self.units = {f.fridge_id: UnitMonitor(f, settings, watch_since_ns=start_ns)
                      for f in fridges}

    def use(self, settings: TemperatureSettings) -> None:
        """New settings: every unit judges its next reading and check with them."""
        for unit in self.units.values():
            unit.settings = settings

    def add(self, fridge_id: str, stamp_ns: int, value_c: float) -> list[TemperatureAlert]:
        return self.units[fridge_id].add(stamp_ns, value_c)

    def check(self, now_ns: int) -> list[TemperatureAlert]:
        """The clock for every unit. A monitor started before the clock (sim time at 0)
        counts silence from the first tick."""
        alerts = []
        for unit in self.units.values():
            if now_ns > 0 and unit.watch_since_ns == 0:
                unit.watch_since_ns = now_ns
            alerts += unit.check(now_ns)
        return alerts
