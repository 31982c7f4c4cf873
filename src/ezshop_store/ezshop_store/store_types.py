"""Plain data passed between the store node and the store service (no rclpy)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ezshop_store.cart_rules import Line

#: CustomerEvent kinds (same values as ezshop_msgs/CustomerEvent).
ENTERED = 0
EXITED = 1
UNKNOWN_PERSON = 2
SEEN = 3
ABSENT = 4

#: Alert levels (same values as ezshop_msgs/Alert).
INFO = 0
WARN = 1
ERROR = 2


@dataclass(frozen=True)
class CustomerEventIn:
    event_id: str
    kind: int
    customer_id: str
    door_id: str
    stamp_ns: int
    camera_id: str = ''


@dataclass(frozen=True)
class CartActionIn:
    event_id: str
    customer_id: str
    item_id: str
    quantity: int
    stamp_ns: int
    confidence: float = 1.0
    ambiguous: bool = False
    candidates: tuple[tuple[str, float], ...] = ()
    shelf_id: str = ''
    lane_id: str = ''
    resolves_event_id: str = ''  # a late attribution settling this held action
    hold_reason: str = ''        # why it is held when nobody is named ('' = fusion's call)


@dataclass(frozen=True)
class ShelfEventIn:
    event_id: str
    shelf_id: str
    lane_id: str
    item_id: str
    quantity_delta: int
    stamp_ns: int


@dataclass(frozen=True)
class AlertOut:
    level: int
    kind: str
    message: str
    refs: tuple[str, ...]
    stamp_ns: int


@dataclass(frozen=True)
class CartView:
    """A customer's live cart; visit_id 0 / in_store False once the visit is closed."""

    customer_id: str
    visit_id: int
    in_store: bool
    lines: tuple[Line, ...]
    total_cents: int
    currency: str
    stamp_ns: int


@dataclass(frozen=True)
class HeldActionView:
    """A cart action held for staff (an entry of the review queue)."""

    event_id: str
    shelf_id: str
    lane_id: str
    item_id: str
    quantity: int
    reason: str
    customer_id: str
    candidates: tuple[tuple[str, float], ...]
    stamp_ns: int


@dataclass(frozen=True)
class ReceiptView:
    receipt_id: int
    revision: int
    visit_id: int
    customer_id: str
    customer_name: str
    lines: tuple[Line, ...]
    total_cents: int
    currency: str
    entered_ns: int
    exited_ns: int
    stamp_ns: int
    opened_by: str = 'entrance'
    ended_by: str = 'exit'


@dataclass
class Effects:
    """What applying events changed, for the node to publish and log."""

    alerts: list[AlertOut] = field(default_factory=list)
    carts: dict[str, CartView] = field(default_factory=dict)
    receipts: list[ReceiptView] = field(default_factory=list)
    exiting: list[int] = field(default_factory=list)
    inventory_changed: bool = False
    #: Customers enrolled into / forgotten from the gallery (its next revision says so).
    gallery_added: list[str] = field(default_factory=list)
    gallery_removed: list[str] = field(default_factory=list)
    #: (level, kind, text): lines for the node's log, throttled per kind.
    logs: list[tuple[int, str, str]] = field(default_factory=list)
    counters: Counter = field(default_factory=Counter)

    def alert(self, level: int, kind: str, message: str, refs, stamp_ns: int) -> None:
        self.alerts.append(AlertOut(level, kind, message, tuple(refs), stamp_ns))
        self.counters[f'alert_{kind}'] += 1

    def log(self, level: int, kind: str, text: str) -> None:
        """A line for the node's log (not an alert); ``kind`` names what happened."""
        self.logs.append((level, kind, text))

    def merge(self, other: Effects) -> None:
        self.alerts.extend(other.alerts)
        self.carts.update(other.carts)
        self.receipts.extend(other.receipts)
        self.exiting.extend(other.exiting)
        self.inventory_changed |= other.inventory_changed
        self.gallery_added.extend(other.gallery_added)
        self.gallery_removed.extend(other.gallery_removed)
        self.logs.extend(other.logs)
        self.counters.update(other.counters)
