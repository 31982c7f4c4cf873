"""Child processes for tests: own process group, output captured, clean stop."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path


class ChildProcess:
    """A command started in its own process group, its output collected line by line.

    Stop it with stop(): SIGINT to the whole group (clean shutdown, no stale Fast DDS
    shared-memory files), SIGKILL only after a grace period.
    """

    def __init__(self, cmd: Sequence[str], env: dict | None = None, cwd: str | None = None):
        self.cmd = list(cmd)
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(
            self.cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, text=True, bufsize=1, start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self._lock:
                self.lines.append(line.rstrip('\n'))

    @property
    def output(self) -> str:
        with self._lock:
            return '\n'.join(self.lines)

    def wait_for_line(self, predicate: Callable[[str], bool] | str,
                      timeout: float) -> str | None:
        """First output line matching predicate (or containing the string), or None."""
        if isinstance(predicate, str):
            needle = predicate
            predicate = lambda line: needle in line  # noqa: E731
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            with self._lock:
                new = self.lines[seen:]
                seen = len(self.lines)
            for line in new:
                if predicate(line):
                    return line
            if self.proc.poll() is not None and not self._reader.is_alive():
                with self._lock:
                    if seen == len(self.lines):
                        return None
            time.sleep(0.05)
        return None

    def send_signal(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, grace: float = 10.0) -> int:
        """SIGINT the group, wait up to `grace` s, then SIGKILL; returns the exit code."""
        if self.proc.poll() is None:
            self.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.send_signal(signal.SIGKILL)
                self.proc.wait(timeout=5)
        # Children of the group may outlive the leader.
        self.send_signal(signal.SIGKILL)
        self._reader.join(timeout=2)
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL the whole group at once (to test crash recovery)."""
        self.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=5)
        self._reader.join(timeout=2)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def launch_node_pids(session: int, node: str) -> list[int]:
    """Processes of a launch started in its own session (``start_new_session=True``, so the
    session id is its pid) that run ``node`` (by the ``__node:=`` remapping launch gives)."""
    pids = []
    for entry in Path('/proc').iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getsid(int(entry.name)) != session:
                continue
            args = (entry / 'cmdline').read_bytes().split(b'\0')
        except (OSError, ProcessLookupError):
            continue
        if f'__node:={node}'.encode() in args:
            pids.append(int(entry.name))
    return pids
