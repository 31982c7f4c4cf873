"""analytics_node: occupancy, visit durations, dwell and conversion per shelf, picks per item,
queue at the doors; published on `analytics` and exported as Prometheus metrics.

Thin ROS wrapper around analytics.Analytics: converts CustomerEvent, ShelfEvent, CartAction,
Receipt and FaceArray (every camera) into core objects and feeds them; a timer at period_s
publishes the snapshot (latched) when something changed and hands it to the /metrics
endpoint (analytics_metrics, its own CollectorRegistry). Refused input is counted by reason
on /diagnostics.
"""

from __future__ import annotations

import math
from collections import Counter

from rclpy.node import Node

from ezshop_common.clock_skew import ClockSkewSettings
from ezshop_common.limits import MAX_ID_CHARS
from ezshop_common.store_config import load_store
from ezshop_msgs.msg import (
    CartAction,
    CustomerEvent,
    FaceArray,
    HourlyCount,
    ItemAnalytics,
    Receipt,
    ShelfAnalytics,
    ShelfEvent,
    StoreAnalytics,
)
from ezshop_ros.diagnostics import WARN as DIAGNOSTIC_WARN
from ezshop_ros.diagnostics import RefusedInput, counter_status, diagnostics_updater, task
from ezshop_ros.parameters import declare_settings
from ezshop_ros.process import run_node
from ezshop_ros.stamp_guard import StampGuard
from ezshop_ros.stamps import stamp_ns, time_from_ns
from ezshop_ros.topics import (
    ANALYTICS,
    CART_ACTIONS,
    CUSTOMER_EVENTS,
    FACES,
    RECEIPTS,
    SHELF_EVENTS,
)
from ezshop_store import analytics as core
from ezshop_store.analytics_metrics import MetricsExporter
from ezshop_store.analytics_settings import METRICS_OFF, AnalyticsSettings


def door_event(msg: CustomerEvent) -> core.DoorEvent:
    return core.DoorEvent(msg.event_id, int(msg.kind), msg.customer_id,
                          stamp_ns(msg.header.stamp))


def shelf_change(msg: ShelfEvent) -> core.ShelfChange:
    return core.ShelfChange(msg.event_id, msg.shelf_id, msg.lane_id, msg.item_id,
                            int(msg.quantity_delta), stamp_ns(msg.header.stamp))


def attribution(msg: CartAction) -> core.Attribution:
    return core.Attribution(msg.event_id, msg.customer_id, msg.item_id, int(msg.quantity),
                            msg.shelf_id, stamp_ns(msg.header.stamp), float(msg.confidence),
                            msg.resolves_event_id)


def receipt_total(msg: Receipt) -> core.ReceiptTotal:
    return core.ReceiptTotal(msg.receipt_id, int(msg.revision), int(msg.total_cents),
                             msg.currency, stamp_ns(msg.header.stamp))


def face_frame(msg: FaceArray, camera_id: str) -> core.FaceFrame:
    """The frame's faces: track, identity and box centre (an impossible id: unidentified)."""
    faces = []
    for det in msg.faces:
        roi = det.roi
        customer_id = det.customer_id if len(det.customer_id) <= MAX_ID_CHARS else ''
        faces.append(core.Sighting(int(det.track_id), customer_id, float(det.confidence),
                                   roi.x_offset + roi.width / 2, roi.y_offset + roi.height / 2))
    return core.FaceFrame(camera_id, stamp_ns(msg.header.stamp), tuple(faces))


def analytics_msg(snap: core.Snapshot) -> StoreAnalytics:
    msg = StoreAnalytics(
        people_in_store=snap.people_in_store, entries_total=snap.entries_total,
        exits_total=snap.exits_total, entries_last_hour=snap.entries_last_hour,
        unknown_passes=snap.unknown_passes,
        entries_per_hour=[HourlyCount(hour_start=time_from_ns(hour), count=count)
                          for hour, count in snap.entries_per_hour],
        visits_completed=snap.visits_completed,
        visit_duration_p50_s=snap.visit_duration_p50_s,
        visit_duration_p90_s=snap.visit_duration_p90_s,
        queue_entrance=snap.queue_entrance, queue_exit=snap.queue_exit,
        shelves=[ShelfAnalytics(
            shelf_id=s.shelf_id, people_now=s.people_now, dwell_s=s.dwell_s,
            shoppers_looked=s.shoppers_looked, shoppers_picked=s.shoppers_picked,
            conversion=s.conversion, units_taken=s.units_taken,
            units_put_back=s.units_put_back) for s in snap.shelves],
        items=[ItemAnalytics(item_id=i.item_id, units_taken=i.units_taken,
                             units_put_back=i.units_put_back, take_events=i.take_events,
                             put_back_events=i.put_back_events) for i in snap.items],
        receipts_total=snap.receipts_total, revenue_cents=snap.revenue_cents,
        currency=snap.currency, refused_inputs=sum(snap.refused.values()))
    msg.header.stamp = time_from_ns(snap.stamp_ns)
    return msg


