"""Smoke-test fixture: publishes an ezshop_msgs/Alert at a fixed rate."""

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node

from ezshop_msgs.msg import Alert
from ezshop_ros.process import run_node
from ezshop_ros.topics import Topic, reliable

#: The smoke fixtures' test-only topic.
CHATTER = Topic('chatter', Alert, reliable(10), reliable(10))


class SmokeTalker(Node):
    """Publishes Alert messages whose text is the `greeting` parameter plus a counter."""

    def __init__(self, **kwargs):
        super().__init__('smoke_talker', **kwargs)
        self.declare_parameter('greeting', 'hello', ParameterDescriptor(
            description='Text put in every Alert.message'))
        self.declare_parameter('rate_hz', 10.0, ParameterDescriptor(
            description='Publish rate (Hz)'))
        self._count = 0
        self._pub = CHATTER.publisher(self)
        period = 1.0 / self.get_parameter('rate_hz').value
        self._timer = self.create_timer(period, self._tick)

    def _tick(self):
        msg = Alert()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.level = Alert.INFO
        msg.kind = 'smoke'
        msg.message = f"{self.get_parameter('greeting').value} {self._count}"
        msg.source = self.get_fully_qualified_name()
        self._pub.publish(msg)
        self._count += 1


def main(args=None) -> int:
    return run_node(SmokeTalker, args)
