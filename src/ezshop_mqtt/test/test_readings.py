"""The reading gate: what a lane controller may say over MQTT, and what is refused (counted)."""

import json
import math

from hypothesis import given
from hypothesis import strategies as st

from ezshop_mqtt import readings
from ezshop_mqtt.readings import (
    KIND_ILLUMINANCE,
    KIND_RANGE,
    KIND_TEMPERATURE,
    Reading,
    ReadingGate,
    Rejected,
    encode_reading,
    reading_filters,
    reading_topic,
)

NOW_S = 1_796_550_000.0
NOW_NS = int(NOW_S * 1e9)
LANE = ('shelf_a', 'lane_1')
LIGHT = ('shelf_a', 'lane_3')
FREEZER = ('freezer_1',)
SOURCES = {LANE: KIND_RANGE, LIGHT: KIND_ILLUMINANCE, FREEZER: KIND_TEMPERATURE}


def gate():
    return ReadingGate('ezshop', 'default', SOURCES)


def message(kind, source, value, stamp_s=NOW_S - 0.05, seq=1):
    return (reading_topic('ezshop', 'default', kind, source),
            encode_reading(kind, source, value, stamp_s, seq))


def test_a_reading_of_each_kind_is_admitted_with_its_stamp():
    g = gate()
    got = g.admit(*message(KIND_RANGE, LANE, 0.31), NOW_NS)
    assert (got.kind, got.source, got.value, got.seq) == (KIND_RANGE, LANE, 0.31, 1)
    # UNIX seconds to the microsecond (a JSON double holds them exactly enough).
    assert got.stamp_ns == NOW_NS - 50_000_000
    assert g.admit(*message(KIND_ILLUMINANCE, LIGHT, 20.0), NOW_NS).value == 20.0
    assert g.admit(*message(KIND_TEMPERATURE, FREEZER, -18.5), NOW_NS).value == -18.5
    assert g.admitted == 3 and not g.rejected


def test_no_echo_is_an_infinite_range():
    topic, payload = message(KIND_RANGE, LANE, math.inf)
    assert json.loads(payload)['value'] is None
    assert gate().admit(topic, payload, NOW_NS).value == math.inf


def test_topics_a_bridge_subscribes_to_match_the_devices_topics():
    shelves, fridges = reading_filters('ezshop', 'default')
    assert reading_topic('ezshop', 'default', KIND_RANGE, LANE).startswith(shelves[:-6])
    assert reading_topic('ezshop', 'default', KIND_TEMPERATURE, FREEZER).startswith(
        fridges[:-4])


def refused(g, topic, payload, now_ns=NOW_NS):
    verdict = g.admit(topic, payload, now_ns)
    assert isinstance(verdict, Rejected), verdict
    return verdict.reason


def test_every_kind_of_bad_message_is_refused_and_counted_by_reason():
    g = gate()
    topic, good = message(KIND_RANGE, LANE, 0.3)
    body = json.loads(good)
    cases = [
        (topic, b'{not json', readings.INVALID_JSON),
        (topic, b'\xff\xfe', readings.INVALID_JSON),
        (topic, b'[1, 2]', readings.BAD_SCHEMA),
        (topic, json.dumps({**body, 'v': 2}).encode(), readings.BAD_SCHEMA),
        (topic, json.dumps({**body, 'unit': 'cm'}).encode(), readings.BAD_SCHEMA),
        (topic, json.dumps({**body, 'kind': 'humidity'}).encode(), readings.BAD_SCHEMA),
        (topic, json.dumps({**body, 'seq': -1}).encode(), readings.BAD_SCHEMA),
        (topic, json.dumps({**body, 'seq': 1.5}).encode(), readings.BAD_SCHEMA),
        (topic, json.dumps({**body, 'stamp': 'now'}).encode(), readings.BAD_SCHEMA),
        (topic, json.dumps({**body, 'value': 'far'}).encode(), readings.BAD_SCHEMA),
        (topic, json.dumps({**body, 'lane': 'x' * 65}).encode(), readings.BAD_SCHEMA),
        (topic, b'{"v": 1, "pad": "' + b'x' * 2000 + b'"}', readings.BAD_SCHEMA),
        (topic, json.dumps({**body, 'lane': 'lane_9'}).encode(), readings.UNKNOWN_SOURCE),
        (topic, json.dumps({**body, 'lane': 'lane_3'}).encode(), readings.BAD_SCHEMA),
        ('ezshop/default/shelves/shelf_b/lane_1/range', good, readings.TOPIC_MISMATCH),
        (topic, json.dumps({**body, 'value': -0.5}).encode(), readings.BAD_VALUE),
        (topic, json.dumps({**body, 'value': 1e308 * 10}).encode(), readings.BAD_VALUE),
        (topic, json.dumps({**body, 'stamp': NOW_S - 3600}).encode(), readings.STALE),
        (topic, json.dumps({**body, 'stamp': NOW_S + 3600}).encode(), readings.FROM_THE_FUTURE),
    ]
    for topic_, payload, reason in cases:
        assert refused(g, topic_, payload) == reason, payload[:80]
    assert sum(g.rejected.values()) == len(cases) and g.admitted == 0


