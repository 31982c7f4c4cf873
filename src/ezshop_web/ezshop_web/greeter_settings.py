"""greeter_node's settings, each described once; read at start."""

from __future__ import annotations

from dataclasses import dataclass

from ezshop_common.settings import setting


@dataclass(frozen=True)
class GreeterSettings:
    speak: bool = setting(True, 'speak the greetings with espeak-ng (false: only publish them)')
    wav_dir: str = setting('', "write each greeting as a WAV file here; '' = play it on the "
                           'audio device')
    voice: str = setting('en', 'espeak-ng voice (espeak-ng --voices)')
    words_per_minute: int = setting(160, 'speaking rate (words per minute)', 80, 450)
