"""Malformed input: 10,000 bad messages per input topic; no node crashes, each one is counted.

Starts the store graph (store.launch.xml without cameras and lane sensors, the console on a
free port, the greeter silent, no respawn) on a fresh SQLite database, waits until every node
publishes /diagnostics, then floods each input topic of the graph in turn with `--count`
messages that are type-correct but wrong (NaN / negative / impossible lane readings, images
whose fields do not add up, faces with empty boxes, quantities of 2^31-1, ids over 64
characters, NaN confidences, revisions of a gallery that does not exist, stamps an hour
ahead), `--rate` per second. After each flood it waits until every node reading that topic has
counted the flood in its /diagnostics (or its counter stops moving) and records what it
counted, its diagnostics level and whether every node process is still alive. A gallery
revision cannot be counted (no revision is wrong to its readers: any one they do not hold
sends them to the store's get_gallery): there the check is that each reader still holds the
store's gallery after the flood. Camera images are read best effort, newest frame only:
there the node must count every frame it received and did not skip. At the end
one shopper goes through the graph for real (a camera image processed, an entrance pass, a
take seen by the lane sensor and the shelf camera, an exit pass, the receipt, the greeter's
words) to show the floods changed nothing. Writes bench/results/malformed.json and .md.

  scripts/run python bench/malformed.py                     # 10,000 per topic at 500/s
  scripts/run python bench/malformed.py --count 200 --only faces,shelf_events
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rclpy
from rclpy.duration import Duration
from rclpy.executors import SingleThreadedExecutor
from sensor_msgs.msg import Illuminance, Image, Range, RegionOfInterest

from ezshop_common.store_config import (
    ROLE_ENTRANCE,
    ROLE_EXIT,
    SENSOR_ULTRASONIC,
    default_store_file,
    load_store,
)
from ezshop_msgs.msg import (
    Cart,
    CartAction,
    CartLine,
    CustomerEvent,
    FaceArray,
    FaceDetection,
    GalleryRevision,
    Receipt,
    ShelfEvent,
)
from ezshop_msgs.srv import RegisterCustomer
from ezshop_ros import topics
from ezshop_ros.gallery import GalleryClient, WholeGallery
from ezshop_ros.stamps import stamp_ns, time_from_ns
from ezshop_testing.env import claim_domain_for_this_process, ros_env
from ezshop_testing.processes import launch_node_pids
from ezshop_testing.workdirs import add_keep_databases_option, bench_workdir
from ezshop_vision.face_engine import EMBEDDING_DIM, EMBEDDING_MODEL

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / 'bench' / 'results'
S = 1_000_000_000
HOUR_NS = 3600 * S
INT32_MAX = 2 ** 31 - 1
LEVELS = {0: 'OK', 1: 'WARN', 2: 'ERROR', 3: 'STALE'}
#: A counter that has not moved over this many fresh /diagnostics of its node has settled.
QUIET_UPDATES = 3
#: Lines of the launch log that mean a node process went wrong.
LOG_PROBLEMS = ('process has died', 'Traceback (most recent call last)')
FAKE_CUSTOMER = 'malformed_bench_nobody'
STORE_STATUS = 'store_node: store'
#: A reader's /diagnostics values that say which gallery it holds (how many, never who).
GALLERY_VALUES = ('gallery_customers', 'gallery_revision')
#: The verdict of a gallery reader that holds the store's gallery after the flood.
GALLERY_RIGHT = 'gallery right'


# -- what is flooded, and who must count it -----------------------------------------------------
@dataclass(frozen=True)
class Reader:
    """A node that reads a flooded topic, and the /diagnostics values that show what it did."""

    node: str
    #: Its status, full name as published ('<node>: <task>').
    status: str
    #: Counters of refused input of this kind (summed); () = the node has none for it.
    counted: tuple[str, ...]
    #: Counters of what it received or acted on (evidence where nothing is counted).
    received: tuple[str, ...] = ()
    #: Best effort / newest frame only: it must count what it received and did not skip.
    newest_only: bool = False
    skipped: str = ''
    #: Reads keep-last 1 (a state): an unread message is replaced by the next, so fewer than
    #: sent may reach it (the flood waits for each one's acknowledgement).
    keep_last_one: bool = False
    #: Holds the store's gallery (GalleryClient): not counted, checked after the flood that
    #: its GALLERY_VALUES equal store_node's.
    gallery: bool = False


@dataclass(frozen=True)
class Flood:
    """One topic flooded with one kind of malformed message."""

    topic: object  # ezshop_ros.topics.Topic
    fields: tuple[tuple[str, str], ...]
    kind: str
    make: Callable[[int, int], object]  # (index, now in ns) -> message
    readers: tuple[Reader, ...]
    #: Publish the next message only once every reader acknowledged the previous one (a
    #: keep-last 1 writer would otherwise replace a sample not yet delivered).
    acked: bool = False
    #: Run before the flood (e.g. enrol a customer, so that the gallery is worth keeping).
    prepare: Callable[[BenchNode], None] | None = None

    @property
    def topic_name(self) -> str:
        return self.topic.topic_name(**dict(self.fields))


def _lane_floods(store) -> list[Flood]:
    """Every lane's reading topic: an impossible reading the lane filter rejects and counts."""
    ultrasonic = [('NaN range', math.nan, 'rejected_nan'),
                  ('negative range (-1 m)', -1.0, 'rejected_too_close'),
                  ('range beyond the back wall (5 m)', 5.0, 'rejected_too_far'),
                  ('+inf range', math.inf, 'rejected_too_far')]
    light = [('NaN illuminance', math.nan, 'rejected_nan'),
             ('negative illuminance (-5 lux)', -5.0, 'rejected_too_close')]
    floods = []
    turns = {True: 0, False: 0}
    for lane in store.lanes:
        is_range = lane.sensor == SENSOR_ULTRASONIC
        kinds = ultrasonic if is_range else light
        kind, value, counter = kinds[turns[is_range] % len(kinds)]
        turns[is_range] += 1

        def make(i, now_ns, lane=lane, value=value, is_range=is_range):
            if is_range:
                msg = Range(radiation_type=Range.ULTRASOUND, field_of_view=0.26,
                            min_range=0.02, max_range=4.0, range=value)
            else:
                msg = Illuminance(illuminance=value)
            msg.header.stamp = time_from_ns(now_ns)
            msg.header.frame_id = lane.frame_id
            return msg

        floods.append(Flood(topics.lane_reading(lane), tuple(topics.lane_fields(lane).items()),
                            kind, make, (Reader(
                                'shelf_monitor', f'shelf_monitor: lane {lane.shelf_id}/'
                                f'{lane.lane_id}', (counter,), ('readings',)),)))
    return floods


