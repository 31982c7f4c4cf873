"""Work folders of benches: private, and no face data left behind.

A bench's store databases hold the face embeddings of the people it enrolled: they are deleted
when the bench ends (at exit, however it ends) unless it was asked to keep them. Logs and
results stay for reading.
"""

from __future__ import annotations

import atexit
import tempfile
from pathlib import Path

#: SQLite files of a store database (the database, its write-ahead log, its shared memory).
DATABASE_PATTERNS = ('*.db', '*.db-wal', '*.db-shm', '*.db-journal')


def remove_databases(folder: Path) -> list[Path]:
    """Delete every SQLite database file under folder; returns what was deleted."""
    removed = []
    for pattern in DATABASE_PATTERNS:
        for path in folder.rglob(pattern):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def bench_workdir(prefix: str, keep_databases: bool = False) -> Path:
    """A new private (0700) folder under $TMPDIR whose databases go at exit unless kept."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    if not keep_databases:
        atexit.register(remove_databases, work)
    return work


def add_keep_databases_option(parser) -> None:
    """--keep-databases for a bench's argparse parser."""
    parser.add_argument('--keep-databases', action='store_true',
                        help="keep the store databases in the work folder (they hold the "
                             "enrolled faces' embeddings; deleted at the end otherwise)")
