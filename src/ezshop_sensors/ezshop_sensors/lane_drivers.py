"""gpiozero drivers for the lane sensors of one shelf controller (no rclpy).

- HC-SR04 lanes: :class:`SequencedDistanceSensor`, a gpiozero DistanceSensor whose pings
  take turns through a shared :class:`PingSequencer` (first come, first served, with a quiet
  gap after every ping so a late echo of one sensor never reaches the next one).
- LDR lanes: :class:`TimedLightSensor`, a gpiozero LightSensor. Its 0..1 value is mapped to
  lux linearly: ``lux = value * full_scale_lux`` (see lux_from_light_value).

Both record when each raw reading was taken (``clock()``, the node's ROS clock), so every
published message carries the time of the reading, and a sensor that stops answering stops
producing readings instead of repeating its last median forever.
"""

from __future__ import annotations

import statistics
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import entry_points

from gpiozero import DistanceSensor, LightSensor
from gpiozero.exc import DistanceSensorNoEcho, PWMSoftwareFallback
from gpiozero.pins.mock import (
    MockChargingPin,
    MockFactory,
    MockPin,
    MockTriggerPin,
    PinState,
)

from ezshop_common.settings import setting

KIND_ULTRASONIC = 'ultrasonic'
KIND_LIGHT = 'light'
KINDS = (KIND_ULTRASONIC, KIND_LIGHT)

#: HC-SR04 datasheet: 2 cm .. 4 m, measuring angle 15 degrees.
HCSR04_MIN_RANGE_M = 0.02
HCSR04_MAX_RANGE_M = 4.0
HCSR04_FIELD_OF_VIEW_RAD = 0.2618
SPEED_OF_SOUND_MPS = 343.26  # the value gpiozero's DistanceSensor uses

# Missing echoes are counted per lane (no_echo) instead of warning from a background thread.
warnings.filterwarnings('ignore', category=DistanceSensorNoEcho)


@dataclass(frozen=True)
class ControllerSettings:
    """Settings shared by the lanes of one shelf controller."""

    ping_gap_s: float = setting(
        0.025, 'Quiet time (s) after one HC-SR04 ping before the next sensor may ping', 0.0,
        1.0, dynamic=True)


@dataclass(frozen=True)
class LaneSpec:
    """One lane of a shelf controller, as given by the node's ``<lane>.*`` parameters.

    The node reads ``lane_id`` from its lane list and ``kind`` first (the mock_value default
    depends on it). The publish rate and the lux scale are read on every message, so they may
    change at run time; pins, frame and the gpiozero device settings are fixed at start.
    """

    lane_id: str = ''
    kind: str = KIND_ULTRASONIC
    frame_id: str = setting('', 'frame_id of the readings (default <shelf>_<lane>)')
    rate_hz: float = setting(10.0, 'Publish rate (Hz); a new reading is needed for each '
                             'message', 0.1, 50.0, dynamic=True)
    echo_pin: str = setting('', "HC-SR04 ECHO GPIO (gpiozero pin name, e.g. 'GPIO24')")
    trigger_pin: str = setting('', "HC-SR04 TRIG GPIO (e.g. 'GPIO23')")
    pin: str = setting('', "LDR + capacitor GPIO (e.g. 'GPIO18')")
    max_distance_m: float = setting(
        1.0, 'HC-SR04: readings at or beyond this (m) are published as +inf', 0.05, 4.0)
    queue_len: int = setting(
        1, 'gpiozero median queue length (1 = raw; the shelf monitor filters)', 1, 50)
    charge_time_limit_s: float = setting(
        0.01, 'LDR: capacitor charge time (s) that reads as dark (gpiozero)', 0.001, 1.0)
    full_scale_lux: float = setting(
        1000.0, 'LDR: lux published for a gpiozero value of 1.0 (linear map)', 1.0, 1e6,
        dynamic=True)
    mock_value: float = setting(
        0.3, "With pin_factory 'mock': the constant reading (m or lux; default 0.3 m, light "
        'lanes 400 lux)', 0.0, 1e6)


#: mock_value of a light lane unless set.
DEFAULT_MOCK_LUX = 400.0


@dataclass(frozen=True)
class Sample:
    """One raw reading: its sequence number, the driver's (smoothed) value, when it was read."""

    seq: int
    value: float
    stamp_ns: int


