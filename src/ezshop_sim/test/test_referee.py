"""The referee's bookkeeping and verdict, pure Python (no ROS): cart-level wrong-person units,
held and late-resolved actions, door passes, missing receipts, absent checkouts, latencies."""

import pytest

from ezshop_sim.referee import (
    CUSTOMER_ABSENT,
    CUSTOMER_ENTERED,
    CUSTOMER_EXITED,
    CUSTOMER_SEEN,
    Referee,
    report_lines,
    verdict_line,
)
from ezshop_sim.scoring import (
    GT_ENTERED,
    GT_EXITED,
    GT_PUT_BACK,
    GT_TAKE,
    VISIT_ENDED_ABSENT,
    VISIT_OPENED_LATE,
    CartActionView,
    ReceiptView,
    TruthEvent,
)

PRICES = {'cola': 150, 'chips': 229}
IDS = {'id-ada': 'ada', 'id-bob': 'bob'}
T0 = 1_700_000_000.0  # the simulator's clock when the scenario started (header stamps)


def entered(name, t, enrolled=True):
    return TruthEvent(GT_ENTERED, name, enrolled, stamp=T0 + t)


def exited(name, t, enrolled=True):
    return TruthEvent(GT_EXITED, name, enrolled, stamp=T0 + t)


def take(name, t, item='cola', quantity=1, lane='lane_1', enrolled=True):
    return TruthEvent(GT_TAKE, name, enrolled, item, quantity, 'shelf_a', lane, T0 + t)


def put_back(name, t, item='cola', quantity=1, lane='lane_1'):
    return TruthEvent(GT_PUT_BACK, name, True, item, quantity, 'shelf_a', lane, T0 + t)


def action(event_id, customer_id, t, quantity=1, item='cola', lane='lane_1', resolves='',
           ambiguous=False):
    """A cart action stamped like the shelf event: the first reading at the new count, a
    little after the ground-truth change."""
    return CartActionView(event_id, customer_id, item, quantity, 'shelf_a', lane,
                          T0 + t + 0.07, resolves, ambiguous)


def receipt(name, lines=None, visit='v1', revision=1, opened_by=None, ended_by=None):
    lines = lines or {}
    extra = {}
    if opened_by:
        extra['opened_by'] = opened_by
    if ended_by:
        extra['ended_by'] = ended_by
    total = sum(PRICES[i] * q for i, q in lines.items())
    return ReceiptView(name, lines, total, revision, visit, **extra)


def play(truth, actions=(), receipts=(), door=(), now=100.0):
    """A referee fed the ground truth (arriving at `now`), the cart actions, door events given
    as (kind, customer_id, t), and receipts given as (customer_id, ReceiptView, arrival)."""
    referee = Referee(prices=PRICES, enrolled_ids=dict(IDS))
    for event in truth:
        referee.on_truth(event, now)
    for i, (kind, customer_id, t) in enumerate(door):
        referee.on_customer_event(f'door-{i}', kind, customer_id, T0 + t, now)
    for cart_action in actions:
        referee.on_cart_action(cart_action, now)
    for customer_id, view, arrival in receipts:
        referee.on_receipt(customer_id, view, arrival)
    referee.on_truth(None, now)
    return referee


def both_doors(*names):
    passes = []
    for name in names:
        passes += [(CUSTOMER_ENTERED, f'id-{name}', 1.0), (CUSTOMER_EXITED, f'id-{name}', 30.0)]
    return passes


def visits(*names):
    return [entered(n, 1.0) for n in names] + [exited(n, 30.0) for n in names]


def test_everything_right_is_all_right():
    truth = visits('ada', 'bob') + [take('ada', 10.0)]
    referee = play(truth, [action('e1', 'id-ada', 10.0)],
                   [('id-ada', receipt('ada', {'cola': 1}), 105.0),
                    ('id-bob', receipt('bob', visit='v2'), 105.0)],
                   door=both_doors('ada', 'bob'))
    report = referee.report()
    assert referee.finished() and report['all_right'] and report['receipts_all_right']
    assert report['wrong_person_units_cart'] == report['phantom_units_cart'] == 0
    assert report['missed_door_passes'] == report['missing_receipt_count'] == 0
    assert verdict_line({**report, 'finished': True}, True) == 'VERDICT: ALL RECEIPTS RIGHT'


