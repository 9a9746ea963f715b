"""Records: load and store the domain's Record."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from sqlalchemy import (
    Connection,
    RowMapping,
    bindparam,
    literal,
    literal_column,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError

from dmp.domain.errors import Conflict
from dmp.domain.people import Identity
from dmp.domain.records import Channel, Holder, Opening, Record, RecordStatus, Source
from dmp.domain.time import as_utc, local_date
from dmp.storage.rollups import OPENINGS_SCHEMA
from dmp.storage.schema import record as t

_ROW_NAMES = (
    "ins",
    "status",
    "source",
    "family_name",
    "given_names",
    "birth_date",
    "sex",
    "channel",
    "opened_by",
    "department",
    "opened_at",
    "opened_day",
    "consent_given_by",
    "closed_at",
    "closed_by",
    "close_reason",
    "reopened_at",
    "purged_at",
)
_UTC_TIME = pa.timestamp("us", "UTC")
_ARROW_TYPES = {
    "birth_date": pa.date32(),
    "opened_day": pa.date32(),
    **{name: _UTC_TIME for name in ("opened_at", "closed_at", "reopened_at", "purged_at")},
}
RecordValues = tuple[Any, ...]


# Built once: every guarded action reads its record, and building the statement cost
# more than running it.
_FIND = select(t).where(t.c.ins == bindparam("ins"))
_FIND_FOR_UPDATE = _FIND.with_for_update()


def find_record(conn: Connection, ins: str, *, for_update: bool = False) -> Record | None:
    query = _FIND_FOR_UPDATE if for_update else _FIND
    row = conn.execute(query, {"ins": ins}).mappings().first()
    return _to_record(row) if row else None


def record_of(row: RowMapping) -> Record:
    """The Record of a row holding the record table's columns by name, from a query
    that joins other tables to the record (the guard's facts, storage/care_team.py)."""
    return _to_record(row)


def insert_record(conn: Connection, record: Record) -> None:
    """Insert a new record; a concurrent opening of the same INS is a conflict."""
    try:
        with conn.begin_nested():
            conn.execute(t.insert().values(**_to_row(record), version=1))
    except IntegrityError:
        raise Conflict(
            "RECORD_EXISTS", f"a record was opened for {record.ins} at the same moment", "ins"
        ) from None


def replace_purged(conn: Connection, record: Record) -> None:
    """A new record for an INS whose earlier record was purged reuses its key."""
    done = conn.execute(
        update(t)
        .where(t.c.ins == record.ins, t.c.status == RecordStatus.PURGED.value)
        .values(**_to_row(record), version=t.c.version + 1)
    )
    if done.rowcount != 1:
        raise Conflict("CONCURRENT_CHANGE", "the record changed meanwhile; try again", "ins")


def save_record(conn: Connection, before: Record, after: Record) -> None:
    """Store `after` if the stored record is still `before` (else a concurrent change)."""
    done = conn.execute(
        update(t)
        .where(t.c.ins == before.ins, t.c.status == before.status.value)
        .values(**_to_row(after), version=t.c.version + 1)
    )
    if done.rowcount != 1:
        raise Conflict("CONCURRENT_CHANGE", "the record changed meanwhile; try again", "ins")


# --- the bulk path of the legacy import ----------------------------------------------

# A batch of new records as Arrow columns: the line of the file it comes from, then the
# record's columns (record_values' order and values; timestamps in UTC).
BATCH_SCHEMA = pa.schema(
    [
        ("line", pa.int64()),
        *((name, _ARROW_TYPES.get(name, pa.string())) for name in _ROW_NAMES),
    ]
)


def records_table(rows: Sequence[tuple[int, RecordValues]]) -> pa.Table:
    """(line, record_values) pairs as a batch (BATCH_SCHEMA)."""
    columns = list(zip(*((line, *values) for line, values in rows), strict=True))
    if not columns:
        return BATCH_SCHEMA.empty_table()
    return pa.table(
        [pa.array(c, f.type) for c, f in zip(columns, BATCH_SCHEMA, strict=True)],
        schema=BATCH_SCHEMA,
    )


def record_values(r: Record) -> RecordValues:
    """The record's column values as a plain tuple (a row of records_table)."""
    return _row_values(r)


def record_from_row(row: dict[str, Any]) -> Record:
    """A batch's row (BATCH_SCHEMA, as a dict) as the domain's Record."""
    return _to_record(row)


def opening_keys(batch: pa.Table) -> pa.Table:
    """The openings of a batch of new records as the rollups count them
    (rollups.OPENINGS_SCHEMA: local day, channel, department, opener or '')."""
    return pa.table(
        [
            batch["opened_day"],
            batch["channel"],
            batch["department"],
            pc.fill_null(batch["opened_by"], ""),
        ],
        schema=OPENINGS_SCHEMA,
    )


def insert_new_records(conn: Connection, batch: pa.Table) -> pa.ChunkedArray:
    """Insert the records of `batch` (BATCH_SCHEMA, no INS twice) whose INS has no record
    yet; return which rows were inserted (a boolean mask over the batch).

    The whole batch is first sent in one go, in a savepoint: PostgreSQL by one COPY
    (CSV written by Arrow from the arrays), SQLite by one executemany. If an INS already
    has a record (a rerun, a conflict, an opening committed meanwhile) that fails whole,
    and only then is the slower way paid: PostgreSQL loads a temporary table and runs
    one INSERT … SELECT … ON CONFLICT DO NOTHING; SQLite (whose write transactions are
    exclusive: nothing slips in between) looks up which INS exist and inserts the others.
    """
    if batch.num_rows == 0:
        return pa.chunked_array([], pa.bool_())
    # Columns with no value at all (closure, purge… for a new record) are left out:
    # the database fills them with NULL, cheaper than sending a NULL per row.
    names = [n for n in _ROW_NAMES if batch[n].null_count < batch.num_rows]
    postgres = conn.dialect.name == "postgresql"
    # In INS order, the primary key's B-tree is walked once from left to right rather
    # than at random: at 3 million records, SQLite inserted twice as fast, PostgreSQL
    # a fifth faster (bench/import_stages.py).
    rows = _as_text_times(batch.select(names).sort_by("ins"), postgres)
    rows = rows.append_column("version", pa.repeat(1, rows.num_rows))
    try:
        with conn.begin_nested():
            (_copy if postgres else _executemany)(conn, "record", rows)
        return pa.chunked_array([pa.repeat(True, batch.num_rows)])
    except (IntegrityError, psycopg.errors.UniqueViolation):
        pass
    present = _insert_absent_pg(conn, rows) if postgres else _insert_absent_sqlite(conn, rows)
    return pc.invert(pc.is_in(batch["ins"], value_set=present))


def _as_text_times(rows: pa.Table, postgres: bool) -> pa.Table:
    """Timestamps as UTC text, the way SQLAlchemy's SQLite type stores them
    (YYYY-MM-DD HH:MM:SS.ffffff), with an explicit +00:00 for PostgreSQL: Arrow's own
    formatting of time-zoned values costs ten times more. SQLite dates as YYYY-MM-DD."""
    for i, field in enumerate(rows.schema):
        column = rows.column(i)
        if pa.types.is_timestamp(field.type):
            text = column.cast(pa.timestamp("us")).cast(pa.string())
            if postgres:
                text = pc.binary_join_element_wise(text, "+00:00", "")
            rows = rows.set_column(i, field.name, text)
        elif pa.types.is_date(field.type) and not postgres:
            rows = rows.set_column(i, field.name, column.cast(pa.string()))
    return rows


def _executemany(conn: Connection, table: str, rows: pa.Table) -> None:
    """Rows as Python tuples, 10,000 at a time (a big batch would otherwise hold a
    Python object per value at once)."""
    sql = (
        f"INSERT INTO {table} ({', '.join(rows.column_names)}) "
        f"VALUES ({', '.join('?' for _ in rows.column_names)})"
    )
    for start in range(0, rows.num_rows, 10_000):
        part = rows.slice(start, 10_000)
        values = list(zip(*(c.to_pylist() for c in part.columns), strict=True))
        conn.exec_driver_sql(sql, values)


_CSV = pa_csv.WriteOptions(include_header=False, quoting_style="needed")


def _copy(conn: Connection, table: str, rows: pa.Table) -> None:
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(rows, sink, _CSV)
    raw = conn.connection.driver_connection
    assert raw is not None
    copy_sql = f"COPY {table} ({', '.join(rows.column_names)}) FROM STDIN (FORMAT csv)"
    with raw.cursor() as cur, cur.copy(copy_sql) as copy:
        copy.write(memoryview(sink.getvalue()))


def _insert_absent_sqlite(conn: Connection, rows: pa.Table) -> pa.Array:
    """Insert the rows whose INS has no record; return the INS that had one."""
    found = conn.exec_driver_sql(
        "SELECT ins FROM record WHERE ins IN (SELECT value FROM json_each(?))",
        (json.dumps(rows["ins"].to_pylist()),),
    )
    present = pa.array([row[0] for row in found], pa.string())
    absent = rows.filter(pc.invert(pc.is_in(rows["ins"], value_set=present)))
    if absent.num_rows:
        _executemany(conn, "record", absent)
    return present


def _insert_absent_pg(conn: Connection, rows: pa.Table) -> pa.ChunkedArray:
    """Insert the rows whose INS has no record, even one committed meanwhile; return
    the INS that had one."""
    raw = conn.connection.driver_connection
    assert raw is not None
    names = ", ".join(rows.column_names)
    with raw.cursor() as cur:
        # The record's columns, without its constraints.
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS record_load ON COMMIT DELETE ROWS AS "
            f"SELECT {', '.join(_ROW_NAMES)}, version FROM record WITH NO DATA"
        )
    _copy(conn, "record_load", rows)
    with raw.cursor() as cur:
        cur.execute(
            f"INSERT INTO record ({names}) SELECT {names} FROM record_load "
            "ON CONFLICT (ins) DO NOTHING RETURNING ins"
        )
        inserted = pa.array([row[0] for row in cur.fetchall()], pa.string())
        cur.execute("DELETE FROM record_load")
    return rows["ins"].filter(pc.invert(pc.is_in(rows["ins"], value_set=inserted)))


