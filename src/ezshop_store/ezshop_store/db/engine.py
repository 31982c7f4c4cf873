"""Engine creation (SQLite WAL by default, any SQLAlchemy URL) and Alembic upgrades."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text

from ezshop_common.paths import ros_home

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / 'migrations'


def default_database_url() -> str:
    """SQLite file $ROS_HOME/ezshop/store.db (the folder is created, owner only)."""
    folder = ros_home() / 'ezshop'
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return f'sqlite:///{folder / "store.db"}'


def make_engine(url: str = '', **kwargs) -> Engine:
    """An engine for url ('' = default SQLite file); SQLite gets WAL, foreign keys and
    secure_delete (what is deleted is overwritten, so a forgotten face leaves no bytes)."""
    url = url or default_database_url()
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == 'sqlite':
        @event.listens_for(engine, 'connect')
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute('PRAGMA journal_mode=WAL')
            # NORMAL in WAL mode: durable across process crashes (kill -9), fsync at checkpoint.
            cursor.execute('PRAGMA synchronous=NORMAL')
            cursor.execute('PRAGMA foreign_keys=ON')
            cursor.execute('PRAGMA busy_timeout=5000')
            cursor.execute('PRAGMA secure_delete=ON')
            cursor.close()
    return engine


def scrub(engine: Engine) -> bool:
    """After deleting personal data: SQLite copies the write-ahead log into the (secure-delete)
    database and truncates it, so no old page with the data stays in store.db-wal; True when
    the log was emptied (False: a reader held it; the next scrub retries). PostgreSQL keeps
    deleted rows until VACUUM reuses their space (docs/security.md)."""
    if engine.dialect.name != 'sqlite':
        return True
    with engine.connect() as connection:
        busy, _, _ = connection.exec_driver_sql('PRAGMA wal_checkpoint(TRUNCATE)').one()
    return not busy


def alembic_config() -> Config:
    config = Config()
    config.set_main_option('script_location', str(MIGRATIONS_DIR))
    return config


#: PostgreSQL advisory lock key held while migrating: stores sharing a database start together.
MIGRATION_LOCK_KEY = 0x457A53686F70  # "EzShop"


def upgrade(engine: Engine, revision: str = 'head') -> None:
    """Bring the schema to `revision` (Alembic, on this engine). On PostgreSQL one process
    migrates at a time (an advisory lock for the transaction), so several stores starting at
    once on one database do not race on the same migration."""
    config = alembic_config()
    with engine.begin() as connection:
        if engine.dialect.name == 'postgresql':
            connection.execute(text('SELECT pg_advisory_xact_lock(:key)'),
                               {'key': MIGRATION_LOCK_KEY})
        config.attributes['connection'] = connection
        command.upgrade(config, revision)
