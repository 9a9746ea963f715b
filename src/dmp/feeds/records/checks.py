"""Checking a chunk of legacy record lines with Arrow kernels, not per-line Python objects.

The vectorised checks are a strict fast path of the domain's migration of a line
(records/parser.py: parse_line then the migration rule): a line passes only if every
field has the exact shape the domain accepts unchanged — compact INS with its key
computed in int64 (R1), names of common printable letters without stray spaces, ISO
dates and timestamps that read back as given, the identity consistent with the INS
(R1), not opened in the future nor before the birth. Values that repeat across lines —
departments, channel and opener — are judged once per distinct value by the domain's
own parsers. Every line the fast path doubts is judged by the domain, which either
names the field and the reason or accepts it, normalised (e.g. an INS written with
spaces): the domain stays the one judge of what is valid
(tests/feeds/test_records_checks.py checks that the fast path keeps nothing else).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from functools import lru_cache

import pyarrow as pa
import pyarrow.compute as pc

from dmp.domain.errors import InvalidInput
from dmp.domain.geography import parse_department
from dmp.domain.records import CLOCK_SKEW, RecordStatus, Source, parse_channel, parse_opener
from dmp.feeds.arrow_checks import ins_ok
from dmp.feeds.csvsource import Rejection
from dmp.feeds.records.parser import parse_and_prepare
from dmp.services.legacy_import import PreparedRecord
from dmp.storage.records import BATCH_SCHEMA, records_table

# Letters Python's str.isprintable() accepts in every Unicode version: printable ASCII,
# Latin-1 and Latin Extended-A/B but the no-break space (A0) and the soft hyphen (AD),
# and the combining accents. Arrow's own printable test follows a newer Unicode than
# Python's and passes characters the domain refuses. Other letters go to the domain.
NAME_LETTER = r"[!-~\x{A1}-\x{AC}\x{AE}-\x{24F}\x{300}-\x{36F}]"
# What parse_name keeps unchanged: words of such letters, one space between them.
NAME_SHAPE = rf"^{NAME_LETTER}+( {NAME_LETTER}+)*$"
NAME_MAX = 100
DATE_SHAPE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
# A time of day in whole seconds and an offset of at most ±23:59 (within
# datetime.fromisoformat's range); the date is checked by reading it back.
OPENED_AT_SHAPE = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
OLDEST_BIRTH = date(1880, 1, 1)  # parse_birth_date: earlier is implausibly old
PARIS = "Europe/Paris"  # domain.time.PARIS: the opening's local day (rollups)


def check_chunk(table: pa.Table, now: datetime) -> tuple[pa.Table, list[Rejection]]:
    """The chunk's valid lines as new records (storage BATCH_SCHEMA, in line order) and
    the rejections of the others. `table` holds `line` then the file's text columns."""
    ok, typed = fast_path(table, now)
    good = typed.filter(ok)
    doubtful = table.filter(pc.invert(ok))
    if doubtful.num_rows == 0:
        return good, []
    rejections: list[Rejection] = []
    accepted: list[PreparedRecord] = []
    for row in doubtful.to_pylist():
        judged = parse_and_prepare(row.pop("line"), row, now)
        if isinstance(judged, Rejection):
            rejections.append(judged)
        else:
            accepted.append(judged)
    if accepted:
        good = pa.concat_tables([good, records_table(accepted)]).sort_by("line")
    return good, rejections


def fast_path(table: pa.Table, now: datetime) -> tuple[pa.ChunkedArray, pa.Table]:
    """A mask of the lines surely valid, and every line typed as a new record (the
    values are meaningful only where the mask is true)."""
    ins, birth, opened = table["ins"], table["birth_date"], table["opened_at"]
    birth_date = _date(birth)
    opened_at = pc.strptime(opened, format="%Y-%m-%dT%H:%M:%S%z", unit="us", error_is_null=True)
    opened_on = pc.utf8_slice_codeunits(opened, 0, 10)  # the date as the line writes it
    checks = [
        ins_ok(ins),  # RULES R1: shape and key
        _name_ok(table["family_name"]),
        _name_ok(table["given_names"]),
        pc.match_substring_regex(birth, DATE_SHAPE),
        # Arrow's strptime rolls 30 February over to March: dates must read back as given.
        pc.equal(pc.cast(birth_date, pa.string()), birth),
        pc.less_equal(birth_date, pa.scalar(now.date(), pa.date32())),
        pc.greater_equal(birth_date, pa.scalar(OLDEST_BIRTH, pa.date32())),
        pc.is_in(table["sex"], value_set=pa.array(["F", "M"])),
        _consistent_with_ins(ins, birth, table["sex"]),
        _per_value(table["department"], _department_ok),
        _per_value(
            pc.binary_join_element_wise(table["channel"], table["opened_by"], "|"), _opener_ok
        ),
        pc.match_substring_regex(opened, OPENED_AT_SHAPE),
        pc.equal(pc.cast(_date(opened_on), pa.string()), opened_on),
        pc.less_equal(opened_at, pa.scalar(now + CLOCK_SKEW, pa.timestamp("us", "UTC"))),
        pc.greater_equal(opened_on, birth),  # migrate_record: not before the birth
    ]
    ok = checks[0]
    for check in checks[1:]:
        ok = pc.and_kleene(ok, check)
    return pc.fill_null(ok, False), _typed(table, birth_date, opened_at)


