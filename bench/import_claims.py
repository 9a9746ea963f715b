"""Claims feed speed and memory: lines/s through `dmp import-claims`'s own path.

    .venv/bin/python bench/import_claims.py [--lines 10000000] [--also 1000000] [--runs 3]
                                            [--backends sqlite,postgresql]

Generates a synthetic claims file of N lines (and a smaller one of --also lines) with
their registry (one beneficiary per 20 lines, 1 bad line per 1000), then imports each
into a fresh database per run, in a child process of its own so that its peak memory
(ru_maxrss) is the import's alone. Prints the median lines/s per backend and size, and
the peak memory: flat memory means the same peak whatever the file's size. Goal (issue
5): 150,000 lines/s into PostgreSQL on this 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from rich.table import Table

from backends import BACKENDS, ROOT, backends, console, median, progress
from dmp.domain.time import local_date
from dmp.feeds.synthetic.claims import write_claims
from dmp.feeds.synthetic.files import write_beneficiaries
from dmp.storage.db import Database

GOAL = 150_000
# Run in a child: import the registry (not timed), then the claims (timed).
CHILD = """
import json, resource, sys, time
from datetime import UTC, datetime
from pathlib import Path
from dmp.feeds.beneficiaries.runner import import_beneficiaries_file
from dmp.feeds.claims.runner import import_claims_file
from dmp.services.context import system_ctx
from dmp.storage.db import Database
url, claims, registry = sys.argv[1:4]
db = Database(url)
ctx = system_ctx(datetime.now(UTC), client="bench")
import_beneficiaries_file(db, ctx, Path(registry), Path(registry + ".rej"), show_progress=False)
started = time.perf_counter()
summary = import_claims_file(db, ctx, Path(claims), Path(claims + ".rej"), show_progress=False)
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_kib": peak, "counts": summary.counts}))
"""


def main() -> None:
    args = _arguments()
    chosen = [b for b in args.backends.split(",") if b]
    sizes = sorted({args.also, args.lines} - {0})
    rows: list[tuple[str, int, list[float], int, int]] = []
    with tempfile.TemporaryDirectory(prefix="dmp-bench-claims-") as folder:
        files = {n: _files(Path(folder), n, args.seed) for n in sizes}
        with backends() as pool, progress() as bar:
            for backend in chosen:
                for n in sizes:
                    task = bar.add_task(f"{backend} {n:,} lignes", total=args.runs)
                    seconds, peaks, read = [], [], 0
                    for _ in range(args.runs):
                        with pool.fresh(backend) as db:
                            result = _import(db, *files[n])
                        seconds.append(result["seconds"])
                        peaks.append(result["peak_kib"])
                        read = result["counts"]["read"]
                        bar.advance(task)
                    rows.append((backend, read, seconds, max(peaks), n))
    table = Table(title=f"Import des remboursements (médiane de {args.runs} essais)")
    for column in ("base", "lignes", "essais (s)", "lignes/s", "mémoire max (Mo)", "≥ 150 000/s"):
        table.add_column(column, justify="right")
    for backend, read, seconds, peak, _ in rows:
        rate = read / median(seconds)
        table.add_row(
            backend,
            f"{read:,}",
            " ".join(f"{s:.1f}" for s in seconds),
            f"{rate:,.0f}",
            f"{peak / 1024:,.0f}",
            ("oui" if rate >= GOAL else "NON") if backend == "postgresql" else "-",
        )
    console.print(table)


def _files(folder: Path, lines: int, seed: int) -> tuple[Path, Path]:
    claims, registry = folder / f"claims-{lines}.csv", folder / f"registry-{lines}.csv"
    people = max(100, lines // 20)
    with progress() as bar:
        task = bar.add_task(f"Génération de {lines:,} lignes", total=lines + lines // 1000)
        write_beneficiaries(registry, people, seed)
        write_claims(
            claims,
            seed,
            people,
            lines,
            local_date(datetime.now(UTC)),
            lines // 1000,
            lambda n: bar.update(task, completed=n),
        )
    return claims, registry


def _import(db: Database, claims: Path, registry: Path) -> dict[str, object]:
    url = db.url.render_as_string(hide_password=False)
    db.dispose()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, url, str(claims), str(registry)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--also", type=int, default=1_000_000, help="a second, smaller size")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--seed", type=int, default=2018)
    return parser.parse_args()


if __name__ == "__main__":
    main()
