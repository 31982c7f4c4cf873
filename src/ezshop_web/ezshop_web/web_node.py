"""web_node: the staff console over HTTP, fed by the store's own topics and services.

The ROS side (this node, spun by the main thread) folds carts, receipts, inventory, alerts,
the gallery, customer events and /diagnostics into a StoreView and hands every change to the
Hub; uvicorn serves the app (app.py) from its own thread and event loop. Writes go through the
store's services (resolve_action, set_stock), so store_node's rules and audit apply: there is
no second way into the database.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import threading
from pathlib import Path

import uvicorn
from rclpy.node import Node

from ezshop_msgs.srv import GetReviewQueue, ResolveAction, SetStock
from ezshop_ros.diagnostics import OK, WARN, diagnostics_updater, fill
from ezshop_ros.parameters import declare_settings
from ezshop_ros.process import run_node
from ezshop_ros.topics import (
    ALERTS,
    CARTS,
    CUSTOMER_EVENTS,
    DIAGNOSTICS,
    GALLERY,
    INVENTORY,
    RECEIPTS,
)
from ezshop_vision.gallery import Gallery, MatchPolicy, gallery_from_entries
from ezshop_web.app import StoreUnavailableError, create_app
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
from ezshop_web.staff_accounts import StaffAccounts
from ezshop_web.store_view import StoreView
from ezshop_web.web_settings import WebSettings, accounts_path

#: The secret that signs personal links, beside the staff accounts (mode 0600).
LINK_SECRET_FILE = 'personal_links.key'
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
        self.view = StoreView(self.settings.alerts_kept, self.settings.receipts_kept)
        self._lock = threading.Lock()
        self.bad_messages = 0
        self.accounts = StaffAccounts(accounts_path(self.settings))
        if not self.accounts.names():
            self.get_logger().warning(
                f'no staff account in {self.accounts.path}: nobody can log in. Create one with '
                '`ros2 run ezshop_web staff_account add <name>`')

        self._fold(GALLERY, self._on_gallery)
        self._fold(CUSTOMER_EVENTS,
                   lambda msg: self.view.on_customer_event(customer_event_dict(msg)))
        self._fold(CARTS, lambda msg: self.view.on_cart(cart_dict(msg)))
        self._fold(RECEIPTS, lambda msg: self.view.on_receipt(receipt_dict(msg)))
        self._fold(INVENTORY, lambda msg: self.view.on_inventory(inventory_dicts(msg)))
        self._fold(ALERTS, lambda msg: self.view.on_alert(alert_dict(msg)))
        self._fold(DIAGNOSTICS, lambda msg: self.view.on_health(health_dicts(msg)))
        self._review = self.create_client(GetReviewQueue, 'get_review_queue')
        self._resolve = self.create_client(ResolveAction, 'resolve_action')
        self._set_stock = self.create_client(SetStock, 'set_stock')

        app = create_app(self, self.settings, self.accounts,
                         link_secret(self.accounts.path.parent / LINK_SECRET_FILE))
        self._server = uvicorn.Server(uvicorn.Config(
            app, host=self.settings.host, port=self.settings.port, log_level='warning',
            access_log=False, lifespan='on'))
        self._thread = threading.Thread(target=self._serve, name='web_server', daemon=True)
        self._thread.start()
        self.url = self._wait_until_serving()
        self._diagnostics = diagnostics_updater(self, self.get_name())
        self._diagnostics.add('console', self._status)
        self.get_logger().info(f'console at {self.url} (staff accounts: {self.accounts.path})')

    # -- ROS side ----------------------------------------------------------------------------
    def _fold(self, topic, fold) -> None:
        def callback(msg):
            try:
                with self._lock:
                    updates = fold(msg)
            except (ValueError, TypeError, OverflowError) as exc:
                self.bad_messages += 1
                self.get_logger().warning(f'{topic.name}: message ignored: {exc}')
                return
            self.hub.publish(updates)
        topic.subscription(self, callback)

    def _on_gallery(self, msg):
        faces, problems = gallery_from_entries(
            (c.customer_id, c.name, c.embedding_dim, c.model, c.embeddings)
            for c in msg.customers)
        for problem in problems:
            self.get_logger().warning(f'gallery: {problem}: this customer cannot log in by face')
        self._faces = faces
        return self.view.on_gallery(gallery_names(msg))

    def snapshot(self) -> dict:
        with self._lock:
            return self.view.snapshot()

    def customer_state(self, customer_id: str) -> dict:
        with self._lock:
            return self.view.customer_state(customer_id)

    def knows_customer(self, customer_id: str) -> bool:
        with self._lock:
            return customer_id in self.view.names

    def identify_face(self, photo: bytes) -> FaceLoginResult:
        """From the server's worker threads; the gallery is swapped whole, never edited."""
        result = self.face_login.identify(photo, self._faces, self.match_policy)
        self.get_logger().info(
            f'face login: {result.customer_id or "refused"} (distance {result.distance:.3f})'
            + (f': {result.reason}' if result.reason else ''))
        return result

    def _status(self, stat):
        stat.hardware_id = self.get_name()
        return fill(stat, WARN if self.bad_messages else OK, f'serving {self.url}',
                    {'url': self.url, 'open_pages': self.hub.pages,
                     'bad_messages': self.bad_messages})

    # -- services, awaited from the server's loop --------------------------------------------
    async def _call(self, client, request):
        if not client.service_is_ready():
            raise StoreUnavailableError(f'the store does not answer ({client.srv_name}): '
                                   'is store_node running?')
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
        return [held_action_dict(action) for action in response.actions]

    async def resolve(self, event_id, customer_id, staff_id, note):
        response = await self._call(self._resolve, ResolveAction.Request(
            event_id=event_id, customer_id=customer_id, staff_id=staff_id, note=note))
        self.get_logger().info(
            f'staff {staff_id}: {"assign to " + customer_id if customer_id else "dismiss"} '
            f'held action {event_id}: {"done" if response.success else response.message}')
        return response.success, response.message

    async def set_stock(self, item_id, stock):
        response = await self._call(self._set_stock, SetStock.Request(item_id=item_id,
                                                                      stock=stock))
        return response.success, response.message

    # -- server thread -----------------------------------------------------------------------
    def _serve(self) -> None:
        # Not the main thread: uvicorn leaves signals to rclpy (run_node stops the node).
        asyncio.run(self._server.serve())

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
        return f'http://{host}:{port}/'

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