def lux_from_light_value(value: float, full_scale_lux: float) -> float:
    """gpiozero LightSensor value (0 dark .. 1 bright) to lux: linear, ``value * full_scale``."""
    return max(0.0, min(1.0, value)) * full_scale_lux


def range_value(distance_m: float, min_range_m: float, max_range_m: float) -> float:
    """Range.range under REP-117: -inf below min_range, +inf at or beyond max_range."""
    if distance_m < min_range_m:
        return float('-inf')
    if distance_m >= max_range_m:
        return float('inf')
    return distance_m


class PingSequencer:
    """Lets HC-SR04s ping one at a time, in arrival order, with ``gap_s`` of quiet between."""

    def __init__(self, gap_s: float = 0.025):
        self.gap_s = gap_s
        self._cond = threading.Condition()
        self._next_ticket = 0
        self._serving = 0
        self._quiet_until = 0.0

    @contextmanager
    def turn(self):
        with self._cond:
            ticket = self._next_ticket
            self._next_ticket += 1
            self._cond.wait_for(lambda: self._serving == ticket)
        try:
            wait = self._quiet_until - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            yield
        finally:
            with self._cond:
                self._quiet_until = time.monotonic() + self.gap_s
                self._serving += 1
                self._cond.notify_all()


class _Recorder:
    """Mixin: keep the newest reading with its stamp and a count of failed reads.

    The value is the median of the last queue_len raw readings, as gpiozero's own queue
    computes it, but taken with the reading: gpiozero appends a raw reading to its queue only
    after _read returned, so its median read in between paired this reading's stamp with the
    previous median (0.0 before the first reading: a Range of -inf, or 0 lux)."""

    def _init_recorder(self, clock: Callable[[], int], queue_len: int):
        self._clock = clock
        self._lock = threading.Lock()
        self._latest: Sample | None = None
        self._raw: deque[float] = deque(maxlen=queue_len)
        self._seq = 0
        self.failed_reads = 0

    def _record(self, raw, stamp_ns: int):
        with self._lock:
            if raw is None:
                self.failed_reads += 1
                return
            self._seq += 1
            self._raw.append(float(raw))
            self._latest = Sample(self._seq, self._scaled(statistics.median(self._raw)),
                                  stamp_ns)

    def latest(self) -> Sample | None:
        """The newest reading (value = the median over queue_len up to it), or None."""
        with self._lock:
            return self._latest


class SequencedDistanceSensor(_Recorder, DistanceSensor):
    """gpiozero DistanceSensor (HC-SR04) that pings only when the sequencer says so."""

    def __init__(self, echo, trigger, *, sequencer: PingSequencer, clock: Callable[[], int],
                 queue_len: int = 9, **kwargs):
        self._init_recorder(clock, queue_len)
        self._sequencer = sequencer
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', PWMSoftwareFallback)
            super().__init__(echo, trigger, partial=True, queue_len=queue_len, **kwargs)

    def _read(self):
        with self._sequencer.turn():
            stamp = self._clock()
            try:
                raw = None if self.closed else super()._read()
            except Exception:  # noqa: BLE001 - closed while waiting for its turn
                raw = None
        self._record(raw, stamp)
        return raw

    def _scaled(self, value: float) -> float:
        return value * self.max_distance


class TimedLightSensor(_Recorder, LightSensor):
    """gpiozero LightSensor (LDR + capacitor) recording when each reading was taken."""

    def __init__(self, pin, *, clock: Callable[[], int], queue_len: int = 5, **kwargs):
        self._init_recorder(clock, queue_len)
        super().__init__(pin, partial=True, queue_len=queue_len, **kwargs)

    def _read(self):
        try:
            raw = None if self.closed else super()._read()
        except Exception:  # noqa: BLE001 - closed while reading
            raw = None
        self._record(raw, self._clock())
        return raw

    def _scaled(self, value: float) -> float:
        return value


def make_pin_factory(name: str):
    """'' = gpiozero's default; 'mock' = MockFactory; else a gpiozero factory by entry-point
    name (lgpio, rpigpio, pigpio, native)."""
    if not name:
        return None
    if name == 'mock':
        return MockFactory()
    factories = entry_points(group='gpiozero_pin_factories')
    matches = [ep for ep in factories if ep.name == name]
    if not matches:
        known = ', '.join(sorted({ep.name for ep in factories} | {'mock'}))
        raise ValueError(f'unknown pin factory {name!r} (known: {known})')
    return matches[0].load()()


