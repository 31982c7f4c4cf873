"""mqtt_bridge: lane controllers and temperature probes on MQTT in, as the ROS readings a
Raspberry Pi's lane_sensor_node publishes (shelf_monitor cannot tell the difference); receipts,
alerts and inventory out to MQTT for other systems.

The schema and the checks are in ezshop_mqtt.readings (ReadingGate), the outbound topics in
ezshop_mqtt.mirror, the connection in ezshop_mqtt.broker. Readings arrive on paho's network
thread and are published to DDS there; a QoS 1 reading is acknowledged to the broker only
after that, so a bridge that dies in between gets it again (its session outlives it).
"""

from __future__ import annotations

import sys
import threading

import paho.mqtt.client as mqtt
from rclpy.node import Node
from rosidl_runtime_py.convert import message_to_ordereddict

from ezshop_common.clock_skew import ClockSkewSettings
from ezshop_common.store_config import load_store
from ezshop_mqtt.bridge_settings import BridgeSettings
from ezshop_mqtt.broker import (
    MQTT_3_1_1,
    QOS_AT_LEAST_ONCE,
    BrokerSettings,
    connect,
    make_client,
)
from ezshop_mqtt.latency import LatencyHistogram, lag_warning
from ezshop_mqtt.mirror import (
    KIND_ALERT,
    KIND_INVENTORY,
    KIND_RECEIPT,
    STATUS_OFFLINE,
    STATUS_ONLINE,
    mirrored,
    status_topic,
)
from ezshop_mqtt.readings import (
    KIND_RANGE,
    KIND_TEMPERATURE,
    GateSettings,
    Reading,
    ReadingGate,
    Rejected,
    lane_kind,
    reading_filters,
)
from ezshop_ros.diagnostics import ERROR, OK, WARN, RefusedInput, diagnostics_updater, fill
from ezshop_ros.parameters import declare_settings
from ezshop_ros.process import run_node
from ezshop_ros.topics import (
    ALERTS,
    INVENTORY,
    RECEIPTS,
    TEMPERATURE,
    lane_fields,
    lane_reading,
)
from ezshop_sensors.messages import illuminance_msg, range_msg
from ezshop_sensors.temperature_messages import temperature_msg


