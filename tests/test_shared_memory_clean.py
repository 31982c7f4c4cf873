"""A graph starts without the Fast DDS shared memory of processes that died: the domain claim
runs `fastdds shm clean`, which removes a port whose lock nobody holds and keeps one a live
process holds."""

import fcntl
import os
from pathlib import Path

import pytest

from ezshop_testing.env import claimed_domain_id

SHM = Path('/dev/shm')


def port_files(port: int) -> list[Path]:
    """A Fast DDS port as it lies in /dev/shm: segment, lock and the mutex's semaphore."""
    name = f'fastdds_port{port}'
    return [SHM / name, SHM / f'{name}_el', SHM / f'sem.{name}_mutex']


@pytest.fixture
def ports():
    if not SHM.is_dir():
        pytest.skip('no /dev/shm here: Fast DDS keeps its shared memory elsewhere')
    # Five-digit port numbers no domain of ours uses (7400 + 250 * domain + ... < 33000).
    base = 60000 + os.getpid() % 2000 * 2
    dead, live = base, base + 1
    for path in port_files(dead) + port_files(live):
        path.write_bytes(b'\0' * 64)
    yield dead, live
    for path in port_files(dead) + port_files(live):
        path.unlink(missing_ok=True)


def test_claiming_a_domain_removes_dead_ports_and_keeps_live_ones(ports):
    dead, live = ports
    with open(port_files(live)[1], 'ab') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as the port's owner holds it
        with claimed_domain_id():
            pass
        assert [p.exists() for p in port_files(dead)] == [False, False, False]
        assert [p.exists() for p in port_files(live)] == [True, True, True]
