"""The console's view of the store, folded from message dicts."""

from ezshop_web.store_view import StoreView


def cart(customer_id, visit_id, lines=(), total=0):
    return {'customer_id': customer_id, 'visit_id': visit_id, 'stamp': 1.0,
            'lines': list(lines), 'total_cents': total, 'currency': 'EUR'}


def receipt(receipt_id, revision, exited_at):
    return {'receipt_id': receipt_id, 'revision': revision, 'visit_id': 'v', 'customer_id': 'c',
            'customer_name': 'Ann', 'lines': [], 'total_cents': 0, 'currency': 'EUR',
            'entered_at': 0.0, 'exited_at': exited_at, 'opened_by': 'entrance',
            'ended_by': 'exit'}


COLA = {'item_id': 'cola', 'name': 'Cola', 'quantity': 1, 'unit_price_cents': 150,
        'line_total_cents': 150}


def test_who_is_in_follows_the_open_carts_with_names_entry_and_how_the_visit_opened():
    view = StoreView()
    view.on_gallery({'c1': 'Ann', 'c2': 'Bob'})
    view.on_customer_event({'kind': 'entered', 'customer_id': 'c1', 'stamp': 10.0,
                            'event_id': 'e1'})
    view.on_customer_event({'kind': 'seen', 'customer_id': 'c2', 'stamp': 12.0,
                            'event_id': 'e2'})
    updates = view.on_cart(cart('c2', 'v2'))
    updates += view.on_cart(cart('c1', 'v1', [COLA], 150))
    assert [section for section, _ in updates] == ['presence', 'presence']
    people = view.presence()
    assert [(p['name'], p['entered_at'], p['opened_by'], p['total_cents']) for p in people] \
        == [('Ann', 10.0, 'entrance', 150), ('Bob', 12.0, 'late entry', 0)]
    assert view.on_cart(cart('c1', '')) == [('presence', view.presence())]
    assert [p['name'] for p in view.presence()] == ['Bob']
    assert view.on_cart(cart('c1', '')) == []  # checked out already: nothing to push


def test_receipts_keep_every_revision_newest_first_and_only_the_newest_n():
    view = StoreView(receipts_kept=3)
    for i, (rid, rev, t) in enumerate([('r1', 1, 5.0), ('r2', 1, 6.0), ('r1', 2, 7.0),
                                       ('r3', 1, 8.0)]):
        view.on_receipt(receipt(rid, rev, t))
        assert len(view.receipts) == min(i + 1, 3)
    assert [(r['receipt_id'], r['revision']) for r in view.receipt_list()] \
        == [('r3', 1), ('r1', 2), ('r2', 1)]


def test_alerts_newest_first_and_health_pushed_only_when_it_changes():
    view = StoreView(alerts_kept=2)
    for kind in ('a', 'b', 'c'):
        view.on_alert({'kind': kind})
    assert [a['kind'] for a in view.snapshot()['alerts']] == ['c', 'b']
    status = {'name': 'shelf_monitor: node', 'hardware_id': 'x', 'level': 'ok', 'message': 'm'}
    assert view.on_health([status]) == [('health', [status])]
    assert view.on_health([dict(status)]) == []


def test_staff_acknowledge_one_alert_or_all_and_twice_changes_nothing():
    view = StoreView()
    for kind in ('sensor_dead', 'held_for_staff', 'late_entry'):
        view.on_alert({'kind': kind})
    newest, middle, oldest = (a['alert_id'] for a in view.snapshot()['alerts'])
    shown = view.snapshot()['alerts']
    count, updates = view.acknowledge(middle, 'alice', 100.0)
    assert count == 1 and updates[0][0] == 'alerts'
    seen = {a['kind']: a['acknowledged_by'] for a in view.snapshot()['alerts']}
    assert seen == {'sensor_dead': '', 'held_for_staff': 'alice', 'late_entry': ''}
    assert shown[1]['acknowledged_by'] == ''  # what pages were sent is never edited
    assert view.acknowledge(middle, 'bob', 101.0) == (0, [])
    count, _ = view.acknowledge(None, 'bob', 102.0)
    assert count == 2
    by = {a['alert_id']: (a['acknowledged_by'], a['acknowledged_at'])
          for a in view.snapshot()['alerts']}
    assert by == {newest: ('bob', 102.0), middle: ('alice', 100.0), oldest: ('bob', 102.0)}
    assert view.has_alert(oldest) and not view.has_alert(oldest + 100)


def test_a_customer_feed_passes_only_their_own_cart_changes_and_new_receipts():
    from ezshop_web.store_view import CustomerFeed

    feed = CustomerFeed('c1')
    mine = dict(receipt('r1', 1, 5.0), customer_id='c1')
    theirs = dict(receipt('r2', 1, 6.0), customer_id='c2')
    feed.start({'name': 'Ann', 'cart': None, 'receipts': [mine]})
    ann = {'customer_id': 'c1', 'lines': [COLA], 'total_cents': 150}
    bob = {'customer_id': 'c2', 'lines': [], 'total_cents': 0}
    assert feed.events('presence', [bob]) == []
    assert feed.events('presence', [bob, ann]) == [('cart', ann)]
    assert feed.events('presence', [ann, bob]) == []           # the same cart again
    assert feed.events('alerts', [{'kind': 'x'}]) == []
    assert feed.events('presence', [bob]) == [('cart', None)]  # checked out
    fixed = dict(mine, revision=2)
    assert feed.events('receipts', [theirs, fixed, mine]) == [('receipt', fixed)]
    assert feed.events('receipts', [theirs, fixed, mine]) == []
