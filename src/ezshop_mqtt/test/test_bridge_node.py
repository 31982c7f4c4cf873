"""mqtt_bridge against the real Mosquitto and real DDS: lane controllers' readings in become
the readings a Pi publishes (and a shelf monitor's events), receipts, alerts and inventory
come out on MQTT, bad payloads are counted, and a broker restart mid-stream loses no reading
the broker had acknowledged (QoS 1)."""

import json
import queue
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from rclpy.parameter import Parameter

from ezshop_common.store_config import load_store
from ezshop_mqtt.bridge_node import MqttBridgeNode
from ezshop_mqtt.broker import BrokerSettings, broker_address
from ezshop_mqtt.devices import SimulatedDevices
from ezshop_mqtt.readings import KIND_ILLUMINANCE, KIND_RANGE, KIND_TEMPERATURE, wire_stamp_ns
from ezshop_msgs.msg import Alert, Inventory, InventoryItem, Receipt
from ezshop_ros.stamps import stamp_ns
from ezshop_ros.topics import (
    ALERTS,
    DIAGNOSTICS,
    ILLUMINANCE,
    INVENTORY,
    RANGE,
    RECEIPTS,
    SHELF_EVENTS,
    TEMPERATURE,
)
from ezshop_sensors.shelf_monitor_node import ShelfMonitorNode
from ezshop_testing.mqtt_broker import (
    PrivateBroker,
    mosquitto_unavailable_reason,
    mqtt_unavailable_reason,
    mqtt_url,
    unique_store_id,
)
from ezshop_testing.ros import RosHarness

#: Deadline (s) for what the tests wait for: a bound on a hang, never a speed target.
DEADLINE_S = 60.0
LANE = ('shelf_a', 'lane_1')


def bridge(harness, config_dir, url, store_id, **more):
    return harness.add(MqttBridgeNode(context=harness.context, parameter_overrides=[
        Parameter('store_file', value=str(config_dir / 'store.yaml')),
        Parameter('broker_url', value=url),
        Parameter('store_id', value=store_id),
        Parameter('client_id', value=f'bridge_{store_id}'),
        Parameter('reconnect_min_s', value=0.5),
        Parameter('reconnect_max_s', value=1.0),
        Parameter('diagnostic_updater.period', value=0.2),
        *[Parameter(name, value=value) for name, value in more.items()]]))


def devices(url, store_id):
    return SimulatedDevices(BrokerSettings(broker_url=url, reconnect_min_s=0.5,
                                           reconnect_max_s=1.0),
                            store_id, f'devices_{store_id}').start()


class MqttListener:
    """A plain MQTT subscriber, as another system reading the store's mirror would be."""

    def __init__(self, url, topic_filter):
        host, port, _ = broker_address(url)
        self.messages: queue.Queue = queue.Queue()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, m.payload,
                                                                   m.retain))
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic_filter, qos=1)
        self.client.connect(host, port)
        self.client.loop_start()

    def next(self, harness, accept=lambda topic, payload, retain: True):
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            harness.spin_for(0.05)
            try:
                got = self.messages.get_nowait()
            except queue.Empty:
                continue
            if accept(*got):
                return got
        raise AssertionError('nothing came on MQTT')

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def broker_url():
    reason = mqtt_unavailable_reason()
    if reason:
        pytest.skip(reason)
    return mqtt_url()


