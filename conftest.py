"""Session-wide test setup: every ROS process of a test session stays on this machine, on a
ROS_DOMAIN_ID of its own, with the project's Fast DDS profile."""

import fcntl
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
_domain_lock = None


def _claim_domain_id() -> int:
    """Hold a lock file for a free domain id so parallel test sessions never share one."""
    global _domain_lock
    from ezshop_testing.env import DOMAIN_ID_RANGE, pick_domain_id

    first = pick_domain_id()
    low, high = DOMAIN_ID_RANGE
    span = high - low + 1
    for i in range(span):
        domain_id = low + (first - low + i) % span
        lock = open(f'/tmp/ezshop-ros-domain-{domain_id}.lock', 'w')
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        _domain_lock = lock
        return domain_id
    raise RuntimeError('no free ROS_DOMAIN_ID for this test session')


def pytest_configure(config):
    if 'AMENT_PREFIX_PATH' not in os.environ or 'EZSHOP_ROOT' not in os.environ:
        raise pytest.UsageError(
            'run the tests in the built environment: `make test`, or `scripts/run pytest ...`')
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    os.environ['ROS_DOMAIN_ID'] = str(_claim_domain_id())
    os.environ.setdefault('FASTDDS_DEFAULT_PROFILES_FILE',
                          str(ROOT / 'config' / 'fastdds_localhost.xml'))
    # Logs of nodes under test go to a per-session folder, not the user's ~/.ros.
    os.environ.setdefault('ROS_LOG_DIR', f'/tmp/ezshop-test-logs/{os.getpid()}')


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
