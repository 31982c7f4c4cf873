"""How far ahead of a node's clock an input's stamp may be. One message stamped in the future
(a sensor's clock gone wrong, a forged message) would otherwise make every later, correct
message look out of order to the cores that keep time order (door logic, lane filter, fusion's
frame buffer) and blind them for good. Stamps in the past are not bounded: late events are
normal (a decision seconds after the reach, an absent checkout stamped at the last sighting,
the history a restarted node is replayed) and each core already drops what is out of order
without harm. Plain Python."""

from __future__ import annotations

from dataclasses import dataclass

from ezshop_common.settings import setting


@dataclass(frozen=True)
class ClockSkewSettings:
    max_clock_skew_s: float = setting(
        10.0, "An input stamped further than this ahead of this node's clock (sim time "
        'honoured) is refused and counted (s)', 0.01, 3600.0, dynamic=True)


def ahead_by_ns(stamp_ns: int, now_ns: int, settings: ClockSkewSettings) -> int:
    """How far (ns) the stamp is beyond the allowed skew ahead of now; 0 = acceptable. A clock
    that has not started (sim time before the first /clock) accepts everything."""
    if now_ns <= 0:
        return 0
    excess = stamp_ns - now_ns - int(settings.max_clock_skew_s * 1e9)
    return max(0, excess)
