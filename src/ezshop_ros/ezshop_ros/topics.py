"""The topic contract: every topic of the store graph with its type and the QoS of each end.

This is the topic table of docs/architecture.md as code. Every node, the simulator, the
referee, the recorder's clients, the benches and the tests make their publishers and
subscriptions from it, so both ends of a topic always match.

    events = SHELF_EVENTS.publisher(node)
    FACES.subscription(node, on_faces, camera='cam_entrance')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from rclpy.publisher import Publisher
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.subscription import Subscription
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Illuminance, Image, Range, Temperature
from visualization_msgs.msg import MarkerArray

from ezshop_common.store_config import SENSOR_ULTRASONIC, Lane
from ezshop_msgs.msg import (
    Alert,
    Announcement,
    Cart,
    CartAction,
    CustomerEvent,
    FaceArray,
    GalleryRevision,
    GroundTruth,
    Inventory,
    Receipt,
    ShelfEvent,
    ShelfState,
    StoreAnalytics,
    TrackIdentity,
)

#: The depth a KEEP_ALL profile reports (rclpy ignores it for KEEP_ALL; tools show it).
KEEP_ALL_DEPTH = 1000


@dataclass(frozen=True)
class Qos:
    """One end's QoS, as the contract states it."""

    depth: int
    reliable: bool = True
    #: Late joiners get the newest `depth` samples (transient local).
    latched: bool = False
    #: Every sample is kept until every reader has it (reliable only): never drops an event.
    keep_all: bool = False

    def describe(self) -> str:
        """In words, as docs/architecture.md's topic table says it."""
        words = ['reliable' if self.reliable else 'best effort']
        if self.latched:
            words.append('transient local')
        words.append('keep all' if self.keep_all else f'depth {self.depth}')
        return ', '.join(words)

    def profile(self) -> QoSProfile:
        """A new rclpy profile (each endpoint gets its own object)."""
        return QoSProfile(
            history=HistoryPolicy.KEEP_ALL if self.keep_all else HistoryPolicy.KEEP_LAST,
            depth=KEEP_ALL_DEPTH if self.keep_all else self.depth,
            reliability=(ReliabilityPolicy.RELIABLE if self.reliable
                         else ReliabilityPolicy.BEST_EFFORT),
            durability=(DurabilityPolicy.TRANSIENT_LOCAL if self.latched
                        else DurabilityPolicy.VOLATILE))


#: A camera frame reader: the newest frame wins, best effort.
NEWEST_FRAME = Qos(depth=1, reliable=False)
#: A camera frame writer: reliable keep-last 1 matches best-effort and reliable readers
#: (a best-effort writer would not match a reliable reader such as rqt_image_view's) and,
#: keeping one frame, never blocks on a slow reader.
FRAME_OUT = Qos(depth=1)
#: Events that move money or presence (shelf_events, customer_events, cart_actions), both
#: ends: reliable and keep-all (a reader that falls behind blocks the writer rather than lose an
#: event), transient local (a store_node or fusion_node that restarts after a crash gets what
#: it missed from the writers' history and applies each event once, by id). Fast DDS bounds a
#: keep-all writer's history (its default resource limits): once full, the oldest acknowledged
#: samples make room, so a (re)joining reader gets the newest EVENT_HISTORY (measured: 5000 of
#: 20,000). A volatile writer (`ros2 topic pub` without `--qos-durability transient_local`)
#: does not match these readers.
EVENT_HISTORY = 5000
EVERY_EVENT = Qos(depth=KEEP_ALL_DEPTH, keep_all=True, latched=True)


def latched(depth: int) -> Qos:
    """Reliable, transient local: a late joiner gets the newest `depth` samples."""
    return Qos(depth=depth, latched=True)


def reliable(depth: int) -> Qos:
    """Reliable, volatile, keep-last `depth`."""
    return Qos(depth=depth)


@dataclass(frozen=True)
class Topic:
    """A topic: name (a template with {camera} / {shelf} / {lane} fields), type, both ends."""

    name: str
    msg_type: type
    publisher_qos: Qos
    subscriber_qos: Qos

    def describe(self) -> str:
        """Both ends' QoS in words (one phrase when they are the same)."""
        if self.publisher_qos == self.subscriber_qos:
            return self.publisher_qos.describe()
        return f'out: {self.publisher_qos.describe()}; in: {self.subscriber_qos.describe()}'

    def topic_name(self, **fields: str) -> str:
        """The name with its fields filled in (relative: the node's namespace applies)."""
        return self.name.format(**fields)

    def publisher(self, node: Node, **fields: str) -> Publisher:
        return node.create_publisher(self.msg_type, self.topic_name(**fields),
                                     self.publisher_qos.profile())

    def subscription(self, node: Node, callback: Callable, **fields: str) -> Subscription:
        return node.create_subscription(self.msg_type, self.topic_name(**fields), callback,
                                        self.subscriber_qos.profile())


def _same(msg_type: type, name: str, qos: Qos) -> Topic:
    return Topic(name, msg_type, qos, qos)


