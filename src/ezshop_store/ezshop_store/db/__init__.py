"""The store database: SQLAlchemy 2 models, engine set-up and Alembic upgrades."""
