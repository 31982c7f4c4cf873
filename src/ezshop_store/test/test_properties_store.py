"""Property tests (hypothesis) of what enters the store and fusion: any field values make a
bounded core object or a BadMessageError, never another exception; and a batch of events
applied twice changes nothing the second time."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ezshop_common.store_config import load_store
from ezshop_msgs.msg import CartAction, CustomerEvent, ShelfEvent
from ezshop_store import store_admin
from ezshop_store.db.engine import make_engine, upgrade
from ezshop_store.messages import (
    MAX_ID_CHARS,
    BadMessageError,
    InputLimits,
    cart_action_in,
    customer_event_in,
    shelf_change,
    shelf_event_in,
)
from ezshop_store.store_service import StoreService
from ezshop_store.store_types import ENTERED, EXITED, CartActionIn, CustomerEventIn

INT32 = st.integers(-(2 ** 31), 2 ** 31 - 1)
TEXT = st.text(max_size=80)
FLOAT = st.floats(allow_nan=True, allow_infinity=True, width=32)
LIMITS = InputLimits({('shelf_a', 'lane_1'): 6}, max_units=24)


@settings(max_examples=300, deadline=None)
@given(TEXT, TEXT, TEXT, INT32, FLOAT, st.lists(TEXT, max_size=40),
       st.lists(FLOAT, max_size=40), st.sampled_from(['', 'shelf_a']),
       st.sampled_from(['', 'lane_1', 'lane_9']))
def test_cart_actions_are_bounded_or_refused(event_id, customer, item, quantity, confidence,
                                             ids, scores, shelf, lane):
    msg = CartAction(event_id=event_id, customer_id=customer, item_id=item, quantity=quantity,
                     confidence=confidence, candidate_ids=ids, candidate_scores=scores,
                     shelf_id=shelf, lane_id=lane)
    try:
        action = cart_action_in(msg, LIMITS)
    except BadMessageError:
        return
    assert 0 < len(action.event_id) <= MAX_ID_CHARS and len(action.customer_id) <= MAX_ID_CHARS
    bound = 6 if (shelf, lane) == ('shelf_a', 'lane_1') else 24
    assert abs(action.quantity) <= bound
    assert np.isfinite(action.confidence)


@settings(max_examples=300, deadline=None)
@given(TEXT, TEXT, INT32, st.sampled_from(['', 'shelf_a']), st.booleans())
def test_shelf_events_are_bounded_or_refused(event_id, item, delta, shelf, unobserved):
    msg = ShelfEvent(event_id=event_id, shelf_id=shelf, lane_id='lane_1', item_id=item,
                     quantity_delta=delta, unobserved=unobserved)
    for convert in (shelf_event_in, shelf_change):
        try:
            event = convert(msg, LIMITS)
        except BadMessageError:
            continue
        assert 0 < abs(event.quantity_delta) <= 24


@settings(max_examples=200, deadline=None)
@given(TEXT, st.integers(0, 255), TEXT, TEXT, TEXT)
def test_customer_events_are_bounded_or_refused(event_id, kind, customer, door, camera):
    msg = CustomerEvent(event_id=event_id, kind=kind, customer_id=customer, door_id=door,
                        camera_id=camera)
    try:
        event = customer_event_in(msg)
    except BadMessageError:
        return
    assert max(len(event.event_id), len(event.customer_id), len(event.door_id)) <= MAX_ID_CHARS


@pytest.fixture(scope='module')
def shop(tmp_path_factory, config_dir):
    store = load_store(config_dir / 'store.yaml')
    engine = make_engine(f'sqlite:///{tmp_path_factory.mktemp("props") / "store.db"}')
    upgrade(engine)
    service = StoreService(engine, store)
    people = [store_admin.register_customer(service, name, np.ones(128, np.float32), 128, 'm', 1)
              for name in ('Ann', 'Bob')]
    return service, people


event_steps = st.lists(st.tuples(
    st.sampled_from(['enter', 'exit', 'take', 'put']), st.integers(0, 1),
    st.sampled_from(['cola', 'chips', 'water']), st.integers(1, 3)), max_size=25)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event_steps, st.integers(0, 10 ** 6))
def test_a_batch_applied_twice_changes_nothing_the_second_time(shop, steps, run):
    service, people = shop
    events = []
    for index, (what, who, item, qty) in enumerate(steps):
        t = (run * 1000 + index + 1) * 1_000_000_000
        event_id = f'r{run}-{index}'
        customer = people[who]
        if what in ('enter', 'exit'):
            events.append(CustomerEventIn(event_id, ENTERED if what == 'enter' else EXITED,
                                          customer, 'door', t))
        else:
            events.append(CartActionIn(event_id, customer, item,
                                       qty if what == 'take' else -qty, t))
    service.apply_batch(events)
    again = service.apply_batch(events)
    assert again.counters['duplicates'] == len(events)
    assert again.receipts == [] and again.carts == {} and again.alerts == []