def test_wrong_person_at_cart_level_even_when_a_later_action_removes_it():
    # ada takes a cola and puts it back; both actions go to bob. bob's receipt is empty, as is
    # ada's: every receipt is right, but a cola sat in the wrong cart for six seconds.
    truth = visits('ada', 'bob') + [take('ada', 10.0), put_back('ada', 16.0)]
    actions = [action('e1', 'id-bob', 10.0), action('e2', 'id-bob', 16.0, quantity=-1)]
    receipts = [('id-ada', receipt('ada'), 105.0), ('id-bob', receipt('bob', visit='v2'), 105.0)]
    report = play(truth, actions, receipts, door=both_doors('ada', 'bob')).report()
    assert report['receipts_all_right'] and report['wrong_person_units'] == 0
    assert report['wrong_person_units_cart'] == 2
    assert not report['all_right']
    assert any('taken by ada' in d for d in report['wrong_person_cart_details'])
    assert any('put back by ada' in d for d in report['wrong_person_cart_details'])
    verdict = verdict_line({**report, 'finished': True}, True)
    assert verdict == 'VERDICT: RECEIPTS RIGHT, BUT 2 UNITS WENT TO THE WRONG CART'


def test_wrong_person_units_on_a_cart_never_receipted_count():
    # bob never leaves (no receipt expected), yet the cola ada took went into his cart.
    truth = [entered('ada', 1.0), entered('bob', 2.0), take('ada', 10.0), exited('ada', 30.0)]
    report = play(truth, [action('e1', 'id-bob', 10.0)],
                  [('id-ada', receipt('ada'), 105.0)]).report()
    assert report['wrong_person_units_cart'] == 1
    assert report['wrong_person_units'] == 0 and not report['all_right']


def test_a_late_resolution_to_the_right_person_is_not_wrong():
    truth = visits('ada', 'bob') + [take('ada', 10.0)]
    actions = [action('e1', '', 10.0, ambiguous=True),
               action('e1', 'id-ada', 10.0, resolves='e1')]
    referee = play(truth, actions, [('id-ada', receipt('ada', {'cola': 1}), 105.0),
                                    ('id-bob', receipt('bob', visit='v2'), 105.0)],
                   door=both_doors('ada', 'bob'))
    report = referee.report()
    assert report['wrong_person_units_cart'] == 0 and report['all_right']
    assert (report['held_actions'], report['late_resolved_actions'],
            report['held_unresolved']) == (1, 1, 0)
    # The resolution shares the held action's event_id but is not a duplicate of it.
    assert report['cart_actions'] == 2
    assert not referee.on_cart_action(action('e1', 'id-ada', 10.0, resolves='e1'), 101.0)


def test_a_late_resolution_to_the_wrong_person_is_wrong():
    truth = visits('ada', 'bob') + [take('ada', 10.0)]
    actions = [action('e1', '', 10.0), action('e1-resolved', 'id-bob', 10.0, resolves='e1')]
    report = play(truth, actions, door=both_doors('ada', 'bob')).report()
    assert report['wrong_person_units_cart'] == 1
    assert report['wrong_person_cart_details'] == [
        'cola x+1 to bob at shelf_a/lane_1 (late resolution): taken by ada']
    assert report['late_resolved_actions'] == 1 and report['held_unresolved'] == 0


def test_held_actions_are_not_wrong_person_and_unresolved_ones_are_counted():
    truth = visits('ada', 'bob') + [take('ada', 10.0), take('bob', 12.0, item='chips',
                                                             lane='lane_2')]
    actions = [action('e1', '', 10.0), action('e2', '', 12.0, item='chips', lane='lane_2'),
               action('e2', 'id-bob', 12.0, item='chips', lane='lane_2', resolves='e2')]
    referee = play(truth, actions)
    report = referee.report()
    assert report['wrong_person_units_cart'] == 0 and report['phantom_units_cart'] == 0
    assert report['held_actions'] == report['unattributed_actions'] == 2
    assert report['late_resolved_actions'] == 1 and report['held_unresolved'] == 1
    assert [a.event_id for a in referee.held_unresolved()] == ['e1']


def test_an_action_matching_no_truth_is_a_phantom_not_a_wrong_person():
    truth = visits('ada') + [take('ada', 10.0)]
    actions = [action('e1', 'id-ada', 10.0),
               action('e2', 'id-ada', 20.0),  # the lane did not change then
               action('e3', 'id-ada', 10.0, lane='lane_2'),  # nor did another lane
               action('e4', 'id-ada', 10.0, quantity=-1)]  # nothing was put back
    report = play(truth, actions).report()
    assert report['wrong_person_units_cart'] == 0
    assert report['phantom_units_cart'] == 3 and len(report['phantom_cart_details']) == 3


