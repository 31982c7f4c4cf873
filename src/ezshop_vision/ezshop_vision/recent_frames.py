"""A camera's recent past for a face node that restarted: a few frames a second of the last
seconds, kept as published (no copy, no encoding on the hot path) and JPEG-encoded only when
asked for, a page at a time. Plain Python (OpenCV), no rclpy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ezshop_common.settings import setting
from ezshop_vision.image_conversion import encode_jpeg
from ezshop_vision.timed_ring import TimedRing

#: Quality of the frames served: high enough that recognition does not notice.
JPEG_QUALITY = 92
#: At most this many frames in one answer (about 1 MB of JPEG at 640x480; a page is encoded in
#: the camera's executor, so it stays short).
MAX_PAGE = 10


@dataclass(frozen=True)
class RecentFramesSettings:
    """How much of its recent past a camera keeps for a face node that restarts."""

    recent_frames_s: float = setting(
        15.0, 'How far back cameras/<id>/recent_frames reaches (s; 0 = keep none). Must cover '
        "a face node's restart (respawn delay + start-up): face_node catches up on it",
        0.0, 120.0)
    recent_frames_interval_s: float = setting(
        0.2, 'Keep at most one frame this often for recent_frames (s)', 0.02, 10.0)


@dataclass(frozen=True)
class EncodedFrame:
    stamp_ns: int
    jpeg: bytes


class RecentFrames:
    """One camera's kept BGR frames; thread-safe."""

    def __init__(self, settings: RecentFramesSettings):
        self._ring: TimedRing[np.ndarray] = TimedRing(
            int(settings.recent_frames_s * 1e9), int(settings.recent_frames_interval_s * 1e9))

    def add(self, stamp_ns: int, bgr: np.ndarray) -> bool:
        """Keep the frame (the caller no longer changes it) if one is due."""
        return self._ring.add(stamp_ns, bgr)

    def page(self, after_ns: int, max_frames: int) -> tuple[list[EncodedFrame], bool]:
        """JPEGs of the first max_frames (at most MAX_PAGE) kept frames stamped after after_ns,
        oldest first, and whether newer ones remain."""
        kept, more = self._ring.after(after_ns, min(max_frames, MAX_PAGE))
        return [EncodedFrame(stamp, encode_jpeg(bgr, JPEG_QUALITY)) for stamp, bgr in kept], more

    def __len__(self) -> int:
        return len(self._ring)


@dataclass(frozen=True)
class CatchUpSettings:
    """What a face node does on start about the frames its cameras kept (recent_frames)."""

    catch_up_s: float = setting(
        10.0, 'On start, first process what each camera kept of this many seconds before '
        '(cameras/<id>/recent_frames), oldest first, then the live stream: a reach or a door '
        'pass while the node was restarting is still seen (s; 0 = live only)', 0.0, 120.0)
    catch_up_wait_s: float = setting(
        1.0, "On start, wait this long for a camera's recent_frames service (none: live at "
        'once) and for the gallery (none: catch up without names) (s)', 0.0, 60.0)


#: A catch-up that has not reached the live stream after this many times catch_up_s (the
#: node cannot process faster than the camera publishes) goes live, skipping the rest.
CATCH_UP_TIME_FACTOR = 3.0
#: Caught up: the camera kept no more than this many frames newer than the last fetched.
CAUGHT_UP_FRAMES = 2
