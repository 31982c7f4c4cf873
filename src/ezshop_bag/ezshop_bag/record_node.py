"""record: writes the store's topics into a rosbag2 MCAP bag until SIGINT / SIGTERM.

  ros2 run ezshop_bag record --ros-args -p output:=/tmp/visit -p image_rate_hz:=5.0
  ezshop record -o /tmp/visit --image-rate 5

Topics are found as they appear (like `ros2 bag record`): every topic of the store's
(ezshop_bag.selection.RECORDED_PATTERNS, relative to this node's namespace) with a publisher
is subscribed, once another node consumes it (or after `alone_after_s`), with its publishers'
QoS and recorded as serialized bytes (never deserialized); camera images at most
`image_rate_hz` per camera. The store's gallery is not on a topic: the recorder fetches it
from the store's get_gallery (with the embeddings) whenever gallery_revision changes and
writes each whole gallery as an ezshop_msgs/msg/Gallery on `<namespace>/gallery`, so that
`ezshop replay` can enrol the bag's customers. The bag is closed cleanly on the first stop
signal (a second one, as `ros2 launch` sends, is ignored).
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime
from functools import partial
from pathlib import Path

from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    LivelinessPolicy,
    QoSProfile,
    ReliabilityPolicy,
)
from rclpy.serialization import serialize_message
from rosidl_runtime_py.utilities import get_message

from ezshop_bag.bag_settings import RecordSettings
from ezshop_bag.queued_writer import QueuedWriter
from ezshop_bag.rosbag2 import (
    INFINITE_NS,
    BagError,
    BagWriter,
    Qos,
    TopicInfo,
    message_definition,
    type_description_hash,
)
from ezshop_bag.selection import Throttle, TopicSelector, join_now, matches, record_qos
from ezshop_msgs.msg import Gallery
from ezshop_ros.gallery import GalleryClient, WholeGallery
from ezshop_ros.parameters import declare_settings
from ezshop_ros.process import run_node, spin

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_ARGS = 2
VERSION = '0.1.0'
#: The store's gallery in a bag (replay_node.recorded_galleries, bench/fusion_replay.py).
GALLERY_TOPIC = 'gallery'
GALLERY_TYPE = 'ezshop_msgs/msg/Gallery'
#: As the store used to publish it: latched, newest only (replay publishes it so, if asked).
GALLERY_QOS = Qos(history='keep_last', depth=1, reliability='reliable',
                  durability='transient_local')


def _ns(duration) -> int:
    ns = duration.nanoseconds
    return INFINITE_NS if ns < 0 or ns >= INFINITE_NS else ns


def qos_from_rclpy(profile: QoSProfile) -> Qos:
    """An endpoint's QoS in rosbag2's terms."""
    return Qos(profile.history.name.lower(), profile.depth, profile.reliability.name.lower(),
               profile.durability.name.lower(), _ns(profile.deadline), _ns(profile.lifespan),
               profile.liveliness.name.lower(), _ns(profile.liveliness_lease_duration),
               profile.avoid_ros_namespace_conventions)


def qos_to_rclpy(qos: Qos) -> QoSProfile:
    """A plain Qos as an rclpy profile (history, depth, reliability, durability)."""
    return QoSProfile(history=HistoryPolicy[qos.history.upper()], depth=max(qos.depth, 1),
                      reliability=ReliabilityPolicy[qos.reliability.upper()],
                      durability=DurabilityPolicy[qos.durability.upper()],
                      liveliness=LivelinessPolicy.AUTOMATIC)


def lower_priority(niceness: int) -> None:
    """Renice every thread of this process (DDS's included; Linux nice values are per
    thread) by `niceness`; threads started later inherit it from their creator."""
    if niceness <= 0:
        return
    tasks = Path('/proc/self/task')
    tids = [int(t.name) for t in tasks.iterdir()] if tasks.is_dir() else [0]
    for tid in tids:
        try:
            os.setpriority(os.PRIO_PROCESS, tid,
                           min(19, os.getpriority(os.PRIO_PROCESS, tid) + niceness))
        except OSError:
            pass


def default_output() -> str:
    """rosbag2's default name, ezshop flavoured: ezshop_YYYY_MM_DD-HH_MM_SS."""
    return datetime.now().strftime('ezshop_%Y_%m_%d-%H_%M_%S')


