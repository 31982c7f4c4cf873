"""analytics_node over real DDS: door, shelf, cart and face messages in; the latched analytics
message, the Prometheus /metrics text (HTTP) and /diagnostics out."""

import math
import uuid

import httpx
import pytest
from rclpy.parameter import Parameter
from sensor_msgs.msg import RegionOfInterest

from ezshop_msgs.msg import CartAction, CustomerEvent, FaceArray, FaceDetection, ShelfEvent
from ezshop_ros.stamps import time_from_ns
from ezshop_ros.topics import (
    ANALYTICS,
    CART_ACTIONS,
    CUSTOMER_EVENTS,
    DIAGNOSTICS,
    FACES,
    SHELF_EVENTS,
)
from ezshop_store.analytics_node import AnalyticsNode
from ezshop_testing.ros import RosHarness

S = 1_000_000_000
TIMEOUT = 10.0


@pytest.fixture
def graph(config_dir):
    ros = RosHarness()
    node = ros.add(AnalyticsNode(context=ros.context, parameter_overrides=[
        Parameter('store_file', value=str(config_dir / 'store.yaml')),
        Parameter('period_s', value=0.1), Parameter('metrics_port', value=0),
        Parameter('min_dwell_s', value=1.0), Parameter('track_gap_s', value=0.5),
        Parameter('diagnostic_updater.period', value=0.2)]))
    probe = ros.node('analytics_probe')
    pubs = {'door': CUSTOMER_EVENTS.publisher(probe), 'shelf': SHELF_EVENTS.publisher(probe),
            'cart': CART_ACTIONS.publisher(probe),
            'cam_shelf_a': FACES.publisher(probe, camera='cam_shelf_a'),
            'cam_entrance': FACES.publisher(probe, camera='cam_entrance')}
    got = {'analytics': [], 'diagnostics': []}
    ANALYTICS.subscription(probe, got['analytics'].append)
    DIAGNOSTICS.subscription(probe, got['diagnostics'].append)
    assert ros.spin_until(lambda: all(p.get_subscription_count() >= 1 for p in pubs.values())
                          and probe.count_publishers('analytics') >= 1, TIMEOUT)
    yield ros, node, pubs, got
    ros.close()


def door(pubs, kind, customer_id, t, event_id=None):
    msg = CustomerEvent(event_id=event_id or str(uuid.uuid4()), kind=kind,
                        customer_id=customer_id, door_id='entrance', confidence=1.0)
    msg.header.stamp = time_from_ns(t)
    pubs['door'].publish(msg)


