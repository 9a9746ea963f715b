"""`dmp import-records`: migrate the legacy system's records from a CSV file."""

from __future__ import annotations

from pathlib import Path

from dmp.feeds.csvsource import CsvSource, Rejection
from dmp.feeds.records.parser import COLUMNS, parse_line
from dmp.feeds.runner import CsvImport, ImportSummary, Submitted
from dmp.services.context import Ctx
from dmp.services.legacy_import import LegacyLine, import_legacy_batch
from dmp.storage.db import Database


def import_records_file(
    db: Database,
    ctx: Ctx,
    path: Path,
    rejects_path: Path,
    batch_size: int = 5000,
    show_progress: bool = True,
) -> ImportSummary:
    def submit(lines: list[LegacyLine]) -> Submitted:
        result = import_legacy_batch(db, ctx, lines, source=path.name)
        rejections = [Rejection(c.line, c.field, c.code, c.reason) for c in result.conflicts]
        return Submitted(result.inserted, result.already_present, rejections)

    def parse(line: int, row: dict[str, str]) -> LegacyLine | Rejection:
        return parse_line(line, row, ctx.now)

    job = CsvImport(CsvSource(path, COLUMNS), parse, submit, rejects_path, batch_size)
    return job.run(show_progress)
