"""Running a CSV import: stream, parse, submit in batches, write rejects, show progress.

Each batch is committed on its own, so an interrupted import keeps every batch it
finished; the services make a rerun idempotent.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Generic, TypeVar

from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from dmp.feeds.csvsource import CsvSource, Rejection, batched

T = TypeVar("T")


@dataclass(slots=True)
class Submitted:
    inserted: int = 0
    already_present: int = 0
    rejections: list[Rejection] = field(default_factory=list)


@dataclass(slots=True)
class ImportSummary:
    read: int = 0
    inserted: int = 0
    already_present: int = 0
    rejected: int = 0
    rejects_path: Path | None = None

    def lines(self) -> list[tuple[str, int]]:
        return [
            ("lignes lues", self.read),
            ("ajoutées", self.inserted),
            ("déjà présentes (ignorées)", self.already_present),
            ("rejetées", self.rejected),
        ]


class RejectFile:
    """The reject file, created only if a line is rejected."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None
        self._writer: csv.DictWriter[str] | None = None

    def write(self, rejection: Rejection) -> None:
        if self._writer is None:
            self._handle = self.path.open("w", encoding="utf-8", newline="")
            self._writer = csv.DictWriter(self._handle, ["line", "field", "code", "reason"])
            self._writer.writeheader()
        self._writer.writerow(
            {
                "line": rejection.line,
                "field": rejection.field or "",
                "code": rejection.code,
                "reason": rejection.reason,
            }
        )

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


class CsvImport(Generic[T]):
    """One import run: `parse` turns a line into T or a Rejection, `submit` stores a batch."""

    def __init__(
        self,
        source: CsvSource,
        parse: Callable[[int, dict[str, str]], T | Rejection],
        submit: Callable[[list[T]], Submitted],
        rejects_path: Path,
        batch_size: int = 5000,
    ) -> None:
        self.source = source
        self.parse = parse
        self.submit = submit
        self.rejects = RejectFile(rejects_path)
        self.batch_size = batch_size

    def run(self, show_progress: bool = True) -> ImportSummary:
        summary = ImportSummary()
        progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[lines]:,} lignes · {task.fields[rate]:,.0f} lignes/s"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            disable=not show_progress,
        )
        try:
            with progress:
                task = progress.add_task(
                    self.source.path.name, total=self.source.size or 1, lines=0, rate=0.0
                )
                for batch in batched(iter(self.source), self.batch_size):
                    self._run_batch(batch, summary)
                    elapsed = progress.tasks[0].elapsed or 1e-9
                    progress.update(
                        task,
                        completed=self.source.bytes_read,
                        lines=summary.read,
                        rate=summary.read / elapsed,
                    )
        finally:
            self.rejects.close()
        if summary.rejected:
            summary.rejects_path = self.rejects.path
        return summary

    def _run_batch(
        self, batch: list[tuple[int, dict[str, str]] | Rejection], summary: ImportSummary
    ) -> None:
        good: list[T] = []
        rejected: list[Rejection] = []
        for item in batch:
            summary.read += 1
            if isinstance(item, Rejection):
                rejected.append(item)
                continue
            parsed = self.parse(*item)
            if isinstance(parsed, Rejection):
                rejected.append(parsed)
            else:
                good.append(parsed)
        if good:
            outcome = self.submit(good)
            summary.inserted += outcome.inserted
            summary.already_present += outcome.already_present
            rejected.extend(outcome.rejections)
        for rejection in sorted(rejected, key=lambda r: r.line):
            self.rejects.write(rejection)
        summary.rejected += len(rejected)
