"""Recorded receipts against replayed ones. No DDS."""

from ezshop_bag.receipts import compare, final_receipts, report_lines, summary

S = 1_000_000_000


def test_summary_merges_and_sorts_lines():
    receipt = summary('ada', [('water', 1), ('cola', 1), ('cola', 1), ('chips', 0)], 400, 'EUR')
    assert receipt.lines == (('cola', 2), ('water', 1))
    assert receipt.describe() == 'ada: 2x cola, 1x water = 4.00 EUR'
    assert summary('bob', [], 0).describe() == 'bob: nothing = 0.00'


def test_final_receipts_newest_revision_per_visit_within_the_recording():
    receipts = [
        summary('ada', [('cola', 1)], 150, revision=1, visit_id='v1', stamp_ns=20 * S),
        summary('ada', [('cola', 2)], 300, revision=2, visit_id='v1', stamp_ns=21 * S),
        summary('bob', [('chips', 1)], 200, revision=1, visit_id='v2', stamp_ns=15 * S),
        summary('old', [('chips', 1)], 200, revision=1, visit_id='v0', stamp_ns=1 * S),
        summary('late', [('chips', 1)], 200, revision=1, visit_id='v9', stamp_ns=99 * S),
    ]
    final = final_receipts(receipts, start_ns=10 * S, end_ns=30 * S)
    assert [(r.customer, r.total_cents) for r in final] == [('bob', 200), ('ada', 300)]
    assert len(final_receipts(receipts)) == 4
    # the stamp window has a margin: a receipt stamped just after the last input counts
    assert len(final_receipts(receipts, 10 * S, 97.5 * S)) == 3


def test_compare_ignores_ids_and_order_but_not_contents():
    recorded = [summary('ada', [('cola', 1)], 150, visit_id='v1', stamp_ns=1),
                summary('bob', [('chips', 1)], 200, visit_id='v2', stamp_ns=2)]
    replayed = [summary('bob', [('chips', 1)], 200, visit_id='other', stamp_ns=5),
                summary('ada', [('cola', 1)], 150, visit_id='x', stamp_ns=9)]
    result = compare(recorded, replayed)
    assert result.same and result.as_dict()['same'] is True
    assert report_lines(result)[-1] == 'REPLAY: SAME RECEIPTS'

    wrong = compare(recorded, [replayed[0], summary('ada', [('cola', 2)], 300)])
    assert not wrong.same
    assert [r.customer for r in wrong.missing] == ['ada']
    assert [r.total_cents for r in wrong.unexpected] == [300]
    lines = report_lines(wrong)
    assert 'MISSING in replay: ada: 1x cola = 1.50' in lines[-3]
    assert lines[-1] == 'REPLAY: RECEIPTS DIFFER'

    assert not compare(recorded, replayed[:1]).same
    assert not compare(recorded, replayed + replayed[:1]).same  # one receipt too many
    assert compare([], []).same
