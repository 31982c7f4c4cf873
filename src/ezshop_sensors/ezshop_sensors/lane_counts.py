"""The lane counts the shelf monitor keeps across restarts: one small JSON file, replaced
atomically on every change and every KEEP_PERIOD_S while readings come, so a restart (a crash,
a reboot of the shelf PC) starts from the counts it had, not from the store file's initial ones.

With each count go two stamps: the reading that settled it (counted_ns) and the newest reading
read (read_ns). The lane readings topic keeps a history, so a monitor that restarts is sent the
readings of its outage, and of a little before: it skips those its count already holds
(stamped at or before counted_ns), reads the rest as they happened, and only when the history
does not reach back to read_ns does it call a different count an unobserved change.
Plain Python."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

LaneKey = tuple[str, str]
#: How often the newest read stamp is kept while readings come (s): the readings history of
#: the sensors (topics.READING_HISTORY, 20 s) must outlast this plus a restart.
KEEP_PERIOD_S = 1.0


@dataclass(frozen=True)
class KeptLane:
    """One lane as the monitor last kept it (stamps in ns; 0 = not known)."""

    count: int
    counted_ns: int = 0  # the reading that settled `count`
    read_ns: int = 0  # the newest reading read


def load_counts(path: str | Path) -> tuple[dict[LaneKey, KeptLane], str]:
    """The kept lanes, and '' or why the file could not be used (missing is not a problem).
    A bare count (the file of an older version) is a lane without stamps."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}, ''
    except (OSError, ValueError) as exc:
        return {}, f'{path}: unreadable ({exc}); starting from the store file\'s counts'
    if not isinstance(data, dict):
        return {}, f'{path}: not a JSON object; starting from the store file\'s counts'
    kept, bad = {}, []
    for key, value in data.items():
        shelf, _, lane = str(key).partition('/')
        lane_kept = _kept_lane(value) if lane else None
        if lane_kept is None:
            bad.append(str(key))
        else:
            kept[(shelf, lane)] = lane_kept
    return kept, (f'{path}: ignored entries {", ".join(bad[:5])}' if bad else '')


def _natural(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _kept_lane(value) -> KeptLane | None:
    if _natural(value):
        return KeptLane(value)
    if not isinstance(value, dict):
        return None
    fields = {name: value.get(name, 0) for name in ('count', 'counted_ns', 'read_ns')}
    if 'count' not in value or not all(_natural(v) for v in fields.values()):
        return None
    return KeptLane(**fields)


def save_counts(path: str | Path, kept: dict[LaneKey, KeptLane]) -> None:
    """Write the lanes so that a crash leaves the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({f'{shelf}/{lane}': {'count': k.count, 'counted_ns': k.counted_ns,
                                            'read_ns': k.read_ns}
                       for (shelf, lane), k in sorted(kept.items())}, indent=1)
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
