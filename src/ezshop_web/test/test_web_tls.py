"""The console over HTTPS (tls_certfile / tls_keyfile): staff log in over TLS with a real
certificate, the session cookie is Secure, plain HTTP gets no page; half a TLS configuration
is refused at start."""

import re
import subprocess

import httpx
import pytest
from argon2 import PasswordHasher
from rclpy.parameter import Parameter

from ezshop_web.staff_accounts import StaffAccounts
from ezshop_web.web_node import WebNode

STAFF = ('alice', 'correct horse battery')


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for 127.0.0.1 (openssl, as an operator would make one)."""
    cert, key = tmp_path / 'console.crt', tmp_path / 'console.key'
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
                    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
                    '-keyout', str(key), '-out', str(cert)], check=True, capture_output=True)
    return cert, key


def _web(ros, tmp_path, config_dir, *tls):
    accounts = StaffAccounts(tmp_path / 'staff.json', PasswordHasher(
        time_cost=1, memory_cost=8192, parallelism=1))
    accounts.set_password(*STAFF)
    return ros.add(WebNode(context=ros.context, parameter_overrides=[
        Parameter('port', value=0), Parameter('accounts_file', value=str(accounts.path)),
        Parameter('store_file', value=str(config_dir / 'store.yaml')),
        *[Parameter(name, value=str(value)) for name, value in zip(
            ('tls_certfile', 'tls_keyfile'), tls, strict=False)]]))


def test_staff_log_in_over_https_with_a_secure_cookie(ros, tmp_path, config_dir, certificate):
    web = _web(ros, tmp_path, config_dir, *certificate)
    assert web.url.startswith('https://127.0.0.1:')
    with httpx.Client(base_url=web.url, verify=str(certificate[0]), timeout=10.0) as client:
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get('/login').text).group(1)
        answer = client.post('/login', data={'name': STAFF[0], 'password': STAFF[1],
                                             'csrf': csrf})
        assert answer.status_code == 303, answer.text
        cookie = answer.headers['set-cookie'].lower()
        assert 'secure' in cookie and 'httponly' in cookie
        assert client.get('/api/state').status_code == 200
    # The certificate is checked: a client that does not trust it gets nothing.
    with pytest.raises(httpx.ConnectError):
        httpx.get(web.url + 'login', timeout=10.0)
    # Plain HTTP on the TLS port gets no page.
    with pytest.raises(httpx.HTTPError):
        httpx.get(web.url.replace('https://', 'http://') + 'login', timeout=10.0)


def test_half_a_tls_configuration_is_refused(ros, tmp_path, config_dir, certificate):
    with pytest.raises(ValueError, match='go together'):
        _web(ros, tmp_path, config_dir, certificate[0])
    with pytest.raises(ValueError, match='no such file'):
        _web(ros, tmp_path, config_dir, tmp_path / 'missing.crt', certificate[1])
