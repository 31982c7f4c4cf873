"""Simulated lane controllers and temperature probes on MQTT (what an ESP32 with an HC-SR04,
an LDR or a DS18B20 publishes): for the simulator's `lane_transport: mqtt`, the bench and the
tests. One paho client for all of them, with a persistent session: readings published while
the broker is away are sent when it is back (QoS 1). No rclpy."""

from __future__ import annotations

import threading
from collections import defaultdict

from paho.mqtt.client import MQTTMessageInfo

from ezshop_mqtt.broker import QOS_AT_LEAST_ONCE, BrokerSettings, connect, make_client
from ezshop_mqtt.mirror import STATUS_ONLINE, status_topic
from ezshop_mqtt.readings import encode_reading, reading_topic

#: A device keeps this many unacknowledged readings in flight (paho's default is 20).
MAX_IN_FLIGHT = 200
#: Back from a lost connection, a device sends nothing new until what it kept meanwhile is
#: acknowledged, at most this long (s): paho resends the backlog after it reports the
#: connection, so a new reading published then overtook 98 older ones, and the bridge refuses
#: readings older than one it has (out of order): acknowledged readings were lost.
BACKLOG_WAIT_S = 10.0


class SimulatedDevices:
    """Publishes readings as the store's controllers would; knows which ones the broker
    acknowledged (PUBACK), by source and seq."""

    def __init__(self, settings: BrokerSettings, store_id: str, client_id: str):
        """settings.username / password_file: the device's credentials (one user per
        controller on a store's broker)."""
        self.settings = settings
        self.store_id = store_id
        self.client = make_client(settings, client_id)
        self.client.max_inflight_messages_set(MAX_IN_FLIGHT)
        self.client.max_queued_messages_set(0)  # 0 = no limit: nothing dropped while away
        self._lock = threading.Lock()
        self._seq: dict[tuple[str, ...], int] = defaultdict(int)
        self._pending: dict[int, tuple[tuple[str, ...], int]] = {}  # mid -> (source, seq)
        self._early_acks: set[int] = set()
        self._acked_now = threading.Condition(self._lock)
        self._backlog = False  # the connection was lost: unacknowledged readings wait
        self.refused = 0  # publishes the broker answered with a failure
        self.acked: dict[tuple[str, ...], set[int]] = defaultdict(set)
        self.connected = threading.Event()
        #: The store's mqtt_bridge says it is online (its retained status).
        self.bridge_online = threading.Event()
        self._status_topic = status_topic(settings.topic_prefix, store_id)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_status

    def start(self) -> SimulatedDevices:
        connect(self.client, self.settings)
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def publish(self, kind: str, source: tuple[str, ...], value: float | None,
                stamp_s: float) -> MQTTMessageInfo:
        """Publish one reading (QoS 1) with the source's next seq (in order: after a lost
        connection, once the readings kept meanwhile are acknowledged)."""
        with self._lock:
            if self._backlog and self.connected.is_set():
                self._acked_now.wait_for(lambda: not self._pending, BACKLOG_WAIT_S)
                self._backlog = False
            self._seq[source] += 1
            seq = self._seq[source]
        # Not under our lock: paho's network thread calls on_publish holding its own locks,
        # which publish() takes too.
        info = self.client.publish(
            reading_topic(self.settings.topic_prefix, self.store_id, kind, source),
            encode_reading(kind, source, value, stamp_s, seq), qos=QOS_AT_LEAST_ONCE)
        with self._lock:
            if info.mid in self._early_acks:  # acknowledged before we got here
                self._early_acks.discard(info.mid)
                self.acked[source].add(seq)
            else:
                self._pending[info.mid] = (source, seq)
        return info

    def acked_count(self) -> int:
        with self._lock:
            return sum(len(seqs) for seqs in self.acked.values())

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if not reason_code.is_failure:
            client.subscribe(self._status_topic, qos=QOS_AT_LEAST_ONCE)
            self.connected.set()

    def _on_disconnect(self, *args) -> None:
        with self._lock:
            self._backlog = True
        self.connected.clear()

    def _on_status(self, client, userdata, message) -> None:
        if message.payload == STATUS_ONLINE:
            self.bridge_online.set()
        else:
            self.bridge_online.clear()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        if reason_code.is_failure:  # e.g. the broker's ACL: "not authorized"
            with self._lock:
                self._pending.pop(mid, None)
                self.refused += 1
                self._acked_now.notify_all()
            return
        with self._lock:
            sent = self._pending.pop(mid, None)
            if sent is None:
                self._early_acks.add(mid)
            else:
                self.acked[sent[0]].add(sent[1])
            self._acked_now.notify_all()
