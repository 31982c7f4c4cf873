"""Cart, receipt and checkout rules in plain Python (no rclpy, no database).

Money is integer cents; quantities are items; times are integer nanoseconds (header stamps).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: Visit states.
VISIT_OPEN = 'open'          # in the store
VISIT_EXITING = 'exiting'    # EXITED seen; checkout after the grace period
VISIT_CLOSED = 'closed'      # receipt issued

#: How a visit was opened: a door pass, or a late entry (first seen inside the store).
OPENED_ENTRANCE = 'entrance'
OPENED_LATE = 'late'
#: How a visit ended: a door pass, absence (not seen for a while), or a staff checkout.
ENDED_EXIT = 'exit'
ENDED_ABSENT = 'absent'
ENDED_STAFF = 'staff'

#: Where a cart action lands (see place_cart_action).
PLACE_CART = 'cart'              # apply to the visit's live cart
PLACE_ADJUSTMENT = 'adjustment'  # the visit's receipt was issued: adjustment receipt
PLACE_NOT_IN_STORE = 'not_in_store'


@dataclass(frozen=True)
class Line:
    """One cart or receipt line."""

    item_id: str
    name: str
    quantity: int
    unit_price_cents: int

    @property
    def total_cents(self) -> int:
        return self.quantity * self.unit_price_cents


@dataclass(frozen=True)
class VisitSpan:
    """The times of one visit: exited_ns is None while the customer is in the store."""

    visit_id: int
    entered_ns: int
    exited_ns: int | None
    state: str


def cart_lines(quantities: Mapping[str, int], names: Mapping[str, str],
               prices: Mapping[str, int]) -> list[Line]:
    """Lines for every item held (quantity > 0), sorted by item id."""
    return [Line(item_id, names.get(item_id, item_id), qty, int(prices[item_id]))
            for item_id, qty in sorted(quantities.items()) if qty > 0]


def total_cents(lines: Iterable[Line]) -> int:
    return sum(line.total_cents for line in lines)


def apply_to_cart(held: int, quantity: int) -> tuple[int, int]:
    """Apply a signed cart quantity to what the customer holds of one item.

    Returns (applied, refused): a put-back of more than is held credits only what is held;
    the rest is refused (the caller raises a put_back_not_held alert).
    """
    if quantity >= 0:
        return quantity, 0
    applied = -min(held, -quantity)
    return applied, quantity - applied


def covers(span: VisitSpan, stamp_ns: int) -> bool:
    """True when stamp_ns falls inside the visit (entered <= stamp <= exited)."""
    return span.entered_ns <= stamp_ns and (span.exited_ns is None or stamp_ns <= span.exited_ns)


def place_cart_action(stamp_ns: int, current: VisitSpan | None,
                      past: Iterable[VisitSpan] = ()) -> tuple[str, VisitSpan | None]:
    """Decide which visit a cart action stamped stamp_ns belongs to, and how.

    The current (open or exiting) visit takes it when the stamp is inside it: actions stamped
    before the exit but arriving during the grace period still land in the cart. A closed visit
    covering the stamp gets an adjustment receipt. Anything else happened while the customer
    was not in the store: never charged.
    """
    if current is not None and covers(current, stamp_ns):
        return PLACE_CART, current
    for span in past:
        if span.state == VISIT_CLOSED and covers(span, stamp_ns):
            return PLACE_ADJUSTMENT, span
    return PLACE_NOT_IN_STORE, None


def checkout_due_ns(exit_seen_ns: int, grace_ns: int) -> int:
    """When a visit whose EXITED was seen at exit_seen_ns (node clock) is checked out."""
    return exit_seen_ns + max(0, grace_ns)


def due_visits(due_by_visit: Mapping[int, int], now_ns: int) -> list[int]:
    """Visits whose checkout time has come, earliest first."""
    return [visit_id for visit_id, due in sorted(due_by_visit.items(), key=lambda kv: kv[1])
            if due <= now_ns]


def stock_after(stock: int, delta: int) -> tuple[int, int]:
    """Stock after a shelf change, never negative: (new stock, shortfall clamped away)."""
    new = stock + delta
    if new < 0:
        return 0, -new
    return new, 0


def crosses_low_stock(before: int, after: int, threshold: int) -> bool:
    """True when stock falls to or below the threshold with this change."""
    return after <= threshold < before
