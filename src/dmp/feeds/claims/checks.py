"""Checking a chunk of claim lines with Arrow kernels, not per-line Python objects.

The vectorised checks are a strict fast path: a line passes only if every field has
the exact shape domain.claims accepts (compact INS with its key computed in int64,
ISO dates, codes of the category's nomenclature…). Values that repeat across lines —
codes, RPPS, FINESS — are judged once per distinct value by the domain's own parsers.
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
from dmp.domain.identity import parse_finess, parse_rpps
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
        _optional(table["performer_rpps"], lambda c: _per_value(c, _rpps_ok)),
        _optional(table["performer_name"], lambda c: _text_ok(c, MAX_NAME)),
        _optional(
            table["performer_profession"], lambda c: pc.match_substring_regex(c, PROFESSION_SHAPE)
        ),
        _optional(table["prescriber_rpps"], lambda c: _per_value(c, _rpps_ok)),
        _optional(table["facility_finess"], lambda c: _per_value(c, _finess_ok)),
    ]
    ok = checks[0]
    for check in checks[1:]:
        ok = pc.and_kleene(ok, check)
    return pc.fill_null(ok, False), care_date


def _text_ok(column: pa.ChunkedArray, limit: int) -> pa.ChunkedArray:
    """Short enough, and no control character: Arrow's printable test (a fast kernel)
    is stricter than the domain's (it also doubts e.g. a no-break space), which only
    sends such lines to the domain's judgement."""
    short = pc.less_equal(pc.utf8_length(column), limit)
    return pc.and_(short, pc.utf8_is_printable(column))


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


@lru_cache(maxsize=1 << 18)
def _rpps_ok(value: str) -> bool:
    try:
        return parse_rpps(value) == value
    except InvalidInput:
        return False


@lru_cache(maxsize=1 << 18)
def _finess_ok(value: str) -> bool:
    try:
        return parse_finess(value) == value
    except InvalidInput:
        return False


def _typed(good: pa.Table, care_date: pa.ChunkedArray) -> pa.Table:
    columns = {name: good[name] for name in SCHEMA.names}
    columns["care_date"] = care_date
    columns["quantity"] = pc.cast(good["quantity"], pa.int32())
    return pa.table(columns, schema=SCHEMA)
