"""The real ROS 2 tools on the project's graph (installed by `make setup` from the ROS 2
vendor folder, see scripts/setup.sh): `ros2 launch` starts launch/smoke.launch.xml, the `ros2`
command line sees its nodes, parameters, topics and the project's interfaces, and Ctrl-C stops
every node cleanly."""

import shutil
import signal
import subprocess

import pytest
from rclpy.qos import QoSProfile, ReliabilityPolicy

from ezshop_msgs.msg import Alert
from ezshop_testing.processes import ChildProcess

pytestmark = pytest.mark.skipif(
    shutil.which('ros2') is None,
    reason="no `ros2` command: make setup installs it from the ROS 2 vendor folder "
    '($EZSHOP_ROS_VENDOR, default ../shared/vendor/ros2) or a sourced ROS 2 install')


def ros2(*args, timeout=30.0):
    done = subprocess.run(['ros2', *args], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


@pytest.fixture
def smoke():
    launch = ChildProcess(['ros2', 'launch', 'ezshop_bringup', 'smoke.launch.xml',
                           'greeting:=hi'])
    yield launch
    launch.stop()


def test_ros2_launch_runs_the_graph_and_the_cli_sees_it(ros, smoke):
    heard = []
    probe = ros.node('cli_probe')
    probe.create_subscription(Alert, '/smoke/smoke_chatter', heard.append,
                              QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
    assert ros.spin_until(lambda: heard, timeout=30), smoke.output
    assert heard[0].message.startswith('hi ') and heard[0].source == '/smoke/talker'

    # Discovery of the launched processes by a fresh CLI node takes a moment on a busy machine.
    wanted = {'/smoke/talker', '/smoke/listener'}
    nodes = []
    for _ in range(6):
        nodes = ros2('node', 'list', '--no-daemon', '--spin-time', '3').split()
        if wanted <= set(nodes):
            break
    assert wanted <= set(nodes), nodes
    assert 'String value is: hi' in ros2('param', 'get', '--no-daemon', '--spin-time', '3',
                                         '/smoke/talker',
                                         'greeting')
    echoed = ros2('topic', 'echo', '--no-daemon', '--once', '/smoke/smoke_chatter',
                  'ezshop_msgs/msg/Alert')
    assert 'message: hi ' in echoed and 'source: /smoke/talker' in echoed
    assert 'resolves_event_id' in ros2('interface', 'show', 'ezshop_msgs/msg/CartAction')


def test_ctrl_c_stops_every_node_of_ros2_launch_cleanly(ros, smoke):
    assert smoke.wait_for_line('heard: hi', timeout=30), smoke.output
    # A terminal's Ctrl-C: SIGINT to the whole process group (launch passes it on as well, so
    # every node gets it twice).
    smoke.send_signal(signal.SIGINT)
    assert smoke.proc.wait(timeout=20) == 0, smoke.output
    smoke.stop()
    for name in ('smoke_talker-1', 'smoke_listener-2'):
        assert f'[{name}]: process has finished cleanly' in smoke.output, smoke.output
    assert 'Traceback' not in smoke.output, smoke.output
