"""The store's alert log throttle: per kind, so one kind's flood hides no other kind."""

from ezshop_store.alert_log import AlertLogThrottle


def test_each_kind_is_logged_at_most_once_per_period_and_no_kind_hides_another():
    throttle = AlertLogThrottle(0.5)
    assert throttle.due('unknown_person', 10.0)
    assert throttle.due('unidentified_exit_with_held_takes', 10.0)  # same moment, other kind
    assert not throttle.due('unknown_person', 10.2)
    assert not throttle.due('unknown_person', 10.49)
    assert throttle.due('unknown_person', 10.5)
    assert throttle.due('held_for_staff', 10.5)
    assert not throttle.due('unidentified_exit_with_held_takes', 10.3)
