"""Session-wide test setup: every ROS process of a test session stays on this machine, on a
ROS_DOMAIN_ID of its own, with the project's Fast DDS profile."""

import contextlib
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
_domain_claim = contextlib.ExitStack()


def pytest_configure(config):
    if 'AMENT_PREFIX_PATH' not in os.environ or 'EZSHOP_ROOT' not in os.environ:
        raise pytest.UsageError(
            'run the tests in the built environment: `make test`, or `scripts/run pytest ...`')
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    from ezshop_testing.env import claimed_domain_id

    # A domain of the session's own, held machine-wide until it ends: benches, the demo and
    # other test sessions claim theirs the same way and never share it.
    os.environ['ROS_DOMAIN_ID'] = str(_domain_claim.enter_context(claimed_domain_id()))
    os.environ.setdefault('FASTDDS_DEFAULT_PROFILES_FILE',
                          str(ROOT / 'config' / 'fastdds_localhost.xml'))
    # Logs of nodes under test go to a per-session folder, not the user's ~/.ros.
    os.environ.setdefault('ROS_LOG_DIR', f'/tmp/ezshop-test-logs/{os.getpid()}')


def pytest_unconfigure(config):
    _domain_claim.close()


def pytest_report_header(config):
    return f"ROS_DOMAIN_ID={os.environ.get('ROS_DOMAIN_ID')} (LOCALHOST discovery)"


@pytest.fixture
def ros():
    """A private rclpy context + executor for one test (ezshop_testing.ros.RosHarness)."""
    from ezshop_testing.ros import RosHarness

    harness = RosHarness()
    yield harness
    harness.close()


@pytest.fixture(scope='session')
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope='session')
def faces_root() -> Path:
    """The face photos folder ($EZSHOP_FACES); tests needing it skip with a reason if absent."""
    from ezshop_common.paths import faces_root as _faces_root

    path = _faces_root()
    if not (path / 'dev').is_dir():
        pytest.skip(f'face photos not found at {path} (set EZSHOP_FACES)')
    return path
