"""Visits say how they were opened (entrance door or a late sighting) and how they ended
(exit door, absence, staff).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('visits') as batch:
        batch.add_column(sa.Column('opened_by', sa.String(16), nullable=False,
                                   server_default='entrance'))
        batch.add_column(sa.Column('ended_by', sa.String(16), nullable=False,
                                   server_default=''))


def downgrade():
    with op.batch_alter_table('visits') as batch:
        batch.drop_column('ended_by')
        batch.drop_column('opened_by')
