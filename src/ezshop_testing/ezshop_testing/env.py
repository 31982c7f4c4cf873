"""The environment every ROS process of a test, bench or demo runs with, and the ROS domain it
claims so two of them never share one (two graphs on one domain talk to each other: a
benchmark was once spoiled by a test run that picked the same random domain)."""

from __future__ import annotations

import atexit
import contextlib
import os
import random
from collections.abc import Iterator

import domain_coordinator

from ezshop_testing.shared_memory import clean_dead_shared_memory

#: ROS_DOMAIN_ID values claimed automatically (0 is left to users; <= 101 keeps ports valid).
DOMAIN_ID_RANGE = (10, 100)


def pick_domain_id(seed: int | None = None) -> int:
    """A random domain id in DOMAIN_ID_RANGE (where a claim starts looking)."""
    rng = random.Random(seed if seed is not None else (os.getpid() ^ int.from_bytes(
        os.urandom(4), 'little')))
    return rng.randint(*DOMAIN_ID_RANGE)


@contextlib.contextmanager
def claimed_domain_id(wanted: int | None = None) -> Iterator[int]:
    """Hold a ROS_DOMAIN_ID for the duration, machine-wide, with ROS's domain_coordinator
    (one bound port per domain, as ament's isolated tests do): ``wanted`` exactly, or the
    first free one of DOMAIN_ID_RANGE from a random start. Every EZShop entry point that
    starts a graph (tests, benches, the demo) claims its domain here, so the Fast DDS shared
    memory of processes that died before is removed here too."""
    if wanted is None:
        low, high = DOMAIN_ID_RANGE
        start = pick_domain_id()
        order = iter([low + (start - low + i) % (high - low + 1) for i in range(high - low + 1)])

        def selector():
            return next(order, start)
    else:
        def selector():
            return wanted
    try:
        claim = domain_coordinator.domain_id(selector)
        domain_id = claim.__enter__()
    except RuntimeError:
        what = f'ROS_DOMAIN_ID={wanted} is' if wanted is not None else \
            f'every ROS_DOMAIN_ID in {DOMAIN_ID_RANGE} is'
        raise RuntimeError(f'{what} held by another EZShop test, bench or demo on this '
                           'machine (unset ROS_DOMAIN_ID to get a free one)') from None
    try:
        clean_dead_shared_memory()
        yield domain_id
    finally:
        claim.__exit__(None, None, None)


def requested_domain_id() -> int | None:
    """ROS_DOMAIN_ID from the environment if the user set one, else None."""
    value = os.environ.get('ROS_DOMAIN_ID', '').strip()
    return int(value) if value else None


_PROCESS_CLAIM = contextlib.ExitStack()
atexit.register(_PROCESS_CLAIM.close)


def claim_domain_for_this_process() -> int:
    """Claim ROS_DOMAIN_ID as set in the environment (to watch with rqt or rviz), else a free
    one, until this process exits, and put it in os.environ for the processes it starts."""
    domain_id = _PROCESS_CLAIM.enter_context(claimed_domain_id(requested_domain_id()))
    os.environ['ROS_DOMAIN_ID'] = str(domain_id)
    return domain_id


def ros_env(domain_id: int | None = None, **extra: str) -> dict[str, str]:
    """os.environ with LOCALHOST discovery and the given (or current) domain id."""
    env = dict(os.environ)
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    if domain_id is not None:
        env['ROS_DOMAIN_ID'] = str(domain_id)
    env['PYTHONUNBUFFERED'] = '1'
    env.update(extra)
    return env
