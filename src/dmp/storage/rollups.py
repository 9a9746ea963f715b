"""Opening rollups, updated in the same transaction as each opening and closure,
so that statistics never scan the records.

Five rollups: per local day × channel × department (with closures and reopenings),
per day × channel × opener, their monthly twins (a long period reads whole months
there, see domain/periods.py), and per day × channel (day, week and channel
groupings, lifecycle totals).
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from sqlalchemy import Connection, Table, func, literal, select, union_all

from dmp.domain.periods import Grain, month_start, split_period
from dmp.storage.dialect import placeholder, upsert
from dmp.storage.schema import openings_by_day as by_day
from dmp.storage.schema import openings_by_opener as by_opener
from dmp.storage.schema import openings_by_opener_monthly as by_opener_monthly
from dmp.storage.schema import openings_daily as daily
from dmp.storage.schema import openings_monthly as monthly

# (local day, channel, department, opener or '')
OpeningKey = tuple[date, str, str, str]


def add_openings(conn: Connection, openings: Counter[OpeningKey]) -> None:
    """Count openings (one or a batch) in every rollup.

    A batch's counts are summed per rollup row first, then each rollup gets one
    executemany of a fixed upsert statement.
    """
    if not openings:
        return
    per_department: Counter[tuple[date, str, str]] = Counter()
    per_opener: Counter[tuple[date, str, str]] = Counter()
    per_day: Counter[tuple[date, str]] = Counter()
    for (day, channel, department, opener), n in openings.items():
        per_department[(day, channel, department)] += n
        per_opener[(day, channel, opener)] += n
        per_day[(day, channel)] += n
    per_month_department = _per_month(per_department)
    per_month_opener = _per_month(per_opener)
    _add(conn, daily, ["day", "channel", "department"], ["closed", "reopened"], per_department)
    _add(conn, by_opener, ["day", "channel", "opener"], [], per_opener)
    _add(conn, by_day, ["day", "channel"], ["closed", "reopened"], per_day)
    _add(conn, monthly, ["month", "channel", "department"], [], per_month_department)
    _add(conn, by_opener_monthly, ["month", "channel", "opener"], [], per_month_opener)


def _per_month(counts: Counter[tuple[date, str, str]]) -> Counter[tuple[date, str, str]]:
    months: Counter[tuple[date, str, str]] = Counter()
    for (day, channel, value), n in counts.items():
        months[(month_start(day), channel, value)] += n
    return months


def _add(
    conn: Connection,
    table: Table,
    key: list[str],
    extra: list[str],
    counts: Counter[Any],
) -> None:
    """One executemany of a fixed upsert, compiled once and run by the driver's C loop
    (a statement per row through SQLAlchemy cost most of a bulk import's time)."""
    rows: list[tuple[Any, ...]] = [(*k, n, *(0 for _ in extra)) for k, n in sorted(counts.items())]
    columns = [*key, "opened", *extra]
    if conn.dialect.name == "postgresql":
        if len(rows) > _COPY_FROM:
            _copy_add(conn, table.name, key, columns, rows)
            return
    else:  # SQLite stores dates as ISO text, as SQLAlchemy's Date type does
        rows = [(row[0].isoformat(), *row[1:]) for row in rows]
    marks = ", ".join(placeholder(conn) for _ in columns)
    name = table.name
    conn.exec_driver_sql(
        f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET opened = {name}.opened + excluded.opened",
        rows,
    )


# Above this many rows, PostgreSQL gets the batch by COPY (one round trip) rather
# than a pipeline of upserts (one statement each).
_COPY_FROM = 64


def _copy_add(
    conn: Connection, name: str, key: list[str], columns: list[str], rows: list[tuple[Any, ...]]
) -> None:
    raw = conn.connection.driver_connection
    assert raw is not None
    names = ", ".join(columns)
    with raw.cursor() as cur:
        cur.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {name}_load (LIKE {name}) ON COMMIT DELETE ROWS"
        )
        with cur.copy(f"COPY {name}_load ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute(
            f"INSERT INTO {name} ({names}) SELECT {names} FROM {name}_load "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET opened = {name}.opened + excluded.opened"
        )
        cur.execute(f"DELETE FROM {name}_load")


def add_lifecycle(conn: Connection, day: date, channel: str, department: str, column: str) -> None:
    """Count a closure ('closed') or a reopening ('reopened') on `day`."""
    assert column in ("closed", "reopened")
    for table, key in ((daily, {"department": department}), (by_day, {})):
        values: dict[str, object] = {"day": day, "channel": channel, **key}
        values |= {"opened": 0, "closed": 0, "reopened": 0, column: 1}
        conn.execute(
            upsert(conn, table)
            .values(values)
            .on_conflict_do_update(
                index_elements=["day", "channel", *key],
                set_={column: table.c[column] + 1},
            )
        )


def openings_grouped(
    conn: Connection, dimension: str, start: date | None, end: date, channel: str | None
) -> list[tuple[object, str, int]]:
    """Openings in [start, end] grouped by `dimension` (and channel): (value, channel, n).

    Days and channels come from the per-day rollup (a few rows a day); departments and
    openers from their monthly rollup for whole months and daily rollup for the rest.
    """
    if dimension in ("day", "channel"):
        column = by_day.c[dimension]
        query = select(column, by_day.c.channel, func.sum(by_day.c.opened))
        query = query.where(*_days(by_day, start, end))
        if channel is not None:
            query = query.where(by_day.c.channel == channel)
        query = query.group_by(column, by_day.c.channel).having(func.sum(by_day.c.opened) > 0)
        return [(v, c, int(n)) for v, c, n in conn.execute(query)]
    days, months = (by_opener, by_opener_monthly) if dimension == "opener" else (daily, monthly)
    parts = []
    for span in split_period(start, end):
        table, when = (months, months.c.month) if span.grain is Grain.MONTH else (days, days.c.day)
        part = select(
            table.c[dimension].label("value"),
            table.c.channel,
            (table.c.opened * literal(span.sign)).label("n"),
        ).where(when <= span.last)
        if span.first is not None:
            part = part.where(when >= span.first)
        if channel is not None:
            part = part.where(table.c.channel == channel)
        parts.append(part)
    if not parts:
        return []
    rows = union_all(*parts).subquery()
    total = func.sum(rows.c.n)
    query = select(rows.c.value, rows.c.channel, total).group_by(rows.c.value, rows.c.channel)
    return [(v, c, int(n)) for v, c, n in conn.execute(query.having(total > 0))]


def _days(table: Table, start: date | None, end: date) -> list[Any]:
    bounds = [table.c.day <= end]
    if start is not None:
        bounds.append(table.c.day >= start)
    return bounds


def lifecycle_totals(conn: Connection, end: date) -> tuple[int, int, int]:
    """(opened, closed, reopened) up to and including `end`, all channels."""
    row = conn.execute(
        select(
            func.coalesce(func.sum(by_day.c.opened), 0),
            func.coalesce(func.sum(by_day.c.closed), 0),
            func.coalesce(func.sum(by_day.c.reopened), 0),
        ).where(by_day.c.day <= end)
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


def pharmacy_openings(
    conn: Connection, start: date, end: date, channel: str
) -> list[tuple[str, int]]:
    """Openings per opener of `channel` in [start, end] (a month: one monthly range)."""
    return [(str(o), n) for o, _, n in openings_grouped(conn, "opener", start, end, channel)]