# What makes a stored record a line's own migration (domain.records.is_same_migration):
# a legacy record with the line's identity and opening, value for value.
_MIGRATION_COLUMNS = (
    "ins",
    "family_name",
    "given_names",
    "birth_date",
    "sex",
    "channel",
    "opened_by",
    "department",
    "opened_at",
)


def stored_as_migrated(conn: Connection, batch: pa.Table) -> pa.ChunkedArray:
    """Which rows of `batch` (BATCH_SCHEMA) a legacy record holds already, equal on
    every migration column: a rerun's lines, found by comparing columns instead of
    building a Record per line (a rerun went four times slower than the first run).
    False only means "not shown equal": the domain judges those rows."""
    names = list(_MIGRATION_COLUMNS)
    postgres = conn.dialect.name == "postgresql"
    # Each side in the form the other has: SQLite's stored text, PostgreSQL's types.
    wanted = batch.select(names) if postgres else _as_text_times(batch.select(names), False)
    wanted = wanted.append_column("row", pa.array(range(batch.num_rows), pa.int64()))
    stored = _stored_columns(conn, names, wanted["ins"], postgres)
    if stored.num_rows == 0:
        return pa.chunked_array([pa.repeat(False, batch.num_rows)])
    joined = wanted.join(stored, keys="ins", join_type="inner", right_suffix="_stored")
    equal = pa.chunked_array([pa.repeat(True, joined.num_rows)])
    for name in names[1:]:
        mine, theirs = joined[name], joined[f"{name}_stored"]
        both_null = pc.and_(pc.is_null(mine), pc.is_null(theirs))
        equal = pc.and_(equal, pc.fill_null(pc.or_kleene(pc.equal(mine, theirs), both_null), False))
    return pc.is_in(wanted["row"], value_set=joined.filter(equal)["row"])


