"""Where the legacy import spends its time: µs per line for each stage, in one thread.

    .venv/bin/python bench/import_stages.py [--records 300000] [--batch 100000] [--profile]

Stages, in the order a line goes through them: reading the file into text columns
(Arrow, feeds/records/source.py), checking them (Arrow kernels, feeds/records/checks.py),
storing batches (import_legacy_batch, one transaction each, rollups and audit
included) on SQLite and PostgreSQL — and, within storing, the record rows alone
(storage.records.insert_new_records) and the rollups alone (rollups.add_openings).
The importer overlaps reading and checking (main thread) with storing (a writer
thread), so on two cores its rate is bounded by roughly the slower of the two halves.
With --profile, the top functions of each stage (cProfile).
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
from pathlib import Path
from typing import Any

import pyarrow as pa
from rich.table import Table

from backends import backends, console, write_records_file
from dmp.feeds.records.checks import check_chunk
from dmp.feeds.records.runner import BATCH_SIZE
from dmp.feeds.records.source import RecordsFile
from dmp.feeds.synthetic.files import record_rows
from dmp.services.context import system_ctx
from dmp.services.legacy_import import import_legacy_batch
from dmp.storage import rollups
from dmp.storage.db import Database
from dmp.storage.records import insert_new_records, opening_keys

NOW = datetime.now(UTC)


def main() -> None:
    args = _arguments()
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="dmp-bench-file-") as folder:
        path = Path(folder) / "records.csv"
        write_records_file(path, record_rows(args.seed, args.records), args.records, "Génération")
        chunks = _timed(
            timings, "lecture (Arrow)", lambda: list(RecordsFile(path).chunks()), args.profile
        )
        checked = _timed(timings, "contrôle (check_chunk)", lambda: _check(chunks), args.profile)
        good = pa.concat_tables(checked)
        batches = [good.slice(i, args.batch) for i in range(0, good.num_rows, args.batch)]
        with backends() as pool:
            for backend in ("sqlite", "postgresql"):
                for stage, store in (
                    ("stockage", _store),
                    ("  dont dossiers seuls", _records_only),
                    ("  dont agrégats seuls", _rollups_only),
                ):
                    with pool.fresh(backend) as db:
                        work = lambda db=db, store=store: store(db, batches)  # noqa: E731
                        _timed(timings, f"{stage} {backend}", work, args.profile)
    table = Table(title=f"Import de {args.records:,} lignes, étape par étape (un fil)")
    table.add_column("étape")
    table.add_column("µs / ligne", justify="right")
    table.add_column("lignes/s", justify="right")
    for stage, seconds in timings.items():
        per_line = seconds / args.records * 1e6
        table.add_row(stage, f"{per_line:.1f}", f"{args.records / seconds:,.0f}")
    console.print(table)


def _check(chunks: list[Any]) -> list[pa.Table]:
    out = []
    for chunk in chunks:
        good, rejections = check_chunk(chunk.table, NOW)
        assert not rejections
        assert not chunk.rejections
        out.append(good)
    return out


def _store(db: Database, batches: list[pa.Table]) -> None:
    ctx = system_ctx(NOW, client="bench")
    for batch in batches:
        import_legacy_batch(db, ctx, batch, "bench")


def _records_only(db: Database, batches: list[pa.Table]) -> None:
    for batch in batches:
        with db.write() as conn:
            insert_new_records(conn, batch)


def _rollups_only(db: Database, batches: list[pa.Table]) -> None:
    for batch in batches:
        with db.write() as conn:
            rollups.add_openings(conn, opening_keys(batch))


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
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
        console.print(f"[bold]{stage}[/bold] (cProfile, temps propre)", out.getvalue())
    return result


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--batch", type=int, default=BATCH_SIZE)
    parser.add_argument("--seed", type=int, default=2018)
    parser.add_argument("--profile", action="store_true")
    return parser.parse_args()


if __name__ == "__main__":
    main()
