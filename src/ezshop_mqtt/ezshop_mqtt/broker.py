"""How EZShop connects to an MQTT broker (paho-mqtt): the URL, credentials and TLS as settings,
one client factory for the bridge and the simulated devices. No rclpy."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ezshop_common.settings import setting

SCHEMES = {'mqtt': (1883, False), 'mqtts': (8883, True)}
#: Every EZShop message that matters is sent QoS 1 (at least once; readings carry a seq).
QOS_AT_LEAST_ONCE = 1
#: MQTT 5 (reason codes: a device learns the broker's ACL refused it) for devices; MQTT 3.1.1
#: for the bridge, which reads thousands of messages a second: paho parses the MQTT 5
#: properties of each (~15 % of the bridge's time), and the bridge's tail latency at 2,000
#: readings/s fell from 140-210 ms to 10-38 ms in paired runs of bench/mqtt_bridge.py.
MQTT_5 = mqtt.MQTTv5
MQTT_3_1_1 = mqtt.MQTTv311


@dataclass(frozen=True)
class BrokerSettings:
    broker_url: str = setting('mqtt://127.0.0.1:1883', 'MQTT broker: mqtt://host:port, or '
                              'mqtts://host:port for TLS')
    username: str = setting('', "MQTT user name; '' = none (the broker's ACL names what "
                            'each user may publish and read)')
    password_file: str = setting('', "File holding the MQTT password (a parameter would be "
                                 "readable by any node); '' = none")
    tls_ca_file: str = setting('', "With mqtts: CA certificate of the broker; '' = the "
                               "system's CAs")
    tls_certfile: str = setting('', "With mqtts: this client's certificate; '' = none")
    tls_keyfile: str = setting('', "With mqtts: this client's private key; '' = none")
    topic_prefix: str = setting('ezshop', 'First level of every EZShop MQTT topic')
    keepalive_s: int = setting(10, 'MQTT keep-alive (s): a dead connection is noticed after '
                               'about 1.5 times this', 2, 600)
    reconnect_min_s: float = setting(0.5, 'First wait before reconnecting to the broker (s); '
                                     'doubled on each failure', 0.1, 60.0)
    reconnect_max_s: float = setting(15.0, 'Longest wait between reconnection attempts (s)',
                                     0.5, 600.0)
    session_expiry_s: int = setting(3600, 'The broker keeps an MQTT 5 client\'s session (its '
                                    'subscriptions and the QoS 1 messages waiting for it) this '
                                    'long after a disconnect (s); an MQTT 3.1.1 session until '
                                    'the broker\'s persistent_client_expiration', 0, 604800)

    def problems(self) -> list[str]:
        try:
            broker_address(self.broker_url)
        except ValueError as exc:
            return [str(exc)]
        if self.reconnect_max_s < self.reconnect_min_s:
            return ['reconnect_max_s is below reconnect_min_s']
        return []


def broker_address(url: str) -> tuple[str, int, bool]:
    """(host, port, tls) of mqtt://host[:port] or mqtts://host[:port]."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise ValueError(f'broker_url {url!r}: expected mqtt://host:port or mqtts://host:port')
    default_port, tls = SCHEMES[parts.scheme]
    try:
        port = parts.port or default_port
    except ValueError as exc:
        raise ValueError(f'broker_url {url!r}: {exc}') from exc
    return parts.hostname, port, tls


def make_client(settings: BrokerSettings, client_id: str, *, manual_ack: bool = False,
                protocol: int = MQTT_5) -> mqtt.Client:
    """A paho client configured from the settings, not yet connected. Its session outlives a
    disconnect (MQTT 5: by session_expiry_s; MQTT 3.1.1: a persistent session): the QoS 1
    messages of its subscriptions wait for it, and its own unacknowledged publishes are sent
    again when it is back. manual_ack=True: a received QoS 1 message is acknowledged only when
    the caller says so."""
    _, _, tls = broker_address(settings.broker_url)
    persistent = {'clean_session': False} if protocol == MQTT_3_1_1 else {}
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol,
                         manual_ack=manual_ack, **persistent)
    if settings.username:
        password = None
        if settings.password_file:
            password = Path(settings.password_file).read_text().strip()
        client.username_pw_set(settings.username, password)
    if tls:
        client.tls_set(ca_certs=settings.tls_ca_file or None,
                       certfile=settings.tls_certfile or None,
                       keyfile=settings.tls_keyfile or None)
    client.reconnect_delay_set(max(1, round(settings.reconnect_min_s)),
                               max(1, round(settings.reconnect_max_s)))
    return client


def connect(client: mqtt.Client, settings: BrokerSettings) -> None:
    """Start the client's network thread and connect in the background: it keeps trying (with
    the reconnect backoff) while the broker is down, and reconnects after a loss."""
    host, port, _ = broker_address(settings.broker_url)
    if client.protocol == MQTT_3_1_1:
        client.connect_async(host, port, keepalive=settings.keepalive_s)
    else:
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = settings.session_expiry_s
        client.connect_async(host, port, keepalive=settings.keepalive_s, clean_start=False,
                             properties=properties)
    client.loop_start()
