"""SQLAlchemy 2 models of the store database. Times are integer nanoseconds (ROS stamps).

Several stores may share one database: customers (and their embeddings) belong to the chain;
items (catalogue and stock), visits and every event and alert carry the store's id. Event ids
are unique across stores (UUIDs, or derived from one).

The schema itself is created by Alembic (ezshop_store/migrations); these classes must match the
newest migration (test_migrations checks that).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Customer(Base):
    """An enrolled customer. Forgetting clears the name and embeddings; the id stays for the
    anonymised sales."""

    __tablename__ = 'customers'
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    consent_at_ns: Mapped[int] = mapped_column(BigInteger)
    #: Version of the privacy notice the customer accepted.
    consent_notice: Mapped[str] = mapped_column(String(64), server_default='')
    forgotten_at_ns: Mapped[int | None] = mapped_column(BigInteger)
    embeddings: Mapped[list[FaceEmbedding]] = relationship(
        back_populates='customer', cascade='all, delete-orphan', passive_deletes=True)


class FaceEmbedding(Base):
    """One face embedding: float32 little-endian bytes, dim values, made by `model`."""

    __tablename__ = 'face_embeddings'
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey('customers.id', ondelete='CASCADE'), index=True)
    dim: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(String(200))
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    customer: Mapped[Customer] = relationship(back_populates='embeddings')


#: The store id of rows written before stores had ids (one store per database).
DEFAULT_STORE_ID = 'default'


class Item(Base):
    """An item of one store's catalogue, with that store's stock."""

    __tablename__ = 'items'
    store_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    price_cents: Mapped[int] = mapped_column(BigInteger)
    stock: Mapped[int] = mapped_column(Integer)
    low_stock_threshold: Mapped[int] = mapped_column(Integer, default=0)


class Visit(Base):
    """One stay in the store: state open -> exiting (EXITED seen) -> closed (receipt issued)."""

    __tablename__ = 'visits'
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    store_id: Mapped[str] = mapped_column(String(64), index=True,
                                          server_default=DEFAULT_STORE_ID)
    #: NULL once the visit is older than the retention period (no link to a person).
    customer_id: Mapped[str | None] = mapped_column(ForeignKey('customers.id'), index=True)
    entered_at_ns: Mapped[int] = mapped_column(BigInteger)
    exited_at_ns: Mapped[int | None] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), index=True)
    # cart_rules.OPENED_* / ENDED_* ('' while the visit is open).
    opened_by: Mapped[str] = mapped_column(String(16), server_default='entrance')
    ended_by: Mapped[str] = mapped_column(String(16), server_default='')


class CustomerEventRecord(Base):
    """Every customer event seen, once (event_id), with what the store made of it."""

    __tablename__ = 'customer_events'
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    store_id: Mapped[str] = mapped_column(String(64), index=True,
                                          server_default=DEFAULT_STORE_ID)
    kind: Mapped[int] = mapped_column(Integer)
    customer_id: Mapped[str] = mapped_column(String(64))
    door_id: Mapped[str] = mapped_column(String(64))
    stamp_ns: Mapped[int] = mapped_column(BigInteger)
    outcome: Mapped[str] = mapped_column(String(32))


class ShelfEventRecord(Base):
    """Every shelf event seen, once; applied_delta is what physical stock really moved by."""

    __tablename__ = 'shelf_events'
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    store_id: Mapped[str] = mapped_column(String(64), index=True,
                                          server_default=DEFAULT_STORE_ID)
    shelf_id: Mapped[str] = mapped_column(String(64))
    lane_id: Mapped[str] = mapped_column(String(64))
    item_id: Mapped[str] = mapped_column(String(64))
    quantity_delta: Mapped[int] = mapped_column(Integer)
    applied_delta: Mapped[int] = mapped_column(Integer)
    stamp_ns: Mapped[int] = mapped_column(BigInteger)


class CartEvent(Base):
    """A cart action, stored once (event_id UNIQUE) whatever became of it.

    status: applied (to the visit's cart), adjustment (after its receipt), held (unattributed,
    ambiguous-held or customer not in store: for staff), refused (put-back not held).
    applied_quantity is what went into the cart (0 unless applied/adjustment).
    """

    __tablename__ = 'cart_events'
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    store_id: Mapped[str] = mapped_column(String(64), index=True,
                                          server_default=DEFAULT_STORE_ID)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey('visits.id'), index=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    item_id: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    applied_quantity: Mapped[int] = mapped_column(Integer)
    unit_price_cents: Mapped[int] = mapped_column(BigInteger)
    confidence: Mapped[float] = mapped_column(Float)
    ambiguous: Mapped[bool] = mapped_column(Boolean)
    candidates: Mapped[str] = mapped_column(Text)
    shelf_id: Mapped[str] = mapped_column(String(64))
    lane_id: Mapped[str] = mapped_column(String(64))
    stamp_ns: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(64))


class Receipt(Base):
    """A receipt for a visit; revision 1 at checkout, +1 per adjustment (full corrected list)."""

    __tablename__ = 'receipts'
    __table_args__ = (UniqueConstraint('visit_id', 'revision'),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey('visits.id'), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    total_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    stamp_ns: Mapped[int] = mapped_column(BigInteger)
    lines: Mapped[list[ReceiptLine]] = relationship(
        cascade='all, delete-orphan', order_by='ReceiptLine.id')


class ReceiptLine(Base):
    __tablename__ = 'receipt_lines'
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey('receipts.id', ondelete='CASCADE'),
                                            index=True)
    item_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_cents: Mapped[int] = mapped_column(BigInteger)
    line_total_cents: Mapped[int] = mapped_column(BigInteger)


class AlertRecord(Base):
    __tablename__ = 'alerts'
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    store_id: Mapped[str] = mapped_column(String(64), index=True,
                                          server_default=DEFAULT_STORE_ID)
    stamp_ns: Mapped[int] = mapped_column(BigInteger)
    level: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    refs: Mapped[str] = mapped_column(Text)


class StaffDecision(Base):
    """Audit record of a held cart action staff settled from the review queue: who decided,
    when, what (assigned to a customer, or dismissed), and why."""

    __tablename__ = 'staff_decisions'
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    store_id: Mapped[str] = mapped_column(String(64), index=True,
                                          server_default=DEFAULT_STORE_ID)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)  # the held action
    staff_id: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(16))  # assigned / dismissed
    customer_id: Mapped[str] = mapped_column(String(64))  # '' when dismissed
    note: Mapped[str] = mapped_column(Text)
    stamp_ns: Mapped[int] = mapped_column(BigInteger)
