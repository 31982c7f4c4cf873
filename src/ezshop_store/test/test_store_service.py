"""The store's bookkeeping on a real database (SQLite WAL and PostgreSQL), without ROS."""

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ezshop_store import store_admin
from ezshop_store.db import models as m
from ezshop_store.db.engine import make_engine
from ezshop_store.store_service import UNIDENTIFIED_EXIT, StoreService
from ezshop_store.store_types import (
    ENTERED,
    EXITED,
    INFO,
    UNKNOWN_PERSON,
    CartActionIn,
    CustomerEventIn,
    ShelfEventIn,
)

S = 1_000_000_000


@pytest.fixture
def service(engine, store):
    return StoreService(engine, store)


def enrol(service, name='Alice'):
    return store_admin.register_customer(service, name, np.ones(256, np.float32), 128,
                                         'test_model', consent_ns=1)


def enter(cid, t, eid=None):
    return CustomerEventIn(eid or f'enter-{cid}-{t}', ENTERED, cid, 'entrance', t * S)


def leave(cid, t, eid=None):
    return CustomerEventIn(eid or f'exit-{cid}-{t}', EXITED, cid, 'exit', t * S)


def take(cid, item, qty, t, eid):
    return CartActionIn(eid, cid, item, qty, t * S)


def lines_of(receipt):
    return [(ln.item_id, ln.quantity, ln.unit_price_cents, ln.total_cents) for ln in receipt.lines]


def test_schema_from_migrations_matches_the_models(engine):
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), m.Base.metadata) == []


def test_a_visit_gives_the_right_receipt(service):
    alice = enrol(service)
    service.apply_batch([enter(alice, 10)])
    effects = service.apply_batch([take(alice, 'cola', 2, 11, 'a1'), take(alice, 'chips', 1, 12, 'a2'),
                                   take(alice, 'cola', -1, 13, 'a3')])
    cart = effects.carts[alice]
    assert cart.in_store and cart.total_cents == 150 + 229
    effects = service.apply_batch([leave(alice, 20)])
    assert effects.exiting == [service.visits[alice].visit_id]
    receipt, effects = service.checkout(alice, 25 * S)
    assert lines_of(receipt) == [('chips', 1, 229, 229), ('cola', 1, 150, 150)]
    assert receipt.total_cents == 379 and receipt.revision == 1 and receipt.currency == 'EUR'
    assert receipt.customer_name == 'Alice'
    assert (receipt.entered_ns, receipt.exited_ns) == (10 * S, 20 * S)
    assert not effects.carts[alice].in_store
    assert alice not in service.visits


def test_duplicates_are_applied_once_also_after_a_restart(service, engine, store):
    alice = enrol(service)
    service.apply_batch([enter(alice, 10), take(alice, 'cola', 1, 11, 'dup'),
                         take(alice, 'cola', 1, 11, 'dup')])
    effects = service.apply_batch([take(alice, 'cola', 1, 11, 'dup'), enter(alice, 10)])
    assert effects.counters['duplicates'] == 2
    # Each duplicate is a log line of its kind, for the node's per-kind log throttle.
    assert [(level, kind) for level, kind, _ in effects.logs] == [(INFO, 'duplicate')] * 2
    restarted = StoreService(engine, store)
    assert restarted.cart_view(alice).lines[0].quantity == 1
    effects = restarted.apply_batch([take(alice, 'cola', 1, 11, 'dup')])
    assert effects.counters['duplicates'] == 1
    restarted.apply_batch([leave(alice, 20)])
    receipt, _ = restarted.checkout(alice, 21 * S)
    assert lines_of(receipt) == [('cola', 1, 150, 150)]


def test_customer_not_in_store_is_never_charged_and_the_action_is_held(service, engine):
    alice = enrol(service)
    effects = service.apply_batch([take(alice, 'cola', 1, 5, 'early')])
    assert [a.kind for a in effects.alerts] == ['not_in_store']
    service.apply_batch([enter(alice, 10), leave(alice, 20)])
    effects = service.apply_batch([take(alice, 'chips', 1, 21, 'after-exit')])
    assert [a.kind for a in effects.alerts] == ['not_in_store']
    receipt, _ = service.checkout(alice, 22 * S)
    assert receipt.lines == () and receipt.total_cents == 0
    with Session(engine) as s:
        held = s.scalars(select(m.CartEvent.event_id).where(m.CartEvent.status == 'held')).all()
        assert sorted(held) == ['after-exit', 'early']
        assert s.scalar(select(func.count()).select_from(m.AlertRecord)
                        .where(m.AlertRecord.kind == 'not_in_store')) == 2


