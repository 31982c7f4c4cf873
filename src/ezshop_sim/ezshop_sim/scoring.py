"""Score the store graph against the simulator's ground truth (plain Python, no rclpy).

Ground truth says who entered, took, put back and left; receipts say what each customer was
charged. A receipt is exactly right when its lines equal the shopper's net takes and its total
equals their price. Item units charged to someone who did not take them are wrong-person charges
when another shopper took that item, phantom charges otherwise.

Receipts only show what was left on a cart at checkout, so the cart level is scored too: every
cart action is matched to the ground-truth take or put-back it derives from (same lane and item,
nearest in time) and any unit it put on, or credited to, someone else's cart is a wrong-person
unit, even when a later action took it off again. Door passes are matched the same way.
Stamps are seconds on the simulator's clock (message header stamps), never arrival times.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

GT_ENTERED = 'entered'
GT_EXITED = 'exited'
GT_TAKE = 'take'
GT_PUT_BACK = 'put_back'

#: How a visit was opened and ended (Receipt.opened_by / ended_by).
VISIT_OPENED_AT_ENTRANCE = 'entrance'
VISIT_OPENED_LATE = 'late'
VISIT_ENDED_EXIT = 'exit'
VISIT_ENDED_ABSENT = 'absent'
VISIT_ENDED_STAFF = 'staff'

#: A cart action matches a ground-truth take / put-back of its lane at most this far apart
#: (seconds). Its stamp is the first lane reading at the new count (~0.1 s after the truth);
#: one lane changes at most every 4 s in the simulator, and the nearest change wins.
CART_MATCH_TOLERANCE_S = 3.0
#: A door event matches a ground-truth entry / exit of the same person at most this far apart
#: (seconds): the door decides on a frame while the face is close, the truth is the closest one.
DOOR_MATCH_TOLERANCE_S = 5.0


@dataclass(frozen=True)
class TruthEvent:
    """One ground-truth happening, as published on sim/ground_truth."""

    kind: str
    shopper: str
    enrolled: bool = True
    item_id: str = ''
    quantity: int = 0
    shelf_id: str = ''
    lane_id: str = ''
    stamp: float = 0.0  # when it happened (s, the simulator's clock: the message header stamp)


@dataclass(frozen=True)
class ReceiptView:
    """The parts of a Receipt the score needs (the newest revision per visit)."""

    customer_name: str
    lines: dict[str, int]
    total_cents: int
    revision: int = 1
    visit_id: str = ''
    opened_by: str = VISIT_OPENED_AT_ENTRANCE
    ended_by: str = VISIT_ENDED_EXIT


@dataclass(frozen=True)
class CartActionView:
    """The parts of a CartAction the cart-level score needs."""

    event_id: str
    customer_id: str  # '' = held: nobody's cart yet
    item_id: str
    quantity: int  # +n into the cart (a take), -n out of it (a put-back)
    shelf_id: str = ''
    lane_id: str = ''
    stamp: float = 0.0  # the shelf event's stamp (s, the simulator's clock)
    resolves_event_id: str = ''  # set: this settles the held action with that event_id
    ambiguous: bool = False

    @property
    def held(self) -> bool:
        return not self.customer_id

    @property
    def late_resolution(self) -> bool:
        return bool(self.resolves_event_id)


@dataclass(frozen=True)
class DoorPass:
    """A door node's ENTERED / EXITED for a known customer."""

    kind: str  # GT_ENTERED or GT_EXITED
    customer: str  # the customer's name (the shopper's identity)
    stamp: float  # the image the pass was decided on (s, the simulator's clock)


@dataclass
class ShopperResult:
    shopper: str
    enrolled: bool
    expected: dict[str, int]
    charged: dict[str, int]
    expected_cents: int
    charged_cents: int
    has_receipt: bool
    exited: bool

    @property
    def exactly_right(self) -> bool:
        if not self.enrolled:
            return not self.has_receipt and not self.charged
        return (self.has_receipt and self.expected == self.charged
                and self.expected_cents == self.charged_cents)

    @property
    def error_cents(self) -> int:
        return abs(self.charged_cents - self.expected_cents)


