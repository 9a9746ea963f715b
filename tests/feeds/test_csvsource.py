"""Streaming a UTF-8 CSV file line by line: line numbers, per-line rejects, header checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dmp.feeds.csvsource import CsvFileError, CsvSource, Rejection

COLUMNS = ("a", "b", "c")


Item = tuple[int, dict[str, str]] | Rejection


def source(tmp_path: Path, content: bytes, block_size: int = 1 << 20) -> CsvSource:
    path = tmp_path / "input.csv"
    path.write_bytes(content)
    return CsvSource(path, COLUMNS, block_size=block_size)


def line_of(item: Item) -> int:
    return item[0] if isinstance(item, tuple) else item.line


def read(tmp_path: Path, content: bytes, block_size: int = 1 << 20) -> list[Item]:
    """Rows and rejections by line number (rejections of bad bytes may come first)."""
    return sorted(source(tmp_path, content, block_size), key=line_of)


def test_rows_come_with_their_physical_line_number_the_header_being_line_1(
    tmp_path: Path,
) -> None:
    assert read(tmp_path, b"a,b,c\n1,2,3\n4,5,6\n") == [
        (2, {"a": "1", "b": "2", "c": "3"}),
        (3, {"a": "4", "b": "5", "c": "6"}),
    ]


def test_columns_are_found_by_name_in_any_order_and_case_and_extra_columns_are_ignored(
    tmp_path: Path,
) -> None:
    assert read(tmp_path, b"C, extra ,A,B\n3,x,1,2\n") == [(2, {"a": "1", "b": "2", "c": "3"})]


def test_a_utf8_byte_order_mark_before_the_header_is_ignored(tmp_path: Path) -> None:
    assert read(tmp_path, "\ufeffa,b,c\n1,é,3\n".encode()) == [(2, {"a": "1", "b": "é", "c": "3"})]


def test_crlf_line_endings_are_read_like_lf(tmp_path: Path) -> None:
    assert read(tmp_path, b"a,b,c\r\n1,2,3\r\n4,5,6\r\n") == [
        (2, {"a": "1", "b": "2", "c": "3"}),
        (3, {"a": "4", "b": "5", "c": "6"}),
    ]


def test_a_quoted_field_may_hold_a_comma_a_quote_and_a_line_break(tmp_path: Path) -> None:
    rows = read(tmp_path, b'a,b,c\n1,"Marie, Anne",3\n2,"dit ""Jo""\nsuite",3\n4,5,6\n')
    assert rows == [
        (2, {"a": "1", "b": "Marie, Anne", "c": "3"}),
        (3, {"a": "2", "b": 'dit "Jo"\nsuite', "c": "3"}),
        (5, {"a": "4", "b": "5", "c": "6"}),  # numbering survives the two-line record
    ]


def test_the_last_line_may_lack_its_line_break(tmp_path: Path) -> None:
    assert read(tmp_path, b"a,b,c\n1,2,3") == [(2, {"a": "1", "b": "2", "c": "3"})]


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    assert read(tmp_path, b"a,b,c\n\n1,2,3\n\r\n\n4,5,6\n\n") == [
        (3, {"a": "1", "b": "2", "c": "3"}),
        (6, {"a": "4", "b": "5", "c": "6"}),
    ]


@pytest.mark.parametrize(
    ("line", "got"), [(b"1,2", 2), (b"1,2,3,4", 4), (b"1", 1), (b"1,2,3,", 4), (b" ", 1)]
)
def test_a_line_with_the_wrong_number_of_fields_is_rejected_alone(
    tmp_path: Path, line: bytes, got: int
) -> None:
    rows = read(tmp_path, b"a,b,c\n1,2,3\n" + line + b"\n7,8,9\n")
    assert rows == [
        (2, {"a": "1", "b": "2", "c": "3"}),
        Rejection(3, None, "FIELD_COUNT", f"expected 3 fields, got {got}"),
        (4, {"a": "7", "b": "8", "c": "9"}),
    ]


def test_a_badly_encoded_line_is_rejected_alone_and_numbering_goes_on(tmp_path: Path) -> None:
    rows = read(tmp_path, b"a,b,c\n1,2,3\n4,Andr\xe9,6\n7,8,9\n\xff\xfe,1,2\n10,11,12\n")
    assert rows == [
        (2, {"a": "1", "b": "2", "c": "3"}),
        Rejection(3, None, "ENCODING", "not valid UTF-8 (byte 7)"),
        (4, {"a": "7", "b": "8", "c": "9"}),
        Rejection(5, None, "ENCODING", "not valid UTF-8 (byte 1)"),
        (6, {"a": "10", "b": "11", "c": "12"}),
    ]


def test_a_bad_quote_is_a_csv_syntax_rejection_and_the_next_lines_are_read(
    tmp_path: Path,
) -> None:
    rows = read(tmp_path, b'a,b,c\n1,"2"x,3\n4,5,6\n')
    assert isinstance(rows[0], Rejection)
    assert (rows[0].line, rows[0].code) == (2, "CSV_SYNTAX")
    assert rows[1:] == [(3, {"a": "4", "b": "5", "c": "6"})]


def test_an_unterminated_quote_at_the_end_is_a_csv_syntax_rejection(tmp_path: Path) -> None:
    rows = read(tmp_path, b'a,b,c\n1,2,3\n4,"5,6\n')
    assert rows[0] == (2, {"a": "1", "b": "2", "c": "3"})
    assert isinstance(rows[1], Rejection)
    assert (rows[1].line, rows[1].code) == (3, "CSV_SYNTAX")
    assert len(rows) == 2


def test_a_file_with_only_a_header_has_no_rows(tmp_path: Path) -> None:
    assert read(tmp_path, b"a,b,c\n") == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"a,b\n1,2\n", "lacks column(s) c"),
        (b"x,y,z\n1,2,3\n", "lacks column(s) a, b, c"),
        (b"a,b,c,a\n1,2,3,4\n", "repeats column(s) a"),
        (b"a,b,\xe9\n1,2,3\n", "not UTF-8"),
        (b"1,2,3\n4,5,6\n", "lacks column(s)"),  # no header at all
    ],
)
def test_a_file_that_cannot_be_read_as_a_whole_is_a_csv_file_error(
    tmp_path: Path, content: bytes, message: str
) -> None:
    with pytest.raises(CsvFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read(tmp_path, content)


def test_a_missing_file_is_a_csv_file_error(tmp_path: Path) -> None:
    with pytest.raises(CsvFileError, match="cannot read"):
        CsvSource(tmp_path / "absent.csv", COLUMNS)


# Blocks: the file is parsed in blocks of whole lines (for parallel parsing); what comes
# out must not depend on where the blocks are cut.

LINES = st.sampled_from(
    [
        b"1,2,3\n",
        b"1,2,3\r\n",
        b'"x, y",2,3\n',
        b"\n",
        b"1,2\n",  # FIELD_COUNT
        b"1,\xe9,3\n",  # ENCODING
        b'1,"2"x,3\n',  # CSV_SYNTAX
        "Zoé,Léo,Noël\n".encode(),
    ]
)


@given(st.lists(LINES, max_size=30), st.integers(1, 64))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=150)
def test_rows_and_rejections_do_not_depend_on_the_block_size(
    tmp_path: Path, lines: list[bytes], block_size: int
) -> None:
    content = b"a,b,c\n" + b"".join(lines)
    whole = read(tmp_path, content)
    assert read(tmp_path, content, block_size) == whole
    # Every non-blank line gives one row or one rejection, numbered from 2.
    assert [line_of(x) for x in whole] == [n + 2 for n, x in enumerate(lines) if x.strip()]


def test_a_quoted_line_break_at_a_block_boundary_does_not_cut_the_record(
    tmp_path: Path,
) -> None:
    """Blocks end only at line breaks outside quotes: here the first read ends inside
    the quotes, and the tail of the record ('y,z",3') must not become a row of its own."""
    content = b'a,b,c\n1,"x\ny,z",3\n4,5,6\n'
    expected = [
        (2, {"a": "1", "b": "x\ny,z", "c": "3"}),
        (4, {"a": "4", "b": "5", "c": "6"}),
    ]
    assert read(tmp_path, content) == expected
    for block_size in range(1, 24):
        assert read(tmp_path, content, block_size) == expected, block_size


RECORDS = st.sampled_from(
    [b"1,2,3\n", b'"x\ny",2,3\n', b'1,"a ""b""\n\nc",3\r\n', b"\n", b"1,\xe9,3\n", b"1,2\n"]
)


@given(st.lists(RECORDS, max_size=20), st.integers(1, 48))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=150)
def test_records_spanning_lines_read_the_same_whatever_the_block_size(
    tmp_path: Path, records: list[bytes], block_size: int
) -> None:
    content = b"a,b,c\n" + b"".join(records)
    assert read(tmp_path, content, block_size) == read(tmp_path, content)


def test_a_stray_quote_does_not_make_a_block_grow_without_bound(tmp_path: Path) -> None:
    """An unterminated quote would make the rest of the file one field; blocks still
    end, so memory stays flat, and the lines after the damaged block are read."""
    good = b"1,2,3\n" * 40_000  # 240 kB
    rows = read(tmp_path, b"a,b,c\n" + b'4,"5,6\n' + good, block_size=4096)
    assert isinstance(rows[0], Rejection)
    assert (rows[0].line, rows[0].code) == (2, "CSV_SYNTAX")
    assert rows[-1] == (40_002, {"a": "1", "b": "2", "c": "3"})
    assert len(rows) > 20_000
