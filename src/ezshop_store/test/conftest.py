"""Database fixtures for the store tests: every test gets a fresh SQLite file and, with the
`postgres` marker, a fresh PostgreSQL schema (skipped with the reason when no server answers)."""

import pytest

from ezshop_testing.scratch_db import postgres_schema, postgres_unavailable_reason

_postgres_reason = []


def _postgres_skip_reason():
    if not _postgres_reason:
        _postgres_reason.append(postgres_unavailable_reason())
    return _postgres_reason[0]


@pytest.fixture(params=['sqlite', pytest.param('postgres', marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    """A SQLAlchemy URL of an empty database: SQLite (WAL) file, or a PostgreSQL schema."""
    if request.param == 'sqlite':
        yield f'sqlite:///{tmp_path / "store.db"}'
        return
    reason = _postgres_skip_reason()
    if reason:
        pytest.skip(reason)
    with postgres_schema() as url:
        yield url


@pytest.fixture
def engine(db_url):
    """An engine on db_url with the schema at head."""
    from ezshop_store.db.engine import make_engine, upgrade

    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def store(config_dir):
    """The demo store's description (ezshop_bringup config/store.yaml)."""
    from ezshop_common.store_config import load_store

    return load_store(config_dir / 'store.yaml')
