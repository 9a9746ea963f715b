"""The vectorised checks of the legacy records feed are a fast path of the domain, never a
second opinion (issue 2): whatever line they pass, the domain accepts with the very
same stored values — the local opening day of the rollups included."""

from __future__ import annotations

import random
import sys
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from dmp.domain.people import Identity, parse_name
from dmp.domain.time import local_date
from dmp.feeds.csvsource import Rejection
from dmp.feeds.records.checks import NAME_SHAPE, check_chunk, fast_path
from dmp.feeds.records.parser import COLUMNS, parse_and_prepare
from dmp.feeds.records.source import SCHEMA
from dmp.feeds.synthetic.files import record_rows
from dmp.storage.records import records_table
from tests.personas import (
    ALICE,
    BOB,
    CLINIC,
    DR_BOB_RPPS,
    INSURER_OFFICE,
    LEO,
    PHARMACY,
    ZOE,
    legacy_line,
    make_ins,
)

NOW = datetime(2018, 12, 10, 12, 0, tzinfo=UTC)
BASE = [
    legacy_line(ALICE, "75", "2018-11-06T09:30:00+01:00", "pharmacy", PHARMACY),
    legacy_line(BOB, "2A", "2018-11-06T23:30:00Z", "online", ""),
    legacy_line(LEO, "13", "2018-11-07T00:10:00+01:00", "establishment", CLINIC),
    legacy_line(ZOE, "974", "2018-11-20T08:00:00-04:00", "professional", DR_BOB_RPPS),
    legacy_line(ALICE, "69", "2016-05-02T14:00:00+02:00", "insurer", INSURER_OFFICE),
    *(",".join(row) for row in record_rows(7, 40)),
]
NOISE = [
    "",
    " ",
    "  ",
    "0",
    "1",
    "9",
    "2A",
    "2B",
    "A",
    "a",
    "Z",
    "-",
    "'",
    ".",
    "é",
    "ß",
    "\u00a0",  # no-break space: not printable for Python
    "\u00ad",  # soft hyphen: not printable for Python
    "\u0301",  # a combining accent: printable
    "\u0378",  # unassigned
    "\u1ad0",  # assigned after Python's Unicode version
    "\t",
    "\x7f",
    "x" * 101,
    "NA",
    "T",
    "+01:00",
    "+24:00",
    "-04:00",
    "+23:59",
    ".5",
    "2018-02-29",
    "2016-02-29",
    "1879-12-31",
    "2018-12-10",
    "2018-12-10T12:04:59Z",
    "2018-12-10T12:05:01Z",
    "24:00:00",
    "23:59:60",
    # Whole timestamps: a day that does not exist, a leap day, before Alice's birth
    # (14 March 1985), and her birthday in Paris but still the 13th in UTC.
    "2018-02-29T10:00:00+01:00",
    "2018-04-31T10:00:00+02:00",
    "2016-02-29T10:00:00+01:00",
    "1985-03-13T23:59:59+01:00",
    "1985-03-14T00:30:00+01:00",
    "1985-03-14T00:30:00+02:00",
    "online",
    "Pharmacy",
    "971",
    "20",
    "2a",
]


