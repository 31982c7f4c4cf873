"""Throw-away databases for tests and benches: a fresh PostgreSQL schema per use."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

#: Test setting: the PostgreSQL server tests and benches use.
POSTGRES_URL_ENV = 'EZSHOP_TEST_POSTGRES_URL'
DEFAULT_POSTGRES_URL = 'postgresql+psycopg://postgres@127.0.0.1:5432/test'


def postgres_url() -> str:
    return os.environ.get(POSTGRES_URL_ENV) or DEFAULT_POSTGRES_URL


def postgres_unavailable_reason(url: str | None = None) -> str | None:
    """None when a PostgreSQL server answers at url, else why not (for pytest.skip)."""
    url = url or postgres_url()
    try:
        engine = create_engine(url, connect_args={'connect_timeout': 3})
        with engine.connect() as connection:
            connection.execute(text('select 1'))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means "no server to test against"
        return (f'no PostgreSQL server answers at {make_url(url).render_as_string()} '
                f'(set {POSTGRES_URL_ENV}): {exc.__class__.__name__}: '
                f'{str(exc).splitlines()[0] if str(exc) else ""}')
    return None


@contextlib.contextmanager
def postgres_schema(url: str | None = None) -> Iterator[str]:
    """Create a fresh schema, yield a URL whose connections use it, drop it afterwards."""
    url = url or postgres_url()
    schema = f'ezshop_test_{uuid.uuid4().hex[:12]}'
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    scoped = make_url(url).update_query_dict({'options': f'-csearch_path={schema}'})
    try:
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
