"""Core objects to ROS messages and back: ezshop_msgs <-> the store's plain core objects."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ezshop_common.boxes import Box
from ezshop_common.limits import MAX_ID_CHARS
from ezshop_msgs.msg import (
    Alert,
    Cart,
    CartAction,
    CartLine,
    CustomerEvent,
    FaceArray,
    HeldAction,
    Receipt,
    ShelfEvent,
    TrackIdentity,
)
from ezshop_ros.stamps import stamp_ns, time_from_ns
from ezshop_store.cart_rules import (
    ENDED_ABSENT,
    ENDED_EXIT,
    ENDED_STAFF,
    OPENED_ENTRANCE,
    OPENED_LATE,
    Line,
)
from ezshop_store.fusion_core import Decision, Face, Frame, ShelfChange
from ezshop_store.presence import SEEN, PresenceEvent
from ezshop_store.store_types import (
    AlertOut,
    CartActionIn,
    CartView,
    CustomerEventIn,
    HeldActionView,
    ReceiptView,
    ShelfEventIn,
)

OPENED_BY_CODE = {OPENED_ENTRANCE: Receipt.OPENED_AT_ENTRANCE, OPENED_LATE: Receipt.OPENED_LATE}
ENDED_BY_CODE = {ENDED_EXIT: Receipt.ENDED_EXIT, ENDED_ABSENT: Receipt.ENDED_ABSENT,
                 ENDED_STAFF: Receipt.ENDED_STAFF}


class BadMessageError(ValueError):
    """A message that cannot be used; the text says why."""


#: Most candidates a cart action may list (fusion names a handful).
MAX_CANDIDATES = 32
#: The bound on units per event in a store without lanes in its description.
MAX_UNITS_WITHOUT_LANES = 100


@dataclass(frozen=True)
class InputLimits:
    """How much one event may move: no lane gives or takes more units than it holds."""

    lane_capacity: dict[tuple[str, str], int] = field(default_factory=dict)
    max_units: int = MAX_UNITS_WITHOUT_LANES  # the largest lane: when no lane is named

    @classmethod
    def of(cls, store) -> InputLimits:
        """The limits of a store description (ezshop_common.store_config.StoreConfig)."""
        capacity = {lane.key: lane.capacity for lane in store.lanes}
        return cls(capacity, max(capacity.values(), default=MAX_UNITS_WITHOUT_LANES))

    def units(self, quantity: int, shelf_id: str, lane_id: str, what: str) -> int:
        named = bool(shelf_id or lane_id)
        if named and self.lane_capacity and (shelf_id, lane_id) not in self.lane_capacity:
            raise BadMessageError(f'{shelf_id}/{lane_id} is not a lane of this store')
        bound = self.lane_capacity.get((shelf_id, lane_id), self.max_units)
        if not 0 < abs(quantity) <= bound:
            where = f'{shelf_id}/{lane_id}' if (shelf_id, lane_id) in self.lane_capacity \
                else 'any lane'
            raise BadMessageError(f'{what} {quantity} is outside what {where} holds '
                                  f'(1..{bound} units)')
        return quantity


NO_LIMITS = InputLimits(max_units=2 ** 31 - 1)


def _need_id(value: str, what: str) -> str:
    if not value or not value.strip():
        raise BadMessageError(f'{what} is empty')
    return _id(value, what)


def _id(value: str, what: str) -> str:
    """An optional id: at most MAX_ID_CHARS."""
    if len(value) > MAX_ID_CHARS:
        raise BadMessageError(f'{what} is longer than {MAX_ID_CHARS} characters')
    return value


def customer_event_in(msg: CustomerEvent) -> CustomerEventIn:
    return CustomerEventIn(_need_id(msg.event_id, 'event_id'), int(msg.kind),
                           _id(msg.customer_id, 'customer_id'), _id(msg.door_id, 'door_id'),
                           stamp_ns(msg.header.stamp), _id(msg.camera_id, 'camera_id'))


@dataclass(frozen=True)
class TrackIdentityIn:
    """A track named after it ended (see ezshop_msgs/TrackIdentity)."""

    camera_id: str
    track_id: int
    customer_id: str
    first_ns: int
    last_ns: int
    confidence: float


def track_identity_in(msg: TrackIdentity) -> TrackIdentityIn:
    confidence = float(msg.confidence)
    if not math.isfinite(confidence) or not 0.0 <= confidence <= 1.0:
        raise BadMessageError(f'confidence {confidence} is not in 0..1')
    first, last = stamp_ns(msg.first_seen), stamp_ns(msg.last_seen)
    if first > last:
        raise BadMessageError('first_seen is after last_seen')
    return TrackIdentityIn(_need_id(msg.camera_id, 'camera_id'), int(msg.track_id),
                           _need_id(msg.customer_id, 'customer_id'), first, last, confidence)


def cart_action_in(msg: CartAction, limits: InputLimits = NO_LIMITS) -> CartActionIn:
    if len(msg.candidate_ids) != len(msg.candidate_scores):
        raise BadMessageError(f'{len(msg.candidate_ids)} candidate_ids but '
                         f'{len(msg.candidate_scores)} candidate_scores')
    if len(msg.candidate_ids) > MAX_CANDIDATES:
        raise BadMessageError(f'{len(msg.candidate_ids)} candidates (at most '
                              f'{MAX_CANDIDATES})')
    confidence = float(msg.confidence)
    if not math.isfinite(confidence):
        raise BadMessageError('confidence is not a finite number')
    scores = [float(score) for score in msg.candidate_scores]
    if not all(math.isfinite(score) for score in scores):
        raise BadMessageError('a candidate score is not a finite number')
    quantity = int(msg.quantity)
    if quantity != 0:  # a zero quantity is recorded and refused by the store's rules
        limits.units(quantity, msg.shelf_id, msg.lane_id, 'quantity')
    return CartActionIn(
        _need_id(msg.event_id, 'event_id'), _id(msg.customer_id, 'customer_id'),
        _need_id(msg.item_id, 'item_id'), quantity, stamp_ns(msg.header.stamp), confidence,
        bool(msg.ambiguous),
        tuple((_id(cid, 'candidate id'), score) for cid, score in zip(msg.candidate_ids, scores,
                                                                       strict=True)),
        _id(msg.shelf_id, 'shelf_id'), _id(msg.lane_id, 'lane_id'),
        _id(msg.resolves_event_id, 'resolves_event_id'))


def shelf_event_in(msg: ShelfEvent, limits: InputLimits = NO_LIMITS) -> ShelfEventIn:
    return ShelfEventIn(_need_id(msg.event_id, 'event_id'), _id(msg.shelf_id, 'shelf_id'),
                        _id(msg.lane_id, 'lane_id'), _need_id(msg.item_id, 'item_id'),
                        limits.units(int(msg.quantity_delta), msg.shelf_id, msg.lane_id,
                                     'quantity_delta'),
                        stamp_ns(msg.header.stamp))


def shelf_change(msg: ShelfEvent, limits: InputLimits = NO_LIMITS) -> ShelfChange:
    event = shelf_event_in(msg, limits)
    return ShelfChange(event.event_id, event.stamp_ns, event.shelf_id, event.lane_id,
                       event.item_id, event.quantity_delta, bool(msg.unobserved))


def frame(msg: FaceArray, camera_id: str) -> tuple[Frame, int]:
    """The frame, and how many of its faces were left out: an empty box (nowhere to score)
    or a customer id no customer can have."""
    faces = []
    for det in msg.faces:
        roi = det.roi
        if roi.width == 0 or roi.height == 0 or len(det.customer_id) > MAX_ID_CHARS:
            continue
        confidence = float(det.confidence)
        faces.append(Face(int(det.track_id), det.customer_id,
                          Box(roi.x_offset, roi.y_offset, roi.width, roi.height),
                          confidence if math.isfinite(confidence) else 0.0))
    return Frame(camera_id, stamp_ns(msg.header.stamp), tuple(faces)), \
        len(msg.faces) - len(faces)


@dataclass(frozen=True)
class CartIn:
    """What fusion needs of a Cart: who holds what, in the store or not."""

    customer_id: str
    open_visit: bool
    lines: dict[str, int]
    stamp_ns: int


def cart_in(msg: Cart) -> CartIn:
    lines = {_need_id(line.item_id, 'item_id'): int(line.quantity) for line in msg.lines}
    return CartIn(_need_id(msg.customer_id, 'customer_id'),
                  bool(_id(msg.visit_id, 'visit_id')), lines, stamp_ns(msg.header.stamp))


def cart_line(line: Line) -> CartLine:
    return CartLine(item_id=line.item_id, name=line.name, quantity=line.quantity,
                    unit_price_cents=line.unit_price_cents, line_total_cents=line.total_cents)


def cart_msg(view: CartView, store_id: str) -> Cart:
    """A Cart; visit_id '' means the customer has no open visit any more (checked out)."""
    msg = Cart(customer_id=view.customer_id, store_id=store_id,
               visit_id=str(view.visit_id) if view.in_store else '',
               lines=[cart_line(ln) for ln in view.lines], total_cents=view.total_cents,
               currency=view.currency)
    msg.header.stamp = time_from_ns(view.stamp_ns)
    return msg


def held_action_msg(view: HeldActionView) -> HeldAction:
    return HeldAction(stamp=time_from_ns(view.stamp_ns), event_id=view.event_id,
                      shelf_id=view.shelf_id, lane_id=view.lane_id, item_id=view.item_id,
                      quantity=view.quantity, reason=view.reason, customer_id=view.customer_id,
                      candidate_ids=[c for c, _ in view.candidates],
                      candidate_scores=[float(s) for _, s in view.candidates])


def receipt_msg(view: ReceiptView, store_id: str) -> Receipt:
    msg = Receipt(receipt_id=str(view.receipt_id), store_id=store_id, revision=view.revision,
                  visit_id=str(view.visit_id), customer_id=view.customer_id,
                  customer_name='',  # names stay off the bus (docs/security.md)
                  lines=[cart_line(ln) for ln in view.lines],
                  total_cents=view.total_cents, currency=view.currency,
                  entered_at=time_from_ns(view.entered_ns), exited_at=time_from_ns(view.exited_ns),
                  opened_by=OPENED_BY_CODE.get(view.opened_by, Receipt.OPENED_AT_ENTRANCE),
                  ended_by=ENDED_BY_CODE.get(view.ended_by, Receipt.ENDED_EXIT))
    msg.header.stamp = time_from_ns(view.stamp_ns)
    return msg


def alert_msg(alert: AlertOut, source: str) -> Alert:
    msg = Alert(level=alert.level, kind=alert.kind, message=alert.message,
                refs=list(alert.refs), source=source)
    msg.header.stamp = time_from_ns(alert.stamp_ns)
    return msg


def cart_action_msg(decision: Decision, frame_id: str = '') -> CartAction:
    msg = CartAction(event_id=decision.event_id, customer_id=decision.customer_id,
                     item_id=decision.item_id, quantity=decision.quantity,
                     confidence=float(decision.confidence), ambiguous=decision.ambiguous,
                     candidate_ids=[c for c, _ in decision.candidates],
                     candidate_scores=[float(s) for _, s in decision.candidates],
                     shelf_id=decision.shelf_id, lane_id=decision.lane_id,
                     resolves_event_id=decision.resolves_event_id)
    msg.header.stamp = time_from_ns(decision.stamp_ns)
    msg.header.frame_id = frame_id
    return msg


def presence_event_msg(event: PresenceEvent) -> CustomerEvent:
    """A SEEN (late entry) or ABSENT (absent checkout) customer event."""
    msg = CustomerEvent(event_id=event.event_id,
                        kind=CustomerEvent.SEEN if event.kind == SEEN else CustomerEvent.ABSENT,
                        customer_id=event.customer_id, camera_id=event.camera_id,
                        confidence=float(min(max(event.confidence, 0.0), 1.0)))
    msg.header.stamp = time_from_ns(event.stamp_ns)
    return msg
