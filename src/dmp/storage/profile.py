"""The `profile_entry` table: the entries of the patient's health profile (RULES R5)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, RowMapping, delete, insert, select, update

from dmp.domain.profile import EntryStatus, ProfileEntry, ProfileKind
from dmp.storage.schema import profile_entry


def insert_entry(conn: Connection, entry: ProfileEntry) -> None:
    conn.execute(insert(profile_entry), [_to_row(entry)])


def find_entry(conn: Connection, entry_id: str) -> ProfileEntry | None:
    row = (
        conn.execute(select(profile_entry).where(profile_entry.c.id == entry_id)).mappings().first()
    )
    return _to_entry(row) if row else None


def record_entries(
    conn: Connection, ins: str, kind: ProfileKind | None = None
) -> list[ProfileEntry]:
    """A record's entries (of one kind), read through the (ins, id) key: a profile holds
    a few tens of entries, filtered and paged in memory by the service."""
    query = select(profile_entry).where(profile_entry.c.ins == ins)
    if kind is not None:
        query = query.where(profile_entry.c.resource_type == kind.value)
    return [_to_entry(r) for r in conn.execute(query).mappings()]


def save_entry(conn: Connection, entry: ProfileEntry) -> None:
    """Store a new version of an entry (its body, version, status and time)."""
    conn.execute(
        update(profile_entry)
        .where(profile_entry.c.ins == entry.ins, profile_entry.c.id == entry.id)
        .values(
            version=entry.version,
            status=entry.status.value,
            updated_at=entry.updated_at,
            body=_dumps(entry.body),
        )
    )


def delete_entries_of(conn: Connection, ins: str) -> int:
    """RULES R4: a purged record's profile is destroyed with it."""
    return conn.execute(delete(profile_entry).where(profile_entry.c.ins == ins)).rowcount


def _dumps(body: dict[str, Any]) -> str:
    return orjson.dumps(body).decode()


def _to_row(e: ProfileEntry) -> dict[str, Any]:
    return {
        "ins": e.ins,
        "id": e.id,
        "resource_type": e.kind.value,
        "version": e.version,
        "status": e.status.value,
        "author_id": e.author_id,
        "author_role": e.author_role,
        "created_at": e.created_at,
        "updated_at": e.updated_at,
        "body": _dumps(e.body),
    }


def _to_entry(r: RowMapping) -> ProfileEntry:
    return ProfileEntry(
        ins=r["ins"],
        id=r["id"],
        kind=ProfileKind(r["resource_type"]),
        version=r["version"],
        status=EntryStatus(r["status"]),
        author_id=r["author_id"],
        author_role=r["author_role"],
        created_at=_aware(r["created_at"]),
        updated_at=_aware(r["updated_at"]),
        body=orjson.loads(r["body"]),
    )


def _aware(at: datetime) -> datetime:
    # SQLite gives naive datetimes back, PostgreSQL the session's zone; all are UTC here.
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
