"""The console against a real store: store_node (SQLite) + web_node in one private context,
spun by a background thread (the web server's service calls need a spinning executor), and a
probe node that plays the doors and fusion."""

from __future__ import annotations

import re
import threading
import time
import uuid

import httpx
import numpy as np
import pytest
from argon2 import PasswordHasher
from rclpy.parameter import Parameter
from sensor_msgs.msg import Temperature

from ezshop_msgs.msg import Alert, CartAction, CustomerEvent
from ezshop_msgs.srv import RegisterCustomer
from ezshop_ros.stamps import time_from_ns
from ezshop_ros.topics import ALERTS, CART_ACTIONS, CARTS, CUSTOMER_EVENTS, TEMPERATURE
from ezshop_store.store_node import StoreNode
from ezshop_testing.ros import RosHarness
from ezshop_web.staff_accounts import StaffAccounts
from ezshop_web.web_node import WebNode

S = 1_000_000_000
STAFF = ('alice', 'correct horse battery')
LOGIN_ATTEMPTS = 3
LOGIN_WINDOW_S = 3.0


class Store:
    """The test's side of the graph, used from the test thread while the harness spins."""

    staff = STAFF
    login_attempts = LOGIN_ATTEMPTS
    login_window_s = LOGIN_WINDOW_S

    def __init__(self, ros: RosHarness, web: WebNode):
        self.ros = ros
        self.web = web
        self.url = web.url.rstrip('/')
        node = self.node = ros.node('web_probe')
        self.customer_events = CUSTOMER_EVENTS.publisher(node)
        self.cart_actions = CART_ACTIONS.publisher(node)
        self.alerts: list = []
        self.carts: list = []
        ALERTS.subscription(node, self.alerts.append)
        CARTS.subscription(node, self.carts.append)
        self.register_client = node.create_client(RegisterCustomer, 'register_customer')
        self.alert_pub = ALERTS.publisher(node)
        self.temperature_pubs: dict = {}
        self.next_t = 0

    def slot(self) -> int:
        now = self.node.get_clock().now().nanoseconds
        self.next_t = max(now, self.next_t) + 5 * S
        return self.next_t - 4 * S

    def register(self, name: str, embeddings=None) -> str:
        """Enrol a customer: real face embeddings, or random ones no face comes near."""
        if embeddings is None:
            embeddings = np.random.default_rng(len(name)).normal(size=128).astype(np.float32)
        embeddings = np.asarray(embeddings, np.float32).ravel()
        future = self.register_client.call_async(RegisterCustomer.Request(
            name=name, embeddings=embeddings.tolist(), dim=128, model='test_model'))
        assert wait(future.done, 10.0)
        assert future.result().success, future.result().message
        return future.result().customer_id

    def door(self, kind: int, customer_id: str, t: int) -> None:
        msg = CustomerEvent(event_id=str(uuid.uuid4()), kind=kind, customer_id=customer_id,
                            door_id='entrance' if kind == CustomerEvent.ENTERED else 'exit',
                            confidence=1.0)
        msg.header.stamp = time_from_ns(t)
        self.customer_events.publish(msg)

    def enter(self, customer_id: str, t: int) -> None:
        self.door(CustomerEvent.ENTERED, customer_id, t)
        assert wait(lambda: any(c.customer_id == customer_id and c.visit_id
                                for c in self.carts), 10.0)

    def leave(self, customer_id: str, t: int) -> None:
        self.door(CustomerEvent.EXITED, customer_id, t)

    def cart_action(self, customer_id: str, item: str, quantity: int, t: int) -> str:
        msg = CartAction(event_id=str(uuid.uuid4()), customer_id=customer_id, item_id=item,
                         quantity=quantity, confidence=1.0)
        msg.header.stamp = time_from_ns(t)
        self.cart_actions.publish(msg)
        return msg.event_id

    def held_pick(self, name: str, item: str) -> tuple[str, str]:
        """A shopper in the store and a take nobody was named for, held for staff."""
        customer_id = self.register(name)
        t = self.slot()
        self.enter(customer_id, t - S)
        held = self.cart_action('', item, 1, t)
        assert wait(lambda: any(a.kind == 'held_for_staff' and held in a.refs
                                for a in self.alerts), 10.0)
        return customer_id, held

    def temperature(self, fridge_id: str, value_c: float) -> int:
        """A probe reading of that fridge or freezer, stamped now (returned, ns)."""
        if fridge_id not in self.temperature_pubs:
            self.temperature_pubs[fridge_id] = TEMPERATURE.publisher(self.node, fridge=fridge_id)
            assert wait(lambda: self.temperature_pubs[fridge_id].get_subscription_count() >= 1,
                        10.0)
        t = self.node.get_clock().now().nanoseconds
        msg = Temperature(temperature=value_c, variance=0.0)
        msg.header.stamp = time_from_ns(t)
        msg.header.frame_id = fridge_id
        self.temperature_pubs[fridge_id].publish(msg)
        return t

    def temperature_alert(self, kind: str, fridge_id: str, t: int) -> None:
        """temperature_monitor's alert about a unit (temperature_high, ..._recovered, ...)."""
        msg = Alert(level=Alert.INFO if kind.endswith('recovered') else Alert.ERROR, kind=kind,
                    refs=[fridge_id], message=f'{fridge_id}: {kind}',
                    source='temperature_monitor')
        msg.header.stamp = time_from_ns(t)
        self.alert_pub.publish(msg)

    @staticmethod
    def wait(predicate, timeout: float) -> bool:
        return wait(predicate, timeout)

    def staff_session(self) -> tuple[httpx.Client, str]:
        """An HTTP client logged in as staff, and the CSRF token of its console page."""
        client = httpx.Client(base_url=self.url, timeout=60.0)
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get('/login').text).group(1)
        answer = client.post('/login', data={'name': self.staff[0], 'password': self.staff[1],
                                             'csrf': csrf})
        assert answer.status_code == 303, answer.text
        page = client.get('/')
        assert page.status_code == 200
        return client, re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)