def frames(pubs, camera, start, seconds, people):
    """Frames at 10 Hz; people: [(track, customer_id)] with their faces in lane_1's zone."""
    for n in range(int(seconds * 10) + 1):
        msg = FaceArray(camera_id=camera, faces=[FaceDetection(
            track_id=track, customer_id=cid, confidence=0.9 if cid else 0.0,
            match_distance=math.nan,
            roi=RegionOfInterest(x_offset=60, y_offset=200, width=80, height=80))
            for track, cid in people])
        msg.header.stamp = time_from_ns(start + n * S // 10)
        pubs[camera].publish(msg)


def newest(ros, got, predicate):
    found = []

    def check():
        found[:] = [m for m in got['analytics'] if predicate(m)]
        return bool(found)
    assert ros.spin_until(check, TIMEOUT), 'no matching analytics message'
    return found[-1]


def metric(text, name):
    """The value of a sample line `name value` of the exposition text."""
    for line in text.splitlines():
        if line.startswith(name + ' '):
            return float(line.rsplit(' ', 1)[1])
    raise AssertionError(f'{name} not in /metrics')


def test_occupancy_dwell_picks_and_metrics(graph):
    ros, node, pubs, got = graph
    t0 = node.get_clock().now().nanoseconds - 60 * S
    door(pubs, CustomerEvent.ENTERED, 'alice', t0)
    door(pubs, CustomerEvent.ENTERED, 'bob', t0 + 1 * S)
    frames(pubs, 'cam_shelf_a', t0 + 2 * S, 3.0, [(1, 'alice'), (2, 'bob')])
    take = ShelfEvent(event_id='take1', shelf_id='shelf_a', lane_id='lane_1', item_id='cola',
                      quantity_delta=-2, count_before=6, count_after=4, confidence=1.0)
    take.header.stamp = time_from_ns(t0 + 4 * S)
    pubs['shelf'].publish(take)
    action = CartAction(event_id='take1', customer_id='alice', item_id='cola', quantity=2,
                        confidence=0.9, shelf_id='shelf_a', lane_id='lane_1')
    action.header.stamp = time_from_ns(t0 + 4 * S)
    pubs['cart'].publish(action)
    door(pubs, CustomerEvent.EXITED, 'bob', t0 + 31 * S)
    frames(pubs, 'cam_entrance', t0 + 32 * S, 0.2, [(7, ''), (8, 'carol')])

    msg = newest(ros, got, lambda m: m.exits_total == 1 and m.queue_entrance == 2
                 and m.items[0].units_taken == 2 and m.shelves[0].shoppers_picked == 1)
    assert (msg.people_in_store, msg.entries_total, msg.entries_last_hour) == (1, 2, 2)
    assert msg.visits_completed == 1 and msg.visit_duration_p50_s == pytest.approx(30.0)
    shelf_a = msg.shelves[0]
    assert shelf_a.shelf_id == 'shelf_a'
    assert shelf_a.dwell_s == pytest.approx(6.0)  # two shoppers, 3 s each
    assert (shelf_a.shoppers_looked, shelf_a.shoppers_picked) == (2, 1)
    assert shelf_a.conversion == pytest.approx(0.5)
    assert (shelf_a.units_taken, msg.items[0].item_id) == (2, 'cola')
    assert msg.header.stamp.sec == (t0 + 32 * S + 2 * S // 10) // S  # the newest input stamp

    text = httpx.get(f'http://127.0.0.1:{node.metrics_port}/metrics', timeout=5.0).text
    assert metric(text, 'ezshop_people_in_store') == 1
    assert metric(text, 'ezshop_entries_total') == 2
    assert metric(text, 'ezshop_entries_last_hour') == 2
    assert metric(text, 'ezshop_shelf_dwell_seconds_total{shelf="shelf_a"}') == \
        pytest.approx(6.0)
    assert metric(text, 'ezshop_shelf_conversion_ratio{shelf="shelf_a"}') == 0.5
    assert metric(text, 'ezshop_item_units_taken_total{item="cola"}') == 2
    assert metric(text, 'ezshop_door_queue{door="entrance"}') == 2
    assert metric(text, 'ezshop_visit_duration_seconds{quantile="0.5"}') == 30.0
    assert 'python_gc_objects_collected_total' not in text  # its own registry


def test_bad_input_is_counted_never_a_crash(graph):
    ros, node, pubs, got = graph
    t0 = node.get_clock().now().nanoseconds - 10 * S
    door(pubs, CustomerEvent.ENTERED, 'alice', t0, event_id='same')
    door(pubs, CustomerEvent.ENTERED, 'alice', t0, event_id='same')  # duplicate
    door(pubs, CustomerEvent.EXITED, 'nobody', t0 + S)  # never entered
    unknown = ShelfEvent(event_id='x', shelf_id='shelf_z', lane_id='lane_1', item_id='cola',
                         quantity_delta=-1)
    unknown.header.stamp = time_from_ns(t0)
    pubs['shelf'].publish(unknown)
    nan = CartAction(event_id='n', customer_id='alice', item_id='cola', quantity=1,
                     confidence=math.nan, shelf_id='shelf_a')
    nan.header.stamp = time_from_ns(t0)
    pubs['cart'].publish(nan)
    msg = newest(ros, got, lambda m: m.refused_inputs == 4)
    assert msg.people_in_store == 1

    def counters():
        for array in reversed(got['diagnostics']):
            for status in array.status:
                if status.name.startswith('analytics_node:'):
                    return status, {kv.key: kv.value for kv in status.values}
        return None, {}
    assert ros.spin_until(lambda: counters()[1].get('bad_input_duplicate') == '1', TIMEOUT)
    status, values = counters()
    assert values['ignored_not_inside'] == '1' and values['bad_input_unknown_lane'] == '1'
    assert values['bad_input_non_finite'] == '1'
    assert values['metrics_port'] == str(node.metrics_port)
    text = httpx.get(f'http://127.0.0.1:{node.metrics_port}/metrics', timeout=5.0).text
    assert metric(text, 'ezshop_analytics_refused_inputs_total{reason="duplicate"}') == 1


def test_metrics_can_be_off(config_dir):
    with RosHarness() as ros:
        node = ros.add(AnalyticsNode(context=ros.context, parameter_overrides=[
            Parameter('store_file', value=str(config_dir / 'store.yaml')),
            Parameter('metrics_port', value=-1)]))
        assert node.metrics_port is None
