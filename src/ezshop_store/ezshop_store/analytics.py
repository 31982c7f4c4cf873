"""Occupancy and dwell analytics of the store: plain Python, no rclpy.

analytics_node converts its inputs (door events, shelf events, cart actions, receipts, face
tracks of every camera) into the small objects below and feeds them to :class:`Analytics`;
each call returns what changed (:class:`Changes`) and decides nothing else. The node publishes
:meth:`Analytics.snapshot` and exports it as Prometheus metrics.

Time is the inputs' stamps, never wall time: "now" is the newest stamp received on any input,
so a replayed bag or a simulated store gives the same numbers as the live one.

- Occupancy: ENTERED and SEEN (a late entry) open a visit, EXITED and ABSENT close it.
- Visit duration: entry stamp to exit stamp of each completed visit (the newest visits_kept).
- Dwell: a face track of a shelf camera is "in front of" the shelf whose reach zones are
  nearest its face; the time between consecutive frames it is seen in (gaps up to
  track_gap_ns) adds to that shelf's dwell. A track that stays min_dwell_ns looked at the shelf.
- Conversion per shelf: identified shoppers who were charged for an item from it (cart
  actions) over the shoppers who looked at it (an unidentified track counts as one shopper; a
  shopper who picked looked, even when the cameras missed the face).
- Queue at the doors: tracks of the entrance camera whose customer is not in the store (or is
  not identified yet), and of the exit camera whose customer has not checked out, seen in the
  last track_gap_ns.
- Bad input (duplicates, unknown ids, NaN, impossible values) is refused and counted by reason.
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from ezshop_common.boxes import Box
from ezshop_common.store_config import ROLE_ENTRANCE, ROLE_EXIT, ROLE_SHELF, StoreConfig

S = 1_000_000_000
HOUR_NS = 3600 * S

# CustomerEvent kinds (ezshop_msgs/CustomerEvent).
ENTERED, EXITED, UNKNOWN_PERSON, SEEN, ABSENT = 0, 1, 2, 3, 4
OPENING_KINDS = (ENTERED, SEEN)
CLOSING_KINDS = (EXITED, ABSENT)

# What changed (Changes.changed).
OCCUPANCY = 'occupancy'
VISITS = 'visits'
QUEUE = 'queue'
SHELVES = 'shelves'
ITEMS = 'items'
REVENUE = 'revenue'

# Why an input was refused (Changes.refused; counted in Analytics.refused).
DUPLICATE = 'duplicate'
BAD_STAMP = 'bad_stamp'
NON_FINITE = 'non_finite'
UNKNOWN_KIND = 'unknown_kind'
MISSING_CUSTOMER = 'missing_customer'
ALREADY_INSIDE = 'already_inside'
NOT_INSIDE = 'not_inside'
EXIT_BEFORE_ENTRY = 'exit_before_entry'
UNKNOWN_LANE = 'unknown_lane'
UNKNOWN_ITEM = 'unknown_item'
UNKNOWN_SHELF = 'unknown_shelf'
UNKNOWN_CAMERA = 'unknown_camera'
ZERO_QUANTITY = 'zero_quantity'
OUT_OF_ORDER = 'out_of_order'
MISSING_ID = 'missing_id'
NEGATIVE_TOTAL = 'negative_total'
#: Refusals that are the graph disagreeing with itself, not malformed input: a door pass the
#: door missed and fusion opened late (SEEN) then seen by the door after all, an exit after
#: an absent checkout, frames replayed from a camera's history.
INCONSISTENT = frozenset({ALREADY_INSIDE, NOT_INSIDE, EXIT_BEFORE_ENTRY, OUT_OF_ORDER})


@dataclass(frozen=True)
class AnalyticsParams:
    """The core's settings in its units (ns); analytics_settings.AnalyticsSettings makes them."""

    track_gap_ns: int = 1 * S
    #: A camera whose newest frame is this far behind now sees nobody (it went silent).
    camera_silent_ns: int = 5 * S
    min_dwell_ns: int = 2 * S
    min_confidence: float = 0.3
    visits_kept: int = 10_000
    hours_kept: int = 24
    #: Event ids remembered to refuse duplicates (the newest).
    ids_kept: int = 100_000


# -- inputs -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class DoorEvent:
    """A CustomerEvent: a door pass or fusion's presence (SEEN, ABSENT)."""

    event_id: str
    kind: int
    customer_id: str
    stamp_ns: int