def test_unattributed_action_is_held_for_staff_with_an_alert(service):
    alice = enrol(service)
    service.apply_batch([enter(alice, 10)])
    effects = service.apply_batch([CartActionIn('u1', '', 'cola', 1, 11 * S,
                                                candidates=(('x', 0.5),))])
    assert [a.kind for a in effects.alerts] == ['held_for_staff']
    assert service.cart_view(alice).lines == ()


def test_put_back_of_an_item_not_held_raises_an_alert(service):
    alice = enrol(service)
    service.apply_batch([enter(alice, 10), take(alice, 'cola', 1, 11, 'p1')])
    effects = service.apply_batch([take(alice, 'chips', -1, 12, 'p2'),
                                   take(alice, 'cola', -2, 13, 'p3')])
    assert [a.kind for a in effects.alerts] == ['put_back_not_held', 'put_back_not_held']
    assert effects.carts[alice].lines == ()


def test_in_flight_action_stamped_before_exit_lands_on_the_receipt(service):
    alice = enrol(service)
    service.apply_batch([enter(alice, 10), leave(alice, 20)])
    service.apply_batch([take(alice, 'salad', 1, 19, 'inflight')])
    receipt, _ = service.checkout(alice, 23 * S)
    assert lines_of(receipt) == [('salad', 1, 429, 429)]


def test_late_action_after_the_receipt_makes_an_adjustment_receipt(service):
    alice = enrol(service)
    service.apply_batch([enter(alice, 10), take(alice, 'cola', 1, 11, 'l1'), leave(alice, 20)])
    first, _ = service.checkout(alice, 23 * S)
    assert first.total_cents == 150
    service.apply_batch([enter(alice, 30)])  # back again: the late action is for visit 1
    effects = service.apply_batch([take(alice, 'water', 2, 15, 'late')])
    assert [a.kind for a in effects.alerts] == ['late_cart_action']
    (adjusted,) = effects.receipts
    assert adjusted.visit_id == first.visit_id and adjusted.revision == 2
    assert lines_of(adjusted) == [('cola', 1, 150, 150), ('water', 2, 99, 198)]
    assert adjusted.total_cents == 348
    assert service.cart_view(alice).lines == ()
    assert [r.revision for r in service.receipts_for_customer(alice)] == [1, 2]


def test_entered_twice_is_ignored_and_reentry_during_grace_closes_the_old_visit(service):
    alice = enrol(service)
    service.apply_batch([enter(alice, 10)])
    first = service.visits[alice].visit_id
    effects = service.apply_batch([enter(alice, 11)])
    assert effects.counters['customer_events_ignored_already_in'] == 1
    assert service.visits[alice].visit_id == first
    service.apply_batch([take(alice, 'cola', 1, 12, 'r1'), leave(alice, 20)])
    effects = service.apply_batch([enter(alice, 21)])
    assert [r.total_cents for r in effects.receipts] == [150]
    assert service.visits[alice].visit_id != first
    assert effects.carts[alice].in_store and effects.carts[alice].lines == ()


def test_open_visits_and_carts_come_back_after_a_restart(service, engine, store):
    alice, bob = enrol(service, 'Alice'), enrol(service, 'Bob')
    service.apply_batch([enter(alice, 10), enter(bob, 10), take(alice, 'cola', 3, 11, 'x1'),
                         take(bob, 'chips', 1, 11, 'x2'), take(alice, 'cola', -1, 12, 'x3'),
                         leave(bob, 13)])
    restarted = StoreService(engine, store)
    assert restarted.cart_view(alice).total_cents == 300
    assert restarted.exiting_visits() == [service.visits[bob].visit_id]
    receipt, _ = restarted.checkout(bob, 30 * S)
    assert receipt.total_cents == 229 and receipt.exited_ns == 13 * S