def _stored_columns(
    conn: Connection, names: list[str], ins: pa.ChunkedArray, postgres: bool
) -> pa.Table:
    """The legacy records of these INS, as columns of the batch's types (PostgreSQL)
    or of SQLite's stored text."""
    listed = ", ".join(names)
    if postgres:
        sql = f"SELECT {listed} FROM record WHERE source = 'legacy' AND ins = ANY(%s)"
        found = conn.exec_driver_sql(sql, (ins.to_pylist(),)).all()
        types = [BATCH_SCHEMA.field(n).type for n in names]
    else:
        sql = (
            f"SELECT {listed} FROM record "
            "WHERE source = 'legacy' AND ins IN (SELECT value FROM json_each(?))"
        )
        found = conn.exec_driver_sql(sql, (json.dumps(ins.to_pylist()),)).all()
        types = [pa.string() for _ in names]
    columns = list(zip(*found, strict=True)) if found else [() for _ in names]
    return pa.table(
        [pa.array(c, type_) for c, type_ in zip(columns, types, strict=True)], names=names
    )


def find_records(conn: Connection, ins: Iterable[str]) -> dict[str, Record]:
    """The records of these INS, asked 10,000 at a time: SQLite caps the values a
    statement binds (32,766 unless built otherwise), and a rerun's batch asks for all."""
    wanted = list(ins)
    found: dict[str, Record] = {}
    for start in range(0, len(wanted), 10_000):
        query = select(t).where(t.c.ins.in_(wanted[start : start + 10_000]))
        found.update((row["ins"], _to_record(row)) for row in conn.execute(query).mappings())
    return found