def wait(predicate, timeout: float) -> bool:
    """Poll predicate until true or timeout; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def running_store(tmp, config_dir, *more_nodes):
    """store_node + web_node (+ more nodes made by more_nodes(context)), spun in a thread;
    yields the probe."""
    accounts = StaffAccounts(tmp / 'staff.json', PasswordHasher(time_cost=1, memory_cost=8192,
                                                                parallelism=1))
    accounts.set_password(*STAFF)
    ros = RosHarness()
    ros.add(StoreNode(context=ros.context, parameter_overrides=[
        Parameter('database_url', value=f'sqlite:///{tmp / "store.db"}'),
        Parameter('store_file', value=str(config_dir / 'store.yaml')),
        Parameter('checkout_grace_s', value=0.3),
        # slot() gives each test's events a stamp 5 s after the last: they run ahead of the
        # clock as the module goes on.
        Parameter('max_clock_skew_s', value=3600.0)]))
    for make in more_nodes:
        ros.add(make(ros.context))
    web = ros.add(WebNode(context=ros.context, parameter_overrides=[
        Parameter('port', value=0), Parameter('accounts_file', value=str(accounts.path)),
        Parameter('store_file', value=str(config_dir / 'store.yaml')),
        Parameter('login_attempts', value=LOGIN_ATTEMPTS),
        Parameter('login_window_s', value=LOGIN_WINDOW_S)]))
    probe = Store(ros, web)
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            ros.executor.spin_once(timeout_sec=0.05)
    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    assert wait(lambda: web._review.service_is_ready() and web._resolve.service_is_ready()
                and probe.customer_events.get_subscription_count() >= 2, 20.0)
    try:
        yield probe
    finally:
        stop.set()
        spinner.join(5)
        ros.close()


@pytest.fixture(scope='module')
def store(tmp_path_factory, config_dir):
    yield from running_store(tmp_path_factory.mktemp('web'), config_dir)


@pytest.fixture(scope='module')
def shelf_store(tmp_path_factory, config_dir):
    """The store with a face_node watching shelf camera cam_shelf_a (review snapshots)."""
    from ezshop_vision.face_node import FaceNode

    def face_node(context):
        return FaceNode(context=context, parameter_overrides=[
            Parameter('camera_ids', value=['cam_shelf_a']), Parameter('detect_every', value=1)])
    yield from running_store(tmp_path_factory.mktemp('snapshots'), config_dir, face_node)