def test_stock_follows_shelf_events_never_negative_and_once(service, engine, store):
    effects = service.apply_batch([ShelfEventIn('s1', 'shelf_a', 'lane_3', 'sandwich', -2, S),
                                   ShelfEventIn('s1', 'shelf_a', 'lane_3', 'sandwich', -2, S)])
    assert service.items['sandwich'].stock == 4 and effects.inventory_changed
    effects = service.apply_batch([ShelfEventIn('s2', 'shelf_a', 'lane_3', 'sandwich', -3, S)])
    assert [a.kind for a in effects.alerts] == ['low_stock']
    effects = service.apply_batch([ShelfEventIn('s3', 'shelf_a', 'lane_3', 'sandwich', -5, S)])
    assert [a.kind for a in effects.alerts] == ['stock_negative']
    assert service.items['sandwich'].stock == 0
    assert StoreService(engine, store).items['sandwich'].stock == 0


def test_register_gallery_and_forget(service, engine):
    alice = enrol(service, 'Alice')
    bob = enrol(service, 'Bob')
    gallery = {g.customer_id: g for g in store_admin.gallery(service)}
    assert set(gallery) == {alice, bob}
    assert gallery[alice].embeddings.shape == (2, 128) and gallery[alice].name == 'Alice'
    service.apply_batch([enter(alice, 10), take(alice, 'cola', 1, 11, 'f1'), leave(alice, 12)])
    service.checkout(alice, 13 * S)
    store_admin.forget_customer(service, alice, 14 * S)
    assert [g.customer_id for g in store_admin.gallery(service)] == [bob]
    (receipt,) = service.receipts_for_customer(alice)
    assert receipt.customer_name == '' and receipt.total_cents == 150
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(m.FaceEmbedding)
                        .where(m.FaceEmbedding.customer_id == alice)) == 0
    with pytest.raises(store_admin.AdminError):
        store_admin.forget_customer(service, alice, 15 * S)
    effects = service.apply_batch([enter(alice, 20)])
    assert [a.kind for a in effects.alerts] == ['unknown_customer']


def test_bad_registrations_are_refused(service):
    limits = store_admin.EnrolmentLimits(embedding_dim=4, max_embeddings=3)
    for name, values, dim, why in (
            ('', [1.0] * 4, 4, 'empty'), ('X', [1.0] * 5, 4, 'whole number'),
            ('X', [], 4, 'whole number'), ('X', [float('nan')] * 4, 4, 'NaN'),
            ('X', [1.0] * 4, 0, 'dim must be 4'), ('X', [1.0] * 3, 3, 'dim must be 4'),
            ('X', [1.0] * 16, 4, 'at most 3'), ('X' * 201, [1.0] * 4, 4, 'longer'),
            ('X\x1b[2J', [1.0] * 4, 4, 'control')):
        with pytest.raises(store_admin.AdminError, match=why):
            store_admin.register_customer(service, name, values, dim, 'm', 1, limits)
    assert store_admin.gallery(service) == []
    store_admin.register_customer(service, 'Ok', [1.0] * 12, 4, 'm', 1, limits)


def test_set_stock(service, engine, store):
    store_admin.set_stock(service, 'cola', 40, 1)
    assert StoreService(engine, store).items['cola'].stock == 40
    with pytest.raises(store_admin.AdminError):
        store_admin.set_stock(service, 'nothing', 1, 1)
    with pytest.raises(store_admin.AdminError):
        store_admin.set_stock(service, 'cola', -1, 1)


def test_database_outage_applies_nothing_and_the_retry_applies_everything(service, tmp_path):
    alice = enrol(service)
    service.apply_batch([enter(alice, 10)])
    working = service.engine
    service.engine = make_engine(f'sqlite:///{tmp_path / "missing" / "dir" / "store.db"}')
    batch = [take(alice, 'cola', 1, 11, 'o1'), take(alice, 'chips', 1, 12, 'o2')]
    with pytest.raises(OperationalError):
        service.apply_batch(batch)
    assert service.cart_view(alice).lines == ()  # the cache took nothing
    service.engine.dispose()
    service.engine = working
    effects = service.apply_batch(batch)
    assert effects.carts[alice].total_cents == 150 + 229


def held(cid_candidates, item, qty, t, eid):
    """A cart action fusion could not attribute (held for staff)."""
    return CartActionIn(eid, '', item, qty, t * S, candidates=cid_candidates)


