"""Streaming a UTF-8 CSV file with line numbers and per-line rejects.

The file is cut into blocks of whole lines, each parsed on its own (so blocks can be
parsed in parallel processes); inside a block every physical line is decoded on its
own when the block is not valid UTF-8 as a whole, so one badly encoded line is
rejected without losing the others. Memory stays flat whatever the file size.

A quoted field may span lines: blocks are cut only at line breaks outside quotes.
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

BLOCK_SIZE = 1 << 20  # 1 MiB: about 10,000 lines of a legacy records file

Row = tuple[int, dict[str, str]]


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int
    field: str | None
    code: str
    reason: str


class CsvFileError(Exception):
    """The file as a whole cannot be read (missing, empty, wrong header)."""


@dataclass(frozen=True, slots=True)
class Layout:
    """Where each wanted column sits in the file, and how many fields a line has."""

    columns: tuple[str, ...]
    positions: tuple[int, ...]
    width: int


@dataclass(frozen=True, slots=True)
class Block:
    first_line: int  # the physical line number of the block's first line
    data: bytes
    end_offset: int  # bytes of the file read once this block is done


def read_layout(path: Path, columns: Sequence[str]) -> tuple[Layout, int]:
    """Check the header line; return the layout and the header's size in bytes."""
    try:
        with path.open("rb") as raw:
            first = raw.readline()
    except OSError as exc:
        raise CsvFileError(f"{path}: cannot read ({exc.strerror})") from None
    if not first.strip():
        raise CsvFileError(f"{path}: the file is empty (a header line is expected)")
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CsvFileError(f"{path}: the header line is not UTF-8") from None
    header = [h.strip().lower() for h in next(csv.reader([text]))]
    missing = [c for c in columns if c not in header]
    if missing:
        raise CsvFileError(
            f"{path}: header lacks column(s) {', '.join(missing)}; expected {','.join(columns)}"
        )
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        raise CsvFileError(f"{path}: header repeats column(s) {', '.join(duplicated)}")
    layout = Layout(tuple(columns), tuple(header.index(c) for c in columns), len(header))
    return layout, len(first)


def read_blocks(path: Path, offset: int, block_size: int = BLOCK_SIZE) -> Iterator[Block]:
    """The file from `offset` (just after the header, line 2) in blocks of whole lines."""
    line = 2
    with path.open("rb") as raw:
        raw.seek(offset)
        carry = b""
        while True:
            chunk = raw.read(block_size)
            offset += len(chunk)
            if not chunk:
                if carry:
                    yield Block(line, carry, offset)
                return
            data = carry + chunk
            cut = _record_end(data, len(data) > max(8 * block_size, 1 << 16))
            if cut == 0:
                carry = data
                continue
            carry = data[cut:]
            yield Block(line, data[:cut], offset - len(carry))
            line += data.count(b"\n", 0, cut)


def _record_end(data: bytes, give_up_quotes: bool) -> int:
    """Just after the last line break of `data` that ends a record (0 if none).

    A block starts at a record's start, so a line break after an even number of
    quotes (an escaped quote is doubled) is outside any quoted field; one inside a
    quoted field must not end a block, or the record would be cut in two. A stray
    quote would make the rest of the file one field: past `give_up_quotes`, any line
    break will do (the malformed line is then rejected), so memory stays flat.
    """
    quotes_before = data.count(b'"')
    end = len(data)
    while (newline := data.rfind(b"\n", 0, end)) >= 0:
        quotes_before -= data.count(b'"', newline, end)
        if quotes_before % 2 == 0 or give_up_quotes:
            return newline + 1
        end = newline
    return 0


def parse_block(block: Block, layout: Layout) -> Iterator[Row | Rejection]:
    """The rows of one block, as (line number, {column: value}) or a Rejection."""
    try:
        lines: Sequence[str] = _split_lines(block.data.decode("utf-8"))
        undecodable: list[Rejection] = []
        numbers = deque(range(block.first_line, block.first_line + len(lines)))
    except UnicodeDecodeError:
        lines, undecodable, numbers = _decode_each(block)
    reader = csv.reader(lines, strict=True)
    yield from undecodable
    while True:
        before = reader.line_num
        try:
            fields: list[str] | None = next(reader)
            error = None
        except StopIteration:
            return
        except csv.Error as exc:
            fields, error = None, f"malformed CSV: {exc}"
        start = numbers[0] if numbers else block.first_line
        for _ in range(min(reader.line_num - before, len(numbers))):
            numbers.popleft()
        if error is not None or fields is None:
            yield Rejection(start, None, "CSV_SYNTAX", error or "malformed CSV")
            continue
        if not fields or fields == [""]:
            continue
        if len(fields) != layout.width:
            yield Rejection(
                start, None, "FIELD_COUNT", f"expected {layout.width} fields, got {len(fields)}"
            )
            continue
        yield start, {c: fields[p] for c, p in zip(layout.columns, layout.positions, strict=True)}


def _split_lines(text: str) -> list[str]:
    """Lines ending at "\n" only (str.splitlines would also cut at \x0c, \u2028…)."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _decode_each(block: Block) -> tuple[list[str], list[Rejection], deque[int]]:
    lines: list[str] = []
    rejected: list[Rejection] = []
    numbers: deque[int] = deque()
    for n, raw in enumerate(_split_lines_bytes(block.data), start=block.first_line):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            rejected.append(
                Rejection(n, None, "ENCODING", f"not valid UTF-8 (byte {exc.start + 1})")
            )
            continue
        numbers.append(n)
    return lines, rejected, numbers


def _split_lines_bytes(data: bytes) -> list[bytes]:
    parts = data.split(b"\n")
    lines = [p + b"\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


class CsvSource:
    """All rows of a CSV file in order (the sequential reader: tests, small files)."""

    def __init__(self, path: Path, columns: Sequence[str], block_size: int = BLOCK_SIZE) -> None:
        self.path = path
        self.layout, self.header_size = read_layout(path, columns)
        self.size = path.stat().st_size
        self.block_size = block_size

    def blocks(self) -> Iterator[Block]:
        return read_blocks(self.path, self.header_size, self.block_size)

    def __iter__(self) -> Iterator[Row | Rejection]:
        for block in self.blocks():
            yield from parse_block(block, self.layout)
