"""Failed-login rate limit: after ``attempts`` failures within ``window_s`` for one account or
one client address, further tries are refused until the oldest failure ages out. Plain
Python; the caller passes the time."""

from __future__ import annotations

from collections import defaultdict, deque


class LoginLimiter:
    def __init__(self, attempts: int, window_s: float):
        self.attempts = attempts
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures[key]
        while failures and now - failures[0] >= self.window_s:
            failures.popleft()
        return failures

    def retry_after_s(self, keys: list[str], now: float) -> float:
        """0 when a try is allowed for every key, else how long until it is."""
        wait = 0.0
        for key in keys:
            failures = self._recent(key, now)
            if len(failures) >= self.attempts:
                wait = max(wait, failures[0] + self.window_s - now)
        return wait

    def failed(self, keys: list[str], now: float) -> None:
        for key in keys:
            self._recent(key, now).append(now)

    def succeeded(self, keys: list[str]) -> None:
        for key in keys:
            self._failures.pop(key, None)
