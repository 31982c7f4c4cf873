"""MQTT readings of lane controllers and temperature probes: the payload schema and the gate
that admits a reading or says why not. Plain Python (no rclpy, no MQTT client).

One reading per MQTT message, JSON, schema version 1 (docs/packages/ezshop_mqtt.md):

    topic   <prefix>/<store>/shelves/<shelf>/<lane>/<kind>     kind: range | illuminance
            <prefix>/<store>/fridges/<fridge>/temperature
    payload {"v": 1, "kind": "range", "shelf": "shelf_a", "lane": "lane_1",
             "value": 0.31, "unit": "m", "stamp": 1796550000.125, "seq": 42}

`value` is metres (range; null = no echo within the sensor's range), lux (illuminance) or
degrees Celsius (temperature, with "fridge" instead of "shelf" and "lane"); `stamp` is UNIX
time (s, to the microsecond) of the reading on the device's NTP clock; `seq` counts the
device's readings of that source, so a redelivered message (QoS 1) is known and dropped, and a
device that restarted (seq from 1 again with a newer stamp) is accepted again.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass

from ezshop_common.clock_skew import ClockSkewSettings, ahead_by_ns
from ezshop_common.settings import setting
from ezshop_common.store_config import SENSOR_ULTRASONIC, Lane

SCHEMA_VERSION = 1
KIND_RANGE = 'range'
KIND_ILLUMINANCE = 'illuminance'
KIND_TEMPERATURE = 'temperature'
#: The unit each kind's value is in.
UNITS = {KIND_RANGE: 'm', KIND_ILLUMINANCE: 'lx', KIND_TEMPERATURE: 'C'}
#: Values no working sensor of the kind reports (a wiring fault, a corrupted payload).
PLAUSIBLE = {KIND_RANGE: (0.0, 10.0), KIND_ILLUMINANCE: (0.0, 200_000.0),
             KIND_TEMPERATURE: (-60.0, 60.0)}
#: Largest payload read (bytes): a reading is ~120.
MAX_PAYLOAD_BYTES = 1024
#: A seq is a non-negative integer below this (JSON numbers beyond 2^53 lose precision).
MAX_SEQ = 2 ** 53

#: Why a message was not admitted (each counted on /diagnostics).
INVALID_JSON = 'invalid_json'
BAD_SCHEMA = 'bad_schema'
UNKNOWN_SOURCE = 'unknown_source'
TOPIC_MISMATCH = 'topic_mismatch'
BAD_VALUE = 'bad_value'
DUPLICATE = 'duplicate'
OUT_OF_ORDER = 'out_of_order'
STALE = 'stale'
FROM_THE_FUTURE = 'from_the_future'
REASONS = (INVALID_JSON, BAD_SCHEMA, UNKNOWN_SOURCE, TOPIC_MISMATCH, BAD_VALUE, DUPLICATE,
           OUT_OF_ORDER, STALE, FROM_THE_FUTURE)


@dataclass(frozen=True)
class GateSettings:
    max_age_s: float = setting(
        60.0, 'A reading stamped longer ago than this is stale and dropped (s): long enough '
        'for what a broker restart or a reconnect delivers late', 0.1, 86400.0, dynamic=True)


@dataclass(frozen=True)
class Reading:
    """An admitted reading. `source` is (shelf, lane) or (fridge,)."""

    kind: str
    source: tuple[str, ...]
    value: float  # m (+inf: no echo), lx or degrees C
    stamp_ns: int
    seq: int


@dataclass(frozen=True)
class Rejected:
    reason: str  # one of REASONS
    detail: str


def lane_kind(lane: Lane) -> str:
    """The kind of reading a lane's sensor reports: range (HC-SR04) or illuminance (LDR)."""
    return KIND_RANGE if lane.sensor == SENSOR_ULTRASONIC else KIND_ILLUMINANCE


def reading_topic(prefix: str, store_id: str, kind: str, source: tuple[str, ...]) -> str:
    """The MQTT topic a device publishes a reading of `source` on."""
    if kind == KIND_TEMPERATURE:
        return f'{prefix}/{store_id}/fridges/{source[0]}/{KIND_TEMPERATURE}'
    return f'{prefix}/{store_id}/shelves/{source[0]}/{source[1]}/{kind}'


def reading_filters(prefix: str, store_id: str) -> tuple[str, str]:
    """The MQTT subscriptions that receive every reading of a store."""
    return (f'{prefix}/{store_id}/shelves/+/+/+', f'{prefix}/{store_id}/fridges/+/+')


def wire_stamp_ns(stamp_s: float) -> int:
    """The stamp (ns) a reading stamped `stamp_s` (UNIX s) carries: to the microsecond, as
    the payload writes it and the bridge reads it."""
    return int(round(round(stamp_s, 6) * 1e6)) * 1000


def encode_reading(kind: str, source: tuple[str, ...], value: float | None, stamp_s: float,
                   seq: int) -> bytes:
    """A device's payload (schema 1); value None or +inf of a range: no echo."""
    body: dict = {'v': SCHEMA_VERSION, 'kind': kind}
    if kind == KIND_TEMPERATURE:
        body['fridge'] = source[0]
    else:
        body['shelf'], body['lane'] = source
    if value is not None and math.isinf(value):
        value = None
    body.update(value=value, unit=UNITS[kind], stamp=round(stamp_s, 6), seq=seq)
    return json.dumps(body, separators=(',', ':')).encode()


