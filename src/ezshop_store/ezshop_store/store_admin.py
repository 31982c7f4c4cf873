"""Staff and enrolment operations of the store (no rclpy): customers, gallery, stock."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ezshop_common.gallery_entry import GalleryEntry
from ezshop_common.limits import MAX_NAME_CHARS
from ezshop_store.db import models as m
from ezshop_store.db.engine import scrub
from ezshop_store.store_service import HELD, RESOLVED, StoreService
from ezshop_store.store_types import INFO, WARN, CartActionIn, Effects


class AdminError(ValueError):
    """A request staff or enrolment made that cannot be done; the message says why."""




@dataclass(frozen=True)
class EnrolmentLimits:
    """What one RegisterCustomer may carry: embeddings of the face model's length, a few."""

    embedding_dim: int = 128
    max_embeddings: int = 20


def register_customer(service: StoreService, name: str, embeddings, dim: int, model: str,
                      consent_ns: int, limits: EnrolmentLimits = EnrolmentLimits(),
                      consent_notice: str = '') -> str:
    """Enrol a customer with n embeddings of length dim (flattened); returns the new id.
    consent_notice: the version of the privacy notice they accepted."""
    name = (name or '').strip()
    if len(consent_notice) > 64:
        raise AdminError('consent_notice is longer than 64 characters')
    if not name:
        raise AdminError('name must not be empty')
    if len(name) > MAX_NAME_CHARS:
        raise AdminError(f'name is longer than {MAX_NAME_CHARS} characters')
    if any(not ch.isprintable() for ch in name):
        raise AdminError('name contains control characters')
    if dim != limits.embedding_dim:
        raise AdminError(f'dim must be {limits.embedding_dim}, the face model\'s embedding '
                         f'length (got {dim})')
    if len(embeddings) > limits.max_embeddings * dim:
        raise AdminError(f'at most {limits.max_embeddings} embeddings per customer (got '
                         f'{len(embeddings) / dim:g})')
    if len(model or '') > MAX_NAME_CHARS:
        raise AdminError(f'model name is longer than {MAX_NAME_CHARS} characters')
    values = np.asarray(embeddings, dtype=np.float32).ravel()
    if values.size == 0 or values.size % dim:
        raise AdminError(f'{values.size} embedding values are not a whole number of '
                         f'{dim}-d embeddings')
    if not np.all(np.isfinite(values)):
        raise AdminError('embeddings contain NaN or infinite values')
    customer_id = f'c_{uuid.uuid4().hex[:12]}'
    with Session(service.engine) as s, s.begin():
        customer = m.Customer(id=customer_id, name=name, consent_at_ns=consent_ns,
                              consent_notice=consent_notice)
        customer.embeddings = [
            m.FaceEmbedding(dim=dim, model=model or '', vector=row.astype('<f4').tobytes())
            for row in values.reshape(-1, dim)]
        s.add(customer)
    service.note_customer(customer_id, name)
    return customer_id


def forget_customer(service: StoreService, customer_id: str, stamp_ns: int) -> Effects:
    """Delete a customer's embeddings and name; visits, carts and receipts stay under the id,
    which names nobody any more. An open visit is closed (its receipt carries the id only).
    The database is scrubbed (db.engine.scrub) so the bytes are gone from disk too."""
    with Session(service.engine) as s, s.begin():
        customer = s.get(m.Customer, customer_id)
        if customer is None or customer.forgotten_at_ns is not None:
            raise AdminError(f'unknown customer {customer_id!r}')
        customer.embeddings.clear()
        customer.name = None
        customer.forgotten_at_ns = stamp_ns
    service.note_customer(customer_id, None)
    effects = Effects()
    if customer_id in service.visits:
        _, effects = service.checkout(customer_id, stamp_ns)
    if not scrub(service.engine):
        effects.log(WARN, 'log_not_scrubbed',
                    'the database log could not be emptied after forgetting '
                    f'{customer_id} (a reader held it); it is retried at the next forget or '
                    'retention run')
    effects.gallery_removed.append(customer_id)
    return effects


def gallery_page(service: StoreService, after_id: str = '',
                 limit: int | None = None) -> list[GalleryEntry]:
    """Enrolled customers (not forgotten) with ids after after_id, by id, at most limit: one
    indexed range of the customers table, so a page costs the same at any gallery size."""
    query = select(m.Customer.id).where(m.Customer.forgotten_at_ns.is_(None),
                                        m.Customer.id > after_id).order_by(m.Customer.id)
    with Session(service.engine) as s:
        ids = list(s.scalars(query if limit is None else query.limit(limit)))
    return gallery_by_ids(service, ids)


