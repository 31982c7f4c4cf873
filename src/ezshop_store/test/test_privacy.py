"""A person's data in the store database (SQLite WAL and PostgreSQL), without ROS: consent
records the notice, export gives everything, forgetting closes an open visit and leaves no byte
of the name or the face in the SQLite files, retention unlinks what is old and nothing else."""

import json
from pathlib import Path

import numpy as np

from ezshop_store import privacy, store_admin
from ezshop_store.store_service import StoreService
from ezshop_store.store_types import ENTERED, EXITED, CartActionIn, CustomerEventIn

S = 1_000_000_000
NAME = 'Ottoline Quarrenbury'  # a name found nowhere else
EMBEDDINGS = np.random.default_rng(7).normal(size=(3, 128)).astype(np.float32)


def enrol(service, name=NAME, notice='2026-11'):
    return store_admin.register_customer(service, name, EMBEDDINGS.ravel(), 128, 'test_model',
                                         consent_ns=5 * S, consent_notice=notice)


def visit(service, cid, t, item='cola'):
    service.apply_batch([
        CustomerEventIn(f'in-{cid}-{t}', ENTERED, cid, 'entrance', t * S),
        CartActionIn(f'take-{cid}-{t}', cid, item, 1, (t + 1) * S),
        CustomerEventIn(f'out-{cid}-{t}', EXITED, cid, 'exit', (t + 2) * S)])
    receipt, _ = service.checkout(cid, (t + 3) * S)
    return receipt


def sqlite_files(engine) -> list[Path]:
    path = Path(engine.url.database)
    return [p for p in (path, Path(f'{path}-wal'), Path(f'{path}-shm')) if p.exists()]


def found_in(files, needles) -> list[str]:
    return [f'{f.name}: {needle[:12]!r}' for f in files for needle in needles
            if needle in f.read_bytes()]


def test_export_holds_everything_stored_about_the_customer(engine, store):
    service = StoreService(engine, store)
    alice, bob = enrol(service), enrol(service, 'Bob Other')
    visit(service, alice, 10)
    visit(service, bob, 10, 'chips')
    record = json.loads(json.dumps(privacy.export_customer(service, alice)))
    assert record['customer'] == {'id': alice, 'name': NAME, 'consent_at_ns': 5 * S,
                                  'consent_notice': '2026-11', 'forgotten_at_ns': None}
    assert np.allclose([e['values'] for e in record['embeddings']], EMBEDDINGS)
    assert [v['state'] for v in record['visits']] == ['closed']
    assert [[ln['item_id'] for ln in r['lines']] for r in record['receipts']] == [['cola']]
    assert [c['item_id'] for c in record['cart_actions']] == ['cola']
    assert len(record['door_and_sighting_events']) == 2
    assert 'Bob Other' not in json.dumps(record) and 'chips' not in json.dumps(record)
    assert privacy.export_customer(service, 'c_nobody') is None


def test_forgetting_someone_in_the_store_closes_their_visit_and_scrubs_the_files(engine, store):
    service = StoreService(engine, store)
    alice = enrol(service)
    visit(service, alice, 10)
    service.apply_batch([CustomerEventIn('in-again', ENTERED, alice, 'entrance', 20 * S),
                         CartActionIn('take-again', alice, 'chips', 1, 21 * S)])
    needles = [NAME.encode(), *(row.tobytes()[:32] for row in EMBEDDINGS)]
    files = sqlite_files(engine) if engine.dialect.name == 'sqlite' else []
    if files:  # the scan can see them before
        assert found_in(files, needles)
    effects = store_admin.forget_customer(service, alice, 22 * S)
    (receipt,) = effects.receipts
    assert receipt.customer_id == alice and receipt.customer_name == ''
    assert [ln.item_id for ln in receipt.lines] == ['chips']
    assert effects.gallery_removed == [alice] and alice not in service.visits
    assert [g.customer_id for g in store_admin.gallery(service)] == []
    record = privacy.export_customer(service, alice)
    assert record['customer']['name'] is None and record['embeddings'] == []
    assert len(record['receipts']) == 2  # the sales stay, under an id that names nobody
    if files:
        assert found_in(sqlite_files(engine), needles) == []


def test_retention_unlinks_old_visits_and_events_only(engine, store):
    service = StoreService(engine, store)
    alice = enrol(service)
    visit(service, alice, 10)
    visit(service, alice, 100)
    service.apply_batch([CustomerEventIn('in-open', ENTERED, alice, 'entrance', 200 * S)])
    counts = privacy.anonymise_before(service, 50 * S)
    assert counts['visits'] == 1 and counts['customer_events'] == 2
    assert counts['cart_actions'] == 1
    record = privacy.export_customer(service, alice)
    assert [v['entered_at_ns'] for v in record['visits']] == [100 * S, 200 * S]
    assert [c['stamp_ns'] for c in record['cart_actions']] == [101 * S]
    assert service.receipts_for_customer(alice)[-1].total_cents > 0
    # Everything younger stays linked; the open visit goes on; a second run changes nothing.
    assert alice in service.visits
    assert not any(privacy.anonymise_before(service, 50 * S).values())
