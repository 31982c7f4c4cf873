"""fusion_node: shelf event + face tracks near the lane -> cart action (who took it).

Thin ROS wrapper around fusion_core. Buffers FaceArray messages of every shelf camera,
holds each ShelfEvent until every covering camera has sent a frame stamped at or after
stamp + window_after (or decision_timeout passed), then scores and decides. It keeps its own
view of who is in the store (customer_events: ENTERED / EXITED stamps) and who holds what
(the store's carts topic).
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import QoSProfile

from ezshop_common.store_config import ROLE_SHELF, load_store
from ezshop_msgs.msg import Alert, Cart, CartAction, CustomerEvent, FaceArray, ShelfEvent
from ezshop_store import convert
from ezshop_store import fusion_core as core
from ezshop_store.diagnostics import diagnostic_array
from ezshop_store.ros_profiles import float_param, keep_all, reliable
from ezshop_store.store_types import INFO, WARN, AlertOut

S = 1_000_000_000








@dataclass
class _Waiting:
    change: core.ShelfChange
    cameras: tuple[str, ...]
    zones: dict[str, core.Box]
    deadline_ns: int
    frame_id: str


class FusionNode(Node):
    """Decides who took (or put back) the items of each shelf event."""

    def __init__(self, **kwargs):
        super().__init__('fusion_node', **kwargs)
        self.declare_parameter('store_file', '', ParameterDescriptor(
            description="Store description (cameras, reach zones); '' = default store file",
            read_only=True))
        self.declare_parameter('window_before', 1.5, float_param(
            'Faces seen this long before a shelf event count (s)', 0.0, 10.0))
        self.declare_parameter('window_after', 0.5, float_param(
            'Faces seen this long after a shelf event count (s)', 0.0, 10.0))
        self.declare_parameter('decision_timeout', 1.0, float_param(
            'Extra wait beyond window_after for late or missing camera frames before deciding '
            'with what has arrived (s)', 0.0, 30.0))
        self.declare_parameter('distance_scale_px', 60.0, float_param(
            'Pixel distance from the reach zone at which a face counts exp(-1) of one inside '
            'it (px)', 1.0, 2000.0))
        self.declare_parameter('min_score', 0.15, float_param(
            'Lowest score (0..1: near the zone for the whole window = 1) of a candidate', 0.0,
            1.0))
        self.declare_parameter('ambiguity_margin', 0.15, float_param(
            'Best and second-best scores closer than this are ambiguous', 0.0, 1.0))
        self.declare_parameter('ambiguous_policy', core.POLICY_ASSIGN_BEST, ParameterDescriptor(
            description='What to do when ambiguous: assign_best (charge the best, flag it) or '
                        'hold (unattributed, for staff)'))
        self.declare_parameter('buffer_horizon', 10.0, float_param(
            'Face frames older than this behind the newest are dropped (s)', 1.0, 120.0))
        self.declare_parameter('presence_retention', 120.0, float_param(
            'Customers who exited are remembered this long for late shelf events (s)', 1.0,
            3600.0))

        policy = self.get_parameter('ambiguous_policy').value
        if policy not in core.AMBIGUOUS_POLICIES:
            self.get_logger().error(f'ambiguous_policy {policy!r} unknown; using assign_best')
            policy = core.POLICY_ASSIGN_BEST
        self.params = core.FusionParams(
            window_before_ns=int(self.get_parameter('window_before').value * S),
            window_after_ns=int(self.get_parameter('window_after').value * S),
            distance_scale_px=self.get_parameter('distance_scale_px').value,
            min_score=self.get_parameter('min_score').value,
            ambiguity_margin=self.get_parameter('ambiguity_margin').value,
            ambiguous_policy=policy)
        self.timeout_ns = int(self.get_parameter('decision_timeout').value * S)
        self.retention_ns = int(self.get_parameter('presence_retention').value * S)
        self.store = load_store(self.get_parameter('store_file').value or None)
        self.buffer = core.FaceBuffer(int(self.get_parameter('buffer_horizon').value * S))
        self.presence = core.Presence()
        self.holdings: dict[str, dict[str, int]] = {}
        self.waiting: list[_Waiting] = []
        self.seen_events: OrderedDict[str, None] = OrderedDict()
        self.counters: Counter = Counter()

        for camera in self.store.cameras:
            if camera.role == ROLE_SHELF:
                self.create_subscription(
                    FaceArray, camera.faces_topic,
                    lambda msg, cam=camera.camera_id: self._on_faces(msg, cam), reliable(50))
        self.create_subscription(ShelfEvent, 'shelf_events', self._on_shelf_event, keep_all())
        self.create_subscription(CustomerEvent, 'customer_events', self._on_customer_event,
                                 keep_all())
        self.create_subscription(Cart, 'carts', self._on_cart, reliable(100, latched=True))
        self.actions_pub = self.create_publisher(CartAction, 'cart_actions', keep_all())
        self.unsent: list[CartAction] = []
        self.alerts_pub = self.create_publisher(Alert, 'alerts', reliable(100))
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', QoSProfile(
            depth=10))
        self.create_timer(0.02, self._decide_ready)
        self.create_timer(1.0, self._diagnostics)

    # ------------------------------------------------------------ inputs
    def _on_faces(self, msg: FaceArray, camera_id: str) -> None:
        if msg.camera_id and msg.camera_id != camera_id:
            self.counters['faces_camera_mismatch'] += 1
        self.buffer.add(convert.frame(msg, camera_id))
        self.counters['face_frames'] += 1
        if self.waiting:
            self._decide_ready()

    def _on_customer_event(self, msg: CustomerEvent) -> None:
        stamp = convert.stamp_ns(msg.header.stamp)
        if msg.kind == CustomerEvent.ENTERED and msg.customer_id:
            self.presence.enter(msg.customer_id, stamp)
        elif msg.kind == CustomerEvent.EXITED and msg.customer_id:
            self.presence.exit(msg.customer_id, stamp)
            self.presence.forget_exited_before(stamp - self.retention_ns)

    def _on_cart(self, msg: Cart) -> None:
        self.holdings[msg.customer_id] = {ln.item_id: ln.quantity for ln in msg.lines}
        if msg.visit_id and msg.customer_id not in self.presence.entered:
            self.presence.enter(msg.customer_id, 0)  # joined late: in since before we know
        elif not msg.visit_id and msg.customer_id in self.presence.entered \
                and msg.customer_id not in self.presence.exited:
            # Checked out but we missed the EXITED: out since the receipt's exit stamp.
            self.presence.exit(msg.customer_id, convert.stamp_ns(msg.header.stamp))

    def _on_shelf_event(self, msg: ShelfEvent) -> None:
        try:
            change = convert.shelf_change(msg)
        except convert.BadMessageError as exc:
            self.counters['bad_shelf_events'] += 1
            self.get_logger().warning(f'bad shelf event ignored: {exc}')
            return
        if change.event_id in self.seen_events:
            self.counters['duplicate_shelf_events'] += 1
            return
        self.seen_events[change.event_id] = None
        while len(self.seen_events) > 10000:
            self.seen_events.popitem(last=False)
        self.counters['shelf_events'] += 1
        covering = self.store.cameras_covering(change.shelf_id, change.lane_id)
        zones = {camera.camera_id: core.Box(z.x, z.y, z.width, z.height)
                 for camera, z in covering}
        if not covering:
            self.counters['lanes_without_camera'] += 1
        deadline = self.get_clock().now().nanoseconds + self.params.window_after_ns \
            + self.timeout_ns
        self.waiting.append(_Waiting(change, tuple(zones), zones, deadline,
                                     msg.header.frame_id))
        self._decide_ready()

    # ------------------------------------------------------------ decisions
    def _send(self, msg: CartAction) -> None:
        """Publish a cart action; if the store's reader is full (publish blocked and failed)
        keep it and retry on the next timer tick, in order."""
        self.unsent.append(msg)
        self._flush_unsent()

    def _flush_unsent(self) -> None:
        while self.unsent:
            try:
                self.actions_pub.publish(self.unsent[0])
            except RuntimeError as exc:  # rclpy RCLError: the writer blocked too long
                self.counters['publish_retries'] += 1
                self.get_logger().warning(f'cart_actions blocked, will retry: {exc}',
                                          throttle_duration_sec=1.0)
                return
            self.unsent.pop(0)

    def _decide_ready(self) -> None:
        if self.unsent:
            self._flush_unsent()
        if not self.waiting:
            return
        now = self.get_clock().now().nanoseconds
        latest = {cam: self.buffer.latest_stamp(cam) for w in self.waiting for cam in w.cameras}
        still = []
        for waiting in self.waiting:
            ready = core.ready_to_decide(waiting.change.stamp_ns, self.params.window_after_ns,
                                         latest, waiting.cameras)
            if ready or now >= waiting.deadline_ns:
                if not ready:
                    self.counters['decided_on_timeout'] += 1
                self._decide(waiting)
            else:
                still.append(waiting)
        self.waiting = still

    def _decide(self, waiting: _Waiting) -> None:
        change = waiting.change
        start = change.stamp_ns - self.params.window_before_ns
        end = change.stamp_ns + self.params.window_after_ns
        frames = {cam: self.buffer.window(cam, start, end) for cam in waiting.cameras}
        scores = core.score_tracks(frames, waiting.zones, self.params.distance_scale_px)
        decision = core.decide(change, scores, self.presence.present_at(change.stamp_ns),
                               self.holdings, self.params)
        self.counters[f'decisions_{decision.outcome}'] += 1
        self._send(convert.cart_action_msg(decision, waiting.frame_id))
        if decision.outcome == core.ASSIGNED:
            return
        kind = 'ambiguous_pick' if decision.ambiguous else 'unattributed_pick'
        if not waiting.cameras:
            reason = f'no camera covers {change.shelf_id}/{change.lane_id}'
        else:
            reason = decision.reason
        alert = AlertOut(WARN if decision.outcome != core.AMBIGUOUS_ASSIGNED else INFO, kind,
                         f'shelf event {change.event_id} ({change.quantity_delta:+d} '
                         f'{change.item_id}): {reason}',
                         (change.event_id, change.item_id, f'{change.shelf_id}/{change.lane_id}',
                          *(c for c, _ in decision.candidates)), change.stamp_ns)
        self.get_logger().warning(alert.message, throttle_duration_sec=0.5)
        self.alerts_pub.publish(convert.alert_msg(alert, self.get_fully_qualified_name()))

    def _diagnostics(self) -> None:
        counters = dict(self.counters)
        counters['waiting_events'] = len(self.waiting)
        self.diag_pub.publish(diagnostic_array(
            self.get_name(), 'fusion', counters, warn_keys=('decided_on_timeout',),
            stamp=self.get_clock().now().to_msg()))


def main(args=None):
    rclpy.init(args=args)
    node = FusionNode()
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
