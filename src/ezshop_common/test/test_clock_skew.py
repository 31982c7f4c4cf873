"""Stamps ahead of the node's clock (plain Python)."""

from ezshop_common.clock_skew import ClockSkewSettings, ahead_by_ns

S = 1_000_000_000


def test_only_stamps_beyond_the_skew_ahead_of_the_clock_are_refused():
    settings = ClockSkewSettings(max_clock_skew_s=2.0)  # (the default is 10 s)
    now = 1_000 * S
    assert ahead_by_ns(now + 2 * S, now, settings) == 0
    assert ahead_by_ns(now + 5 * S, now, settings) == 3 * S
    assert ahead_by_ns(now - 3600 * S, now, settings) == 0  # late is normal: not bounded
    assert ahead_by_ns(now + 3600 * S, 0, settings) == 0    # sim clock not started yet
