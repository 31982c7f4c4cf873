"""The launch runner starts launch/smoke.launch.xml as separate processes that really talk,
hands arguments and parameter files to the nodes, and stops every child on Ctrl-C."""

import os
import re
import signal
import sys
import time

import pytest
from rcl_interfaces.srv import GetParameters
from rclpy.qos import QoSProfile, ReliabilityPolicy

from ezshop_msgs.msg import Alert
from ezshop_testing.processes import ChildProcess

STOP_BOUND_S = 5.0


def start_runner(repo_root, *args):
    cmd = [sys.executable, '-m', 'ezshop_launch', str(repo_root / 'launch' / 'smoke.launch.xml'),
           *args]
    return ChildProcess(cmd)


def child_pids(runner, count, timeout=20.0):
    pids = []
    deadline = time.monotonic() + timeout
    while len(pids) < count and time.monotonic() < deadline:
        pids = [int(p) for p in re.findall(r'process started with pid \[(\d+)\]', runner.output)]
        time.sleep(0.05)
    assert len(pids) == count, runner.output
    return pids


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie waiting to be reaped by the runner counts as gone.
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().split()[2] != 'Z'
    except FileNotFoundError:
        return False


def get_parameters(ros, node_name, names):
    client = ros.nodes[0].create_client(GetParameters, f'{node_name}/get_parameters')
    response = ros.call(client, GetParameters.Request(names=names), timeout=20)
    return [v for v in response.values]


@pytest.fixture
def runner(repo_root, request):
    args = getattr(request, 'param', ())
    proc = start_runner(repo_root, *args)
    yield proc
    proc.stop()


def test_messages_flow_and_ctrl_c_stops_every_child(ros, runner):
    probe = ros.node('runner_probe')
    heard = []
    probe.create_subscription(Alert, '/smoke/smoke_chatter', heard.append,
                              QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
    assert ros.spin_until(lambda: len(heard) >= 3, timeout=30), runner.output
    assert heard[0].message.startswith('hello '), heard[0].message
    assert heard[0].source == '/smoke/talker'
    # The listener process heard them too (output prefixed with its name).
    assert runner.wait_for_line(lambda line: line.startswith('[listener-2]') and 'heard: hello'
                                in line, timeout=10), runner.output

    pids = child_pids(runner, 2)
    started = time.monotonic()
    os.kill(runner.proc.pid, signal.SIGINT)  # the runner alone, as a terminal's Ctrl-C would
    runner.proc.wait(timeout=STOP_BOUND_S + 5)
    while any(alive(p) for p in pids) and time.monotonic() - started < STOP_BOUND_S:
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    assert not any(alive(p) for p in pids), f'children still alive after {elapsed:.1f} s'
    assert elapsed < STOP_BOUND_S
    assert runner.proc.returncode == 0, runner.output
    assert 'process talker-1' in runner.output and 'stopped (exit code 0)' in runner.output


def test_default_parameters_come_from_arg_and_file(ros, runner):
    ros.node('param_probe')
    greeting, rate = get_parameters(ros, '/smoke/talker', ['greeting', 'rate_hz'])
    assert greeting.string_value == 'hello'  # arg default beats the file
    assert rate.double_value == 5.0  # from config/smoke.yaml


@pytest.mark.parametrize('runner', [('greeting:=bonjour', 'namespace:=shop2')], indirect=True)
def test_arg_overrides_reach_the_node(ros, runner):
    probe = ros.node('override_probe')
    heard = []
    probe.create_subscription(Alert, '/shop2/smoke_chatter', heard.append,
                              QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
    assert ros.spin_until(lambda: bool(heard), timeout=30), runner.output
    assert heard[0].message.startswith('bonjour ')
    [greeting] = get_parameters(ros, '/shop2/talker', ['greeting'])
    assert greeting.string_value == 'bonjour'


def test_param_file_argument_reaches_the_node(ros, repo_root, tmp_path):
    params = tmp_path / 'talker.yaml'
    params.write_text('/**/talker:\n  ros__parameters:\n    rate_hz: 7.5\n')
    proc = start_runner(repo_root, f'params_file:={params}')
    try:
        ros.node('file_probe')
        [rate] = get_parameters(ros, '/smoke/talker', ['rate_hz'])
        assert rate.double_value == 7.5
    finally:
        proc.stop()


def test_unsupported_tag_is_refused_by_name(repo_root, tmp_path):
    bad = tmp_path / 'bad.launch.xml'
    bad.write_text('<launch><executable cmd="sleep 100"/></launch>')
    proc = ChildProcess([sys.executable, '-m', 'ezshop_launch', str(bad)])
    assert proc.proc.wait(timeout=30) == 2
    proc.stop()
    assert '<executable> is not supported by the EZShop launch runner' in proc.output
    assert 'ros2 launch' in proc.output
