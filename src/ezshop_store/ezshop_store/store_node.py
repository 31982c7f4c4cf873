"""store_node: customers, stock, visits, carts and receipts on a SQLAlchemy database.

Thin ROS wrapper around StoreService (the bookkeeping) and store_admin (enrolment, stock):
incoming events are queued and applied in batches (one transaction each, exactly once by
event_id); visits are checked out checkout_grace_s after their EXITED was seen.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter

from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from ezshop_common.clock_skew import ClockSkewSettings
from ezshop_common.store_config import load_store
from ezshop_msgs.msg import (
    CartAction,
    CustomerEvent,
    Inventory,
    InventoryItem,
    ShelfEvent,
)
from ezshop_msgs.srv import (
    Checkout,
    ExportCustomer,
    ForgetCustomer,
    GetCart,
    GetReviewQueue,
    RegisterCustomer,
    ResolveAction,
    SetStock,
)
from ezshop_ros.diagnostics import WARN as DIAGNOSTIC_WARN
from ezshop_ros.diagnostics import RefusedInput, counter_status, diagnostics_updater, task
from ezshop_ros.gallery import GalleryServer
from ezshop_ros.parameters import declare_settings
from ezshop_ros.process import run_node, spin
from ezshop_ros.stamp_guard import StampGuard
from ezshop_ros.stamps import time_from_ns
from ezshop_ros.topics import (
    ALERTS,
    CART_ACTIONS,
    CARTS,
    CUSTOMER_EVENTS,
    INVENTORY,
    RECEIPTS,
    SHELF_EVENTS,
    STORE_MARKERS,
)
from ezshop_store import cart_rules as rules
from ezshop_store import messages, privacy, store_admin
from ezshop_store.db.engine import make_engine, upgrade
from ezshop_store.log_throttle import LogThrottle
from ezshop_store.markers import store_markers
from ezshop_store.store_service import StoreService
from ezshop_store.store_settings import StoreSettings
from ezshop_store.store_types import ERROR, INFO, WARN, Effects

#: How often the retention period is applied (s); also once at start.
RETENTION_PERIOD_S = 3600.0
#: Each alert kind is written to the log at most this often (s); every alert is published.
ALERT_LOG_PERIOD_S = 0.5
#: Each kind of log line (a late settlement, a duplicate) at most this many per period (s):
#: a few of one batch are all shown, a flood is not.
LOG_LINE_PERIOD_S = 1.0
LOG_LINE_BURST = 5


class StoreNode(Node):
    """Applies customer events, cart actions and shelf events; publishes carts and receipts."""

    def __init__(self, **kwargs):
        super().__init__('store_node', **kwargs)
        self.settings = declare_settings(self, StoreSettings, on_change=self._on_settings)
        self.store = load_store(self.settings.store_file or None)
        try:
            self.engine = make_engine(self.settings.database_url)
            upgrade(self.engine)
        except SQLAlchemyError as exc:
            raise ValueError(f'database_url: cannot open {self.settings.database_url!r}: '
                             f'{exc}') from None
        self.service = StoreService(self.engine, self.store, self.settings.store_id)
        self.limits = messages.InputLimits.of(self.store)
        self._refused = RefusedInput()
        self._stamps = StampGuard(self, declare_settings(
            self, ClockSkewSettings, on_change=lambda settings: self._stamps.use(settings)))
        self.counters: Counter = Counter()
        self._alert_log = LogThrottle(ALERT_LOG_PERIOD_S)
        self._line_log = LogThrottle(LOG_LINE_PERIOD_S, LOG_LINE_BURST)
        self._queue: list = []
        self._due: dict[int, int] = {}
        self._last_stamp = None

        # Inputs keep every sample (KEEP_ALL): under overload events queue up instead of being
        # overwritten, and the reader acknowledges at once so a KEEP_LAST writer loses nothing.
        CUSTOMER_EVENTS.subscription(self, self._on_customer_event)
        CART_ACTIONS.subscription(self, self._on_cart_action)
        SHELF_EVENTS.subscription(self, self._on_shelf_event)
        self.carts_pub = CARTS.publisher(self)
        self.receipts_pub = RECEIPTS.publisher(self)
        self.inventory_pub = INVENTORY.publisher(self)
        self.alerts_pub = ALERTS.publisher(self)
        self.markers_pub = STORE_MARKERS.publisher(self)
        self._markers_dirty = True

        self.create_service(RegisterCustomer, 'register_customer', self._register)
        self.create_service(ForgetCustomer, 'forget_customer', self._forget)
        self.create_service(GetCart, 'get_cart', self._get_cart)
        self.create_service(Checkout, 'checkout', self._checkout)
        self.create_service(SetStock, 'set_stock', self._set_stock)
        self.create_service(ResolveAction, 'resolve_action', self._resolve_action)
        self.create_service(GetReviewQueue, 'get_review_queue', self._get_review_queue)
        self.create_service(ExportCustomer, 'export_customer', self._export_customer)

        self.create_timer(self.settings.batch_period_s, self.flush)
        self.create_timer(0.05, self._checkout_due)
        self.create_timer(min(10.0, self.settings.undecided_after_s / 4), self._hold_undecided)
        self.create_timer(self.settings.markers_period_s, self._publish_markers)
        self.create_timer(RETENTION_PERIOD_S, self._apply_retention)
        self._diagnostics = diagnostics_updater(self, 'store')
        self._diagnostics.add('store', task(self._store_status))

        now = self.get_clock().now().nanoseconds
        for visit_id in self.service.exiting_visits():
            self._due[visit_id] = rules.checkout_due_ns(now, self.settings.grace_ns)
        for customer_id in self.service.visits:
            self.carts_pub.publish(messages.cart_msg(self.service.cart_view(customer_id),
                                                    self.settings.store_id))
        self._publish_inventory(None)
        self.gallery = GalleryServer(self, store_admin.StoreGallery(self.service))
        self._apply_retention()
        self.get_logger().info(
            f'store ready: {len(self.store.items)} items, {len(self.service.visits)} open '
            f'visits, database {self.engine.url.render_as_string()}')

    # ------------------------------------------------------------ inputs
    def _enqueue(self, convert_fn, msg, what: str) -> None:
        if not self._stamps.accept(msg.header.stamp, what):
            return
        try:
            self._queue.append(convert_fn(msg))
        except messages.BadMessageError as exc:
            self.counters[f'bad_{what}'] += 1
            self.get_logger().warning(f'bad {what} ignored: {exc}', throttle_duration_sec=5.0)
            return
        self.counters[f'received_{what}'] += 1
        if len(self._queue) >= self.settings.batch_max_events:
            self.flush()

    def _on_customer_event(self, msg: CustomerEvent) -> None:
        self._enqueue(messages.customer_event_in, msg, 'customer_events')

    def _on_cart_action(self, msg: CartAction) -> None:
        self._enqueue(lambda m: messages.cart_action_in(m, self.limits), msg, 'cart_actions')

    def _on_shelf_event(self, msg: ShelfEvent) -> None:
        self._enqueue(lambda m: messages.shelf_event_in(m, self.limits), msg, 'shelf_events')

    def flush(self) -> None:
        """Apply every queued event (one transaction) and publish what changed."""
        if not self._queue:
            return
        events, self._queue = self._queue, []
        try:
            effects = self.service.apply_batch(events)
        except OperationalError as exc:
            self.counters['db_errors'] += 1
            self.get_logger().error(f'database unreachable, {len(events)} events kept for '
                                    f'the next try: {exc}', throttle_duration_sec=5.0)
            self._queue = events + self._queue
            return
        except Exception:  # noqa: BLE001 - a bug on one event must not block all others
            effects = self._apply_one_by_one(events)
        self.counters['events_applied'] += len(events)
        self._last_stamp = time_from_ns(events[-1].stamp_ns)
        now = self.get_clock().now().nanoseconds
        for visit_id in effects.exiting:
            self._due[visit_id] = rules.checkout_due_ns(now, self.settings.grace_ns)
        self._publish(effects)

    def _hold_undecided(self) -> None:
        """Shelf events fusion never decided go to the review queue (see undecided_after_s)."""
        now = self.get_clock().now().nanoseconds
        cutoff = now - int(self.settings.undecided_after_s * 1e9)
        if cutoff <= 0:
            return  # sim time not started yet
        self.flush()
        undecided = self.service.undecided_shelf_events(cutoff)
        if not undecided:
            return
        self.counters['undecided_shelf_events'] += len(undecided)
        self.get_logger().warning(
            f'{len(undecided)} shelf event(s) older than {self.settings.undecided_after_s:g} s '
            f'were never decided by fusion (was fusion_node down?): held for staff '
            f'({", ".join(a.event_id for a in undecided[:5])}{"…" if len(undecided) > 5 else ""})')
        self._queue.extend(undecided)
        self.flush()

    def _apply_one_by_one(self, events: list) -> Effects:
        """Isolate an event that makes applying fail: the others still go through."""
        effects = Effects()
        for index, event in enumerate(events):
            try:
                effects.merge(self.service.apply_batch([event]))
            except OperationalError:
                self._queue = events[index:] + self._queue
                break
            except Exception as exc:  # noqa: BLE001 - reported, counted, never a crash
                self.counters['failed_events'] += 1
                self.get_logger().error(f'could not apply {event!r}: {exc!r}')
                effects.alert(ERROR, 'store_error', f'event {event.event_id} could not be '
                              f'applied: {exc!r}', [event.event_id], event.stamp_ns)
        return effects

    # ------------------------------------------------------------ outputs
    def _publish(self, effects: Effects) -> None:
        self.counters.update(effects.counters)
        if not self.context.ok():
            # Stopping after a signal (the flush in destroy_node): rclpy has shut the context
            # down, nothing can be published; what changed is in the database for the next start.
            return
        log = self.get_logger()
        now = time.monotonic()
        for level, kind, text in effects.logs:
            if not self._line_log.due(kind, now):
                continue
            if level >= WARN:
                log.warning(text)
            else:
                log.info(text)
        for alert in effects.alerts:
            if alert.level >= ERROR:
                log.error(alert.message)
            elif alert.level >= WARN and self._alert_log.due(alert.kind, now):
                log.warning(alert.message)
            self.alerts_pub.publish(messages.alert_msg(alert, self.get_fully_qualified_name()))
        for view in effects.carts.values():
            self.carts_pub.publish(messages.cart_msg(view, self.settings.store_id))
        for receipt in effects.receipts:
            log.info(f'receipt {receipt.receipt_id} rev {receipt.revision} for '
                     f'{receipt.customer_id}: {len(receipt.lines)} lines, '
                     f'{receipt.total_cents} cents')
            self.receipts_pub.publish(messages.receipt_msg(receipt, self.settings.store_id))
        if effects.inventory_changed or effects.carts:
            self._markers_dirty = True
        if effects.inventory_changed:
            self._publish_inventory(self._last_stamp)
        if effects.gallery_added or effects.gallery_removed:
            self.gallery.changed(effects.gallery_added, effects.gallery_removed)

    def _publish_inventory(self, stamp) -> None:
        msg = Inventory(store_id=self.settings.store_id, items=[InventoryItem(
            item_id=item_id, name=item.name, price_cents=item.price_cents, stock=item.stock,
            low_stock_threshold=item.low_stock_threshold)
            for item_id, item in sorted(self.service.items.items())])
        msg.header.stamp = stamp or self.get_clock().now().to_msg()
        self.inventory_pub.publish(msg)

    def _publish_markers(self) -> None:
        if not self._markers_dirty:
            return
        self._markers_dirty = False
        views = [self.service.cart_view(cid) for cid in sorted(self.service.visits)]
        self.markers_pub.publish(store_markers(
            self.store, self.service.items, views, self.settings.markers_frame,
            self._last_stamp or self.get_clock().now().to_msg()))

    def _checkout_due(self) -> None:
        for visit_id in rules.due_visits(self._due, self.get_clock().now().nanoseconds):
            self.flush()  # what arrived in time still lands on the visit
            del self._due[visit_id]
            try:
                _, effects = self.service.checkout_visit(visit_id, 0)
            except Exception as exc:  # noqa: BLE001 - retry on the next tick
                self.counters['db_errors'] += 1
                self._due[visit_id] = self.get_clock().now().nanoseconds + int(1e9)
                self.get_logger().error(f'checkout of visit {visit_id} failed, retrying: {exc}')
                continue
            self._publish(effects)

    def _on_settings(self, settings: StoreSettings) -> None:
        self.settings = settings
        self._markers_dirty = True

    def _store_status(self):
        counters = dict(self.counters)
        counters['open_visits'] = len(self.service.visits)
        counters['queued_events'] = len(self._queue)
        counters['gallery_customers'] = len(self.gallery)
        counters['gallery_revision'] = self.gallery.revision
        counters['gallery_pages_served'] = self.gallery.pages_served
        counters['gallery_requests_refused'] = self.gallery.refused
        level, message, values = counter_status(counters,
                                                warn_keys=('db_errors', 'failed_events'))
        # Rejected input warns while it keeps coming (since the last report), then clears.
        warning = self._refused.warning(counters, self._stamps.rising())
        values = {**values, **self._stamps.values()}
        return (DIAGNOSTIC_WARN, warning, values) if warning else (level, message, values)

    # ------------------------------------------------------------ services
    def _register(self, request, response):
        try:
            response.customer_id = store_admin.register_customer(
                self.service, request.name, request.embeddings, int(request.dim),
                request.model, self.get_clock().now().nanoseconds, store_admin.EnrolmentLimits(
                    self.settings.embedding_dim, self.settings.max_embeddings_per_customer),
                request.consent_notice or self.settings.consent_notice_version)
        except store_admin.AdminError as exc:
            self.counters['refused_registrations'] += 1
            self.get_logger().warning(f'registration refused: {exc}')
            response.success, response.message = False, str(exc)
            return response
        response.success = True
        self.get_logger().info(f'registered {response.customer_id}')  # never a name in logs
        self.gallery.changed(added=[response.customer_id])
        return response

    def _forget(self, request, response):
        self.flush()
        try:
            effects = store_admin.forget_customer(self.service, request.customer_id,
                                                  self.get_clock().now().nanoseconds)
        except store_admin.AdminError as exc:
            response.success, response.message = False, str(exc)
            return response
        response.success = True
        self.counters['customers_forgotten'] += 1
        self.get_logger().info(f'forgot {request.customer_id}')
        self._publish(effects)
        return response

    def _export_customer(self, request, response):
        self.flush()
        record = privacy.export_customer(self.service, request.customer_id)
        if record is None:
            response.success = False
            response.message = f'unknown customer {request.customer_id!r}'
            return response
        response.success, response.data_json = True, json.dumps(record)
        self.counters['customer_exports'] += 1
        self.get_logger().info(f'exported the data of {request.customer_id}')
        return response

    def _apply_retention(self) -> None:
        """Unlink what is older than retention_days from the people it was about."""
        days = self.settings.retention_days
        now = self.get_clock().now().nanoseconds
        if days <= 0 or now <= 0:
            return
        self.flush()
        try:
            counts = privacy.anonymise_before(self.service, now - int(days * 86400e9))
        except OperationalError as exc:
            self.counters['db_errors'] += 1
            self.get_logger().error(f'retention not applied: {exc}', throttle_duration_sec=60.0)
            return
        if any(counts.values()):
            self.counters['rows_anonymised'] += sum(counts.values())
            self.get_logger().info(f'retention ({days:g} days): unlinked '
                                   + ', '.join(f'{n} {kind}' for kind, n in counts.items() if n))

    def _get_cart(self, request, response):
        self.flush()
        view = self.service.cart_view(request.customer_id)
        response.success = request.customer_id in self.service.customers
        response.message = '' if response.success else f'unknown customer {request.customer_id!r}'
        response.in_store = view.in_store
        response.cart = messages.cart_msg(view, self.settings.store_id)
        return response

    def _checkout(self, request, response):
        self.flush()
        receipt, effects = self.service.checkout(request.customer_id,
                                                 self.get_clock().now().nanoseconds)
        if receipt is None:
            response.success = False
            response.message = f'{request.customer_id!r} has no open visit'
            return response
        self._due.pop(receipt.visit_id, None)
        effects.alert(INFO, 'staff_checkout', f'staff checked out {request.customer_id}',
                      [request.customer_id, str(receipt.visit_id)], receipt.stamp_ns)
        self._publish(effects)
        response.success = True
        response.receipt = messages.receipt_msg(receipt, self.settings.store_id)
        return response

    def _get_review_queue(self, request, response):
        self.flush()
        response.actions = [messages.held_action_msg(view)
                            for view in self.service.held_actions(int(request.limit))]
        return response

    def _resolve_action(self, request, response):
        return self._admin_operation(response, lambda now: store_admin.resolve_held(
            self.service, request.event_id, request.customer_id, request.staff_id,
            request.note, now))

    def _set_stock(self, request, response):
        return self._admin_operation(response, lambda now: store_admin.set_stock(
            self.service, request.item_id, int(request.stock), now))

    def _admin_operation(self, response, operation):
        """A store_admin operation for a service call: its effects published, or refused with
        the reason (success false, message). Queued events go first: it may concern them."""
        self.flush()
        try:
            effects = operation(self.get_clock().now().nanoseconds)
        except store_admin.AdminError as exc:
            response.success, response.message = False, str(exc)
            return response
        self._publish(effects)
        response.success = True
        return response

    def destroy_node(self):
        try:
            if hasattr(self, '_queue'):  # not when it refused its configuration before
                self.flush()
                if self._queue:
                    print(f'[store_node] {len(self._queue)} queued events NOT applied at '
                          'shutdown (the database was unreachable)', file=sys.stderr, flush=True)
        finally:
            if hasattr(self, 'engine'):
                self.engine.dispose()
        return super().destroy_node()


def spin_events(node: Node) -> None:
    """Spin with rclpy's EventsExecutor driven by spin_once (measured: ~4x the message rate
    of the default executor here); the default executor where it is not available."""
    try:
        from rclpy.experimental import EventsExecutor
        executor = EventsExecutor(context=node.context)
    except ImportError:
        executor = SingleThreadedExecutor(context=node.context)
    spin(node, executor)


def main(args=None) -> int:
    return run_node(StoreNode, args, run=spin_events)