class MqttBridgeNode(Node):
    """One MQTT session: every reading of the store's lanes and fridges in, mirrors out."""

    def __init__(self, **kwargs):
        super().__init__('mqtt_bridge', **kwargs)
        self.cfg = declare_settings(self, BridgeSettings)
        self.broker = declare_settings(self, BrokerSettings)
        gate_settings = declare_settings(self, GateSettings, on_change=self._on_gate)
        skew = declare_settings(self, ClockSkewSettings, on_change=self._on_skew)
        store = load_store(self.cfg.store_file or None)
        # (shelf, lane) or (fridge,) -> (kind, publish function)
        self._outputs = {}
        for lane in store.lanes:
            kind = lane_kind(lane)
            pub = lane_reading(lane).publisher(self, **lane_fields(lane))
            out = self._range_out if kind == KIND_RANGE else self._illuminance_out
            self._outputs[lane.key] = (kind, out(lane, pub))
        for fridge in store.fridges:
            pub = TEMPERATURE.publisher(self, fridge=fridge.fridge_id)
            self._outputs[(fridge.fridge_id,)] = (KIND_TEMPERATURE,
                                                  self._temperature_out(fridge, pub))
        self.gate = ReadingGate(self.broker.topic_prefix, self.cfg.store_id,
                                {source: kind for source, (kind, _) in self._outputs.items()},
                                gate_settings, skew)
        self._gate_lock = threading.Lock()  # the gate runs on paho's thread, diagnostics here
        self.published = 0
        #: stamped by the device -> published on DDS, since start (device clocks included).
        self.latency = LatencyHistogram()
        self.recent_latency = LatencyHistogram()  # since the last /diagnostics
        self.connects = 0
        self.connected = False
        self.last_disconnect = ''
        self.mirror_sent = 0
        self.mirror_dropped = 0
        self._refused = RefusedInput()
        self._stopping = False

        self._status_topic = status_topic(self.broker.topic_prefix, self.cfg.store_id)
        client_id = self.cfg.client_id or f'ezshop_bridge_{self.cfg.store_id}'
        self.client = make_client(self.broker, client_id, manual_ack=True,
                                  protocol=MQTT_3_1_1)
        self.client.max_queued_messages_set(self.cfg.outbound_queue_limit)
        self.client.will_set(self._status_topic, STATUS_OFFLINE, qos=QOS_AT_LEAST_ONCE,
                             retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

        mirrors = ((self.cfg.mirror_receipts, RECEIPTS, KIND_RECEIPT),
                   (self.cfg.mirror_alerts, ALERTS, KIND_ALERT),
                   (self.cfg.mirror_inventory, INVENTORY, KIND_INVENTORY))
        for wanted, topic, kind in mirrors:
            if wanted:
                topic.subscription(self, lambda msg, kind=kind: self._mirror(kind, msg))

        self._diagnostics = diagnostics_updater(self, self.get_name())
        self._diagnostics.add('broker', self._broker_status)
        self._diagnostics.add('readings in', self._readings_status)
        self._diagnostics.add('mirror out', self._mirror_status)
        connect(self.client, self.broker)
        filters = reading_filters(self.broker.topic_prefix, self.cfg.store_id)
        self.get_logger().info(
            f'bridging {self.broker.broker_url} as {client_id}: {len(self._outputs)} sources '
            f'of {store.source} in ({", ".join(filters)})')

    # -- parameters --------------------------------------------------------------------------
    def _on_gate(self, settings: GateSettings) -> None:
        with self._gate_lock:
            self.gate.settings = settings

    def _on_skew(self, settings: ClockSkewSettings) -> None:
        with self._gate_lock:
            self.gate.skew = settings

    # -- MQTT (paho's network thread) --------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.get_logger().error(f'broker refused the connection: {reason_code}')
            return
        self.connected = True
        self.connects += 1
        for topic_filter in reading_filters(self.broker.topic_prefix, self.cfg.store_id):
            client.subscribe(topic_filter, qos=QOS_AT_LEAST_ONCE)
        client.publish(self._status_topic, STATUS_ONLINE, qos=QOS_AT_LEAST_ONCE, retain=True)
        resumed = ' (session resumed)' if flags.session_present else ''
        self.get_logger().info(f'connected to {self.broker.broker_url}{resumed}')

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected = False
        if self._stopping:
            return
        self.last_disconnect = str(reason_code)
        self.get_logger().warning(f'lost the broker ({reason_code}); reconnecting')

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        now_ns = self.get_clock().now().nanoseconds
        with self._gate_lock:
            verdict = self.gate.admit(message.topic, message.payload, now_ns)
        if isinstance(verdict, Rejected):
            self.get_logger().warning(
                f'{message.topic}: {verdict.reason}: {verdict.detail}',
                throttle_duration_sec=5.0)
        else:
            self._publish_reading(verdict)
        # Acknowledged once published (or judged worthless): never before.
        client.ack(message.mid, message.qos)

    def _publish_reading(self, reading: Reading) -> None:
        _, publish = self._outputs[reading.source]
        try:
            publish(reading)
        except Exception as exc:  # noqa: BLE001 - a context shut down under us: stopping
            if self.context.ok():
                raise
            self.get_logger().debug(f'not published while stopping: {exc}')
            return
        self.published += 1
        late_ns = self.get_clock().now().nanoseconds - reading.stamp_ns
        self.latency.add(late_ns)
        self.recent_latency.add(late_ns)

    def _range_out(self, lane, pub):
        geo = lane.ultrasonic
        return lambda r: pub.publish(range_msg(r.stamp_ns, lane.frame_id, r.value,
                                               geo.max_range_m, geo.min_range_m))

    @staticmethod
    def _illuminance_out(lane, pub):
        return lambda r: pub.publish(illuminance_msg(r.stamp_ns, lane.frame_id, r.value))

    @staticmethod
    def _temperature_out(fridge, pub):
        frame_id = fridge.frame_id or fridge.fridge_id
        return lambda r: pub.publish(temperature_msg(r.stamp_ns, frame_id, r.value))

    # -- mirror (executor thread) ------------------------------------------------------------
    def _mirror(self, kind: str, msg) -> None:
        out = mirrored(self.broker.topic_prefix, self.cfg.store_id, kind,
                       message_to_ordereddict(msg))
        info = self.client.publish(out.topic, out.payload, qos=QOS_AT_LEAST_ONCE,
                                   retain=out.retain)
        if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
            self.mirror_dropped += 1
            self.get_logger().error(f'{kind} not mirrored: {self.cfg.outbound_queue_limit} '
                                    'messages already wait for the broker',
                                    throttle_duration_sec=5.0)
        else:
            self.mirror_sent += 1

    # -- /diagnostics ------------------------------------------------------------------------
    def _broker_status(self, stat):
        values = {'broker_url': self.broker.broker_url, 'connects': self.connects,
                  'last_disconnect': self.last_disconnect}
        if self.connected:
            return fill(stat, OK, 'connected', values)
        return fill(stat, ERROR, 'not connected: readings wait on the broker', values)

    def _readings_status(self, stat):
        with self._gate_lock:
            counts = {f'refused_{reason}': n for reason, n in self.gate.rejected.items()}
            admitted, restarts = self.gate.admitted, self.gate.device_restarts
        recent, self.recent_latency = self.recent_latency, LatencyHistogram()
        recent_p99 = recent.percentile_ms(0.99)
        warning = self._refused.warning(counts, lag_warning(recent_p99))
        values = {'admitted': admitted, 'published': self.published,
                  'recent_latency_p99_ms': recent_p99,
                  'device_restarts': restarts,
                  'latency_p50_ms': self.latency.percentile_ms(0.5),
                  'latency_p99_ms': self.latency.percentile_ms(0.99),
                  'latency_max_ms': round(self.latency.max_ms, 1), **counts}
        return fill(stat, WARN if warning else OK, warning or 'OK', values)

    def _mirror_status(self, stat):
        values = {'sent': self.mirror_sent, 'dropped': self.mirror_dropped}
        level = ERROR if self.mirror_dropped else OK
        return fill(stat, level, f'{self.mirror_dropped} dropped' if self.mirror_dropped
                    else 'OK', values)

    def destroy_node(self):
        client = getattr(self, 'client', None)
        if client is not None:
            self._stopping = True
            # A clean disconnect: the broker keeps the session, and the will is not sent.
            client.publish(self._status_topic, STATUS_OFFLINE, qos=QOS_AT_LEAST_ONCE,
                           retain=True)
            client.disconnect()
            client.loop_stop()
        return super().destroy_node()


def main(args=None) -> int:
    return run_node(MqttBridgeNode, args)


def console_main() -> None:
    sys.exit(main())
