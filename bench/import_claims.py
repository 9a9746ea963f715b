"""Claims feed speed and memory: lines/s through `dmp import-claims`'s own path.

    .venv/bin/python bench/import_claims.py [--lines 10000000] [--also 1000000] [--runs 3]
                                            [--backends sqlite,postgresql]

Generates a synthetic claims file of N lines (and a smaller one of --also lines) with
their registry (one beneficiary per 20 lines, 1 bad line per 1000), then imports each
into a fresh database per run, in a child process of its own so that its peak memory
(VmHWM, reset once the registry is loaded) is the claims import's alone. Prints the
median lines/s per backend and size, the CPU time per line of the import process and of
the PostgreSQL server (its backends and background workers: wall-clock figures are
noisy on a shared machine, CPU time less so), and the peak memory: flat memory means
the same peak whatever the file's size. Goal (issue 5): 150,000 lines/s into
PostgreSQL on this 2-core machine.
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

from backends import BACKENDS, ROOT, Backends, backends, console, median, progress
from dmp.domain.time import local_date
from dmp.feeds.synthetic.claims import write_claims
from dmp.feeds.synthetic.files import write_beneficiaries
from dmp.storage.db import Database

GOAL = 150_000
# Run in a child: import the registry (not timed), then the claims (timed).
CHILD = """
import gc, json, os, resource, sys, time
from datetime import UTC, datetime
from pathlib import Path
from dmp.feeds.beneficiaries.runner import import_beneficiaries_file
from dmp.feeds.claims.runner import import_claims_file
from dmp.services.context import system_ctx
from dmp.storage.db import Database
url, claims, registry, server = sys.argv[1:5]
TICK = os.sysconf("SC_CLK_TCK")
def server_cpu():
    # The postmaster's reaped children (cutime, cstime) and its live ones (utime, stime).
    if server == "0":
        return 0.0
    fields = lambda pid: open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()
    total = sum(int(x) for x in fields(server)[11:15])
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            f = fields(pid)
        except OSError:
            continue
        if f[1] == server:
            total += int(f[11]) + int(f[12])
    return total / TICK
def own_cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
db = Database(url)
ctx = system_ctx(datetime.now(UTC), client="bench")
import_beneficiaries_file(db, ctx, Path(registry), Path(registry + ".rej"), show_progress=False)
def peak_kib():
    status = open("/proc/self/status").read()
    return int(status.split("VmHWM:")[1].split()[0])
# The peak is the claims import's own: the registry's import is forgotten (writing 5 to
# clear_refs resets the peak resident size to the current one, Linux 4.0+).
gc.collect()
with open("/proc/self/clear_refs", "w") as clear:
    clear.write("5")
started, cpu, pg_cpu = time.perf_counter(), own_cpu(), server_cpu()
summary = import_claims_file(db, ctx, Path(claims), Path(claims + ".rej"), show_progress=False)
seconds = time.perf_counter() - started
cpu, pg_cpu = own_cpu() - cpu, server_cpu() - pg_cpu
print(json.dumps({"seconds": seconds, "cpu": cpu, "pg_cpu": pg_cpu, "peak_kib": peak_kib(),
                  "counts": summary.counts}))
"""


def main() -> None:
    args = _arguments()
    chosen = [b for b in args.backends.split(",") if b]
    sizes = sorted({args.also, args.lines} - {0})
    rows: list[tuple[str, int, list[dict[str, float]]]] = []
    with tempfile.TemporaryDirectory(prefix="dmp-bench-claims-") as folder:
        files = {n: _files(Path(folder), n, args.seed) for n in sizes}
        with backends() as pool, progress() as bar:
            for backend in chosen:
                for n in sizes:
                    task = bar.add_task(f"{backend} {n:,} lignes", total=args.runs)
                    runs, read = [], 0
                    for _ in range(args.runs):
                        with pool.fresh(backend) as db:
                            server = _postmaster(pool) if backend == "postgresql" else 0
                            result = _import(db, server, *files[n])
                        runs.append(result)
                        read = int(result["counts"]["read"])  # type: ignore[index]
                        bar.advance(task)
                    rows.append((backend, read, runs))
    table = Table(title=f"Import des remboursements (médiane de {args.runs} essais)")
    columns = (
        "base",
        "lignes",
        "essais (s)",
        "lignes/s",
        "CPU import (µs/ligne)",
        "CPU serveur (µs/ligne)",
        "mémoire max (Mo)",
        "≥ 150 000/s",
    )
    for column in columns:
        table.add_column(column, justify="right")
    for backend, read, runs in rows:
        seconds = [r["seconds"] for r in runs]
        rate = read / median(seconds)
        table.add_row(
            backend,
            f"{read:,}",
            " ".join(f"{s:.1f}" for s in seconds),
            f"{rate:,.0f}",
            f"{median([r['cpu'] for r in runs]) / read * 1e6:.2f}",
            f"{median([r['pg_cpu'] for r in runs]) / read * 1e6:.2f}"
            if backend == "postgresql"
            else "-",
            f"{max(r['peak_kib'] for r in runs) / 1024:,.0f}",
            ("oui" if rate >= GOAL else "NON") if backend == "postgresql" else "-",
        )
    console.print(table)


def _postmaster(pool: Backends) -> int:
    """The PostgreSQL server's process id: the first line of its postmaster.pid."""
    return int((pool.pg().data / "postmaster.pid").read_text().split()[0])


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


def _import(db: Database, server: int, claims: Path, registry: Path) -> dict[str, float]:
    url = db.url.render_as_string(hide_password=False)
    db.dispose()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, url, str(claims), str(registry), str(server)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
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
