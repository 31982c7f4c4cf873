"""A BagWriter on a thread of its own (plain Python): subscription callbacks only queue, so
compressing chunks never holds up the executor. Memory is bounded: past `max_bytes` queued,
messages are dropped and counted."""

from __future__ import annotations

import queue
import threading

from ezshop_bag.rosbag2 import BagWriter, TopicInfo

#: Queued data at most, by default (bytes): ~280 camera frames of 640x480.
MAX_QUEUED_BYTES = 256 * 1024 * 1024
_CLOSE = object()


class QueuedWriter:
    """add_topic() and write() from any thread; close() drains the queue and closes the bag."""

    def __init__(self, writer: BagWriter, max_bytes: int = MAX_QUEUED_BYTES):
        self.writer = writer
        self.max_bytes = max_bytes
        self.dropped = 0
        self.error: BaseException | None = None
        self._queued_bytes = 0
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name='bag_writer', daemon=True)
        self._thread.start()

    def add_topic(self, topic: TopicInfo) -> None:
        self._queue.put(('topic', topic))

    def write(self, topic: str, data: bytes, log_time_ns: int, publish_time_ns: int = 0,
              sequence: int = 0) -> bool:
        """Queue one message; False (and counted as dropped) when the queue is full."""
        with self._lock:
            if self._queued_bytes + len(data) > self.max_bytes or self.error is not None:
                self.dropped += 1
                return False
            self._queued_bytes += len(data)
        self._queue.put(('message', topic, data, log_time_ns, publish_time_ns, sequence))
        return True

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _CLOSE:
                return
            if self.error is not None:
                continue
            try:
                if item[0] == 'topic':
                    self.writer.add_topic(item[1])
                else:
                    _, topic, data, log_time_ns, publish_time_ns, sequence = item
                    with self._lock:
                        self._queued_bytes -= len(data)
                    self.writer.write(topic, data, log_time_ns, publish_time_ns, sequence)
            except Exception as exc:  # noqa: BLE001 - kept and reported by close()
                self.error = exc

    def close(self, custom_data: dict[str, str] | None = None, ros_distro: str = '') -> dict:
        """Write what is queued, then close the bag; returns its metadata. Raises the first
        write error, if any (after closing what could be closed)."""
        if self._thread.is_alive():
            self._queue.put(_CLOSE)
            self._thread.join()
        metadata = self.writer.close(custom_data, ros_distro)
        if self.error is not None:
            raise self.error
        return metadata
