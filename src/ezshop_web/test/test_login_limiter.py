"""Failed logins are limited per account and per address, within a sliding window."""

from ezshop_web.login_limiter import LoginLimiter


def test_after_the_allowed_failures_tries_wait_until_the_oldest_ages_out():
    limiter = LoginLimiter(attempts=3, window_s=60.0)
    keys = ['name:alice', 'address:10.0.0.5']
    for t in (0.0, 10.0, 20.0):
        assert limiter.retry_after_s(keys, t) == 0.0
        limiter.failed(keys, t)
    assert limiter.retry_after_s(keys, 25.0) == 35.0
    assert limiter.retry_after_s(['name:alice', 'address:10.0.0.9'], 25.0) == 35.0
    assert limiter.retry_after_s(['name:bob', 'address:10.0.0.9'], 25.0) == 0.0
    assert limiter.retry_after_s(keys, 60.0) == 0.0


def test_a_success_clears_the_failures_of_its_keys():
    limiter = LoginLimiter(attempts=2, window_s=60.0)
    keys = ['name:alice', 'address:10.0.0.5']
    limiter.failed(keys, 0.0)
    limiter.succeeded(keys)
    limiter.failed(keys, 1.0)
    assert limiter.retry_after_s(keys, 2.0) == 0.0
