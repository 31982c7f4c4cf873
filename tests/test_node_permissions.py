"""The permission rows (ezshop_ros.graph_permissions) are true: every endpoint a running node
has is one its row allows, so the enclaves `ezshop security init` writes let the real graph
work under DDS Security, and nothing more.

The simulated store (sim.launch.xml under real `ros2 launch`, with the recorder) runs an idle
scenario; beside it, in namespace /extra, a lane sensor (mock pins), a camera node (a folder
of one image) and replay (a two-message bag) stand for the hardware and the bag tools. Each
node's publishers, subscriptions, services and clients are read from the ROS graph (rclpy's
get_*_names_and_types_by_node, as `ros2 security generate_policy` reads them), a few times,
and compared with its row: a difference is listed node by node. The enclave each node runs in
(the launch files' --enclave) must be the one its row's permissions are written for.

The store runs as it does in a shop, with respawn: Fast DDS's shared-memory transport has been
seen to crash a node as it started among a dozen others (SIGSEGV in a middleware thread; an
upstream fault, eProsima/Fast-DDS#6501), and launch restarts it a second later. A node that
dies of an error of its own (an exit code, not a signal) fails the test.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from ezshop_common.store_config import load_store
from ezshop_ros import graph_permissions as gp
from ezshop_testing.processes import ChildProcess

EXTRA = '/extra'
#: Discovery and start of ~13 processes on a busy 2-core machine: a bound, not a target.
START_DEADLINE_S = 75.0
#: Endpoints are read this long once every node is there (their union is compared).
SAMPLE_FOR_S = 3.0
KINDS = ('publish', 'subscribe', 'serve', 'call')
IDLE_SCENARIO = """\
name: permissions_idle
description: Nobody comes in for ten minutes; the graph idles while its endpoints are read.
seed: 1
shoppers:
  - identity: obama
    enrolled: false
    enter_s: 600.0
    actions:
      - walk_to: {shelf: shelf_a, lane: lane_1}
      - take: 1
      - exit
"""
#: Nodes of the launch machinery, not of the store (launch_ros's own node in `ros2 launch`).
NOT_OURS = ('launch_ros_',)
#: How `ros2 launch` reports a node process that ended while the launch went on.
DIED = re.compile(r'\[ERROR\] \[([\w.-]+)\]: process has died \[pid \d+, exit code (-?\d+)')


def node_command(package: str, executable: str, *ros_args: str) -> list[str]:
    from ament_index_python.packages import get_package_prefix

    return [str(Path(get_package_prefix(package)) / 'lib' / package / executable),
            '--ros-args', *ros_args]


def write_bag(folder: Path) -> None:
    """A bag of replay's inputs, recorded in EXTRA: one camera_info, one range."""
    from ezshop_bag.rosbag2 import BagWriter, TopicInfo
    from rclpy.serialization import serialize_message
    from sensor_msgs.msg import CameraInfo, Range

    writer = BagWriter(folder)
    for name, msg_type, msg in (
            (f'{EXTRA}/cameras/cam_entrance/camera_info', 'sensor_msgs/msg/CameraInfo',
             CameraInfo()),
            (f'{EXTRA}/shelves/shelf_a/lane_1/range', 'sensor_msgs/msg/Range', Range())):
        writer.add_topic(TopicInfo(name, msg_type))
        writer.write(name, serialize_message(msg), 10**9)
    writer.close(custom_data={'ezshop.namespace': EXTRA})


def observe(probe, name: str, namespace: str) -> dict[str, set[str]] | None:
    """A node's endpoints as the graph shows them; None when it is gone."""
    calls = {'publish': probe.get_publisher_names_and_types_by_node,
             'subscribe': probe.get_subscriber_names_and_types_by_node,
             'serve': probe.get_service_names_and_types_by_node,
             'call': probe.get_client_names_and_types_by_node}
    try:
        return {kind: {topic for topic, _ in call(name, namespace)}
                for kind, call in calls.items()}
    except Exception:  # noqa: BLE001 - NodeNameNonExistentError: the node left meanwhile
        return None


