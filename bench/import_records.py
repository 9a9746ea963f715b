"""Legacy import speed: records/s through `dmp import-records`'s own path.

    .venv/bin/python bench/import_records.py [--records 1000000] [--runs 3]
                                             [--backends sqlite,postgresql]
                                             [--batch-size 100000]

Generates N synthetic legacy records once, then imports them with
dmp.feeds.records.runner.import_records_file (no progress bar while timed) into a
fresh database per run, and prints the median records/s per backend, the time
3 million records would take at that rate, and the process's peak memory so far (the
file is generated as a stream: the peak is the import's). Goal (issue 2): 3 million
under 60 s.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.table import Table

from backends import BACKENDS, backends, console, median, progress, write_records_file
from dmp.feeds.records.runner import BATCH_SIZE, import_records_file
from dmp.feeds.synthetic.files import record_lines
from dmp.services.context import system_ctx

GOAL_RECORDS, GOAL_SECONDS = 3_000_000, 60.0


def main() -> None:
    args = _arguments()
    chosen = [b for b in args.backends.split(",") if b]
    with tempfile.TemporaryDirectory(prefix="dmp-bench-file-") as folder:
        path = Path(folder) / "records.csv"
        write_records_file(
            path, record_lines(args.seed, args.records), args.records, "Génération des dossiers"
        )
        timings, peaks = {}, {}
        for backend in chosen:
            timings[backend] = _time_imports(backend, path, args)
            peaks[backend] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    title = f"Import de {args.records:,} dossiers existants, lots de {args.batch_size:,}"
    table = Table(title=f"{title} (médiane de {args.runs})")
    columns = ("base", "essais (s)", "médiane (s)", "dossiers/s", "3 M estimé (s)", "< 60 s")
    for column in (*columns, "mémoire max (Mo)"):
        table.add_column(column, justify="right")
    for backend, seconds in timings.items():
        rate = args.records / median(seconds)
        estimate = GOAL_RECORDS / rate
        table.add_row(
            backend,
            " ".join(f"{s:.1f}" for s in seconds),
            f"{median(seconds):.2f}",
            f"{rate:,.0f}",
            f"{estimate:.0f}",
            "oui" if estimate < GOAL_SECONDS else "NON",
            f"{peaks[backend]:.0f}",
        )
    console.print(table)


def _time_imports(backend: str, path: Path, args: argparse.Namespace) -> list[float]:
    seconds: list[float] = []
    with backends() as pool, progress() as bar:
        task = bar.add_task(f"Import {backend}", total=args.runs)
        for _ in range(args.runs):
            with pool.fresh(backend) as db:
                ctx = system_ctx(datetime.now(UTC), client="bench")
                started = time.perf_counter()
                rejects = path.with_suffix(".rejects.csv")
                summary = import_records_file(
                    db, ctx, path, rejects, batch_size=args.batch_size, show_progress=False
                )
                seconds.append(time.perf_counter() - started)
            if summary.inserted != args.records or summary.rejected:
                raise SystemExit(f"{backend}: import incomplete: {summary}")
            bar.advance(task)
    return seconds


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--seed", type=int, default=2018)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    return parser.parse_args()


if __name__ == "__main__":
    main()
