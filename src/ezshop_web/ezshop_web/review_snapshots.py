"""The review queue's pictures: for each held action, the frame of every shelf camera that
sees its lane, at the moment the hand came, with the faces drawn (face_node draws them). Kept
in memory only while the action is under review: deleted when staff settle it, when it leaves
the queue, or after the retention period. Plain Python, no rclpy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

#: (camera_id, (x, y, width, height) of the lane's reach zone in that camera's image)
Coverage = Callable[[str, str], list[tuple[str, tuple[int, int, int, int]]]]


@dataclass(frozen=True)
class SnapshotRequest:
    event_id: str
    camera_id: str
    stamp_s: float
    zone: tuple[int, int, int, int]


@dataclass(frozen=True)
class Snapshot:
    jpeg: bytes
    kept_at_s: float


class ReviewSnapshots:
    def __init__(self, coverage: Coverage, retention_s: float):
        self.coverage = coverage
        self.retention_s = retention_s
        self._kept: dict[str, dict[str, Snapshot]] = {}
        self._asked: set[tuple[str, str]] = set()  # asked once, kept or not: never again

    def wanted(self, actions: list[dict]) -> list[SnapshotRequest]:
        """The snapshots of these queued actions not asked for yet."""
        requests = []
        for action in actions:
            if not action['shelf_id']:
                continue
            for camera_id, zone in self.coverage(action['shelf_id'], action['lane_id']):
                key = (action['event_id'], camera_id)
                if key not in self._asked:
                    self._asked.add(key)
                    requests.append(SnapshotRequest(action['event_id'], camera_id,
                                                    action['stamp'], zone))
        return requests

    def keep(self, event_id: str, camera_id: str, jpeg: bytes, now_s: float) -> None:
        self._kept.setdefault(event_id, {})[camera_id] = Snapshot(jpeg, now_s)

    def get(self, event_id: str, camera_id: str) -> bytes | None:
        snapshot = self._kept.get(event_id, {}).get(camera_id)
        return snapshot.jpeg if snapshot else None

    def cameras(self, event_id: str) -> list[str]:
        return sorted(self._kept.get(event_id, {}))

    def forget(self, event_id: str) -> int:
        """The action was settled: its pictures go. Returns how many."""
        self._asked = {key for key in self._asked if key[0] != event_id}
        return len(self._kept.pop(event_id, {}))

    def prune(self, now_s: float, under_review: set[str] | None = None) -> int:
        """Delete what is past retention and, given the queue, what is no longer in it."""
        deleted = 0
        for event_id in list(self._kept):
            shots = self._kept[event_id]
            for camera_id in [c for c, s in shots.items()
                              if now_s - s.kept_at_s > self.retention_s]:
                del shots[camera_id]
                deleted += 1
            if under_review is not None and event_id not in under_review:
                deleted += self.forget(event_id)
            elif not shots:
                del self._kept[event_id]
        if under_review is not None:
            self._asked = {key for key in self._asked if key[0] in under_review}
        return deleted

    def __len__(self) -> int:
        return sum(len(shots) for shots in self._kept.values())
