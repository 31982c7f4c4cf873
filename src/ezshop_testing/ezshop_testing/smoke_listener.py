"""Smoke-test fixture: prints every ezshop_msgs/Alert it hears."""

from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy

from ezshop_msgs.msg import Alert
from ezshop_ros.process import init_node_process, shutdown_node_process, spin


class SmokeListener(Node):
    """Logs `heard: <message>` for every Alert on `chatter`."""

    def __init__(self, **kwargs):
        super().__init__('smoke_listener', **kwargs)
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self._sub = self.create_subscription(Alert, 'chatter', self._on_alert, qos)

    def _on_alert(self, msg: Alert):
        self.get_logger().info(f'heard: {msg.message}')


def main(args=None):
    init_node_process(args)
    node = SmokeListener()
    try:
        spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        shutdown_node_process()