@dataclass(frozen=True)
class ShelfChange:
    """A ShelfEvent: quantity_delta < 0 = units taken, > 0 = put back."""

    event_id: str
    shelf_id: str
    lane_id: str
    item_id: str
    quantity_delta: int
    stamp_ns: int


@dataclass(frozen=True)
class Attribution:
    """A CartAction: who was charged (quantity > 0) or credited for an item of a shelf."""

    event_id: str
    customer_id: str
    item_id: str
    quantity: int
    shelf_id: str
    stamp_ns: int
    confidence: float = 1.0
    resolves_event_id: str = ''


@dataclass(frozen=True)
class ReceiptTotal:
    """A Receipt's total (its newest revision counts)."""

    receipt_id: str
    revision: int
    total_cents: int
    currency: str
    stamp_ns: int


@dataclass(frozen=True)
class Sighting:
    """One face in one frame: its track, identity and the centre of its box (px)."""

    track_id: int
    customer_id: str
    confidence: float
    x: float
    y: float


@dataclass(frozen=True)
class FaceFrame:
    """Every face one camera saw in one image (stamp = the image's)."""

    camera_id: str
    stamp_ns: int
    faces: tuple[Sighting, ...]


# -- outputs ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Changes:
    """What one input changed (names above), and why it was refused ('' = accepted)."""

    changed: frozenset[str] = frozenset()
    refused: str = ''

    def __or__(self, other: Changes) -> Changes:
        return Changes(self.changed | other.changed, self.refused or other.refused)


NOTHING = Changes()


@dataclass(frozen=True)
class ShelfNumbers:
    shelf_id: str
    people_now: int
    dwell_s: float
    shoppers_looked: int
    shoppers_picked: int
    conversion: float  # NaN when nobody looked
    units_taken: int
    units_put_back: int


@dataclass(frozen=True)
class ItemNumbers:
    item_id: str
    units_taken: int
    units_put_back: int
    take_events: int
    put_back_events: int


@dataclass(frozen=True)
class Snapshot:
    """Every number analytics_node publishes, at stamp_ns (the newest input stamp)."""

    stamp_ns: int
    people_in_store: int
    entries_total: int
    exits_total: int
    entries_last_hour: int
    unknown_passes: int
    entries_per_hour: tuple[tuple[int, int], ...]  # (hour start ns, visits opened)
    visits_completed: int
    visit_duration_sum_s: float
    visit_duration_p50_s: float
    visit_duration_p90_s: float
    queue_entrance: int
    queue_exit: int
    shelves: tuple[ShelfNumbers, ...]
    items: tuple[ItemNumbers, ...]
    receipts_total: int
    revenue_cents: int
    currency: str
    refused: dict[str, int]


