"""fusion_node: shelf event + face tracks near the lane -> cart action (who took it), and
presence from every camera (late entries, absent checkouts).

Thin ROS wrapper around fusion_engine.FusionEngine: converts FaceArray (every camera),
ShelfEvent, CustomerEvent (door passes) and Cart (the store's open visits and holdings) into
core objects, feeds the engine and publishes what it returns: cart_actions (first decisions and
late attributions), customer_events (SEEN / ABSENT presence events), alerts, /diagnostics.
TrackIdentity (tracks a face node named after they ended) settles picks held for them.
"""

from __future__ import annotations

from collections import Counter

from rclpy.node import Node

from ezshop_common.clock_skew import ClockSkewSettings
from ezshop_common.store_config import load_store
from ezshop_msgs.msg import Cart, CartAction, CustomerEvent, FaceArray, ShelfEvent, TrackIdentity
from ezshop_ros.diagnostics import WARN as DIAGNOSTIC_WARN
from ezshop_ros.diagnostics import RefusedInput, counter_status, diagnostics_updater, task
from ezshop_ros.parameters import declare_read_only, declare_settings
from ezshop_ros.process import run_node
from ezshop_ros.stamp_guard import StampGuard
from ezshop_ros.topics import (
    ALERTS,
    CART_ACTIONS,
    CARTS,
    CUSTOMER_EVENTS,
    FACES,
    SHELF_EVENTS,
    TRACK_IDENTITIES,
)
from ezshop_store import messages
from ezshop_store.fusion_engine import FusionEffects
from ezshop_store.fusion_settings import FusionSettings
from ezshop_store.presence import SEEN


