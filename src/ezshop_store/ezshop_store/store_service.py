"""The store's bookkeeping on SQLAlchemy (no rclpy): visits, carts, stock, receipts, alerts.

The database is the truth; this class keeps a cache of what it needs on every event (items,
customers, open visits with their carts), built from the database at start (so a restart
brings open visits and carts back) and updated only after a commit succeeded. Events are
applied in batches, one transaction per batch, each event exactly once by its event_id
(unique in its table), also across restarts. A failed batch is retried event by event.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from ezshop_common.store_config import ROLE_EXIT, StoreConfig
from ezshop_store import cart_rules as rules
from ezshop_store.customer_directory import CustomerDirectory
from ezshop_store.db import models as m
from ezshop_store.fusion_core import UNKNOWN_PREFIX
from ezshop_store.store_types import (
    ABSENT,
    ENTERED,
    ERROR,
    EXITED,
    INFO,
    SEEN,
    UNKNOWN_PERSON,
    WARN,
    CartActionIn,
    CartView,
    CustomerEventIn,
    Effects,
    HeldActionView,
    ReceiptView,
    ShelfEventIn,
)

APPLIED = 'applied'
ADJUSTMENT = 'adjustment'
HELD = 'held'
REFUSED = 'refused'
RESOLVED = 'resolved'  # a held action settled later by a late attribution (its own row)
CHARGED = (APPLIED, ADJUSTMENT)
#: An EXITED this soon after a visit was closed belongs to that visit (e.g. its door pass came
#: after an absent checkout); later, it is a visit whose entry was never seen.
EXIT_AFTER_CLOSE_NS = 60 * 1_000_000_000
#: An unidentified person leaving lists the takes held this far back (about the longest
#: visit): older ones are the review queue's backlog, not what that person may carry.
UNIDENTIFIED_EXIT_LOOKBACK_NS = 3600 * 1_000_000_000
UNIDENTIFIED_EXIT = 'unidentified_exit_with_held_takes'


@dataclass
class ItemState:
    name: str
    price_cents: int
    stock: int
    low_stock_threshold: int


@dataclass
class LiveVisit:
    """An open or exiting visit with its cart (item -> quantity, item -> unit price)."""

    visit_id: int
    customer_id: str
    entered_ns: int
    exited_ns: int | None
    state: str
    cart: dict[str, int] = field(default_factory=dict)
    prices: dict[str, int] = field(default_factory=dict)
    stamp_ns: int = 0
    opened_by: str = rules.OPENED_ENTRANCE
    ended_by: str = ''

    @property
    def span(self) -> rules.VisitSpan:
        return rules.VisitSpan(self.visit_id, self.entered_ns, self.exited_ns, self.state)


class StoreService:
    """Applies customer events, cart actions and shelf events; checks visits out."""

    def __init__(self, engine: Engine, store: StoreConfig,
                 store_id: str = m.DEFAULT_STORE_ID):
        self.engine = engine
        self.store = store
        self.store_id = store_id  # this store's rows in a database several stores may share
        self.currency = store.currency
        self.items: dict[str, ItemState] = {}
        self.customers = CustomerDirectory(engine)
        self.visits: dict[str, LiveVisit] = {}
        self.seed_items()
        self.load_state()

    # ---------------------------------------------------------------- start-up
    def seed_items(self) -> None:
        """Insert catalogue items missing from the database (with their initial stock) and
        update names, prices and thresholds of known ones; stock in the database is kept."""
        with Session(self.engine) as s, s.begin():
            known = {item.id: item for item in s.scalars(
                select(m.Item).where(m.Item.store_id == self.store_id))}
            for item in self.store.items:
                row = known.get(item.item_id)
                if row is None:
                    s.add(m.Item(store_id=self.store_id, id=item.item_id, name=item.name,
                                 price_cents=item.price_cents,
                                 stock=item.initial_stock,
                                 low_stock_threshold=item.low_stock_threshold))
                else:
                    row.name = item.name
                    row.price_cents = item.price_cents
                    row.low_stock_threshold = item.low_stock_threshold

    def held_actions(self, limit: int = 0) -> list[HeldActionView]:
        """The review queue: this store's cart actions held for staff, oldest first (at most
        `limit`, 0 = all)."""
        query = select(m.CartEvent).where(m.CartEvent.store_id == self.store_id,
                                          m.CartEvent.status == HELD).order_by(
            m.CartEvent.stamp_ns, m.CartEvent.id)
        if limit:
            query = query.limit(limit)
        with Session(self.engine) as s:
            return [HeldActionView(row.event_id, row.shelf_id, row.lane_id, row.item_id,
                                   row.quantity, row.reason, row.customer_id,
                                   _candidates(row.candidates),
                                   row.stamp_ns)
                    for row in s.scalars(query)]

    def undecided_shelf_events(self, stamped_before_ns: int,
                               limit: int = 1000) -> list[CartActionIn]:
        """Shelf events stamped before the cutoff that no cart action decided (fusion was down
        or lost them in a crash), as cart actions that name nobody: held for staff, so no take
        goes unnoticed. Fusion's own decision, if it ever comes, is then a duplicate."""
        query = (select(m.ShelfEventRecord)
                 .outerjoin(m.CartEvent, m.CartEvent.event_id == m.ShelfEventRecord.event_id)
                 .where(m.ShelfEventRecord.store_id == self.store_id,
                        m.ShelfEventRecord.stamp_ns < stamped_before_ns,
                        m.ShelfEventRecord.quantity_delta != 0,
                        m.CartEvent.id.is_(None))
                 .order_by(m.ShelfEventRecord.stamp_ns).limit(limit))
        with Session(self.engine) as s:
            return [CartActionIn(row.event_id, '', row.item_id, -row.quantity_delta,
                                 row.stamp_ns, confidence=0.0, shelf_id=row.shelf_id,
                                 lane_id=row.lane_id, hold_reason='undecided')
                    for row in s.scalars(query)]

    def note_customer(self, customer_id: str, name: str | None) -> None:
        """Keep the customer cache in step with an enrolment (name) or a forget (None) that
        store_admin committed."""
        self.customers[customer_id] = name

    def note_stock(self, item_id: str, stock: int) -> int:
        """Keep the item cache in step with a stock set that store_admin committed; returns
        the stock before."""
        before = self.items[item_id].stock
        self.items[item_id].stock = stock
        return before

    def load_state(self) -> None:
        """(Re)build the cache from the database: items, open visits and carts (customers are read
        when first needed, see customer_directory)."""
        with Session(self.engine) as s:
            self.items = {row.id: ItemState(row.name, row.price_cents, row.stock,
                                            row.low_stock_threshold)
                          for row in s.scalars(
                              select(m.Item).where(m.Item.store_id == self.store_id))}
            self.visits = {}
            live = s.scalars(select(m.Visit).where(
                m.Visit.store_id == self.store_id,
                m.Visit.state.in_((rules.VISIT_OPEN, rules.VISIT_EXITING))).order_by(m.Visit.id))
            by_id = {}
            for visit in live:
                lv = LiveVisit(visit.id, visit.customer_id, visit.entered_at_ns,
                               visit.exited_at_ns, visit.state, stamp_ns=visit.entered_at_ns,
                               opened_by=visit.opened_by, ended_by=visit.ended_by)
                self.visits[visit.customer_id] = lv
                by_id[visit.id] = lv
            if by_id:
                quantities, prices = self._cart_from_db(s, list(by_id))
                for visit_id, lv in by_id.items():
                    lv.cart = quantities.get(visit_id, {})
                    lv.prices = prices.get(visit_id, {})

    def exiting_visits(self) -> list[int]:
        """Visits waiting for their checkout (e.g. after a restart)."""
        return [v.visit_id for v in self.visits.values() if v.state == rules.VISIT_EXITING]

    # ---------------------------------------------------------------- events
    def apply_batch(self, events: Sequence) -> Effects:
        """Apply events in order in one transaction; duplicates (by event_id) are skipped.

        Raises OperationalError when the database cannot be reached (nothing was applied);
        an event the database refuses is isolated and reported with a store_error alert.
        """
        effects = Effects()
        if not events:
            return effects
        pending = _Pending()
        try:
            with Session(self.engine) as s, s.begin():
                self._apply_all(s, events, effects, pending)
        except OperationalError:
            raise  # the database is unreachable: the caller keeps the events and retries
        except SQLAlchemyError as exc:
            # The cache took nothing from this batch (it is updated only after a commit).
            if len(events) == 1:
                effects = Effects()
                effects.counters['db_errors'] += 1
                effects.alert(ERROR, 'store_error', f'could not record event '
                              f'{events[0].event_id}: {exc.__class__.__name__}: {exc}',
                              [events[0].event_id], events[0].stamp_ns)
                return effects
            effects = Effects()
            effects.counters['batch_retries'] += 1
            for event in events:
                effects.merge(self.apply_batch([event]))
            return effects
        self._commit_cache(pending)
        for customer_id, stamp in pending.changed_carts.items():
            effects.carts[customer_id] = self.cart_view(customer_id, stamp)
        return effects

    def _apply_all(self, s: Session, events: Sequence, effects: Effects,
                   pending: _Pending) -> None:
        existing = self._existing_ids(s, events)
        seen = set()
        for event in events:
            key = (type(event), event.event_id)
            if event.event_id in existing.get(type(event), ()) or key in seen:
                effects.counters['duplicates'] += 1
                effects.log(INFO, 'duplicate',
                            f'duplicate {type(event).__name__} {event.event_id} ignored')
                continue
            seen.add(key)
            if isinstance(event, CartActionIn):
                self._cart_action(s, event, effects, pending)
            elif isinstance(event, CustomerEventIn):
                self._customer_event(s, event, effects, pending)
            elif isinstance(event, ShelfEventIn):
                self._shelf_event(s, event, effects, pending)
            else:
                raise TypeError(f'not an event: {event!r}')
        for item_id, stock in pending.stock.items():
            s.execute(update(m.Item).where(m.Item.store_id == self.store_id,
                                           m.Item.id == item_id).values(stock=stock))
        for alert in effects.alerts:
            s.add(m.AlertRecord(store_id=self.store_id, stamp_ns=alert.stamp_ns, level=alert.level,
                                kind=alert.kind,
                                message=alert.message, refs=json.dumps(list(alert.refs))))

    @staticmethod
    def _existing_ids(s: Session, events: Sequence) -> dict[type, set[str]]:
        tables = {CartActionIn: m.CartEvent.event_id,
                  CustomerEventIn: m.CustomerEventRecord.event_id,
                  ShelfEventIn: m.ShelfEventRecord.event_id}
        found: dict[type, set[str]] = {}
        for kind, column in tables.items():
            ids = [e.event_id for e in events if type(e) is kind]
            hits = set()
            for start in range(0, len(ids), 500):
                hits.update(s.scalars(select(column).where(column.in_(ids[start:start + 500]))))
            found[kind] = hits
        return found

    # customer events --------------------------------------------------------
    def _customer_event(self, s: Session, ev: CustomerEventIn, effects: Effects,
                        pending: _Pending) -> None:
        outcome = self._customer_outcome(s, ev, effects, pending)
        effects.counters[f'customer_events_{outcome}'] += 1
        s.add(m.CustomerEventRecord(event_id=ev.event_id, store_id=self.store_id, kind=ev.kind,
                                    customer_id=ev.customer_id, door_id=ev.door_id,
                                    stamp_ns=ev.stamp_ns, outcome=outcome))

    def _customer_outcome(self, s, ev: CustomerEventIn, effects: Effects, pending) -> str:
        if ev.kind == UNKNOWN_PERSON:
            effects.alert(WARN, 'unknown_person', f'unknown person at door {ev.door_id}',
                          [ev.event_id, ev.door_id], ev.stamp_ns)
            if any(d.door_id == ev.door_id and d.role == ROLE_EXIT for d in self.store.doors):
                self._unidentified_exit(s, ev, effects)
            return 'unknown_person'
        if ev.kind not in (ENTERED, EXITED, SEEN, ABSENT):
            effects.alert(WARN, 'bad_customer_event', f'unknown customer event kind {ev.kind}',
                          [ev.event_id], ev.stamp_ns)
            return 'bad_kind'
        if self.customers.get(ev.customer_id) is None:
            effects.alert(WARN, 'unknown_customer', f'customer event for unknown or forgotten '
                          f'customer {ev.customer_id!r}', [ev.event_id, ev.customer_id],
                          ev.stamp_ns)
            return 'unknown_customer'
        if ev.kind in (ENTERED, SEEN):
            return self._arrival(s, ev, effects, pending)
        return self._departure(s, ev, effects, pending)

    def _unidentified_exit(self, s: Session, ev: CustomerEventIn, effects: Effects) -> None:
        """Somebody nobody could identify left: one alert listing the takes still held that no
        identified customer was nearest (an unidentified face was, or nobody was seen), each
        listed once, for staff to review before the goods are forgotten. Nobody is charged."""
        since = ev.stamp_ns - UNIDENTIFIED_EXIT_LOOKBACK_NS
        listed = {ref for alert in effects.alerts if alert.kind == UNIDENTIFIED_EXIT
                  for ref in alert.refs}
        for refs in s.scalars(select(m.AlertRecord.refs).where(
                m.AlertRecord.store_id == self.store_id, m.AlertRecord.kind == UNIDENTIFIED_EXIT,
                m.AlertRecord.stamp_ns >= since)):
            listed.update(json.loads(refs or '[]'))
        takes = [row for row in s.scalars(select(m.CartEvent).where(
            m.CartEvent.store_id == self.store_id, m.CartEvent.status == HELD,
            m.CartEvent.customer_id == '', m.CartEvent.quantity > 0,
            m.CartEvent.stamp_ns.between(since, ev.stamp_ns)).order_by(m.CartEvent.stamp_ns,
                                                                        m.CartEvent.id))
                 if row.event_id not in listed and _nobody_identified_nearest(row.candidates)]
        if not takes:
            return
        units: dict[str, int] = {}
        for row in takes:
            units[row.item_id] = units.get(row.item_id, 0) + row.quantity
        what = ', '.join(f'{n} {item}' for item, n in sorted(units.items()))
        effects.alert(WARN, UNIDENTIFIED_EXIT,
                      f'an unidentified person left by door {ev.door_id}; {len(takes)} take(s) '
                      f'no identified customer was nearest are still held ({what}): review them',
                      [ev.event_id, ev.door_id, *(row.event_id for row in takes)], ev.stamp_ns)

    def _arrival(self, s, ev: CustomerEventIn, effects: Effects, pending) -> str:
        """ENTERED (door) or SEEN (first sighting inside, the door pass was missed)."""
        visit = pending.visit(self, ev.customer_id)
        if visit is not None and (visit.state == rules.VISIT_OPEN
                                  or ev.stamp_ns <= (visit.exited_ns or 0)):
            # Evidence of the visit already open: it may only move its start earlier.
            if ev.stamp_ns < visit.entered_ns:
                self._move_entry(s, visit, ev.stamp_ns, effects, pending)
                return 'entry_moved_earlier'
            effects.log(INFO, 'ignored_already_in',
                        f'{_KIND_NAMES[ev.kind]} for {ev.customer_id} who is already in '
                        f'(visit {visit.visit_id}): ignored')
            return 'ignored_already_in'
        if visit is not None:  # re-entered during the exit grace period
            self._close_visit(s, visit, visit.exited_ns or ev.stamp_ns, effects, pending)
        elif ev.kind == SEEN and self._closed_visit_covering(s, ev.customer_id, ev.stamp_ns):
            effects.log(INFO, 'ignored_closed', f'SEEN for {ev.customer_id} during a visit '
                        'already checked out: ignored')
            return 'ignored_closed'
        opened_by = rules.OPENED_ENTRANCE if ev.kind == ENTERED else rules.OPENED_LATE
        self._open_visit(s, ev.customer_id, ev.stamp_ns, opened_by, effects, pending)
        if ev.kind == SEEN:
            effects.alert(WARN, 'late_entry', f'{ev.customer_id} seen in the store at camera '
                          f'{ev.camera_id or "?"} without a door pass: visit opened from that '
                          'sighting', [ev.event_id, ev.customer_id, ev.camera_id], ev.stamp_ns)
            return 'late_entry'
        return 'entered'

    def _departure(self, s, ev: CustomerEventIn, effects: Effects, pending) -> str:
        """EXITED (door) or ABSENT (not seen anywhere for a while)."""
        ended_by = rules.ENDED_EXIT if ev.kind == EXITED else rules.ENDED_ABSENT
        visit = pending.visit(self, ev.customer_id)
        if visit is not None and visit.state == rules.VISIT_EXITING:
            if ev.kind == EXITED and visit.ended_by == rules.ENDED_ABSENT:
                # The door did see it after all: the receipt says so.
                visit.ended_by = rules.ENDED_EXIT
                s.execute(update(m.Visit).where(m.Visit.id == visit.visit_id).values(
                    ended_by=visit.ended_by))
                return 'exit_confirmed'
            effects.log(INFO, 'ignored_already_leaving',
                        f'{_KIND_NAMES[ev.kind]} for {ev.customer_id} who is already '
                        'leaving: ignored')
            return 'ignored_already_leaving'
        if visit is None:
            if ev.kind == ABSENT or self._closed_visit_covering(
                    s, ev.customer_id, ev.stamp_ns - EXIT_AFTER_CLOSE_NS):
                effects.log(WARN, 'ignored_not_in',
                            f'{_KIND_NAMES[ev.kind]} for {ev.customer_id} who is not in the '
                            'store: ignored')
                return 'ignored_not_in'
            # Out through the exit, never seen coming in: a visit of its own, with a receipt.
            visit = self._open_visit(s, ev.customer_id, ev.stamp_ns, rules.OPENED_LATE,
                                     effects, pending)
            effects.alert(WARN, 'late_entry', f'{ev.customer_id} left through '
                          f'{ev.door_id or "the exit"} without being seen coming in: visit '
                          'opened and closed at the exit', [ev.event_id, ev.customer_id],
                          ev.stamp_ns)
        exited_ns = max(ev.stamp_ns, visit.entered_ns)
        visit.exited_ns = exited_ns
        visit.state = rules.VISIT_EXITING
        visit.ended_by = ended_by
        s.execute(update(m.Visit).where(m.Visit.id == visit.visit_id).values(
            exited_at_ns=exited_ns, state=rules.VISIT_EXITING, ended_by=ended_by))
        if ev.kind == ABSENT:
            effects.alert(WARN, 'absent_checkout', f'{ev.customer_id} not seen in the store '
                          f'since {ev.stamp_ns / 1e9:.1f} s (last at camera '
                          f'{ev.camera_id or "?"}): checked out without an exit pass',
                          [ev.event_id, ev.customer_id, str(visit.visit_id)], ev.stamp_ns)
        effects.exiting.append(visit.visit_id)
        return 'exited' if ev.kind == EXITED else 'absent'

    def _open_visit(self, s: Session, customer_id: str, stamp_ns: int, opened_by: str,
                    effects: Effects, pending: _Pending) -> LiveVisit:
        row = m.Visit(store_id=self.store_id, customer_id=customer_id, entered_at_ns=stamp_ns,
                      exited_at_ns=None,
                      state=rules.VISIT_OPEN, opened_by=opened_by, ended_by='')
        s.add(row)
        s.flush()
        visit = LiveVisit(row.id, customer_id, stamp_ns, None, rules.VISIT_OPEN,
                          stamp_ns=stamp_ns, opened_by=opened_by)
        pending.visits[customer_id] = visit
        pending.changed_carts[customer_id] = stamp_ns
        self._apply_held_in_span(s, visit, effects, pending)
        return visit

    def _move_entry(self, s: Session, visit: LiveVisit, stamp_ns: int, effects: Effects,
                    pending: _Pending) -> None:
        visit.entered_ns = stamp_ns
        s.execute(update(m.Visit).where(m.Visit.id == visit.visit_id).values(
            entered_at_ns=stamp_ns))
        self._apply_held_in_span(s, visit, effects, pending)

    def _apply_held_in_span(self, s: Session, visit: LiveVisit, effects: Effects,
                            pending: _Pending) -> None:
        """Cart actions held because the customer was not in the store, stamped inside this
        visit as the evidence now says, go on its cart (oldest first)."""
        query = select(m.CartEvent).where(
            m.CartEvent.customer_id == visit.customer_id, m.CartEvent.status == HELD,
            m.CartEvent.reason == 'not_in_store', m.CartEvent.stamp_ns >= visit.entered_ns)
        if visit.exited_ns is not None:
            query = query.where(m.CartEvent.stamp_ns <= visit.exited_ns)
        for row in s.scalars(query.order_by(m.CartEvent.stamp_ns, m.CartEvent.id)):
            ev = CartActionIn(row.event_id, row.customer_id, row.item_id, row.quantity,
                              row.stamp_ns, row.confidence, row.ambiguous, (), row.shelf_id,
                              row.lane_id)
            row.reason = ''
            self._place(s, ev, row, effects, pending)
            effects.counters['held_actions_applied_late'] += 1
            effects.log(INFO, 'held_action_applied_late',
                        f'cart action {row.event_id} ({row.quantity:+d} {row.item_id}) held '
                        f'while {visit.customer_id} was not known to be in: now on visit '
                        f'{visit.visit_id}')

    def _closed_visit_covering(self, s: Session, customer_id: str, stamp_ns: int) -> bool:
        """A closed visit of this customer that was still open at (or after) stamp_ns."""
        return s.scalar(select(func.count()).select_from(m.Visit).where(
            m.Visit.store_id == self.store_id, m.Visit.customer_id == customer_id,
            m.Visit.state == rules.VISIT_CLOSED, m.Visit.exited_at_ns >= stamp_ns)) > 0

    # cart actions -----------------------------------------------------------
    def _cart_action(self, s: Session, ev: CartActionIn, effects: Effects,
                     pending: _Pending) -> None:
        item = self.items.get(ev.item_id)
        row = m.CartEvent(
            event_id=ev.event_id, store_id=self.store_id, visit_id=None,
            customer_id=ev.customer_id,
            item_id=ev.item_id, quantity=ev.quantity, applied_quantity=0,
            unit_price_cents=item.price_cents if item else 0, confidence=float(ev.confidence),
            ambiguous=bool(ev.ambiguous), candidates=json.dumps(list(ev.candidates)),
            shelf_id=ev.shelf_id, lane_id=ev.lane_id, stamp_ns=ev.stamp_ns, status=HELD,
            reason='')
        s.add(row)
        refs = [ev.event_id, ev.customer_id, ev.item_id]
        if ev.resolves_event_id and not self._resolve_held(s, ev, row, effects):
            effects.counters[f'cart_actions_{row.status}'] += 1
            return
        if item is None:
            row.reason = 'unknown_item'
            effects.alert(WARN, 'unknown_item', f'cart action {ev.event_id} for unknown item '
                          f'{ev.item_id!r}: held for staff', refs, ev.stamp_ns)
        elif not ev.customer_id:
            row.reason = ev.hold_reason or ('ambiguous' if ev.ambiguous else 'unattributed')
            names = ', '.join(c for c, _ in ev.candidates) or 'nobody'
            effects.alert(WARN, 'held_for_staff', f'{row.reason} cart action {ev.event_id} '
                          f'({ev.quantity:+d} {ev.item_id}, candidates: {names}): held for staff',
                          [ev.event_id, ev.item_id, *(c for c, _ in ev.candidates)], ev.stamp_ns)
        elif ev.quantity == 0:
            row.status, row.reason = REFUSED, 'zero_quantity'
            effects.log(WARN, 'zero_quantity',
                        f'cart action {ev.event_id} with quantity 0 ignored')
        elif ev.customer_id not in self.customers:
            row.reason = 'unknown_customer'
            effects.alert(WARN, 'unknown_customer', f'cart action {ev.event_id} for unknown '
                          f'customer {ev.customer_id!r}: held for staff', refs, ev.stamp_ns)
        else:
            self._place(s, ev, row, effects, pending)
        effects.counters[f'cart_actions_{row.status}'] += 1

    @staticmethod
    def _resolve_held(s: Session, ev: CartActionIn, row: m.CartEvent, effects: Effects) -> bool:
        """A late attribution: mark the held action it settles; False (and the row refused)
        when there is no such held action, so nothing is ever charged twice."""
        held = s.scalar(select(m.CartEvent).where(m.CartEvent.event_id == ev.resolves_event_id))
        if held is None or held.status != HELD:
            row.status, row.reason = REFUSED, 'resolves_nothing_held'
            effects.alert(WARN, 'late_attribution_refused', f'cart action {ev.event_id} '
                          f'resolves {ev.resolves_event_id!r}, which is not a held action: '
                          'ignored', [ev.event_id, ev.resolves_event_id], ev.stamp_ns)
            return False
        held.status, held.reason = RESOLVED, 'late_attribution'
        effects.counters['late_attributions'] += 1
        effects.log(INFO, 'late_attribution',
                    f'held cart action {held.event_id} settled by {ev.event_id}: '
                    f'{ev.customer_id} ({ev.quantity:+d} {ev.item_id})')
        return True

    def _place(self, s: Session, ev: CartActionIn, row: m.CartEvent, effects: Effects,
               pending: _Pending) -> None:
        visit = pending.visit(self, ev.customer_id)
        where, span = rules.place_cart_action(
            ev.stamp_ns, visit.span if visit else None,
            () if visit is not None and rules.covers(visit.span, ev.stamp_ns)
            else self._closed_spans(s, ev.customer_id, ev.stamp_ns))
        refs = [ev.event_id, ev.customer_id, ev.item_id]
        if where == rules.PLACE_NOT_IN_STORE:
            row.reason = 'not_in_store'
            effects.alert(WARN, 'not_in_store', f'cart action {ev.event_id} ({ev.quantity:+d} '
                          f'{ev.item_id}) for {ev.customer_id}, who was not in the store: not '
                          'charged, held for staff', refs, ev.stamp_ns)
            return
        row.visit_id = span.visit_id
        if where == rules.PLACE_CART:
            cart = pending.cart(visit)
            applied, refused = rules.apply_to_cart(cart.get(ev.item_id, 0), ev.quantity)
            if applied:
                cart[ev.item_id] = cart.get(ev.item_id, 0) + applied
                prices = pending.prices(visit)
                prices.setdefault(ev.item_id, row.unit_price_cents)
                pending.changed_carts[ev.customer_id] = ev.stamp_ns
            row.applied_quantity = applied
            row.status = APPLIED if applied else REFUSED
        else:
            quantities, prices = self._cart_from_db(s, [span.visit_id])
            cart = quantities.get(span.visit_id, {})
            applied, refused = rules.apply_to_cart(cart.get(ev.item_id, 0), ev.quantity)
            row.applied_quantity = applied
            row.status = ADJUSTMENT if applied else REFUSED
            if applied:
                s.flush()
                effects.alert(WARN, 'late_cart_action', f'cart action {ev.event_id} '
                              f'({applied:+d} {ev.item_id}) arrived after the receipt of visit '
                              f'{span.visit_id}: adjustment receipt issued', refs, ev.stamp_ns)
                effects.receipts.append(self._issue_receipt(s, span.visit_id, ev.customer_id,
                                                            span.entered_ns,
                                                            span.exited_ns or ev.stamp_ns,
                                                            span.exited_ns or ev.stamp_ns))
        if refused:
            row.reason = 'put_back_not_held'
            effects.alert(WARN, 'put_back_not_held', f'{ev.customer_id} put back {-refused} '
                          f'{ev.item_id} more than they hold (event {ev.event_id}): not '
                          'credited', refs, ev.stamp_ns)

    def _closed_spans(self, s: Session, customer_id: str, stamp_ns: int):
        rows = s.execute(select(m.Visit.id, m.Visit.entered_at_ns, m.Visit.exited_at_ns)
                         .where(m.Visit.store_id == self.store_id,
                                m.Visit.customer_id == customer_id,
                                m.Visit.state == rules.VISIT_CLOSED,
                                m.Visit.entered_at_ns <= stamp_ns,
                                m.Visit.exited_at_ns >= stamp_ns)
                         .order_by(m.Visit.id.desc()).limit(1))
        return [rules.VisitSpan(v, e, x, rules.VISIT_CLOSED) for v, e, x in rows]

    @staticmethod
    def _cart_from_db(s: Session, visit_ids: list[int]):
        """Quantities and first unit prices per item of visits, from charged cart events."""
        quantities: dict[int, dict[str, int]] = {}
        prices: dict[int, dict[str, int]] = {}
        rows = s.execute(select(m.CartEvent.visit_id, m.CartEvent.item_id,
                                m.CartEvent.applied_quantity, m.CartEvent.unit_price_cents)
                         .where(m.CartEvent.visit_id.in_(visit_ids),
                                m.CartEvent.status.in_(CHARGED))
                         .order_by(m.CartEvent.id))
        for visit_id, item_id, qty, price in rows:
            cart = quantities.setdefault(visit_id, {})
            cart[item_id] = cart.get(item_id, 0) + qty
            prices.setdefault(visit_id, {}).setdefault(item_id, price)
        return quantities, prices

    # shelf events -----------------------------------------------------------
    def _shelf_event(self, s: Session, ev: ShelfEventIn, effects: Effects,
                     pending: _Pending) -> None:
        item = self.items.get(ev.item_id)
        applied = 0
        if item is None:
            effects.alert(WARN, 'unknown_item', f'shelf event {ev.event_id} for unknown item '
                          f'{ev.item_id!r}', [ev.event_id, ev.item_id], ev.stamp_ns)
        else:
            before = pending.stock.get(ev.item_id, item.stock)
            after, shortfall = rules.stock_after(before, ev.quantity_delta)
            applied = after - before
            pending.stock[ev.item_id] = after
            effects.inventory_changed = True
            if shortfall:
                effects.alert(ERROR, 'stock_negative', f'shelf event {ev.event_id} takes '
                              f'{-ev.quantity_delta} {ev.item_id} but stock was {before}: '
                              f'stock set to 0, {shortfall} unaccounted',
                              [ev.event_id, ev.item_id], ev.stamp_ns)
            if rules.crosses_low_stock(before, after, item.low_stock_threshold):
                effects.alert(INFO, 'low_stock', f'{ev.item_id} stock is {after} (threshold '
                              f'{item.low_stock_threshold})', [ev.item_id], ev.stamp_ns)
        effects.counters['shelf_events'] += 1
        s.add(m.ShelfEventRecord(event_id=ev.event_id, store_id=self.store_id,
                                 shelf_id=ev.shelf_id, lane_id=ev.lane_id, item_id=ev.item_id,
                                 quantity_delta=ev.quantity_delta, applied_delta=applied,
                                 stamp_ns=ev.stamp_ns))

    # ---------------------------------------------------------------- checkout
    def checkout(self, customer_id: str, stamp_ns: int) -> tuple[ReceiptView | None, Effects]:
        """Close the customer's visit now and issue its receipt (exit time: EXITED's stamp, or
        stamp_ns for a staff checkout of someone still in)."""
        effects = Effects()
        visit = self.visits.get(customer_id)
        if visit is None:
            return None, effects
        pending = _Pending()
        with Session(self.engine) as s, s.begin():
            receipt = self._close_visit(s, visit, visit.exited_ns or stamp_ns, effects, pending)
        self._commit_cache(pending)
        return receipt, effects

    def checkout_visit(self, visit_id: int, stamp_ns: int) -> tuple[ReceiptView | None, Effects]:
        for visit in self.visits.values():
            if visit.visit_id == visit_id:
                return self.checkout(visit.customer_id, stamp_ns)
        return None, Effects()

    def _close_visit(self, s: Session, visit: LiveVisit, exited_ns: int, effects: Effects,
                     pending: _Pending) -> ReceiptView:
        ended_by = visit.ended_by or rules.ENDED_STAFF  # no exit evidence: staff closed it
        s.execute(update(m.Visit).where(m.Visit.id == visit.visit_id).values(
            exited_at_ns=exited_ns, state=rules.VISIT_CLOSED, ended_by=ended_by))
        s.flush()
        receipt = self._issue_receipt(s, visit.visit_id, visit.customer_id, visit.entered_ns,
                                      exited_ns, exited_ns)
        effects.receipts.append(receipt)
        effects.counters['receipts'] += 1
        pending.visits[visit.customer_id] = None
        effects.carts[visit.customer_id] = CartView(visit.customer_id, visit.visit_id, False,
                                                    (), 0, self.currency, exited_ns)
        return receipt

    def _issue_receipt(self, s: Session, visit_id: int, customer_id: str, entered_ns: int,
                       exited_ns: int, stamp_ns: int) -> ReceiptView:
        quantities, prices = self._cart_from_db(s, [visit_id])
        names = {item_id: item.name for item_id, item in self.items.items()}
        lines = rules.cart_lines(quantities.get(visit_id, {}), names, prices.get(visit_id, {}))
        revision = (s.scalar(select(func.max(m.Receipt.revision))
                             .where(m.Receipt.visit_id == visit_id)) or 0) + 1
        row = m.Receipt(visit_id=visit_id, revision=revision, total_cents=rules.total_cents(lines),
                        currency=self.currency, stamp_ns=stamp_ns,
                        lines=[m.ReceiptLine(item_id=ln.item_id, name=ln.name,
                                             quantity=ln.quantity,
                                             unit_price_cents=ln.unit_price_cents,
                                             line_total_cents=ln.total_cents) for ln in lines])
        s.add(row)
        s.flush()
        visit = s.get(m.Visit, visit_id)
        return ReceiptView(row.id, revision, visit_id, customer_id,
                           self.customers.get(customer_id) or '', tuple(lines), row.total_cents,
                           self.currency, entered_ns, exited_ns, stamp_ns, visit.opened_by,
                           visit.ended_by)

    def receipts_for_customer(self, customer_id: str) -> list[ReceiptView]:
        """Every receipt (all revisions) of a customer, oldest first (read from the database)."""
        with Session(self.engine) as s:
            rows = s.execute(select(m.Receipt, m.Visit).join(m.Visit)
                             .where(m.Visit.store_id == self.store_id,
                                    m.Visit.customer_id == customer_id).order_by(m.Receipt.id))
            return [ReceiptView(
                r.id, r.revision, v.id, customer_id, self.customers.get(customer_id) or '',
                tuple(rules.Line(ln.item_id, ln.name, ln.quantity, ln.unit_price_cents)
                      for ln in r.lines), r.total_cents, r.currency, v.entered_at_ns,
                v.exited_at_ns or 0, r.stamp_ns, v.opened_by, v.ended_by) for r, v in rows]

    # ---------------------------------------------------------------- views
    def cart_view(self, customer_id: str, stamp_ns: int | None = None) -> CartView:
        visit = self.visits.get(customer_id)
        if visit is None:
            return CartView(customer_id, 0, False, (), 0, self.currency, stamp_ns or 0)
        names = {item_id: item.name for item_id, item in self.items.items()}
        lines = tuple(rules.cart_lines(visit.cart, names, visit.prices))
        return CartView(customer_id, visit.visit_id, True, lines, rules.total_cents(lines),
                        self.currency, stamp_ns if stamp_ns is not None else visit.stamp_ns)

    def _commit_cache(self, pending: _Pending) -> None:
        """After a successful commit: move the batch's changes into the cache."""
        for item_id, stock in pending.stock.items():
            self.items[item_id].stock = stock
        for customer_id, visit in pending.visits.items():
            if visit is None:
                self.visits.pop(customer_id, None)
            else:
                self.visits[customer_id] = visit
        for visit, cart in pending.carts.values():
            visit.cart = cart
        for visit, prices in pending.price_maps.values():
            visit.prices = prices
        for customer_id, stamp in pending.changed_carts.items():
            visit = self.visits.get(customer_id)
            if visit is not None:
                visit.stamp_ns = stamp


