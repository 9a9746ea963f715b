"""Streaming a UTF-8 CSV file line by line, with line numbers and per-line rejects.

Each physical line is decoded on its own, so one badly encoded line is rejected
without losing the others; memory stays flat whatever the file size.
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int
    field: str | None
    code: str
    reason: str


class CsvFileError(Exception):
    """The file as a whole cannot be read (missing, empty, wrong header)."""


class CsvSource:
    """Rows of a CSV file as (line number, {column: value}) or a Rejection."""

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        self.path = path
        self.columns = tuple(columns)
        try:
            self.size = path.stat().st_size
        except OSError as exc:
            raise CsvFileError(f"{path}: cannot read ({exc.strerror})") from None
        self.bytes_read = 0
        self._line = 0

    def __iter__(self) -> Iterator[tuple[int, dict[str, str]] | Rejection]:
        with self.path.open("rb") as raw:
            header = self._header(raw)
            positions = [header.index(c) for c in self.columns]
            undecodable: list[Rejection] = []
            physical: deque[int] = deque()  # line numbers of the lines handed to csv
            reader = csv.reader(self._decoded_lines(raw, undecodable, physical), strict=True)
            while True:
                consumed_before = reader.line_num
                try:
                    fields: list[str] | None = next(reader)
                    error = None
                except StopIteration:
                    fields, error = None, None
                except csv.Error as exc:
                    fields, error = None, f"malformed CSV: {exc}"
                yield from undecodable
                undecodable.clear()
                consumed = reader.line_num - consumed_before
                start = physical[0] if physical else self._line
                for _ in range(min(consumed, len(physical))):
                    physical.popleft()
                if error is not None:
                    yield Rejection(start, None, "CSV_SYNTAX", error)
                    continue
                if fields is None:
                    return
                if not fields or fields == [""]:
                    continue
                if len(fields) != len(header):
                    yield Rejection(
                        start,
                        None,
                        "FIELD_COUNT",
                        f"expected {len(header)} fields, got {len(fields)}",
                    )
                    continue
                yield start, {c: fields[p] for c, p in zip(self.columns, positions, strict=True)}

    def _header(self, raw: BinaryIO) -> list[str]:
        first = raw.readline()
        self.bytes_read += len(first)
        self._line = 1
        if not first:
            raise CsvFileError(f"{self.path}: the file is empty (a header line is expected)")
        try:
            text = first.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise CsvFileError(f"{self.path}: the header line is not UTF-8") from None
        header = [h.strip().lower() for h in next(csv.reader([text]))]
        missing = [c for c in self.columns if c not in header]
        if missing:
            raise CsvFileError(
                f"{self.path}: header lacks column(s) {', '.join(missing)}; "
                f"expected {','.join(self.columns)}"
            )
        duplicated = sorted({h for h in header if header.count(h) > 1})
        if duplicated:
            raise CsvFileError(f"{self.path}: header repeats column(s) {', '.join(duplicated)}")
        return header

    def _decoded_lines(
        self, raw: BinaryIO, undecodable: list[Rejection], physical: deque[int]
    ) -> Iterator[str]:
        for chunk in raw:
            self.bytes_read += len(chunk)
            self._line += 1
            try:
                text = chunk.decode("utf-8")
            except UnicodeDecodeError as exc:
                undecodable.append(
                    Rejection(
                        self._line, None, "ENCODING", f"not valid UTF-8 (byte {exc.start + 1})"
                    )
                )
                continue
            physical.append(self._line)
            yield text


def batched(
    items: Iterator[tuple[int, dict[str, str]] | Rejection], size: int
) -> Iterator[list[tuple[int, dict[str, str]] | Rejection]]:
    batch: list[tuple[int, dict[str, str]] | Rejection] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