def _image_floods(store) -> list[Flood]:
    """Every camera's image_raw: an image whose fields do not add up (face_node rejects it)."""
    kinds = [('data shorter than height*step (640x480 rgb8, 100 bytes)',
              dict(height=480, width=640, encoding='rgb8', step=1920), 100),
             ("unknown encoding 'no-such-encoding'",
              dict(height=2, width=2, encoding='no-such-encoding', step=8), 16),
             ('step smaller than width*channels (640x480 rgb8, step 100)',
              dict(height=480, width=640, encoding='rgb8', step=100), 48_000),
             ('image too large (100000x100000 mono8, 16 bytes)',
              dict(height=100_000, width=100_000, encoding='mono8', step=100_000), 16)]
    floods = []
    for index, camera in enumerate(store.cameras):
        kind, geometry, size = kinds[index % len(kinds)]
        data = bytes(size)

        def make(i, now_ns, camera=camera, geometry=geometry, data=data):
            msg = Image(data=data, **geometry)
            msg.header.stamp = time_from_ns(now_ns)
            msg.header.frame_id = camera.frame_id
            return msg

        floods.append(Flood(topics.IMAGE_RAW, (('camera', camera.camera_id),), kind, make, (
            Reader('face_node', f'face_node: {camera.camera_id}', ('images_rejected',),
                   ('frames_received',), newest_only=True, skipped='frames_skipped'),)))
    return floods


def _face_floods(store) -> list[Flood]:
    """Every camera's faces: at a door camera faces with empty boxes (the door node refuses
    them), at the others faces stamped an hour ahead (fusion's stamp guard refuses them)."""
    doors = {door.camera_id: door for door in store.doors}
    floods = []
    for camera in store.cameras:
        door = doors.get(camera.camera_id)
        fusion = Reader('fusion_node', 'fusion_node: fusion',
                        ('malformed_faces',) if door else ('future_stamps_refused',),
                        ('face_frames',))
        if door:
            kind = 'face with an empty box (roi 0x0)'
            readers = (Reader(f'door_{door.door_id}', f'door_{door.door_id}: {door.door_id}',
                              ('malformed_faces',), ('faces_seen',)), fusion)
            roi, ahead = RegionOfInterest(x_offset=10, y_offset=10, width=0, height=0), 0
        else:
            kind = 'faces stamped an hour ahead'
            readers = (fusion,)
            roi = RegionOfInterest(x_offset=100, y_offset=160, width=80, height=80)
            ahead = HOUR_NS

        def make(i, now_ns, camera=camera, roi=roi, ahead=ahead):
            msg = FaceArray(camera_id=camera.camera_id, faces=[FaceDetection(
                track_id=7, customer_id='', confidence=0.5, roi=roi)])
            msg.header.stamp = time_from_ns(now_ns + ahead)
            msg.header.frame_id = camera.frame_id
            return msg

        floods.append(Flood(topics.FACES, (('camera', camera.camera_id),), kind, make,
                            readers))
    return floods


