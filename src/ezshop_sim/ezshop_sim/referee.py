"""The referee's bookkeeping (plain Python, no rclpy): what the simulator says happened, what
the store graph decided, when, and the verdict.

Times are the referee's own monotonic clock in seconds, taken when each message arrived, so
latencies include DDS transport and every node's processing.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from ezshop_sim.scoring import ReceiptView, ScenarioScore, TruthEvent, format_table, score


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary(values: list[float]) -> dict:
    """count, p50, p99, max and mean of a list of latencies (seconds)."""
    return {
        'count': len(values),
        'p50_s': percentile(values, 50),
        'p99_s': percentile(values, 99),
        'max_s': max(values) if values else None,
        'mean_s': statistics.fmean(values) if values else None,
    }


@dataclass
class CameraStats:
    """The newest figures a face node reported for one camera in /diagnostics."""

    fps: float = 0.0
    frames_received: int = 0
    frames_processed: int = 0
    frames_skipped: int = 0


@dataclass
class Referee:
    """Collects ground truth and the graph's outputs; decides when the run is over."""

    prices: dict[str, int]
    enrolled_ids: dict[str, str] = field(default_factory=dict)  # customer_id -> name
    truth: list[TruthEvent] = field(default_factory=list)
    scenario_done_at: float | None = None
    shelf_event_at: dict[str, float] = field(default_factory=dict)
    cart_action_at: dict[str, float] = field(default_factory=dict)
    unattributed: int = 0
    ambiguous: int = 0
    put_back_credits: int = 0
    exited_at: dict[str, float] = field(default_factory=dict)  # customer_id -> time
    receipts: dict[str, ReceiptView] = field(default_factory=dict)  # customer_id -> newest
    receipt_latency: dict[str, float] = field(default_factory=dict)
    cameras: dict[str, CameraStats] = field(default_factory=dict)

    # -- inputs ----------------------------------------------------------------------------
    def on_truth(self, event: TruthEvent | None, now: float) -> None:
        """A ground-truth event; None means SCENARIO_DONE."""
        if event is None:
            self.scenario_done_at = now
        else:
            self.truth.append(event)

    def on_shelf_event(self, event_id: str, now: float) -> bool:
        """False for a duplicate."""
        if event_id in self.shelf_event_at:
            return False
        self.shelf_event_at[event_id] = now
        return True

    def on_cart_action(self, event_id: str, customer_id: str, quantity: int, ambiguous: bool,
                       now: float) -> bool:
        if event_id in self.cart_action_at:
            return False
        self.cart_action_at[event_id] = now
        self.unattributed += not customer_id
        self.ambiguous += bool(ambiguous)
        self.put_back_credits += bool(customer_id) and quantity < 0
        return True

    def on_exited(self, customer_id: str, now: float) -> None:
        self.exited_at.setdefault(customer_id, now)

    def on_receipt(self, customer_id: str, receipt: ReceiptView, now: float) -> None:
        current = self.receipts.get(customer_id)
        if current is not None and current.revision > receipt.revision:
            return
        self.receipts[customer_id] = receipt
        if customer_id in self.exited_at and customer_id not in self.receipt_latency:
            self.receipt_latency[customer_id] = now - self.exited_at[customer_id]

    def on_camera(self, camera_id: str, stats: CameraStats) -> None:
        self.cameras[camera_id] = stats

    # -- state -----------------------------------------------------------------------------
    def expected_receipts(self) -> set[str]:
        """Names of enrolled shoppers the ground truth says have left."""
        return {e.shopper for e in self.truth if e.kind == 'exited' and e.enrolled}

    def missing_receipts(self) -> set[str]:
        have = {r.customer_name for r in self.receipts.values()}
        return self.expected_receipts() - have

    def finished(self) -> bool:
        """The scenario is over and every shopper who left has a receipt."""
        return self.scenario_done_at is not None and not self.missing_receipts()

    def score(self) -> ScenarioScore:
        return score(self.truth, list(self.receipts.values()), self.prices)

    # -- output ----------------------------------------------------------------------------
    def report(self) -> dict:
        result = self.score()
        pick_latencies = [self.cart_action_at[e] - t for e, t in self.shelf_event_at.items()
                          if e in self.cart_action_at]
        return {
            'receipts_expected': result.receipts_expected,
            'receipts_right': result.receipts_right,
            'all_right': result.all_right,
            'missing_receipts': sorted(self.missing_receipts()),
            'item_precision': result.precision,
            'item_recall': result.recall,
            'item_f1': result.f1,
            'true_positive_units': result.true_positive_units,
            'false_positive_units': result.false_positive_units,
            'false_negative_units': result.false_negative_units,
            'wrong_person_units': result.wrong_person_units,
            'phantom_units': result.phantom_units,
            'worst_error_cents': result.worst_error_cents,
            'unattributed_actions': self.unattributed,
            'ambiguous_actions': self.ambiguous,
            'put_back_credits': self.put_back_credits,
            'shelf_events': len(self.shelf_event_at),
            'cart_actions': len(self.cart_action_at),
            'shelf_event_to_cart_action': summary(pick_latencies),
            'exit_to_receipt': summary(list(self.receipt_latency.values())),
            'samples_s': {'shelf_event_to_cart_action': sorted(pick_latencies),
                          'exit_to_receipt': sorted(self.receipt_latency.values())},
            'cameras': {cam: vars(stats) for cam, stats in sorted(self.cameras.items())},
            'shoppers': [
                {'shopper': s.shopper, 'enrolled': s.enrolled, 'expected': s.expected,
                 'charged': s.charged, 'expected_cents': s.expected_cents,
                 'charged_cents': s.charged_cents, 'right': s.exactly_right}
                for s in result.shoppers],
        }

    def table(self, currency: str) -> str:
        return format_table(self.score(), currency)
