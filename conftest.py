"""Session-wide test setup: every ROS process of a test session stays on this machine, on a
ROS_DOMAIN_ID of its own, with the project's Fast DDS profile."""

import contextlib
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
#: ezshop_bringup's launch files and configuration, in the source tree.
BRINGUP_DIR = ROOT / 'src' / 'ezshop_bringup'
CONFIG_DIR = BRINGUP_DIR / 'config'
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
                          str(CONFIG_DIR / 'fastdds_localhost.xml'))
    # Logs of nodes under test go to a per-session folder, not the user's ~/.ros.
    os.environ.setdefault('ROS_LOG_DIR', f'/tmp/ezshop-test-logs/{os.getpid()}')
    # Property tests: the same examples on every run (a red CI is reproducible, never luck),
    # no example database in the checkout; a failure prints its example.
    from hypothesis import settings

    settings.register_profile('ezshop', derandomize=True, database=None, print_blob=True)
    settings.load_profile('ezshop')


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
def config_dir() -> Path:
    """ezshop_bringup/config: store.yaml and the nodes' parameter files."""
    return CONFIG_DIR


@pytest.fixture(scope='session')
def launch_dir() -> Path:
    """ezshop_bringup/launch: the launch files."""
    return BRINGUP_DIR / 'launch'


@pytest.fixture(scope='session')
def faces_root() -> Path:
    """The face photos folder: $EZSHOP_FACES, else the shipped photos (ezshop_common.paths);
    tests needing it skip with a reason if $EZSHOP_FACES names a folder without dev/."""
    from ezshop_common.paths import faces_root as _faces_root

    path = _faces_root()
    if not (path / 'dev').is_dir():
        pytest.skip(f'face photos not found at {path}/dev ($EZSHOP_FACES; unset it to use '
                    'the photos shipped with ezshop_common)')
    return path


@pytest.fixture(scope='session')
def faces_with():
    """Factory: the faces folder holding the given files ('groups/x.jpg'; $EZSHOP_FACES or the
    shipped photos first, then ../shared/faces); skips the test, saying where to get them, when
    none holds them."""
    from ezshop_common.paths import SHARED_FACES_ENV, shared_faces
    from ezshop_common.paths import faces_with as _faces_with

    def find(*relative: str) -> Path:
        root = _faces_with(*relative)
        if root is None:
            pytest.skip(f'needs {", ".join(relative)}: neither shipped nor in {shared_faces()} '
                        f'(put ../shared/faces beside the checkout or set {SHARED_FACES_ENV})')
        return root
    return find