def _event_floods(store) -> list[Flood]:
    """The event topics and the store's outputs other nodes read."""
    lane = store.lanes[0]
    entrance = next((d for d in store.doors if d.role == ROLE_ENTRANCE), store.doors[0])
    store_node = 'store_node: store'
    fusion = 'fusion_node: fusion'
    greeter = 'greeter_node: greeter'
    face_status = f'face_node: {store.cameras[0].camera_id}'
    run = uuid.uuid4().hex[:8]

    def shelf_event(i, now_ns):
        msg = ShelfEvent(event_id=f'malformed-{run}-shelf-{i}', shelf_id=lane.shelf_id,
                         lane_id=lane.lane_id, item_id=lane.item_id,
                         quantity_delta=INT32_MAX, count_before=0, count_after=1,
                         confidence=1.0)
        msg.header.stamp = time_from_ns(now_ns)
        return msg

    def customer_event(customer_id: str, ahead_ns: int):
        def make(i, now_ns):
            msg = CustomerEvent(event_id=f'malformed-{run}-customer-{ahead_ns}-{i}',
                                kind=CustomerEvent.ENTERED, customer_id=customer_id,
                                door_id=entrance.door_id, camera_id=entrance.camera_id,
                                confidence=1.0)
            msg.header.stamp = time_from_ns(now_ns + ahead_ns)
            return msg
        return make

    def cart_action(i, now_ns):
        msg = CartAction(event_id=f'malformed-{run}-action-{i}', customer_id=FAKE_CUSTOMER,
                         item_id=lane.item_id, quantity=1, confidence=math.nan,
                         shelf_id=lane.shelf_id, lane_id=lane.lane_id)
        msg.header.stamp = time_from_ns(now_ns)
        return msg

    def cart(i, now_ns):
        msg = Cart(customer_id=FAKE_CUSTOMER, store_id='default', visit_id='1',
                   lines=[CartLine(item_id=lane.item_id, quantity=1)], currency='EUR')
        msg.header.stamp = time_from_ns(now_ns + HOUR_NS)
        return msg

    def gallery_revision(i, now_ns):
        msg = GalleryRevision(gallery_id='g' * 100, revision=2 ** 64 - 1 - i,
                              customers=2 ** 32 - 1)
        msg.header.stamp = time_from_ns(now_ns + HOUR_NS)
        return msg

    def receipt(i, now_ns):
        msg = Receipt(receipt_id=f'malformed-{run}-receipt-{i}', store_id='default',
                      revision=1, visit_id='1', customer_id=FAKE_CUSTOMER,
                      total_cents=150, currency='EUR')
        msg.header.stamp = time_from_ns(now_ns + HOUR_NS)
        return msg

    long_id = 'c' * 100
    return [
        Flood(topics.SHELF_EVENTS, (), f'quantity_delta 2^31-1 on {lane.shelf_id}/'
              f'{lane.lane_id}', shelf_event, (
                  Reader('store_node', store_node, ('bad_shelf_events',),
                         ('received_shelf_events',)),
                  Reader('fusion_node', fusion, ('bad_shelf_events',), ('shelf_events',)))),
        Flood(topics.CUSTOMER_EVENTS, (), 'ENTERED stamped an hour ahead',
              customer_event(FAKE_CUSTOMER, HOUR_NS), (
                  Reader('store_node', store_node, ('future_stamps_refused',),
                         ('received_customer_events',)),
                  Reader('fusion_node', fusion, ('future_stamps_refused',)),
                  Reader('greeter_node', greeter, ('future_stamps_refused',), ('welcomes',)))),
        Flood(topics.CUSTOMER_EVENTS, (), 'ENTERED with a 100-character customer_id',
              customer_event(long_id, 0), (
                  Reader('store_node', store_node, ('bad_customer_events',),
                         ('received_customer_events',)),
                  Reader('fusion_node', fusion, ('bad_customer_events',),
                         ('customers_present',)),
                  Reader('greeter_node', greeter, ('bad_customer_events',), ('welcomes',)))),
        Flood(topics.CART_ACTIONS, (), 'NaN confidence', cart_action, (
            Reader('store_node', store_node, ('bad_cart_actions',),
                   ('received_cart_actions',)),)),
        Flood(topics.CARTS, (), 'open cart stamped an hour ahead', cart, (
            Reader('fusion_node', fusion, ('future_stamps_refused',)),)),
        Flood(topics.GALLERY_REVISION, (), 'revision 2^64-1 of an unknown gallery (100-character '
              'id) with 2^32-1 customers, stamped an hour ahead', gallery_revision, (
                  # Nothing to count: every reader fetches the store's gallery instead.
                  Reader('face_node', face_status, (), keep_last_one=True, gallery=True),
                  Reader('web_node', 'web_node: console', (), ('gallery_fetches',),
                         keep_last_one=True, gallery=True),
                  Reader('greeter_node', greeter, (), ('gallery_fetches',), keep_last_one=True,
                         gallery=True)),
              acked=True, prepare=enrol_regular),
        Flood(topics.RECEIPTS, (), 'receipt stamped an hour ahead', receipt, (
            Reader('greeter_node', greeter, ('future_stamps_refused',), ('goodbyes',)),)),
    ]


def plan_floods(store) -> list[Flood]:
    """One flood per input topic of the graph (customer_events twice: stamp and content)."""
    return [*_lane_floods(store), *_image_floods(store), *_face_floods(store),
            *_event_floods(store)]


# -- watching the graph ------------------------------------------------------------------------
def _level(raw) -> int:
    return raw[0] if isinstance(raw, bytes) else int(raw)


class Diagnostics:
    """The newest /diagnostics status of every node and the highest level since mark()."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latest: dict[str, tuple[int, dict[str, str], int]] = {}  # level, values, updates
        self.messages: dict[str, str] = {}
        self.highest: dict[str, int] = {}

    def on_array(self, msg) -> None:
        with self.lock:
            for status in msg.status:
                level = _level(status.level)
                updates = self.latest.get(status.name, (0, {}, 0))[2] + 1
                self.latest[status.name] = (level, {kv.key: kv.value for kv in status.values},
                                            updates)
                self.messages[status.name] = status.message
                self.highest[status.name] = max(self.highest.get(status.name, -1), level)

    def nodes(self) -> set[str]:
        with self.lock:
            return {name.split(':', 1)[0].strip() for name in self.latest}

    def status(self, name: str) -> tuple[int, dict[str, str], int]:
        with self.lock:
            return self.latest.get(name, (3, {}, 0))

    def message(self, name: str) -> str:
        with self.lock:
            return self.messages.get(name, '')

    def mark(self, name: str) -> None:
        """Start looking for the highest level of this status afresh (next update on)."""
        with self.lock:
            self.highest[name] = -1

    def highest_since_mark(self, name: str) -> int:
        """The highest level since mark(); the newest level if no update came since."""
        with self.lock:
            highest = self.highest.get(name, -1)
            return highest if highest >= 0 else self.latest.get(name, (3, {}, 0))[0]


def _total(values: dict[str, str], keys) -> int:
    total = 0
    for key in keys:
        try:
            total += int(float(values.get(key, '0') or 0))
        except ValueError:
            pass
    return total


@dataclass(frozen=True)
class Reading:
    """A reader's counters at one moment."""

    counted: int
    received: int
    skipped: int
    updates: int

    @classmethod
    def of(cls, diagnostics: Diagnostics, reader: Reader) -> Reading:
        _, values, updates = diagnostics.status(reader.status)
        return cls(_total(values, reader.counted), _total(values, reader.received),
                   _total(values, (reader.skipped,) if reader.skipped else ()), updates)

    def moved(self, other: Reading) -> bool:
        return (self.counted, self.received, self.skipped) != \
            (other.counted, other.received, other.skipped)


def process_alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        stat = Path(f'/proc/{pid}/stat').read_text()
    except OSError:
        return False
    return stat.rsplit(')', 1)[1].split()[0] != 'Z'