def test_staff_settle_a_held_action_once_onto_the_cart_with_an_audit_record(service, engine):
    alice = enrol(service)
    service.apply_batch([enter(alice, 10), held(((alice, 0.4),), 'cola', 1, 11, 'h1')])
    assert service.cart_view(alice).lines == ()
    effects = store_admin.resolve_held(service, 'h1', alice, 'staff_ana', 'seen on camera',
                                       12 * S)
    assert [(ln.item_id, ln.quantity) for ln in effects.carts[alice].lines] == [('cola', 1)]
    assert [a.kind for a in effects.alerts] == ['held_action_settled']
    with pytest.raises(store_admin.AdminError, match='not held'):
        store_admin.resolve_held(service, 'h1', alice, 'staff_bob', '', 13 * S)
    assert [(ln.item_id, ln.quantity) for ln in service.cart_view(alice).lines] == [('cola', 1)]
    with Session(engine) as s:
        audit = s.scalars(select(m.StaffDecision)).all()
        assert [(a.event_id, a.staff_id, a.decision, a.customer_id, a.note) for a in audit] == [
            ('h1', 'staff_ana', store_admin.ASSIGNED, alice, 'seen on camera')]


def test_staff_dismiss_a_held_action_and_nobody_is_charged(service, engine):
    alice = enrol(service)
    service.apply_batch([enter(alice, 10), held(((alice, 0.3),), 'chips', 1, 11, 'h2')])
    store_admin.resolve_held(service, 'h2', '', 'staff_ana', 'a walk-in took it', 12 * S)
    assert service.cart_view(alice).lines == ()
    with pytest.raises(store_admin.AdminError, match='not held'):
        store_admin.resolve_held(service, 'h2', alice, 'staff_ana', '', 13 * S)
    with Session(engine) as s:
        assert s.scalar(select(m.CartEvent.status).where(m.CartEvent.event_id == 'h2')) \
            == 'resolved'
        assert s.scalar(select(m.StaffDecision.decision)) == store_admin.DISMISSED


def test_staff_settling_after_the_checkout_issue_an_adjustment_receipt(service):
    alice = enrol(service)
    service.apply_batch([enter(alice, 10), take(alice, 'cola', 1, 11, 'c1'),
                         held(((alice, 0.5),), 'water', 1, 12, 'h3'), leave(alice, 20)])
    first, _ = service.checkout(alice, 23 * S)
    assert first.total_cents == 150
    effects = store_admin.resolve_held(service, 'h3', alice, 'staff_ana', '', 30 * S)
    (adjusted,) = effects.receipts
    assert adjusted.revision == 2 and adjusted.total_cents == 150 + 99


def test_staff_cannot_settle_an_unknown_action_for_an_unknown_customer_or_anonymously(service):
    alice = enrol(service)
    service.apply_batch([enter(alice, 10), held((), 'cola', 1, 11, 'h4')])
    for event_id, customer_id, staff_id, problem in (
            ('nope', alice, 'staff_ana', 'unknown cart action'),
            ('h4', 'c_nobody', 'staff_ana', 'unknown customer'),
            ('h4', alice, ' ', 'staff_id')):
        with pytest.raises(store_admin.AdminError, match=problem):
            store_admin.resolve_held(service, event_id, customer_id, staff_id, '', 12 * S)
    assert service.cart_view(alice).lines == ()


def test_the_review_queue_lists_held_actions_oldest_first_until_settled(service):
    alice = enrol(service)
    service.apply_batch([enter(alice, 10), held(((alice, 0.4), ('unknown:cam_shelf_a:7', 0.3)),
                                                'cola', 1, 12, 'q2'),
                         held((), 'chips', -1, 11, 'q1'), take(alice, 'water', 1, 13, 'fine'),
                         take('c_gone', 'salad', 1, 14, 'q3')])
    queue = service.held_actions()
    assert [(h.event_id, h.item_id, h.quantity, h.reason) for h in queue] == [
        ('q1', 'chips', -1, 'unattributed'), ('q2', 'cola', 1, 'unattributed'),
        ('q3', 'salad', 1, 'unknown_customer')]
    assert queue[1].candidates == ((alice, 0.4), ('unknown:cam_shelf_a:7', 0.3))
    assert queue[2].customer_id == 'c_gone' and queue[1].stamp_ns == 12 * S
    assert [h.event_id for h in service.held_actions(limit=1)] == ['q1']
    store_admin.resolve_held(service, 'q2', alice, 'staff_ana', '', 20 * S)
    store_admin.resolve_held(service, 'q1', '', 'staff_ana', '', 20 * S)
    assert [h.event_id for h in service.held_actions()] == ['q3']


