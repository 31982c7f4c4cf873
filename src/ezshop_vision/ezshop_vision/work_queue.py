"""Which camera a free worker thread processes next. Plain Python, no rclpy.

face_node's workers share every camera: a camera with a frame (or a fetched past frame) waiting
is handed to the first free worker, the one waiting longest first, and to one worker at a time
(its pipeline keeps state from frame to frame). So a crowd at one shelf gets every free thread
while the doors are quiet, and no camera waits behind another's backlog. (With the cameras
split between the threads in fixed groups, a crowd at both shelves shared one thread while the
door thread idled, and the shelf camera delivered 2-3 frames a second where a pick was decided.)

A camera may be given a head start: it goes before cameras that have waited up to that much
longer. face_node gives one to a shelf camera with a face at a lane that is not named yet,
where a pick about to be decided needs the next frames more than a door or an idle shelf does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable


class CameraQueue:
    """Cameras with work waiting, handed out longest-waiting first, each to one worker at a
    time. Thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._changed = threading.Condition()
        self._waiting: dict[Hashable, float] = {}  # camera -> since when (clock)
        self._busy: set[Hashable] = set()
        self._closed = False

    def ready(self, camera: Hashable, head_start_s: float = 0.0) -> None:
        """``camera`` has work, and goes before cameras that have waited up to
        ``head_start_s`` seconds longer; a camera already waiting keeps its place in the queue
        unless the head start moves it further ahead."""
        since = self._clock() - max(0.0, head_start_s)
        with self._changed:
            if camera not in self._waiting:
                self._waiting[camera] = since
                self._changed.notify()
            elif since < self._waiting[camera]:
                self._waiting[camera] = since

    def take(self, timeout: float | None = None) -> Hashable | None:
        """The camera waiting longest that no worker holds, now held by the caller until
        :meth:`done`; None after ``timeout`` seconds without one, or once closed."""
        deadline = None if timeout is None else self._clock() + timeout
        with self._changed:
            while not self._closed:
                camera = min((c for c in self._waiting if c not in self._busy),
                             key=self._waiting.__getitem__, default=None)
                if camera is not None:
                    del self._waiting[camera]
                    self._busy.add(camera)
                    return camera
                left = None if deadline is None else deadline - self._clock()
                if left is not None and left <= 0:
                    return None
                self._changed.wait(left)
            return None

    def done(self, camera: Hashable) -> None:
        """The caller is done with ``camera``: another worker may take it (it may have had
        new work meanwhile)."""
        with self._changed:
            self._busy.discard(camera)
            if camera in self._waiting:
                self._changed.notify()

    def close(self) -> None:
        """Wake every waiting worker; :meth:`take` returns None from now on."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def waiting(self) -> int:
        """Cameras with work waiting (held ones included)."""
        with self._changed:
            return len(self._waiting)
