"""Live updates to every open console: the ROS side hands (section, data) updates in from its
own thread; each open page has a bounded queue on the server's event loop. A page that falls
behind is dropped (its browser reconnects and gets a fresh snapshot) rather than let memory
grow."""

from __future__ import annotations

import asyncio
import threading

#: Updates one page may have waiting before it is dropped.
QUEUE_DEPTH = 200
DROPPED = ('dropped', None)


class Hub:
    def __init__(self):
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queues: set[asyncio.Queue] = set()
        self._lock = threading.Lock()

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """The server's loop is running: updates may flow."""
        with self._lock:
            self._loop = loop

    def detach(self) -> None:
        with self._lock:
            self._loop = None

    def publish(self, updates: list) -> None:
        """From any thread: queue updates for every open page."""
        if not updates:
            return
        with self._lock:
            loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._deliver, list(updates))

    def _deliver(self, updates: list) -> None:
        for queue in list(self._queues):
            for update in updates:
                try:
                    queue.put_nowait(update)
                except asyncio.QueueFull:
                    self._queues.discard(queue)
                    queue.get_nowait()
                    queue.put_nowait(DROPPED)
                    break

    def subscribe(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue(maxsize=QUEUE_DEPTH)
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        self._queues.discard(queue)

    @property
    def pages(self) -> int:
        return len(self._queues)
