"""Reading the legacy records file in chunks of text columns, with Arrow's CSV reader.

The file is cut into blocks of whole lines as csvsource does (never inside quotes; line
numbers and byte offsets kept), and each block is read by Arrow into string columns.
Arrow and the csv module agree on plain lines only, so a line Arrow could read
differently — one holding a quote, a NUL, a carriage return not ending it, bytes that
are not UTF-8, or nothing at all — is read by the csv module on its own (csvsource's
parse_block, which names the culprit: encoding, syntax, field count). A block where a
quote may span lines is read by the csv module whole. The result is, line for line,
what csvsource reads (tests/feeds/test_records_source.py).
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from dmp.feeds.csvsource import Block, Layout, Rejection, parse_block, read_blocks, read_layout
from dmp.feeds.records.parser import COLUMNS

BLOCK_SIZE = 4 << 20  # about 40,000 lines: Arrow's kernels work on long columns
TEXT = pa.string()
SCHEMA = pa.schema([("line", pa.int64()), *((c, TEXT) for c in COLUMNS)])


@dataclass(slots=True)
class Chunk:
    """Lines of the file as text columns (`line`, then COLUMNS; never null) and the lines
    that could not be read as CSV."""

    table: pa.Table
    rejections: list[Rejection] = field(default_factory=list)
    end_offset: int = 0  # bytes of the file read once this chunk is done

    @property
    def lines(self) -> int:
        return int(self.table.num_rows) + len(self.rejections)


class RecordsFile:
    """A legacy records file: its header checked on opening, then its chunks."""

    def __init__(self, path: Path, block_size: int = BLOCK_SIZE) -> None:
        self.path = path
        self.layout, self.header_size = read_layout(path, COLUMNS)
        self.size = path.stat().st_size
        self.block_size = block_size
        # Arrow names every column of the file; the ones not wanted are skipped.
        names = {p: c for c, p in zip(self.layout.columns, self.layout.positions, strict=True)}
        self.names = [names.get(i, f"_ignored_{i}") for i in range(self.layout.width)]

    def chunks(self) -> Iterator[Chunk]:
        for block in read_blocks(self.path, self.header_size, self.block_size):
            yield read_block(block, self.layout, self.names)


def read_block(block: Block, layout: Layout, names: list[str]) -> Chunk:
    data = block.data
    numbers = range(block.first_line, block.first_line + _count_lines(data))
    if _plain(data):
        read = _arrow_lines(data, list(numbers), layout, names)
        if read is not None:
            return Chunk(read[0], read[1], block.end_offset)
    return _line_by_line(block, layout, names, numbers)


def _plain(data: bytes) -> bool:
    """Nothing in the block that Arrow and the csv module could read differently."""
    return (
        b'"' not in data
        and b"\x00" not in data
        and data.count(b"\r") == data.count(b"\r\n")
        and not data.startswith((b"\n", b"\r\n"))
        and b"\n\n" not in data
        and b"\n\r\n" not in data
        and _is_utf8(data)
    )


def _is_utf8(data: bytes) -> bool:
    try:
        codecs.utf_8_decode(data, "strict", True)
    except UnicodeDecodeError:
        return False
    return True


def _count_lines(data: bytes) -> int:
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


def _line_by_line(block: Block, layout: Layout, names: list[str], numbers: range) -> Chunk:
    """Plain lines through Arrow, the others through the csv module one by one; the
    whole block through the csv module when a quote is left open at a line's end."""
    plain: list[bytes] = []
    plain_numbers: list[int] = []
    others: list[Block] = []
    for number, line in zip(numbers, _split(block.data), strict=True):
        if line.count(b'"') % 2:
            return _csv_module(block, layout)
        if _plain(line) and line.strip(b"\r\n"):
            plain.append(line if line.endswith(b"\n") else line + b"\n")
            plain_numbers.append(number)
        else:
            others.append(Block(number, line, block.end_offset))
    read = _arrow_lines(b"".join(plain), plain_numbers, layout, names) if plain else None
    if plain and read is None:
        return _csv_module(block, layout)
    tables, rejections = [read[0]] if read else [], list(read[1]) if read else []
    for other in others:
        chunk = _csv_module(other, layout)
        tables.append(chunk.table)
        rejections.extend(chunk.rejections)
    table = pa.concat_tables(tables).sort_by("line") if tables else SCHEMA.empty_table()
    return Chunk(table, sorted(rejections, key=lambda r: r.line), block.end_offset)


def _split(data: bytes) -> list[bytes]:
    """Lines ending at "\n" only, as csvsource cuts them."""
    parts = data.split(b"\n")
    lines = [p + b"\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _arrow_lines(
    data: bytes, numbers: list[int], layout: Layout, names: list[str]
) -> tuple[pa.Table, list[Rejection]] | None:
    """Plain lines read by Arrow, numbered; None if Arrow did not map them one for one."""
    wrong: list[tuple[int, int, str]] = []

    def invalid(row: pa_csv.InvalidRow) -> str:
        wrong.append((row.number or 0, row.actual_columns, row.text or ""))
        return "skip"

    try:
        table = pa_csv.read_csv(
            pa.py_buffer(data),
            read_options=pa_csv.ReadOptions(
                column_names=names, use_threads=False, block_size=len(data) + 1
            ),
            parse_options=pa_csv.ParseOptions(
                quote_char=False, ignore_empty_lines=False, invalid_row_handler=invalid
            ),
            convert_options=pa_csv.ConvertOptions(
                include_columns=list(COLUMNS),
                column_types=dict.fromkeys(COLUMNS, TEXT),
                strings_can_be_null=False,  # "" is an empty field, "NA" a name
            ),
        )
    except pa.ArrowInvalid:
        return None
    limit = csv.field_size_limit()
    if (
        table.num_rows + len(wrong) != len(numbers)
        or any(n <= 0 or len(text) > limit for n, _, text in wrong)
        or any(_longest(table[c]) > limit for c in COLUMNS)
    ):
        return None  # the csv module refuses fields past its limit: let it say so
    skipped = {n - 1 for n, _, _ in wrong}
    kept = [n for i, n in enumerate(numbers) if i not in skipped] if skipped else numbers
    table = table.add_column(0, "line", pa.array(kept, pa.int64()))
    rejections = [
        Rejection(numbers[n - 1], None, "FIELD_COUNT", f"expected {layout.width} fields, got {got}")
        for n, got, _ in wrong
    ]
    return table, rejections


def _longest(column: pa.ChunkedArray) -> int:
    longest = pc.max(pc.binary_length(column)).as_py()
    return int(longest or 0)


def _csv_module(block: Block, layout: Layout) -> Chunk:
    """The block read line by line by the csv module (csvsource.parse_block)."""
    rows: dict[str, list[object]] = {c: [] for c in SCHEMA.names}
    rejections: list[Rejection] = []
    for item in parse_block(block, layout):
        if isinstance(item, Rejection):
            rejections.append(item)
            continue
        number, values = item
        rows["line"].append(number)
        for c in COLUMNS:
            rows[c].append(values[c])
    return Chunk(pa.table(rows, schema=SCHEMA), rejections, block.end_offset)
