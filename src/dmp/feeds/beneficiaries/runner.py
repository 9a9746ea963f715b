"""`dmp import-beneficiaries`: load the insurer's registry from a CSV file."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from dmp.domain.people import Beneficiary
from dmp.feeds.beneficiaries.parser import COLUMNS, parse_line
from dmp.feeds.csvsource import CsvSource
from dmp.feeds.runner import CsvImport, ImportSummary, Submitted
from dmp.services.beneficiaries import load_beneficiaries_batch
from dmp.services.context import Ctx
from dmp.storage.db import Database


def import_beneficiaries_file(
    db: Database,
    ctx: Ctx,
    path: Path,
    rejects_path: Path,
    batch_size: int = 10_000,
    show_progress: bool = True,
    workers: int | None = None,
) -> ImportSummary:
    def submit(lines: list[tuple[int, Beneficiary]]) -> Submitted:
        stored = load_beneficiaries_batch(db, ctx, [b for _, b in lines], source=path.name)
        return Submitted(inserted=stored)

    source = CsvSource(path, COLUMNS)
    parse = partial(parse_line, today=ctx.now.date())
    job = CsvImport(source, parse, submit, rejects_path, batch_size, workers)
    return job.run(show_progress)
