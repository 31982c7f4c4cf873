"""The store's log throttle: per kind, so one kind's flood hides no other kind."""

import pytest

from ezshop_store.log_throttle import LogThrottle


def test_each_kind_is_logged_at_most_once_per_period_and_no_kind_hides_another():
    throttle = LogThrottle(0.5)
    assert throttle.due('unknown_person', 10.0)
    assert throttle.due('unidentified_exit_with_held_takes', 10.0)  # same moment, other kind
    assert not throttle.due('unknown_person', 10.2)
    assert not throttle.due('unknown_person', 10.49)
    assert throttle.due('unknown_person', 10.5)
    assert throttle.due('held_for_staff', 10.5)
    assert not throttle.due('unidentified_exit_with_held_takes', 10.3)


def test_a_burst_of_one_kind_logs_that_many_lines_per_period():
    throttle = LogThrottle(1.0, burst=3)
    assert [throttle.due('late_attribution', 5.0) for _ in range(5)] == \
        [True, True, True, False, False]
    assert throttle.due('duplicate', 5.1)  # another kind is not held back by the burst
    assert not throttle.due('late_attribution', 5.9)
    assert throttle.due('late_attribution', 6.0)  # the first line of the burst is a period old
    assert throttle.due('late_attribution', 6.0)
    assert throttle.due('late_attribution', 6.0)
    assert not throttle.due('late_attribution', 6.0)


def test_a_burst_below_one_is_refused():
    with pytest.raises(ValueError):
        LogThrottle(1.0, burst=0)