def differences(node: str, seen: dict[str, set[str]], allowed: gp.Profile) -> list[str]:
    """What `node` did that `allowed` does not allow, a line each."""
    verbs = {'publish': 'publishes', 'subscribe': 'subscribes to', 'serve': 'serves',
             'call': 'calls'}
    return [f'{node} {verbs[kind]} {name}: not in its row'
            for kind in KINDS for name in sorted(seen[kind] - getattr(allowed, kind))]


@pytest.fixture(scope='module')
def graph(tmp_path_factory, faces_root, config_dir):
    """The running graph: (expected GraphNodes by (namespace, node), the endpoints and
    enclave seen of every node, the processes' output)."""
    import cv2
    import numpy as np

    from ezshop_testing.ros import RosHarness

    tmp = tmp_path_factory.mktemp('permissions')
    scenario = tmp / 'idle.yaml'
    scenario.write_text(IDLE_SCENARIO)
    images = tmp / 'images'
    images.mkdir()
    cv2.imwrite(str(images / 'frame.png'), np.zeros((480, 640, 3), np.uint8))
    write_bag(tmp / 'bag')

    store = load_store(config_dir / 'store.yaml')
    launched = [n for n in gp.store_graph(store, '/', tools=False)
                if n.row.executable not in ('lane_sensor_node', 'camera_node', 'replay',
                                            'temperature_sensor_node', 'mqtt_bridge')]
    extras = [gp.graph_node(gp.row('lane_sensor_node'), store, EXTRA, 'lane_sensor_shelf_a',
                            shelf_id='shelf_a'),
              gp.graph_node(gp.row('camera_node'), store, EXTRA, 'camera_entrance',
                            'cam_entrance'),
              gp.graph_node(gp.row('replay'), store, EXTRA),
              gp.graph_node(gp.row('temperature_sensor_node'), store, EXTRA),
              gp.graph_node(gp.row('mqtt_bridge'), store, EXTRA)]
    expected = {(n.namespace, n.name): n for n in launched + extras}
    profiles = {(n.namespace, p.node): (n, p) for n in launched + extras for p in n.profiles}

    processes = [ChildProcess([
        'ros2', 'launch', 'ezshop_bringup', 'sim.launch.xml', f'scenario:={scenario}',
        f'database_url:=sqlite:///{tmp / "store.db"}', 'record:=true', f'bag:={tmp / "rec"}',
        'timeout_s:=300.0'])]
    sensors, vision = config_dir / 'sensors.yaml', config_dir / 'vision.yaml'
    by_name = {n.name: n for n in extras}
    processes.append(ChildProcess(node_command(
        'ezshop_sensors', 'lane_sensor_node', '-r', '__node:=lane_sensor_shelf_a',
        '-r', f'__ns:={EXTRA}', '--params-file', str(sensors), '-p', 'pin_factory:=mock',
        '--enclave', by_name['lane_sensor_shelf_a'].enclave)))
    processes.append(ChildProcess(node_command(
        'ezshop_vision', 'camera_node', '-r', '__node:=camera_entrance', '-r', f'__ns:={EXTRA}',
        '--params-file', str(vision), '-p', f'source:={images}', '-p', 'fps:=2.0',
        '--enclave', by_name['camera_entrance'].enclave)))
    processes.append(ChildProcess(node_command(
        'ezshop_bag', 'replay', '-r', f'__ns:={EXTRA}', '-p', f'bag:={tmp / "bag"}',
        '-p', 'wait_timeout_s:=300.0', '--enclave', by_name['ezshop_replay'].enclave)))
    w1_dir = tmp / 'w1'  # the fridges' DS18B20s as the kernel shows them
    for fridge in (f for f in store.fridges if f.w1_id):
        (w1_dir / fridge.w1_id).mkdir(parents=True)
        (w1_dir / fridge.w1_id / 'temperature').write_text('-18500\n')
    processes.append(ChildProcess(node_command(
        'ezshop_sensors', 'temperature_sensor_node', '-r', f'__ns:={EXTRA}',
        '--params-file', str(sensors), '-p', f'w1_dir:={w1_dir}',
        '--enclave', by_name['temperature_sensor_node'].enclave)))
    # Its endpoints are made at start, whether or not a broker answers.
    processes.append(ChildProcess(node_command(
        'ezshop_mqtt', 'mqtt_bridge', '-r', f'__ns:={EXTRA}',
        '--params-file', str(config_dir / 'mqtt.yaml'), '-p', f'store_id:={tmp.name}',
        '--enclave', by_name['mqtt_bridge'].enclave)))
    harness = RosHarness()
    probe = harness.node('_permissions_probe')
    try:
        def all_there() -> bool:
            names = {(ns, name) for name, ns in probe.get_node_names_and_namespaces()}
            return set(expected) <= names
        started = time.monotonic()
        up = harness.spin_until(all_there, START_DEADLINE_S)
        # The referee subscribes to what it judges once it has read the gallery.
        watching = processes[0].wait_for_line(
            'watching', max(1.0, START_DEADLINE_S - (time.monotonic() - started)))
        seen: dict[tuple[str, str], dict[str, set[str]]] = {}
        enclaves: dict[tuple[str, str], str] = {}
        end = time.monotonic() + SAMPLE_FOR_S
        while time.monotonic() < end:
            for name, namespace, enclave in probe.get_node_names_and_namespaces_with_enclaves():
                if name.startswith('_') or name.startswith(NOT_OURS):
                    continue
                endpoints = observe(probe, name, namespace)
                if endpoints is None:
                    continue
                key = (namespace, name)
                enclaves[key] = enclave
                for kind in KINDS:
                    seen.setdefault(key, {k: set() for k in KINDS})[kind] |= endpoints[kind]
            harness.spin_for(0.5)
        output = '\n'.join(p.output[-3000:] for p in processes)
        deaths = DIED.findall(processes[0].output)
        yield {'expected': expected, 'profiles': profiles, 'seen': seen, 'enclaves': enclaves,
               'up': up, 'watching': watching, 'output': output, 'deaths': deaths}
    finally:
        harness.close()
        for process in reversed(processes):
            process.stop()