class StoreGraph:
    """store.launch.xml in its own process group, its log, and its node processes."""

    def __init__(self, work: Path, nodes: list[str]):
        self.work = work
        self.nodes = nodes
        self.log_path = work / 'launch.log'
        self.log_offset = 0
        self.proc: subprocess.Popen | None = None
        self.pids: dict[str, list[int]] = {}
        self.command = [
            'ros2', 'launch', 'ezshop_bringup', 'store.launch.xml', 'with_cameras:=false',
            'with_lane_sensors:=false', 'with_web:=true', 'web_port:=0',
            f'staff_accounts:={work / "staff_accounts.json"}', 'with_greeter:=true',
            'speak_greetings:=false', 'respawn:=false', 'record:=false', "lane_counts_file:=''",
            f'database_url:=sqlite:///{work / "store.db"}',
            # No absent checkout while the bench runs: fusion's own ABSENT events would land
            # in the store's counters in the middle of a flood.
            'absent_checkout_s:=3600.0']

    def start(self) -> None:
        log = open(self.log_path, 'w')  # noqa: SIM115 - the launch writes it until stop()
        self.proc = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True,
                                     env=ros_env(ROS_LOG_DIR=str(self.work / 'ros_log')))
        log.close()

    def find_processes(self) -> None:
        self.pids = {node: launch_node_pids(self.proc.pid, node) for node in self.nodes}

    def dead_nodes(self) -> list[str]:
        """Nodes none of whose processes is alive any more."""
        return [node for node, pids in self.pids.items()
                if not any(process_alive(pid) for pid in pids)]

    def new_log_problems(self) -> list[str]:
        """Lines of the launch log since the last call that mean a process went wrong."""
        with open(self.log_path, errors='replace') as log:
            log.seek(self.log_offset)
            text = log.read()
            self.log_offset = log.tell()
        return [line.strip()[:300] for line in text.splitlines()
                if any(problem in line for problem in LOG_PROBLEMS)]

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """SIGINT to the launch's process group (as Ctrl-C does); SIGKILL if it hangs."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGINT)
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        return self.proc.wait()


class BenchNode:
    """The bench's rclpy node beside the launch, spun in a thread of its own."""

    def __init__(self):


        self.node = rclpy.create_node(f'malformed_bench_{os.getpid()}')
        self.diagnostics = Diagnostics()
        topics.DIAGNOSTICS.subscription(self.node, self.diagnostics.on_array)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.executor.shutdown()
        self.thread.join(timeout=5.0)
        self.node.destroy_node()


