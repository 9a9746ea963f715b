"""`dmp import-records`: migrate the legacy system's records from a CSV file (issue 2).

The file is read in chunks by Arrow (source.py) and checked with Arrow kernels
(checks.py); the valid lines are stored in batches of `batch_size` (a batch may span
chunks), each its own transaction committed in file order, by a writer thread while
the next chunk is read and checked (Arrow and the database drivers release the GIL).

On PostgreSQL two writer threads store two batches at once, on two connections: one
inserts its records while the one before updates the rollups, in the order that
services/batches.Turn sets. A batch's records and its rollups cost the server about
the same, so both of its cores work. SQLite has one writer (its write transactions
are exclusive).

At most that many batches are being stored and one batch's worth of checked lines
waits: memory stays flat whatever the file's size. Each line's rejection is written
once the batch that follows it is stored, in line order. An interrupted import keeps
every batch it committed; the service makes a rerun add nothing.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from dmp.feeds.csvsource import Rejection
from dmp.feeds.records.checks import check_chunk
from dmp.feeds.records.source import BLOCK_SIZE, RecordsFile
from dmp.feeds.runner import ImportSummary, RejectFile, Submitted, progress_bar
from dmp.feeds.writers import BatchWriters
from dmp.services.batches import Turn
from dmp.services.context import Ctx
from dmp.services.legacy_import import import_legacy_batch
from dmp.storage.db import Database
from dmp.storage.records import BATCH_SCHEMA

# Records per transaction. Big batches matter here: a batch's rollup rows and the
# primary-key index pages it dirties are nearly one per record at 10,000 records,
# and far fewer per record at 100,000 (bench/import_stages.py).
BATCH_SIZE = 100_000


def import_records_file(
    db: Database,
    ctx: Ctx,
    path: Path,
    rejects_path: Path,
    batch_size: int = BATCH_SIZE,
    show_progress: bool = True,
    block_size: int = BLOCK_SIZE,
) -> ImportSummary:
    source = RecordsFile(path, block_size)
    summary = ImportSummary()
    rejects = RejectFile(rejects_path)
    rejects.discard_previous()

    def store(batch: pa.Table, turn: Turn) -> Submitted:
        """One batch, one transaction (runs in a writer thread)."""
        result = import_legacy_batch(db, ctx, batch, source=path.name, turn=turn)
        conflicts = [Rejection(c.line, c.field, c.code, c.reason) for c in result.conflicts]
        return Submitted(result.inserted, result.already_present, conflicts)

    def finish(stored: Submitted, rejected: list[Rejection]) -> None:
        summary.inserted += stored.inserted
        summary.already_present += stored.already_present
        for rejection in sorted([*rejected, *stored.rejections], key=lambda r: r.line):
            rejects.write(rejection)
        summary.rejected += len(rejected) + len(stored.rejections)

    writers: BatchWriters[tuple[Submitted, list[Rejection]]] = BatchWriters(db, "dmp-records")

    def submit(batch: pa.Table, before: list[Rejection]) -> None:
        for stored, rejected in writers.submit(lambda turn: (store(batch, turn), before)):
            finish(stored, rejected)

    waiting = _Waiting()
    try:
        with progress_bar(path.name, source.size, show_progress) as advance:
            for chunk in source.chunks():
                good, rejected = check_chunk(chunk.table, ctx.now)
                summary.read += chunk.lines
                waiting.add(good, [*chunk.rejections, *rejected])
                while waiting.rows >= batch_size:
                    submit(*waiting.take(batch_size))
                advance(chunk.end_offset, summary.read)
            batch, before = waiting.take(waiting.rows)
            if batch.num_rows:
                submit(batch, before)
                before = []
            for stored, rejected in writers.drain():
                finish(stored, rejected)
            finish(Submitted(), before)
    finally:
        writers.close()
        rejects.close()
    if summary.rejected:
        summary.rejects_path = rejects.path
    return summary


class _Waiting:
    """Checked lines waiting for their batch (which may span chunks), and the rejections
    of the lines read so far, reported with the batch that follows them."""

    def __init__(self) -> None:
        self.tables: list[pa.Table] = []
        self.rows = 0
        self.rejections: list[Rejection] = []

    def add(self, good: pa.Table, rejections: list[Rejection]) -> None:
        self.tables.append(good)
        self.rows += good.num_rows
        self.rejections += rejections

    def take(self, rows: int) -> tuple[pa.Table, list[Rejection]]:
        """The first `rows` lines waiting, and the rejections of the lines before the
        last of them (all of them once nothing else waits)."""
        waiting = pa.concat_tables(self.tables) if self.tables else BATCH_SCHEMA.empty_table()
        batch, rest = waiting.slice(0, rows), waiting.slice(rows)
        self.tables, self.rows = [rest], rest.num_rows
        if rest.num_rows:
            last = batch["line"][-1].as_py() if batch.num_rows else 0
            before = [r for r in self.rejections if r.line < last]
            self.rejections = [r for r in self.rejections if r.line >= last]
        else:
            before, self.rejections = self.rejections, []
        return batch, before
