"""Alembic environment: runs on the connection handed over in config.attributes."""

from alembic import context

from ezshop_store.db.models import Base

config = context.config
connection = config.attributes.get('connection')
if connection is None:
    raise RuntimeError('run migrations through ezshop_store.db.engine.upgrade()')

context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == 'sqlite')
with context.begin_transaction():
    context.run_migrations()
