"""What to record and replay (plain Python, no rclpy): topic patterns, image throttling,
the QoS a recorder asks for, and the replay clock.

Patterns are topic names relative to the store's namespace, one `*` per name segment
(`cameras/*/image_raw`); a pattern starting with `/` is absolute (`/diagnostics`).
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from ezshop_bag.rosbag2 import Qos

#: What the hardware (or the simulator in its place) publishes: replayed into a store graph.
INPUT_PATTERNS = (
    'cameras/*/image_raw',
    'cameras/*/camera_info',
    'shelves/*/*/range',
    'shelves/*/*/illuminance',
    'fridges/*/temperature',
)
#: Inputs a store graph subscribes to: replay waits for a subscriber on each before it starts.
WAIT_PATTERNS = (
    'cameras/*/image_raw',
    'shelves/*/*/range',
    'shelves/*/*/illuminance',
)
#: Recorded at most `image_rate_hz` times a second per topic.
THROTTLED_PATTERNS = (
    'cameras/*/image_raw',
    'cameras/*/camera_info',
)
#: Everything the store decides from and decides (docs/architecture.md, Topics). The gallery
#: itself is no topic: the recorder fetches it from get_gallery and writes it as `gallery`.
RECORDED_PATTERNS = INPUT_PATTERNS + (
    'cameras/*/faces',
    'track_identities',
    'shelf_events',
    'shelf_state',
    'customer_events',
    'cart_actions',
    'carts',
    'receipts',
    'inventory',
    'gallery_revision',
    'alerts',
    'sim/ground_truth',
)
#: Depth of a recorder's keep-last subscription, at least (events must not be overwritten
#: while the recorder is busy) and at most.
MIN_RECORD_DEPTH = 100
MAX_RECORD_DEPTH = 1000
#: Depth of a replay publisher whose recorded history is unknown.
REPLAY_DEPTH = 10
KNOWN_RELIABILITY = ('reliable', 'best_effort')
KNOWN_DURABILITY = ('volatile', 'transient_local')


def _clean(names) -> tuple[str, ...]:
    return tuple(n.strip() for n in names or () if n and n.strip())


def _segments_match(pattern: str, name: str) -> bool:
    pattern_parts, name_parts = pattern.split('/'), name.split('/')
    return len(pattern_parts) == len(name_parts) and all(
        fnmatchcase(n, p) for p, n in zip(pattern_parts, name_parts, strict=True))


def relative_name(namespace: str, full_name: str) -> str | None:
    """`full_name` relative to `namespace` ('/store1', '/store1/gallery' -> 'gallery'); None
    outside it."""
    prefix = namespace.rstrip('/') + '/'
    return full_name[len(prefix):] if full_name.startswith(prefix) else None


def matches(patterns, namespace: str, full_name: str) -> bool:
    """Whether a fully qualified topic name matches one of the patterns."""
    relative = relative_name(namespace, full_name)
    for pattern in patterns:
        if pattern.startswith('/'):
            if _segments_match(pattern.lstrip('/'), full_name.lstrip('/')):
                return True
        elif relative is not None and _segments_match(pattern, relative):
            return True
    return False


@dataclass(frozen=True)
class TopicSelector:
    """Which topics a recorder takes: the store's (RECORDED_PATTERNS) plus `extra`, minus
    `exclude`; camera images only when `images` (an image rate above 0)."""

    namespace: str = '/'
    extra: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    images: bool = True

    @classmethod
    def create(cls, namespace: str = '/', extra=(), exclude=(), images: bool = True):
        return cls(namespace or '/', _clean(extra), _clean(exclude), images)

    def wanted(self, full_name: str) -> bool:
        if matches(self.exclude, self.namespace, full_name):
            return False
        if not self.images and self.throttled(full_name):
            return False
        return matches(RECORDED_PATTERNS + self.extra, self.namespace, full_name)

    def throttled(self, full_name: str) -> bool:
        return matches(THROTTLED_PATTERNS, self.namespace, full_name)


class Throttle:
    """At most `rate_hz` messages a second per topic, spread evenly: a message is kept when
    it arrives at its slot, or a little early (EARLY_NS, at most a quarter period: the jitter
    of a camera running at exactly the rate loses no frame); after a gap the slots start
    over."""

    EARLY_NS = 25_000_000

    def __init__(self, rate_hz: float):
        self.period_ns = int(1e9 / rate_hz) if rate_hz > 0 else 0
        self.early_ns = min(self.EARLY_NS, self.period_ns // 4)
        self._due: dict[str, int] = {}
        self.kept: dict[str, int] = {}
        self.dropped: dict[str, int] = {}

    def keep(self, topic: str, time_ns: int) -> bool:
        """Whether to keep this topic's message at time_ns (and count it either way)."""
        if self.period_ns <= 0:
            self.dropped[topic] = self.dropped.get(topic, 0) + 1
            return False
        due = self._due.get(topic)
        if due is not None and time_ns < due - self.early_ns:
            self.dropped[topic] = self.dropped.get(topic, 0) + 1
            return False
        slot = due if due is not None and time_ns < due + self.period_ns else time_ns
        self._due[topic] = slot + self.period_ns
        self.kept[topic] = self.kept.get(topic, 0) + 1
        return True


