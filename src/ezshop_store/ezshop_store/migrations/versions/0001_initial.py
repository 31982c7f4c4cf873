"""Initial store schema: customers, embeddings, items, visits, events, receipts, alerts.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'customers',
        sa.Column('id', sa.String(64), primary_key=True),
        sa.Column('name', sa.String(200), nullable=True),
        sa.Column('consent_at_ns', sa.BigInteger(), nullable=False),
        sa.Column('forgotten_at_ns', sa.BigInteger(), nullable=True))
    op.create_table(
        'face_embeddings',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('customer_id', sa.String(64),
                  sa.ForeignKey('customers.id', ondelete='CASCADE'), nullable=False),
        sa.Column('dim', sa.Integer(), nullable=False),
        sa.Column('model', sa.String(200), nullable=False),
        sa.Column('vector', sa.LargeBinary(), nullable=False))
    op.create_index('ix_face_embeddings_customer_id', 'face_embeddings', ['customer_id'])
    op.create_table(
        'items',
        sa.Column('id', sa.String(64), primary_key=True),
        sa.Column('name', sa.String(200), nullable=False),
        sa.Column('price_cents', sa.BigInteger(), nullable=False),
        sa.Column('stock', sa.Integer(), nullable=False),
        sa.Column('low_stock_threshold', sa.Integer(), nullable=False))
    op.create_table(
        'visits',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('customer_id', sa.String(64), sa.ForeignKey('customers.id'), nullable=False),
        sa.Column('entered_at_ns', sa.BigInteger(), nullable=False),
        sa.Column('exited_at_ns', sa.BigInteger(), nullable=True),
        sa.Column('state', sa.String(16), nullable=False))
    op.create_index('ix_visits_customer_id', 'visits', ['customer_id'])
    op.create_index('ix_visits_state', 'visits', ['state'])
    op.create_table(
        'customer_events',
        sa.Column('event_id', sa.String(64), primary_key=True),
        sa.Column('kind', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.String(64), nullable=False),
        sa.Column('door_id', sa.String(64), nullable=False),
        sa.Column('stamp_ns', sa.BigInteger(), nullable=False),
        sa.Column('outcome', sa.String(32), nullable=False))
    op.create_table(
        'shelf_events',
        sa.Column('event_id', sa.String(64), primary_key=True),
        sa.Column('shelf_id', sa.String(64), nullable=False),
        sa.Column('lane_id', sa.String(64), nullable=False),
        sa.Column('item_id', sa.String(64), nullable=False),
        sa.Column('quantity_delta', sa.Integer(), nullable=False),
        sa.Column('applied_delta', sa.Integer(), nullable=False),
        sa.Column('stamp_ns', sa.BigInteger(), nullable=False))
    op.create_table(
        'cart_events',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('event_id', sa.String(64), nullable=False, unique=True),
        sa.Column('visit_id', sa.Integer(), sa.ForeignKey('visits.id'), nullable=True),
        sa.Column('customer_id', sa.String(64), nullable=False),
        sa.Column('item_id', sa.String(64), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('applied_quantity', sa.Integer(), nullable=False),
        sa.Column('unit_price_cents', sa.BigInteger(), nullable=False),
        sa.Column('confidence', sa.Float(), nullable=False),
        sa.Column('ambiguous', sa.Boolean(), nullable=False),
        sa.Column('candidates', sa.Text(), nullable=False),
        sa.Column('shelf_id', sa.String(64), nullable=False),
        sa.Column('lane_id', sa.String(64), nullable=False),
        sa.Column('stamp_ns', sa.BigInteger(), nullable=False),
        sa.Column('status', sa.String(32), nullable=False),
        sa.Column('reason', sa.String(64), nullable=False))
    op.create_index('ix_cart_events_visit_id', 'cart_events', ['visit_id'])
    op.create_table(
        'receipts',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('visit_id', sa.Integer(), sa.ForeignKey('visits.id'), nullable=False),
        sa.Column('revision', sa.Integer(), nullable=False),
        sa.Column('total_cents', sa.BigInteger(), nullable=False),
        sa.Column('currency', sa.String(3), nullable=False),
        sa.Column('stamp_ns', sa.BigInteger(), nullable=False),
        sa.UniqueConstraint('visit_id', 'revision'))
    op.create_index('ix_receipts_visit_id', 'receipts', ['visit_id'])
    op.create_table(
        'receipt_lines',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('receipt_id', sa.Integer(),
                  sa.ForeignKey('receipts.id', ondelete='CASCADE'), nullable=False),
        sa.Column('item_id', sa.String(64), nullable=False),
        sa.Column('name', sa.String(200), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('unit_price_cents', sa.BigInteger(), nullable=False),
        sa.Column('line_total_cents', sa.BigInteger(), nullable=False))
    op.create_index('ix_receipt_lines_receipt_id', 'receipt_lines', ['receipt_id'])
    op.create_table(
        'alerts',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('stamp_ns', sa.BigInteger(), nullable=False),
        sa.Column('level', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(64), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('refs', sa.Text(), nullable=False))


def downgrade():
    for table in ('alerts', 'receipt_lines', 'receipts', 'cart_events', 'shelf_events',
                  'customer_events', 'visits', 'items', 'face_embeddings', 'customers'):
        op.drop_table(table)
