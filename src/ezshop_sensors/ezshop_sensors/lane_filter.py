"""Turn one lane's raw readings into a count and shelf events (plain Python, no rclpy).

Pipeline per reading (see docs/packages/ezshop_sensors.md for the reasoning):

1. Reject impossible readings: NaN, +/-inf, 0, below the sensor's minimum range, beyond the
   lane's back wall (plus a margin), lux <= 0.
2. Reject single-sample jumps no hand can make: a reading that jumps more than
   ``spike_jump_m`` from the previous one is held back; it is kept only if the next reading
   confirms it (a hand entering the beam stays, a single bad echo does not).
3. Median over the last ``median_window`` accepted readings.
4. Classify the median: at the accepted level (within ``hysteresis_items``), at another level
   ``k`` (within ``level_tolerance_items`` of an integer count), between levels, or occluded
   (something in front of a full lane).
5. A new level must hold for ``settle_s`` before it is accepted (a higher count on an
   ultrasonic lane: ``putback_settle_s``, since a hand in the beam always looks like more
   items; light lanes: ``light_settle_s``), and on ultrasonic lanes steadily: at least
   ``steady_fraction`` of the raw readings of the settle window lie within ``steady_band_m``
   of their median (items stand still, a hand hovering at the depth of a level does not).
   No raw reading of the settle window may show the old level (the items behind a hand,
   seen past it). Then exactly one event with the net delta is emitted, stamped with the
   first raw reading of the new level.

The first settled level initialises the count without an event. A lane without a valid
reading for ``sensor_timeout_s`` becomes unmonitored (count frozen) and recovers after
``recover_readings`` consecutive valid readings.
"""

from __future__ import annotations

import math
import uuid
from collections import deque
from dataclasses import dataclass, field

from ezshop_common.settings import setting
from ezshop_common.store_config import SENSOR_ULTRASONIC, Lane
from ezshop_sensors.lane_counts import KeptLane

NS = 1_000_000_000
#: Lane event ids are UUID 5 names in this namespace.
LANE_EVENT_NAMESPACE = uuid.UUID('0c6f3f2e-8f1d-4b9a-a7a2-3b1f4e5d6c70')
#: After a restart, a first reading this much newer than the newest read before is a gap.
RESUME_GAP_NS = NS // 2
#: Allowance for sample-time jitter when checking the settle time (a reading 1 ms short of
#: the settle time would otherwise wait a whole sample period).
SETTLE_SLACK_NS = 25_000_000

# Classes of a (raw or filtered) reading.
AT_LEVEL = 'at_level'
BETWEEN = 'between'
OCCLUDED = 'occluded'

# Reasons a raw reading is rejected (diagnostic counter names).
REJECT_NAN = 'rejected_nan'
REJECT_TOO_CLOSE = 'rejected_too_close'
REJECT_TOO_FAR = 'rejected_too_far'
REJECT_SPIKE = 'rejected_spike'
REJECT_OUT_OF_ORDER = 'rejected_out_of_order'
REJECT_REASONS = (REJECT_NAN, REJECT_TOO_CLOSE, REJECT_TOO_FAR, REJECT_SPIKE,
                  REJECT_OUT_OF_ORDER)


