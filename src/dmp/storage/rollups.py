"""Opening rollups, updated in the same transaction as each opening and closure,
so that statistics never scan the records."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from sqlalchemy import Connection, Table, func, select

from dmp.storage.dialect import placeholder, upsert
from dmp.storage.schema import openings_by_opener as by_opener
from dmp.storage.schema import openings_daily as daily

# (local day, channel, department, opener or '')
OpeningKey = tuple[date, str, str, str]


def add_openings(conn: Connection, openings: Counter[OpeningKey]) -> None:
    """Count openings (one or a batch) in both rollups.

    A batch's counts are summed per rollup row first, then each rollup gets one
    executemany of a fixed upsert statement.
    """
    if not openings:
        return
    per_department: Counter[tuple[date, str, str]] = Counter()
    per_opener: Counter[tuple[date, str, str]] = Counter()
    for (day, channel, department, opener), n in openings.items():
        per_department[(day, channel, department)] += n
        per_opener[(day, channel, opener)] += n
    department_rows = [(*k, n, 0, 0) for k, n in sorted(per_department.items())]
    opener_rows = [(*k, n) for k, n in sorted(per_opener.items())]
    _add(conn, daily, ["day", "channel", "department"], ["closed", "reopened"], department_rows)
    _add(conn, by_opener, ["day", "channel", "opener"], [], opener_rows)


def _add(
    conn: Connection,
    table: Table,
    key: list[str],
    extra: list[str],
    rows: list[tuple[Any, ...]],
) -> None:
    """One executemany of a fixed upsert, compiled once and run by the driver's C loop
    (a statement per row through SQLAlchemy cost most of a bulk import's time)."""
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
    stmt = upsert(conn, daily)
    values = {
        "day": day,
        "channel": channel,
        "department": department,
        "opened": 0,
        "closed": 0,
        "reopened": 0,
    }
    values[column] = 1
    conn.execute(
        stmt.values(values).on_conflict_do_update(
            index_elements=["day", "channel", "department"],
            set_={column: daily.c[column] + 1},
        )
    )


def openings_grouped(
    conn: Connection, dimension: str, start: date | None, end: date, channel: str | None
) -> list[tuple[object, str, int]]:
    """Openings in [start, end] grouped by `dimension` (and channel): (value, channel, n)."""
    table = by_opener if dimension == "opener" else daily
    column = table.c[dimension]
    query = select(column, table.c.channel, func.sum(table.c.opened)).where(table.c.day <= end)
    if start is not None:
        query = query.where(table.c.day >= start)
    if channel is not None:
        query = query.where(table.c.channel == channel)
    query = query.group_by(column, table.c.channel).having(func.sum(table.c.opened) > 0)
    return [(v, c, int(n)) for v, c, n in conn.execute(query)]


def lifecycle_totals(conn: Connection, end: date) -> tuple[int, int, int]:
    """(opened, closed, reopened) up to and including `end`, all channels."""
    row = conn.execute(
        select(
            func.coalesce(func.sum(daily.c.opened), 0),
            func.coalesce(func.sum(daily.c.closed), 0),
            func.coalesce(func.sum(daily.c.reopened), 0),
        ).where(daily.c.day <= end)
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


def pharmacy_openings(
    conn: Connection, start: date, end: date, channel: str
) -> list[tuple[str, int]]:
    rows = conn.execute(
        select(by_opener.c.opener, func.sum(by_opener.c.opened))
        .where(by_opener.c.channel == channel, by_opener.c.day >= start, by_opener.c.day <= end)
        .group_by(by_opener.c.opener)
    )
    return [(o, int(n)) for o, n in rows]
