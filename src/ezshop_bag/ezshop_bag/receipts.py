"""Receipts of a recording against those of its replay (plain Python, no rclpy).

A replayed store has its own database, so customer and visit ids differ: receipts are
compared by customer name, lines and total. Only the newest revision of each visit counts,
and only receipts stamped while the recording's inputs ran (a store's latched history from
before the recording could not be replayed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

#: Receipts stamped this long before the first input or after the last still count (ns).
WINDOW_MARGIN_NS = 2_000_000_000


@dataclass(frozen=True)
class ReceiptSummary:
    """What a receipt charged, without database ids."""

    customer: str
    lines: tuple[tuple[str, int], ...]
    total_cents: int
    currency: str = ''
    revision: int = 1
    visit_id: str = ''
    stamp_ns: int = 0

    @property
    def key(self) -> tuple:
        return self.customer, self.lines, self.total_cents

    def describe(self) -> str:
        items = ', '.join(f'{q}x {item}' for item, q in self.lines) or 'nothing'
        return f'{self.customer}: {items} = {self.total_cents / 100:.2f} {self.currency}'.strip()


def summary(customer: str, lines: Iterable[tuple[str, int]], total_cents: int,
            currency: str = '', revision: int = 1, visit_id: str = '',
            stamp_ns: int = 0) -> ReceiptSummary:
    """A ReceiptSummary with lines merged by item and sorted."""
    merged: Counter = Counter()
    for item, quantity in lines:
        merged[item] += quantity
    return ReceiptSummary(customer, tuple(sorted((i, q) for i, q in merged.items() if q)),
                          total_cents, currency, revision, visit_id, stamp_ns)


def final_receipts(receipts: Iterable[ReceiptSummary], start_ns: int | None = None,
                   end_ns: int | None = None) -> list[ReceiptSummary]:
    """The newest revision of each visit, stamped within [start - margin, end + margin]
    when given, in stamp order."""
    newest: dict[str, ReceiptSummary] = {}
    for index, receipt in enumerate(receipts):
        if start_ns is not None and receipt.stamp_ns < start_ns - WINDOW_MARGIN_NS:
            continue
        if end_ns is not None and receipt.stamp_ns > end_ns + WINDOW_MARGIN_NS:
            continue
        visit = receipt.visit_id or f'#{index}'
        if visit not in newest or receipt.revision >= newest[visit].revision:
            newest[visit] = receipt
    return sorted(newest.values(), key=lambda r: (r.stamp_ns, r.customer))


@dataclass
class Comparison:
    """Recorded receipts against replayed ones."""

    recorded: list[ReceiptSummary]
    replayed: list[ReceiptSummary]
    missing: list[ReceiptSummary] = field(default_factory=list)
    unexpected: list[ReceiptSummary] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return not self.missing and not self.unexpected

    def as_dict(self) -> dict:
        return {'same': self.same,
                'recorded': [asdict(r) for r in self.recorded],
                'replayed': [asdict(r) for r in self.replayed],
                'missing': [asdict(r) for r in self.missing],
                'unexpected': [asdict(r) for r in self.unexpected]}


def compare(recorded: list[ReceiptSummary], replayed: list[ReceiptSummary]) -> Comparison:
    """Which recorded receipts the replay did not issue, and which it issued besides."""
    left = Counter(r.key for r in replayed)
    missing = []
    for receipt in recorded:
        if left[receipt.key] > 0:
            left[receipt.key] -= 1
        else:
            missing.append(receipt)
    extra = Counter({k: n for k, n in left.items() if n > 0})
    unexpected = []
    for receipt in replayed:
        if extra[receipt.key] > 0:
            extra[receipt.key] -= 1
            unexpected.append(receipt)
    return Comparison(recorded, replayed, missing, unexpected)


def report_lines(comparison: Comparison) -> list[str]:
    """A short human report: every receipt, then the verdict."""
    lines = [f'recorded receipts: {len(comparison.recorded)}']
    lines += [f'  {r.describe()}' for r in comparison.recorded]
    lines.append(f'replayed receipts: {len(comparison.replayed)}')
    lines += [f'  {r.describe()}' for r in comparison.replayed]
    lines += [f'  MISSING in replay: {r.describe()}' for r in comparison.missing]
    lines += [f'  NOT RECORDED: {r.describe()}' for r in comparison.unexpected]
    lines.append('REPLAY: SAME RECEIPTS' if comparison.same else 'REPLAY: RECEIPTS DIFFER')
    return lines
