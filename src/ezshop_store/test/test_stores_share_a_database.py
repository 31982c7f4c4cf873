"""Several stores on one database (SQLite and PostgreSQL): each keeps its own stock, visits,
carts and receipts; customers belong to the chain; a database from before store ids migrates
with its rows in store 'default'."""

import numpy as np
import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ezshop_store import store_admin
from ezshop_store.db import models as m
from ezshop_store.db.engine import make_engine, upgrade
from ezshop_store.store_service import StoreService
from ezshop_store.store_types import ENTERED, EXITED, CartActionIn, CustomerEventIn, ShelfEventIn

S = 1_000_000_000


def visit(service, customer, item, quantity, t, tag):
    service.apply_batch([CustomerEventIn(f'{tag}-in', ENTERED, customer, 'entrance', t * S),
                         CartActionIn(f'{tag}-take', customer, item, quantity, (t + 1) * S),
                         CustomerEventIn(f'{tag}-out', EXITED, customer, 'exit', (t + 2) * S)])
    receipt, _ = service.checkout(customer, (t + 3) * S)
    return receipt


def test_two_stores_keep_their_own_stock_visits_and_receipts(engine, store):
    north = StoreService(engine, store, 'north')
    south = StoreService(engine, store, 'south')
    alice = store_admin.register_customer(north, 'Alice', np.ones(128, np.float32), 128, 'm', 1)
    south.load_state()  # the chain's customers are shared: south knows Alice now
    assert alice in south.customers

    cola = north.items['cola'].stock
    north.apply_batch([ShelfEventIn('n-shelf', 'shelf_a', 'lane_1', 'cola', -2, 5 * S)])
    assert north.items['cola'].stock == cola - 2 and south.items['cola'].stock == cola

    # Alice in both stores at once (say a family card): two visits, two receipts.
    north.apply_batch([CustomerEventIn('n-in', ENTERED, alice, 'entrance', 10 * S)])
    in_south = visit(south, alice, 'chips', 1, 11, 's')
    north.apply_batch([CartActionIn('n-take', alice, 'cola', 2, 12 * S),
                       CustomerEventIn('n-out', EXITED, alice, 'exit', 13 * S)])
    in_north, _ = north.checkout(alice, 14 * S)
    assert [(ln.item_id, ln.quantity) for ln in in_north.lines] == [('cola', 2)]
    assert [(ln.item_id, ln.quantity) for ln in in_south.lines] == [('chips', 1)]
    assert [r.receipt_id for r in north.receipts_for_customer(alice)] == [in_north.receipt_id]
    assert [r.receipt_id for r in south.receipts_for_customer(alice)] == [in_south.receipt_id]

    # A restart of one store loads only its own rows.
    north_again = StoreService(engine, store, 'north')
    assert north_again.items['cola'].stock == cola - 2 and not north_again.visits
    with Session(engine) as s:
        stores = dict(s.execute(select(m.Visit.id, m.Visit.store_id)).all())
        assert sorted(stores.values()) == ['north', 'south']
        assert s.scalar(select(m.CartEvent.store_id).where(m.CartEvent.event_id == 'n-take')) \
            == 'north'


def test_a_single_store_database_migrates_into_store_default(db_url, store):
    engine = make_engine(db_url)
    upgrade(engine, '0002')
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO items (id, name, price_cents, stock, low_stock_threshold) "
            "VALUES ('cola', 'Cola', 150, 7, 2)"))
        connection.execute(text(
            "INSERT INTO shelf_events (event_id, shelf_id, lane_id, item_id, quantity_delta, "
            "applied_delta, stamp_ns) VALUES ('e1', 'shelf_a', 'lane_1', 'cola', -1, -1, 5)"))
    upgrade(engine)
    with Session(engine) as s:
        row = s.get(m.Item, (m.DEFAULT_STORE_ID, 'cola'))
        assert (row.stock, row.price_cents) == (7, 150)
        assert s.scalar(select(m.ShelfEventRecord.store_id)) == m.DEFAULT_STORE_ID
    assert StoreService(engine, store).items['cola'].stock == 7  # the kept stock, not initial
    engine.dispose()


@pytest.mark.postgres
def test_stores_starting_together_migrate_one_at_a_time(store):
    """Four processes' worth of engines upgrade one fresh PostgreSQL schema at once."""
    from concurrent.futures import ThreadPoolExecutor

    from ezshop_testing.scratch_db import postgres_schema, postgres_unavailable_reason

    reason = postgres_unavailable_reason()
    if reason:
        pytest.skip(reason)
    with postgres_schema() as url:
        engines = [make_engine(url) for _ in range(4)]
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(upgrade, engines))
        services = [StoreService(e, store, f'store_{i}') for i, e in enumerate(engines)]
        assert all(s.items['cola'].stock == services[0].items['cola'].stock for s in services)
        for e in engines:
            e.dispose()
