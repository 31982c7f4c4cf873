"""builtin_interfaces/Time <-> integer nanoseconds: the one stamp conversion of the graph.

Cores count time in integer nanoseconds (no float rounding in stamps copied from input to
output); seconds are for logs and the vision core's tracker, derived from nanoseconds.
"""

from __future__ import annotations

from builtin_interfaces.msg import Time

#: Nanoseconds in a second.
NS_PER_S = 1_000_000_000


def stamp_ns(stamp: Time) -> int:
    """A stamp in integer nanoseconds."""
    return stamp.sec * NS_PER_S + stamp.nanosec


def stamp_seconds(stamp: Time) -> float:
    """A stamp in seconds (float: for logs and second-based cores only)."""
    return stamp_ns(stamp) / NS_PER_S


def time_from_ns(ns: int) -> Time:
    """The stamp of an integer nanosecond time (>= 0)."""
    return Time(sec=ns // NS_PER_S, nanosec=ns % NS_PER_S)
