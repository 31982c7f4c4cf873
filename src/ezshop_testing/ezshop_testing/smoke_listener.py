"""Smoke-test fixture: prints every ezshop_msgs/Alert it hears."""

from rclpy.node import Node

from ezshop_msgs.msg import Alert
from ezshop_ros.process import run_node
from ezshop_testing.smoke_talker import CHATTER


class SmokeListener(Node):
    """Logs `heard: <message>` for every Alert on `chatter`."""

    def __init__(self, **kwargs):
        super().__init__('smoke_listener', **kwargs)
        self._sub = CHATTER.subscription(self, self._on_alert)

    def _on_alert(self, msg: Alert):
        self.get_logger().info(f'heard: {msg.message}')


def main(args=None) -> int:
    return run_node(SmokeListener, args)