def test_actions_match_the_nearest_change_of_their_lane():
    # ada and bob take from one lane 4 s apart (the simulator's lane gap).
    truth = visits('ada', 'bob') + [take('ada', 10.0), take('bob', 14.0)]
    right = play(truth, [action('e1', 'id-ada', 10.0), action('e2', 'id-bob', 14.0)]).report()
    assert right['wrong_person_units_cart'] == 0
    swapped = play(truth, [action('e1', 'id-bob', 10.0), action('e2', 'id-ada', 14.0)]).report()
    assert swapped['wrong_person_units_cart'] == 2


def test_an_unenrolled_takers_item_on_anyones_cart_and_unknown_ids_are_wrong_person():
    truth = visits('ada') + [entered('ghost', 2.0, enrolled=False),
                             take('ghost', 10.0, enrolled=False), take('ada', 20.0)]
    report = play(truth, [action('e1', 'id-ada', 10.0),
                          action('e2', 'id-stale', 20.0)]).report()
    assert report['wrong_person_units_cart'] == 2


def test_missed_door_passes_are_named():
    truth = visits('ada', 'bob') + [entered('ghost', 1.0, enrolled=False),
                                    exited('ghost', 30.0, enrolled=False)]
    door = [(CUSTOMER_ENTERED, 'id-ada', 1.4), (CUSTOMER_EXITED, 'id-ada', 29.2),
            (CUSTOMER_ENTERED, 'id-bob', 0.8),
            (CUSTOMER_EXITED, 'id-bob', 60.0),  # far too late to be the same pass
            (CUSTOMER_SEEN, 'id-bob', 30.0)]  # a sighting is not a door pass
    report = play(truth, door=door).report()
    assert report['missed_door_passes'] == 1
    assert report['missed_door_pass_details'] == ['bob exited']
    assert report['late_entries'] == 1


def test_an_entry_seen_at_the_wrong_door_kind_is_missed():
    truth = visits('ada')
    report = play(truth, door=[(CUSTOMER_EXITED, 'id-ada', 1.0),
                               (CUSTOMER_EXITED, 'id-ada', 30.0)]).report()
    assert report['missed_door_pass_details'] == ['ada entered']


def test_missing_receipts_count_and_names():
    truth = visits('ada', 'bob') + [entered('cyd', 2.0)]  # cyd never leaves
    referee = play(truth, receipts=[('id-ada', receipt('ada'), 105.0)])
    report = referee.report()
    assert report['missing_receipts'] == ['bob'] and report['missing_receipt_count'] == 1
    assert not referee.finished()
    report['finished'] = False
    assert verdict_line(report, True) == (
        'VERDICT: INCOMPLETE (scenario over: True; missing receipts: bob)')


def test_truth_exit_latency_shows_a_missed_exit_that_got_a_late_receipt():
    # The exit door missed ada; the store closed her visit as absent 25 s after she left.
    truth = [entered('ada', 1.0), take('ada', 10.0), exited('ada', 30.0)]
    referee = Referee(prices=PRICES, enrolled_ids=dict(IDS))
    for event in truth:
        referee.on_truth(event, 100.0)  # all arrived by the time she left
    referee.on_customer_event('a1', CUSTOMER_ABSENT, 'id-ada', T0 + 30.0, 124.0, 'cam_exit')
    referee.on_truth(None, 102.0)
    referee.on_receipt('id-ada', receipt('ada', {'cola': 1}, ended_by=VISIT_ENDED_ABSENT), 125.0)
    report = referee.report()
    assert report['exit_to_receipt']['count'] == 0  # no door EXITED to measure from
    assert report['truth_exit_to_receipt']['count'] == 1
    assert report['truth_exit_to_receipt']['max_s'] == pytest.approx(25.0)
    assert report['samples_s']['truth_exit_to_receipt'] == [pytest.approx(25.0)]
    # One checkout, seen both as the ABSENT event and as the receipt's ended_by.
    assert report['absent_checkouts'] == 1 and report['missed_door_passes'] == 2
    assert report['all_right']