@dataclass(frozen=True)
class FilterParams:
    """Every threshold of the lane filter. Defaults were tuned on bench/shelf_events.py.

    All are read on every reading (or timeout check), so all may change at run time except
    ``median_window``, the length of the filter's window."""

    median_window: int = setting(5, 'Readings in the median filter', 1, 51)
    settle_s: float = setting(1.0, 'A lower count must hold this long (s) before it is '
                              'accepted', 0.1, 10.0, dynamic=True)
    putback_settle_s: float = setting(
        1.5, 'A higher count (put-back) on an ultrasonic lane must hold this long (s); longer '
        'than settle_s because a hand in the beam looks like more items', 0.1, 10.0,
        dynamic=True)
    light_settle_s: float = setting(
        2.5, 'A light lane change must hold this long (s); longer than the longest hand '
        'shadow', 0.1, 20.0, dynamic=True)
    hysteresis_items: float = setting(
        0.6, 'Ultrasonic: the reading must leave the accepted count by more than this many '
        'items before a change is considered (>= level_tolerance_items)', 0.0, 1.0,
        dynamic=True)
    level_tolerance_items: float = setting(
        0.3, 'Ultrasonic: a reading within this many items of a whole count stands for that '
        'count', 0.05, 0.49, dynamic=True)
    steady_band_m: float = setting(
        0.01, 'Ultrasonic: settle window readings must lie within this (m) of their median '
        '(items stand still, hands do not)', 0.001, 0.1, dynamic=True)
    steady_fraction: float = setting(
        0.75, 'Ultrasonic: fraction of settle window readings that must be within '
        'steady_band_m', 0.0, 1.0, dynamic=True)
    back_wall_margin_m: float = setting(
        0.03, 'Ultrasonic: readings beyond the back wall by more than this (m) are impossible',
        0.0, 1.0, dynamic=True)
    occlusion_margin_items: float = setting(
        0.5, 'Ultrasonic: readings this many items in front of a full lane are something in '
        'the beam', 0.0, 5.0, dynamic=True)
    spike_jump_m: float = setting(
        0.10, 'Ultrasonic: a reading jumping more than this (m) is kept only if the next '
        'reading confirms it', 0.005, 4.0, dynamic=True)
    light_hysteresis_ratio: float = setting(
        1.5, 'Light: a lane turns empty only above dark_below_lux times this', 1.0, 10.0,
        dynamic=True)
    spike_jump_ratio: float = setting(
        4.0, 'Light: a reading changing by more than this factor is kept only if the next '
        'reading confirms it', 1.0, 1000.0, dynamic=True)
    sensor_timeout_s: float = setting(
        3.0, 'A lane without a valid reading this long (s) is unmonitored', 0.1, 600.0,
        dynamic=True)
    recover_readings: int = setting(
        3, 'Consecutive valid readings that bring an unmonitored lane back', 1, 100,
        dynamic=True)

    def __post_init__(self):
        if self.median_window < 1 or self.recover_readings < 1:
            raise ValueError('median_window and recover_readings must be >= 1')
        if not 0.0 < self.level_tolerance_items < 0.5:
            raise ValueError('level_tolerance_items must be in (0, 0.5)')
        if self.hysteresis_items < self.level_tolerance_items:
            raise ValueError('hysteresis_items must be >= level_tolerance_items')
        if self.light_hysteresis_ratio < 1.0:
            raise ValueError('light_hysteresis_ratio must be >= 1')


@dataclass(frozen=True)
class MonitorSettings:
    """How often the shelf monitor republishes its state and checks for silent lanes; the
    node re-creates its timers when they change."""

    state_period_s: float = setting(5.0, 'shelf_state is also republished this often (s)',
                                    0.1, 3600.0, dynamic=True)
    timeout_check_period_s: float = setting(
        1.0, 'Lanes are checked for sensor_timeout_s this often (s)', 0.05, 60.0,
        dynamic=True)


@dataclass(frozen=True)
class LaneEvent:
    """A confirmed change of a lane's count."""

    event_id: str
    shelf_id: str
    lane_id: str
    item_id: str
    stamp_ns: int
    confirmed_ns: int
    count_before: int
    count_after: int
    confidence: float
    #: The count changed while nobody watched (found after a restart): when and who unknown.
    unobserved: bool = False

    @property
    def delta(self) -> int:
        return self.count_after - self.count_before


@dataclass(frozen=True)
class HealthChange:
    """The lane became unmonitored (ok=False) or recovered (ok=True)."""

    ok: bool
    stamp_ns: int
    reason: str


@dataclass
class _Pending:
    level: int
    start_ns: int
    medians: deque = field(default_factory=deque)  # (stamp_ns, fractional count)
    raw: deque = field(default_factory=deque)  # (stamp_ns, value) of the settle window
    old_level_seen_ns: int = -1  # last raw reading at the accepted level (hand see-through)


