"""Which warnings a node writes to its log: each alert kind at most once per period, so a
flood of one kind (a held pick per shelf event in a crowd) neither fills the log nor hides
another kind raised at the same moment (an unidentified person leaving, logged in the same
batch as the door's unknown person, was dropped by a throttle shared by every kind)."""

from __future__ import annotations


class AlertLogThrottle:
    """`due(kind, now_s)`: whether an alert of this kind is logged now (and, if so, the next
    one of its kind waits `period_s`). Every alert is still published and stored."""

    def __init__(self, period_s: float):
        self.period_s = period_s
        self._logged_at: dict[str, float] = {}

    def due(self, kind: str, now_s: float) -> bool:
        last = self._logged_at.get(kind)
        if last is not None and now_s - last < self.period_s:
            return False
        self._logged_at[kind] = now_s
        return True
