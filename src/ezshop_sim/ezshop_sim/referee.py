"""The referee's bookkeeping (plain Python, no rclpy): what the simulator says happened, what
the store graph decided, when, and the verdict.

Two clocks, never mixed: ``now`` arguments are the referee's own monotonic clock in seconds,
taken when each message arrived, so latencies include DDS transport and every node's processing;
``stamp`` fields are message header stamps (seconds on the simulator's clock, which stamps the
ground truth, the camera frames and the lane readings, and so every event derived from them),
used to match what the graph decided with what really happened.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field

from ezshop_sim.scoring import (
    GT_ENTERED,
    GT_EXITED,
    VISIT_ENDED_ABSENT,
    CartActionView,
    CartScore,
    DoorPass,
    ReceiptView,
    ScenarioScore,
    TruthEvent,
    format_table,
    missed_door_passes,
    score,
    score_cart_actions,
)

#: CustomerEvent kinds as the referee names them.
CUSTOMER_ENTERED = GT_ENTERED
CUSTOMER_EXITED = GT_EXITED
CUSTOMER_UNKNOWN = 'unknown_person'
CUSTOMER_SEEN = 'seen'  # a late entry: identified inside the store with no open visit
CUSTOMER_ABSENT = 'absent'  # not seen anywhere for a while: the visit is closed

#: The latency from a shopper's simulated exit takes their first receipt that arrived after
#: it, or at most this long before it (s): the exit door may decide on a frame shortly before
#: the one the ground truth calls the exit. A receipt older than that closed an earlier visit.
RECEIPT_BEFORE_TRUTH_EXIT_S = 2.0


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
    truth_exit_at: dict[str, float] = field(default_factory=dict)  # enrolled name -> time
    shelf_event_at: dict[str, float] = field(default_factory=dict)
    cart_action_at: dict[str, float] = field(default_factory=dict)  # first decisions only
    # (event_id, resolves_event_id) -> action: first decisions and late resolutions
    cart_actions: dict[tuple[str, str], CartActionView] = field(default_factory=dict)
    unattributed: int = 0
    ambiguous: int = 0
    put_back_credits: int = 0
    customer_event_ids: set[str] = field(default_factory=set)
    door_passes: list[DoorPass] = field(default_factory=list)
    late_entries: list[str] = field(default_factory=list)  # 'name at camera', per SEEN
    absent_events: list[str] = field(default_factory=list)  # name, per ABSENT
    exited_at: dict[str, float] = field(default_factory=dict)  # customer_id -> door EXITED
    # (customer_id, visit_id) -> newest revision, and when its first revision arrived
    receipts: dict[tuple[str, str], ReceiptView] = field(default_factory=dict)
    receipt_first_at: dict[tuple[str, str], float] = field(default_factory=dict)
    receipt_latency: dict[str, float] = field(default_factory=dict)  # customer_id -> s
    cameras: dict[str, CameraStats] = field(default_factory=dict)

    # -- inputs ----------------------------------------------------------------------------
    def on_truth(self, event: TruthEvent | None, now: float) -> None:
        """A ground-truth event; None means SCENARIO_DONE."""
        if event is None:
            if self.scenario_done_at is None:
                self.scenario_done_at = now
            return
        self.truth.append(event)
        if event.kind == GT_EXITED and event.enrolled:
            self.truth_exit_at.setdefault(event.shopper, now)

    def on_shelf_event(self, event_id: str, now: float) -> bool:
        """False for a duplicate."""
        if event_id in self.shelf_event_at:
            return False
        self.shelf_event_at[event_id] = now
        return True

    def on_cart_action(self, action: CartActionView, now: float) -> bool:
        """A first decision or a late resolution; False for a duplicate."""
        key = (action.event_id, action.resolves_event_id)
        if key in self.cart_actions:
            return False
        self.cart_actions[key] = action
        if not action.late_resolution:
            self.cart_action_at.setdefault(action.event_id, now)
        self.unattributed += action.held
        self.ambiguous += bool(action.ambiguous)
        self.put_back_credits += not action.held and action.quantity < 0
        return True

    def on_customer_event(self, event_id: str, kind: str, customer_id: str, stamp: float,
                          now: float, camera_id: str = '') -> bool:
        """A door pass (ENTERED / EXITED), an unknown person, a late entry (SEEN) or an absent
        customer (ABSENT); False for a duplicate event_id."""
        if event_id:
            if event_id in self.customer_event_ids:
                return False
            self.customer_event_ids.add(event_id)
        if not customer_id:
            return True
        name = self.enrolled_ids.get(customer_id, customer_id)
        if kind in (CUSTOMER_ENTERED, CUSTOMER_EXITED):
            self.door_passes.append(DoorPass(kind, name, stamp))
        if kind == CUSTOMER_EXITED:
            self.on_exited(customer_id, now)
        elif kind == CUSTOMER_SEEN:
            self.late_entries.append(f'{name} at {camera_id}' if camera_id else name)
        elif kind == CUSTOMER_ABSENT:
            self.absent_events.append(name)
        return True

    def on_exited(self, customer_id: str, now: float) -> None:
        self.exited_at.setdefault(customer_id, now)

    def on_receipt(self, customer_id: str, receipt: ReceiptView, now: float) -> None:
        key = (customer_id, receipt.visit_id)
        current = self.receipts.get(key)
        if current is not None and current.revision > receipt.revision:
            return
        self.receipts[key] = receipt
        self.receipt_first_at.setdefault(key, now)
        if customer_id in self.exited_at and customer_id not in self.receipt_latency:
            self.receipt_latency[customer_id] = now - self.exited_at[customer_id]

    def on_camera(self, camera_id: str, stats: CameraStats) -> None:
        self.cameras[camera_id] = stats

    # -- state -----------------------------------------------------------------------------
    def expected_receipts(self) -> set[str]:
        """Names of enrolled shoppers the ground truth says have left."""
        return {e.shopper for e in self.truth if e.kind == GT_EXITED and e.enrolled}

    def missing_receipts(self) -> set[str]:
        have = {r.customer_name for r in self.receipts.values()}
        return self.expected_receipts() - have

    def finished(self) -> bool:
        """The scenario is over and every shopper who left has a receipt."""
        return self.scenario_done_at is not None and not self.missing_receipts()

    def score(self) -> ScenarioScore:
        return score(self.truth, list(self.receipts.values()), self.prices)

    def cart_score(self) -> CartScore:
        return score_cart_actions(self.truth, list(self.cart_actions.values()),
                                  self.enrolled_ids)

    def missed_door_passes(self) -> list[TruthEvent]:
        return missed_door_passes(self.truth, self.door_passes)

    def held_actions(self) -> list[CartActionView]:
        return [a for a in self.cart_actions.values() if a.held]

    def late_resolved_actions(self) -> list[CartActionView]:
        return [a for a in self.cart_actions.values() if a.late_resolution]

    def held_unresolved(self) -> list[CartActionView]:
        """Held first decisions that no attributed late resolution settled."""
        resolved = {a.resolves_event_id for a in self.late_resolved_actions() if not a.held}
        return [a for a in self.held_actions()
                if not a.late_resolution and a.event_id not in resolved]

    def receipts_ended_absent(self) -> list[ReceiptView]:
        return [r for r in self.receipts.values() if r.ended_by == VISIT_ENDED_ABSENT]

    def absent_checkouts(self) -> int:
        """Visits closed because the customer was not seen for a while: per customer, the more
        of their ABSENT events and their receipts ended as absent (one checkout shows as both)."""
        events = Counter(self.absent_events)
        receipts = Counter(r.customer_name for r in self.receipts_ended_absent())
        return sum(max(events[name], receipts[name]) for name in set(events) | set(receipts))

    def truth_exit_latency(self) -> dict[str, float]:
        """Per enrolled shopper who left (per the ground truth): seconds from their exit to
        the first receipt that arrived after it (see RECEIPT_BEFORE_TRUTH_EXIT_S)."""
        arrivals: dict[str, list[float]] = {}
        for key, receipt in self.receipts.items():
            arrivals.setdefault(receipt.customer_name, []).append(self.receipt_first_at[key])
        latency = {}
        for name, exited in self.truth_exit_at.items():
            after = [t for t in arrivals.get(name, ())
                     if t >= exited - RECEIPT_BEFORE_TRUTH_EXIT_S]
            if after:
                latency[name] = min(after) - exited
        return latency

    # -- output ----------------------------------------------------------------------------
    def report(self) -> dict:
        result = self.score()
        cart = self.cart_score()
        missing = sorted(self.missing_receipts())
        missed_doors = self.missed_door_passes()
        pick_latencies = [self.cart_action_at[e] - t for e, t in self.shelf_event_at.items()
                          if e in self.cart_action_at]
        door_exit_latencies = sorted(self.receipt_latency.values())
        truth_exit_latencies = sorted(self.truth_exit_latency().values())
        return {
            'receipts_expected': result.receipts_expected,
            'receipts_right': result.receipts_right,
            'all_right': result.all_right and cart.wrong_person_units == 0,
            'receipts_all_right': result.all_right,
            'missing_receipts': missing,
            'missing_receipt_count': len(missing),
            'item_precision': result.precision,
            'item_recall': result.recall,
            'item_f1': result.f1,
            'true_positive_units': result.true_positive_units,
            'false_positive_units': result.false_positive_units,
            'false_negative_units': result.false_negative_units,
            'wrong_person_units': result.wrong_person_units,
            'phantom_units': result.phantom_units,
            'wrong_person_units_cart': cart.wrong_person_units,
            'wrong_person_cart_details': cart.wrong_person,
            'phantom_units_cart': cart.phantom_units,
            'phantom_cart_details': cart.phantoms,
            'worst_error_cents': result.worst_error_cents,
            'missed_door_passes': len(missed_doors),
            'missed_door_pass_details': [f'{e.shopper} {e.kind}' for e in missed_doors],
            'late_entries': len(self.late_entries),
            'late_entry_details': list(self.late_entries),
            'absent_checkouts': self.absent_checkouts(),
            'absent_events': len(self.absent_events),
            'receipts_ended_absent': len(self.receipts_ended_absent()),
            'unattributed_actions': self.unattributed,
            'ambiguous_actions': self.ambiguous,
            'held_actions': len(self.held_actions()),
            'late_resolved_actions': len(self.late_resolved_actions()),
            'held_unresolved': len(self.held_unresolved()),
            'put_back_credits': self.put_back_credits,
            'shelf_events': len(self.shelf_event_at),
            'cart_actions': len(self.cart_actions),
            'shelf_event_to_cart_action': summary(pick_latencies),
            'exit_to_receipt': summary(door_exit_latencies),
            'truth_exit_to_receipt': summary(truth_exit_latencies),
            'samples_s': {'shelf_event_to_cart_action': sorted(pick_latencies),
                          'exit_to_receipt': door_exit_latencies,
                          'truth_exit_to_receipt': truth_exit_latencies},
            'cameras': {cam: vars(stats) for cam, stats in sorted(self.cameras.items())},
            'shoppers': [
                {'shopper': s.shopper, 'enrolled': s.enrolled, 'expected': s.expected,
                 'charged': s.charged, 'expected_cents': s.expected_cents,
                 'charged_cents': s.charged_cents, 'exited': s.exited,
                 'right': s.exactly_right}
                for s in result.shoppers],
        }

    def table(self, currency: str) -> str:
        return format_table(self.score(), currency)


def _ms(seconds: float | None) -> str:
    return 'n/a' if seconds is None else f'{seconds * 1000:.0f} ms'


def _s(seconds: float | None) -> str:
    return 'n/a' if seconds is None else f'{seconds:.2f} s'


def report_lines(report: dict) -> list[str]:
    """The counts printed under the receipt table: two lines of counts, one of latencies, then
    one line per wrong-person cart action, phantom cart action and missed door pass."""
    missing = report['missing_receipts']
    missed_doors = report['missed_door_pass_details']
    lines = [
        f'receipts exactly right: {report["receipts_right"]}/{report["receipts_expected"]}; '
        f'missing: {report["missing_receipt_count"]}'
        + (f' ({", ".join(missing)})' if missing else '')
        + f'; wrong-person units: {report["wrong_person_units"]} on receipts, '
        f'{report["wrong_person_units_cart"]} on carts; phantom units: '
        f'{report["phantom_units"]} on receipts, {report["phantom_units_cart"]} on carts',
        f'missed door passes: {report["missed_door_passes"]}'
        + (f' ({", ".join(missed_doors)})' if missed_doors else '')
        + f'; late entries: {report["late_entries"]}; absent checkouts: '
        f'{report["absent_checkouts"]}; held actions: {report["held_actions"]} '
        f'(late resolutions: {report["late_resolved_actions"]}, still held: '
        f'{report["held_unresolved"]}); ambiguous: {report["ambiguous_actions"]}',
    ]
    pick = report['shelf_event_to_cart_action']
    door_exit = report['exit_to_receipt']
    truth_exit = report['truth_exit_to_receipt']
    lines.append(
        f'shelf event -> cart action: p50 {_ms(pick["p50_s"])}, p99 {_ms(pick["p99_s"])}; '
        f'exit -> receipt: p50 {_s(door_exit["p50_s"])}, p99 {_s(door_exit["p99_s"])}; '
        f'truth exit -> receipt: p50 {_s(truth_exit["p50_s"])}, max {_s(truth_exit["max_s"])}')
    lines += [f'  wrong cart: {d}' for d in report['wrong_person_cart_details']]
    lines += [f'  phantom cart action: {d}' for d in report['phantom_cart_details']]
    return lines


def verdict_line(report: dict, scenario_over: bool) -> str:
    """The last line: INCOMPLETE, ALL RECEIPTS RIGHT, or what went wrong."""
    if not report['finished']:
        missing = ', '.join(report['missing_receipts']) or 'none'
        return (f'VERDICT: INCOMPLETE (scenario over: {scenario_over}; '
                f'missing receipts: {missing})')
    if report['all_right']:
        return 'VERDICT: ALL RECEIPTS RIGHT'
    if report['receipts_all_right']:
        return (f'VERDICT: RECEIPTS RIGHT, BUT {report["wrong_person_units_cart"]} UNITS WENT '
                f'TO THE WRONG CART')
    return 'VERDICT: SOME RECEIPTS WRONG'
