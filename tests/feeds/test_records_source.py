"""Arrow reads the legacy records file exactly as the csv module does (csvsource): the
same rows with the same line numbers, the same lines rejected for the same reasons —
whatever quotes, carriage returns, NULs, blank lines or bad bytes the file holds."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from dmp.feeds.csvsource import CsvSource, Rejection
from dmp.feeds.records.parser import COLUMNS
from dmp.feeds.records.source import RecordsFile
from tests.personas import ALICE, LEGACY_HEADER, legacy_line

PLAIN = legacy_line(ALICE).encode()
NOISE = [
    b'"',
    b'""',
    b'"a,b"',
    b",",
    b"\r",
    b"\r\n",
    b"\n",
    b"\x00",
    b"\xe9",
    b"\xc3\xa9",
    b"",
    b" ",
    b"NA",
    b"x" * 140_000,
]


def noisy_file(path: Path, count: int, seed: int, header: bytes = LEGACY_HEADER.encode()) -> Path:
    """Mostly plain lines; some with noise spliced in at a random place."""
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        line = PLAIN
        for _ in range(rng.choice([0, 0, 0, 1, 2])):
            at = rng.randrange(len(line) + 1)
            line = line[:at] + rng.choice(NOISE) + line[at:]
        lines.append(line)
    path.write_bytes(header + b"\r\n" + b"\n".join(lines) + rng.choice([b"", b"\n"]))
    return path


def through_csv_module(
    path: Path, block_size: int = 1 << 20
) -> tuple[list[tuple[object, ...]], list[Rejection]]:
    rows, rejections = [], []
    for item in CsvSource(path, COLUMNS, block_size):
        if isinstance(item, Rejection):
            rejections.append(item)
        else:
            rows.append((item[0], *(item[1][c] for c in COLUMNS)))
    return rows, sorted(rejections, key=lambda r: r.line)


def through_arrow(path: Path, block_size: int) -> tuple[list[tuple[object, ...]], list[Rejection]]:
    rows: list[tuple[object, ...]] = []
    rejections: list[Rejection] = []
    for chunk in RecordsFile(path, block_size).chunks():
        assert chunk.table.column_names == ["line", *COLUMNS]
        columns = [chunk.table[c].to_pylist() for c in chunk.table.column_names]
        rows.extend(zip(*columns, strict=True))
        rejections.extend(chunk.rejections)
    return rows, sorted(rejections, key=lambda r: r.line)


@pytest.mark.parametrize(("seed", "block_size"), [(1, 1 << 22), (2, 4096), (3, 1500)])
def test_arrow_reads_every_line_as_the_csv_module_does(
    tmp_path: Path, seed: int, block_size: int
) -> None:
    path = noisy_file(tmp_path / "noisy.csv", 2000, seed)
    expected = through_csv_module(path, block_size)
    assert through_arrow(path, block_size) == expected
    # The file mixes plain lines with troubled ones, and the plain rows are read whole
    # (a stray quote may swallow a plain line, a trailing CR may make one plain).
    body = path.read_bytes().split(b"\n")[1:]
    plain = sum(1 for line in body if line == PLAIN)
    assert 0 < plain < len(body)
    plain_row = next(row for row in expected[0] if row[0] == 2 + body.index(PLAIN))
    read_plain = sum(1 for row in expected[0] if row[1:] == plain_row[1:])
    assert abs(read_plain - plain) < 0.05 * plain
    assert {r.code for r in expected[1]} == {"CSV_SYNTAX", "ENCODING", "FIELD_COUNT"}


def test_a_plain_file_is_read_whole_by_arrow_with_its_line_numbers(tmp_path: Path) -> None:
    path = noisy_file(tmp_path / "plain.csv", 100, 0)
    text = path.read_bytes().replace(b"\r\n", b"\n").split(b"\n")
    plain = [text[0], *(line for line in text[1:] if line == PLAIN)]
    path.write_bytes(b"\n".join(plain))
    assert through_arrow(path, 1 << 20) == through_csv_module(path)


def test_columns_are_found_by_name_whatever_their_order(tmp_path: Path) -> None:
    header = [*reversed(LEGACY_HEADER.split(",")), "extra"]
    path = tmp_path / "shuffled.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        values = dict(zip(LEGACY_HEADER.split(","), legacy_line(ALICE).split(","), strict=True))
        writer.writerow([values.get(h, "ignored") for h in header])
    rows, rejections = through_arrow(path, 1 << 20)
    assert rejections == []
    assert rows == [(2, *legacy_line(ALICE).split(","))]
