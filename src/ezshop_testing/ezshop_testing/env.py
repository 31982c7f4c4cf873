"""The environment every ROS process of a test runs with."""

from __future__ import annotations

import os
import random

#: ROS_DOMAIN_ID values tests pick from (0 is left to users; <= 101 keeps ports valid).
DOMAIN_ID_RANGE = (10, 100)


def pick_domain_id(seed: int | None = None) -> int:
    """A domain id for one test session (random, so parallel sessions rarely meet)."""
    rng = random.Random(seed if seed is not None else (os.getpid() ^ int.from_bytes(
        os.urandom(4), 'little')))
    return rng.randint(*DOMAIN_ID_RANGE)


def ros_env(domain_id: int | None = None, **extra: str) -> dict[str, str]:
    """os.environ with LOCALHOST discovery and the given (or current) domain id."""
    env = dict(os.environ)
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    if domain_id is not None:
        env['ROS_DOMAIN_ID'] = str(domain_id)
    env['PYTHONUNBUFFERED'] = '1'
    env.update(extra)
    return env
