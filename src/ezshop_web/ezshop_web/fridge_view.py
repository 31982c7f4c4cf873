"""The console's fridges and freezers: each unit's latest probe reading and its state, from the
readings (fridges/<fridge>/temperature) and temperature_monitor's alerts. Plain Python.

A unit's state, most urgent first:

- ``alarm``: temperature_monitor raised temperature_high / temperature_low for it and has not
  sent temperature_recovered since;
- ``no_reading``: no reading yet, none for ``stale_after_s``, or the monitor reported the
  probe silent (temperature_sensor_dead, until temperature_sensor_recovered);
- ``out_of_limits``: the latest reading is outside min_c..max_c, not (yet) an alarm (a door
  opened for a moment);
- ``ok``.

The web node only judges what to show; alarms are temperature_monitor's (its hold times,
hysteresis). Times are seconds of the node's clock (readings are stamped at the reading).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ezshop_common.temperature_alerts import (
    KIND_HIGH,
    KIND_LOW,
    KIND_RECOVERED,
    KIND_SENSOR_DEAD,
    TEMPERATURE_ALERT_KINDS,
)

OK = 'ok'
OUT_OF_LIMITS = 'out_of_limits'
ALARM = 'alarm'
NO_READING = 'no_reading'
#: What the console says for each state (text, never colour only).
STATE_LABELS = {OK: 'OK', OUT_OF_LIMITS: 'out of limits', ALARM: 'ALARM',
                NO_READING: 'no reading'}


@dataclass
class _Unit:
    fridge_id: str
    name: str
    kind: str
    min_c: float
    max_c: float
    value_c: float | None = None
    reading_s: float | None = None
    #: 'high' / 'low' while an alarm is unresolved, and the stamp of the alert that set it.
    alarm: str | None = None
    alarm_s: float = -math.inf
    sensor_dead: bool = False
    sensor_s: float = -math.inf

    def state(self, now_s: float, stale_after_s: float) -> str:
        if self.alarm:
            return ALARM
        if self.sensor_dead or self.reading_s is None \
                or now_s - self.reading_s > stale_after_s:
            return NO_READING
        if self.value_c < self.min_c or self.value_c > self.max_c:
            return OUT_OF_LIMITS
        return OK


class FridgeView:
    """Every fridge and freezer of the store file, in its order. ``on_reading`` and
    ``on_alert`` fold the input in; ``update(now_s)`` says what to push to the pages."""

    def __init__(self, fridges, stale_after_s: float):
        """fridges: ezshop_common.store_config.Fridge (or anything with its fields)."""
        self.units: dict[str, _Unit] = {
            f.fridge_id: _Unit(f.fridge_id, f.name, f.kind, float(f.min_c), float(f.max_c))
            for f in fridges}
        self.stale_after_s = stale_after_s
        #: fridge_id -> (state, value at one decimal) the pages were last sent.
        self._shown: dict[str, tuple[str, float | None]] = {}
        #: A reading or alert came since the last push (the ages on the pages are behind).
        self._pending = False

    def on_reading(self, fridge_id: str, stamp_s: float, value_c: float) -> bool:
        """A probe reading (degrees C, stamped at the reading). Unknown units and readings not
        newer than the unit's latest change nothing; a reading that is no temperature
        (NaN, inf) is refused with ValueError."""
        value_c = float(value_c)
        if not math.isfinite(value_c) or not math.isfinite(stamp_s):
            raise ValueError(f'fridge {fridge_id}: reading {value_c!r} at {stamp_s!r} is no '
                             'temperature')
        unit = self.units.get(fridge_id)
        if unit is None or (unit.reading_s is not None and stamp_s <= unit.reading_s):
            return False
        unit.value_c, unit.reading_s = value_c, stamp_s
        self._pending = True
        return True

    def on_alert(self, alert: dict) -> bool:
        """An alert (messages.alert_dict); temperature_monitor's, refs = [fridge_id], change
        a unit's alarm or probe state. An alert older than the one that set that state (the
        bus may reorder) changes nothing."""
        if alert['kind'] not in TEMPERATURE_ALERT_KINDS or not alert.get('refs'):
            return False
        unit = self.units.get(alert['refs'][0])
        if unit is None:
            return False
        stamp = alert['stamp']
        kind = alert['kind']
        if kind in (KIND_HIGH, KIND_LOW, KIND_RECOVERED):
            if stamp < unit.alarm_s:
                return False
            unit.alarm_s = stamp
            unit.alarm = {KIND_HIGH: 'high', KIND_LOW: 'low'}.get(kind)
        else:
            if stamp < unit.sensor_s:
                return False
            unit.sensor_s = stamp
            unit.sensor_dead = kind == KIND_SENSOR_DEAD
        self._pending = True
        return True

    def update(self, now_s: float, refresh: bool = False) -> list[dict] | None:
        """The rows to push to the pages now, or None. Pushed at once when what a page shows
        changed (a state, a temperature at one decimal); with refresh (the node's timer) also
        when anything came since the last push, so the ages shown catch up."""
        shown = {u.fridge_id: self._look(u, now_s) for u in self.units.values()}
        if shown == self._shown and not (refresh and self._pending):
            return None
        self._shown = shown
        self._pending = False
        return self.rows(now_s)

    def _look(self, unit: _Unit, now_s: float) -> tuple[str, float | None]:
        return (unit.state(now_s, self.stale_after_s),
                None if unit.value_c is None else round(unit.value_c, 1))

    def rows(self, now_s: float) -> list[dict]:
        """What a page shows, as of now_s."""
        rows = []
        for unit in self.units.values():
            state = unit.state(now_s, self.stale_after_s)
            rows.append({
                'fridge_id': unit.fridge_id, 'name': unit.name, 'kind': unit.kind,
                'min_c': unit.min_c, 'max_c': unit.max_c, 'value_c': unit.value_c,
                'reading_at': unit.reading_s,
                'age_s': (None if unit.reading_s is None
                          else round(max(0.0, now_s - unit.reading_s), 1)),
                'state': state, 'state_label': STATE_LABELS[state],
                'alarm': unit.alarm or '', 'sensor_dead': unit.sensor_dead})
        return rows
