"""The lane counts the shelf monitor keeps across restarts: one small JSON file, replaced
atomically on every change, so a restart (a crash, a reboot of the shelf PC) starts from the
counts it had, not from the store file's initial ones, and a count that changed while nobody
watched is noticed. Plain Python."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

LaneKey = tuple[str, str]


def load_counts(path: str | Path) -> tuple[dict[LaneKey, int], str]:
    """The kept counts, and '' or why the file could not be used (missing is not a problem)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}, ''
    except (OSError, ValueError) as exc:
        return {}, f'{path}: unreadable ({exc}); starting from the store file\'s counts'
    if not isinstance(data, dict):
        return {}, f'{path}: not a JSON object; starting from the store file\'s counts'
    counts, bad = {}, []
    for key, value in data.items():
        shelf, _, lane = str(key).partition('/')
        if lane and isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            counts[(shelf, lane)] = value
        else:
            bad.append(str(key))
    return counts, (f'{path}: ignored entries {", ".join(bad[:5])}' if bad else '')


def save_counts(path: str | Path, counts: dict[LaneKey, int]) -> None:
    """Write the counts so that a crash leaves the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({f'{shelf}/{lane}': count
                       for (shelf, lane), count in sorted(counts.items())}, indent=1)
    fd, temp = tempfile.mkstemp(prefix=path.name, dir=path.parent)
    try:
        with os.fdopen(fd, 'w') as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
