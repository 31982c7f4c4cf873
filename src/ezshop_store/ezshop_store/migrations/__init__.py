"""Alembic migrations of the store database (run programmatically by ezshop_store.db.engine)."""