@dataclass
class ScenarioScore:
    shoppers: list[ShopperResult] = field(default_factory=list)
    true_positive_units: int = 0
    false_positive_units: int = 0
    false_negative_units: int = 0
    wrong_person_units: int = 0
    phantom_units: int = 0

    @property
    def receipts_expected(self) -> int:
        return sum(1 for s in self.shoppers if s.enrolled and s.exited)

    @property
    def receipts_right(self) -> int:
        return sum(1 for s in self.shoppers if s.enrolled and s.exited and s.exactly_right)

    @property
    def all_right(self) -> bool:
        return all(s.exactly_right for s in self.shoppers if s.exited or not s.enrolled)

    @property
    def precision(self) -> float:
        denominator = self.true_positive_units + self.false_positive_units
        return self.true_positive_units / denominator if denominator else 1.0

    @property
    def recall(self) -> float:
        denominator = self.true_positive_units + self.false_negative_units
        return self.true_positive_units / denominator if denominator else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def worst_error_cents(self) -> int:
        return max((s.error_cents for s in self.shoppers), default=0)


@dataclass
class CartScore:
    """Cart actions judged one by one against the take / put-back each derives from."""

    wrong_person_units: int = 0
    phantom_units: int = 0
    wrong_person: list[str] = field(default_factory=list)  # 'cola x1 to bob (taken by ada) ...'
    phantoms: list[str] = field(default_factory=list)


def combine_visits(receipts: list[ReceiptView]) -> list[ReceiptView]:
    """One view per customer: the lines and totals of all their visits added up (a visit closed
    as absent and a later one opened late are one shopper's one trip through the store)."""
    by_name: dict[str, list[ReceiptView]] = {}
    for receipt in receipts:
        by_name.setdefault(receipt.customer_name, []).append(receipt)
    combined = []
    for name, visits in by_name.items():
        if len(visits) == 1:
            combined.append(visits[0])
            continue
        lines = sum((Counter(v.lines) for v in visits), Counter())
        first = visits[0]
        combined.append(ReceiptView(
            name, dict(lines), sum(v.total_cents for v in visits),
            max(v.revision for v in visits), ','.join(v.visit_id for v in visits),
            first.opened_by, visits[-1].ended_by))
    return combined


def matching_truth(action: CartActionView, events: list[TruthEvent],
                   tolerance_s: float = CART_MATCH_TOLERANCE_S) -> TruthEvent | None:
    """The take (for +n) or put-back (for -n) of the action's lane and item nearest its stamp,
    within ``tolerance_s``; None when there is none (a phantom)."""
    kind = GT_TAKE if action.quantity > 0 else GT_PUT_BACK
    candidates = [e for e in events
                  if e.kind == kind and e.item_id == action.item_id
                  and e.shelf_id == action.shelf_id and e.lane_id == action.lane_id
                  and abs(e.stamp - action.stamp) <= tolerance_s]
    return min(candidates, key=lambda e: abs(e.stamp - action.stamp), default=None)


def score_cart_actions(events: list[TruthEvent], actions: list[CartActionView],
                       names_by_id: dict[str, str],
                       tolerance_s: float = CART_MATCH_TOLERANCE_S) -> CartScore:
    """Every attributed cart action, including ones later undone and late resolutions, against
    the shopper who really did it. Held actions (no customer) put nothing on a cart and are not
    judged. ``names_by_id`` maps customer ids to names (the shopper identities); an id it does
    not know is nobody in the scenario, so always the wrong person."""
    result = CartScore()
    for action in actions:
        if action.held or not action.quantity:
            continue
        units = abs(action.quantity)
        customer = names_by_id.get(action.customer_id, action.customer_id)
        what = (f'{action.item_id} x{action.quantity:+d} to {customer} at '
                f'{action.shelf_id}/{action.lane_id}')
        if action.late_resolution:
            what += ' (late resolution)'
        truth = matching_truth(action, events, tolerance_s)
        if truth is None:
            result.phantom_units += units
            result.phantoms.append(f'{what}: no such change in the ground truth')
        elif truth.shopper != customer:
            result.wrong_person_units += units
            verb = 'taken' if truth.kind == GT_TAKE else 'put back'
            result.wrong_person.append(f'{what}: {verb} by {truth.shopper}')
    return result


