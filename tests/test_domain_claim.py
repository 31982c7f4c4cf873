"""Tests, benches and the demo claim their ROS domain machine-wide (domain_coordinator), so two
graphs never share one: a bench was once spoiled by a test run on the same random domain."""

import os
import subprocess
import sys

import pytest

from ezshop_testing.env import claimed_domain_id


def test_this_session_holds_its_domain():
    held = int(os.environ['ROS_DOMAIN_ID'])
    with pytest.raises(RuntimeError, match=f'ROS_DOMAIN_ID={held} is held by another'):
        with claimed_domain_id(held):
            pass


def test_claims_never_share_a_domain_and_end_with_their_scope():
    with claimed_domain_id() as first, claimed_domain_id() as second:
        assert first != second
        assert str(first) != os.environ['ROS_DOMAIN_ID']
    with claimed_domain_id(first) as again:  # released: free to claim again
        assert again == first


def with_domain(*command, domain=''):
    env = {**os.environ, 'ROS_DOMAIN_ID': domain}
    return subprocess.run([sys.executable, '-m', 'ezshop_testing.with_domain', *command],
                          env=env, capture_output=True, text=True, timeout=30)


def test_with_domain_runs_the_command_on_a_claimed_domain_and_returns_its_code():
    done = with_domain(sys.executable, '-c',
                       'import os, sys; print("domain", os.environ["ROS_DOMAIN_ID"]); sys.exit(3)')
    assert done.returncode == 3, done.stderr
    claimed = done.stdout.split('ROS_DOMAIN_ID=')[1].split()[0]
    assert f'domain {claimed}' in done.stdout
    assert claimed != os.environ['ROS_DOMAIN_ID']


def test_with_domain_refuses_a_domain_someone_holds():
    done = with_domain('true', domain=os.environ['ROS_DOMAIN_ID'])
    assert done.returncode == 1
    assert 'held by another EZShop test, bench or demo' in done.stderr