def test_every_node_of_the_graph_started(graph):
    missing = sorted(set(graph['expected']) - set(graph['seen']))
    assert graph['up'] and not missing, \
        f'not in the graph after {START_DEADLINE_S:.0f} s: {missing}\n{graph["output"]}'
    assert graph['watching'], 'the referee never started watching\n' + graph['output']


def test_no_node_died_of_an_error_of_its_own(graph):
    """A node that ended with an exit code (a traceback, a refused configuration) fails; one
    killed by a signal (a native crash in the middleware) was restarted, and is only shown."""
    own = [(name, int(code)) for name, code in graph['deaths'] if int(code) >= 0]
    assert not own, f'nodes that died: {own}\n{graph["output"]}'
    for name, code in graph['deaths']:
        print(f'{name} was killed by signal {-int(code)} and restarted by launch')


def test_every_endpoint_each_node_has_is_allowed_by_its_row(graph):
    problems = []
    for (namespace, node), seen in sorted(graph['seen'].items()):
        label = f'{namespace.rstrip("/")}/{node}'
        found = graph['profiles'].get((namespace, node))
        if found is None:
            problems.append(f'{label}: a node no row describes '
                            f'(publishes {sorted(seen["publish"])})')
            continue
        problems += differences(label, seen, found[1])
    assert not problems, 'endpoints the permissions would refuse:\n' + '\n'.join(problems)


def test_every_node_runs_in_the_enclave_its_permissions_are_for(graph):
    wrong = [f'{namespace.rstrip("/")}/{node}: enclave {graph["enclaves"][(namespace, node)]}'
             f', permissions for {graph["profiles"][(namespace, node)][0].enclave}'
             for namespace, node in sorted(graph['seen'])
             if (namespace, node) in graph['profiles']
             and graph['enclaves'][(namespace, node)]
             != graph['profiles'][(namespace, node)][0].enclave]
    assert not wrong, '\n'.join(wrong)


def test_the_comparison_is_not_vacuous(graph):
    """Every node showed its parameter services, and the store its receipts: the graph was
    read; and another node's row refuses what the store does."""
    for namespace, node in graph['expected']:  # the long-lived ones: fully discovered
        seen = graph['seen'].get((namespace, node))
        assert seen is not None, f'{namespace} {node} never seen'
        services = {gp.resolve_name(s, namespace, node) for s in gp.NODE_SERVICES
                    if not s.endswith('get_type_description')}
        assert services <= seen['serve'], f'{node}: {sorted(seen["serve"])}'
    store = graph['seen'][('/', 'store_node')]
    assert '/receipts' in store['publish'] and '/get_gallery' in store['serve']
    fusion = graph['profiles'][('/', 'fusion_node')][1]
    refused = differences('/store_node', store, fusion)
    assert '/store_node publishes /receipts: not in its row' in refused


