"""The console's view of the store, folded from message dicts."""

import pytest

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


def fridges():
    from ezshop_common.store_config import Fridge

    return (Fridge('dairy', 'Dairy fridge', 'fridge', 0.0, 7.0, 900.0, 'ds18b20'),
            Fridge('freezer', 'Ice cream freezer', 'freezer', -25.0, -15.0, 600.0, 'ds18b20'))


def temperature_alert(kind, fridge_id, stamp):
    return {'stamp': stamp, 'level': 'error', 'kind': kind, 'message': 'm', 'refs': [fridge_id],
            'source': 'temperature_monitor'}


def states(view, now_s):
    return {row['fridge_id']: row['state'] for row in view.snapshot(now_s)['fridges']}


def test_fridges_show_the_latest_reading_its_age_and_ok_or_out_of_limits():
    view = StoreView(fridges=fridges(), fridge_stale_s=30.0)
    assert states(view, 100.0) == {'dairy': 'no_reading', 'freezer': 'no_reading'}
    assert [row['age_s'] for row in view.snapshot(100.0)['fridges']] == [None, None]
    [(section, rows)] = view.on_temperature('freezer', 99.0, -18.04, now_s=100.0)
    freezer = rows[1]
    assert section == 'fridges' and [r['fridge_id'] for r in rows] == ['dairy', 'freezer']
    assert (freezer['name'], freezer['kind'], freezer['min_c'], freezer['max_c']) \
        == ('Ice cream freezer', 'freezer', -25.0, -15.0)
    assert (freezer['value_c'], freezer['age_s'], freezer['state'], freezer['state_label']) \
        == (-18.04, 1.0, 'ok', 'OK')
    # The same temperature at one decimal: nothing to push now; the timer catches the age up.
    assert view.on_temperature('freezer', 100.0, -18.01, now_s=100.5) == []
    [(_, rows)] = view.fridges_tick(101.0)
    assert rows[1]['age_s'] == 1.0 and rows[1]['value_c'] == -18.01
    assert view.fridges_tick(101.5) == []                      # nothing new: nothing pushed
    # An older reading (reordered) changes nothing; the door open a moment: out of limits.
    assert view.on_temperature('freezer', 90.0, -5.0, now_s=102.0) == []
    [(_, rows)] = view.on_temperature('freezer', 102.0, -12.0, now_s=102.0)
    assert (rows[1]['state'], rows[1]['state_label']) == ('out_of_limits', 'out of limits')
    assert view.on_temperature('nowhere', 102.0, 4.0, now_s=102.0) == []
    # A reading that is no temperature is refused (the node counts and logs it).
    for bad in (float('nan'), float('inf')):
        with pytest.raises(ValueError):
            view.on_temperature('dairy', 103.0, bad, now_s=103.0)


def test_a_silent_probe_shows_no_reading_after_the_stale_time_or_at_the_monitors_alert():
    view = StoreView(fridges=fridges(), fridge_stale_s=30.0)
    view.on_temperature('dairy', 100.0, 4.0, now_s=100.0)
    view.fridges_tick(100.0)
    assert view.fridges_tick(129.0) == []
    [(_, rows)] = view.fridges_tick(131.0)                      # time alone changed a state
    assert (rows[0]['state'], rows[0]['age_s']) == ('no_reading', 31.0)
    view.on_temperature('dairy', 132.0, 4.0, now_s=132.0)
    assert states(view, 132.0)['dairy'] == 'ok'
    updates = view.on_alert(temperature_alert('temperature_sensor_dead', 'dairy', 133.0),
                            now_s=133.0)
    assert [section for section, _ in updates] == ['alerts', 'fridges']
    assert updates[1][1][0]['state'] == 'no_reading' and updates[1][1][0]['sensor_dead']
    view.on_alert(temperature_alert('temperature_sensor_recovered', 'dairy', 134.0), now_s=134.0)
    assert states(view, 134.0)['dairy'] == 'ok'


def test_alarm_from_an_unresolved_temperature_alert_until_it_is_recovered():
    view = StoreView(fridges=fridges(), fridge_stale_s=30.0)
    view.on_temperature('freezer', 100.0, -10.0, now_s=100.0)
    assert states(view, 100.0)['freezer'] == 'out_of_limits'
    [_, (section, rows)] = view.on_alert(temperature_alert('temperature_high', 'freezer', 100.0),
                                         now_s=100.5)
    assert section == 'fridges'
    assert (rows[1]['state'], rows[1]['state_label'], rows[1]['alarm']) \
        == ('alarm', 'ALARM', 'high')
    # Still ALARM while the probe is silent: the alarm is the more urgent.
    view.on_alert(temperature_alert('temperature_sensor_dead', 'freezer', 170.0), now_s=170.0)
    assert states(view, 200.0)['freezer'] == 'alarm'
    # A recovered stamped before the alarm (reordered) resolves nothing; a later one does.
    view.on_alert(temperature_alert('temperature_recovered', 'freezer', 99.0), now_s=201.0)
    assert states(view, 201.0)['freezer'] == 'alarm'
    view.on_alert(temperature_alert('temperature_sensor_recovered', 'freezer', 201.0),
                  now_s=201.0)
    view.on_temperature('freezer', 202.0, -19.0, now_s=202.0)
    view.on_alert(temperature_alert('temperature_recovered', 'freezer', 202.0), now_s=202.0)
    assert states(view, 202.0) == {'dairy': 'no_reading', 'freezer': 'ok'}
    view.on_alert(temperature_alert('temperature_low', 'dairy', 203.0), now_s=203.0)
    assert next(r for r in view.snapshot(203.0)['fridges'] if r['fridge_id'] == 'dairy')[
        'alarm'] == 'low'
    # Other alerts, and temperature alerts for units the store file does not have, only list.
    assert view.on_alert({'kind': 'sensor_dead', 'refs': ['dairy'], 'stamp': 204.0}) \
        == [('alerts', list(view.alerts))]
    assert len(view.on_alert(temperature_alert('temperature_high', 'cellar', 205.0))) == 1