#: Lane readings: the writer keeps its newest READING_HISTORY (20 s at 15 Hz) for a late
#: joiner, so a shelf monitor that restarts replays what its lanes said while it was down and
#: sees a take in that gap as it happened (it skips what it had already counted, see
#: lane_counts). Reliable and transient local at both ends: a volatile writer (`ros2 topic pub`
#: without `--qos-durability transient_local`) does not match the shelf monitor.
READING_HISTORY = 300
LANE_READINGS = latched(READING_HISTORY)
RANGE = _same(Range, 'shelves/{shelf}/{lane}/range', LANE_READINGS)
ILLUMINANCE = _same(Illuminance, 'shelves/{shelf}/{lane}/illuminance', LANE_READINGS)
#: A fridge's or freezer's probe (DS18B20 on 1-Wire, or an MQTT controller), degrees Celsius;
#: the monitor that judges it may start after the probe, so the writer keeps its newest readings.
TEMPERATURE = _same(Temperature, 'fridges/{fridge}/temperature', latched(READING_HISTORY))
#: The shelf monitor keeps its last 100 events for a reader that reconnects; readers keep all.
SHELF_EVENTS = _same(ShelfEvent, 'shelf_events', EVERY_EVENT)
SHELF_STATE = _same(ShelfState, 'shelf_state', latched(1))
IMAGE_RAW = Topic('cameras/{camera}/image_raw', Image, FRAME_OUT, NEWEST_FRAME)
CAMERA_INFO = Topic('cameras/{camera}/camera_info', CameraInfo, FRAME_OUT, NEWEST_FRAME)
IMAGE_ANNOTATED = Topic('cameras/{camera}/image_annotated', Image, FRAME_OUT, NEWEST_FRAME)
#: Faces of every frame: reliable; the writer keeps its newest FACE_HISTORY frames (20 s at
#: 15 fps) for a late joiner, so a fusion or door node that restarts rebuilds the frames of
#: the picks and door passes around its outage (door events carry ids made from the frame
#: that decided them, so a pass decided twice is applied once). Readers keep as many.
FACE_HISTORY = 300
FACES = _same(FaceArray, 'cameras/{camera}/faces', latched(FACE_HISTORY))
#: Tracks a face node named after they ended (its visit memory): fusion settles the picks
#: held for them; every one kept for a reader that (re)joins.
TRACK_IDENTITIES = _same(TrackIdentity, 'track_identities', EVERY_EVENT)
CUSTOMER_EVENTS = _same(CustomerEvent, 'customer_events', EVERY_EVENT)
CART_ACTIONS = _same(CartAction, 'cart_actions', EVERY_EVENT)
#: One Cart per open visit (an empty visit_id: checked out), the newest 100 for late joiners.
CARTS = _same(Cart, 'carts', latched(100))
RECEIPTS = _same(Receipt, 'receipts', latched(100))
INVENTORY = _same(Inventory, 'inventory', latched(1))
#: The gallery's revision (no name, no embedding): fetch it with get_gallery (ezshop_ros.gallery).
GALLERY_REVISION = _same(GalleryRevision, 'gallery_revision', latched(1))
ALERTS = _same(Alert, 'alerts', reliable(100))
#: What the greeter says (a welcome, a goodbye with the total), for screens and tests.
ANNOUNCEMENTS = _same(Announcement, 'announcements', reliable(10))
#: Published by diagnostic_updater (its own default profile); readers here.
DIAGNOSTICS = _same(DiagnosticArray, '/diagnostics', reliable(50))
STORE_MARKERS = _same(MarkerArray, 'store_markers', latched(1))
#: Occupancy, dwell, picks and conversion (analytics_node), the newest for late joiners.
ANALYTICS = _same(StoreAnalytics, 'analytics', latched(1))
GROUND_TRUTH = _same(GroundTruth, 'sim/ground_truth', latched(1000))
CLOCK = _same(Clock, '/clock', reliable(1))

#: Every topic of the contract (docs/architecture.md's table is checked against it).
ALL = (RANGE, ILLUMINANCE, TEMPERATURE, SHELF_EVENTS, SHELF_STATE, IMAGE_RAW, CAMERA_INFO,
       IMAGE_ANNOTATED, FACES, TRACK_IDENTITIES, CUSTOMER_EVENTS, CART_ACTIONS, CARTS,
       RECEIPTS, INVENTORY, GALLERY_REVISION, ALERTS, ANNOUNCEMENTS, DIAGNOSTICS,
       STORE_MARKERS, ANALYTICS, GROUND_TRUTH, CLOCK)


def lane_reading(lane: Lane) -> Topic:
    """The topic a lane's sensor publishes on: range (HC-SR04) or illuminance (LDR)."""
    return RANGE if lane.sensor == SENSOR_ULTRASONIC else ILLUMINANCE


def lane_fields(lane: Lane) -> dict[str, str]:
    """The name fields of a lane's reading topic."""
    return {'shelf': lane.shelf_id, 'lane': lane.lane_id}