def record_qos(offered: list[Qos], throttled: bool = False) -> Qos:
    """The subscription a recorder makes for these publishers (rosbag2's adaptation):
    reliable only when every publisher is, transient local only when every publisher is
    (then the history they keep arrives too); keep-all when a publisher keeps all; else
    keep-last, deep enough for events. A throttled topic (camera images) is read like the
    face node reads it, best effort and newest only: frames are dropped anyway, and a
    reliable reader of 40 images a second costs the camera and the recorder acknowledgements
    and repairs for nothing (best effort matches a reliable publisher too)."""
    if throttled:
        return Qos(depth=1, reliability='best_effort', durability='volatile')
    if not offered:
        return Qos(depth=MIN_RECORD_DEPTH)
    reliable = all(q.reliability == 'reliable' for q in offered)
    latched = all(q.durability == 'transient_local' for q in offered)
    keep_all = any(q.history == 'keep_all' for q in offered)
    depth = min(max(max(q.depth for q in offered), MIN_RECORD_DEPTH), MAX_RECORD_DEPTH)
    return Qos(history='keep_all' if keep_all else 'keep_last', depth=depth,
               reliability='reliable' if reliable else 'best_effort',
               durability='transient_local' if latched else 'volatile')


def join_now(has_consumer: bool, published_for_s: float, alone_after_s: float) -> bool:
    """Whether the recorder subscribes to a topic now: once someone else consumes it, else
    once it has been published for `alone_after_s` (0 = at once). A subscriber is a signal
    in this graph: the simulator starts its scenario, and replay its playback, once every
    consumer listens; a recorder subscribing first would start them before the store is
    ready (the referee subscribes to the ground truth only after enrolling the shoppers)."""
    return has_consumer or published_for_s >= alone_after_s


def replay_qos(offered: list[Qos]) -> Qos:
    """The publisher replay makes: the first recorded publisher's reliability and
    durability, its history and depth when known (DDS does not tell other endpoints a
    publisher's history: what a recorder sees is 'unknown', depth 0; then keep-last
    REPLAY_DEPTH). Deadlines and liveliness are left to the defaults."""
    if not offered:
        return Qos(depth=REPLAY_DEPTH)
    first = offered[0]
    known = first.history in ('keep_last', 'keep_all') and first.depth > 0
    return Qos(history=first.history if known else 'keep_last',
               depth=first.depth if known else REPLAY_DEPTH,
               reliability=first.reliability if first.reliability in KNOWN_RELIABILITY
               else 'reliable',
               durability=first.durability if first.durability in KNOWN_DURABILITY
               else 'volatile')


def replay_topics(recorded: list[str], namespace: str, choice: list[str]) -> list[str]:
    """The recorded topics replay publishes: `inputs` (the hardware's topics, default),
    `all`, or named topics / patterns (relative to the recorded namespace, or absolute)."""
    choice = list(_clean(choice)) or ['inputs']
    picked = []
    for topic in recorded:
        for item in choice:
            if item == 'all' or (item == 'inputs' and matches(INPUT_PATTERNS, namespace, topic)) \
                    or (item not in ('all', 'inputs') and matches([item], namespace, topic)):
                picked.append(topic)
                break
    return picked


class PlaybackClock:
    """Bag time during replay: paused at the bag's start until started, then
    `start + (wall - wall_at_start) * rate`; never goes backwards."""

    def __init__(self, start_ns: int, rate: float = 1.0):
        if rate <= 0:
            raise ValueError(f'rate must be > 0 (got {rate})')
        self.start_ns = start_ns
        self.rate = rate
        self._wall_start: float | None = None
        self._last = start_ns

    def start(self, wall_s: float) -> None:
        self._wall_start = wall_s

    @property
    def running(self) -> bool:
        return self._wall_start is not None

    def now_ns(self, wall_s: float) -> int:
        if self._wall_start is not None:
            now = self.start_ns + int((wall_s - self._wall_start) * self.rate * 1e9)
            self._last = max(self._last, now)
        return self._last

    def wall_at(self, bag_ns: int) -> float:
        """The wall time (same clock as start()) at which bag time bag_ns is due."""
        if self._wall_start is None:
            raise RuntimeError('the clock has not started')
        return self._wall_start + (bag_ns - self.start_ns) / 1e9 / self.rate
