"""Start and supervise the processes of a launch description, as `ros2 launch` does.

Each child runs in its own process group; its output lines are prefixed with its label and
also written to <log_dir>/<label>.log. SIGINT/SIGTERM to the runner are forwarded as SIGINT to
every child; children still running after `sigterm_timeout` get SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from ezshop_launch.description import ProcessSpec

SIGTERM_TIMEOUT_S = 5.0
SIGKILL_TIMEOUT_S = 5.0


@dataclass
class _Child:
    spec: ProcessSpec
    index: int
    proc: subprocess.Popen | None = None
    threads: list[threading.Thread] = field(default_factory=list)
    restart_at: float | None = None

    @property
    def tag(self) -> str:
        return f'{self.spec.label}-{self.index}'


class Runner:
    """Runs ProcessSpecs until they all exit, one with on_exit=shutdown exits, or a signal."""

    def __init__(self, specs: list[ProcessSpec], log_dir: str, out=None,
                 sigterm_timeout: float = SIGTERM_TIMEOUT_S):
        self.children = [_Child(spec, i + 1) for i, spec in enumerate(specs)]
        self.log_dir = log_dir
        self.out = out or sys.stdout
        self.sigterm_timeout = sigterm_timeout
        self._out_lock = threading.Lock()
        self._shutdown = threading.Event()
        self._exit_code = 0

    def say(self, text: str) -> None:
        with self._out_lock:
            self.out.write(f'[ezshop_launch] {text}\n')
            self.out.flush()

    def request_shutdown(self, reason: str) -> None:
        if not self._shutdown.is_set():
            self.say(f'shutting down: {reason}')
            self._shutdown.set()

    def run(self) -> int:
        os.makedirs(self.log_dir, exist_ok=True)
        self.say(f'logs in {self.log_dir}')
        previous = {sig: signal.signal(sig, self._on_signal)
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for child in self.children:
                self._start(child)
            while not self._shutdown.is_set():
                if not self._poll():
                    break
                self._shutdown.wait(0.1)
            self._stop_all()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self._exit_code

    def _on_signal(self, signum, frame):
        self.request_shutdown(f'{signal.Signals(signum).name} received')

    def _start(self, child: _Child) -> None:
        env = dict(os.environ)
        env.update(child.spec.env)
        env.setdefault('PYTHONUNBUFFERED', '1')
        child.proc = subprocess.Popen(
            child.spec.cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, start_new_session=True)
        child.restart_at = None
        self.say(f'process started with pid [{child.proc.pid}]: {child.tag}')
        log = open(os.path.join(self.log_dir, f'{child.tag}.log'), 'ab')
        to_screen = {'screen': (True, True), 'log': (False, True), 'both': (True, True)}
        out_screen, err_screen = to_screen[child.spec.output]
        child.threads = [
            threading.Thread(target=self._pump, args=(child, child.proc.stdout, log, out_screen),
                             daemon=True),
            threading.Thread(target=self._pump, args=(child, child.proc.stderr, log, err_screen),
                             daemon=True),
        ]
        for thread in child.threads:
            thread.start()

    def _pump(self, child: _Child, stream, log, to_screen: bool) -> None:
        prefix = f'[{child.tag}] '
        for raw in iter(stream.readline, b''):
            line = raw.decode(errors='replace').rstrip('\n')
            with self._out_lock:
                log.write(raw)
                log.flush()
                if to_screen:
                    self.out.write(prefix + line + '\n')
                    self.out.flush()
        stream.close()

    def _poll(self) -> bool:
        """Handle exited children; False when nothing is left running or to restart."""
        alive = False
        for child in self.children:
            if child.proc is None:
                if child.restart_at is not None and time.monotonic() >= child.restart_at:
                    self._start(child)
                    alive = True
                elif child.restart_at is not None:
                    alive = True
                continue
            code = child.proc.poll()
            if code is None:
                alive = True
                continue
            for thread in child.threads:
                thread.join(timeout=1.0)
            verdict = 'exited cleanly' if code == 0 else f'died, exit code {code}'
            self.say(f'process {child.tag} [pid {child.proc.pid}] {verdict}')
            child.proc = None
            if code != 0 and self._exit_code == 0:
                self._exit_code = code if code > 0 else 128 - code
            if child.spec.shutdown_on_exit:
                self._exit_code = code if code >= 0 else 128 - code
                self.request_shutdown(f'{child.tag} exited and has on_exit="shutdown"')
                return False
            if child.spec.respawn:
                child.restart_at = time.monotonic() + child.spec.respawn_delay
                self.say(f'respawning {child.tag} in {child.spec.respawn_delay:.1f} s')
                alive = True
        return alive

    def _stop_all(self) -> None:
        running = [c for c in self.children if c.proc is not None and c.proc.poll() is None]
        for child in running:
            _signal_group(child.proc, signal.SIGINT)
        for sig, timeout in ((signal.SIGTERM, self.sigterm_timeout),
                             (signal.SIGKILL, SIGKILL_TIMEOUT_S)):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and any(c.proc.poll() is None for c in running):
                time.sleep(0.05)
            for child in running:
                if child.proc.poll() is None:
                    self.say(f'{child.tag} still running, sending {sig.name}')
                    _signal_group(child.proc, sig)
        for child in running:
            child.proc.wait()
            for thread in child.threads:
                thread.join(timeout=1.0)
            self.say(f'process {child.tag} [pid {child.proc.pid}] stopped '
                     f'(exit code {child.proc.returncode})')
            # Whatever the leader left behind in its group goes too.
            _signal_group(child.proc, signal.SIGKILL)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