class FusionNode(Node):
    """Decides who took (or put back) the items of each shelf event; keeps presence."""

    def __init__(self, **kwargs):
        super().__init__('fusion_node', **kwargs)
        store_file = declare_read_only(
            self, 'store_file', '', "Store description (cameras, reach zones); '' = "
            "ezshop_bringup's config/store.yaml")
        settings = declare_settings(self, FusionSettings, on_change=self._on_settings)
        self.store = load_store(store_file or None)
        self.engine = settings.engine(self.store)
        self.limits = messages.InputLimits.of(self.store)
        self._stamps = StampGuard(self, declare_settings(
            self, ClockSkewSettings, on_change=lambda settings: self._stamps.use(settings)))
        self.counters: Counter = Counter()
        self._refused = RefusedInput()
        self.frame_ids: dict[str, str] = {}

        for camera in self.store.cameras:
            FACES.subscription(self, lambda msg, cam=camera.camera_id: self._on_faces(msg, cam),
                               camera=camera.camera_id)
        SHELF_EVENTS.subscription(self, self._on_shelf_event)
        CUSTOMER_EVENTS.subscription(self, self._on_customer_event)
        CARTS.subscription(self, self._on_cart)
        TRACK_IDENTITIES.subscription(self, self._on_track_identity)
        self.actions_pub = CART_ACTIONS.publisher(self)
        self.presence_pub = CUSTOMER_EVENTS.publisher(self)
        self.unsent: list[CartAction] = []
        self.alerts_pub = ALERTS.publisher(self)
        self.create_timer(0.02, self._tick)
        self._diagnostics = diagnostics_updater(self, 'fusion')
        self._diagnostics.add('fusion', task(self._fusion_status))

    def _on_settings(self, settings: FusionSettings) -> None:
        self.engine.params = settings.fusion_params()
        self.engine.settings = settings.engine_settings()
        self.engine.presence.settings = settings.presence_settings()

    def _now(self) -> int:
        return self.get_clock().now().nanoseconds

    # ------------------------------------------------------------ inputs
    def _on_faces(self, msg: FaceArray, camera_id: str) -> None:
        topic = f'cameras/{camera_id}/faces'
        if not self._stamps.accept(msg.header.stamp, topic):
            return
        if msg.camera_id and msg.camera_id != camera_id:
            self.counters['faces_camera_mismatch'] += 1
        frame, left_out = messages.frame(msg, camera_id)
        if left_out:
            self.counters['malformed_faces'] += left_out
            self.get_logger().warning(
                f'{topic}: {left_out} face(s) with an empty box or an impossible customer id '
                'left out', throttle_duration_sec=5.0)
        self._publish(self.engine.on_frame(frame, self._now()))

    def _taken(self, msg, topic: str, convert):
        """``convert(msg)``, or None when its stamp is refused or it is malformed (counted,
        logged)."""
        if not self._stamps.accept(msg.header.stamp, topic):
            return None
        try:
            return convert(msg)
        except messages.BadMessageError as exc:
            self._refuse(topic, exc)
            return None

    def _on_customer_event(self, msg: CustomerEvent) -> None:
        # Door passes only: our own SEEN / ABSENT and unknown persons are not converted.
        event = self._taken(msg, 'customer_events', lambda m: messages.customer_event_in(m)
                            if m.kind in (CustomerEvent.ENTERED, CustomerEvent.EXITED) else None)
        if event is None:
            return
        self._publish(self.engine.on_door_event(
            event.kind == CustomerEvent.ENTERED, event.customer_id, event.stamp_ns,
            event.camera_id))

    def _on_track_identity(self, msg: TrackIdentity) -> None:
        link = self._taken(msg, 'track_identities', messages.track_identity_in)
        if link is None:
            return
        self.get_logger().info(f'{link.camera_id} track {link.track_id} was '
                               f'{link.customer_id} (named after it ended)')
        self._publish(self.engine.on_track_identity(
            link.camera_id, link.track_id, link.customer_id, link.first_ns, link.last_ns,
            link.confidence))

    def _on_cart(self, msg: Cart) -> None:
        cart = self._taken(msg, 'carts', messages.cart_in)
        if cart is None:
            return
        self._publish(self.engine.on_cart(cart.customer_id, cart.open_visit, cart.lines,
                                          cart.stamp_ns))

    def _on_shelf_event(self, msg: ShelfEvent) -> None:
        change = self._taken(msg, 'shelf_events', lambda m: messages.shelf_change(m, self.limits))
        if change is None:
            return
        if change.event_id not in self.engine.seen_events:
            self.frame_ids[change.event_id] = msg.header.frame_id
        self._publish(self.engine.on_shelf_event(change, self._now()))

    def _refuse(self, topic: str, exc: Exception) -> None:
        self.counters[f'bad_{topic}'] += 1
        self.get_logger().warning(f'bad {topic} ignored: {exc}', throttle_duration_sec=5.0)

    def _tick(self) -> None:
        if self.unsent:
            self._flush_unsent()
        self._publish(self.engine.tick(self._now()))

    # ------------------------------------------------------------ outputs
    def _publish(self, effects: FusionEffects) -> None:
        self.counters.update(effects.counters)
        for event in effects.presence:
            self.presence_pub.publish(messages.presence_event_msg(event))
        for decision in effects.actions:
            frame_id = self.frame_ids.pop(decision.event_id, '') if not \
                decision.resolves_event_id else ''
            self.unsent.append(messages.cart_action_msg(decision, frame_id))
        if effects.actions:
            self._flush_unsent()
        for alert in effects.alerts:
            self.get_logger().warning(alert.message)
            self.alerts_pub.publish(messages.alert_msg(alert, self.get_fully_qualified_name()))
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

    def _fusion_status(self):
        counters = dict(self.counters)
        counters['waiting_events'] = len(self.engine.waiting)
        counters['held_events'] = len(self.engine.held)
        counters['awaiting_identity'] = len(self.engine.awaiting)
        counters['customers_present'] = sum(
            1 for stay in self.engine.presence.stays.values() if stay.until_ns is None)
        level, message, values = counter_status(counters, warn_keys=('decided_on_timeout',))
        warning = self._refused.warning(counters, self._stamps.rising())
        values = {**values, **self._stamps.values()}
        return (DIAGNOSTIC_WARN, warning, values) if warning else (level, message, values)


def main(args=None) -> int:
    return run_node(FusionNode, args)
