"""A short, stamp-ordered past: at most one item per interval, nothing older than the
history behind the newest. Thread-safe (one thread adds, services read). Plain Python.

It holds a camera's recent frames (recent_frames: what a restarted face node catches up on)
and face_node's review frames (snapshots)."""

from __future__ import annotations

import bisect
import threading
from collections import deque
from typing import Generic, TypeVar

T = TypeVar('T')


class TimedRing(Generic[T]):
    """(stamp_ns, item) pairs, oldest first, one per `interval_ns` within `history_ns`."""

    def __init__(self, history_ns: int, interval_ns: int):
        self.history_ns = history_ns
        self.interval_ns = interval_ns
        self._kept: deque[tuple[int, T]] = deque()
        self._lock = threading.Lock()

    def add(self, stamp_ns: int, item: T) -> bool:
        """Keep the item if the newest kept one is at least an interval older; True if kept.
        A stamp behind the newest (a replayed bag, a restarted simulator) starts afresh."""
        if self.history_ns <= 0:
            return False
        with self._lock:
            if self._kept:
                newest = self._kept[-1][0]
                if stamp_ns < newest:
                    self._kept.clear()
                elif stamp_ns - newest < self.interval_ns:
                    return False
            self._kept.append((stamp_ns, item))
            while self._kept[0][0] < stamp_ns - self.history_ns:
                self._kept.popleft()
        return True

    def nearest(self, stamp_ns: int, max_offset_ns: int) -> tuple[int, T] | None:
        """The kept (stamp, item) nearest stamp_ns, no further than max_offset_ns, or None."""
        with self._lock:
            best = min(self._kept, key=lambda kept: abs(kept[0] - stamp_ns), default=None)
        if best is None or abs(best[0] - stamp_ns) > max_offset_ns:
            return None
        return best

    def after(self, stamp_ns: int, limit: int) -> tuple[list[tuple[int, T]], bool]:
        """The first `limit` kept (stamp, item) stamped strictly after stamp_ns, oldest first,
        and whether newer ones remain."""
        with self._lock:
            kept = list(self._kept)
        first = bisect.bisect_right(kept, stamp_ns, key=lambda pair: pair[0])
        page = kept[first:first + max(limit, 0)]
        return page, first + len(page) < len(kept)

    def __len__(self) -> int:
        return len(self._kept)