def missed_door_passes(events: list[TruthEvent], passes: list[DoorPass],
                       tolerance_s: float = DOOR_MATCH_TOLERANCE_S) -> list[TruthEvent]:
    """Ground-truth entries and exits of enrolled shoppers that no door event of the same kind
    for the same person reported within ``tolerance_s``, in time order."""
    missed = []
    for event in sorted(events, key=lambda e: e.stamp):
        if event.kind not in (GT_ENTERED, GT_EXITED) or not event.enrolled:
            continue
        if not any(p.kind == event.kind and p.customer == event.shopper
                   and abs(p.stamp - event.stamp) <= tolerance_s for p in passes):
            missed.append(event)
    return missed


def expected_carts(events: list[TruthEvent]) -> dict[str, Counter]:
    """Net items each shopper carried out: takes minus put-backs, per item."""
    carts: dict[str, Counter] = {}
    for event in events:
        cart = carts.setdefault(event.shopper, Counter())
        if event.kind == GT_TAKE:
            cart[event.item_id] += event.quantity
        elif event.kind == GT_PUT_BACK:
            cart[event.item_id] -= event.quantity
    return {s: Counter({i: q for i, q in c.items() if q > 0}) for s, c in carts.items()}


def score(events: list[TruthEvent], receipts: list[ReceiptView],
          prices: dict[str, int]) -> ScenarioScore:
    """Compare every shopper's receipt with what they really took (the receipts of one
    customer's several visits count as one)."""
    enrolled = {}
    exited = set()
    for event in events:
        enrolled.setdefault(event.shopper, event.enrolled)
        if event.kind == GT_EXITED:
            exited.add(event.shopper)
    expected = expected_carts(events)
    by_customer = {r.customer_name: r for r in combine_visits(receipts)}
    takers = sum(expected.values(), Counter())
    taken: dict[str, Counter] = {}  # gross units each shopper took, put-backs not deducted
    for event in events:
        if event.kind == GT_TAKE:
            taken.setdefault(event.shopper, Counter())[event.item_id] += event.quantity

    result = ScenarioScore()
    names = sorted(set(enrolled) | set(by_customer))
    for name in names:
        want = expected.get(name, Counter())
        receipt = by_customer.get(name)
        got = Counter({i: q for i, q in (receipt.lines if receipt else {}).items() if q})
        shopper = ShopperResult(
            shopper=name, enrolled=enrolled.get(name, True), expected=dict(want),
            charged=dict(got), expected_cents=sum(prices.get(i, 0) * q for i, q in want.items()),
            charged_cents=receipt.total_cents if receipt else 0, has_receipt=receipt is not None,
            exited=name in exited)
        result.shoppers.append(shopper)
        for item_id in set(want) | set(got):
            tp = min(want[item_id], got[item_id])
            fp = max(got[item_id] - want[item_id], 0)
            result.true_positive_units += tp
            result.false_positive_units += fp
            result.false_negative_units += max(want[item_id] - got[item_id], 0)
            taken_by_others = takers[item_id] - want[item_id]
            # A unit the shopper took and put back, still charged, is their own put-back
            # not credited (a phantom charge), not a unit someone else took.
            returned = max(taken.get(name, Counter())[item_id] - want[item_id], 0)
            wrong = min(fp - min(fp, returned), max(taken_by_others, 0))
            result.wrong_person_units += wrong
            result.phantom_units += fp - wrong
    return result


def format_table(result: ScenarioScore, currency: str = 'EUR') -> str:
    """A short human-readable table: one row per shopper with the verdict."""

    def cart_text(cart: dict[str, int]) -> str:
        return ', '.join(f'{q}x {i}' for i, q in sorted(cart.items())) or '(nothing)'

    rows = [('shopper', 'took (truth)', 'receipt', 'total', 'verdict')]
    for s in result.shoppers:
        if not s.enrolled:
            receipt_text = 'none (not enrolled)' if not s.has_receipt else cart_text(s.charged)
            total = '-' if not s.has_receipt else _money(s.charged_cents, currency)
        else:
            receipt_text = cart_text(s.charged) if s.has_receipt else 'MISSING'
            total = _money(s.charged_cents, currency)
        if not s.enrolled:
            verdict = 'OK (not charged)' if s.exactly_right else 'WRONG'
        else:
            verdict = 'OK' if s.exactly_right else (
                'NOT EXITED' if not s.exited else 'WRONG')
        rows.append((s.shopper, cart_text(s.expected), receipt_text, total, verdict))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ['  '.join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines.insert(1, '  '.join('-' * w for w in widths))
    return '\n'.join(lines)


def _money(cents: int, currency: str) -> str:
    return f'{cents / 100:.2f} {currency}'