class _PunctualEchoPin(MockPin):
    """Mock echo pin whose edges are stamped when the pulse was due to rise and to end.

    gpiozero's mock stamps an edge when its sleeping thread wakes; a busy machine wakes it
    milliseconds late (0.17 m of distance per millisecond), so a constant mock distance read
    as noise the shelf monitor never accepted as steady; and an echo whose thread woke after
    the sensor stopped waiting (its reading then failed) overlapped the next sensor's ping."""

    _due: float | None = None

    def pulse(self, rise: float, fall: float) -> None:
        """Drive the pin high at ``rise`` and low at ``fall`` (monotonic s), stamped so."""
        for due, drive in ((rise, self.drive_high), (fall, self.drive_low)):
            time.sleep(max(0.0, due - time.monotonic()))
            self._due = due
            try:
                drive()
            finally:
                self._due = None

    def _change_state(self, value):
        if self._due is None:
            return super()._change_state(value)
        return _change_state_at(self, value, self._due)


class _PunctualTriggerPin(MockTriggerPin):
    """Mock trigger pin driving a :class:`_PunctualEchoPin`: the echo rises 1 ms after the
    trigger (as gpiozero's mock) and lasts exactly ``echo_time``."""

    def _set_state(self, value):
        MockPin._set_state(self, value)
        if value:
            if self._echo_thread:
                self._echo_thread.join()
            rise = self._last_change + 0.001
            self._echo_thread = threading.Thread(
                target=self.echo_pin.pulse, args=(rise, rise + self.echo_time))
            self._echo_thread.start()


class _PunctualChargingPin(MockChargingPin):
    """Mock LDR pin whose charged edge is stamped ``charge_time`` after it became an input,
    and reported at once: gpiozero's mock drives it from a sleeping thread, and a busy machine
    woke that thread after LightSensor's time limit (a reading of 0.0, dark, not the mock
    lux)."""

    _due_high: float | None = None

    def _set_function(self, value):
        if value != 'input':
            super()._set_function(value)
            return
        self._due_high = time.monotonic() + self.charge_time
        MockPin._set_function(self, value)  # without gpiozero's charging thread
        self.drive_high()

    def _change_state(self, value):
        if not value or self._due_high is None:
            return super()._change_state(value)
        return _change_state_at(self, value, self._due_high)


def _change_state_at(pin: MockPin, value: bool, at: float) -> bool:
    """MockPin._change_state, stamped ``at`` (monotonic s) instead of now; its state log too."""
    if pin._state == value:
        return False
    pin._state = value
    pin.states.append(PinState(at - pin._last_change, value))
    pin._last_change = at
    return True


def prepare_mock_pins(factory: MockFactory, spec: LaneSpec) -> None:
    """With the mock factory, wire the lane's pins so the sensor reads ``spec.mock_value``
    (metres or lux): an echo pin answering the trigger, or a charging LDR pin, both stamping
    their edges on time so the value does not depend on how busy the machine is."""
    if spec.kind == KIND_ULTRASONIC:
        echo = factory.pin(spec.echo_pin, pin_class=_PunctualEchoPin)
        factory.pin(spec.trigger_pin, pin_class=_PunctualTriggerPin, echo_pin=echo,
                    echo_time=2.0 * spec.mock_value / SPEED_OF_SOUND_MPS)
    else:
        fraction = 1.0 - min(1.0, max(0.0, spec.mock_value / spec.full_scale_lux))
        factory.pin(spec.pin, pin_class=_PunctualChargingPin,
                    charge_time=fraction * spec.charge_time_limit_s)


def open_sensor(spec: LaneSpec, factory, sequencer: PingSequencer,
                clock: Callable[[], int]):
    """The gpiozero device for one lane."""
    if spec.kind == KIND_ULTRASONIC:
        return SequencedDistanceSensor(
            spec.echo_pin, spec.trigger_pin, sequencer=sequencer, clock=clock,
            queue_len=spec.queue_len, max_distance=spec.max_distance_m,
            pin_factory=factory)
    if spec.kind == KIND_LIGHT:
        return TimedLightSensor(spec.pin, clock=clock, queue_len=spec.queue_len,
                                charge_time_limit=spec.charge_time_limit_s,
                                pin_factory=factory)
    raise ValueError(f'lane {spec.lane_id}: unknown kind {spec.kind!r} (expected {KINDS})')