def wait_until(condition: Callable[[], bool], timeout_s: float, period_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(period_s)
    return condition()


def publish(publisher, msg) -> int:
    """Publish; a reliable keep-all writer whose reader is full blocks and fails: retry.
    Returns the retries."""
    for retries in range(2000):
        try:
            publisher.publish(msg)
            return retries
        except RuntimeError:  # rclpy RCLError: the writer blocked too long
            time.sleep(0.01)
    raise RuntimeError(f'{publisher.topic_name}: publishing blocked for good')


def register_customer(node, name: str, seed: int, timeout_s: float) -> tuple[str, str]:
    """RegisterCustomer with random embeddings no face comes near: (customer id, '') or
    ('', why not)."""
    client = node.create_client(RegisterCustomer, 'register_customer')
    if not client.wait_for_service(timeout_sec=10.0):
        return '', 'service not available'
    embeddings = np.random.default_rng(seed).normal(size=EMBEDDING_DIM).astype(np.float32)
    future = client.call_async(RegisterCustomer.Request(
        name=name, embeddings=embeddings.tolist(), dim=EMBEDDING_DIM, model=EMBEDDING_MODEL))
    wait_until(future.done, timeout_s)
    response = future.result() if future.done() else None
    if response is None or not response.success:
        return '', 'no answer' if response is None else response.message
    return response.customer_id, ''


def enrol_regular(bench: BenchNode) -> None:
    """One customer in the gallery before its revisions are flooded: a reader that lost the
    store's gallery would show it."""
    customer_id, problem = register_customer(bench.node, 'Bench Regular', 2027, 20.0)
    print(f'  enrolled {customer_id} before the flood' if customer_id
          else f'  could not enrol a customer before the flood: {problem}', flush=True)


def gallery_held(diagnostics: Diagnostics, reader: Reader) -> dict:
    """Which gallery a reader holds and store_node serves (GALLERY_VALUES of each; a reader
    that does not report the revision is compared by its customers), and whether they agree."""
    _, values, _ = diagnostics.status(reader.status)
    _, store, _ = diagnostics.status(STORE_STATUS)
    held = {key: values[key] for key in GALLERY_VALUES if key in values}
    served = {key: store.get(key) for key in GALLERY_VALUES}
    return {'held': held, 'store': served,
            'right': 'gallery_customers' in held
            and all(value == served[key] for key, value in held.items())}


# -- one flood ---------------------------------------------------------------------------------
def run_flood(bench: BenchNode, graph: StoreGraph, flood: Flood, count: int, rate: float,
              settle_timeout_s: float) -> list[dict]:
    """Publish the flood, wait until its readers have counted it, one row per reader."""
    diagnostics = bench.diagnostics
    holders = [reader for reader in flood.readers if reader.gallery]

    def galleries_right() -> bool:
        return all(gallery_held(diagnostics, reader)['right'] for reader in holders)
    if flood.prepare is not None:
        flood.prepare(bench)
    if holders:
        wait_until(galleries_right, 20.0)
        gallery_before = {reader: gallery_held(diagnostics, reader) for reader in holders}
    publisher = flood.topic.publisher(bench.node, **dict(flood.fields))
    try:
        matched = wait_until(lambda: publisher.get_subscription_count() >= len(flood.readers),
                             15.0)
        graph.new_log_problems()
        # One fresh /diagnostics of every reader first: its level no longer shows the
        # previous flood.
        seen = {reader: diagnostics.status(reader.status)[2] for reader in flood.readers}
        wait_until(lambda: all(diagnostics.status(reader.status)[2] > updates
                               for reader, updates in seen.items()), 5.0)
        level_before = {reader: diagnostics.status(reader.status)[0] for reader in flood.readers}
        before = {reader: Reading.of(diagnostics, reader) for reader in flood.readers}
        for reader in flood.readers:
            diagnostics.mark(reader.status)
        retries = 0
        start = time.perf_counter()
        for index in range(count):
            delay = start + index / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            retries += publish(publisher, flood.make(index, time.time_ns()))
            if flood.acked:
                publisher.wait_for_all_acked(Duration(seconds=1.0))
        publish_s = time.perf_counter() - start
        after = settle(diagnostics, flood.readers, before, count, settle_timeout_s)
        if holders:  # the last fetch may still be under way
            wait_until(galleries_right, 20.0)
        settle_s = time.perf_counter() - start - publish_s
    finally:
        bench.node.destroy_publisher(publisher)
    dead = graph.dead_nodes()
    problems = graph.new_log_problems()
    rows = []
    for reader in flood.readers:
        counted = after[reader].counted - before[reader].counted
        received = after[reader].received - before[reader].received
        skipped = after[reader].skipped - before[reader].skipped
        expected = received - skipped if reader.newest_only else count
        gallery = None
        if reader.gallery:
            gallery = {'before': gallery_before[reader], 'after': gallery_held(diagnostics,
                                                                             reader)}
        rows.append({
            'topic': flood.topic_name, 'node': reader.node, 'malformation': flood.kind,
            'sent': count, 'received': received if reader.received else None,
            'skipped': skipped if reader.skipped else None, 'expected': expected,
            'counted': counted, 'counters': list(reader.counted),
            'verdict': verdict(reader, counted, expected,
                               gallery['after']['right'] if gallery else None),
            'keep_last_one': reader.keep_last_one, 'gallery': gallery,
            'level_before': LEVELS[level_before[reader]],
            'level_during': LEVELS[diagnostics.highest_since_mark(reader.status)],
            'level_after': LEVELS[diagnostics.status(reader.status)[0]],
            'subscribed': matched, 'node_alive': reader.node not in dead,
            'dead_nodes': dead, 'log_problems': problems[:5],
            'publish_s': round(publish_s, 2), 'sent_per_s': round(count / publish_s, 1),
            'settle_s': round(settle_s, 2), 'publish_retries': retries})
    return rows


def settle(diagnostics: Diagnostics, readers, before: dict, count: int,
           timeout_s: float) -> dict:
    """Wait until every reader counted the flood, or its counters stopped moving over
    QUIET_UPDATES fresh /diagnostics, or the deadline; returns the readings."""
    deadline = time.monotonic() + timeout_s
    last_moved = dict(before)
    while True:
        now = {reader: Reading.of(diagnostics, reader) for reader in readers}
        settled = True
        for reader, reading in now.items():
            if reading.moved(last_moved[reader]):
                last_moved[reader] = reading
            full = not reader.newest_only and reader.counted \
                and reading.counted - before[reader].counted >= count
            quiet = reading.updates - last_moved[reader].updates >= QUIET_UPDATES
            settled = settled and (full or quiet)
        if settled or time.monotonic() > deadline:
            return now
        time.sleep(0.1)


def verdict(reader: Reader, counted: int, expected: int,
            gallery_right: bool | None = None) -> str:
    if reader.gallery:
        return GALLERY_RIGHT if gallery_right else 'GALLERY WRONG after the flood'
    if not reader.counted:
        return 'NOT COUNTED (no counter)'
    if counted == expected:
        return 'counted'
    if counted == 0:
        return 'NOT COUNTED'
    if counted < expected and reader.keep_last_one:
        return f'counted {counted}/{expected} (keep-last 1: the rest may have been replaced ' \
            'unread; no received counter to tell)'
    if counted < expected:
        return f'PARTLY counted ({counted}/{expected})'
    return f'counted more than expected ({counted}/{expected})'


# -- after the floods: one shopper through the whole graph ---------------------------------------
class Recorder:
    """Messages of some topics, kept for the final check."""

    def __init__(self, node, subscriptions: dict, more: tuple[str, ...] = ()):
        self.lock = threading.Lock()
        self.got: dict[str, list] = {key: [] for key in (*subscriptions, *more)}
        for key, (topic, fields) in subscriptions.items():
            topic.subscription(node, lambda msg, key=key: self.keep(key, msg), **fields)

    def keep(self, key: str, msg) -> None:
        with self.lock:
            self.got[key].append(msg)

    def find(self, key: str, predicate) -> list:
        with self.lock:
            return [msg for msg in self.got[key] if predicate(msg)]


class ShopperCheck:
    """A registered shopper walks in, takes one item and walks out, through the real nodes:
    the inputs are what cameras' face_node and the lane sensors would publish."""

    def __init__(self, bench: BenchNode, store, timeout_s: float = 20.0):

        self.bench = bench
        self.node = bench.node
        self.store = store
        self.timeout_s = timeout_s
        self.steps: list[dict] = []
        self.entrance = next(d for d in store.doors if d.role == ROLE_ENTRANCE)
        self.exit = next(d for d in store.doors if d.role == ROLE_EXIT)
        self.lane, self.shelf_camera, self.zone = self._covered_lane()
        self.image_camera = next(
            (c for c in store.cameras if c.camera_id not in {
                self.entrance.camera_id, self.exit.camera_id, self.shelf_camera.camera_id}),
            self.shelf_camera)
        self.recorder = Recorder(self.node, {
            'image_faces': (topics.FACES, {'camera': self.image_camera.camera_id}),
            'customer_events': (topics.CUSTOMER_EVENTS, {}),
            'carts': (topics.CARTS, {}),
            'shelf_events': (topics.SHELF_EVENTS, {}),
            'cart_actions': (topics.CART_ACTIONS, {}),
            'receipts': (topics.RECEIPTS, {}),
            'announcements': (topics.ANNOUNCEMENTS, {})}, more=('gallery',))
        # The store's gallery as the greeter reads it: ids and names, each revision whole.
        GalleryClient(self.node, WholeGallery(
            lambda customers: self.recorder.keep('gallery', customers)), with_embeddings=False)
        self.faces = {camera: topics.FACES.publisher(self.node, camera=camera) for camera in (
            self.entrance.camera_id, self.exit.camera_id, self.shelf_camera.camera_id)}
        self.reading = topics.lane_reading(self.lane).publisher(
            self.node, **topics.lane_fields(self.lane))
        self.image = topics.IMAGE_RAW.publisher(self.node, camera=self.image_camera.camera_id)
        self.customer_id = ''

    def _covered_lane(self):
        for camera in self.store.cameras:
            for zone in camera.coverage:
                lane = self.store.lane(zone.shelf_id, zone.lane_id)
                if lane.sensor == SENSOR_ULTRASONIC:
                    return lane, camera, zone
        raise RuntimeError('no ultrasonic lane covered by a shelf camera in the store file')

    def step(self, name: str, ok: bool, detail: str) -> bool:
        self.steps.append({'step': name, 'ok': bool(ok), 'detail': detail})
        print(f"  {'ok  ' if ok else 'FAIL'} {name}: {detail}", flush=True)
        return ok

    def wait_for(self, key: str, predicate, timeout_s: float | None = None) -> list:
        found: list = []

        def check():
            found[:] = self.recorder.find(key, predicate)
            return bool(found)
        wait_until(check, self.timeout_s if timeout_s is None else timeout_s)
        return found

    def run(self) -> list[dict]:
        self.face_node_processes_an_image()
        if self.register():
            self.door_pass(self.entrance, 'entered', 0)  # CustomerEvent.ENTERED
            self.greeted(0, 'welcome')
            self.take_one_item()
            self.door_pass(self.exit, 'exited', 1)  # CustomerEvent.EXITED
            self.receipt()
            self.greeted(1, 'goodbye')
        return self.steps

    def face_node_processes_an_image(self) -> None:


        camera = self.image_camera
        wait_until(lambda: self.image.get_subscription_count() >= 1, 10.0)
        sent: set[int] = set()
        deadline = time.monotonic() + self.timeout_s
        found: list = []
        while time.monotonic() < deadline and not found:
            now = time.time_ns()
            msg = Image(height=camera.height, width=camera.width, encoding='rgb8',
                        step=camera.width * 3, data=bytes(camera.width * camera.height * 3))
            msg.header.stamp = time_from_ns(now)
            msg.header.frame_id = camera.frame_id
            self.image.publish(msg)
            sent.add(now)
            time.sleep(0.5)
            found = self.recorder.find('image_faces', lambda f: stamp_ns(f.header.stamp) in sent)
        self.step('face_node processes a valid image', bool(found),
                  f'{camera.camera_id}: {len(found)} of {len(sent)} blank frames came back as '
                  'faces arrays')

    def register(self) -> bool:


        self.customer_id, problem = register_customer(self.node, 'Bench Shopper', 2026,
                                                      self.timeout_s)
        if not self.customer_id:
            return self.step('register_customer', False, problem)
        listed = self.wait_for('gallery', lambda customers: any(
            c.customer_id == self.customer_id for c in customers))
        return self.step('register_customer', bool(listed),
                         f'{self.customer_id}, in the gallery: {bool(listed)}')

    def _face_frames(self, camera_id: str, seconds: float, box, track_id: int,
                     then_empty_s: float = 0.8) -> None:
        """The shopper's face at 15 fps, then empty frames (the track ends)."""
        publisher = self.faces[camera_id]
        wait_until(lambda: publisher.get_subscription_count() >= 1, 10.0)
        x, y, width, height = box
        end = time.monotonic() + seconds
        while time.monotonic() < end + then_empty_s:
            faces = [FaceDetection(track_id=track_id, customer_id=self.customer_id,
                                   confidence=0.95, roi=RegionOfInterest(
                                       x_offset=x, y_offset=y, width=width, height=height))] \
                if time.monotonic() < end else []
            msg = FaceArray(camera_id=camera_id, faces=faces)
            msg.header.stamp = time_from_ns(time.time_ns())
            publisher.publish(msg)
            time.sleep(1 / 15)

    def door_pass(self, door, verb: str, kind: int) -> None:
        self._face_frames(door.camera_id, 1.2, (260, 180, 120, 120), 9000 + kind)
        events = self.wait_for('customer_events', lambda e: e.customer_id == self.customer_id
                               and e.kind == kind and e.door_id == door.door_id)
        self.step(f'{door.door_id} door pass', bool(events),
                  f'door_{door.door_id} published {verb.upper()}' if events
                  else f'no {verb.upper()} from door_{door.door_id}')
        if kind == 0:
            carts = self.wait_for('carts', lambda c: c.customer_id == self.customer_id
                                  and c.visit_id != '')
            self.step('store opens the visit', bool(carts),
                      f'cart of visit {carts[-1].visit_id}' if carts else 'no open cart')

    def greeted(self, kind: int, word: str) -> None:
        said = self.wait_for('announcements', lambda a: a.customer_id == self.customer_id
                             and a.kind == kind, 10.0)
        self.step(f'greeter says {word}', bool(said),
                  repr(said[-1].text) if said else 'nothing announced')

    def take_one_item(self) -> None:
        """Lane readings at full, then one item less, while the shopper's face is in the
        lane's reach zone: the shelf monitor's event, fusion's cart action, the store's cart."""
        lane, geometry = self.lane, self.lane.ultrasonic
        status = f'shelf_monitor: lane {lane.shelf_id}/{lane.lane_id}'
        full, taken = lane.capacity, lane.capacity - 1
        zone = self.zone
        face = (int(zone.x + zone.width / 2 - 40), int(zone.y), 80, 80)
        wait_until(lambda: self.reading.get_subscription_count() >= 1, 10.0)
        settled = events = actions = None
        deadline = time.monotonic() + 3 * self.timeout_s
        count = full
        after_event_until = None
        while time.monotonic() < deadline:
            now = time.time_ns()
            self._reading(geometry.empty_distance_m - count * geometry.item_depth_m, now)
            self._shelf_face(face, now)
            if count == full:
                # 'count n/capacity' once the lane is monitored and its count settled.
                if settled is None and self.bench.diagnostics.message(status) \
                        == f'count {full}/{lane.capacity}':
                    settled = time.monotonic()
                if settled is not None and time.monotonic() - settled > 0.5:
                    count = taken
            elif not events:
                events = self.recorder.find('shelf_events', lambda e: (
                    e.shelf_id, e.lane_id) == lane.key and e.quantity_delta == taken - full)
                if events:
                    after_event_until = time.monotonic() + 2.0
            elif time.monotonic() > after_event_until:
                break
            time.sleep(1 / 15)
        self.step('shelf_monitor counts the lane again', settled is not None,
                  f'{lane.shelf_id}/{lane.lane_id} settled at {full}' if settled
                  else 'the lane never settled')
        self.step('shelf_monitor publishes the take', bool(events),
                  f'ShelfEvent {events[-1].event_id} {events[-1].quantity_delta:+d} '
                  f'{events[-1].item_id}' if events else 'no shelf event')
        if events:
            event_id = events[-1].event_id
            actions = self.wait_for('cart_actions', lambda a: a.event_id == event_id)
        self.step('fusion names the shopper', bool(actions) and actions[-1].customer_id
                  == self.customer_id, f'CartAction for {actions[-1].customer_id!r}, quantity '
                  f'{actions[-1].quantity}' if actions else 'no cart action')
        carts = self.wait_for('carts', lambda c: c.customer_id == self.customer_id and any(
            line.item_id == lane.item_id and line.quantity == 1 for line in c.lines))
        self.step('store puts it in the cart', bool(carts),
                  f'cart total {carts[-1].total_cents} cents' if carts else 'not in the cart')

    def _reading(self, metres: float, now_ns: int) -> None:

        msg = Range(radiation_type=Range.ULTRASOUND, field_of_view=0.26, min_range=0.02,
                    max_range=4.0, range=float(metres))
        msg.header.stamp = time_from_ns(now_ns)
        msg.header.frame_id = self.lane.frame_id
        self.reading.publish(msg)

    def _shelf_face(self, box, now_ns: int) -> None:


        x, y, width, height = box
        msg = FaceArray(camera_id=self.shelf_camera.camera_id, faces=[FaceDetection(
            track_id=9100, customer_id=self.customer_id, confidence=0.95,
            roi=RegionOfInterest(x_offset=x, y_offset=y, width=width, height=height))])
        msg.header.stamp = time_from_ns(now_ns)
        self.faces[self.shelf_camera.camera_id].publish(msg)

    def receipt(self) -> None:
        receipts = self.wait_for('receipts', lambda r: r.customer_id == self.customer_id)
        lines = [(ln.item_id, ln.quantity) for ln in receipts[-1].lines] if receipts else []
        self.step('store issues the receipt', lines == [(self.lane.item_id, 1)],
                  f'receipt {receipts[-1].receipt_id}: {lines}, {receipts[-1].total_cents} '
                  'cents' if receipts else 'no receipt')


# -- the report --------------------------------------------------------------------------------
def summarize(rows: list[dict], steps: list[dict], dead: list[str],
              shutdown_problems: list[str]) -> dict:
    not_counted = [r for r in rows if r['verdict'] not in ('counted', GALLERY_RIGHT)]
    crashed = sorted({node for r in rows for node in r['dead_nodes']} | set(dead))
    graph_ok = bool(steps) and all(step['ok'] for step in steps)
    return {
        'floods': len({(r['topic'], r['malformation']) for r in rows}),
        'messages_sent': sum(r['sent'] for r in rows if r is _first_of_flood(rows, r)),
        'rows': len(rows), 'rows_counted': len(rows) - len(not_counted),
        'not_counted': [f"{r['node']} on {r['topic']} ({r['malformation']}): {r['verdict']}"
                        for r in not_counted],
        'crashed_nodes': crashed, 'graph_works_after': graph_ok,
        'shutdown_problems': shutdown_problems,
        'claim_holds': not not_counted and not crashed and graph_ok}


def _first_of_flood(rows: list[dict], row: dict) -> dict:
    return next(r for r in rows if (r['topic'], r['malformation']) ==
                (row['topic'], row['malformation']))


def _counted_cell(row: dict) -> str:
    if row.get('gallery'):
        held = row['gallery']['after']['held']
        revision = f", revision {held['gallery_revision']}" if 'gallery_revision' in held else ''
        fetches = f", {row['received']} fetches" if row['received'] is not None else ''
        return (f"not countable; holds a gallery of {held.get('gallery_customers', '?')} "
                f'customers{revision}{fetches}')
    if row['skipped'] is not None:
        return (f"{row['counted']} of {row['expected']} processed ({row['received']} received, "
                f"{row['skipped']} skipped)")
    if not row['counters']:
        evidence = f", {row['received']} acted on" if row['received'] else ''
        return f'no counter{evidence}'
    return str(row['counted'])


def markdown(summary: dict, rows: list[dict], steps: list[dict], meta: dict) -> str:
    lines = [
        f"# Malformed input: no node crashes, each bad message is counted ({meta['date']})", '',
        f"{meta['count']} malformed messages per input topic at {meta['rate']:g}/s into "
        'store.launch.xml (no cameras or lane sensors, console on a free port, greeter silent, '
        f"no respawn), {meta['cores']} cores, {meta['wall_s'] / 60:.1f} min. Counted = the "
        "reading node's /diagnostics counter of that refusal, before and after the flood.", '',
        f"Claim \"{meta['count']:,} malformed messages per input topic: no node crashes, each "
        f"one is counted\": **{'holds' if summary['claim_holds'] else 'does NOT hold'}** "
        f"({summary['rows_counted']}/{summary['rows']} node x topic counted, crashed: "
        f"{', '.join(summary['crashed_nodes']) or 'none'}, graph works after: "
        f"{'yes' if summary['graph_works_after'] else 'NO'}).", '',
        '| topic | node | malformation | sent | counted | level | crashed? |',
        '|---|---|---|---|---|---|---|']
    for r in rows:
        level = r['level_during'] if r['level_during'] == r['level_after'] \
            else f"{r['level_during']} -> {r['level_after']}"
        flag = '' if r['verdict'] == 'counted' else \
            f" ({r['verdict']})" if r['verdict'] == GALLERY_RIGHT else f" **{r['verdict']}**"
        lines.append(f"| {r['topic']} | {r['node']} | {r['malformation']} | {r['sent']} | "
                     f"{_counted_cell(r)}{flag} | {level} | "
                     f"{'no' if r['node_alive'] else '**YES**'} |")
    lines += ['', 'level: the highest /diagnostics level of the node\'s status during the flood '
              '(-> after it); the lanes are ERROR before any flood too (no lane sensor runs, '
              'so every lane is unmonitored). image_raw is read best effort, newest frame only '
              '(by design): there every frame the node received and did not skip must be '
              'counted. gallery_revision cannot be counted: it carries no customer data, and '
              'any revision a reader does not hold, however odd, only sends it to the store\'s '
              'get_gallery (one fetch at a time, however many come), so no revision is wrong '
              'to it. There the check is that each reader still holds the store\'s gallery '
              'after the flood (its gallery_customers, and gallery_revision where it reports '
              'one, equal store_node\'s; a customer was enrolled just before). It is read '
              'keep-last 1 (newest wins): each revision went out once the previous one was '
              'acknowledged by every reader.', '',
              'The graph after the floods (one shopper through the real nodes):', '']
    lines += [f"- {'ok' if s['ok'] else '**FAILED**'}: {s['step']} ({s['detail']})"
              for s in steps] or ['- not run']
    if summary['not_counted']:
        lines += ['', 'Not counted:', ''] + [f'- {item}' for item in summary['not_counted']]
    if summary['shutdown_problems']:
        lines += ['', 'At shutdown (SIGINT):', ''] + [
            f'- `{line}`' for line in summary['shutdown_problems']]
    lines += ['', 'Reproduce: `' + meta['command'] + '`', '']
    return '\n'.join(lines)


def graph_nodes(store) -> list[str]:
    """The launch names of the nodes store.launch.xml starts here."""
    return ['shelf_monitor', 'face_node', *(f'door_{door.door_id}' for door in store.doors),
            'fusion_node', 'store_node', 'web_node', 'greeter_node']


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--count', type=int, default=10_000,
                        help='malformed messages per flood (10000)')
    parser.add_argument('--rate', type=float, default=500.0,
                        help='messages per second (500)')
    parser.add_argument('--only', default='', help='comma-separated parts of topic names to '
                        'flood (e.g. faces,shelf_events); default every input topic')
    parser.add_argument('--settle-timeout', type=float, default=60.0,
                        help='s to wait after a flood for the counters (60)')
    parser.add_argument('--startup-timeout', type=float, default=180.0,
                        help="s to wait for every node's first /diagnostics (180)")
    parser.add_argument('--out', default=str(RESULTS))
    add_keep_databases_option(parser)
    args = parser.parse_args(argv)

    store = load_store(default_store_file())
    floods = plan_floods(store)
    if args.only:
        wanted = [part.strip() for part in args.only.split(',') if part.strip()]
        floods = [f for f in floods if any(part in f.topic_name for part in wanted)]
    nodes = graph_nodes(store)
    work = bench_workdir('ezshop-malformed-', args.keep_databases)
    domain_id = claim_domain_for_this_process()
    print(f'{len(floods)} floods of {args.count} at {args.rate:g}/s; launch log and database '
          f'in {work}; ROS_DOMAIN_ID={domain_id}', flush=True)
    rclpy.init()
    started = time.monotonic()
    graph = StoreGraph(work, nodes)
    bench = None
    rows: list[dict] = []
    steps: list[dict] = []
    dead: list[str] = []
    try:
        bench = BenchNode()
        graph.start()
        if not wait_until(lambda: set(nodes) <= bench.diagnostics.nodes()
                          or not graph.running(), args.startup_timeout, 0.5) \
                or not graph.running():
            missing = sorted(set(nodes) - bench.diagnostics.nodes())
            raise RuntimeError(f'no /diagnostics from {missing}; see {graph.log_path}')
        graph.find_processes()
        print(f'graph up in {time.monotonic() - started:.0f} s: '
              + ', '.join(f'{n} {graph.pids[n]}' for n in nodes), flush=True)
        for index, flood in enumerate(floods, 1):
            flood_rows = run_flood(bench, graph, flood, args.count, args.rate,
                                   max(args.settle_timeout, args.count / args.rate))
            rows += flood_rows
            for r in flood_rows:
                print(f"[{index:2d}/{len(floods)}] {r['topic']:<32} {r['node']:<14} "
                      f"{r['malformation'][:44]:<44} sent {r['sent']} ({r['sent_per_s']:.0f}/s)"
                      f" counted {_counted_cell(r)} {r['level_during']}: {r['verdict']}"
                      f"{'' if r['node_alive'] else ' NODE DEAD'}"
                      f"{'; ' + r['log_problems'][0] if r['log_problems'] else ''}",
                      flush=True)
        print('the graph after the floods:', flush=True)
        steps = ShopperCheck(bench, store).run()
        dead = graph.dead_nodes()
    except KeyboardInterrupt:
        print('interrupted: stopping the launch', flush=True)
    finally:
        graph.stop()
        shutdown_problems = graph.new_log_problems() if graph.log_path.exists() else []
        if bench is not None:
            bench.close()
        rclpy.try_shutdown()
    summary = summarize(rows, steps, dead, shutdown_problems)
    meta = {'date': datetime.datetime.now().strftime('%Y-%m-%d'), 'count': args.count,
            'rate': args.rate, 'cores': os.cpu_count(), 'work': str(work),
            'wall_s': round(time.monotonic() - started, 1), 'launch': graph.command,
            'command': ' '.join(['scripts/run python bench/malformed.py',
                                 *(sys.argv[1:] if argv is None else argv)])}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / 'malformed.json').write_text(json.dumps(
        {'meta': meta, 'summary': summary, 'floods': rows, 'graph_check': steps}, indent=2))
    text = markdown(summary, rows, steps, meta)
    (out / 'malformed.md').write_text(text)
    print('\n' + text)
    print(f"claim {'holds' if summary['claim_holds'] else 'does NOT hold'}; "
          f'results in {out}/malformed.*')
    return 0


if __name__ == '__main__':
    sys.exit(main())
