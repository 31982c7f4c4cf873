"""A camera's recent frames with the faces found in them, kept a short while so the review
queue can show staff who stood at a shelf when a hand came (face_node's get_snapshot).
Frames are kept as they are (no copy, no encoding on the hot path) and only a few per
second; one is drawn and JPEG-encoded only when asked for. Plain Python, no rclpy."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ezshop_common.settings import setting
from ezshop_vision.annotate import annotate
from ezshop_vision.image_conversion import encode_jpeg
from ezshop_vision.timed_ring import TimedRing

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
        self._ring: TimedRing[KeptFrame] = TimedRing(
            int(settings.snapshot_history_s * 1e9), int(settings.snapshot_interval_s * 1e9))

    def add(self, stamp_ns: int, rgb: np.ndarray, faces) -> bool:
        """Keep this frame if the last kept one is old enough; drop what is past history."""
        return self._ring.add(stamp_ns, KeptFrame(stamp_ns, rgb, tuple(faces)))

    def nearest(self, stamp_ns: int) -> KeptFrame | None:
        """The kept frame nearest stamp_ns, within snapshot_max_offset_s, or None."""
        kept = self._ring.nearest(stamp_ns, int(self.settings.snapshot_max_offset_s * 1e9))
        return None if kept is None else kept[1]

    def __len__(self) -> int:
        return len(self._ring)


def render_snapshot(frame: KeptFrame, names: dict[str, str],
                    highlight: tuple[int, int, int, int] | None = None) -> bytes:
    """JPEG of the frame with its faces drawn and `highlight` (x, y, w, h) outlined."""
    bgr = annotate(np.ascontiguousarray(frame.rgb[:, :, ::-1]), frame.faces, names)
    if highlight is not None and highlight[2] > 0 and highlight[3] > 0:
        x, y, w, h = highlight
        cv2.rectangle(bgr, (x, y), (x + w, y + h), HIGHLIGHT_COLOUR, 2)
    return encode_jpeg(bgr, JPEG_QUALITY)
