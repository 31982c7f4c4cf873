"""Staff decisions on held cart actions (the review queue's audit record).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'staff_decisions',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('store_id', sa.String(64), nullable=False, server_default='default'),
        sa.Column('event_id', sa.String(64), nullable=False, unique=True),
        sa.Column('staff_id', sa.String(64), nullable=False),
        sa.Column('decision', sa.String(16), nullable=False),
        sa.Column('customer_id', sa.String(64), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('stamp_ns', sa.BigInteger(), nullable=False))
    op.create_index('ix_staff_decisions_store_id', 'staff_decisions', ['store_id'])


def downgrade():
    op.drop_index('ix_staff_decisions_store_id', 'staff_decisions')
    op.drop_table('staff_decisions')