def test_both_exit_latencies_with_a_door_exit():
    referee = Referee(prices=PRICES, enrolled_ids=dict(IDS))
    referee.on_truth(entered('ada', 1.0), 71.0)
    referee.on_truth(exited('ada', 30.0), 100.0)
    referee.on_customer_event('x1', CUSTOMER_EXITED, 'id-ada', T0 + 29.8, 100.4)
    referee.on_receipt('id-ada', receipt('ada'), 101.9)
    referee.on_receipt('id-ada', receipt('ada', revision=2), 104.0)  # adjustment: not again
    report = referee.report()
    assert report['exit_to_receipt']['p50_s'] == pytest.approx(1.5)
    assert report['truth_exit_to_receipt']['p50_s'] == pytest.approx(1.9)


def test_a_receipt_long_before_the_exit_closed_an_earlier_visit():
    referee = Referee(prices=PRICES, enrolled_ids=dict(IDS))
    referee.on_truth(entered('ada', 1.0), 71.0)
    referee.on_receipt('id-ada', receipt('ada', ended_by=VISIT_ENDED_ABSENT), 80.0)
    referee.on_truth(exited('ada', 30.0), 100.0)
    assert referee.truth_exit_latency() == {}
    referee.on_receipt('id-ada', receipt('ada', visit='v2', opened_by=VISIT_OPENED_LATE), 103.0)
    assert referee.truth_exit_latency() == {'ada': pytest.approx(3.0)}


def test_the_visits_of_one_customer_are_charged_together():
    # Closed as absent with the cola, seen again (late entry), left with the chips.
    truth = visits('ada') + [take('ada', 5.0), take('ada', 20.0, item='chips', lane='lane_2')]
    receipts = [('id-ada', receipt('ada', {'cola': 1}, ended_by=VISIT_ENDED_ABSENT), 90.0),
                ('id-ada', receipt('ada', {'chips': 1}, visit='v2',
                                   opened_by=VISIT_OPENED_LATE), 104.0)]
    door = [(CUSTOMER_ENTERED, 'id-ada', 1.0), (CUSTOMER_SEEN, 'id-ada', 18.0),
            (CUSTOMER_EXITED, 'id-ada', 30.0)]
    report = play(truth, receipts=receipts, door=door).report()
    assert report['receipts_right'] == 1 and report['all_right']
    assert report['shoppers'][0]['charged'] == {'cola': 1, 'chips': 1}
    assert report['shoppers'][0]['exited']
    assert report['late_entries'] == 1 and report['absent_checkouts'] == 1


def test_duplicates_are_counted_once():
    referee = play(visits('ada') + [take('ada', 10.0)])
    assert referee.on_cart_action(action('e1', 'id-ada', 10.0), 101.0)
    assert not referee.on_cart_action(action('e1', 'id-ada', 10.0), 101.5)
    assert referee.on_customer_event('s1', CUSTOMER_SEEN, 'id-ada', T0 + 5.0, 101.0)
    assert not referee.on_customer_event('s1', CUSTOMER_SEEN, 'id-ada', T0 + 5.0, 101.2)
    report = referee.report()
    assert report['cart_actions'] == 1 and report['late_entries'] == 1


def test_report_keys_and_printed_lines():
    truth = visits('ada', 'bob') + [take('ada', 10.0)]
    actions = [action('e1', '', 10.0), action('e1', 'id-bob', 10.0, resolves='e1')]
    referee = play(truth, actions, [('id-ada', receipt('ada'), 105.0)],
                   door=[(CUSTOMER_ENTERED, 'id-ada', 1.0), (CUSTOMER_EXITED, 'id-ada', 30.0),
                         (CUSTOMER_ENTERED, 'id-bob', 1.0)])
    report = referee.report()
    for key in ('missing_receipts', 'missing_receipt_count', 'wrong_person_units_cart',
                'missed_door_passes', 'missed_door_pass_details', 'late_entries',
                'absent_checkouts', 'held_actions', 'late_resolved_actions', 'held_unresolved',
                'truth_exit_to_receipt', 'wrong_person_units', 'exit_to_receipt', 'all_right'):
        assert key in report, key
    lines = report_lines(report)
    assert lines[0].startswith('receipts exactly right: 0/2; missing: 1 (bob); '
                               'wrong-person units: 0 on receipts, 1 on carts')
    assert lines[1].startswith('missed door passes: 1 (bob exited); late entries: 0; '
                               'absent checkouts: 0; held actions: 1 (late resolutions: 1, '
                               'still held: 0)')
    assert 'truth exit -> receipt: p50 5.00 s' in lines[2]
    assert lines[3].startswith('  wrong cart: cola x+1 to bob')