def gallery_by_ids(service: StoreService, customer_ids) -> list[GalleryEntry]:
    """These customers' gallery entries, by id (forgotten or unknown ones left out)."""
    entries: dict[str, list] = {}
    ids = list(customer_ids)
    with Session(service.engine) as s:
        for chunk in (ids[k:k + 500] for k in range(0, len(ids), 500)):
            rows = s.execute(select(m.Customer.id, m.Customer.name, m.FaceEmbedding.dim,
                                    m.FaceEmbedding.model, m.FaceEmbedding.vector)
                             .join(m.FaceEmbedding)
                             .where(m.Customer.forgotten_at_ns.is_(None),
                                    m.Customer.id.in_(chunk))
                             .order_by(m.Customer.id, m.FaceEmbedding.id))
            for cid, name, dim, model, vector in rows:
                entry = entries.setdefault(cid, [name, dim, model, []])
                if dim == entry[1]:
                    entry[3].append(np.frombuffer(vector, dtype='<f4'))
    return [GalleryEntry(cid, name, dim, model, np.vstack(vectors).astype(np.float32))
            for cid, (name, dim, model, vectors) in sorted(entries.items())]


def gallery_count(service: StoreService) -> int:
    """How many customers the gallery holds (not forgotten)."""
    with Session(service.engine) as s:
        return s.scalar(select(func.count()).select_from(m.Customer).where(
            m.Customer.forgotten_at_ns.is_(None)))


class StoreGallery:
    """The gallery as the store's database holds it, for ezshop_ros.gallery.GalleryServer:
    every read is one indexed query, so serving costs the same at any gallery size."""

    def __init__(self, service: StoreService):
        self.service = service

    def count(self) -> int:
        return gallery_count(self.service)

    def page(self, after_id: str, limit: int) -> list[GalleryEntry]:
        return gallery_page(self.service, after_id, limit)

    def by_ids(self, customer_ids: list[str]) -> list[GalleryEntry]:
        return gallery_by_ids(self.service, customer_ids)


def gallery(service: StoreService) -> list[GalleryEntry]:
    """The whole gallery, by id (tools and tests; the store serves it page by page)."""
    return gallery_page(service)


def set_stock(service: StoreService, item_id: str, stock: int, stamp_ns: int) -> Effects:
    """Set an item's physical stock (restocking, stock-take)."""
    if item_id not in service.items:
        raise AdminError(f'unknown item {item_id!r}')
    if stock < 0 or not math.isfinite(stock):
        raise AdminError(f'stock must be >= 0 (got {stock})')
    with Session(service.engine) as s, s.begin():
        s.get(m.Item, (service.store_id, item_id)).stock = stock
    before = service.note_stock(item_id, stock)
    effects = Effects(inventory_changed=True)
    effects.alert(INFO, 'stock_set', f'{item_id} stock set from {before} to {stock}',
                  [item_id], stamp_ns)
    return effects


#: Staff decisions on a held cart action (the audit record's `decision`).
ASSIGNED = 'assigned'
DISMISSED = 'dismissed'
#: Prefix of the cart action a staff assignment applies (its own event id, so it is stored
#: once; it settles the held one through the late-attribution path).
STAFF_PREFIX = 'staff:'


def resolve_held(service: StoreService, event_id: str, customer_id: str, staff_id: str,
                 note: str, stamp_ns: int) -> Effects:
    """Settle a held cart action from the review queue, exactly once.

    customer_id: the customer it belongs to; the action then goes where a late attribution
    would (their open cart, or an adjustment receipt after their checkout). '' dismisses it:
    nobody is charged or credited. Either way an audit record names the staff account.
    A request for an action that is not held (unknown, settled already) changes nothing."""
    staff_id = (staff_id or '').strip()
    if not staff_id:
        raise AdminError('staff_id must not be empty (the audit record names who decided)')
    if customer_id and service.customers.get(customer_id) is None:
        raise AdminError(f'unknown customer {customer_id!r}')
    decision = ASSIGNED if customer_id else DISMISSED
    audit = m.StaffDecision(store_id=service.store_id, event_id=event_id, staff_id=staff_id,
                            decision=decision, customer_id=customer_id, note=note or '',
                            stamp_ns=stamp_ns)
    effects = Effects()
    with Session(service.engine) as s, s.begin():
        held = s.scalar(select(m.CartEvent).where(m.CartEvent.event_id == event_id,
                                                  m.CartEvent.store_id == service.store_id))
        if held is None:
            raise AdminError(f'unknown cart action {event_id!r}')
        if held.status != HELD:
            raise AdminError(f'cart action {event_id!r} is not held ({held.status}): '
                             'nothing to settle')
        action = CartActionIn(f'{STAFF_PREFIX}{event_id}', customer_id, held.item_id,
                              held.quantity, held.stamp_ns, 1.0, False, (), held.shelf_id,
                              held.lane_id, resolves_event_id=event_id)
        if not customer_id:  # dismissed: settled and audited in one transaction
            held.status, held.reason = RESOLVED, 'dismissed_by_staff'
            s.add(audit)
    if customer_id:
        # The store's own path settles it (its cart, or an adjustment receipt); then the audit.
        effects = service.apply_batch([action])
        with Session(service.engine) as s, s.begin():
            s.add(audit)
    effects.alert(INFO, 'held_action_settled', f'{staff_id} {decision} held cart action '
                  f'{event_id} ({action.quantity:+d} {action.item_id})'
                  + (f' to {customer_id}' if customer_id else ''),
                  [event_id, staff_id, customer_id], stamp_ns)
    return effects
