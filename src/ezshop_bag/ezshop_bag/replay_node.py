"""replay: plays a recorded bag's input topics into a store graph, with /clock, and compares
the receipts the graph issues with the recorded ones.

  ezshop replay /tmp/visit --results /tmp/replay.json
  ros2 run ezshop_bag replay --ros-args -p bag:=/tmp/visit -p rate:=1.0

Start the store graph first, on sim time and with a fresh database:
  ros2 launch ezshop_bringup store.launch.xml with_cameras:=false with_lane_sensors:=false \
      use_sim_time:=true database_url:=sqlite:////tmp/replay.db

Steps: (1) enrol the bag's customers (the `gallery` the recorder fetched from the store holds
their embeddings) through the store's register_customer service, unless the store knows their
names already (the live store's gallery, names only, from its get_gallery service); (2) wait
until the store graph subscribes to every input topic; (3) publish the inputs with their
recorded QoS at their recorded times (x `rate`) and /clock from the recorded times, so nodes
with use_sim_time see the recorded time; (4) keep the clock running until the store issued
the recorded receipts (at most `tail_s` bag seconds); (5) print both receipt lists and the
verdict, write them as JSON when asked.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter
from functools import partial
from pathlib import Path

from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.serialization import deserialize_message
from rosgraph_msgs.msg import Clock
from rosidl_runtime_py.utilities import get_message

from ezshop_bag.bag_settings import ReplaySettings
from ezshop_bag.receipts import compare, final_receipts, report_lines, summary
from ezshop_bag.record_node import qos_to_rclpy
from ezshop_bag.rosbag2 import BagError, BagReader
from ezshop_bag.selection import (
    WAIT_PATTERNS,
    PlaybackClock,
    matches,
    relative_name,
    replay_qos,
    replay_topics,
)
from ezshop_msgs.msg import Gallery, Receipt
from ezshop_msgs.srv import RegisterCustomer
from ezshop_ros.gallery import GalleryClient, WholeGallery
from ezshop_ros.parameters import declare_settings
from ezshop_ros.process import run_node
from ezshop_ros.stamps import stamp_ns, time_from_ns
from ezshop_ros.topics import CLOCK, RECEIPTS

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_ARGS = 2
EXIT_DIFFERENT = 3
#: After the replayed receipts match the recorded ones, wait this much longer (bag s) for
#: receipts that should not come.
AFTER_MATCH_S = 2.0


class StopRequestedError(Exception):
    """The node was asked to stop (SIGINT / SIGTERM)."""


class ReplayNode(Node):
    """Publishes a bag's inputs and /clock; enrols its customers; compares receipts."""

    def __init__(self, **kwargs):
        super().__init__('ezshop_replay', **kwargs)
        self.cfg = declare_settings(self, ReplaySettings)
        if not self.cfg.bag:
            raise BagError('no bag given (parameter bag)')
        self.reader = BagReader(self.cfg.bag)
        if self.reader.start_ns is None:
            raise BagError(f'{self.cfg.bag}: the bag holds no messages')
        self.recorded_ns = self.reader.custom_data.get('ezshop.namespace', '/')
        self.topics = replay_topics(list(self.reader.topics), self.recorded_ns,
                                    self.cfg.topics)
        if not self.topics:
            raise BagError(f'nothing to replay: no recorded topic matches {self.cfg.topics} '
                           f'(recorded: {", ".join(sorted(self.reader.topics))})')
        self.publishers_by_topic = {}
        for topic in self.topics:
            info = self.reader.topics[topic]
            name = relative_name(self.recorded_ns, topic) or topic
            self.publishers_by_topic[topic] = self.create_publisher(
                get_message(info.type), name,
                qos_to_rclpy(replay_qos(info.offered_qos_profiles)))
        self.clock_pub = CLOCK.publisher(self)
        # The clock starts at the first input: a recorder starts before the store's inputs
        # flow, and nothing is gained by replaying silence.
        messages = self.reader.messages(self.topics)
        first = next(messages, None)
        messages.close()
        self.clock = PlaybackClock(first.log_time_ns if first else self.reader.start_ns,
                                   self.cfg.rate)
        self._clock_period = 1.0 / self.cfg.clock_hz
        self._last_clock_wall = 0.0
        self._lock = threading.Lock()
        self.live_receipts: list[Receipt] = []
        self.live_names: dict[str, str] = {}
        self.gallery_seen = False
        RECEIPTS.subscription(self, self._on_receipt)
        self.gallery = GalleryClient(self, WholeGallery(self._on_gallery), with_embeddings=False)
        self.published: Counter = Counter()
        self.enrolled: list[str] = []
        self.input_span_ns = (self.reader.start_ns, self.reader.end_ns)

    # -- live graph ----------------------------------------------------------------------
    def _on_receipt(self, msg: Receipt) -> None:
        with self._lock:
            self.live_receipts.append(msg)

    def _on_gallery(self, customers) -> None:
        """The live store's whole gallery (ids and names) of one revision."""
        with self._lock:
            self.live_names = {c.customer_id: c.name for c in customers}
            self.gallery_seen = True

    # -- clock and waiting ----------------------------------------------------------------
    def publish_clock(self, force: bool = False) -> None:
        wall = time.monotonic()
        if force or wall - self._last_clock_wall >= self._clock_period:
            self._last_clock_wall = wall
            self.clock_pub.publish(Clock(clock=time_from_ns(self.clock.now_ns(wall))))

    def wait(self, predicate, timeout_s: float) -> bool:
        """Publish the clock and sleep until predicate() or the timeout (wall s)."""
        deadline = time.monotonic() + timeout_s
        while True:
            if not self.context.ok():
                raise StopRequestedError()
            if predicate():
                return True
            if time.monotonic() >= deadline:
                return False
            self.publish_clock()
            time.sleep(min(self._clock_period, 0.02))

    def say(self, text: str) -> None:
        print(f'replay: {text}', flush=True)

    # -- the steps -------------------------------------------------------------------------
    def recorded_galleries(self) -> list[Gallery]:
        topics = [t for t, info in self.reader.topics.items()
                  if info.type == 'ezshop_msgs/msg/Gallery']
        return [deserialize_message(m.data, Gallery) for m in self.reader.messages(topics)]

    def recorded_customers(self) -> list:
        """The customers to enrol: the newest recorded gallery's, plus those an earlier one
        held under another name (forgotten while recording). A name is enrolled once: the
        store may have re-enrolled someone under a new id, and two entries with one face
        would make nobody recognisable."""
        galleries = self.recorded_galleries()
        chosen: dict[str, object] = {}
        for gallery in reversed(galleries):
            for customer in gallery.customers:
                chosen.setdefault(customer.name, customer)
        return list(chosen.values())

    def enrol(self) -> bool:
        """Register the recorded customers the store does not know by name."""
        customers = self.recorded_customers()
        if not customers:
            self.say('the bag holds no gallery: nobody to enrol')
            return True
        client = self.create_client(RegisterCustomer, 'register_customer')
        if not self.wait(client.service_is_ready, self.cfg.service_timeout_s):
            self.say('register_customer is not available: is the store graph running?')
            return False
        self.wait(lambda: self.gallery_seen, 5.0)
        with self._lock:
            known = set(self.live_names.values())
        made = []  # the store's new ids: what is printed is ids, never names
        for customer in customers:
            if customer.name in known:
                self.say(f'{customer.customer_id} (in the bag) is enrolled already')
                continue
            future = client.call_async(RegisterCustomer.Request(
                name=customer.name, embeddings=list(customer.embeddings),
                dim=customer.embedding_dim, model=customer.model))
            if not self.wait(future.done, self.cfg.service_timeout_s) or \
                    not future.result().success:
                reason = future.result().message if future.done() else 'no answer'
                self.say(f'enrolling {customer.customer_id} (in the bag) failed: {reason}')
                return False
            self.enrolled.append(customer.name)
            made.append(f'{customer.customer_id} as {future.result().customer_id}')
        names = {c.name for c in customers}

        def all_in_gallery() -> bool:
            with self._lock:
                return names <= set(self.live_names.values())
        if not self.wait(all_in_gallery, self.cfg.service_timeout_s):
            self.say('the store\'s gallery never listed the enrolled customers')
            return False
        self.say(f'enrolled {len(self.enrolled)} customers ({", ".join(made)}); '
                 f'{len(customers) - len(self.enrolled)} known already')
        return True

    def wait_for_subscribers(self) -> None:
        waiting = [t for t in self.topics if matches(WAIT_PATTERNS, self.recorded_ns, t)]

        def all_listen() -> bool:
            return all(self.publishers_by_topic[t].get_subscription_count() for t in waiting)
        if self.wait(all_listen, self.cfg.wait_timeout_s):
            self.say(f'{len(waiting)} input topics have subscribers')
        else:
            silent = [t for t in waiting
                      if not self.publishers_by_topic[t].get_subscription_count()]
            self.say(f'starting anyway: nobody subscribes to {", ".join(silent)}')

    def play(self) -> None:
        """Every message of the chosen topics at its recorded time (x rate)."""
        duration = (self.reader.end_ns - self.clock.start_ns) / 1e9
        self.say(f'playing {len(self.topics)} topics, {duration:.1f} s of bag at '
                 f'rate {self.cfg.rate:g}')
        self.clock.start(time.monotonic())
        first = last = None
        for message in self.reader.messages(self.topics):
            due = self.clock.wall_at(message.log_time_ns)
            self.wait(lambda due=due: time.monotonic() >= due, float('inf'))
            self.publish_clock()
            self.publishers_by_topic[message.topic].publish(message.data)
            self.published[message.topic] += 1
            first = message.log_time_ns if first is None else first
            last = message.log_time_ns
        if first is not None:
            self.input_span_ns = (first, last)
        self.say(f'published {sum(self.published.values())} messages')

    def recorded_receipts(self) -> list:
        topics = [t for t, info in self.reader.topics.items()
                  if info.type == 'ezshop_msgs/msg/Receipt']
        names = {c.customer_id: c.name for g in self.recorded_galleries() for c in g.customers}
        return [self._summary(deserialize_message(m.data, Receipt), names)
                for m in self.reader.messages(topics)]

    @staticmethod
    def _summary(msg: Receipt, names: dict[str, str]):
        return summary(msg.customer_name or names.get(msg.customer_id, msg.customer_id),
                       [(line.item_id, line.quantity) for line in msg.lines], msg.total_cents,
                       msg.currency, msg.revision, msg.visit_id, stamp_ns(msg.header.stamp))

    def replayed_receipts(self) -> list:
        with self._lock:
            receipts, names = list(self.live_receipts), dict(self.live_names)
        return [self._summary(r, names) for r in receipts]

    def finish(self):
        """Run the clock on until the receipts are in (or tail_s), then compare them."""
        start, end = self.input_span_ns
        recorded = final_receipts(self.recorded_receipts(), start, end)
        if not self.cfg.compare_receipts:
            self.wait(lambda: False, self.cfg.tail_s / self.cfg.rate)
            return None
        matched_since: list[float] = []

        def receipts_in() -> bool:
            replayed = final_receipts(self.replayed_receipts(), start, end)
            if not compare(recorded, replayed).same:
                matched_since.clear()
                return False
            if not matched_since:
                matched_since.append(time.monotonic())
            return time.monotonic() - matched_since[0] >= AFTER_MATCH_S / self.cfg.rate
        self.wait(receipts_in, self.cfg.tail_s / self.cfg.rate)
        comparison = compare(recorded, final_receipts(self.replayed_receipts(), start, end))
        for line in report_lines(comparison):
            print(line, flush=True)
        return comparison

    def run(self) -> int:
        self.publish_clock(force=True)
        if self.cfg.enrol and not self.enrol():
            return EXIT_FAILED
        if self.cfg.wait_for_subscribers:
            self.wait_for_subscribers()
        self.wait(lambda: False, self.cfg.settle_s)
        self.play()
        comparison = self.finish()
        if self.cfg.results_file:
            results = {'bag': str(Path(self.cfg.bag).resolve()), 'rate': self.cfg.rate,
                       'topics': self.topics, 'published': dict(self.published),
                       'enrolled': self.enrolled,
                       'receipts': comparison.as_dict() if comparison else None}
            path = Path(self.cfg.results_file)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(results, indent=2))
        if comparison is not None and not comparison.same and self.cfg.fail_on_difference:
            return EXIT_DIFFERENT
        return EXIT_OK


def _spin(executor) -> None:
    try:
        executor.spin()
    except (ExternalShutdownException, KeyboardInterrupt):
        pass


def replay(node: ReplayNode) -> int:
    """Play the bag (spinning on a thread meanwhile) and return the verdict's exit code."""
    executor = SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    spinner = threading.Thread(target=_spin, args=(executor,), daemon=True)
    spinner.start()
    try:
        return node.run()
    except (KeyboardInterrupt, ExternalShutdownException, StopRequestedError):
        print('replay: stopped', file=sys.stderr, flush=True)
        return EXIT_OK
    except BagError as exc:
        print(f'replay: {exc}', file=sys.stderr, flush=True)
        return EXIT_BAD_ARGS
    finally:
        # The spinning thread must be done before the node and the context go.
        executor.shutdown(timeout_sec=5.0)
        spinner.join(timeout=5.0)


def main(args=None, parameter_overrides=None) -> int:
    return run_node(partial(ReplayNode, parameter_overrides=parameter_overrides or []), args,
                    run=replay)


def console_main() -> None:
    sys.exit(main())
