"""Openings statistics speed: every `dmp stats openings` grouping at 10⁴, 10⁵, 10⁶ records.

    .venv/bin/python bench/stats_queries.py [--sizes 10000,100000,1000000] [--repeat 50]
                                            [--backends sqlite,postgresql]

Fills each database through the real import path (import_records_file) in steps up
to each size, then times dmp.services.stats.openings for every grouping over the
launch weeks (6 November – 30 December 2018; "cumulative" counts from the first
record ever, by week), and prints the median and p99 in ms. Goal (issue 2): every
query under 50 ms whatever the number of records.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

from rich.table import Table

from backends import (
    BACKENDS,
    backends,
    console,
    median,
    percentile,
    progress,
    write_records_file,
)
from dmp.domain.stats import OpeningsQuery, make_openings_query
from dmp.feeds.records.runner import import_records_file
from dmp.feeds.synthetic.files import record_rows
from dmp.feeds.synthetic.launch import LAST_DAY, LAUNCH
from dmp.services import stats
from dmp.services.context import system_ctx
from dmp.storage.db import Database

GOAL_MS = 50.0
GROUPINGS = ("channel", "region", "department", "opener", "week", "day")
MAX_SECONDS_PER_QUERY = 10.0  # fewer repeats for a slow query, never fewer than 5


def queries() -> dict[str, OpeningsQuery]:
    found = {by: make_openings_query(LAUNCH, LAST_DAY, by) for by in GROUPINGS}
    found["cumulative"] = make_openings_query(None, LAST_DAY, "week", cumulative=True)
    return found


def main() -> None:
    args = _arguments()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    chosen = [b for b in args.backends.split(",") if b]
    results: dict[tuple[str, int, str], tuple[float, float, int]] = {}
    with tempfile.TemporaryDirectory(prefix="dmp-bench-file-") as folder:
        slices = _slices(Path(folder), sizes, args.seed)
        with backends() as pool:
            for backend in chosen:
                with pool.fresh(backend) as db:
                    for size, path in zip(sizes, slices, strict=True):
                        _fill(db, path, backend, size)
                        for name, query in queries().items():
                            results[(backend, size, name)] = _time(db, query, args.repeat)
    _print(results, chosen, sizes)


def _slices(folder: Path, sizes: list[int], seed: int) -> list[Path]:
    """One file per step: records 0…10⁴, then up to 10⁵, then up to 10⁶ (one stream)."""
    rows = record_rows(seed, sizes[-1])
    paths, before = [], 0
    for size in sizes:
        path = folder / f"records-{size}.csv"
        write_records_file(path, islice(rows, size - before), size - before, f"Dossiers → {size:,}")
        paths.append(path)
        before = size
    return paths


def _fill(db: Database, path: Path, backend: str, size: int) -> None:
    ctx = system_ctx(datetime.now(UTC), client="bench")
    console.print(f"Import {backend} jusqu'à {size:,} dossiers…")
    summary = import_records_file(db, ctx, path, path.with_suffix(".rejects.csv"))
    if summary.rejected:
        raise SystemExit(f"{backend}: {summary.rejected} lines rejected")
    total = stats.totals(db, LAST_DAY).opened
    if total != size:
        raise SystemExit(f"{backend}: {total:,} records counted, {size:,} expected")


def _time(db: Database, query: OpeningsQuery, repeat: int) -> tuple[float, float, int]:
    """(median ms, p99 ms, number of groups) over up to `repeat` runs after a warm-up."""
    report = stats.openings(db, query)
    report = stats.openings(db, query)
    timings: list[float] = []
    budget = time.perf_counter() + MAX_SECONDS_PER_QUERY
    with progress() as bar:
        task = bar.add_task(f"  {query.by.value}", total=repeat)
        while len(timings) < repeat and (len(timings) < 5 or time.perf_counter() < budget):
            started = time.perf_counter()
            stats.openings(db, query)
            timings.append((time.perf_counter() - started) * 1000)
            bar.advance(task)
    return median(timings), percentile(timings, 0.99), len(report.groups)


def _print(
    results: dict[tuple[str, int, str], tuple[float, float, int]],
    backends_: list[str],
    sizes: list[int],
) -> None:
    for backend in backends_:
        table = Table(title=f"Statistiques d'ouverture, {backend} : médiane / p99 en ms (groupes)")
        table.add_column("regroupement")
        for size in sizes:
            table.add_column(f"{size:,} dossiers", justify="right")
        for name in queries():
            cells = []
            for size in sizes:
                med, p99, groups = results[(backend, size, name)]
                flag = "" if p99 < GOAL_MS else " [red]> 50[/red]"
                cells.append(f"{med:.1f} / {p99:.1f} ({groups:,}){flag}")
            table.add_row(name, *cells)
        console.print(table)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--seed", type=int, default=2018)
    return parser.parse_args()


if __name__ == "__main__":
    main()
