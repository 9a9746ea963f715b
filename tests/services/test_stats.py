"""Openings statistics against a count of the openings themselves (issue 2).

Openings over three years, many openers, departments and channels go into the rollups
in several batches (as imports do), with a few closures and reopenings; then every
grouping over many periods — within a month, across months, from the beginning, on
month edges — must equal what counting the openings one by one gives. The monthly
rollups and the signed spans (domain/periods.py) are thereby checked end to end, on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest
from sqlalchemy import select

from dmp.domain.geography import departments
from dmp.domain.records import Channel
from dmp.domain.stats import ONLINE_OPENER, GroupBy, make_openings_query
from dmp.domain.time import iso_week
from dmp.services import stats
from dmp.storage import rollups
from dmp.storage.db import Database
from dmp.storage.rollups import OPENINGS_SCHEMA, OpeningKey
from dmp.storage.schema import (
    openings_by_day,
    openings_by_opener,
    openings_by_opener_monthly,
    openings_daily,
    openings_monthly,
)

FIRST = date(2018, 10, 20)
DAYS = 3 * 365
DEPARTMENTS = ["75", "2A", "971", "13", "69"]
UNIT = Decimal("1.00")


def _openings(seed: int) -> list[OpeningKey]:
    rng = random.Random(seed)
    found: list[OpeningKey] = []
    for _ in range(4000):
        day = FIRST + timedelta(days=int(DAYS * rng.random() ** 2))  # denser early
        channel = rng.choice(list(Channel))
        opener = "" if channel is Channel.ONLINE else f"{channel.value[:3]}{rng.randrange(40)}"
        found.append((day, channel.value, rng.choice(DEPARTMENTS), opener))
    return found


def _batch(openings: list[OpeningKey]) -> pa.Table:
    return pa.Table.from_pylist(
        [dict(zip(OPENINGS_SCHEMA.names, o, strict=True)) for o in openings], OPENINGS_SCHEMA
    )


def _expected(
    openings: list[OpeningKey], by: GroupBy, start: date | None, end: date, channel: str | None
) -> Counter[str]:
    counts: Counter[str] = Counter()
    for day, ch, department, opener in openings:
        if day > end or (start is not None and day < start) or (channel and ch != channel):
            continue
        key = {
            GroupBy.CHANNEL: ch,
            GroupBy.DEPARTMENT: department,
            GroupBy.REGION: departments()[department].region_code,
            GroupBy.OPENER: opener or ONLINE_OPENER,
            GroupBy.WEEK: iso_week(day),
            GroupBy.DAY: day.isoformat(),
        }[by]
        counts[key] += 1
    return counts


def _periods(rng: random.Random) -> list[tuple[date | None, date]]:
    last = FIRST + timedelta(days=DAYS)
    chosen: list[tuple[date | None, date]] = [
        (None, last),
        (None, date(2019, 2, 28)),
        (date(2018, 11, 6), date(2018, 12, 30)),  # the launch weeks
        (date(2019, 1, 1), date(2019, 12, 31)),  # whole months only
        (date(2019, 3, 3), date(2019, 3, 9)),  # inside a month
        (date(2019, 3, 2), date(2019, 3, 31)),  # most of a month
        (date(2020, 2, 29), date(2020, 2, 29)),  # one leap day
    ]
    for _ in range(12):
        a = FIRST + timedelta(days=rng.randrange(DAYS))
        b = a + timedelta(days=rng.randrange(500))
        chosen.append((a, b))
    return chosen


@pytest.mark.parametrize("by", list(GroupBy))
def test_every_grouping_counts_what_the_openings_say(db: Database, by: GroupBy) -> None:
    openings = _openings(seed=2)
    with db.write() as conn:  # several batches: the upserts must add up
        for i in range(0, len(openings), 700):
            rollups.add_openings(conn, _batch(openings[i : i + 700]))
    rng = random.Random(by.value)
    for start, end in _periods(rng):
        for channel in (None, "pharmacy"):
            query = make_openings_query(start, end, by.value, channel)
            report = stats.openings(db, query)
            got = {g.key: g.count for g in report.groups if g.count}
            want = _expected(openings, by, start, end, channel)
            assert got == dict(want), (start, end, channel)
            assert report.total == sum(want.values())


def test_lifecycle_totals_and_pharmacy_fees(db: Database) -> None:
    openings = _openings(seed=3)
    with db.write() as conn:
        rollups.add_openings(conn, _batch(openings))
        rollups.add_lifecycle(conn, date(2019, 5, 2), "pharmacy", "75", "closed")
        rollups.add_lifecycle(conn, date(2019, 5, 2), "online", "13", "closed")
        rollups.add_lifecycle(conn, date(2019, 7, 1), "online", "13", "reopened")
    end = date(2019, 6, 30)
    totals = stats.totals(db, end)
    assert totals.opened == sum(1 for o in openings if o[0] <= end)
    assert (totals.closed, totals.reopened) == (2, 0)
    assert stats.totals(db, date(2019, 7, 1)).reopened == 1
    fees = {f.finess: f.openings for f in stats.monthly_pharmacy_fees(db, "2019-03", UNIT)}
    march = Counter(
        o[3] for o in openings if o[1] == "pharmacy" and (o[0].year, o[0].month) == (2019, 3)
    )
    assert fees == dict(march)
    assert fees  # the month has pharmacy openings: the comparison means something


ROLLUP_TABLES = (
    openings_daily,
    openings_by_opener,
    openings_by_day,
    openings_monthly,
    openings_by_opener_monthly,
)


def _rollup_rows(db: Database) -> dict[str, list[tuple[object, ...]]]:
    with db.read() as conn:
        return {t.name: sorted(tuple(r) for r in conn.execute(select(t))) for t in ROLLUP_TABLES}


def test_one_opening_at_a_time_counts_as_a_batch_does(db: Database) -> None:
    """The interactive path (an upsert per rollup) and the bulk path (Arrow counts,
    COPY on PostgreSQL past 64 rows) must leave the very same rows."""
    openings = _openings(seed=4)[:400]
    with db.write() as conn:
        rollups.add_openings(conn, _batch(openings))
        rollups.add_openings(conn, _batch(openings[:50]))  # again: adds up on existing rows
    batched = _rollup_rows(db)
    assert all(batched.values())  # every rollup got rows: the comparison means something
    with db.write() as conn:
        for table in ROLLUP_TABLES:
            conn.execute(table.delete())
        for opening in openings + openings[:50]:
            rollups.add_opening(conn, opening)
    assert _rollup_rows(db) == batched