def test_readings_over_mqtt_are_the_lane_readings_a_pi_publishes_and_a_take_is_an_event(
        broker_url, config_dir):
    store = load_store(config_dir / 'store.yaml')
    store_id = unique_store_id()
    got = {'range': [], 'light': [], 'temperature': [], 'events': []}
    with RosHarness() as harness:
        probe = harness.node('probe')
        RANGE.subscription(probe, got['range'].append, shelf='shelf_a', lane='lane_1')
        ILLUMINANCE.subscription(probe, got['light'].append, shelf='shelf_a', lane='lane_3')
        fridge = store.fridges[0] if store.fridges else None
        if fridge is not None:
            TEMPERATURE.subscription(probe, got['temperature'].append, fridge=fridge.fridge_id)
        SHELF_EVENTS.subscription(probe, got['events'].append)
        bridge(harness, config_dir, broker_url, store_id)
        harness.add(ShelfMonitorNode(context=harness.context, parameter_overrides=[
            Parameter('store_file', value=str(config_dir / 'store.yaml')),
            Parameter('shelves', value=['shelf_a'])]))
        lane = store.lane(*LANE)
        full, one_taken = (lane.ultrasonic.distance_for_count(n)
                           for n in (lane.initial_count, lane.initial_count - 1))
        sensors = devices(broker_url, store_id)
        try:
            assert harness.spin_until(sensors.bridge_online.is_set, DEADLINE_S)
            # 15 Hz for 2 s full, then for 4 s one item fewer, stamped as a device would.
            for k in range(90):
                distance = full if k < 30 else one_taken
                sensors.publish(KIND_RANGE, LANE, distance, time.time())
                if k == 0:
                    sensors.publish(KIND_ILLUMINANCE, ('shelf_a', 'lane_3'), 20.0, time.time())
                    if fridge is not None:
                        sensors.publish(KIND_TEMPERATURE, (fridge.fridge_id,), 4.5, time.time())
                harness.spin_for(1 / 15)
            assert harness.spin_until(lambda: got['events'], DEADLINE_S), 'no shelf event'
        finally:
            sensors.stop()
    event = got['events'][0]
    assert (event.shelf_id, event.lane_id, event.quantity_delta) == ('shelf_a', 'lane_1', -1)
    assert len(got['range']) == 90 and got['range'][0].header.frame_id == lane.frame_id
    assert got['range'][0].range == pytest.approx(full, abs=1e-6)
    assert got['light'][0].illuminance == pytest.approx(20.0)
    if fridge is not None:
        assert got['temperature'][0].temperature == pytest.approx(4.5)


def test_receipts_alerts_and_inventory_come_out_on_mqtt(broker_url, config_dir):
    store_id = unique_store_id()
    listener = MqttListener(broker_url, f'ezshop/{store_id}/#')
    with RosHarness() as harness:
        probe = harness.node('probe')
        receipts, alerts, inventory = (RECEIPTS.publisher(probe), ALERTS.publisher(probe),
                                       INVENTORY.publisher(probe))
        node = bridge(harness, config_dir, broker_url, store_id)
        status = listener.next(harness, lambda topic, *_: topic.endswith('/bridge/status'))
        assert status[1] == b'online'
        assert harness.spin_until(lambda: receipts.get_subscription_count() > 0
                                  and alerts.get_subscription_count() > 0, DEADLINE_S)
        receipts.publish(Receipt(receipt_id='r_1', visit_id='v_1', customer_id='c_1',
                                 total_cents=349, currency='EUR', store_id=store_id))
        topic, payload, retained = listener.next(harness, lambda t, *_: t.endswith('/receipts'))
        data = json.loads(payload)
        assert (data['kind'], data['data']['receipt_id'], data['data']['total_cents']) == \
            ('receipt', 'r_1', 349)
        assert data['data']['customer_name'] == '' and not retained
        alerts.publish(Alert(level=Alert.WARN, kind='sensor_dead', message='lane_2 silent',
                             refs=['shelf_a/lane_2'], source='shelf_monitor'))
        _, payload, _ = listener.next(harness, lambda t, *_: t.endswith('/alerts'))
        assert json.loads(payload)['data']['refs'] == ['shelf_a/lane_2']
        inventory.publish(Inventory(store_id=store_id, items=[
            InventoryItem(item_id='cola', stock=23)]))
        listener.next(harness, lambda t, *_: t.endswith('/inventory'))
        assert node.mirror_sent == 3
    listener.close()
    # The broker keeps the inventory (retained) for a system that connects later, and says
    # the bridge is offline.
    late = MqttListener(broker_url, f'ezshop/{store_id}/#')
    with RosHarness() as harness:
        seen = {}
        while {'inventory', 'status'} - set(seen):
            topic, payload, retained = late.next(harness)
            seen['inventory' if topic.endswith('/inventory') else 'status'] = (payload,
                                                                                retained)
    late.close()
    assert json.loads(seen['inventory'][0])['data']['items'][0]['stock'] == 23
    assert seen['inventory'][1] and seen['status'] == (b'offline', True)


