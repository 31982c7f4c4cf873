"""Which lines a node writes to its log: per kind (an alert's kind, or a log line's), at most
``burst`` lines per period, so a flood of one kind (a held pick per shelf event in a crowd,
duplicates after a restart) neither fills the log nor hides another kind of the same moment.
A throttle shared by every kind dropped an unidentified person leaving, logged in the same
batch as the door's unknown person. Only the log is throttled: every alert is still
published and stored, every count kept."""

from __future__ import annotations

from collections import deque


class LogThrottle:
    """`due(kind, now_s)`: whether a line of this kind is logged now; each kind may log
    ``burst`` lines in any ``period_s`` seconds."""

    def __init__(self, period_s: float, burst: int = 1):
        if burst < 1:
            raise ValueError(f'burst must be at least 1, not {burst}')
        self.period_s = period_s
        self.burst = burst
        self._logged_at: dict[str, deque[float]] = {}

    def due(self, kind: str, now_s: float) -> bool:
        logged = self._logged_at.setdefault(kind, deque())
        while logged and now_s - logged[0] >= self.period_s:
            logged.popleft()
        if len(logged) >= self.burst:
            return False
        logged.append(now_s)
        return True
