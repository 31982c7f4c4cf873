"""fusion_node: shelf event + face tracks near the lane -> cart action (who took it), and
presence from every camera (late entries, absent checkouts).

Thin ROS wrapper around fusion_engine.FusionEngine: converts FaceArray (every camera),
ShelfEvent, CustomerEvent (door passes) and Cart (the store's open visits and holdings) into
core objects, feeds the engine and publishes what it returns: cart_actions (first decisions and
late attributions), customer_events (SEEN / ABSENT presence events), alerts, /diagnostics.
"""

from __future__ import annotations

from collections import Counter

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import QoSProfile

from ezshop_common.store_config import load_store
from ezshop_msgs.msg import Alert, Cart, CartAction, CustomerEvent, FaceArray, ShelfEvent
from ezshop_ros.process import init_node_process, shutdown_node_process
from ezshop_store import convert
from ezshop_store import fusion_core as core
from ezshop_store.diagnostics import diagnostic_array
from ezshop_store.fusion_engine import EngineSettings, FusionEffects, FusionEngine
from ezshop_store.presence import SEEN, PresenceSettings
from ezshop_store.ros_profiles import float_param, keep_all, reliable

S = 1_000_000_000


class FusionNode(Node):
    """Decides who took (or put back) the items of each shelf event; keeps presence."""

    def __init__(self, **kwargs):
        super().__init__('fusion_node', **kwargs)
        self.declare_parameter('store_file', '', ParameterDescriptor(
            description="Store description (cameras, reach zones); '' = default store file",
            read_only=True))
        seconds = {}

        def declare_s(name, default, text, low, high):
            self.declare_parameter(name, default, float_param(text, low, high))
            seconds[name] = int(self.get_parameter(name).value * S)

        declare_s('window_before', 1.5, 'Faces seen this long before a shelf event count (s)',
                  0.0, 10.0)
        declare_s('window_after', 0.5, 'Faces seen this long after a shelf event count (s)',
                  0.0, 10.0)
        declare_s('decision_timeout', 1.0, 'Extra wait beyond window_after for late or missing '
                  'camera frames before deciding with what has arrived (s)', 0.0, 30.0)
        self.declare_parameter('distance_scale_px', 60.0, float_param(
            'Pixel distance from the reach zone at which a face counts exp(-1) of one inside '
            'it (px)', 1.0, 2000.0))
        self.declare_parameter('min_score', 0.15, float_param(
            'Lowest score (0..1: near the zone for the whole window = 1) of a candidate', 0.0,
            1.0))
        self.declare_parameter('ambiguity_margin', 0.15, float_param(
            'Best and second-best scores closer than this are ambiguous', 0.0, 1.0))
        self.declare_parameter('min_confidence', 0.15, float_param(
            'A winner with a lower confidence (score x lead over the second) is held for '
            'staff, never charged', 0.0, 1.0))
        self.declare_parameter('min_reach_proximity', 0.9, float_param(
            'A winner whose face never came this near the reach zone (proximity, 1 = inside '
            'it) in the window is held: the taker was a face the cameras missed', 0.0, 1.0))
        self.declare_parameter('late_naming', True, ParameterDescriptor(
            description='Also decide a held pick again when the unknown face nearest it is '
                        'identified later, by the first name its track got after the window '
                        '(not its newest: in crowds tracks change hands)'))
        self.declare_parameter('late_min_confidence', 0.3, float_param(
            'A late attribution needs at least this confidence (its names came after the '
            'window, on tracks that may have changed hands)', 0.0, 1.0))
        self.declare_parameter('ambiguous_policy', core.POLICY_HOLD, ParameterDescriptor(
            description='What to do when ambiguous: hold (unattributed, for staff; default) or '
                        'assign_best (charge the best, flag it)'))
        declare_s('buffer_horizon', 20.0, 'Face frames older than this behind the newest are '
                  'dropped; must exceed late_attribution_s + window_before (s)', 1.0, 300.0)
        declare_s('late_attribution_s', 4.0, 'A held pick is decided again when one of its '
                  'candidate faces is identified or becomes present within this time (s)',
                  0.0, 120.0)
        self.declare_parameter('presence_min_confidence', 0.3, float_param(
            'A face identified with at least this confidence is a sighting of the customer',
            0.0, 1.0))
        declare_s('late_entry_wait_s', 3.0, 'A customer seen at the entrance camera without an '
                  'ENTERED from the door after this long gets a late entry (s)', 0.0, 60.0)
        declare_s('absent_checkout_s', 300.0, 'A customer not seen by any camera for this long '
                  'is checked out as absent (s)', 1.0, 86400.0)
        declare_s('exit_absent_checkout_s', 3.0, 'The same, when the last sighting was at an '
                  'exit camera (s)', 0.5, 3600.0)
        declare_s('reentry_guard_s', 10.0, 'Sightings at a door camera this soon after the '
                  "customer's exit do not open a new visit (s)", 0.0, 600.0)
        declare_s('presence_retention', 120.0, 'Customers who left are remembered this long '
                  'for late shelf events (s)', 1.0, 3600.0)

        policy = self.get_parameter('ambiguous_policy').value
        if policy not in core.AMBIGUOUS_POLICIES:
            self.get_logger().error(f'ambiguous_policy {policy!r} unknown; using hold')
            policy = core.POLICY_HOLD
        params = core.FusionParams(
            window_before_ns=seconds['window_before'], window_after_ns=seconds['window_after'],
            distance_scale_px=self.get_parameter('distance_scale_px').value,
            min_score=self.get_parameter('min_score').value,
            ambiguity_margin=self.get_parameter('ambiguity_margin').value,
            ambiguous_policy=policy,
            min_confidence=self.get_parameter('min_confidence').value,
            late_min_confidence=self.get_parameter('late_min_confidence').value,
            min_reach_proximity=self.get_parameter('min_reach_proximity').value)
        presence = PresenceSettings(
            min_confidence=self.get_parameter('presence_min_confidence').value,
            late_entry_wait_ns=seconds['late_entry_wait_s'],
            absent_checkout_ns=seconds['absent_checkout_s'],
            exit_absent_checkout_ns=seconds['exit_absent_checkout_s'],
            reentry_guard_ns=seconds['reentry_guard_s'],
            retention_ns=seconds['presence_retention'])
        settings = EngineSettings(decision_timeout_ns=seconds['decision_timeout'],
                                  buffer_horizon_ns=max(seconds['buffer_horizon'],
                                                        seconds['late_attribution_s']
                                                        + seconds['window_before']),
                                  late_attribution_ns=seconds['late_attribution_s'],
                                  late_naming=self.get_parameter('late_naming').value)
        self.store = load_store(self.get_parameter('store_file').value or None)
        self.engine = FusionEngine(params, self._coverage,
                                   {c.camera_id: c.role for c in self.store.cameras},
                                   settings, presence)
        self.counters: Counter = Counter()
        self.frame_ids: dict[str, str] = {}

        for camera in self.store.cameras:
            self.create_subscription(
                FaceArray, camera.faces_topic,
                lambda msg, cam=camera.camera_id: self._on_faces(msg, cam), reliable(50))
        self.create_subscription(ShelfEvent, 'shelf_events', self._on_shelf_event, keep_all())
        self.create_subscription(CustomerEvent, 'customer_events', self._on_customer_event,
                                 keep_all())
        self.create_subscription(Cart, 'carts', self._on_cart, reliable(100, latched=True))
        self.actions_pub = self.create_publisher(CartAction, 'cart_actions', keep_all())
        self.presence_pub = self.create_publisher(CustomerEvent, 'customer_events', keep_all())
        self.unsent: list[CartAction] = []
        self.alerts_pub = self.create_publisher(Alert, 'alerts', reliable(100))
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', QoSProfile(
            depth=10))
        self.create_timer(0.02, self._tick)
        self.create_timer(1.0, self._diagnostics)

    def _coverage(self, shelf_id: str, lane_id: str) -> dict[str, core.Box]:
        return {camera.camera_id: core.Box(z.x, z.y, z.width, z.height)
                for camera, z in self.store.cameras_covering(shelf_id, lane_id)}

    def _now(self) -> int:
        return self.get_clock().now().nanoseconds

    # ------------------------------------------------------------ inputs
    def _on_faces(self, msg: FaceArray, camera_id: str) -> None:
        if msg.camera_id and msg.camera_id != camera_id:
            self.counters['faces_camera_mismatch'] += 1
        self._publish(self.engine.on_frame(convert.frame(msg, camera_id), self._now()))

    def _on_customer_event(self, msg: CustomerEvent) -> None:
        if msg.kind not in (CustomerEvent.ENTERED, CustomerEvent.EXITED):
            return  # our own SEEN / ABSENT, or an unknown person
        self._publish(self.engine.on_door_event(
            msg.kind == CustomerEvent.ENTERED, msg.customer_id,
            convert.stamp_ns(msg.header.stamp), msg.camera_id))

    def _on_cart(self, msg: Cart) -> None:
        self._publish(self.engine.on_cart(
            msg.customer_id, bool(msg.visit_id), {ln.item_id: ln.quantity for ln in msg.lines},
            convert.stamp_ns(msg.header.stamp)))

    def _on_shelf_event(self, msg: ShelfEvent) -> None:
        try:
            change = convert.shelf_change(msg)
        except convert.BadMessageError as exc:
            self.counters['bad_shelf_events'] += 1
            self.get_logger().warning(f'bad shelf event ignored: {exc}')
            return
        if change.event_id not in self.engine.seen_events:
            self.frame_ids[change.event_id] = msg.header.frame_id
        self._publish(self.engine.on_shelf_event(change, self._now()))

    def _tick(self) -> None:
        if self.unsent:
            self._flush_unsent()
        self._publish(self.engine.tick(self._now()))

    # ------------------------------------------------------------ outputs
    def _publish(self, effects: FusionEffects) -> None:
        self.counters.update(effects.counters)
        for event in effects.presence:
            self.presence_pub.publish(convert.presence_event_msg(event))
        for decision in effects.actions:
            frame_id = self.frame_ids.pop(decision.event_id, '') if not \
                decision.resolves_event_id else ''
            self.unsent.append(convert.cart_action_msg(decision, frame_id))
        if effects.actions:
            self._flush_unsent()
        for alert in effects.alerts:
            self.get_logger().warning(alert.message)
            self.alerts_pub.publish(convert.alert_msg(alert, self.get_fully_qualified_name()))
        for event in effects.presence:
            verb = 'seen in the store (late entry)' if event.kind == SEEN else 'absent'
            self.get_logger().info(f'{event.customer_id} {verb} at {event.camera_id}')

    def _flush_unsent(self) -> None:
        """Publish cart actions in order; if the store's reader is full (publish blocked and
        failed) keep them and retry on the next timer tick."""
        while self.unsent:
            try:
                self.actions_pub.publish(self.unsent[0])
            except RuntimeError as exc:  # rclpy RCLError: the writer blocked too long
                self.counters['publish_retries'] += 1
                self.get_logger().warning(f'cart_actions blocked, will retry: {exc}',
                                          throttle_duration_sec=1.0)
                return
            self.unsent.pop(0)

    def _diagnostics(self) -> None:
        counters = dict(self.counters)
        counters['waiting_events'] = len(self.engine.waiting)
        counters['held_events'] = len(self.engine.held)
        counters['customers_present'] = sum(
            1 for stay in self.engine.presence.stays.values() if stay.until_ns is None)
        self.diag_pub.publish(diagnostic_array(
            self.get_name(), 'fusion', counters, warn_keys=('decided_on_timeout',),
            stamp=self.get_clock().now().to_msg()))


def main(args=None):
    init_node_process(args)
    node = FusionNode()
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        shutdown_node_process()