def test_bad_payloads_are_counted_on_diagnostics_and_never_stop_the_good_ones(
        broker_url, config_dir):
    store_id = unique_store_id()
    diagnostics, ranges = [], []
    with RosHarness() as harness:
        probe = harness.node('probe')
        DIAGNOSTICS.subscription(probe, diagnostics.append)
        RANGE.subscription(probe, ranges.append, shelf='shelf_a', lane='lane_1')
        node = bridge(harness, config_dir, broker_url, store_id)
        sensors = devices(broker_url, store_id)
        raw = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        host, port, _ = broker_address(broker_url)
        raw.connect(host, port)
        raw.loop_start()
        try:
            assert harness.spin_until(sensors.bridge_online.is_set, DEADLINE_S)
            topic = f'ezshop/{store_id}/shelves/shelf_a/lane_1/range'
            stamp = time.time()
            bad = [b'{', b'\x00\xff', b'[]', b'{"v": 9}', json.dumps(
                {'v': 1, 'kind': 'range', 'shelf': 'shelf_a', 'lane': 'lane_1',
                 'value': float('nan') if False else -3.0, 'unit': 'm', 'stamp': stamp,
                 'seq': 1}).encode(), json.dumps(
                {'v': 1, 'kind': 'range', 'shelf': 'shelf_x', 'lane': 'lane_1', 'value': 0.2,
                 'unit': 'm', 'stamp': stamp, 'seq': 1}).encode(), b'x' * 5000]
            for payload in bad:
                raw.publish(topic, payload, qos=1).wait_for_publish(DEADLINE_S)
            raw.publish(f'ezshop/{store_id}/shelves/shelf_a/lane_9/range', b'{}', qos=1)
            sensors.publish(KIND_RANGE, LANE, 0.2, time.time())

            def counted():
                with node._gate_lock:
                    return sum(node.gate.rejected.values()) == len(bad) + 1
            assert harness.spin_until(lambda: counted() and ranges, DEADLINE_S), \
                dict(node.gate.rejected)
            assert harness.spin_until(lambda: any(
                status.name.endswith('readings in') and status.level == b'\x01'
                for msg in diagnostics for status in msg.status), DEADLINE_S)
        finally:
            raw.disconnect()
            raw.loop_stop()
            sensors.stop()
    assert ranges[0].range == pytest.approx(0.2)
    rejected = dict(node.gate.rejected)
    assert rejected['invalid_json'] == 2 and rejected['unknown_source'] == 1
    warned = [status for msg in diagnostics for status in msg.status
              if status.name.endswith('readings in') and status.level == b'\x01']
    values = {v.key: v.value for v in warned[-1].values}
    assert int(values['refused_invalid_json']) == 2


def test_a_broker_restart_mid_stream_loses_no_acknowledged_reading(tmp_path, config_dir):
    reason = mosquitto_unavailable_reason()
    if reason:
        pytest.skip(reason)
    store_id = unique_store_id()
    received: set[int] = set()
    with PrivateBroker(tmp_path / 'broker') as broker, RosHarness() as harness:
        probe = harness.node('probe')
        RANGE.subscription(probe, lambda msg: received.add(stamp_ns(msg.header.stamp)),
                           shelf='shelf_a', lane='lane_1')
        node = bridge(harness, config_dir, broker.url, store_id)
        sensors = devices(broker.url, store_id)
        sent: dict[int, int] = {}  # seq -> stamp (ns, as the bridge will read it)
        stop = threading.Event()

        def stream():
            for k in range(600):
                if stop.is_set():
                    return
                stamp_s = time.time()
                info = sensors.publish(KIND_RANGE, LANE, 0.06 + (k % 5) * 0.001, stamp_s)
                sent[k + 1] = wire_stamp_ns(stamp_s)
                del info
                # 50 Hz: a busy lane (a real one reads 10-15 Hz). What waits out the restart
                # then fits the history a lane's readers keep (topics.READING_HISTORY).
                time.sleep(0.02)

        try:
            assert harness.spin_until(sensors.bridge_online.is_set, DEADLINE_S)
            streaming = threading.Thread(target=stream)
            streaming.start()
            harness.spin_until(lambda: len(received) >= 150, DEADLINE_S)
            broker.stop()  # mid-stream: devices and bridge lose it
            harness.spin_for(1.0)
            broker.start()
            assert harness.spin_until(lambda: not streaming.is_alive(), DEADLINE_S)
            acked = sensors.acked[LANE]
            assert harness.spin_until(lambda: len(sensors.acked[LANE]) == 600, DEADLINE_S), \
                f'{len(sensors.acked[LANE])} of 600 acknowledged'
            wanted = {sent[seq] for seq in acked}

            def all_in():
                return all(any(abs(stamp - got) < 2000 for got in received)
                           for stamp in wanted)
            arrived = harness.spin_until(all_in, DEADLINE_S)
            missing = sorted(seq for seq in acked
                             if sent[seq] not in received)
            assert arrived, \
                (f'{len(wanted)} acknowledged, {len(received)} received; missing seqs '
                 f'{missing[:5]}..{missing[-5:]} ({len(missing)}); gate: admitted '
                 f'{node.gate.admitted}, refused {dict(node.gate.rejected)}, '
                 f'published {node.published}')
        finally:
            stop.set()
            sensors.stop()
    assert len(received) >= 600
