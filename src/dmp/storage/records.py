"""Records: load and store the domain's Record."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, select, update

from dmp.domain.errors import Conflict
from dmp.domain.people import Identity
from dmp.domain.records import Channel, Holder, Opening, Record, RecordStatus, Source
from dmp.domain.time import as_utc, local_date
from dmp.storage.dialect import upsert
from dmp.storage.schema import record as t


def find_record(conn: Connection, ins: str, *, for_update: bool = False) -> Record | None:
    query = select(t).where(t.c.ins == ins)
    if for_update:
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    return _to_record(row) if row else None


def insert_record(conn: Connection, record: Record) -> None:
    conn.execute(t.insert().values(**_to_row(record), version=1))


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


def insert_new_records(conn: Connection, records: Sequence[Record]) -> set[str]:
    """Insert the records whose INS has no record yet; return the INS inserted."""
    if not records:
        return set()
    stmt = upsert(conn, t).on_conflict_do_nothing(index_elements=["ins"]).returning(t.c.ins)
    rows = conn.execute(stmt, [{**_to_row(r), "version": 1} for r in records])
    return {ins for (ins,) in rows}


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
    return {
        "ins": r.ins,
        "status": r.status.value,
        "source": r.source.value,
        "family_name": r.identity.family_name if r.identity else None,
        "given_names": r.identity.given_names if r.identity else None,
        "birth_date": r.identity.birth_date if r.identity else None,
        "sex": r.identity.sex if r.identity else None,
        "channel": r.opening.channel.value,
        "opened_by": r.opening.opened_by,
        "department": r.opening.department,
        "opened_at": as_utc(r.opening.opened_at),
        "opened_day": local_date(r.opening.opened_at),
        "consent_given_by": r.consent_given_by.value if r.consent_given_by else None,
        "closed_at": as_utc(r.closed_at) if r.closed_at else None,
        "closed_by": r.closed_by.value if r.closed_by else None,
        "close_reason": r.close_reason,
        "reopened_at": as_utc(r.reopened_at) if r.reopened_at else None,
        "purged_at": as_utc(r.purged_at) if r.purged_at else None,
    }


def _to_record(row: RowMapping) -> Record:
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
