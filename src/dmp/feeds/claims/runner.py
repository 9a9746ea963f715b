"""`dmp import-claims`: the insurer's claims file into the care histories (issue 5).

The file is read in chunks (source.py), checked with Arrow kernels (checks.py),
prepared (services.claims_import.prepare_batch: repeats judged, COPY text written) and
stored batch by batch, committed in file order, by a writer thread while the next
chunk is read, checked and prepared (Arrow and the database driver release the GIL).
On PostgreSQL two writer threads store two batches at once, on two connections, so
that the server's two cores both work (services.claims_import says how they keep out
of each other's way); SQLite has one (its write transactions are exclusive). At most
one chunk is being read and that many stored: memory stays flat whatever the file's
size. A failure on either side stops the import once the batches being stored have
committed or rolled back whole (a batch after a failed one gives up): the writer's is
raised when its batch is awaited, the reader's after the writers are shut down.

Resuming: each batch's transaction also records where the file stands (the
claim_import row of the file's SHA-256), so after a crash or Ctrl-C a rerun of the same
file starts after the last committed batch — no line lost, none stored twice. The
reject file is written before each commit and, on a resume, cut back to the lines of
the committed batches, so it lists each rejected line exactly once.
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import IO

from dmp.domain.time import local_date
from dmp.feeds.claims.checks import check_chunk
from dmp.feeds.claims.source import BLOCK_SIZE, Chunk, ClaimsFile
from dmp.feeds.runner import progress_bar
from dmp.feeds.writers import BatchWriters
from dmp.services.claims_import import (
    BatchResult,
    ClaimBatch,
    LineIssue,
    PreparedBatch,
    begin_import,
    finish_import,
    one_import_at_a_time,
    prepare_batch,
    store_batch,
)
from dmp.services.context import Ctx
from dmp.storage.claims import ImportProgress
from dmp.storage.db import Database

REJECT_COLUMNS = ["line", "field", "code", "reason"]


@dataclass(slots=True)
class ClaimsSummary:
    counts: dict[str, int]
    resumed_after: int | None = None  # the last line of an earlier, interrupted run
    rejects_path: Path | None = None
    # Committed batches, counted: keeping each one's result (and its issues) would grow
    # with the file, and memory must not.
    batches: int = 0

    def lines(self) -> list[tuple[str, int]]:
        c = self.counts
        return [
            ("lignes lues", c["read"]),
            ("enregistrées", c["inserted"]),
            ("doublons (déjà présentes)", c["duplicates"]),
            ("en conflit", c["conflicts"]),
            ("rejetées", c["rejected"]),
            ("bénéficiaire inconnu (ignorées)", c["unknown"]),
            ("plus de 24 mois (ignorées)", c["outside"]),
        ]

    @property
    def failed(self) -> bool:
        """Anything rejected or in conflict: the command exits non-zero."""
        return bool(self.counts["rejected"] or self.counts["conflicts"])


def import_claims_file(
    db: Database,
    ctx: Ctx,
    path: Path,
    rejects_path: Path,
    *,
    block_size: int = BLOCK_SIZE,
    show_progress: bool = True,
    after_batch: Callable[[int], None] | None = None,
) -> ClaimsSummary:
    """Import (or resume importing) `path`; `after_batch(n)` is told of each committed
    batch (tests use it to interrupt an import)."""
    source = ClaimsFile(path, block_size)
    with one_import_at_a_time(db):
        fresh = ImportProgress(fingerprint(path), path.name, source.size)
        progress = begin_import(db, ctx, fresh)
        resumed = progress.line if progress is not fresh else None
        summary = ClaimsSummary(progress.counts, resumed)
        with _rejects(rejects_path, progress.line if resumed else None) as rejects:
            _store_batches(db, ctx, source, progress, rejects, summary, show_progress, after_batch)
            finish_import(db, ctx, progress)
    summary.counts = progress.counts
    if summary.counts["rejected"] or summary.counts["conflicts"]:
        summary.rejects_path = rejects_path
    return summary


def _store_batches(
    db: Database,
    ctx: Ctx,
    source: ClaimsFile,
    progress: ImportProgress,
    rejects: RejectFile,
    summary: ClaimsSummary,
    show_progress: bool,
    after_batch: Callable[[int], None] | None,
) -> None:
    today = local_date(ctx.now)
    writers: BatchWriters[BatchResult] = BatchWriters(db, "dmp-claims")
    previous: PreparedBatch | None = None

    def committed(_: BatchResult) -> None:
        summary.batches += 1
        if after_batch:
            after_batch(summary.batches)

    try:
        with progress_bar(source.path.name, source.total, show_progress) as advance:
            for chunk in source.chunks(progress.position, progress.line + 1):
                prepared = prepare_batch(db, _batch(chunk, today), previous)
                for result in writers.submit(
                    partial(store_batch, db, ctx, progress, prepared, rejects)
                ):
                    committed(result)
                previous = prepared
                advance(source.done, progress.counts["read"])
            for result in writers.drain():
                committed(result)
    finally:
        writers.close()


def _batch(chunk: Chunk, today: date) -> ClaimBatch:
    lines, rejections, outside = check_chunk(chunk.table, today)
    issues = [
        LineIssue(r.line, r.field or "", r.code, r.reason) for r in (*chunk.rejections, *rejections)
    ]
    read = chunk.table.num_rows + len(chunk.rejections)
    return ClaimBatch(lines, issues, read, outside, chunk.last_line, chunk.position)


def fingerprint(path: Path) -> str:
    """SHA-256 of the file's bytes: the same file resumes, a changed one starts anew."""
    digest = hashlib.sha256()
    with path.open("rb") as raw:
        while block := raw.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


class RejectFile:
    """The reject file: line, field, code, reason; flushed to disk before each commit."""

    def __init__(self, handle: IO[str]) -> None:
        self.handle = handle
        self.writer = csv.writer(handle, lineterminator="\n")

    def __call__(self, issues: list[LineIssue]) -> None:
        if not issues:
            return
        self.writer.writerows((i.line, i.field, i.code, i.reason) for i in issues)
        self.handle.flush()
        os.fsync(self.handle.fileno())


@contextmanager
def _rejects(path: Path, resumed_after: int | None) -> Iterator[RejectFile]:
    """A fresh reject file, or on a resume the earlier one cut to the committed lines."""
    kept: list[list[str]] = []
    if resumed_after is not None and path.exists():
        with path.open(encoding="utf-8", newline="") as old:
            rows = list(csv.reader(old))[1:]
        kept = [r for r in rows if r and r[0].isdigit() and int(r[0]) <= resumed_after]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(REJECT_COLUMNS)
        writer.writerows(kept)
        yield RejectFile(handle)
    if not kept and _only_header(path):
        path.unlink()  # nothing rejected: no reject file


def _only_header(path: Path) -> bool:
    with path.open(encoding="utf-8") as f:
        return sum(1 for _ in f) <= 1
