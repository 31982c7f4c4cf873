"""A customer's face login over HTTP against a real store_node over DDS, with real photos:
their own cart and receipts only, the exit notice on their stream, and refusals."""

import json
import re
import time

import httpx
import pytest

from ezshop_vision.enrollment import Person, make_engine, person_embeddings

pytestmark = pytest.mark.timeout(180)
S = 1_000_000_000


@pytest.fixture(scope='module')
def engine():
    return make_engine()


def enrol(store, engine, folder, name, photos):
    embeddings, checks = person_embeddings(engine, Person(name, tuple(folder / p for p in photos)))
    assert len(embeddings), [c.reason for c in checks]
    return store.register(name, embeddings)


def face_client(store) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=store.url, timeout=60.0)
    page = client.get('/me')
    assert page.status_code == 200 and 'face-button' in page.text
    return client, re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)


def face_login(client, csrf, photo: bytes):
    return client.post('/me/face', content=photo,
                       headers={'X-CSRF-Token': csrf, 'Content-Type': 'image/jpeg'})


def test_a_customer_logs_in_with_their_face_and_sees_only_their_own_cart_and_exit_notice(
        store, engine, faces_root):
    dev = faces_root / 'dev'
    me = enrol(store, engine, dev / 'obama', 'Barack Face', ['1.jpg', '2.jpg', '3.jpg'])
    other = enrol(store, engine, dev / 'rose_leslie', 'Rose Other', ['1.jpg', '2.jpg'])
    t = store.slot()
    store.enter(me, t - S)
    store.enter(other, t - S)
    store.cart_action(me, 'cola', 1, t)
    store.cart_action(other, 'salad', 1, t)
    assert store.wait(lambda: any(c.customer_id == other and c.lines for c in store.carts), 10)

    client, csrf = face_client(store)
    answer = face_login(client, csrf, (dev / 'obama' / '4.jpg').read_bytes())
    assert answer.status_code == 200 and answer.json() == {'ok': True, 'name': 'Barack Face'}
    assert store.wait(lambda: (client.get('/me/state').json().get('cart') or {}).get('lines'),
                      10)
    state = client.get('/me/state').json()
    assert state['name'] == 'Barack Face'
    assert [(line['item_id'], line['quantity']) for line in state['cart']['lines']] \
        == [('cola', 1)]
    assert other not in json.dumps(state) and 'Rose Other' not in json.dumps(state)
    assert client.get('/api/state').status_code == 401  # a customer is not staff

    with client.stream('GET', '/me/stream') as stream:
        lines = stream.iter_lines()
        assert next(lines) == 'event: state'
        store.leave(me, store.slot())
        deadline = time.monotonic() + 20
        receipt = None
        event = None
        for line in lines:
            if line.startswith('event: '):
                event = line[7:]
            elif line.startswith('data: ') and event == 'receipt':
                receipt = json.loads(line[6:])
                break
            assert time.monotonic() < deadline
    assert receipt['customer_id'] == me and receipt['total_cents'] == 150
    # The login gave the session a new CSRF token (on the page it reloads to).
    assert client.post('/me/logout', data={'csrf': csrf}).status_code == 303
    assert client.get('/me/state').status_code == 200  # the old token logs nobody out
    page = client.get('/me')
    assert page.status_code == 200 and 'Barack Face' in page.text
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    assert client.post('/me/logout', data={'csrf': csrf}).status_code == 303
    assert client.get('/me/state').status_code == 401


def test_face_login_refuses_strangers_non_images_huge_uploads_and_missing_tokens(
        store, faces_root):
    client, csrf = face_client(store)
    stranger = face_login(client, csrf, (faces_root / 'dev' / 'bbt_raj' / '1.jpg').read_bytes())
    assert stranger.status_code == 401 and 'not recognised' in stranger.json()['message']
    group = face_login(client, csrf, next((faces_root / 'groups').glob('*.jpg')).read_bytes())
    assert group.status_code == 401 and 'faces found' in group.json()['message']
    text = face_login(client, csrf, b'this is not a photo')
    assert text.status_code == 400 and 'not an image' in text.json()['message']
    huge = face_login(client, csrf, b'\xff' * (6 * 1024 * 1024))
    assert huge.status_code == 413
    no_token = client.post('/me/face', content=b'x', headers={'Content-Type': 'image/jpeg'})
    assert no_token.status_code == 403
    assert client.get('/me/state').status_code == 401


def test_a_personal_link_from_staff_opens_that_shoppers_page_and_a_forged_one_does_not(store):
    customer_id = store.register('Lin Link')
    t = store.slot()
    store.enter(customer_id, t - S)
    staff = httpx.Client(base_url=store.url, timeout=10.0)
    csrf = re.search(r'name="csrf" value="([^"]+)"', staff.get('/login').text).group(1)
    staff.post('/login', data={'name': store.staff[0], 'password': store.staff[1],
                               'csrf': csrf})
    staff_csrf = re.search(r'name="csrf-token" content="([^"]+)"', staff.get('/').text).group(1)
    assert staff.post(f'/api/customers/{customer_id}/link').status_code == 403  # no token
    made = staff.post(f'/api/customers/{customer_id}/link',
                      headers={'X-CSRF-Token': staff_csrf}).json()
    assert made['ok'] and '/me/link/' in made['url']
    unknown = staff.post('/api/customers/c_nobody/link', headers={'X-CSRF-Token': staff_csrf})
    assert unknown.status_code == 404

    shopper = httpx.Client(base_url=store.url, timeout=10.0)
    path = made['url'].split(store.url, 1)[1]
    assert shopper.get(path).status_code == 303
    assert shopper.get('/me/state').json()['name'] == 'Lin Link'
    forged = httpx.Client(base_url=store.url, timeout=10.0)
    assert forged.get(path[:-3] + 'abc').status_code == 404
    assert forged.get('/me/state').status_code == 401
    for client in (staff, shopper, forged):
        client.close()