class LaneFilter:
    """Readings of one lane in, count and events out. Feed readings in stamp order."""

    def __init__(self, lane: Lane, params: FilterParams | None = None,
                 start_ns: int = 0, initial_count: int | None = None,
                 kept: KeptLane | None = None):
        """kept: the lane when the monitor last ran (lane_counts). Readings it had counted are
        skipped; if the first reading is newer than what it had read (a gap nobody watched),
        the first settled level is compared with its count, and a difference is an unobserved
        event."""
        self.lane = lane
        self.ultrasonic = lane.sensor == SENSOR_ULTRASONIC
        self.params = params or FilterParams()
        #: Accepted count; None until the first settled level (unless one was kept).
        self.count: int | None = kept.count if kept else None
        #: The reading that settled `count` (ns): readings up to here are in the count.
        self.counted_ns: int = kept.counted_ns if kept else 0
        self._unobserved = kept is not None
        self._resume_from: KeptLane | None = kept
        self.initial_count = lane.initial_count if initial_count is None else initial_count
        self.sensor_ok = True
        self.last_raw: float = math.nan
        self.last_raw_ns: int = 0
        self.last_valid_ns: int = start_ns
        self.counters: dict[str, int] = {name: 0 for name in (
            'readings', 'accepted', *REJECT_REASONS, 'occluded', 'events',
            'unmonitored_periods', 'replayed')}
        self._window: deque = deque(maxlen=self.params.median_window)  # (stamp, value)
        self._suspect: tuple[int, float] | None = None
        self._previous: float | None = None
        self._pending: _Pending | None = None
        self._valid_run = 0
        self._changed_while_blind = False

    # ----------------------------------------------------------------- public
    @property
    def params(self) -> FilterParams:
        return self._params

    @params.setter
    def params(self, params: FilterParams) -> None:
        """New thresholds, used from the next reading on (median_window is kept)."""
        self._params = params
        self.settle_ns = int(NS * (params.settle_s if self.ultrasonic
                                   else params.light_settle_s))
        self.putback_settle_ns = int(NS * (params.putback_settle_s if self.ultrasonic
                                           else params.light_settle_s))

    @property
    def reported_count(self) -> int:
        """The count to show: accepted, or the store's initial count until initialised."""
        return self.count if self.count is not None else self.initial_count

    def add(self, stamp_ns: int, value: float) -> tuple[list[LaneEvent], list[HealthChange]]:
        """Process one raw reading (metres or lux). Returns new events and health changes."""
        self.counters['readings'] += 1
        if self._resume_from is not None:
            if self._replayed(stamp_ns):
                return [], []
        if stamp_ns < self.last_raw_ns:
            self.counters[REJECT_OUT_OF_ORDER] += 1
            return [], []
        self.last_raw, self.last_raw_ns = value, stamp_ns
        health: list[HealthChange] = []
        reason = self._impossible(value)
        if reason:
            self.counters[reason] += 1
            self._valid_run = 0
            health.extend(self.check_timeout(stamp_ns))
            return [], health
        if self._pending is not None and self.count is not None:
            kind, level, _ = self._classify(value)
            if kind == AT_LEVEL and level == self.count:
                self._pending.old_level_seen_ns = stamp_ns
        events: list[LaneEvent] = []
        for stamp, accepted in self._despike(stamp_ns, value):
            self.counters['accepted'] += 1
            self.last_valid_ns = stamp
            self._valid_run += 1
            if not self.sensor_ok:
                if self._valid_run < self.params.recover_readings:
                    continue
                self.sensor_ok = True
                self._changed_while_blind = True
                health.append(HealthChange(True, stamp, 'readings are back'))
            self._window.append((stamp, accepted))
            event = self._step(stamp)
            if event:
                events.append(event)
        return events, health

    def _replayed(self, stamp_ns: int) -> bool:
        """After a restart: True for a reading the kept count already holds (skipped). The
        first reading tells whether the history reaches back to what was read before."""
        kept = self._resume_from
        if self._unobserved and self.last_raw_ns == 0 \
                and stamp_ns <= kept.read_ns + RESUME_GAP_NS and kept.read_ns:
            self._unobserved = False  # no reading went unread: changes are seen as they happen
        if stamp_ns <= kept.counted_ns:
            self.counters['replayed'] += 1
            return True
        self._resume_from = None
        return False

    def check_timeout(self, now_ns: int) -> list[HealthChange]:
        """Mark the lane unmonitored if no valid reading came for sensor_timeout_s."""
        if not self.sensor_ok:
            return []
        silent_s = (now_ns - self.last_valid_ns) / NS
        if silent_s <= self.params.sensor_timeout_s:
            return []
        self.sensor_ok = False
        self.counters['unmonitored_periods'] += 1
        self._window.clear()
        self._pending = None
        self._suspect = None
        self._previous = None
        self._valid_run = 0
        what = 'garbage' if self.last_raw_ns > self.last_valid_ns else 'nothing'
        return [HealthChange(False, now_ns,
                             f'no valid reading for {silent_s:.1f} s (sensor sends {what})')]

    def settle_for(self, before: int | None, after: int) -> int:
        """Settle time (ns) for a change from ``before`` to ``after`` items."""
        if before is not None and after > before:
            return self.putback_settle_ns
        return self.settle_ns

    def fractional_count(self, value: float) -> float:
        """Item count a reading stands for (unclamped; light: 1.0 dark, 0.0 bright)."""
        if self.ultrasonic:
            geo = self.lane.ultrasonic
            return (geo.empty_distance_m - value) / geo.item_depth_m
        return 1.0 if value < self.lane.light.dark_below_lux else 0.0

    # ---------------------------------------------------------------- stages
    def _impossible(self, value: float) -> str | None:
        if value is None or math.isnan(value):
            return REJECT_NAN
        if self.ultrasonic:
            geo = self.lane.ultrasonic
            if value == -math.inf or value <= 0.0 or value < geo.min_range_m:
                return REJECT_TOO_CLOSE
            if value > geo.empty_distance_m + self.params.back_wall_margin_m:
                return REJECT_TOO_FAR
            return None
        if value <= 0.0:
            return REJECT_TOO_CLOSE
        if math.isinf(value):
            return REJECT_TOO_FAR
        return None

    def _jump(self, a: float, b: float) -> bool:
        if self.ultrasonic:
            return abs(a - b) > self.params.spike_jump_m
        low, high = sorted((a, b))
        return high > low * self.params.spike_jump_ratio

    def _despike(self, stamp_ns: int, value: float) -> list[tuple[int, float]]:
        """Hold a reading that jumps away until the next one confirms it."""
        out: list[tuple[int, float]] = []
        if self._suspect is not None:
            s_stamp, s_value = self._suspect
            self._suspect = None
            if not self._jump(s_value, value):
                out.append((s_stamp, s_value))
                self._previous = s_value
            else:
                self.counters[REJECT_SPIKE] += 1
        if self._previous is not None and self._jump(self._previous, value):
            self._suspect = (stamp_ns, value)
            return out
        out.append((stamp_ns, value))
        self._previous = value
        return out

    def _classify(self, value: float) -> tuple[str, int, float]:
        """(class, level, fractional count) of a reading."""
        p = self.params
        if self.ultrasonic:
            frac = self.fractional_count(value)
            capacity = self.lane.capacity
            if frac > capacity + p.occlusion_margin_items:
                return OCCLUDED, -1, frac
            if self.count is not None and abs(frac - self.count) <= p.hysteresis_items:
                return AT_LEVEL, self.count, frac
            level = min(max(round(frac), 0), capacity)
            if abs(frac - level) <= p.level_tolerance_items:
                return AT_LEVEL, level, frac
            return BETWEEN, -1, frac
        dark = self.lane.light.dark_below_lux
        if value < dark:
            return AT_LEVEL, 1, 1.0
        if value > dark * p.light_hysteresis_ratio:
            return AT_LEVEL, 0, 0.0
        if self.count is not None:
            return AT_LEVEL, self.count, float(self.count)
        return BETWEEN, -1, 0.5

    def _first_stamp_of(self, level: int) -> int:
        """Stamp of the first raw reading of the contiguous run at ``level`` in the window."""
        first = self._window[-1][0]
        for stamp, value in reversed(self._window):
            kind, raw_level, _ = self._classify(value)
            if kind != AT_LEVEL or raw_level != level:
                break
            first = stamp
        return first

    def _step(self, stamp_ns: int) -> LaneEvent | None:
        median = _median([v for _, v in self._window])
        kind, level, frac = self._classify(median)
        if kind == OCCLUDED:
            self.counters['occluded'] += 1
        if kind == AT_LEVEL and level == self.count:
            self._changed_while_blind = False
            self._unobserved = False
        if kind != AT_LEVEL or level == self.count:
            self._pending = None
            return None
        pending = self._pending
        if pending is None or pending.level != level:
            pending = self._pending = _Pending(level, self._first_stamp_of(level))
        pending.medians.append((stamp_ns, frac))
        pending.raw.append(self._window[-1])
        settle_ns = self.settle_for(self.count, level)
        horizon = stamp_ns - settle_ns + SETTLE_SLACK_NS
        for series in (pending.medians, pending.raw):
            while series[0][0] < horizon:
                series.popleft()
        if stamp_ns - pending.start_ns < settle_ns - SETTLE_SLACK_NS \
                or not self._steady(pending):
            return None
        self._pending = None
        before = self.count
        self.count = level
        self.counted_ns = stamp_ns
        if before is None:
            return None
        self.counters['events'] += 1
        deviation = sum(abs(f - level) for _, f in pending.medians) / len(pending.medians)
        confidence = 1.0 - 0.5 * min(1.0, deviation / self.params.level_tolerance_items)
        if self._changed_while_blind:
            confidence *= 0.5
        unobserved, self._unobserved = self._unobserved, False
        if unobserved:
            confidence = 0.0
        self._changed_while_blind = False
        lane = self.lane
        # The same change read twice (a restarted monitor replays readings it had read but
        # not kept) gets the same id: the store and fusion take each id once.
        event_id = uuid.uuid5(LANE_EVENT_NAMESPACE, f'{lane.shelf_id}/{lane.lane_id}/'
                              f'{pending.start_ns}/{before}/{level}')
        return LaneEvent(event_id=str(event_id), shelf_id=lane.shelf_id,
                         lane_id=lane.lane_id, item_id=lane.item_id,
                         stamp_ns=pending.start_ns, confirmed_ns=stamp_ns,
                         count_before=before, count_after=level,
                         confidence=round(confidence, 3), unobserved=unobserved)

    def _steady(self, pending: _Pending) -> bool:
        if pending.old_level_seen_ns >= pending.raw[0][0]:
            return False
        if not self.ultrasonic:
            return True
        values = [v for _, v in pending.raw]
        middle = _median(values)
        band = self.params.steady_band_m
        steady = sum(1 for v in values if abs(v - middle) <= band)
        return steady >= self.params.steady_fraction * len(values)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return 0.5 * (ordered[mid - 1] + ordered[mid])