# -- Where the middleware has DDS Security (a full ROS 2 install) ------------------------------

@pytest.fixture(scope='module')
def keystore(tmp_path_factory, config_dir):
    """The graph's keystore (`ezshop security init`) for this session's ROS domain."""
    from ezshop_ros import security_cli

    path = tmp_path_factory.mktemp('secured') / 'keystore'
    security_cli.init_keystore(path, gp.store_graph(load_store(config_dir / 'store.yaml')),
                               int(os.environ['ROS_DOMAIN_ID']))
    return path


@pytest.fixture(scope='module')
def secured(keystore):
    """The keystore, where a node starts with DDS Security on; else the test is skipped with
    what the middleware said (Fast DDS from PyPI is built without the security plugins)."""
    from ezshop_ros import security_cli

    ok, output = security_cli.start_secured_node(keystore, '/ezshop/store_node')
    if not ok:
        pytest.skip('DDS Security is not available here: a node started with '
                    'ROS_SECURITY_ENABLE=true, Enforce, enclave /ezshop/store_node failed: '
                    + security_cli.security_error(output))
    return keystore


def test_the_keystore_is_valid_for_sros2s_schemas(keystore):
    policy = pytest.importorskip(
        'sros2.policy', reason='sros2 is not installed (a full ROS 2 install has it: '
        'ros-kilted-sros2)')
    from lxml import etree

    checked = 0
    for schema_name, pattern in (('governance.xsd', 'enclaves/governance.xml'),
                                 ('permissions.xsd', 'enclaves/**/permissions.xml')):
        schema = etree.XMLSchema(etree.parse(str(policy.get_transport_schema('dds',
                                                                             schema_name))))
        for path in sorted(keystore.glob(pattern)):
            assert schema.validate(etree.parse(str(path))), f'{path}: {schema.error_log}'
            checked += 1
    assert checked > 10


def test_a_secured_store_answers_its_tool_and_refuses_the_others(secured, config_dir,
                                                                  tmp_path):
    """store_node in its enclave; `ezshop customer export` in the tool's enclave gets the
    store's answer; without an identity the store is not even seen; with the greeter's
    identity (whose row has no export_customer) the call never reaches it."""
    from ezshop_ros import security_cli

    secure_env = {**os.environ, **security_cli.security_environment(secured)}
    plain_env = {k: v for k, v in os.environ.items() if not k.startswith('ROS_SECURITY_')}
    store = ChildProcess(node_command(
        'ezshop_store', 'store_node', '--params-file', str(config_dir / 'store_nodes.yaml'),
        '-p', f'store_file:={config_dir / "store.yaml"}',
        '-p', f'database_url:=sqlite:///{tmp_path / "store.db"}',
        '--enclave', '/ezshop/store_node'), env=secure_env)
    ezshop = node_command('ezshop_bag', 'ezshop')[0]

    def export(env: dict, enclave: str, timeout_s: float) -> subprocess.CompletedProcess:
        return subprocess.run(
            [ezshop, 'customer', 'export', 'c_nobody', '--timeout', f'{timeout_s:g}',
             '--ros-args', '--enclave', enclave], env=env, capture_output=True, text=True,
            timeout=timeout_s + 60)
    try:
        assert store.wait_for_line('store ready', 60), store.output[-3000:]
        allowed = export(secure_env, '/ezshop/ezshop_customer_cli', 30)
        assert allowed.returncode == 1, allowed.stderr
        assert "unknown customer 'c_nobody'" in allowed.stderr  # the store answered
        anonymous = export(plain_env, '/ezshop/ezshop_customer_cli', 10)
        assert anonymous.returncode == 3 and 'no store offers' in anonymous.stderr, \
            anonymous.stderr
        greeter = export(secure_env, '/ezshop/greeter_node', 10)
        assert greeter.returncode != 0 and 'unknown customer' not in greeter.stderr, \
            greeter.stderr
    finally:
        store.stop()