def percentile(values: Iterable[float], fraction: float) -> float:
    """The fraction-quantile (0..1) with linear interpolation between closest ranks (numpy's
    default); NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# -- state ------------------------------------------------------------------------------------

@dataclass
class _Track:
    """One face track of one camera, in front of one place (a shelf, or a door's role)."""

    place: str
    first_ns: int
    last_ns: int
    customer_id: str = ''
    dwell_ns: int = 0
    #: It stayed min_dwell_ns: counted as a look at its shelf (anonymously until identified).
    looked: bool = False


@dataclass
class _Shelf:
    dwell_ns: int = 0
    looked: set[str] = field(default_factory=set)
    anonymous_looks: int = 0
    pickers: set[str] = field(default_factory=set)
    units_taken: int = 0
    units_put_back: int = 0


@dataclass
class _Item:
    units_taken: int = 0
    units_put_back: int = 0
    take_events: int = 0
    put_back_events: int = 0


class Analytics:
    """The store's numbers, kept up to date from its events (see the module doc)."""

    def __init__(self, store: StoreConfig, params: AnalyticsParams = AnalyticsParams()):
        self.params = params
        self.currency = store.currency
        self.lane_items = {lane.key: lane.item_id for lane in store.lanes}
        self.item_ids = tuple(item.item_id for item in store.items)
        self.shelf_ids = tuple(shelf.shelf_id for shelf in store.shelves)
        self.camera_roles = {camera.camera_id: camera.role for camera in store.cameras}
        #: Shelf cameras: (shelf, reach zone box) of every lane they cover.
        self.zones: dict[str, tuple[tuple[str, Box], ...]] = {
            camera.camera_id: tuple((zone.shelf_id, zone.box) for zone in camera.coverage)
            for camera in store.cameras}
        self.now_ns = 0
        self.refused: Counter = Counter()
        self._ids: OrderedDict[object, None] = OrderedDict()
        # occupancy
        self.inside: dict[str, int] = {}  # customer -> entry stamp
        self.entries_total = 0
        self.exits_total = 0
        self.unknown_passes = 0
        self._entry_stamps: deque[int] = deque()
        self._hours: dict[int, int] = {}
        self._durations: deque[float] = deque(maxlen=params.visits_kept)
        # faces
        self._tracks: dict[tuple[str, int], _Track] = {}
        self._camera_ns: dict[str, int] = {}
        self._presence: tuple = ()
        # shelves, items, money
        self._shelves = {shelf_id: _Shelf() for shelf_id in self.shelf_ids}
        self._items = {item_id: _Item() for item_id in self.item_ids}
        self._receipts: dict[str, tuple[int, int]] = {}  # id -> (revision, total)

    # ------------------------------------------------------------ helpers
    def _refuse(self, reason: str) -> Changes:
        self.refused[reason] += 1
        return Changes(refused=reason)

    def _first_time(self, key: object) -> bool:
        """True the first time an id is seen (the newest ids_kept are remembered)."""
        if key in self._ids:
            return False
        self._ids[key] = None
        if len(self._ids) > self.params.ids_kept:
            self._ids.popitem(last=False)
        return True

    def _advance(self, stamp_ns: int) -> None:
        self.now_ns = max(self.now_ns, stamp_ns)

    # ------------------------------------------------------------ door events
    def on_door_event(self, event: DoorEvent) -> Changes:
        if event.stamp_ns <= 0:
            return self._refuse(BAD_STAMP)
        if event.kind not in (ENTERED, EXITED, UNKNOWN_PERSON, SEEN, ABSENT):
            return self._refuse(UNKNOWN_KIND)
        if event.kind != UNKNOWN_PERSON and not event.customer_id:
            return self._refuse(MISSING_CUSTOMER)
        if not event.event_id or not self._first_time(('door', event.event_id)):
            return self._refuse(DUPLICATE if event.event_id else MISSING_ID)
        self._advance(event.stamp_ns)
        if event.kind == UNKNOWN_PERSON:
            self.unknown_passes += 1
            return Changes(frozenset({VISITS}))
        customer = event.customer_id
        if event.kind in OPENING_KINDS:
            if customer in self.inside:
                return self._refuse(ALREADY_INSIDE)
            self.inside[customer] = event.stamp_ns
            self.entries_total += 1
            self._entry_stamps.append(event.stamp_ns)
            hour = event.stamp_ns // HOUR_NS * HOUR_NS
            self._hours[hour] = self._hours.get(hour, 0) + 1
            self._prune_hours()
            return Changes(frozenset({OCCUPANCY, VISITS, QUEUE}))
        entered_ns = self.inside.get(customer)
        if entered_ns is None:
            return self._refuse(NOT_INSIDE)
        if event.stamp_ns < entered_ns:
            return self._refuse(EXIT_BEFORE_ENTRY)
        del self.inside[customer]
        self.exits_total += 1
        self._durations.append((event.stamp_ns - entered_ns) / S)
        return Changes(frozenset({OCCUPANCY, VISITS, QUEUE}))

    def _prune_hours(self) -> None:
        newest = max(self._hours)
        oldest = newest - (self.params.hours_kept - 1) * HOUR_NS
        for hour in [h for h in self._hours if h < oldest]:
            del self._hours[hour]
        cutoff = self.now_ns - HOUR_NS
        while self._entry_stamps and self._entry_stamps[0] <= cutoff:
            self._entry_stamps.popleft()

    # ------------------------------------------------------------ shelf events
    def on_shelf_event(self, change: ShelfChange) -> Changes:
        if change.stamp_ns <= 0:
            return self._refuse(BAD_STAMP)
        lane_item = self.lane_items.get((change.shelf_id, change.lane_id))
        if lane_item is None:
            return self._refuse(UNKNOWN_LANE)
        if change.item_id != lane_item:
            return self._refuse(UNKNOWN_ITEM)
        if change.quantity_delta == 0:
            return self._refuse(ZERO_QUANTITY)
        if not change.event_id or not self._first_time(('shelf', change.event_id)):
            return self._refuse(DUPLICATE if change.event_id else MISSING_ID)
        self._advance(change.stamp_ns)
        shelf, item = self._shelves[change.shelf_id], self._items[change.item_id]
        units = abs(change.quantity_delta)
        if change.quantity_delta < 0:
            shelf.units_taken += units
            item.units_taken += units
            item.take_events += 1
        else:
            shelf.units_put_back += units
            item.units_put_back += units
            item.put_back_events += 1
        return Changes(frozenset({SHELVES, ITEMS}))

    # ------------------------------------------------------------ cart actions
    def on_attribution(self, action: Attribution) -> Changes:
        """A cart action: an identified shopper charged for an item of a shelf picked there
        (and so looked at it). Unattributed and put-back actions change nothing."""
        if action.stamp_ns <= 0:
            return self._refuse(BAD_STAMP)
        if not math.isfinite(action.confidence):
            return self._refuse(NON_FINITE)
        if action.shelf_id and action.shelf_id not in self._shelves:
            return self._refuse(UNKNOWN_SHELF)
        if action.item_id not in self._items:
            return self._refuse(UNKNOWN_ITEM)
        key = ('cart', action.event_id, action.resolves_event_id)
        if not action.event_id or not self._first_time(key):
            return self._refuse(DUPLICATE if action.event_id else MISSING_ID)
        self._advance(action.stamp_ns)
        if not action.customer_id or action.quantity <= 0 or not action.shelf_id:
            return NOTHING
        shelf = self._shelves[action.shelf_id]
        if action.customer_id in shelf.pickers:
            return NOTHING
        shelf.pickers.add(action.customer_id)
        shelf.looked.add(action.customer_id)
        return Changes(frozenset({SHELVES}))

    # ------------------------------------------------------------ receipts
    def on_receipt(self, receipt: ReceiptTotal) -> Changes:
        if not receipt.receipt_id:
            return self._refuse(MISSING_ID)
        if receipt.stamp_ns <= 0:
            return self._refuse(BAD_STAMP)
        if receipt.total_cents < 0:
            return self._refuse(NEGATIVE_TOTAL)
        known = self._receipts.get(receipt.receipt_id)
        if known is not None and receipt.revision <= known[0]:
            return self._refuse(DUPLICATE)
        self._advance(receipt.stamp_ns)
        self._receipts[receipt.receipt_id] = (receipt.revision, receipt.total_cents)
        if receipt.currency:
            self.currency = receipt.currency
        return Changes(frozenset({REVENUE}))

    # ------------------------------------------------------------ faces
    def on_faces(self, frame: FaceFrame) -> Changes:
        role = self.camera_roles.get(frame.camera_id)
        if role is None:
            return self._refuse(UNKNOWN_CAMERA)
        if frame.stamp_ns <= 0:
            return self._refuse(BAD_STAMP)
        if frame.stamp_ns < self._camera_ns.get(frame.camera_id, 0):
            return self._refuse(OUT_OF_ORDER)
        self._camera_ns[frame.camera_id] = frame.stamp_ns
        self._advance(frame.stamp_ns)
        changes = NOTHING
        for face in frame.faces:
            if not (math.isfinite(face.x) and math.isfinite(face.y)):
                changes |= self._refuse(NON_FINITE)
                continue
            confidence = face.confidence
            if not math.isfinite(confidence):
                changes |= self._refuse(NON_FINITE)
                confidence = 0.0
            place = self._place(frame.camera_id, role, face)
            if place is None:
                continue
            changes |= self._sight(frame.camera_id, frame.stamp_ns, place, face, confidence)
        # Tracks this camera has not seen for track_gap_ns left (by its own clock: another
        # camera's frames may run ahead of this one's).
        cutoff = frame.stamp_ns - self.params.track_gap_ns
        for key in [k for k, t in self._tracks.items()
                    if k[0] == frame.camera_id and t.last_ns < cutoff]:
            del self._tracks[key]
        return changes | self.tick()

    def _place(self, camera_id: str, role: str, face: Sighting) -> str | None:
        """The shelf a face is in front of (nearest reach zone), or the door role."""
        if role != ROLE_SHELF:
            return role
        zones = self.zones[camera_id]
        if not zones:
            return None
        return min(zones, key=lambda zone: zone[1].distance_to(face.x, face.y))[0]

    def _sight(self, camera_id: str, stamp_ns: int, place: str, face: Sighting,
               confidence: float) -> Changes:
        key = (camera_id, face.track_id)
        track = self._tracks.get(key)
        changed = {QUEUE} if place in (ROLE_ENTRANCE, ROLE_EXIT) else {SHELVES}
        if track is not None and (track.place != place
                                  or stamp_ns - track.last_ns > self.params.track_gap_ns):
            self._tracks.pop(key)  # walked to another shelf, or a new person with that id
            track = None
        if track is None:
            track = self._tracks[key] = _Track(place, stamp_ns, stamp_ns)
        else:
            step = stamp_ns - track.last_ns
            track.dwell_ns += step
            track.last_ns = stamp_ns
            if place in self._shelves:
                self._shelves[place].dwell_ns += step
        if face.customer_id and confidence >= self.params.min_confidence \
                and face.customer_id != track.customer_id:
            self._identify(track, face.customer_id)
        if place in self._shelves and not track.looked \
                and track.dwell_ns >= self.params.min_dwell_ns:
            track.looked = True
            shelf = self._shelves[place]
            if track.customer_id:
                shelf.looked.add(track.customer_id)
            else:
                shelf.anonymous_looks += 1
        return Changes(frozenset(changed))

    def _identify(self, track: _Track, customer_id: str) -> None:
        """A track gets (or changes) its identity: an anonymous look becomes the customer's; a
        look already named stays with that name (in crowds tracks may change hands)."""
        shelf = self._shelves.get(track.place)
        if shelf is not None and track.looked and not track.customer_id:
            shelf.anonymous_looks -= 1
            shelf.looked.add(customer_id)
        track.customer_id = customer_id

    def tick(self) -> Changes:
        """What changed as time went on: the people in front of the shelves and at the doors
        (a track leaves track_gap_ns after its camera last saw it; a silent camera sees
        nobody)."""
        presence = (tuple(sorted(self._people_at().items())), self._queue(ROLE_ENTRANCE),
                    self._queue(ROLE_EXIT))
        if presence == self._presence:
            return NOTHING
        self._presence = presence
        return Changes(frozenset({SHELVES, QUEUE}))

    # ------------------------------------------------------------ output
    def _present(self) -> Iterator[_Track]:
        """The tracks in view now."""
        silent = self.now_ns - self.params.camera_silent_ns
        for (camera_id, _), track in self._tracks.items():
            newest = self._camera_ns[camera_id]
            if newest >= silent and track.last_ns >= newest - self.params.track_gap_ns:
                yield track

    def _people_at(self) -> Counter:
        return Counter(track.place for track in self._present())

    def _queue(self, role: str) -> int:
        waiting = 0
        for track in self._present():
            if track.place != role:
                continue
            inside = track.customer_id in self.inside
            if role == ROLE_ENTRANCE and not inside:
                waiting += 1
            elif role == ROLE_EXIT and (inside or not track.customer_id):
                waiting += 1
        return waiting

    def snapshot(self) -> Snapshot:
        """Every number as of now (the newest input stamp)."""
        cutoff = self.now_ns - HOUR_NS
        people_at = self._people_at()
        shelves = []
        for shelf_id in self.shelf_ids:
            shelf = self._shelves[shelf_id]
            looked = len(shelf.looked) + shelf.anonymous_looks
            picked = len(shelf.pickers)
            shelves.append(ShelfNumbers(
                shelf_id, people_at[shelf_id], shelf.dwell_ns / S, looked, picked,
                picked / looked if looked else math.nan, shelf.units_taken,
                shelf.units_put_back))
        items = tuple(ItemNumbers(item_id, i.units_taken, i.units_put_back, i.take_events,
                                  i.put_back_events)
                      for item_id, i in ((k, self._items[k]) for k in self.item_ids))
        durations = list(self._durations)
        return Snapshot(
            stamp_ns=self.now_ns, people_in_store=len(self.inside),
            entries_total=self.entries_total, exits_total=self.exits_total,
            entries_last_hour=sum(1 for stamp in self._entry_stamps if stamp > cutoff),
            unknown_passes=self.unknown_passes,
            entries_per_hour=tuple(sorted(self._hours.items())),
            visits_completed=len(durations), visit_duration_sum_s=sum(durations),
            visit_duration_p50_s=percentile(durations, 0.5),
            visit_duration_p90_s=percentile(durations, 0.9),
            queue_entrance=self._queue(ROLE_ENTRANCE), queue_exit=self._queue(ROLE_EXIT),
            shelves=tuple(shelves), items=items, receipts_total=len(self._receipts),
            revenue_cents=sum(total for _, total in self._receipts.values()),
            currency=self.currency, refused=dict(self.refused))
