"""A camera's recent frames with the faces found in them, kept a short while so the review
queue can show staff who stood at a shelf when a hand came (face_node's get_snapshot).
Frames are kept as they are (no copy, no encoding on the hot path) and only a few per
second; one is drawn and JPEG-encoded only when asked for. Plain Python, no rclpy."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from ezshop_common.settings import setting
from ezshop_vision.annotate import annotate

#: Colour of the outlined region (BGR): the lane's reach zone.
HIGHLIGHT_COLOUR = (255, 80, 200)
JPEG_QUALITY = 85


@dataclass(frozen=True)
class SnapshotSettings:
    """How much of each camera's recent past face_node keeps for review snapshots."""

    snapshot_history_s: float = setting(
        15.0, 'How far back review snapshots reach (s; 0 = keep none). Must cover the time '
        'from a shelf event to its cart action being held (fusion window + decision wait)',
        0.0, 120.0)
    snapshot_interval_s: float = setting(
        0.5, 'Keep at most one frame per camera this often for review snapshots (s)',
        0.05, 10.0)
    snapshot_max_offset_s: float = setting(
        1.0, 'A snapshot must be this close to the moment asked for (s)', 0.05, 10.0)


@dataclass(frozen=True)
class KeptFrame:
    stamp_ns: int
    rgb: np.ndarray
    faces: tuple  # FaceResult-like: box, track_id, customer_id


class FrameHistory:
    """One camera's kept frames, oldest first; thread-safe (workers add, the service reads)."""

    def __init__(self, settings: SnapshotSettings):
        self.settings = settings
        self._frames: deque[KeptFrame] = deque()
        self._lock = threading.Lock()

    def add(self, stamp_ns: int, rgb: np.ndarray, faces) -> bool:
        """Keep this frame if the last kept one is old enough; drop what is past history."""
        history_ns = int(self.settings.snapshot_history_s * 1e9)
        if history_ns <= 0:
            return False
        with self._lock:
            if self._frames and \
                    stamp_ns - self._frames[-1].stamp_ns < self.settings.snapshot_interval_s * 1e9:
                if stamp_ns >= self._frames[-1].stamp_ns:
                    return False
                self._frames.clear()  # time went back (a replayed bag, a restarted sim)
            self._frames.append(KeptFrame(stamp_ns, rgb, tuple(faces)))
            while self._frames and self._frames[0].stamp_ns < stamp_ns - history_ns:
                self._frames.popleft()
        return True

    def nearest(self, stamp_ns: int) -> KeptFrame | None:
        """The kept frame nearest stamp_ns, within snapshot_max_offset_s, or None."""
        with self._lock:
            best = min(self._frames, key=lambda f: abs(f.stamp_ns - stamp_ns), default=None)
        max_offset_ns = self.settings.snapshot_max_offset_s * 1e9
        if best is None or abs(best.stamp_ns - stamp_ns) > max_offset_ns:
            return None
        return best

    def __len__(self) -> int:
        return len(self._frames)


def render_snapshot(frame: KeptFrame, names: dict[str, str],
                    highlight: tuple[int, int, int, int] | None = None) -> bytes:
    """JPEG of the frame with its faces drawn and `highlight` (x, y, w, h) outlined."""
    bgr = annotate(np.ascontiguousarray(frame.rgb[:, :, ::-1]), frame.faces, names)
    if highlight is not None and highlight[2] > 0 and highlight[3] > 0:
        x, y, w, h = highlight
        cv2.rectangle(bgr, (x, y), (x + w, y + h), HIGHLIGHT_COLOUR, 2)
    ok, jpeg = cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError('the frame could not be encoded')
    return jpeg.tobytes()
