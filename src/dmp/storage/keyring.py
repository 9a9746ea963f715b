"""Records' data keys, stored wrapped by the master key (table `record_key`).

One key per record, made on the record's first document and destroyed by its purge
(RULES R4, CSP L1111-18: crypto-shredding; see storage/envelope.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, Connection, bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from dmp.storage.db import Prebuilt, fetch_all, fetch_one
from dmp.storage.envelope import MasterKey, SealBroken, new_data_key
from dmp.storage.schema import record_key as t


class MasterKeyMismatch(SealBroken):
    """The record's key was wrapped by another master key than the one configured."""


# Built once: every publish and retrieve reads a key.
_KEY = Prebuilt(select(t.c.master_key_id, t.c.wrapped_key).where(t.c.ins == bindparam("ins")))


def existing_data_key(conn: Connection, ins: str, master: MasterKey) -> bytes | None:
    """The record's data key, or None if it has none (no document yet, or purged)."""
    row = fetch_one(conn, _KEY, ins=ins)
    if row is None:
        return None
    if row["master_key_id"] != master.key_id:
        raise MasterKeyMismatch(
            f"the data key of this record is wrapped by master key {row['master_key_id']}, "
            f"not by the configured {master.key_id}"
        )
    return master.unwrap(bytes(row["wrapped_key"]), ins)


_VALUES: dict[str, BindParameter[Any]] = {
    name: bindparam(name) for name in ("ins", "master_key_id", "wrapped_key", "created_at")
}
_ADD = {
    name: Prebuilt(
        insert(t)
        .values(_VALUES)
        .on_conflict_do_nothing(index_elements=[t.c.ins])
        .returning(t.c.ins)
    )
    for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}


def add_data_key(
    conn: Connection, ins: str, master: MasterKey, data_key: bytes, now: datetime
) -> bool:
    """Store `data_key` as the record's key unless it has one already: True if stored.

    Race-safe: of concurrent candidates for one record, one is stored, and the others
    learn it (PostgreSQL makes a losing insert wait for the winner's commit; SQLite
    serialises writers)."""
    wrapped = master.wrap(data_key, ins)
    added = fetch_all(
        conn,
        _ADD[conn.dialect.name],
        ins=ins,
        master_key_id=master.key_id,
        wrapped_key=wrapped,
        created_at=now,
    )
    return bool(added)


def data_key_for(conn: Connection, ins: str, master: MasterKey, now: datetime) -> bytes:
    """The record's data key, made now if it has none.

    Race-safe: concurrent first documents of a record each insert a candidate with ON
    CONFLICT DO NOTHING, then read back the one that won, so all of them seal with the
    same key.
    """
    found = existing_data_key(conn, ins, master)
    if found is not None:
        return found
    add_data_key(conn, ins, master, new_data_key(), now)
    stored = existing_data_key(conn, ins, master)
    assert stored is not None  # inserted above, or by the concurrent winner
    return stored


def destroy_data_key(conn: Connection, ins: str) -> bool:
    """Delete the record's data key (crypto-shredding); True if there was one."""
    return bool(conn.execute(delete(t).where(t.c.ins == ins)).rowcount)
