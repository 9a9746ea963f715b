"""Records: load and store the domain's Record."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, select, update
from sqlalchemy.exc import IntegrityError

from dmp.domain.errors import Conflict
from dmp.domain.people import Identity
from dmp.domain.records import Channel, Holder, Opening, Record, RecordStatus, Source
from dmp.domain.time import as_utc, local_date
from dmp.storage.dialect import placeholder
from dmp.storage.rollups import OpeningKey
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
_BULK_COLUMNS = [t.c[name] for name in (*_ROW_NAMES, "version")]
_DAY, _CHANNEL, _DEPARTMENT, _OPENER = (
    _ROW_NAMES.index(n) for n in ("opened_day", "channel", "department", "opened_by")
)
RecordValues = tuple[Any, ...]
_BULK_NAMES = ", ".join(c.name for c in _BULK_COLUMNS)


# Built once: every guarded action reads its record, and building the statement cost
# more than running it.
_FIND = select(t).where(t.c.ins == bindparam("ins"))
_FIND_FOR_UPDATE = _FIND.with_for_update()


def find_record(conn: Connection, ins: str, *, for_update: bool = False) -> Record | None:
    query = _FIND_FOR_UPDATE if for_update else _FIND
    row = conn.execute(query, {"ins": ins}).mappings().first()
    return _to_record(row) if row else None


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


def insert_record_rows(conn: Connection, rows: Sequence[RecordValues]) -> set[str]:
    """Insert the records (as `record_values`) whose INS has no record yet; return the
    INS inserted.

    The bulk path of the legacy import: PostgreSQL loads the batch with COPY into a
    temporary table and inserts from it, skipping existing INS; SQLite (whose write
    transactions are exclusive, so nothing can slip in between) looks up which INS
    exist and inserts the others with one executemany. `rows` must not repeat an INS.
    """
    if not rows:
        return set()
    with_version = [(*row, 1) for row in rows]
    if conn.dialect.name == "postgresql":
        return _copy_new_records(conn, with_version)
    present = _existing_ins(conn, [row[0] for row in rows])
    fresh = [row for row in with_version if row[0] not in present]
    processors = [c.type.bind_processor(conn.dialect) for c in _BULK_COLUMNS]
    values = [
        tuple(p(v) if p else v for p, v in zip(processors, row, strict=True)) for row in fresh
    ]
    marks = ", ".join(placeholder(conn) for _ in _BULK_COLUMNS)
    if values:
        conn.exec_driver_sql(f"INSERT INTO record ({_BULK_NAMES}) VALUES ({marks})", values)
    return {row[0] for row in fresh}


def record_values(r: Record) -> RecordValues:
    """The record's column values as a plain tuple (cheap to pickle and to insert)."""
    return _row_values(r)


def record_from_values(values: RecordValues) -> Record:
    return _to_record(dict(zip(_ROW_NAMES, values, strict=True)))


def opening_key(values: RecordValues) -> OpeningKey:
    """The rollup key (local day, channel, department, opener) of a record's values."""
    return (values[_DAY], values[_CHANNEL], values[_DEPARTMENT], values[_OPENER] or "")


def _existing_ins(conn: Connection, ins: list[str]) -> set[str]:
    present: set[str] = set()
    for i in range(0, len(ins), 900):
        present.update(conn.scalars(select(t.c.ins).where(t.c.ins.in_(ins[i : i + 900]))))
    return present


def _copy_new_records(conn: Connection, rows: list[tuple[Any, ...]]) -> set[str]:
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS record_load "
            "(LIKE record INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        with cur.copy(f"COPY record_load ({_BULK_NAMES}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute(
            f"INSERT INTO record ({_BULK_NAMES}) SELECT {_BULK_NAMES} FROM record_load "
            "ON CONFLICT (ins) DO NOTHING RETURNING ins"
        )
        inserted = {r[0] for r in cur.fetchall()}
        cur.execute("DELETE FROM record_load")
    return inserted


def find_records(conn: Connection, ins: Iterable[str]) -> dict[str, Record]:
    rows = conn.execute(select(t).where(t.c.ins.in_(list(ins)))).mappings()
    return {row["ins"]: _to_record(row) for row in rows}


def find_closed_before(
    conn: Connection, day: date, limit: int, after_ins: str = ""
) -> list[Record]:
    """Closed records whose closure precedes `day`, by INS, in pages."""
    rows = conn.execute(
        select(t)
        .where(
            t.c.status == RecordStatus.CLOSED.value,
            t.c.closed_at < datetime(day.year, day.month, day.day, tzinfo=UTC),
            t.c.ins > after_ins,
        )
        .order_by(t.c.ins)
        .limit(limit)
    ).mappings()
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
