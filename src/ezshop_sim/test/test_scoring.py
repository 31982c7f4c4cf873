"""Receipt scoring against ground truth."""

from ezshop_sim.scoring import (
    GT_ENTERED,
    GT_EXITED,
    GT_PUT_BACK,
    GT_TAKE,
    ReceiptView,
    TruthEvent,
    format_table,
    score,
)

PRICES = {'cola': 150, 'chips': 229}


def visit(shopper, *actions, enrolled=True):
    events = [TruthEvent(GT_ENTERED, shopper, enrolled)]
    events += [TruthEvent(kind, shopper, enrolled, item, qty) for kind, item, qty in actions]
    events.append(TruthEvent(GT_EXITED, shopper, enrolled))
    return events


def test_right_receipts_with_put_back():
    events = visit('ada', (GT_TAKE, 'cola', 2), (GT_PUT_BACK, 'cola', 1), (GT_TAKE, 'chips', 1))
    events += visit('bob')
    receipts = [ReceiptView('ada', {'cola': 1, 'chips': 1}, 379), ReceiptView('bob', {}, 0)]
    result = score(events, receipts, PRICES)
    assert result.all_right and result.receipts_right == result.receipts_expected == 2
    assert (result.precision, result.recall, result.wrong_person_units) == (1.0, 1.0, 0)
    assert 'OK' in format_table(result)


def test_item_charged_to_the_wrong_person():
    events = visit('ada', (GT_TAKE, 'cola', 1)) + visit('bob')
    receipts = [ReceiptView('ada', {}, 0), ReceiptView('bob', {'cola': 1}, 150)]
    result = score(events, receipts, PRICES)
    assert not result.all_right
    assert result.wrong_person_units == 1 and result.phantom_units == 0
    assert result.false_negative_units == 1 and result.precision == 0.0
    assert result.worst_error_cents == 150
    assert 'WRONG' in format_table(result)


def test_put_back_still_charged_is_a_phantom_charge():
    events = visit('ada', (GT_TAKE, 'cola', 1), (GT_PUT_BACK, 'cola', 1))
    result = score(events, [ReceiptView('ada', {'cola': 1}, 150)], PRICES)
    assert result.phantom_units == 1 and result.wrong_person_units == 0
    assert not result.all_right


def test_unenrolled_taker_must_not_appear_on_anyones_receipt():
    events = visit('ghost', (GT_TAKE, 'chips', 1), enrolled=False) + visit('ada')
    right = score(events, [ReceiptView('ada', {}, 0)], PRICES)
    assert right.all_right and right.receipts_expected == 1
    wrong = score(events, [ReceiptView('ada', {'chips': 1}, 229)], PRICES)
    assert wrong.wrong_person_units == 1 and not wrong.all_right


def test_missing_receipt_and_wrong_total():
    events = visit('ada', (GT_TAKE, 'cola', 1))
    assert not score(events, [], PRICES).all_right
    assert not score(events, [ReceiptView('ada', {'cola': 1}, 149)], PRICES).all_right