def mutants(count: int, seed: int) -> list[dict[str, str]]:
    """Valid lines with one or two fields replaced by near misses."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        fields = rng.choice(BASE).split(",")
        for _ in range(rng.randint(0, 2)):
            i = rng.randrange(len(COLUMNS))
            value, noise = fields[i], rng.choice(NOISE)
            at = rng.randrange(len(value) + 1)
            fields[i] = rng.choice(
                [
                    value[:-1],
                    value + noise,
                    noise + value,
                    noise,
                    value[:at] + noise + value[at + 1 :],
                    value[:at] + noise + value[at:],
                    value.lower(),
                ]
            )
        rows.append(dict(zip(COLUMNS, fields, strict=True)))
    return rows


def as_table(rows: list[dict[str, str]]) -> pa.Table:
    return pa.Table.from_pylist([{"line": n + 2, **r} for n, r in enumerate(rows)], SCHEMA)


def domain_row(line: int, row: dict[str, str]) -> dict[str, object] | Rejection:
    """What the domain makes of the line, as a row of the stored batch."""
    judged = parse_and_prepare(line, row, NOW)
    if isinstance(judged, Rejection):
        return judged
    return dict(records_table([judged]).to_pylist()[0])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_line_the_fast_path_keeps_is_one_the_domain_accepts_identically(seed: int) -> None:
    rows = mutants(3000, seed)
    ok, typed = fast_path(as_table(rows), NOW)
    kept = typed.filter(ok).to_pylist()
    assert 300 < len(kept) < 2700  # both paths were exercised
    for got in kept:
        source = rows[int(got["line"]) - 2]
        expected = domain_row(int(got["line"]), source)
        assert got == expected, f"fast path kept {source}"


@pytest.mark.parametrize("seed", [4, 5])
def test_a_chunk_gives_the_domains_verdict_on_every_line_in_line_order(seed: int) -> None:
    rows = mutants(2000, seed)
    good, rejections = check_chunk(as_table(rows), NOW)
    verdicts = [domain_row(n + 2, row) for n, row in enumerate(rows)]
    assert good.to_pylist() == [v for v in verdicts if not isinstance(v, Rejection)]
    assert rejections == [v for v in verdicts if isinstance(v, Rejection)]
    assert {r.field for r in rejections} <= {*COLUMNS, None}


@pytest.mark.parametrize(
    "opened_at",
    [
        "2018-11-06T22:59:59Z",  # 23:59:59 in Paris (winter: UTC+1)
        "2018-11-06T23:00:00Z",  # midnight in Paris: the 7th
        "2018-11-06T23:30:00+00:00",
        "2018-11-07T00:30:00+01:00",
        "2018-11-06T19:30:00-04:00",  # Guadeloupe's evening is already the 7th in Paris
        "2018-11-07T02:00:00+14:00",  # Kiribati's morning is still the 6th in Paris
        "2018-03-24T23:00:00Z",  # DST starts 25 March at 01:00 UTC
        "2018-03-25T00:59:59Z",
        "2018-03-25T01:00:00Z",
        "2018-03-25T03:00:00+02:00",
        "2018-03-24T22:00:00Z",  # 23:00 on the 24th in Paris (winter)
        "2018-06-30T21:59:59Z",  # 23:59:59 in Paris (summer: UTC+2)
        "2018-06-30T22:00:00Z",
        "2018-10-27T22:00:00Z",  # midnight of the day DST ends (still UTC+2)
        "2018-10-28T00:59:59Z",
        "2018-10-28T01:00:00Z",  # 02:00 again in Paris, now UTC+1
        "2018-10-28T02:30:00+01:00",
        "2018-10-28T02:30:00+02:00",
        "2018-10-28T22:59:59Z",
        "2018-10-28T23:00:00Z",
        "2016-12-31T23:00:00Z",
        "2000-02-29T23:30:00Z",
    ],
)
def test_the_opening_day_is_the_local_day_in_paris_the_domain_computes(opened_at: str) -> None:
    row = dict(zip(COLUMNS, legacy_line(ALICE, opened_at=opened_at).split(","), strict=True))
    ok, typed = fast_path(as_table([row]), NOW)
    assert ok.to_pylist() == [True]
    got = typed.to_pylist()[0]
    assert got == domain_row(2, row)
    assert got["opened_day"] == local_date(datetime.fromisoformat(opened_at))


def test_a_name_passes_the_fast_path_only_if_the_domain_keeps_it_unchanged() -> None:
    """Every character, tried in a name: Arrow's Unicode tables are newer than Python's,
    so the fast path must not pass a letter Python does not call printable."""
    everything = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    names = pa.array([f"A{c}b" for c in everything])
    passed = pc.match_substring_regex(names, NAME_SHAPE)
    for name, ok in zip(names.to_pylist(), passed.to_pylist(), strict=True):
        if ok:
            assert parse_name(name, "family_name") == name, repr(name)
    assert sum(passed.to_pylist()) > 500  # the letters of French names, and more


NEWBORN = Identity(
    make_ins("2", date(2018, 12, 11), "75056", "001"), "Petit", "Lou", date(2018, 12, 11), "F"
)


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (legacy_line(ALICE, opened_at="2018-12-10T12:05:00Z"), None),  # the clock skew
        (legacy_line(ALICE, opened_at="2018-12-10T12:05:01Z"), "DATETIME_FUTURE"),
        (legacy_line(ALICE, opened_at="2018-12-10T13:05:00+01:00"), None),
        (legacy_line(ALICE, opened_at="2018-12-10T13:05:01+01:00"), "DATETIME_FUTURE"),
        # Born "tomorrow" (UTC), opened a minute ago at UTC+12: the birth is in the future.
        (legacy_line(NEWBORN, opened_at="2018-12-11T00:01:00+12:00"), "DATE_FUTURE"),
        (legacy_line(ALICE, opened_at="1985-03-14T00:00:00+01:00"), None),  # born that day
        (legacy_line(ALICE, opened_at="1985-03-13T23:59:59-01:00"), "OPENED_BEFORE_BIRTH"),
    ],
)
def test_the_fast_path_keeps_a_line_at_a_limit_only_if_the_domain_does(
    line: str, code: str | None
) -> None:
    row = dict(zip(COLUMNS, line.split(","), strict=True))
    ok, typed = fast_path(as_table([row]), NOW)
    verdict = domain_row(2, row)
    if code is None:
        assert ok.to_pylist() == [True]
        assert typed.to_pylist()[0] == verdict
    else:
        assert ok.to_pylist() == [False]
        assert isinstance(verdict, Rejection)
        assert verdict.code == code
