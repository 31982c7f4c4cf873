"""web_node over HTTP against a real store_node over DDS: login, CSRF, rate limit, the live
state, the review queue and stock, all through the store's own topics and services."""

import json
import re
import time

import httpx
import pytest

pytestmark = pytest.mark.timeout(120)
S = 1_000_000_000


def test_pages_and_the_api_need_a_staff_login(store):
    with httpx.Client(base_url=store.url, timeout=10.0) as client:
        assert client.get('/').headers['location'] == '/login'
        assert client.get('/api/state').status_code == 401
        assert client.get('/api/review').status_code == 401
        assert client.post('/api/stock/cola', json={'stock': 1}).status_code == 401
        assert client.post('/api/review/x', json={'customer_id': ''}).status_code == 401


def test_the_session_cookie_is_httponly_and_samesite_strict(store):
    with httpx.Client(base_url=store.url, timeout=10.0) as client:
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get('/login').text).group(1)
        answer = client.post('/login', data={'name': store.staff[0], 'password': store.staff[1],
                                             'csrf': csrf})
        cookie = answer.headers['set-cookie'].lower()
    assert answer.status_code == 303
    assert 'httponly' in cookie and 'samesite=strict' in cookie


def test_a_write_without_the_session_csrf_token_changes_nothing(store):
    client, csrf = store.staff_session()
    before = {i['item_id']: i['stock'] for i in client.get('/api/state').json()['inventory']}
    assert client.post('/api/stock/cola', json={'stock': 3}).status_code == 403
    assert client.post('/api/stock/cola', json={'stock': 3},
                       headers={'X-CSRF-Token': csrf + 'x'}).status_code == 403
    time.sleep(0.5)
    after = {i['item_id']: i['stock'] for i in client.get('/api/state').json()['inventory']}
    assert after == before
    # The login form is protected too: a post without its token logs nobody in.
    with httpx.Client(base_url=store.url, timeout=10.0) as other:
        answer = other.post('/login', data={'name': store.staff[0], 'password': store.staff[1]})
        assert answer.status_code == 403 and other.get('/api/state').status_code == 401


def test_stock_set_from_the_console_reaches_the_store_and_comes_back_live(store):
    client, csrf = store.staff_session()
    answer = client.post('/api/stock/chips', json={'stock': 17},
                         headers={'X-CSRF-Token': csrf})
    assert answer.status_code == 200 and answer.json()['ok'], answer.text
    assert store.wait(lambda: {i['item_id']: i['stock'] for i in
                         client.get('/api/state').json()['inventory']}.get('chips') == 17, 10)
    bad = client.post('/api/stock/chips', json={'stock': -1}, headers={'X-CSRF-Token': csrf})
    assert bad.status_code == 400
    unknown = client.post('/api/stock/caviar', json={'stock': 1},
                          headers={'X-CSRF-Token': csrf})
    assert unknown.status_code == 409 and 'caviar' in unknown.json()['message']


def test_a_shopper_in_the_store_and_their_cart_change_reach_an_open_stream(store):
    client, _ = store.staff_session()
    events: list[tuple[str, object]] = []

    with client.stream('GET', '/api/stream') as stream:
        lines = stream.iter_lines()

        def next_event():
            name = None
            for line in lines:
                if line.startswith('event: '):
                    name = line[7:]
                elif line.startswith('data: ') and name:
                    return name, json.loads(line[6:])
            return None

        assert next_event()[0] == 'snapshot'
        customer_id = store.register('Ada Web')
        t = store.slot()
        store.enter(customer_id, t - S)
        store.cart_action(customer_id, 'water', 2, t)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            event = next_event()
            events.append(event)
            if event[0] == 'presence' and any(
                    p['customer_id'] == customer_id and p['lines'] for p in event[1]):
                break
    person = next(p for p in events[-1][1] if p['customer_id'] == customer_id)
    assert person['name'] == 'Ada Web' and person['opened_by'] == 'entrance'
    assert [(line['item_id'], line['quantity']) for line in person['lines']] == [('water', 2)]
    assert person['total_cents'] == 2 * 99



def test_staff_settle_a_held_pick_from_the_review_queue_exactly_once(store):
    customer_id, held = store.held_pick('Bea Queue', 'sandwich')
    client, csrf = store.staff_session()
    queue = client.get('/api/review').json()
    entry = next(a for a in queue['actions'] if a['event_id'] == held)
    assert entry['item_id'] == 'sandwich' and entry['quantity'] == 1
    assert entry['reason'] == 'unattributed'
    answer = client.post(f'/api/review/{held}', json={'customer_id': customer_id},
                         headers={'X-CSRF-Token': csrf})
    assert answer.status_code == 200 and answer.json()['ok'], answer.text
    assert store.wait(lambda: any(
        p['customer_id'] == customer_id and p['lines']
        for p in client.get('/api/state').json()['presence']), 10)
    again = client.post(f'/api/review/{held}', json={'customer_id': customer_id},
                        headers={'X-CSRF-Token': csrf})
    assert again.status_code == 409 and not again.json()['ok']
    assert held not in [a['event_id'] for a in client.get('/api/review').json()['actions']]
    assert store.wait(lambda: any(a.kind == 'held_action_settled' and held in a.refs
                            and store.staff[0] in a.message for a in store.alerts), 10)


def test_fridge_temperatures_and_a_temperature_alarm_reach_the_console(store):
    client, _ = store.staff_session()

    def unit(fridge_id):
        return next(u for u in client.get('/api/state').json()['fridges']
                    if u['fridge_id'] == fridge_id)
    before = unit('freezer')
    assert (before['name'], before['kind'], before['min_c'], before['max_c']) \
        == ('Ice cream freezer', 'freezer', -25.0, -15.0)
    store.temperature('freezer', -18.5)
    assert store.wait(lambda: unit('freezer')['value_c'] == -18.5, 10)
    shown = unit('freezer')
    assert shown['state'] == 'ok' and 0.0 <= shown['age_s'] < 5.0
    assert unit('dairy')['state'] == 'no_reading'  # nothing from its probe
    t = store.temperature('freezer', -9.2)
    assert store.wait(lambda: unit('freezer')['state'] == 'out_of_limits', 10)
    store.temperature_alert('temperature_high', 'freezer', t)
    assert store.wait(lambda: unit('freezer')['state'] == 'alarm', 10)
    assert unit('freezer')['state_label'] == 'ALARM' and unit('freezer')['alarm'] == 'high'
    assert any(a['kind'] == 'temperature_high' and a['refs'] == ['freezer']
               for a in client.get('/api/state').json()['alerts'])
    store.temperature_alert('temperature_recovered', 'freezer',
                            store.temperature('freezer', -19.0))
    assert store.wait(lambda: unit('freezer')['state'] == 'ok', 10)
    assert unit('freezer')['value_c'] == -19.0


def test_wrong_passwords_are_refused_and_then_rate_limited(store):
    with httpx.Client(base_url=store.url, timeout=10.0) as client:
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get('/login').text).group(1)
        for _ in range(store.login_attempts):
            wrong = client.post('/login', data={'name': 'mallory', 'password': 'guess guess',
                                                'csrf': csrf})
            assert wrong.status_code == 401 and 'Wrong name or password' in wrong.text
        limited = client.post('/login', data={'name': store.staff[0], 'password': store.staff[1],
                                              'csrf': csrf})
        assert limited.status_code == 429 and int(limited.headers['retry-after']) >= 1
        assert client.get('/api/state').status_code == 401
    time.sleep(store.login_window_s)
    store.staff_session()[0].close()
