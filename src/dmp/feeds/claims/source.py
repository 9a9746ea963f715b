"""Reading a claims file in chunks of text columns: CSV, gzip-compressed CSV, or Parquet
with the same columns (issue 5).

CSV is cut into blocks of whole records (csvsource's rule: never inside quotes), each
parsed by Arrow's CSV reader into string columns; a block Arrow cannot map line for
line (a quoted line break, bytes that are not UTF-8) is parsed by the standard csv
module instead, which names the culprit lines. Positions count bytes of CSV text
(decompressed for .gz), so an import resumes at a block boundary; Parquet positions
count rows, and a Parquet row n is numbered line n + 1, as if it had a header line.
Memory holds one block at a time, whatever the file's size.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from dmp.domain.claims import COLUMNS
from dmp.feeds.csvsource import Block, CsvFileError, Layout, Rejection, parse_block
from dmp.feeds.csvsource import _record_end as record_end

BLOCK_SIZE = 4 << 20  # about 30,000 claim lines: one batch, one transaction
TEXT = pa.string()


@dataclass(slots=True)
class Chunk:
    """Lines of the file as text columns (`line`, then COLUMNS; empty fields null)."""

    table: pa.Table
    rejections: list[Rejection] = field(default_factory=list)
    last_line: int = 0  # the last line this chunk covers
    position: int = 0  # where the file stands after this chunk


class ClaimsFile:
    """A claims file: its kind, its size, and its chunks from a given position."""

    def __init__(self, path: Path, block_size: int = BLOCK_SIZE) -> None:
        self.path = path
        self.block_size = block_size
        try:
            self.size = path.stat().st_size
        except OSError as exc:
            raise CsvFileError(f"{path}: cannot read ({exc.strerror})") from None
        self.kind = _kind(path)
        self.header: list[str] = []
        self.header_size = 0
        self.done = 0  # how far the reading went, in the unit of `total`
        if self.kind == "parquet":
            self.total = _parquet_rows(path)
        else:
            self.total = self.size
            self.header, self.header_size = self._read_header()

    def chunks(self, position: int, first_line: int) -> Iterator[Chunk]:
        """The chunks after `position`, whose first line is `first_line`."""
        if self.kind == "parquet":
            yield from self._parquet_chunks(position)
            return
        with self._open() as raw:
            start = max(position, self.header_size)
            _skip(raw, start)
            carry, line = b"", first_line
            while True:
                data = self._read(raw, start)
                self.done = self._raw_offset(raw, start)
                start += len(data)
                if not data:
                    if carry:
                        yield self._parse(carry, line, start)
                    return
                data = carry + data
                cut = record_end(data, len(data) > max(8 * self.block_size, 1 << 16))
                if cut == 0:
                    carry = data
                    continue
                carry = data[cut:]
                chunk = self._parse(data[:cut], line, start - len(carry))
                line = chunk.last_line + 1
                yield chunk

    # --- CSV -------------------------------------------------------------------------

    def _open(self) -> IO[bytes]:
        if self.kind == "gzip":
            return gzip.GzipFile(self.path, "rb")  # type: ignore[return-value]
        return self.path.open("rb")

    def _read(self, raw: IO[bytes], offset: int) -> bytes:
        """The next block. A file cut short or damaged (a truncated gzip stream) stops
        the import with a clear error: the batches before it stay committed."""
        try:
            return raw.read(self.block_size)
        except (OSError, EOFError, zlib.error) as exc:
            raise CsvFileError(f"{self.path}: unreadable after byte {offset:,} ({exc})") from None

    def _raw_offset(self, raw: IO[bytes], fallback: int) -> int:
        inner = getattr(raw, "fileobj", None)
        return inner.tell() if inner is not None else fallback

    def _read_header(self) -> tuple[list[str], int]:
        try:
            with self._open() as raw:
                first = raw.readline()
        except (OSError, EOFError) as exc:
            raise CsvFileError(f"{self.path}: cannot read ({exc})") from None
        if not first.strip():
            raise CsvFileError(f"{self.path}: the file is empty (a header line is expected)")
        try:
            text = first.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise CsvFileError(f"{self.path}: the header line is not UTF-8") from None
        header = [h.strip().lower() for h in next(csv.reader([text]))]
        _check_columns(self.path, header)
        return header, len(first)

    def _parse(self, data: bytes, first_line: int, end: int) -> Chunk:
        lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
        last = first_line + lines - 1
        table, rejections = _arrow_block(data, first_line, lines, self.header) or _python_block(
            data, first_line, end, self.header
        )
        return Chunk(table, rejections, last, end)

    # --- Parquet -----------------------------------------------------------------------

    def _parquet_chunks(self, position: int) -> Iterator[Chunk]:
        reader = pq.ParquetFile(self.path)
        _check_columns(self.path, reader.schema_arrow.names)
        rows_per_chunk = max(1, self.block_size // 150)
        skip, row = position, 0
        for group in range(reader.num_row_groups):
            size = reader.metadata.row_group(group).num_rows
            if skip >= size:
                skip, row = skip - size, row + size
                continue
            for batch in reader.iter_batches(rows_per_chunk, [group], list(COLUMNS)):
                if skip >= batch.num_rows:
                    skip, row = skip - batch.num_rows, row + batch.num_rows
                    continue
                batch, row, skip = batch.slice(skip), row + skip, 0
                table = pa.table({c: _as_text(batch.column(c)) for c in COLUMNS})
                lines = pa.array(range(row + 2, row + 2 + batch.num_rows), pa.int64())
                row += batch.num_rows
                self.done = row
                yield Chunk(table.add_column(0, "line", lines), [], row + 1, row)


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    with path.open("rb") as raw:
        magic = raw.read(2)
    return "gzip" if magic == b"\x1f\x8b" else "csv"


def _parquet_rows(path: Path) -> int:
    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except (OSError, pa.ArrowException) as exc:
        raise CsvFileError(f"{path}: not a readable Parquet file ({exc})") from None


def _check_columns(path: Path, header: list[str]) -> None:
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise CsvFileError(
            f"{path}: lacks column(s) {', '.join(missing)}; expected {','.join(COLUMNS)}"
        )
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        raise CsvFileError(f"{path}: repeats column(s) {', '.join(repeated)}")


def _skip(raw: IO[bytes], offset: int) -> None:
    """Go to `offset` of the (decompressed) text: seek, or read through for gzip."""
    if not isinstance(raw, gzip.GzipFile):
        raw.seek(offset)
        return
    left = offset
    while left > 0:
        got = len(raw.read(min(left, 1 << 20)))
        if not got:
            return
        left -= got


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Parquet columns may be typed (date32, integers): the checks read text."""
    if not pa.types.is_string(column.type):
        column = column.cast(TEXT)
    empty = pc.equal(column, "")
    return pc.if_else(empty, pa.scalar(None, TEXT), column)


