"""Score receipts against the simulator's ground truth (plain Python, no rclpy).

Ground truth says who entered, took, put back and left; receipts say what each customer was
charged. A receipt is exactly right when its lines equal the shopper's net takes and its total
equals their price. Item units charged to someone who did not take them are wrong-person charges
when another shopper took that item, phantom charges otherwise.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

GT_ENTERED = 'entered'
GT_EXITED = 'exited'
GT_TAKE = 'take'
GT_PUT_BACK = 'put_back'


@dataclass(frozen=True)
class TruthEvent:
    """One ground-truth happening, as published on sim/ground_truth."""

    kind: str
    shopper: str
    enrolled: bool = True
    item_id: str = ''
    quantity: int = 0


@dataclass(frozen=True)
class ReceiptView:
    """The parts of a Receipt the score needs (the newest revision per visit)."""

    customer_name: str
    lines: dict[str, int]
    total_cents: int
    revision: int = 1
    visit_id: str = ''


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
    """Compare every shopper's receipt with what they really took."""
    enrolled = {}
    exited = set()
    for event in events:
        enrolled.setdefault(event.shopper, event.enrolled)
        if event.kind == GT_EXITED:
            exited.add(event.shopper)
    expected = expected_carts(events)
    by_customer = {r.customer_name: r for r in receipts}
    takers = sum(expected.values(), Counter())

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
            wrong = min(fp, max(taken_by_others, 0))
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
