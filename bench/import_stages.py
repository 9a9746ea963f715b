"""Where the legacy import spends its time: µs per line for each stage, in one process.

    .venv/bin/python bench/import_stages.py [--records 100000] [--profile]

Stages, in the order a line goes through them: reading the file into rows
(CsvSource), parsing the row into domain values (records parser), preparing the
stored row (the migration rule), storing batches of 10,000 (import_legacy_batch,
one transaction each, rollups and audit included) on SQLite and PostgreSQL. The
importer overlaps parsing (worker processes) with storing (a writer thread), so on
two cores its rate is bounded by roughly the slower of the two halves.
With --profile, the top functions of the parsing and storing halves (cProfile).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from rich.table import Table

from backends import backends, console, write_records_file
from dmp.feeds.csvsource import CsvSource, Rejection
from dmp.feeds.records.parser import COLUMNS, parse_line
from dmp.feeds.synthetic.files import record_rows
from dmp.services.context import system_ctx
from dmp.services.legacy_import import import_legacy_batch, prepare_legacy_line
from dmp.storage.db import Database

BATCH = 10_000
NOW = datetime.now(UTC)


def main() -> None:
    args = _arguments()
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="dmp-bench-file-") as folder:
        path = Path(folder) / "records.csv"
        write_records_file(path, record_rows(args.seed, args.records), args.records, "Génération")
        rows = _timed(timings, "lecture CSV (CsvSource)", lambda: _rows(path))
        parsed = _timed(timings, "analyse (parse_line)", lambda: _parse(rows), args.profile)
        prepared = _timed(timings, "préparation (prepare_legacy_line)", lambda: _prepare(parsed))
        with backends() as pool:
            for backend in ("sqlite", "postgresql"):
                with pool.fresh(backend) as db:
                    stage = f"stockage {backend} (import_legacy_batch)"
                    _timed(timings, stage, partial(_store, db, prepared), args.profile)
    table = Table(title=f"Import de {args.records:,} lignes, étape par étape (un processus)")
    table.add_column("étape")
    table.add_column("µs / ligne", justify="right")
    table.add_column("lignes/s", justify="right")
    for stage, seconds in timings.items():
        per_line = seconds / args.records * 1e6
        table.add_row(stage, f"{per_line:.1f}", f"{args.records / seconds:,.0f}")
    console.print(table)


def _rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    return [item for item in CsvSource(path, COLUMNS) if not isinstance(item, Rejection)]


def _parse(rows: list[tuple[int, dict[str, str]]]) -> list[Any]:
    out = [parse_line(n, row, NOW) for n, row in rows]
    assert not any(isinstance(p, Rejection) for p in out)
    return out


def _prepare(parsed: list[Any]) -> list[Any]:
    return [prepare_legacy_line(p) for p in parsed]


def _store(db: Database, prepared: list[Any]) -> None:
    ctx = system_ctx(NOW, client="bench")
    for i in range(0, len(prepared), BATCH):
        import_legacy_batch(db, ctx, prepared[i : i + BATCH], "bench")


def _timed(
    timings: dict[str, float], stage: str, work: Callable[[], Any], profile: bool = False
) -> Any:
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    result = work()
    if profiler:
        profiler.disable()
    timings[stage] = time.perf_counter() - started
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
        console.print(f"[bold]{stage}[/bold] (cProfile, temps propre)", out.getvalue())
    return result


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2018)
    parser.add_argument("--profile", action="store_true")
    return parser.parse_args()


if __name__ == "__main__":
    main()