def _arrow_block(
    data: bytes, first_line: int, lines: int, header: list[str]
) -> tuple[pa.Table, list[Rejection]] | None:
    """The block parsed by Arrow, or None if it must go to the csv module: when rows and
    lines do not match one for one (a quoted field spanning lines, a stray quote), or
    Arrow refuses it. Lines that are not UTF-8 are blanked first and rejected by name."""
    data, undecodable = _blank_undecodable_lines(data, first_line)
    wrong: list[tuple[int, int]] = []

    def invalid(row: pa_csv.InvalidRow) -> str:
        wrong.append((row.number or 0, row.actual_columns))
        return "skip"

    try:
        table = pa_csv.read_csv(
            pa.py_buffer(data),
            read_options=pa_csv.ReadOptions(
                column_names=header, use_threads=False, block_size=len(data) + 1
            ),
            parse_options=pa_csv.ParseOptions(
                newlines_in_values=True, ignore_empty_lines=False, invalid_row_handler=invalid
            ),
            convert_options=pa_csv.ConvertOptions(
                include_columns=list(COLUMNS),
                column_types=dict.fromkeys(COLUMNS, TEXT),
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
                null_values=[""],  # only an empty field is absent: a label "NA" is a label
                check_utf8=False,  # checked above, line by line
            ),
        )
    except pa.ArrowInvalid:
        return None
    if table.num_rows + len(wrong) != lines or any(n <= 0 for n, _ in wrong):
        return None
    table = table.add_column(0, "line", _line_numbers(first_line, lines, wrong))
    width = len(header)
    rejections = [
        Rejection(first_line + n - 1, None, "FIELD_COUNT", f"expected {width} fields, got {got}")
        for n, got in wrong
    ]
    return _without_empty_lines(table), sorted([*undecodable, *rejections], key=lambda r: r.line)