class ReadingGate:
    """Admits readings of known sources in order, once; counts every refusal by reason."""

    def __init__(self, prefix: str, store_id: str, sources: dict[tuple[str, ...], str],
                 settings: GateSettings | None = None,
                 skew: ClockSkewSettings | None = None):
        """`sources`: (shelf, lane) or (fridge,) -> the kind its sensor reports."""
        self.prefix, self.store_id = prefix, store_id
        self.sources = dict(sources)
        self.settings = settings or GateSettings()
        self.skew = skew or ClockSkewSettings()
        self.rejected: Counter = Counter()  # reason -> messages
        self.admitted = 0
        self.device_restarts = 0
        self._last: dict[tuple[str, ...], tuple[int, int]] = {}  # source -> (seq, stamp_ns)

    def admit(self, topic: str, payload: bytes, now_ns: int) -> Reading | Rejected:
        """The reading in this message, or why it is refused (and counted)."""
        verdict = self._judge(topic, payload, now_ns)
        if isinstance(verdict, Rejected):
            self.rejected[verdict.reason] += 1
        else:
            self.admitted += 1
        return verdict

    def _judge(self, topic: str, payload: bytes, now_ns: int) -> Reading | Rejected:
        if len(payload) > MAX_PAYLOAD_BYTES:
            return Rejected(BAD_SCHEMA, f'{len(payload)} bytes (at most {MAX_PAYLOAD_BYTES})')
        try:
            body = json.loads(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            return Rejected(INVALID_JSON, str(exc)[:80])
        parsed = _parse(body)
        if isinstance(parsed, Rejected):
            return parsed
        kind, source, value, stamp_s, seq = parsed
        expected = self.sources.get(source)
        if expected is None:
            return Rejected(UNKNOWN_SOURCE, '/'.join(source))
        if kind != expected:
            return Rejected(BAD_SCHEMA, f"{'/'.join(source)} reports {expected}, not {kind}")
        if topic != reading_topic(self.prefix, self.store_id, kind, source):
            return Rejected(TOPIC_MISMATCH, f"{'/'.join(source)} on {topic}")
        low, high = PLAUSIBLE[kind]
        if value is None:
            if kind != KIND_RANGE:
                return Rejected(BAD_VALUE, f'{kind} without a value')
            value = math.inf
        elif not (math.isfinite(value) and low <= value <= high):
            return Rejected(BAD_VALUE, f'{value} {UNITS[kind]}')
        stamp_ns = wire_stamp_ns(stamp_s)
        if ahead_by_ns(stamp_ns, now_ns, self.skew):
            return Rejected(FROM_THE_FUTURE, f'{(stamp_ns - now_ns) / 1e9:.1f} s ahead')
        if now_ns > 0 and now_ns - stamp_ns > self.settings.max_age_s * 1e9:
            return Rejected(STALE, f'{(now_ns - stamp_ns) / 1e9:.1f} s old')
        order = self._in_order(source, seq, stamp_ns)
        if order is not None:
            return order
        self._last[source] = (seq, stamp_ns)
        return Reading(kind, source, float(value), stamp_ns, seq)

    def _in_order(self, source, seq: int, stamp_ns: int) -> Rejected | None:
        last = self._last.get(source)
        if last is None:
            return None
        last_seq, last_stamp = last
        if seq == last_seq and stamp_ns == last_stamp:
            return Rejected(DUPLICATE, f'seq {seq}')
        if seq > last_seq and stamp_ns >= last_stamp:
            return None
        if seq < last_seq and stamp_ns > last_stamp:
            self.device_restarts += 1  # the device counts from 0 again
            return None
        return Rejected(OUT_OF_ORDER, f'seq {seq} after {last_seq}')


def _parse(body) -> tuple[str, tuple[str, ...], float | None, float, int] | Rejected:
    if not isinstance(body, dict):
        return Rejected(BAD_SCHEMA, 'not a JSON object')
    version = body.get('v')
    if isinstance(version, bool) or version != SCHEMA_VERSION:
        return Rejected(BAD_SCHEMA, f"schema version {body.get('v')!r} (this bridge reads "
                                    f'{SCHEMA_VERSION})')
    kind = body.get('kind')
    if not isinstance(kind, str) or kind not in UNITS:
        return Rejected(BAD_SCHEMA, f'kind {kind!r}')
    if body.get('unit') != UNITS[kind]:
        return Rejected(BAD_SCHEMA, f"unit {body.get('unit')!r} for {kind} ({UNITS[kind]})")
    names = ('fridge',) if kind == KIND_TEMPERATURE else ('shelf', 'lane')
    source = tuple(body.get(name) for name in names)
    if not all(isinstance(part, str) and 0 < len(part) <= 64 for part in source):
        return Rejected(BAD_SCHEMA, f"{' and '.join(names)} must be short strings")
    value, stamp, seq = body.get('value'), body.get('stamp'), body.get('seq')
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return Rejected(BAD_SCHEMA, 'value must be a number or null')
    if isinstance(stamp, bool) or not isinstance(stamp, (int, float)) \
            or not math.isfinite(stamp) or stamp <= 0:
        return Rejected(BAD_SCHEMA, 'stamp must be UNIX seconds')
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < MAX_SEQ:
        return Rejected(BAD_SCHEMA, 'seq must be a non-negative integer')
    return kind, source, None if value is None else float(value), float(stamp), seq