class RecordNode(Node):
    """Discovers the store's topics and writes every message into one MCAP bag."""

    def __init__(self, **kwargs):
        super().__init__('ezshop_record', **kwargs)
        cfg = declare_settings(self, RecordSettings)
        self.alone_after_s = cfg.alone_after_s
        lower_priority(cfg.niceness)
        self.image_rate_hz = cfg.image_rate_hz
        self.selector = TopicSelector.create(self.get_namespace(), cfg.topics,
                                             cfg.exclude, images=self.image_rate_hz > 0)
        self.throttle = Throttle(self.image_rate_hz)
        self.output = Path(cfg.output or default_output()).resolve()
        self.writer = QueuedWriter(BagWriter(self.output, cfg.compression,
                                             library=f'ezshop_bag {VERSION}'))
        self._recorded: dict[str, object] = {}
        self._published_since: dict[str, float] = {}
        self._sequence: dict[str, int] = {}
        # Under sim time, messages that arrive before the first /clock wait for it.
        self._before_clock: list[tuple] = []
        self._closed = False
        self.gallery_topic = self.get_namespace().rstrip('/') + '/' + GALLERY_TOPIC
        self.galleries_recorded = 0
        self._gallery_client = None if matches(self.selector.exclude, self.selector.namespace,
                                               self.gallery_topic) \
            else GalleryClient(self, WholeGallery(self._on_gallery), with_embeddings=True)
        self.create_timer(cfg.discovery_period_s, self._discover,
                          clock=Clock(clock_type=ClockType.STEADY_TIME))
        self._discover()
        self.get_logger().info(
            f'recording into {self.output} (images {self.image_rate_hz:g} Hz per camera, '
            f'{cfg.compression} chunks)')

    # -- discovery -----------------------------------------------------------------------
    def _discover(self) -> None:
        for name, types in self.get_topic_names_and_types():
            if name in self._recorded or not types or not self.selector.wanted(name) \
                    or name == self.gallery_topic:  # ours: written from get_gallery
                continue
            publishers = self.get_publishers_info_by_topic(name)
            if not publishers:
                continue  # subscribers only: nothing to record yet
            since = self._published_since.setdefault(name, time.monotonic())
            consumers = [s for s in self.get_subscriptions_info_by_topic(name)
                         if (s.node_name, s.node_namespace)
                         != (self.get_name(), self.get_namespace())]
            if not join_now(bool(consumers), time.monotonic() - since, self.alone_after_s):
                continue
            try:
                msg_class = get_message(types[0])
            except (AttributeError, ModuleNotFoundError, ValueError) as exc:
                self._recorded[name] = None
                self.get_logger().warning(f'{name}: type {types[0]} not available ({exc}); '
                                          'not recorded')
                continue
            self._subscribe(name, types[0], msg_class, publishers)

    def _subscribe(self, name: str, type_name: str, msg_class, publishers) -> None:
        offered = [qos_from_rclpy(info.qos_profile) for info in publishers]
        throttled = self.selector.throttled(name)
        type_hash = str(publishers[0].topic_type_hash)
        if not type_hash.startswith('RIHS'):
            type_hash = type_description_hash(type_name)
        self.writer.add_topic(TopicInfo(name, type_name, offered, type_hash,
                                        definition=message_definition(type_name)))
        qos = qos_to_rclpy(record_qos(offered, throttled))
        self._recorded[name] = self.create_subscription(
            msg_class, name, partial(self._on_message, name, throttled), qos, raw=True)
        self.get_logger().info(f'recording {name} ({type_name})')

    # -- messages ------------------------------------------------------------------------
    def _on_message(self, topic: str, throttled: bool, data: bytes, info: dict) -> None:
        now = self.get_clock().now().nanoseconds
        if throttled and not self.throttle.keep(topic, now or time.time_ns()):
            return
        self._write(topic, data, now, info.get('source_timestamp') or 0,
                    info.get('publication_sequence_number'))

    def _on_gallery(self, customers) -> None:
        """One whole revision of the store's gallery, fetched: into the bag as a Gallery."""
        if self.galleries_recorded == 0:
            self.writer.add_topic(TopicInfo(
                self.gallery_topic, GALLERY_TYPE, [GALLERY_QOS],
                type_description_hash(GALLERY_TYPE),
                definition=message_definition(GALLERY_TYPE)))
        now = self.get_clock().now()
        msg = Gallery(customers=customers)
        msg.header.stamp = now.to_msg()
        self._write(self.gallery_topic, serialize_message(msg), now.nanoseconds, 0, None)
        self.galleries_recorded += 1
        # How many, never who: the names stay in the bag.
        self.get_logger().info(f'recording {self.gallery_topic}: {len(customers)} customers')

    def _write(self, topic: str, data: bytes, now: int, publish_ns: int,
               sequence: int | None) -> None:
        """Into the bag at `now` (ROS time); under sim time before the first /clock, kept
        until it comes."""
        if sequence is None:
            sequence = self._sequence.get(topic, 0) + 1
            self._sequence[topic] = sequence
        if now == 0:
            self._before_clock.append((topic, data, publish_ns, sequence))
            return
        for early in self._before_clock:
            self.writer.write(early[0], early[1], now, early[2], early[3])
        self._before_clock.clear()
        self.writer.write(topic, data, now, publish_ns, sequence)

    def close(self) -> dict | None:
        """Flush and close the bag (once); returns its metadata."""
        if self._closed:
            return None
        self._closed = True
        for topic, data, publish_ns, sequence in self._before_clock:
            # No /clock ever came: the reception time will have to do.
            self.writer.write(topic, data, publish_ns or time.time_ns(), publish_ns, sequence)
        custom = {'ezshop.namespace': self.get_namespace(),
                  'ezshop.image_rate_hz': f'{self.image_rate_hz:g}'}
        metadata = self.writer.close(custom, os.environ.get('ROS_DISTRO', ''))
        dropped = self.writer.dropped
        size = sum(f.stat().st_size for f in self.output.glob('*.mcap'))
        self.get_logger().info(
            f'bag closed: {self.output} ({metadata["message_count"]} messages, '
            f'{len(metadata["topics_with_message_count"])} topics, {size / 1e6:.1f} MB, '
            f'{metadata["duration"]["nanoseconds"] / 1e9:.1f} s'
            + (f'; {dropped} dropped: the disk was too slow)' if dropped else ')'))
        return metadata


def record(node: RecordNode) -> int:
    """Record until stopped, then close the bag (EXIT_FAILED when that fails)."""
    try:
        spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except BagError as exc:
        print(f'record: {exc}', file=sys.stderr, flush=True)
        node.close()
        return EXIT_BAD_ARGS
    try:
        node.close()
    except Exception as exc:  # noqa: BLE001 - say why the bag is incomplete
        print(f'record: closing the bag failed: {exc!r}', file=sys.stderr, flush=True)
        return EXIT_FAILED
    return EXIT_OK


def main(args=None, parameter_overrides=None) -> int:
    return run_node(partial(RecordNode, parameter_overrides=parameter_overrides or []), args,
                    run=record)


def console_main() -> None:
    sys.exit(main())
