"""What the benchmarks share: fresh databases of each kind, and synthetic files.

Not a benchmark itself. PostgreSQL is the tests' throwaway server (tests/pg.py):
initdb in a temporary directory, a loopback port, fsync off — the figures are the
software's, not the disk's (SQLite keeps the project's synchronous=FULL).
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # for tests.pg

from rich.console import Console  # noqa: E402
from rich.progress import (  # noqa: E402
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from tests.pg import PgServer  # noqa: E402

from dmp.feeds.synthetic.files import RECORD_COLUMNS, Line, write_csv  # noqa: E402
from dmp.storage.db import Database  # noqa: E402
from dmp.storage.migrate import upgrade  # noqa: E402

BACKENDS = ("sqlite", "postgresql")
# Wide enough for the figures' tables when the output goes to a file.
console = Console(width=None if sys.stdout.isatty() else 130)


def progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def write_records_file(path: Path, lines: Iterable[Line], count: int, label: str) -> None:
    """A legacy records file of `count` lines, with a progress bar."""
    with progress() as bar:
        task = bar.add_task(label, total=count)
        write_csv(path, RECORD_COLUMNS, lines, lambda n: bar.update(task, completed=n))


class Backends:
    """Fresh, migrated databases: SQLite files in a temporary folder, and databases
    on one PostgreSQL server started on first use."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._pg: PgServer | None = None

    @contextmanager
    def fresh(self, backend: str) -> Iterator[Database]:
        name = f"bench_{uuid.uuid4().hex[:10]}"
        if backend == "sqlite":
            path = self.folder / f"{name}.sqlite3"
            db = Database(f"sqlite:///{path}")
        else:
            server = self.pg()
            server.execute(f"CREATE DATABASE {name}")
            db = Database(server.url(name))
        upgrade(db)
        try:
            yield db
        finally:
            db.dispose()
            if backend == "sqlite":
                for leftover in self.folder.glob(f"{name}.sqlite3*"):
                    leftover.unlink()
            else:
                self.pg().execute(f"DROP DATABASE {name} WITH (FORCE)")

    def pg(self) -> PgServer:
        if self._pg is None:
            self._pg = PgServer(_env_settings())
            self._pg.start()
        return self._pg

    def close(self) -> None:
        if self._pg is not None:
            self._pg.stop()


def _env_settings() -> dict[str, str]:
    """Extra PostgreSQL settings for an experiment, e.g.
    DMP_BENCH_PG="shared_buffers=4GB max_wal_size=16GB" (none by default)."""
    raw = os.environ.get("DMP_BENCH_PG", "")
    return dict(item.split("=", 1) for item in raw.split() if item)


@contextmanager
def backends() -> Iterator[Backends]:
    with tempfile.TemporaryDirectory(prefix="dmp-bench-") as folder:
        chosen = Backends(Path(folder))
        try:
            yield chosen
        finally:
            chosen.close()


def percentile(values: list[float], share: float) -> float:
    """The value below which `share` of `values` fall (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def median(values: list[float]) -> float:
    return statistics.median(values)
