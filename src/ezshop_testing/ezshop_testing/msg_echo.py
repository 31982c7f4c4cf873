"""Round-trip fixture: echoes every ezshop_msgs message and answers every ezshop_msgs service.

For each message type T it subscribes `roundtrip/T/in` and republishes what it receives on
`roundtrip/T/out`. For each service S it serves `roundtrip/S`, publishes the request it got on
`roundtrip/S/request_seen`, and answers with samples.sample(S.Response, 'response').
"""

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from ezshop_ros.process import run_node
from ezshop_testing.samples import sample
from ezshop_testing.types import ezshop_message_types, ezshop_service_types


def _qos() -> QoSProfile:
    return QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL)


class MsgEcho(Node):
    def __init__(self, **kwargs):
        super().__init__('msg_echo', **kwargs)
        self._keep = []
        for name, cls in ezshop_message_types().items():
            pub = self.create_publisher(cls, f'roundtrip/{name}/out', _qos())
            self._keep.append(pub)
            self._keep.append(self.create_subscription(
                cls, f'roundtrip/{name}/in', lambda msg, pub=pub: pub.publish(msg), _qos()))
        for name, srv in ezshop_service_types().items():
            seen = self.create_publisher(srv.Request, f'roundtrip/{name}/request_seen', _qos())
            self._keep.append(seen)
            self._keep.append(self.create_service(
                srv, f'roundtrip/{name}',
                lambda request, response, srv=srv, seen=seen: self._answer(
                    request, srv, seen)))
        self.get_logger().info('msg_echo ready')

    def _answer(self, request, srv, seen):
        seen.publish(request)
        return sample(srv.Response, 'response')


def main(args=None) -> int:
    return run_node(MsgEcho, args)
