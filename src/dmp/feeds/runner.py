"""Running a CSV import: parse blocks (in parallel processes for big files), submit
batches, write rejects, show progress.

Each batch is committed on its own, in file order, so an interrupted import keeps
every batch it finished; the services make a rerun idempotent. Parsing overlaps with
storing: worker processes parse the next blocks while a writer thread stores the
previous batch (database drivers release the GIL while they work). A bounded number
of blocks in flight keeps memory flat.
"""

from __future__ import annotations

import csv
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
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

from dmp.feeds.csvsource import Block, CsvSource, Layout, Rejection, parse_block

T = TypeVar("T")
ParseLine = Callable[[int, dict[str, str]], "T | Rejection"]


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
            ("enregistrées", self.inserted),
            ("déjà présentes (ignorées)", self.already_present),
            ("rejetées", self.rejected),
        ]


@contextmanager
def progress_bar(name: str, total: int, show: bool) -> Iterator[Callable[[int, int], None]]:
    """A progress bar over `total` bytes; `advance(done, lines)` moves it."""
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[lines]:,} lignes · {task.fields[rate]:,.0f} lignes/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=not show,
    )
    with bar:
        task = bar.add_task(name, total=total or 1, lines=0, rate=0.0)

        def advance(done: int, lines: int) -> None:
            elapsed = bar.tasks[0].elapsed or 1e-9
            bar.update(task, completed=done, lines=lines, rate=lines / elapsed)

        yield advance


class RejectFile:
    """The reject file (line, field, code, reason), created only if a line is rejected."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None
        self._writer: csv.DictWriter[str] | None = None

    def discard_previous(self) -> None:
        """A reject file left by an earlier run must not outlive a clean rerun."""
        self.path.unlink(missing_ok=True)

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


@dataclass(slots=True)
class Parsed(Generic[T]):
    good: list[T]
    rejected: list[Rejection]
    lines: int
    end_offset: int


def parse_block_lines(block: Block, layout: Layout, parse_line: ParseLine[T]) -> Parsed[T]:
    """Parse one block (runs in a worker process: everything here must pickle)."""
    good: list[T] = []
    rejected: list[Rejection] = []
    lines = 0
    for item in parse_block(block, layout):
        lines += 1
        if isinstance(item, Rejection):
            rejected.append(item)
            continue
        parsed = parse_line(*item)
        if isinstance(parsed, Rejection):
            rejected.append(parsed)
        else:
            good.append(parsed)
    return Parsed(good, rejected, lines, block.end_offset)


class CsvImport(Generic[T]):
    """One import run: `parse_line` turns a line into T or a Rejection (it must be a
    picklable module-level function or partial); `submit` stores a batch."""

    def __init__(
        self,
        source: CsvSource,
        parse_line: ParseLine[T],
        submit: Callable[[list[T]], Submitted],
        rejects_path: Path,
        batch_size: int = 10_000,
        workers: int | None = None,
    ) -> None:
        self.source = source
        self.parse_line = parse_line
        self.submit = submit
        self.rejects = RejectFile(rejects_path)
        self.batch_size = batch_size
        if workers is None:  # parallel parsing pays off only for files of several blocks
            many_blocks = source.size > 4 * source.block_size
            workers = (os.cpu_count() or 1) if many_blocks else 0
        self.workers = workers

    def run(self, show_progress: bool = True) -> ImportSummary:
        summary = ImportSummary()
        self.rejects.discard_previous()
        # Worker processes are forked before the writer thread starts.
        parser = self._parser_pool()
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dmp-import")
        pending: tuple[Future[Submitted] | None, list[Rejection]] | None = None
        try:
            with progress_bar(self.source.path.name, self.source.size, show_progress) as advance:
                for parsed in self._parsed_blocks(parser):
                    summary.read += parsed.lines
                    for i, batch in enumerate(self._batches(parsed.good) or [[]]):
                        rejected = parsed.rejected if i == 0 else []
                        future = writer.submit(self.submit, batch) if batch else None
                        if pending is not None:
                            self._finish(*pending, summary)
                        pending = (future, rejected)
                    advance(parsed.end_offset, summary.read)
                if pending is not None:
                    self._finish(*pending, summary)
        finally:
            writer.shutdown(wait=True, cancel_futures=True)
            if parser is not None:
                parser.shutdown(wait=True, cancel_futures=True)
            self.rejects.close()
        if summary.rejected:
            summary.rejects_path = self.rejects.path
        return summary

    def _parser_pool(self) -> Executor | None:
        if self.workers <= 0:
            return None
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=context)

    def _parsed_blocks(self, pool: Executor | None) -> Iterator[Parsed[T]]:
        job = partial(parse_block_lines, layout=self.source.layout, parse_line=self.parse_line)
        if pool is None:
            yield from map(job, self.source.blocks())
            return
        in_flight: deque[Future[Parsed[T]]] = deque()
        for block in self.source.blocks():
            in_flight.append(pool.submit(job, block))
            if len(in_flight) > 2 * self.workers:
                yield in_flight.popleft().result()
        while in_flight:
            yield in_flight.popleft().result()

    def _batches(self, good: list[T]) -> list[list[T]]:
        return [good[i : i + self.batch_size] for i in range(0, len(good), self.batch_size)]

    def _finish(
        self, future: Future[Submitted] | None, rejected: list[Rejection], summary: ImportSummary
    ) -> None:
        if future is not None:
            outcome = future.result()
            summary.inserted += outcome.inserted
            summary.already_present += outcome.already_present
            rejected = rejected + outcome.rejections
        for rejection in sorted(rejected, key=lambda r: r.line):
            self.rejects.write(rejection)
        summary.rejected += len(rejected)
