"""MQTT brokers for tests and benches: the Mosquitto every machine runs (127.0.0.1:1883, or
$EZSHOP_TEST_MQTT_URL), and private Mosquitto processes a test may stop and restart."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

#: Test setting: the broker tests and benches use.
MQTT_URL_ENV = 'EZSHOP_TEST_MQTT_URL'
DEFAULT_MQTT_URL = 'mqtt://127.0.0.1:1883'
MOSQUITTO = os.environ.get('EZSHOP_MOSQUITTO', '/usr/sbin/mosquitto')
#: A bound on waiting for a broker to listen: never a speed target.
START_DEADLINE_S = 30.0


def mqtt_url() -> str:
    return os.environ.get(MQTT_URL_ENV) or DEFAULT_MQTT_URL


def unique_store_id() -> str:
    """A store id of one test's own: its MQTT topics cross no other run on the broker."""
    return f'test_{uuid.uuid4().hex[:10]}'


def _answers(host: str, port: int, timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def mqtt_unavailable_reason(url: str | None = None) -> str | None:
    """None when an MQTT broker listens at url, else why not (for pytest.skip)."""
    url = url or mqtt_url()
    parts = urlsplit(url)
    if not _answers(parts.hostname or '127.0.0.1', parts.port or 1883):
        return (f'no MQTT broker listens at {url} (set {MQTT_URL_ENV}; Debian: '
                'apt-get install mosquitto)')
    return None


def mosquitto_unavailable_reason() -> str | None:
    """None when tests can start their own Mosquitto, else why not."""
    if not (Path(MOSQUITTO).exists() or shutil.which('mosquitto')):
        return (f'no mosquitto program at {MOSQUITTO} (Debian: apt-get install mosquitto, '
                'or set EZSHOP_MOSQUITTO)')
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class PrivateBroker:
    """A Mosquitto of one test's own on a free port, persistent (sessions and queued QoS 1
    messages survive a restart, as on a store's broker). Stop and start it at will."""

    def __init__(self, folder: Path, config: str | None = None, scheme: str = 'mqtt'):
        """config: the broker's configuration with {port} and {folder} to fill in; None =
        an open broker on 127.0.0.1 that persists its sessions."""
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.url = f'{scheme}://127.0.0.1:{self.port}'
        self.config = self.folder / 'mosquitto.conf'
        if config is None:
            config = ('listener {port} 127.0.0.1\n'
                      'allow_anonymous true\n'
                      'persistence true\n'
                      'persistence_location {folder}/\n'
                      # 0 = no limit: nothing queued for a client is dropped
                      'max_queued_messages 0\n')
        self.config.write_text(
            # Started as root, mosquitto would become user "mosquitto", who cannot write here.
            f'user {pwd.getpwuid(os.getuid()).pw_name}\n'
            f'log_dest file {self.folder}/mosquitto.log\n'
            + config.format(port=self.port, folder=self.folder))
        self.process: subprocess.Popen | None = None

    def start(self) -> PrivateBroker:
        program = MOSQUITTO if Path(MOSQUITTO).exists() else shutil.which('mosquitto')
        self.process = subprocess.Popen([program, '-c', str(self.config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + START_DEADLINE_S
        while not _answers('127.0.0.1', self.port, timeout=0.5):
            if self.process.poll() is not None:
                raise RuntimeError(f'mosquitto exited: {self.process.stderr.read().decode()}')
            if time.monotonic() > deadline:
                raise RuntimeError(f'mosquitto did not listen on {self.port}')
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        """SIGTERM, as a service manager stops it: it saves its sessions on the way out."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=START_DEADLINE_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> PrivateBroker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
