"""web_node: the staff console over HTTP, fed by the store's own topics and services.

The ROS side (this node, spun by the main thread) folds carts, receipts, inventory, alerts,
the gallery (fetched from the store's get_gallery when gallery_revision changes), customer
events, /diagnostics and every fridge's and freezer's temperature into a StoreView and hands
every change to the Hub; uvicorn serves the app (app.py) from its own thread and event loop.
Writes go through the store's services (resolve_action, set_stock), so store_node's rules and
audit apply: there is no second way into the database.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import threading
import time
from pathlib import Path

import uvicorn
from rclpy.node import Node
from sensor_msgs.msg import RegionOfInterest

from ezshop_common.store_config import load_store
from ezshop_msgs.srv import (
    ForgetCustomer,
    GetReviewQueue,
    GetSnapshot,
    RegisterCustomer,
    ResolveAction,
    SetStock,
)
from ezshop_ros.diagnostics import OK, WARN, diagnostics_updater, fill
from ezshop_ros.gallery import GalleryClient, WholeGallery
from ezshop_ros.parameters import declare_settings
from ezshop_ros.process import run_node
from ezshop_ros.stamps import stamp_seconds, time_from_ns
from ezshop_ros.topics import (
    ALERTS,
    CARTS,
    CUSTOMER_EVENTS,
    DIAGNOSTICS,
    INVENTORY,
    RECEIPTS,
    TEMPERATURE,
)
from ezshop_vision.face_engine import EMBEDDING_DIM, EMBEDDING_MODEL
from ezshop_vision.gallery import Gallery, MatchPolicy, gallery_from_entries
from ezshop_web.app import EnrolOutcome, StoreUnavailableError, create_app
from ezshop_web.enrolment import prepare
from ezshop_web.face_login import FaceLogin, FaceLoginResult
from ezshop_web.hub import Hub
from ezshop_web.messages import (
    alert_dict,
    cart_dict,
    customer_event_dict,
    gallery_names,
    health_dicts,
    held_action_dict,
    inventory_dicts,
    receipt_dict,
)
from ezshop_web.review_snapshots import ReviewSnapshots, SnapshotRequest
from ezshop_web.staff_accounts import StaffAccounts
from ezshop_web.store_view import StoreView
from ezshop_web.web_settings import WebSettings, accounts_path

#: The secret that signs personal links, beside the staff accounts (mode 0600).
LINK_SECRET_FILE = 'personal_links.key'
#: Alerts that come with an action held for staff: time to take its review snapshots.
HELD_ALERT_KINDS = frozenset({'held_for_staff', 'not_in_store', 'unknown_customer',
                              'unknown_item'})
#: How often snapshots past their retention are looked for (s).
SNAPSHOT_PRUNE_PERIOD_S = 60.0
#: How often the fridges panel is brought up to date without a message (a silent probe,
#: the ages of the readings shown) (s).
FRIDGES_PERIOD_S = 1.0
#: How long the server may take to open its port or to stop (s).
SERVER_START_S = 10.0
SERVER_STOP_S = 5.0


class WebNode(Node):
    """Serves the console; the gateway the app talks to (StoreGateway)."""

    def __init__(self, **kwargs):
        super().__init__('web_node', **kwargs)
        self.settings = declare_settings(self, WebSettings)
        # A face login is identified as face_node identifies shoppers: same tolerance, margin.
        self.match_policy = declare_settings(self, MatchPolicy, prefix='face_')
        self.face_login = FaceLogin()
        self._faces = Gallery()
        self.hub = Hub()
        store = load_store(self.settings.store_file or None)
        self.view = StoreView(self.settings.alerts_kept, self.settings.receipts_kept,
                              store.fridges, self.settings.fridge_stale_s)
        self._lock = threading.Lock()
        self.bad_messages = 0
        self.refused_face_logins = 0  # photos that logged nobody in
        self.refused_photos = 0       # enrolment photos refused by the checks
        self.accounts = StaffAccounts(accounts_path(self.settings))
        if not self.accounts.names():
            self.get_logger().warning(
                f'no staff account in {self.accounts.path}: nobody can log in. Create one with '
                '`ros2 run ezshop_web staff_account add <name>`')

        # With the embeddings: a shopper logs in by face against them.
        self.gallery = GalleryClient(
            self, WholeGallery(self._folding('gallery', self._on_gallery)), with_embeddings=True)
        self._fold(CUSTOMER_EVENTS,
                   lambda msg: self.view.on_customer_event(customer_event_dict(msg)))
        self._fold(CARTS, lambda msg: self.view.on_cart(cart_dict(msg)))
        self._fold(RECEIPTS, self._on_receipt)
        self._fold(INVENTORY, lambda msg: self.view.on_inventory(inventory_dicts(msg)))
        self._fold(ALERTS, self._on_alert)
        self._fold(DIAGNOSTICS, lambda msg: self.view.on_health(health_dicts(msg)))
        for fridge in store.fridges:
            TEMPERATURE.subscription(self, self._folding(
                f'fridge {fridge.fridge_id}',
                lambda msg, fridge_id=fridge.fridge_id: self.view.on_temperature(
                    fridge_id, stamp_seconds(msg.header.stamp), msg.temperature,
                    self._now_s())), fridge=fridge.fridge_id)
        if store.fridges:
            self.create_timer(FRIDGES_PERIOD_S, self._fridges_tick)
        self._review = self.create_client(GetReviewQueue, 'get_review_queue')
        self._resolve = self.create_client(ResolveAction, 'resolve_action')
        self._set_stock = self.create_client(SetStock, 'set_stock')
        self._register = self.create_client(RegisterCustomer, 'register_customer')
        self._forget = self.create_client(ForgetCustomer, 'forget_customer')
        self.snapshots = ReviewSnapshots(
            lambda shelf, lane: [(camera.camera_id, (z.x, z.y, z.width, z.height))
                                 for camera, z in store.cameras_covering(shelf, lane)],
            self.settings.snapshot_retention_s)
        self.snapshots_missing = 0
        self._snapshot = (self.create_client(GetSnapshot, self.settings.snapshot_service)
                          if self.settings.snapshot_service else None)
        self._snapshots_busy = False
        self._snapshots_again = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.create_timer(SNAPSHOT_PRUNE_PERIOD_S, self._prune_snapshots)

        app = create_app(self, self.settings, self.accounts,
                         link_secret(self.accounts.path.parent / LINK_SECRET_FILE))
        self._server = uvicorn.Server(uvicorn.Config(
            app, host=self.settings.host, port=self.settings.port, log_level='warning',
            access_log=False, lifespan='on',
            ssl_certfile=self.settings.tls_certfile or None,
            ssl_keyfile=self.settings.tls_keyfile or None))
        self._thread = threading.Thread(target=self._serve, name='web_server', daemon=True)
        self._thread.start()
        self.url = self._wait_until_serving()
        self._diagnostics = diagnostics_updater(self, self.get_name())
        self._diagnostics.add('console', self._status)
        self.get_logger().info(f'console at {self.url} (staff accounts: {self.accounts.path})')

    # -- ROS side ----------------------------------------------------------------------------
    def _fold(self, topic, fold) -> None:
        topic.subscription(self, self._folding(topic.name, fold))

    def _folding(self, what: str, fold):
        """A callback folding its input into the view (under the lock), then telling the
        pages; input the view cannot take is counted and logged, never raised."""
        def callback(msg):
            try:
                with self._lock:
                    updates = fold(msg)
            except (ValueError, TypeError, OverflowError) as exc:
                self.bad_messages += 1
                self.get_logger().warning(f'{what}: message ignored: {exc}')
                return
            self.hub.publish(updates)
        return callback

    def _now_s(self) -> float:
        """The node's clock (sim time under use_sim_time, like the readings' stamps)."""
        return self.get_clock().now().nanoseconds / 1e9

    def _fridges_tick(self) -> None:
        now_s = self._now_s()
        with self._lock:
            updates = self.view.fridges_tick(now_s)
        self.hub.publish(updates)

    def _on_alert(self, msg):
        if msg.kind in HELD_ALERT_KINDS and self._snapshot is not None \
                and self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._take_snapshots(), self._loop)
        return self.view.on_alert(alert_dict(msg), self._now_s())

    def _on_receipt(self, msg):
        receipt = receipt_dict(msg)
        # Receipts on the bus carry no name (names stay off it): the gallery's, while the
        # customer is enrolled; the page shows a forgotten customer's receipt as such.
        receipt['customer_name'] = receipt['customer_name'] \
            or self.view.names.get(receipt['customer_id'], '')
        return self.view.on_receipt(receipt)

    def _on_gallery(self, customers):
        """The store's whole gallery of one revision (GalleryCustomer messages)."""
        faces, problems = gallery_from_entries(
            (c.customer_id, c.name, c.embedding_dim, c.model, c.embeddings)
            for c in customers)
        for problem in problems:  # ids, never names
            self.get_logger().warning(f'gallery: {problem}: this customer cannot log in by face')
        self._faces = faces
        names, refused = gallery_names(customers)
        if refused:
            self.get_logger().warning(f'gallery: {refused} entries without an id or with an id '
                                      'or name too long to be a customer\'s left out')
        return self.view.on_gallery(names)

    def snapshot(self) -> dict:
        now_s = self._now_s()
        with self._lock:
            return self.view.snapshot(now_s)

    def customer_state(self, customer_id: str) -> dict:
        with self._lock:
            return self.view.customer_state(customer_id)

    def knows_customer(self, customer_id: str) -> bool:
        with self._lock:
            return customer_id in self.view.names

    def acknowledge_alert(self, alert_id: int | None, staff_id: str) -> int:
        """Staff saw an alert (None: all of them); how many were newly acknowledged."""
        with self._lock:
            count, updates = self.view.acknowledge(alert_id, staff_id, time.time())
        self.hub.publish(updates)
        if count:
            self.get_logger().info(f'staff {staff_id} acknowledged '
                                   f'{"alert " + str(alert_id) if alert_id else "all alerts"}'
                                   f' ({count})')
        return count

    def knows_alert(self, alert_id: int) -> bool:
        with self._lock:
            return self.view.has_alert(alert_id)

    def identify_face(self, photo: bytes) -> FaceLoginResult:
        """From the server's worker threads; the gallery is swapped whole, never edited."""
        result = self.face_login.identify(photo, self._faces, self.match_policy)
        if not result.customer_id:
            with self._lock:
                self.refused_face_logins += 1
        self.get_logger().info(
            f'face login: {result.customer_id or "refused"} (distance {result.distance:.3f})'
            + (f': {result.reason}' if result.reason else ''))
        return result

    def _status(self, stat):
        stat.hardware_id = self.get_name()
        return fill(stat, WARN if self.bad_messages else OK, f'serving {self.url}',
                    {'url': self.url, 'open_pages': self.hub.pages,
                     'bad_messages': self.bad_messages,
                     # How many customers, never who.
                     'gallery_customers': len(self.view.names),
                     'gallery_revision': self.gallery.have[1] if self.gallery.have else 0,
                     'gallery_fetches': self.gallery.fetches,
                     'gallery_fetch_failures': self.gallery.failures,
                     'refused_face_logins': self.refused_face_logins,
                     'refused_enrolment_photos': self.refused_photos,
                     'review_snapshots_kept': len(self.snapshots),
                     'review_snapshots_missing': self.snapshots_missing})

    # -- services, awaited from the server's loop --------------------------------------------
    @staticmethod
    def _need_ready(client) -> None:
        if not client.service_is_ready():
            raise StoreUnavailableError(f'{client.srv_name} does not answer: is its node '
                                        '(store_node, face_node) running?')

    async def _call(self, client, request):
        self._need_ready(client)
        loop = asyncio.get_running_loop()
        answer = loop.create_future()

        def settle(future):
            if not answer.done():
                if future.exception() is not None:
                    answer.set_exception(StoreUnavailableError(str(future.exception())))
                else:
                    answer.set_result(future.result())
        future = client.call_async(request)
        future.add_done_callback(lambda f: loop.call_soon_threadsafe(settle, f))
        try:
            return await asyncio.wait_for(answer, self.settings.service_timeout_s)
        except asyncio.TimeoutError:
            raise StoreUnavailableError(f'the store did not answer {client.srv_name} within '
                                   f'{self.settings.service_timeout_s:g} s') from None

    async def review_queue(self, limit: int) -> list[dict]:
        response = await self._call(self._review, GetReviewQueue.Request(limit=limit))
        actions = [held_action_dict(action) for action in response.actions]
        with self._lock:
            for action in actions:
                action['snapshots'] = self.snapshots.cameras(action['event_id'])
        return actions

    def review_snapshot(self, event_id: str, camera_id: str) -> bytes | None:
        with self._lock:
            return self.snapshots.get(event_id, camera_id)

    # -- review snapshots (server loop) ------------------------------------------------------
    async def _take_snapshots(self) -> None:
        """Ask face_node for the pictures of every newly held action, while its cameras'
        frames of that moment are still kept. One run at a time; a call during a run makes
        it go round once more."""
        if self._snapshots_busy:
            self._snapshots_again = True
            return
        self._snapshots_busy = True
        try:
            self._snapshots_again = True
            while self._snapshots_again:
                self._snapshots_again = False
                actions = await self.review_queue(1000)
                with self._lock:
                    self.snapshots.prune(time.time(), {a['event_id'] for a in actions})
                    wanted = self.snapshots.wanted(actions)
                for request in wanted:
                    await self._take_snapshot(request)
        except StoreUnavailableError as exc:
            self.get_logger().warning(f'review snapshots not taken: {exc}')
        finally:
            self._snapshots_busy = False

    async def _take_snapshot(self, wanted: SnapshotRequest) -> None:
        zone = RegionOfInterest(x_offset=max(0, wanted.zone[0]), y_offset=max(0, wanted.zone[1]),
                                width=max(0, wanted.zone[2]), height=max(0, wanted.zone[3]))
        try:
            answer = await self._call(self._snapshot, GetSnapshot.Request(
                camera_id=wanted.camera_id, stamp=time_from_ns(int(wanted.stamp_s * 1e9)),
                highlight=zone))
        except StoreUnavailableError as exc:
            answer = GetSnapshot.Response(success=False, message=str(exc))
        with self._lock:
            if answer.success:
                self.snapshots.keep(wanted.event_id, wanted.camera_id, bytes(answer.image.data),
                                    time.time())
            else:
                self.snapshots_missing += 1
        if not answer.success:
            self.get_logger().warning(f'no review snapshot of {wanted.camera_id} for held '
                                      f'action {wanted.event_id}: {answer.message}')

    def _prune_snapshots(self) -> None:
        with self._lock:
            self.snapshots.prune(time.time())

    async def resolve(self, event_id, customer_id, staff_id, note):
        response = await self._call(self._resolve, ResolveAction.Request(
            event_id=event_id, customer_id=customer_id, staff_id=staff_id, note=note))
        if response.success:
            with self._lock:
                self.snapshots.forget(event_id)
        self.get_logger().info(
            f'staff {staff_id}: {"assign to " + customer_id if customer_id else "dismiss"} '
            f'held action {event_id}: {"done" if response.success else response.message}')
        return response.success, response.message

    async def set_stock(self, item_id, stock):
        response = await self._call(self._set_stock, SetStock.Request(item_id=item_id,
                                                                      stock=stock))
        return response.success, response.message

    async def enrol(self, name, photos, staff_id):
        """Check the photos (on a worker thread: the face model is slow), then RegisterCustomer."""
        self._need_ready(self._register)  # before the slow part
        enrolment = await asyncio.to_thread(prepare, self.face_login, name, photos,
                                            self._faces, self.match_policy)
        with self._lock:
            self.refused_photos += len(enrolment.refused)
        if not enrolment.ready:
            self.get_logger().info(f'staff {staff_id}: enrolment refused: {enrolment.problem}')
            return EnrolOutcome('', enrolment.problem, enrolment.refused,
                                enrolment.already_enrolled)
        response = await self._call(self._register, RegisterCustomer.Request(
            name=enrolment.name, embeddings=enrolment.embeddings.ravel().tolist(),
            dim=EMBEDDING_DIM, model=EMBEDDING_MODEL))
        if not response.success:
            return EnrolOutcome('', response.message, enrolment.refused)
        self.get_logger().info(f'staff {staff_id} enrolled {response.customer_id} with '
                               f'{len(enrolment.embeddings)} photos (consent given)')
        return EnrolOutcome(response.customer_id, '', enrolment.refused,
                            photos_used=len(enrolment.embeddings))

    async def forget(self, customer_id, staff_id):
        response = await self._call(self._forget, ForgetCustomer.Request(
            customer_id=customer_id))
        self.get_logger().info(f'staff {staff_id} forgot customer {customer_id}: '
                               f'{"done" if response.success else response.message}')
        return response.success, response.message

    # -- server thread -----------------------------------------------------------------------
    def _serve(self) -> None:
        # Not the main thread: uvicorn leaves signals to rclpy (run_node stops the node).
        asyncio.run(self._serve_here())

    async def _serve_here(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._server.serve()

    def _wait_until_serving(self) -> str:
        deadline = self.get_clock().now().nanoseconds + int(SERVER_START_S * 1e9)
        while not self._server.started:
            if not self._thread.is_alive():
                raise OSError(f'the console could not listen on {self.settings.host}:'
                              f'{self.settings.port} (in use?)')
            if self.get_clock().now().nanoseconds > deadline:
                raise OSError('the console server did not start')
            self._thread.join(0.05)
        host, port = self._server.servers[0].sockets[0].getsockname()[:2]
        return f'{"https" if self.settings.tls else "http"}://{host}:{port}/'

    def destroy_node(self):
        self._server.should_exit = True
        self._thread.join(SERVER_STOP_S)
        return super().destroy_node()


def link_secret(path: Path) -> str:
    """The personal-link secret at path, made (0600) on first use."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another web node made it just now
            return path.read_text().strip()
        with os.fdopen(fd, 'w') as out:
            out.write(secret)
        return secret


def main(args=None) -> int:
    return run_node(WebNode, args)


def console_main() -> None:
    sys.exit(main())
