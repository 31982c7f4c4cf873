"""Speech with espeak-ng (Debian package espeak-ng): to the audio device, or to WAV files.
Speaking takes a while, so it happens on a worker thread, in order; callers never wait.
Without espeak-ng nothing is spoken (the greeter still publishes the words). No rclpy."""

from __future__ import annotations

import queue
import re
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

ESPEAK = 'espeak-ng'
#: Longest one utterance may take before it is abandoned (s).
SPEAK_TIMEOUT_S = 30.0


def espeak_path() -> str | None:
    return shutil.which(ESPEAK)


class Speaker:
    """Say texts one after another with espeak-ng; ``wav_dir`` set: write <stem>.wav files
    there instead of playing them. ``done(text, wav_path, error)`` is called after each."""

    def __init__(self, wav_dir: str = '', voice: str = 'en', words_per_minute: int = 160,
                 done: Callable[[str, str, str], None] | None = None):
        self.espeak = espeak_path()
        self.wav_dir = Path(wav_dir) if wav_dir else None
        self.voice = voice
        self.words_per_minute = words_per_minute
        self.done = done
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._work, name='speaker', daemon=True)
        if self.wav_dir is not None:
            self.wav_dir.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    @property
    def available(self) -> bool:
        return self.espeak is not None

    def wav_path_for(self, stem: str) -> str:
        if self.wav_dir is None:
            return ''
        return str(self.wav_dir / (re.sub(r'[^A-Za-z0-9_.-]', '_', stem) + '.wav'))

    def say(self, text: str, stem: str) -> str:
        """Queue text; returns the WAV path it will be written to ('' = played)."""
        path = self.wav_path_for(stem)
        self._queue.put((text, path))
        return path

    def close(self, timeout: float = 5.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def _work(self) -> None:
        while (job := self._queue.get()) is not None:
            text, path = job
            error = self._speak(text, path)
            if self.done is not None:
                self.done(text, path, error)

    def _speak(self, text: str, path: str) -> str:
        if self.espeak is None:
            return f'{ESPEAK} is not installed (apt-get install espeak-ng)'
        command = [self.espeak, '-v', self.voice, '-s', str(self.words_per_minute)]
        if path:
            command += ['-w', path]
        try:
            # The text is one argument after "--": never parsed as an option.
            done = subprocess.run([*command, '--', text], capture_output=True, text=True,
                                  timeout=SPEAK_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f'{ESPEAK} failed: {exc}'
        if done.returncode != 0:
            return f'{ESPEAK} failed: {done.stderr.strip() or done.returncode}'
        return ''