class AnalyticsNode(Node):
    """Keeps the store's numbers from its events and face tracks; publishes and exports them."""

    def __init__(self, **kwargs):
        super().__init__('analytics_node', **kwargs)
        self.settings = declare_settings(self, AnalyticsSettings, on_change=self._on_settings)
        self.store = load_store(self.settings.store_file or None)
        self.analytics = core.Analytics(self.store, self.settings.params())
        self._stamps = StampGuard(self, declare_settings(
            self, ClockSkewSettings, on_change=lambda settings: self._stamps.use(settings)))
        self.counters: Counter = Counter()
        self._refused = RefusedInput()
        self._dirty = True  # publish once at start: late joiners get a message at once

        for camera in self.store.cameras:
            FACES.subscription(self, lambda msg, cam=camera.camera_id: self._on_faces(msg, cam),
                               camera=camera.camera_id)
        CUSTOMER_EVENTS.subscription(self, self._on_customer_event)
        SHELF_EVENTS.subscription(self, self._on_shelf_event)
        CART_ACTIONS.subscription(self, self._on_cart_action)
        RECEIPTS.subscription(self, self._on_receipt)
        self.analytics_pub = ANALYTICS.publisher(self)

        self.metrics = MetricsExporter()
        self.metrics_port = None
        if self.settings.metrics_port != METRICS_OFF:
            try:
                self.metrics_port = self.metrics.serve(self.settings.metrics_port,
                                                       self.settings.metrics_address)
            except OSError as exc:  # port taken: the topic still works, /diagnostics warns
                self.counters['metrics_server_failed'] += 1
                self.get_logger().error(
                    f'no /metrics: cannot listen on {self.settings.metrics_address}:'
                    f'{self.settings.metrics_port}: {exc}')
            else:
                self.get_logger().info(
                    f'Prometheus metrics on http://{self.settings.metrics_address}:'
                    f'{self.metrics_port}/metrics')
        self.create_timer(self.settings.period_s, self._tick)
        self._diagnostics = diagnostics_updater(self, 'analytics')
        self._diagnostics.add('analytics', task(self._analytics_status))
        self._tick()

    def _on_settings(self, settings: AnalyticsSettings) -> None:
        self.settings = settings
        self.analytics.params = settings.params()

    # ------------------------------------------------------------ inputs
    def _feed(self, stamp, source: str, feed, convert, msg) -> None:
        """Convert a message and feed it to the core; note what changed and what it refused."""
        if not self._stamps.accept(stamp, source):
            return
        changes = feed(convert(msg))
        self.counters[f'received_{source}'] += 1
        if changes.refused and changes.refused not in core.INCONSISTENT:
            self.counters[f'refused_{source}'] += 1
            self.get_logger().warning(f'{source}: input refused ({changes.refused})',
                                      throttle_duration_sec=5.0)
        if changes.changed:
            self._dirty = True

    def _on_faces(self, msg: FaceArray, camera_id: str) -> None:
        self._feed(msg.header.stamp, f'cameras/{camera_id}/faces', self.analytics.on_faces,
                   lambda m: face_frame(m, camera_id), msg)

    def _on_customer_event(self, msg: CustomerEvent) -> None:
        self._feed(msg.header.stamp, 'customer_events', self.analytics.on_door_event,
                   door_event, msg)

    def _on_shelf_event(self, msg: ShelfEvent) -> None:
        self._feed(msg.header.stamp, 'shelf_events', self.analytics.on_shelf_event,
                   shelf_change, msg)

    def _on_cart_action(self, msg: CartAction) -> None:
        self._feed(msg.header.stamp, 'cart_actions', self.analytics.on_attribution,
                   attribution, msg)

    def _on_receipt(self, msg: Receipt) -> None:
        self._feed(msg.header.stamp, 'receipts', self.analytics.on_receipt, receipt_total, msg)

    # ------------------------------------------------------------ outputs
    def _tick(self) -> None:
        if self.analytics.tick().changed:
            self._dirty = True
        if not self._dirty:
            return
        self._dirty = False
        snap = self.analytics.snapshot()
        self.metrics.update(snap)
        self.analytics_pub.publish(analytics_msg(snap))
        self.counters['published'] += 1

    def _analytics_status(self):
        counters = dict(self.counters)
        snap = self.analytics.snapshot()
        # Malformed input warns while it keeps coming (bad_input_*); the graph disagreeing
        # with itself (ignored_*: a late entry, then the door's pass after all) is only counted.
        counters.update({(f'ignored_{reason}' if reason in core.INCONSISTENT
                          else f'bad_input_{reason}'): count
                         for reason, count in snap.refused.items()})
        counters['people_in_store'] = snap.people_in_store
        counters['metrics_port'] = self.metrics_port if self.metrics_port is not None else 'off'
        p50 = snap.visit_duration_p50_s
        counters['visit_duration_p50_s'] = f'{p50:.1f}' if math.isfinite(p50) else '-'
        level, message, values = counter_status(counters, warn_keys=('metrics_server_failed',))
        warning = self._refused.warning(counters, self._stamps.rising())
        values = {**values, **self._stamps.values()}
        return (DIAGNOSTIC_WARN, warning, values) if warning else (level, message, values)

    def destroy_node(self):
        if hasattr(self, 'metrics'):
            self.metrics.close()
        return super().destroy_node()


def main(args=None) -> int:
    return run_node(AnalyticsNode, args)
