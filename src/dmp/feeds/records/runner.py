"""`dmp import-records`: migrate the legacy system's records from a CSV file."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from dmp.feeds.csvsource import BLOCK_SIZE, CsvSource, Rejection
from dmp.feeds.records.parser import COLUMNS, parse_and_prepare
from dmp.feeds.runner import CsvImport, ImportSummary, Submitted
from dmp.services.context import Ctx
from dmp.services.legacy_import import PreparedRecord, import_legacy_batch
from dmp.storage.db import Database


def import_records_file(
    db: Database,
    ctx: Ctx,
    path: Path,
    rejects_path: Path,
    batch_size: int = 10_000,
    show_progress: bool = True,
    workers: int | None = None,
    block_size: int = BLOCK_SIZE,
) -> ImportSummary:
    def submit(lines: list[PreparedRecord]) -> Submitted:
        result = import_legacy_batch(db, ctx, lines, source=path.name)
        rejections = [Rejection(c.line, c.field, c.code, c.reason) for c in result.conflicts]
        return Submitted(result.inserted, result.already_present, rejections)

    source = CsvSource(path, COLUMNS, block_size)
    job = CsvImport(
        source, partial(parse_and_prepare, now=ctx.now), submit, rejects_path, batch_size, workers
    )
    return job.run(show_progress)
