"""Consent records the privacy notice's version; a visit past the retention period loses its
link to a person (customer_id NULL).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('customers') as batch:
        batch.add_column(sa.Column('consent_notice', sa.String(64), nullable=False,
                                   server_default=''))
    with op.batch_alter_table('visits') as batch:
        batch.alter_column('customer_id', existing_type=sa.String(64), nullable=True)


def downgrade():
    with op.batch_alter_table('visits') as batch:
        batch.alter_column('customer_id', existing_type=sa.String(64), nullable=False)
    with op.batch_alter_table('customers') as batch:
        batch.drop_column('consent_notice')