def unknown_at(door, t):
    return CustomerEventIn(f'unknown-{door}-{t}', UNKNOWN_PERSON, '', door, t * S)


def listed_at_unidentified_exits(effects):
    return [alert.refs[2:] for alert in effects.alerts if alert.kind == UNIDENTIFIED_EXIT]


def test_an_unidentified_person_leaving_lists_once_the_held_takes_nobody_identified_was_near(
        service, engine, store):
    alice = enrol(service)
    stranger = 'unknown:cam_shelf_a:7'
    service.apply_batch([
        enter(alice, 10), held(((stranger, 0.6), (alice, 0.2)), 'cola', 1, 11, 'h-stranger'),
        held((), 'chips', 2, 12, 'h-nobody'),
        held(((alice, 0.4), (stranger, 0.35)), 'water', 1, 13, 'h-alice-nearest'),
        held(((stranger, 0.5),), 'salad', -1, 13, 'h-put-back')])
    assert listed_at_unidentified_exits(service.apply_batch([unknown_at('entrance', 14)])) == []
    effects = service.apply_batch([unknown_at('exit', 15)])
    assert listed_at_unidentified_exits(effects) == [('h-stranger', 'h-nobody')]
    alert = next(a for a in effects.alerts if a.kind == UNIDENTIFIED_EXIT)
    assert '2 take(s)' in alert.message and '2 chips, 1 cola' in alert.message
    assert effects.counters[f'alert_{UNIDENTIFIED_EXIT}'] == 1
    # Listed once, also by a store restarted since; a new such take comes with the next one.
    assert listed_at_unidentified_exits(service.apply_batch([unknown_at('exit', 16)])) == []
    restarted = StoreService(engine, store)
    effects = restarted.apply_batch([held(((stranger, 0.7),), 'cola', 1, 17, 'h-later'),
                                     unknown_at('exit', 18), unknown_at('exit', 19)])
    assert listed_at_unidentified_exits(effects) == [('h-later',)]
    # Settled takes are not the question any more.
    store_admin.resolve_held(restarted, 'h-later', alice, 'staff_ana', '', 20 * S)
    restarted.apply_batch([held(((stranger, 0.7),), 'cola', 1, 21, 'h-settled')])
    store_admin.resolve_held(restarted, 'h-settled', '', 'staff_ana', 'a walk-in', 22 * S)
    assert listed_at_unidentified_exits(restarted.apply_batch([unknown_at('exit', 23)])) == []


def test_a_shelf_event_fusion_never_decided_is_held_for_staff_once(service):
    service.apply_batch([ShelfEventIn('s-lost', 'shelf_a', 'lane_1', 'cola', -2, 10 * S),
                         ShelfEventIn('s-done', 'shelf_a', 'lane_2', 'chips', -1, 10 * S),
                         ShelfEventIn('s-new', 'shelf_a', 'lane_2', 'chips', -1, 50 * S),
                         CartActionIn('s-done', '', 'chips', 1, 10 * S)])
    undecided = service.undecided_shelf_events(stamped_before_ns=40 * S)
    assert [(a.event_id, a.item_id, a.quantity, a.customer_id, a.hold_reason)
            for a in undecided] == [('s-lost', 'cola', 2, '', 'undecided')]
    effects = service.apply_batch(undecided)
    assert [a.kind for a in effects.alerts] == ['held_for_staff']
    held = {h.event_id: h.reason for h in service.held_actions()}
    assert held == {'s-done': 'unattributed', 's-lost': 'undecided'}
    assert service.undecided_shelf_events(stamped_before_ns=40 * S) == []
    # Fusion's own decision, arriving after all, changes nothing: staff settle it.
    late = service.apply_batch([CartActionIn('s-lost', enrol(service), 'cola', 2, 10 * S)])
    assert late.counters['duplicates'] == 1
