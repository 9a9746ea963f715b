"""Opening rollups, updated in the same transaction as each opening and closure,
so that statistics never scan the records.

Five rollups: per local day × channel × department (with closures and reopenings),
per day × channel × opener, their monthly twins (a long period reads whole months
there, see domain/periods.py), and per day × channel (day, week and channel
groupings, lifecycle totals).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
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

# A batch of openings, one row each (their count is the number of rows).
OPENINGS_SCHEMA = pa.schema(
    [
        ("day", pa.date32()),
        ("channel", pa.string()),
        ("department", pa.string()),
        ("opener", pa.string()),  # '' for online openings
    ]
)

# Every rollup an opening is counted in: the table, its key (named after an opening's
# fields, plus "month", the first day of the opening's month) and the lifecycle
# columns it also holds (0 for a new row). The one list both write paths follow.
_ROLLUPS: tuple[tuple[Table, tuple[str, ...], tuple[str, ...]], ...] = (
    (daily, ("day", "channel", "department"), ("closed", "reopened")),
    (by_opener, ("day", "channel", "opener"), ()),
    (by_day, ("day", "channel"), ("closed", "reopened")),
    (monthly, ("month", "channel", "department"), ()),
    (by_opener_monthly, ("month", "channel", "opener"), ()),
)


def add_opening(conn: Connection, key: OpeningKey) -> None:
    """Count one opening in every rollup (one upsert each)."""
    day, channel, department, opener = key
    days: tuple[object, object] = (day, month_start(day))
    if conn.dialect.name != "postgresql":  # SQLite keeps dates as ISO text
        days = (day.isoformat(), month_start(day).isoformat())
    fields = {"day": days[0], "month": days[1], "channel": channel}
    fields |= {"department": department, "opener": opener}
    for table, columns, extra in _ROLLUPS:
        _upsert_rows(conn, table, columns, extra, [(*(fields[c] for c in columns), 1)])


def add_openings(conn: Connection, openings: pa.Table) -> None:
    """Count a batch of openings (OPENINGS_SCHEMA, a row each) in every rollup.

    Arrow counts the openings per rollup row (a bulk import's batch of 100,000 makes
    about as many rollup rows: one per opener and day, mostly), so Python never holds
    a row as objects on PostgreSQL, where the counts go by COPY; SQLite gets them by one
    executemany per rollup.
    """
    if openings.num_rows == 0:
        return
    openings = openings.append_column("month", pc.floor_temporal(openings["day"], unit="month"))
    for table, columns, extra in _ROLLUPS:
        counted = (
            openings.group_by(list(columns), use_threads=False)
            .aggregate([([], "count_all")])
            .select([*columns, "count_all"])
            .sort_by([(c, "ascending") for c in columns])  # the key's order: index locality
        )
        if conn.dialect.name == "postgresql" and counted.num_rows > _COPY_FROM:
            _copy_add(conn, table, columns, extra, counted)
            continue
        if conn.dialect.name != "postgresql":  # SQLite keeps dates as ISO text
            for i, name in enumerate(counted.column_names):
                if pa.types.is_date(counted.schema.field(i).type):
                    counted = counted.set_column(i, name, counted[name].cast(pa.string()))
        rows = list(zip(*(c.to_pylist() for c in counted.columns), strict=True))
        _upsert_rows(conn, table, columns, extra, rows)


def _upsert_rows(
    conn: Connection,
    table: Table,
    key: tuple[str, ...],
    extra: tuple[str, ...],
    rows: list[tuple[Any, ...]],
) -> None:
    """Add (key…, opened) rows: one executemany of a fixed upsert, compiled once and run
    by the driver's C loop (a statement per row through SQLAlchemy cost most of a bulk
    import's time)."""
    columns = [*key, "opened", *extra]
    marks = ", ".join(placeholder(conn) for _ in columns)
    zeros = (0,) * len(extra)
    name = table.name
    conn.exec_driver_sql(
        f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET opened = {name}.opened + excluded.opened",
        [(*row, *zeros) for row in rows] if zeros else rows,
    )


# Above this many rows, PostgreSQL gets the counts by COPY (one round trip) rather
# than a pipeline of upserts (one statement each).
_COPY_FROM = 64
_CSV = pa_csv.WriteOptions(include_header=False, quoting_style="needed")


def _copy_add(
    conn: Connection, table: Table, key: tuple[str, ...], extra: tuple[str, ...], counted: pa.Table
) -> None:
    """COPY the counts (key…, count) into a temporary table, then one upsert from it."""
    raw = conn.connection.driver_connection
    assert raw is not None
    name = table.name
    keys = ", ".join(key)
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(counted, sink, _CSV)
    columns = ", ".join([*key, "opened", *extra])
    values = ", ".join([*key, "opened", *("0" for _ in extra)])
    with raw.cursor() as cur:
        # The key and count columns, without the table's constraints.
        cur.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {name}_load ON COMMIT DELETE ROWS AS "
            f"SELECT {keys}, opened FROM {name} WITH NO DATA"
        )
        with cur.copy(f"COPY {name}_load ({keys}, opened) FROM STDIN (FORMAT csv)") as copy:
            copy.write(memoryview(sink.getvalue()))
        cur.execute(
            f"INSERT INTO {name} ({columns}) SELECT {values} FROM {name}_load "
            f"ON CONFLICT ({keys}) DO UPDATE SET opened = {name}.opened + excluded.opened"
        )
        cur.execute(f"DELETE FROM {name}_load")  # a transaction may add two batches


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