def _line_numbers(first_line: int, lines: int, wrong: list[tuple[int, int]]) -> pa.Array:
    """The numbers of the lines Arrow kept: all but the skipped ones (1-based in `wrong`).
    Counted by a kernel: a Python list of 30,000 numbers cost 0.2 µs a line."""
    ones = pa.repeat(pa.scalar(1, pa.int64()), lines)
    numbers = pc.add(pc.cumulative_sum(ones), first_line - 1)
    if not wrong:
        return numbers
    skipped = pa.array([first_line + n - 1 for n, _ in wrong], pa.int64())
    return numbers.filter(pc.invert(pc.is_in(numbers, value_set=skipped)))


def _blank_undecodable_lines(data: bytes, first_line: int) -> tuple[bytes, list[Rejection]]:
    """The block with each line that is not UTF-8 emptied (so every other line keeps its
    number, and Arrow reads only text), and those lines' rejections."""
    view, start = memoryview(data), 0
    kept: list[bytes] = []
    rejections: list[Rejection] = []
    while True:
        try:
            codecs.utf_8_decode(view[start:], "strict", True)
            break
        except UnicodeDecodeError as exc:
            bad = start + exc.start
            begin = data.rfind(b"\n", 0, bad) + 1
            end = data.find(b"\n", bad)
            end = len(data) if end < 0 else end
            number = first_line + data.count(b"\n", 0, begin)
            reason = f"not valid UTF-8 (byte {bad - begin + 1})"
            rejections.append(Rejection(number, None, "ENCODING", reason))
            kept.append(data[start:begin])
            start = end
    if not rejections:
        return data, []
    kept.append(data[start:])
    return b"".join(kept), rejections


def _python_block(
    data: bytes, first_line: int, end: int, header: list[str]
) -> tuple[pa.Table, list[Rejection]]:
    """The block parsed line by line by the csv module (csvsource), for its rejections."""
    layout = Layout(COLUMNS, tuple(header.index(c) for c in COLUMNS), len(header))
    rows: dict[str, list[object]] = {c: [] for c in ("line", *COLUMNS)}
    rejections: list[Rejection] = []
    for item in parse_block(Block(first_line, data, end), layout):
        if isinstance(item, Rejection):
            rejections.append(item)
            continue
        number, values = item
        rows["line"].append(number)
        for c in COLUMNS:
            rows[c].append(values[c] or None)
    schema = pa.schema([("line", pa.int64()), *((c, TEXT) for c in COLUMNS)])
    return _without_empty_lines(pa.table(rows, schema=schema)), rejections


def _without_empty_lines(table: pa.Table) -> pa.Table:
    """Blank lines carry nothing: every field null (the csv module skips them too)."""
    present = None
    for c in COLUMNS:
        valid = pc.is_valid(table[c])
        present = valid if present is None else pc.or_(present, valid)
    return table.filter(present)
