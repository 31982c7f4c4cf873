"""Enrolment, forgetting and alert acknowledgement over HTTP against a real store_node over
DDS, with real face photos: what staff do, what is refused and why, and that a refusal changes
nothing in the store."""

import re

import httpx
import pytest

pytestmark = pytest.mark.timeout(240)


def enrol(client, csrf, name, photos, consent=True):
    data = {'name': name, **({'consent': 'yes'} if consent else {})}
    files = [('photos', (path.name, path.read_bytes(), 'image/jpeg')) for path in photos]
    return client.post('/api/customers', data=data, files=files,
                       headers={'X-CSRF-Token': csrf})


def gallery_names(client) -> dict[str, str]:
    return {c['customer_id']: c['name'] for c in client.get('/api/state').json()['customers']}


def test_staff_enrol_a_shopper_from_photos_who_can_then_log_in_and_be_forgotten(
        store, faces_root):
    client, csrf = store.staff_session()
    amy = faces_root / 'dev' / 'bbt_amy'
    answer = enrol(client, csrf, 'Amy Upload', [amy / '1.jpg', amy / '2.jpg', amy / '3.jpg'])
    assert answer.status_code == 200, answer.text
    made = answer.json()
    assert made['ok'] and made['photos_used'] >= 2 and '/me/link/' in made['url']
    customer_id = made['customer_id']
    assert store.wait(lambda: gallery_names(client).get(customer_id) == 'Amy Upload', 10)

    # The personal link shown once opens her page; so does her face.
    shopper = httpx.Client(base_url=store.url, timeout=60.0)
    assert shopper.get(made['url'].replace(store.url, '')).status_code == 303
    assert shopper.get('/me/state').json()['name'] == 'Amy Upload'
    face = httpx.Client(base_url=store.url, timeout=60.0)
    me_csrf = re.search(r'name="csrf-token" content="([^"]+)"', face.get('/me').text).group(1)
    login = face.post('/me/face', content=(amy / '4.jpg').read_bytes(),
                      headers={'X-CSRF-Token': me_csrf, 'Content-Type': 'image/jpeg'})
    assert login.status_code == 200 and login.json()['name'] == 'Amy Upload'

    # The same face again is another account nobody could ever be identified as: refused.
    again = enrol(client, csrf, 'Amy Again', [amy / '5.jpg', amy / '4.jpg'])
    assert again.status_code == 409 and again.json()['already_enrolled'] == customer_id

    assert client.post(f'/api/customers/{customer_id}/forget').status_code == 403  # no token
    gone = client.post(f'/api/customers/{customer_id}/forget', headers={'X-CSRF-Token': csrf})
    assert gone.status_code == 200 and gone.json()['ok']
    assert store.wait(lambda: customer_id not in gallery_names(client), 10)
    assert shopper.get('/me/state').status_code == 401  # her sessions end with her data
    assert client.post(f'/api/customers/{customer_id}/forget',
                       headers={'X-CSRF-Token': csrf}).status_code == 404


def test_bad_enrolments_are_refused_with_the_reason_and_change_nothing(store, faces_root):
    client, csrf = store.staff_session()
    dev = faces_root / 'dev'
    before = gallery_names(client)

    no_consent = enrol(client, csrf, 'Bo', [dev / 'biden' / '1.jpg'], consent=False)
    assert no_consent.status_code == 400 and 'consent' in no_consent.json()['message']
    no_name = enrol(client, csrf, '  ', [dev / 'biden' / '1.jpg'])
    assert no_name.status_code == 400 and 'name' in no_name.json()['message']
    two = enrol(client, csrf, 'Bo', [dev / 'biden' / '1.jpg', dev / 'obama' / '1.jpg'])
    assert two.status_code == 400 and 'one person' in two.json()['message']
    text = client.post('/api/customers', data={'name': 'Bo', 'consent': 'yes'},
                       files=[('photos', ('cv.pdf', b'%PDF-1.4 not a face', 'image/jpeg'))],
                       headers={'X-CSRF-Token': csrf})
    assert text.status_code == 400 and 'not an image' in text.json()['refused'][0]['reason']
    group = enrol(client, csrf, 'Bo', [next((faces_root / 'groups').glob('*.jpg'))])
    assert group.status_code == 400 and 'faces' in group.json()['refused'][0]['reason']
    huge = client.post('/api/customers', data={'name': 'Bo', 'consent': 'yes'},
                       files=[('photos', ('big.jpg', b'\xff' * (60 * 1024 * 1024),
                                          'image/jpeg'))],
                       headers={'X-CSRF-Token': csrf})
    assert huge.status_code == 413
    no_token = client.post('/api/customers', data={'name': 'Bo', 'consent': 'yes'},
                           files=[('photos', ('1.jpg', (dev / 'biden' / '1.jpg').read_bytes(),
                                              'image/jpeg'))])
    assert no_token.status_code == 403
    with httpx.Client(base_url=store.url, timeout=10.0) as anonymous:
        assert anonymous.post('/api/customers', data={'name': 'Bo'}).status_code == 401
    assert gallery_names(client) == before

    # The refused photos are counted for the diagnostics.
    assert store.web.refused_photos >= 2


def test_staff_acknowledge_alerts_one_by_one_or_all(store):
    client, csrf = store.staff_session()
    store.held_pick('Al Alert', 'cola')
    alerts = client.get('/api/state').json()['alerts']
    first = alerts[0]
    assert first['acknowledged_by'] == ''
    assert client.post(f'/api/alerts/{first["alert_id"]}/ack').status_code == 403
    done = client.post(f'/api/alerts/{first["alert_id"]}/ack', headers={'X-CSRF-Token': csrf})
    assert done.json() == {'ok': True, 'acknowledged': 1}
    twice = client.post(f'/api/alerts/{first["alert_id"]}/ack', headers={'X-CSRF-Token': csrf})
    assert twice.json() == {'ok': True, 'acknowledged': 0}
    after = {a['alert_id']: a for a in client.get('/api/state').json()['alerts']}
    assert after[first['alert_id']]['acknowledged_by'] == store.staff[0]
    assert client.post('/api/alerts/999999/ack',
                       headers={'X-CSRF-Token': csrf}).status_code == 404
    everything = client.post('/api/alerts/all/ack', headers={'X-CSRF-Token': csrf}).json()
    assert everything['acknowledged'] >= len(alerts) - 1  # and any alert since
    assert all(a['acknowledged_by'] for a in client.get('/api/state').json()['alerts'])
