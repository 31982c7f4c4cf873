"""smoke.launch.xml under launch_pytest (the way ROS packages test their launch files): the
launch file's arguments and parameter file reach the nodes, and its two processes talk."""

import launch_pytest
import pytest
from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import AnyLaunchDescriptionSource
from launch_pytest.actions import ReadyToTest
from rcl_interfaces.srv import GetParameters
from rclpy.qos import QoSProfile, ReliabilityPolicy

from ezshop_msgs.msg import Alert

SMOKE = f"{get_package_share_directory('ezshop_bringup')}/launch/smoke.launch.xml"


def smoke_launch(**arguments):
    return LaunchDescription([
        IncludeLaunchDescription(AnyLaunchDescriptionSource(SMOKE),
                                 launch_arguments=arguments.items()),
        ReadyToTest()])


@launch_pytest.fixture
def default_smoke():
    return smoke_launch()


@launch_pytest.fixture
def shop2_smoke():
    return smoke_launch(greeting='bonjour', namespace='shop2')


def parameters(ros, node_name, names):
    client = ros.node('parameter_probe').create_client(GetParameters, f'{node_name}/get_parameters')
    assert client.wait_for_service(timeout_sec=30), f'{node_name} never offered its parameters'
    return list(ros.call(client, GetParameters.Request(names=names), timeout=20,
                         resend_after=2.0).values)


def heard_on(ros, topic, count=1, timeout=30):
    heard = []
    ros.node('smoke_probe').create_subscription(
        Alert, topic, heard.append, QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
    ros.spin_until(lambda: len(heard) >= count, timeout=timeout)
    return heard


@pytest.mark.launch(fixture=default_smoke)
def test_defaults_come_from_the_argument_and_the_parameter_file(ros):
    greeting, rate = parameters(ros, '/smoke/talker', ['greeting', 'rate_hz'])
    assert greeting.string_value == 'hello'  # the launch argument's default beats the file
    assert rate.double_value == 5.0  # from config/smoke.yaml
    heard = heard_on(ros, '/smoke/smoke_chatter', count=3)
    assert len(heard) >= 3 and heard[0].message.startswith('hello ')
    assert heard[0].source == '/smoke/talker'


@pytest.mark.launch(fixture=shop2_smoke)
def test_launch_arguments_reach_the_nodes_and_their_namespace(ros):
    heard = heard_on(ros, '/shop2/smoke_chatter')
    assert heard and heard[0].message.startswith('bonjour ')
    assert heard[0].source == '/shop2/talker'
    greeting, = parameters(ros, '/shop2/talker', ['greeting'])
    assert greeting.string_value == 'bonjour'