_KIND_NAMES = {ENTERED: 'ENTERED', EXITED: 'EXITED', SEEN: 'SEEN', ABSENT: 'ABSENT'}


class _Pending:
    """Changes of one batch, kept apart from the cache until the commit succeeded."""

    def __init__(self):
        self.stock: dict[str, int] = {}
        self.visits: dict[str, LiveVisit | None] = {}
        self.carts: dict[int, tuple[LiveVisit, dict[str, int]]] = {}
        self.price_maps: dict[int, tuple[LiveVisit, dict[str, int]]] = {}
        self.changed_carts: dict[str, int] = {}

    def visit(self, service: StoreService, customer_id: str) -> LiveVisit | None:
        """The customer's live visit as this batch sees it (a copy, so rollback is free)."""
        if customer_id in self.visits:
            return self.visits[customer_id]
        current = service.visits.get(customer_id)
        if current is None:
            return None
        copy = LiveVisit(current.visit_id, current.customer_id, current.entered_ns,
                         current.exited_ns, current.state, current.cart, current.prices,
                         current.stamp_ns, current.opened_by, current.ended_by)
        self.visits[customer_id] = copy
        return copy

    def cart(self, visit: LiveVisit) -> dict[str, int]:
        if visit.visit_id not in self.carts:
            self.carts[visit.visit_id] = (visit, dict(visit.cart))
        return self.carts[visit.visit_id][1]

    def prices(self, visit: LiveVisit) -> dict[str, int]:
        if visit.visit_id not in self.price_maps:
            self.price_maps[visit.visit_id] = (visit, dict(visit.prices))
        return self.price_maps[visit.visit_id][1]


def _candidates(stored: str | None) -> tuple[tuple[str, float], ...]:
    """A cart event's candidates as stored (JSON, best first): (customer or track, score)."""
    return tuple((str(c), float(v)) for c, v in json.loads(stored or '[]'))


def _nobody_identified_nearest(stored: str | None) -> bool:
    """A held action's candidates name no identified customer first."""
    ranked = _candidates(stored)
    return not ranked or ranked[0][0].startswith(UNKNOWN_PREFIX)