# Where a purge's page of closed records ends: (closure time, INS).
ClosedPosition = tuple[datetime, str]


def find_closed_before(
    conn: Connection, day: date, limit: int, after: ClosedPosition | None = None
) -> list[Record]:
    """Closed records whose closure precedes `day`, by closure time then INS, in pages
    that start after `after`: one range of ix_record_closed_at_ins. The query states
    the index's condition `status = 'closed'` as a constant, not a parameter: a plan
    made for any value (PostgreSQL's generic plan of a prepared statement) could not
    use a partial index."""
    query = select(t).where(
        t.c.status == literal_column("'closed'"),
        t.c.closed_at < datetime(day.year, day.month, day.day, tzinfo=UTC),
    )
    if after is not None:
        at, ins = after
        position = tuple_(literal(at, t.c.closed_at.type), literal(ins, t.c.ins.type))
        query = query.where(tuple_(t.c.closed_at, t.c.ins) > position)
    rows = conn.execute(query.order_by(t.c.closed_at, t.c.ins).limit(limit)).mappings()
    return [_to_record(r) for r in rows]


def _to_row(r: Record) -> dict[str, Any]:
    return dict(zip(_ROW_NAMES, _row_values(r), strict=True))


def _row_values(r: Record) -> tuple[Any, ...]:
    """The record's column values in _ROW_NAMES order (the bulk path's hot loop)."""
    i, o = r.identity, r.opening
    return (
        r.ins,
        r.status.value,
        r.source.value,
        i.family_name if i else None,
        i.given_names if i else None,
        i.birth_date if i else None,
        i.sex if i else None,
        o.channel.value,
        o.opened_by,
        o.department,
        as_utc(o.opened_at),
        local_date(o.opened_at),
        r.consent_given_by.value if r.consent_given_by else None,
        _utc(r.closed_at),
        r.closed_by.value if r.closed_by else None,
        r.close_reason,
        _utc(r.reopened_at),
        _utc(r.purged_at),
    )


def _to_record(row: RowMapping | dict[str, Any]) -> Record:
    status = RecordStatus(row["status"])
    identity = None
    if status is not RecordStatus.PURGED:
        identity = Identity(
            row["ins"], row["family_name"], row["given_names"], row["birth_date"], row["sex"]
        )
    return Record(
        ins=row["ins"],
        identity=identity,
        status=status,
        opening=Opening(
            Channel(row["channel"]), row["opened_by"], row["department"], as_utc(row["opened_at"])
        ),
        source=Source(row["source"]),
        consent_given_by=Holder(row["consent_given_by"]) if row["consent_given_by"] else None,
        closed_at=_utc(row["closed_at"]),
        closed_by=Holder(row["closed_by"]) if row["closed_by"] else None,
        close_reason=row["close_reason"],
        reopened_at=_utc(row["reopened_at"]),
        purged_at=_utc(row["purged_at"]),
    )


def _utc(at: datetime | None) -> datetime | None:
    return as_utc(at) if at else None
