"""Bounds where events enter the store and fusion: quantities no lane could move, ids longer
than the database keeps, candidate lists out of step or too long, non-finite scores. Each is
refused with the reason; sane events pass unchanged."""

import pytest

from ezshop_common.store_config import load_store
from ezshop_msgs.msg import CartAction, CustomerEvent, ShelfEvent
from ezshop_store.messages import (
    MAX_ID_CHARS,
    BadMessageError,
    InputLimits,
    cart_action_in,
    customer_event_in,
    shelf_change,
    shelf_event_in,
)


@pytest.fixture(scope='module')
def limits(config_dir):
    return InputLimits.of(load_store(config_dir / 'store.yaml'))


def shelf(delta, lane='lane_1', **fields):
    return ShelfEvent(event_id='s1', shelf_id='shelf_a', lane_id=lane, item_id='cola',
                      quantity_delta=delta, **fields)


def action(quantity, **fields):
    return CartAction(**{'event_id': 'a1', 'customer_id': 'c1', 'item_id': 'cola',
                         'quantity': quantity, 'confidence': 1.0, 'shelf_id': 'shelf_a',
                         'lane_id': 'lane_1', **fields})


def test_a_lane_moves_at_most_what_it_holds(limits, config_dir):
    capacity = load_store(config_dir / 'store.yaml').lane('shelf_a', 'lane_1').capacity
    assert shelf_event_in(shelf(-capacity), limits).quantity_delta == -capacity
    assert shelf_change(shelf(2), limits).quantity_delta == 2
    for delta in (-capacity - 1, 2 ** 31 - 1, -(2 ** 31), 0):
        with pytest.raises(BadMessageError, match='holds'):
            shelf_event_in(shelf(delta), limits)
        with pytest.raises(BadMessageError):
            shelf_change(shelf(delta), limits)
    # A lane the store does not know moves nothing; an action naming no lane is bounded by
    # the largest lane.
    for delta in (-1, 2):
        with pytest.raises(BadMessageError, match='not a lane of this store'):
            shelf_event_in(shelf(delta, lane='lane_9'), limits)
        with pytest.raises(BadMessageError, match='not a lane of this store'):
            shelf_change(shelf(delta, lane='lane_9'), limits)
    with pytest.raises(BadMessageError, match='not a lane of this store'):
        cart_action_in(action(1, lane_id='lane_9'), limits)
    assert cart_action_in(action(limits.max_units, shelf_id='', lane_id=''),
                          limits).quantity == limits.max_units
    with pytest.raises(BadMessageError, match='any lane'):
        cart_action_in(action(limits.max_units + 1, shelf_id='', lane_id=''), limits)


def test_cart_actions_are_bounded_too(limits):
    assert cart_action_in(action(3), limits).quantity == 3
    assert cart_action_in(action(0), limits).quantity == 0  # the store's rules refuse it
    with pytest.raises(BadMessageError, match='holds'):
        cart_action_in(action(2 ** 31 - 1), limits)
    with pytest.raises(BadMessageError, match='candidates'):
        cart_action_in(action(1, candidate_ids=['x'] * 40, candidate_scores=[0.1] * 40), limits)
    with pytest.raises(BadMessageError, match='candidate_scores'):
        cart_action_in(action(1, candidate_ids=['x'], candidate_scores=[]), limits)
    with pytest.raises(BadMessageError, match='finite'):
        cart_action_in(action(1, candidate_ids=['x'], candidate_scores=[float('nan')]), limits)
    with pytest.raises(BadMessageError, match='finite'):
        cart_action_in(action(1, confidence=float('inf')), limits)


def test_ids_longer_than_the_database_keeps_are_refused(limits):
    long_id = 'x' * (MAX_ID_CHARS + 1)
    with pytest.raises(BadMessageError, match='event_id is longer'):
        cart_action_in(action(1, event_id=long_id), limits)
    with pytest.raises(BadMessageError, match='customer_id is longer'):
        cart_action_in(action(1, customer_id=long_id), limits)
    with pytest.raises(BadMessageError, match='door_id is longer'):
        customer_event_in(CustomerEvent(event_id='e', customer_id='c', door_id=long_id))
    with pytest.raises(BadMessageError, match='event_id is empty'):
        shelf_event_in(ShelfEvent(event_id=' ', item_id='cola', quantity_delta=-1), limits)
    assert customer_event_in(CustomerEvent(event_id='e' * MAX_ID_CHARS,
                                           customer_id='c')).event_id == 'e' * MAX_ID_CHARS
