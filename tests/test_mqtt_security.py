"""The shipped broker configuration (src/ezshop_bringup/config/mosquitto/) on a private
Mosquitto: TLS only, a user per device, an ACL. The bridge connects over TLS with its password
and gets a controller's own readings; a controller's forged readings of another shelf never
reach the store; anonymous clients, wrong passwords and plain TCP are refused."""

import datetime
import ipaddress
import shutil
import subprocess
import time

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from paho.mqtt.enums import CallbackAPIVersion
from rclpy.parameter import Parameter

from ezshop_mqtt.bridge_node import MqttBridgeNode
from ezshop_mqtt.broker import BrokerSettings
from ezshop_mqtt.devices import SimulatedDevices
from ezshop_mqtt.readings import KIND_RANGE
from ezshop_ros.topics import RANGE
from ezshop_testing.mqtt_broker import PrivateBroker, mosquitto_unavailable_reason, unique_store_id
from ezshop_testing.ros import RosHarness

#: Deadline (s) for what the test waits for: a bound on a hang, never a speed target.
DEADLINE_S = 60.0
PASSWORDS = {'ezshop_bridge': 'bridge-secret', 'shelf_a': 'shelf-a-secret'}


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def write_certificates(folder):
    """A store CA and the broker's certificate for 127.0.0.1 (PEM files)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name('EZShop test CA'))
          .issuer_name(_name('EZShop test CA')).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now)
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    server = (x509.CertificateBuilder().subject_name(_name('127.0.0.1')).issuer_name(ca.subject)
              .public_key(key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
              .add_extension(x509.SubjectAlternativeName(
                  [x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]), critical=False)
              .sign(ca_key, hashes.SHA256()))
    (folder / 'ca.crt').write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / 'server.crt').write_bytes(server.public_bytes(serialization.Encoding.PEM))
    (folder / 'server.key').write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))


def shipped_config(config_dir, folder) -> str:
    """config/mosquitto/ezshop.conf with this test's paths and port ({port})."""
    shipped = config_dir / 'mosquitto'
    shutil.copy(shipped / 'ezshop.acl', folder / 'ezshop.acl')
    return ((shipped / 'ezshop.conf').read_text()
            .replace('/var/lib/mosquitto/', f'{folder}/')
            .replace('/etc/mosquitto/ezshop.passwd', str(folder / 'passwd'))
            .replace('/etc/mosquitto/conf.d/ezshop/ezshop.acl', str(folder / 'ezshop.acl'))
            .replace('/etc/mosquitto/ezshop/', f'{folder}/')
            .replace('listener 8883', 'listener {port} 127.0.0.1'))


@pytest.fixture
def secured_broker(tmp_path, config_dir):
    reason = mosquitto_unavailable_reason() or (
        None if shutil.which('mosquitto_passwd') else 'no mosquitto_passwd (Debian: mosquitto)')
    if reason:
        pytest.skip(reason)
    folder = tmp_path / 'broker'
    folder.mkdir()
    write_certificates(folder)
    for user, password in PASSWORDS.items():
        flags = ['-c'] if user == 'ezshop_bridge' else []
        subprocess.run(['mosquitto_passwd', *flags, '-b', str(folder / 'passwd'), user,
                        password], check=True)
    for user, password in PASSWORDS.items():
        (folder / f'{user}.password').write_text(password + '\n')
    with PrivateBroker(folder, shipped_config(config_dir, folder), scheme='mqtts') as broker:
        yield broker, folder


def broker_settings(broker, folder, user):
    return BrokerSettings(broker_url=broker.url, tls_ca_file=str(folder / 'ca.crt'),
                          username=user, password_file=str(folder / f'{user}.password'),
                          reconnect_min_s=0.5, reconnect_max_s=1.0)


def connect_result(url_port, tls_ca=None, username=None, password=None):
    """What the broker says to a client: 'connected', a refusal, or the connection error."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    outcome = []
    client.on_connect = lambda c, u, f, rc, p: outcome.append(
        'connected' if not rc.is_failure else f'refused: {rc}')
    if tls_ca:
        client.tls_set(ca_certs=tls_ca)
    if username:
        client.username_pw_set(username, password)
    try:
        client.connect('127.0.0.1', url_port, keepalive=5)
    except OSError as exc:
        return f'error: {exc.__class__.__name__}'
    deadline = time.monotonic() + 10
    while not outcome and time.monotonic() < deadline:
        if client.loop(timeout=0.2) != mqtt.MQTT_ERR_SUCCESS and not outcome:
            return 'error: connection lost'
    client.disconnect()
    return outcome[0] if outcome else 'no answer'


def test_only_the_configured_users_over_tls_get_in(secured_broker):
    broker, folder = secured_broker
    ca = str(folder / 'ca.crt')
    assert connect_result(broker.port, ca, 'shelf_a', PASSWORDS['shelf_a']) == 'connected'
    assert connect_result(broker.port, ca).startswith('refused')  # anonymous
    assert connect_result(broker.port, ca, 'shelf_a', 'guess').startswith('refused')
    assert connect_result(broker.port).startswith('error')  # plain MQTT to the TLS port


def test_a_controller_reaches_the_store_only_for_its_own_shelf(secured_broker, config_dir):
    broker, folder = secured_broker
    store_id = unique_store_id()
    own, forged = [], []
    with RosHarness() as harness:
        probe = harness.node('probe')
        RANGE.subscription(probe, own.append, shelf='shelf_a', lane='lane_1')
        RANGE.subscription(probe, forged.append, shelf='shelf_b', lane='lane_1')
        bridge_settings = broker_settings(broker, folder, 'ezshop_bridge')
        bridge = harness.add(MqttBridgeNode(context=harness.context, parameter_overrides=[
            Parameter('store_file', value=str(config_dir / 'store.yaml')),
            Parameter('store_id', value=store_id),
            *[Parameter(name, value=getattr(bridge_settings, name)) for name in (
                'broker_url', 'tls_ca_file', 'username', 'password_file',
                'reconnect_min_s', 'reconnect_max_s')]]))
        device = SimulatedDevices(broker_settings(broker, folder, 'shelf_a'), store_id,
                                  f'shelf_a_{store_id}').start()
        try:
            assert harness.spin_until(device.bridge_online.is_set, DEADLINE_S), \
                'the bridge never came online over TLS with its password'
            assert bridge.connected
            device.publish(KIND_RANGE, ('shelf_b', 'lane_1'), 0.2, time.time())  # forged
            device.publish(KIND_RANGE, ('shelf_a', 'lane_1'), 0.2, time.time())  # its own
            # Readings of one connection arrive in order: once its own reading is in, the
            # forged one, sent before it, would have been too.
            assert harness.spin_until(lambda: own and device.refused, DEADLINE_S)
            harness.spin_for(0.5)
        finally:
            device.stop()
    assert len(own) == 1 and not forged and device.refused == 1
