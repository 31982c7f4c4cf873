"""Frame sources for camera_node: a device index, a video file, a stream URL or a folder of
images; plus the reconnect backoff. Plain Python (OpenCV), no rclpy."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ezshop_common.settings import setting
from ezshop_vision.face_photos import PHOTO_SUFFIXES, list_photos

KIND_DEVICE = 'device'
KIND_FILE = 'file'
KIND_FOLDER = 'folder'
KIND_URL = 'url'


def source_kind(source: str) -> str:
    """'device' for '0', '1', ...; 'url' for scheme://...; 'folder' or 'file' for paths."""
    text = source.strip()
    if text.isdigit():
        return KIND_DEVICE
    if '://' in text:
        return KIND_URL
    return KIND_FOLDER if Path(text).is_dir() else KIND_FILE


@dataclass(frozen=True)
class CameraSettings:
    """How a camera publishes its source. The rate and the reconnect delays are read on every
    frame / failure, so they may change at run time; the output size and the playback mode are
    fixed at start (camera_info and the consumers expect one size)."""

    fps: float = setting(15.0, 'Frames published per second', 0.1, 120.0, dynamic=True)
    width: int = setting(640, 'Output width in pixels (0 = as the source)', 0, 8192)
    height: int = setting(480, 'Output height in pixels (0 = as the source)', 0, 8192)
    loop: bool = setting(True, 'Start a video file or image folder again at its end')
    start_when_subscribed: bool = setting(
        False, 'Read no frame until image_raw has a subscriber (plays a clip or folder from '
        'its start for a late face_node)')
    reconnect_initial_s: float = setting(
        0.5, 'First reconnect delay (s); doubles after each failure', 0.01, 60.0, dynamic=True)
    reconnect_max_s: float = setting(10.0, 'Longest reconnect delay (s)', 0.01, 600.0,
                                     dynamic=True)


class SourceError(RuntimeError):
    """The source cannot be opened or stopped delivering frames."""


class FrameSource:
    """Opens a source and reads BGR frames; read() raises SourceError on failure and returns
    None at the end of a non-looping file or folder."""

    def __init__(self, source: str, loop: bool = True):
        self.source = source
        self.kind = source_kind(source)
        self.loop = loop
        self._capture = None
        self._photos: list[Path] = []
        self._next = 0

    @property
    def is_open(self) -> bool:
        return self._capture is not None or bool(self._photos)

    def open(self) -> None:
        self.close()
        self.kind = source_kind(self.source)  # a folder may appear after start-up
        if self.kind == KIND_FOLDER:
            folder = Path(self.source)
            photos = list_photos(folder) if folder.is_dir() else []
            if not photos:
                raise SourceError(f'no images ({", ".join(PHOTO_SUFFIXES)}) in {folder}')
            self._photos, self._next = photos, 0
            return
        if self.kind == KIND_FILE and not Path(self.source).is_file():
            raise SourceError(f'no such video file: {self.source}')
        target = int(self.source) if self.kind == KIND_DEVICE else self.source
        capture = cv2.VideoCapture(target)
        if not capture.isOpened():
            capture.release()
            raise SourceError(f'cannot open {self.kind} {self.source}')
        self._capture = capture

    def read(self) -> np.ndarray | None:
        if not self.is_open:
            raise SourceError('source is not open')
        if self._photos:
            if self._next >= len(self._photos):
                if not self.loop:
                    return None
                self._next = 0
            path = self._photos[self._next]
            self._next += 1
            frame = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if frame is None:
                raise SourceError(f'cannot read image {path}')
            return frame
        ok, frame = self._capture.read()
        if not ok and self.kind == KIND_FILE:
            if not self.loop:
                return None
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._capture.read()
        if not ok or frame is None:
            raise SourceError(f'{self.kind} {self.source} delivered no frame')
        if frame.ndim == 2:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        return frame

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
        self._capture = None
        self._photos = []


class Backoff:
    """Exponential reconnect delays: initial, 2x, 4x, ... capped at maximum."""

    def __init__(self, initial_s: float = 0.5, maximum_s: float = 10.0):
        self.initial_s = initial_s
        self.maximum_s = maximum_s
        self._delay = initial_s

    def next_delay(self) -> float:
        delay = min(self._delay, self.maximum_s)  # maximum_s may have been lowered meanwhile
        self._delay = min(delay * 2.0, self.maximum_s)
        return delay

    def reset(self) -> None:
        self._delay = self.initial_s


def fit_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize to width x height when both are > 0 (else unchanged)."""
    if width > 0 and height > 0 and (frame.shape[1], frame.shape[0]) != (width, height):
        return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
    return frame
