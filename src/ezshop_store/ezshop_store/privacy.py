"""What the store holds about a person, and for how long (no rclpy).

- export_customer: everything stored about one customer (their right of access), as plain
  JSON-ready data.
- anonymise_before: the retention period: visits, door and sighting events, cart actions,
  staff decisions and alerts older than the cutoff lose their link to a person (customer ids
  cleared; alerts, whose text and refs may name one, deleted). Sales totals and stock stay.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from ezshop_store import cart_rules as rules
from ezshop_store.db import models as m
from ezshop_store.db.engine import scrub
from ezshop_store.store_service import StoreService


def export_customer(service: StoreService, customer_id: str) -> dict | None:
    """Every row about the customer, or None for an unknown id."""
    with Session(service.engine) as s:
        customer = s.get(m.Customer, customer_id)
        if customer is None:
            return None
        visits = s.scalars(select(m.Visit).where(m.Visit.customer_id == customer_id)
                           .order_by(m.Visit.id)).all()
        visit_ids = [v.id for v in visits]
        receipts = s.scalars(select(m.Receipt).where(m.Receipt.visit_id.in_(visit_ids))
                             .order_by(m.Receipt.id)).all() if visit_ids else []
        cart_events = s.scalars(select(m.CartEvent).where(m.CartEvent.customer_id == customer_id)
                                .order_by(m.CartEvent.id)).all()
        customer_events = s.scalars(
            select(m.CustomerEventRecord).where(m.CustomerEventRecord.customer_id == customer_id)
            .order_by(m.CustomerEventRecord.stamp_ns)).all()
        decisions = s.scalars(select(m.StaffDecision).where(
            m.StaffDecision.customer_id == customer_id).order_by(m.StaffDecision.id)).all()
        return {
            'customer': {'id': customer.id, 'name': customer.name,
                         'consent_at_ns': customer.consent_at_ns,
                         'consent_notice': customer.consent_notice,
                         'forgotten_at_ns': customer.forgotten_at_ns},
            'embeddings': [{'model': e.model, 'dim': e.dim,
                            'values': np.frombuffer(e.vector, '<f4').tolist()}
                           for e in customer.embeddings],
            'visits': [{'id': v.id, 'store_id': v.store_id, 'entered_at_ns': v.entered_at_ns,
                        'exited_at_ns': v.exited_at_ns, 'state': v.state,
                        'opened_by': v.opened_by, 'ended_by': v.ended_by} for v in visits],
            'receipts': [{'id': r.id, 'visit_id': r.visit_id, 'revision': r.revision,
                          'total_cents': r.total_cents, 'currency': r.currency,
                          'stamp_ns': r.stamp_ns,
                          'lines': [{'item_id': ln.item_id, 'name': ln.name,
                                     'quantity': ln.quantity,
                                     'unit_price_cents': ln.unit_price_cents}
                                    for ln in r.lines]} for r in receipts],
            'cart_actions': [{'event_id': c.event_id, 'store_id': c.store_id,
                              'item_id': c.item_id, 'quantity': c.quantity,
                              'applied_quantity': c.applied_quantity, 'status': c.status,
                              'reason': c.reason, 'confidence': c.confidence,
                              'stamp_ns': c.stamp_ns} for c in cart_events],
            'door_and_sighting_events': [{'event_id': e.event_id, 'store_id': e.store_id,
                                          'kind': e.kind, 'door_id': e.door_id,
                                          'stamp_ns': e.stamp_ns, 'outcome': e.outcome}
                                         for e in customer_events],
            'staff_decisions': [{'event_id': d.event_id, 'staff_id': d.staff_id,
                                 'decision': d.decision, 'note': d.note,
                                 'stamp_ns': d.stamp_ns} for d in decisions],
        }


def anonymise_before(service: StoreService, cutoff_ns: int) -> dict[str, int]:
    """Unlink everything of this store older than cutoff_ns from the people it was about;
    returns how many rows of each kind changed. Open visits are left alone."""
    store = service.store_id
    counts = {}
    with Session(service.engine) as s, s.begin():
        counts['visits'] = s.execute(update(m.Visit).where(
            m.Visit.store_id == store, m.Visit.customer_id.is_not(None),
            m.Visit.state == rules.VISIT_CLOSED, m.Visit.exited_at_ns < cutoff_ns)
            .values(customer_id=None)).rowcount
        counts['customer_events'] = s.execute(update(m.CustomerEventRecord).where(
            m.CustomerEventRecord.store_id == store, m.CustomerEventRecord.customer_id != '',
            m.CustomerEventRecord.stamp_ns < cutoff_ns).values(customer_id='')).rowcount
        counts['cart_actions'] = s.execute(update(m.CartEvent).where(
            m.CartEvent.store_id == store, m.CartEvent.customer_id != '',
            m.CartEvent.stamp_ns < cutoff_ns).values(customer_id='', candidates='')).rowcount
        counts['staff_decisions'] = s.execute(update(m.StaffDecision).where(
            m.StaffDecision.store_id == store, m.StaffDecision.customer_id != '',
            m.StaffDecision.stamp_ns < cutoff_ns).values(customer_id='', note='')).rowcount
        counts['alerts'] = s.execute(delete(m.AlertRecord).where(
            m.AlertRecord.store_id == store, m.AlertRecord.stamp_ns < cutoff_ns)).rowcount
    if any(counts.values()):
        scrub(service.engine)
    return counts