def _date(text: pa.ChunkedArray) -> pa.ChunkedArray:
    parsed = pc.strptime(text, format="%Y-%m-%d", unit="s", error_is_null=True)
    return pc.cast(parsed, pa.date32())


def _name_ok(name: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.and_(
        pc.match_substring_regex(name, NAME_SHAPE),
        pc.less_equal(pc.utf8_length(name), NAME_MAX),
    )


def _consistent_with_ins(
    ins: pa.ChunkedArray, birth: pa.ChunkedArray, sex: pa.ChunkedArray
) -> pa.ChunkedArray:
    """RULES R1 (check_identity_consistency): the sex, the birth year and — for a month
    01–12 — the birth month the INS encodes. Compared as text: both are checked shapes."""
    male = pc.is_in(pc.utf8_slice_codeunits(ins, 0, 1), value_set=pa.array(["1", "3", "7"]))
    month = pc.utf8_slice_codeunits(ins, 3, 5)
    calendar_month = pc.and_(pc.greater_equal(month, "01"), pc.less_equal(month, "12"))
    return pc.and_(
        pc.and_(
            pc.equal(sex, pc.if_else(male, "M", "F")),
            pc.equal(pc.utf8_slice_codeunits(ins, 1, 3), pc.utf8_slice_codeunits(birth, 2, 4)),
        ),
        pc.or_(pc.invert(calendar_month), pc.equal(month, pc.utf8_slice_codeunits(birth, 5, 7))),
    )


def _per_value(column: pa.ChunkedArray, judge: Callable[[str], bool]) -> pa.ChunkedArray:
    """Judge each distinct value once (departments and openers repeat across lines)."""
    distinct = pc.unique(column).drop_null()
    valid = [v for v in distinct.to_pylist() if judge(v)]
    return pc.is_in(column, value_set=pa.array(valid, pa.string()))


@lru_cache(maxsize=1 << 10)
def _department_ok(value: str) -> bool:
    try:
        return parse_department(value).code == value
    except InvalidInput:
        return False


@lru_cache(maxsize=1 << 18)
def _opener_ok(channel_and_opener: str) -> bool:
    text, _, opener = channel_and_opener.partition("|")
    try:
        channel = parse_channel(text)
        return channel.value == text and parse_opener(channel, opener) == (opener or None)
    except InvalidInput:
        return False


def _typed(table: pa.Table, birth_date: pa.ChunkedArray, opened_at: pa.ChunkedArray) -> pa.Table:
    """Every line as the record migrate_record makes of it (record_values' columns)."""
    n = table.num_rows
    opener = table["opened_by"]
    local = pc.local_timestamp(opened_at.cast(pa.timestamp("us", PARIS)))
    columns = {
        "line": table["line"],
        "ins": table["ins"],
        "status": pa.repeat(RecordStatus.OPEN.value, n),
        "source": pa.repeat(Source.LEGACY.value, n),
        "family_name": table["family_name"],
        "given_names": table["given_names"],
        "birth_date": birth_date,
        "sex": table["sex"],
        "channel": table["channel"],
        "opened_by": pc.if_else(pc.equal(opener, ""), pa.scalar(None, pa.string()), opener),
        "department": table["department"],
        "opened_at": opened_at,
        "opened_day": pc.cast(local, pa.date32()),
    }
    return pa.table(
        [columns.get(f.name, pa.nulls(n, f.type)) for f in BATCH_SCHEMA], schema=BATCH_SCHEMA
    )