def test_a_redelivered_reading_is_dropped_and_an_older_one_is_out_of_order():
    g = gate()
    first = message(KIND_RANGE, LANE, 0.3, NOW_S - 1.0, seq=5)
    assert isinstance(g.admit(*first, NOW_NS), Reading)
    assert refused(g, *first) == readings.DUPLICATE  # QoS 1 sends it again
    assert refused(g, *message(KIND_RANGE, LANE, 0.3, NOW_S - 2.0, seq=4)) == \
        readings.OUT_OF_ORDER
    assert isinstance(g.admit(*message(KIND_RANGE, LANE, 0.3, NOW_S - 0.9, seq=6), NOW_NS),
                      Reading)


def test_a_device_that_restarted_counts_from_one_again_and_is_believed():
    g = gate()
    assert isinstance(g.admit(*message(KIND_RANGE, LANE, 0.3, NOW_S - 5, seq=900), NOW_NS),
                      Reading)
    assert isinstance(g.admit(*message(KIND_RANGE, LANE, 0.3, NOW_S - 1, seq=1), NOW_NS),
                      Reading)
    assert g.device_restarts == 1


def test_each_source_has_its_own_order():
    g = gate()
    assert isinstance(g.admit(*message(KIND_RANGE, LANE, 0.3, seq=9), NOW_NS), Reading)
    assert isinstance(g.admit(*message(KIND_ILLUMINANCE, LIGHT, 5.0, seq=1), NOW_NS), Reading)


@given(st.binary(max_size=300), st.text(max_size=60))
def test_any_bytes_on_any_topic_are_judged_never_raised(payload, topic):
    g = gate()
    verdict = g.admit(topic, payload, NOW_NS)
    assert isinstance(verdict, (Reading, Rejected))


@given(st.dictionaries(st.sampled_from(['v', 'kind', 'shelf', 'lane', 'fridge', 'value', 'unit',
                                        'stamp', 'seq']),
                       st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                                 st.text(max_size=10), st.lists(st.integers(), max_size=2))))
def test_any_json_object_is_judged_never_raised(body):
    verdict = gate().admit('ezshop/default/shelves/shelf_a/lane_1/range',
                           json.dumps(body).encode(), NOW_NS)
    assert isinstance(verdict, (Reading, Rejected))


def test_latency_percentiles_over_a_fixed_histogram():
    from ezshop_mqtt.latency import LatencyHistogram

    histogram = LatencyHistogram()
    assert histogram.percentile_ms(0.99) is None
    for ms in range(1, 101):  # 1..100 ms
        histogram.add(ms * 1_000_000 - 1)
    histogram.add(-5_000_000)  # a device clock ahead: 0
    assert histogram.percentile_ms(0.5) == 50.0
    assert histogram.percentile_ms(0.99) == 99.0 and histogram.max_ms < 100.0


def test_a_bridge_falling_behind_says_so_and_one_keeping_up_does_not():
    from ezshop_mqtt.latency import FALLING_BEHIND_MS, lag_warning

    assert lag_warning(None) == '' and lag_warning(FALLING_BEHIND_MS / 2) == ''
    assert lag_warning(2500.0).startswith('falling behind: readings reach DDS 2.5 s')
