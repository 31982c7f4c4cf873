"""Several stores on one database: items are keyed by (store_id, id); visits, events and alerts
carry the store's id. Existing rows belong to store 'default'.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

DEFAULT_STORE_ID = 'default'
#: Tables that gain an indexed store_id column.
STORE_TABLES = ('visits', 'customer_events', 'shelf_events', 'cart_events', 'alerts')
ITEM_COLUMNS = 'id, name, price_cents, stock, low_stock_threshold'


def _store_column():
    return sa.Column('store_id', sa.String(64), nullable=False,
                     server_default=DEFAULT_STORE_ID)


def upgrade():
    for table in STORE_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(_store_column())
        op.create_index(f'ix_{table}_store_id', table, ['store_id'])
    # The primary key of items changes: a new table, the rows copied, the old one dropped
    # (the same on SQLite and PostgreSQL; nothing references items by key).
    op.create_table(
        'items_by_store',
        sa.Column('store_id', sa.String(64), primary_key=True),
        sa.Column('id', sa.String(64), primary_key=True),
        sa.Column('name', sa.String(200), nullable=False),
        sa.Column('price_cents', sa.BigInteger(), nullable=False),
        sa.Column('stock', sa.Integer(), nullable=False),
        sa.Column('low_stock_threshold', sa.Integer(), nullable=False))
    op.execute(f"INSERT INTO items_by_store (store_id, {ITEM_COLUMNS}) "
               f"SELECT '{DEFAULT_STORE_ID}', {ITEM_COLUMNS} FROM items")
    op.drop_table('items')
    op.rename_table('items_by_store', 'items')


def downgrade():
    op.create_table(
        'items_single_store',
        sa.Column('id', sa.String(64), primary_key=True),
        sa.Column('name', sa.String(200), nullable=False),
        sa.Column('price_cents', sa.BigInteger(), nullable=False),
        sa.Column('stock', sa.Integer(), nullable=False),
        sa.Column('low_stock_threshold', sa.Integer(), nullable=False))
    op.execute(f"INSERT INTO items_single_store ({ITEM_COLUMNS}) SELECT {ITEM_COLUMNS} "
               f"FROM items WHERE store_id = '{DEFAULT_STORE_ID}'")
    op.drop_table('items')
    op.rename_table('items_single_store', 'items')
    for table in STORE_TABLES:
        op.drop_index(f'ix_{table}_store_id', table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column('store_id')
