"""Every ezshop_msgs message and service crosses a process boundary intact over DDS.

A separate process (ezshop_testing msg_echo) echoes each message type and answers each service;
this test fills every field with a non-default value and checks what comes back.
"""

import os

import pytest
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from ezshop_testing.processes import ChildProcess
from ezshop_testing.samples import equal, sample
from ezshop_testing.types import ezshop_message_types, ezshop_service_types

EXPECTED_MESSAGES = {
    'Alert', 'Cart', 'CartAction', 'CartLine', 'CustomerEvent', 'FaceArray', 'FaceDetection',
    'Gallery', 'GalleryCustomer', 'GroundTruth', 'Inventory', 'InventoryItem', 'LaneState',
    'Receipt', 'ShelfEvent', 'ShelfState'}
EXPECTED_SERVICES = {'Checkout', 'ForgetCustomer', 'GetCart', 'RegisterCustomer', 'SetStock'}


def _qos():
    return QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)


@pytest.fixture(scope='module')
def echo_process():
    from ament_index_python.packages import get_package_prefix
    exe = os.path.join(get_package_prefix('ezshop_testing'), 'lib', 'ezshop_testing', 'msg_echo')
    proc = ChildProcess([exe])
    assert proc.wait_for_line('msg_echo ready', timeout=30), proc.output
    yield proc
    assert proc.stop() == 0, proc.output


def test_design_interfaces_exist():
    assert EXPECTED_MESSAGES <= set(ezshop_message_types())
    assert EXPECTED_SERVICES <= set(ezshop_service_types())


def test_every_message_round_trips(ros, echo_process):
    node = ros.node('roundtrip_probe')
    received = {}
    sent = {}
    pubs = {}
    for name, cls in ezshop_message_types().items():
        sent[name] = sample(cls, name)
        pubs[name] = node.create_publisher(cls, f'roundtrip/{name}/in', _qos())
        node.create_subscription(cls, f'roundtrip/{name}/out',
                                 lambda msg, name=name: received.setdefault(name, msg), _qos())
    assert ros.spin_until(lambda: all(p.get_subscription_count() > 0 for p in pubs.values()),
                          timeout=20), 'echo process never subscribed'
    for name, pub in pubs.items():
        pub.publish(sent[name])
    assert ros.spin_until(lambda: len(received) == len(sent), timeout=20), \
        f'missing: {sorted(set(sent) - set(received))}'
    for name, msg in sent.items():
        assert equal(msg, received[name]), f'{name} changed in transit: {received[name]}'
        assert not equal(msg, type(msg)()), f'{name} sample equals the default message'


def test_every_service_round_trips(ros, echo_process):
    node = ros.node('service_probe')
    for name, srv in ezshop_service_types().items():
        seen = []
        node.create_subscription(srv.Request, f'roundtrip/{name}/request_seen', seen.append,
                                 _qos())
        client = node.create_client(srv, f'roundtrip/{name}')
        request = sample(srv.Request, 'request')
        response = ros.call(client, request, timeout=20)
        assert equal(response, sample(srv.Response, 'response')), f'{name}: {response}'
        assert ros.spin_until(lambda seen=seen: bool(seen), timeout=10), f'{name}: request not echoed'
        assert equal(seen[0], request), f'{name} request changed in transit: {seen[0]}'
