"""Checking a chunk of claim lines with Arrow kernels, not per-line Python objects.

The vectorised checks are a strict fast path: a line passes only if every field has
the exact shape domain.claims accepts (compact INS with its key computed in int64,
ISO dates, codes of the category's nomenclature…). Values that repeat across lines —
codes, RPPS, FINESS — are judged once per distinct value by the domain's own parsers.
Identifiers with a check digit (RPPS, FINESS: Luhn) are checked in int64 arithmetic
over the whole column, as feeds/arrow_checks.py does for the INS: most of them are
distinct within a chunk, so judging each distinct value in Python cost 2.5 µs a line.
Every line the fast path doubts is judged by domain.claims.parse_claim_line, which
either names the field and the reason (a rejection) or accepts it, normalised (e.g. an
INS written with spaces): the domain stays the one judge of what is valid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import date
from functools import lru_cache

import pyarrow as pa
import pyarrow.compute as pc

from dmp.domain.claims import (
    COLUMNS,
    MAX_LABEL,
    MAX_NAME,
    ClaimLine,
    check_care_date,
    parse_category,
    parse_claim_line,
    parse_code,
    window_start,
)
from dmp.domain.errors import InvalidInput
from dmp.feeds.arrow_checks import ins_ok
from dmp.feeds.csvsource import Rejection

SCHEMA = pa.schema(
    [
        ("line", pa.int64()),
        ("claim_id", pa.string()),
        ("ins", pa.string()),
        ("care_date", pa.date32()),
        ("category", pa.string()),
        ("code", pa.string()),
        ("label", pa.string()),
        ("quantity", pa.int32()),
        *((c, pa.string()) for c in COLUMNS[7:]),
    ]
)

CLAIM_ID_SHAPE = r"^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$"
QUANTITY_SHAPE = r"^[1-9][0-9]{0,4}$"
PROFESSION_SHAPE = r"^[0-9]{2}$"
RPPS_SHAPE = r"^[0-9]{11}$"
# domain.identity's FINESS prefixes: departments 01–95 but 20, 2A, 2B, 97, 98.
FINESS_SHAPE = r"^(0[1-9]|1[0-9]|[3-8][0-9]|9[0-5]|2[1-9]|97|98)[0-9]{7}$|^2[AB][0-9]{7}$"
# domain.claims.CONTROL: C0 and C1 control characters.
CONTROL = "[\x00-\x1f\x7f-\x9f]"


def check_chunk(table: pa.Table, today: date) -> tuple[pa.Table, list[Rejection], int]:
    """The valid lines within the window (typed as SCHEMA), the rejections, and how many
    valid lines were older than the window (not kept)."""
    ok, care_date = _fast_path(table, today)
    good = table.filter(ok)
    good = _typed(good, care_date.filter(ok))
    doubtful = table.filter(pc.invert(ok))
    rejections: list[Rejection] = []
    accepted: list[tuple[int, ClaimLine]] = []
    outside = 0
    for row in doubtful.to_pylist():
        try:
            claim = parse_claim_line(row)
            kept = check_care_date(claim.care_date, today)
        except InvalidInput as exc:
            rejections.append(Rejection(row["line"], exc.field, exc.code, exc.message))
            continue
        if kept:
            accepted.append((row["line"], claim))
        else:
            outside += 1
    start = window_start(today)
    within = pc.greater_equal(good["care_date"], pa.scalar(start, pa.date32()))
    outside += good.num_rows - pc.sum(within).as_py() if good.num_rows else 0
    good = good.filter(within)
    if accepted:
        extra = pa.Table.from_pylist([{"line": n, **asdict(c)} for n, c in accepted], schema=SCHEMA)
        good = pa.concat_tables([good, extra]).sort_by("line")
    return good, rejections, outside


def _fast_path(table: pa.Table, today: date) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    """A mask of the lines surely valid and not in the future, and their care dates."""
    care_date = pc.cast(
        pc.strptime(table["care_date"], format="%Y-%m-%d", unit="s", error_is_null=True),
        pa.date32(),
    )
    checks = [
        pc.match_substring_regex(table["claim_id"], CLAIM_ID_SHAPE),
        ins_ok(table["ins"]),
        # Arrow's strptime rolls 30 February over to March: the date must read back as given.
        pc.equal(pc.cast(care_date, pa.string()), table["care_date"]),
        pc.less_equal(care_date, pa.scalar(today, pa.date32())),
        _per_value(pc.binary_join_element_wise(table["category"], table["code"], "|"), _code_ok),
        _text_ok(table["label"], MAX_LABEL),
        pc.match_substring_regex(table["quantity"], QUANTITY_SHAPE),
        _optional(table["performer_rpps"], _rpps_ok),
        _optional(table["performer_name"], lambda c: _text_ok(c, MAX_NAME)),
        _optional(
            table["performer_profession"], lambda c: pc.match_substring_regex(c, PROFESSION_SHAPE)
        ),
        _optional(table["prescriber_rpps"], _rpps_ok),
        _optional(table["facility_finess"], _finess_ok),
    ]
    ok = checks[0]
    for check in checks[1:]:
        ok = pc.and_kleene(ok, check)
    return pc.fill_null(ok, False), care_date


def _text_ok(column: pa.ChunkedArray, limit: int) -> pa.ChunkedArray:
    """Short enough, and no control character (the domain's very pattern). The length
    is counted in bytes, never fewer than characters: a long text with accents is only
    sent to the domain's judgement. Both kernels cost a third of Arrow's Unicode ones
    (utf8_length, utf8_is_printable)."""
    short = pc.less_equal(pc.binary_length(column), limit)
    return pc.and_(short, pc.invert(pc.match_substring_regex(column, CONTROL)))


def _optional(
    column: pa.ChunkedArray, check: Callable[[pa.ChunkedArray], pa.ChunkedArray]
) -> pa.ChunkedArray:
    return pc.or_kleene(pc.is_null(column), check(column))


def _per_value(column: pa.ChunkedArray, judge: Callable[[str], bool]) -> pa.ChunkedArray:
    """Judge each distinct value once (codes and identifiers repeat across lines)."""
    distinct = pc.unique(column).drop_null()
    valid = [v for v in distinct.to_pylist() if judge(v)]
    return pc.is_in(column, value_set=pa.array(valid, pa.string()))


@lru_cache(maxsize=1 << 16)
def _code_ok(category_and_code: str) -> bool:
    category, _, code = category_and_code.partition("|")
    try:
        parse_code(parse_category(category), code)
    except InvalidInput:
        return False
    return True


def _rpps_ok(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """domain.identity.parse_rpps: 11 digits whose Luhn sum is a multiple of 10."""
    shaped = pc.fill_null(pc.match_substring_regex(column, RPPS_SHAPE), False)
    digits = pc.cast(pc.if_else(shaped, column, "0"), pa.int64())
    return pc.and_(shaped, _luhn_ok(digits))


def _finess_ok(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """domain.identity.parse_finess: a department prefix then 7 digits; the Luhn key is
    checked when all 9 characters are digits (not for Corsica's 2A, 2B)."""
    shaped = pc.fill_null(pc.match_substring_regex(column, FINESS_SHAPE), False)
    numeric = pc.and_(shaped, pc.invert(pc.starts_with(column, "2A")))
    numeric = pc.fill_null(pc.and_(numeric, pc.invert(pc.starts_with(column, "2B"))), False)
    digits = pc.cast(pc.if_else(numeric, column, "0"), pa.int64())
    return pc.and_(shaped, pc.or_(pc.invert(numeric), _luhn_ok(digits)))


def _luhn_ok(number: pa.ChunkedArray) -> pa.ChunkedArray:
    """The Luhn test over a column of non-negative integers of up to 12 digits: from the
    right, every second digit doubled (less 9 when over 9), the sum a multiple of 10.
    Four digits at a time, their share of the sum read from a table: 15 passes over
    the column instead of 50 digit by digit."""
    total = pc.multiply(number, 0)
    for _ in range(3):
        rest = pc.divide(number, 10_000)
        group = pc.subtract(number, pc.multiply(rest, 10_000))
        total, number = pc.add(total, pc.take(_LUHN_SHARE, group)), rest
    return pc.equal(pc.subtract(total, pc.multiply(pc.divide(total, 10), 10)), 0)


def _luhn_share(group: int) -> int:
    """What 4 digits (the rightmost one not doubled) add to a Luhn sum."""
    share = 0
    for position in range(4):
        digit = group // 10**position % 10
        doubled = digit * 2 if position % 2 else digit
        share += doubled - 9 if doubled > 9 else doubled
    return share


_LUHN_SHARE = pa.array([_luhn_share(g) for g in range(10_000)], pa.int64())


def _typed(good: pa.Table, care_date: pa.ChunkedArray) -> pa.Table:
    columns = {name: good[name] for name in SCHEMA.names}
    columns["care_date"] = care_date
    columns["quantity"] = pc.cast(good["quantity"], pa.int32())
    return pa.table(columns, schema=SCHEMA)
