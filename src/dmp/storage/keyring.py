"""Records' data keys, stored wrapped by the master key (table `record_key`).

One key per record, made on the record's first document and destroyed by its purge
(RULES R4, CSP L1111-18: crypto-shredding; see storage/envelope.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, select

from dmp.storage.dialect import upsert
from dmp.storage.envelope import MasterKey, SealBroken, new_data_key
from dmp.storage.schema import record_key as t


class MasterKeyMismatch(SealBroken):
    """The record's key was wrapped by another master key than the one configured."""


def existing_data_key(conn: Connection, ins: str, master: MasterKey) -> bytes | None:
    """The record's data key, or None if it has none (no document yet, or purged)."""
    row = conn.execute(select(t.c.master_key_id, t.c.wrapped_key).where(t.c.ins == ins)).first()
    if row is None:
        return None
    if row.master_key_id != master.key_id:
        raise MasterKeyMismatch(
            f"the data key of this record is wrapped by master key {row.master_key_id}, "
            f"not by the configured {master.key_id}"
        )
    return master.unwrap(bytes(row.wrapped_key), ins)


def data_key_for(conn: Connection, ins: str, master: MasterKey, now: datetime) -> bytes:
    """The record's data key, made now if it has none.

    Race-safe: concurrent first documents of a record each insert a candidate with ON
    CONFLICT DO NOTHING, then read back the one that won, so all of them seal with the
    same key. (PostgreSQL makes the losing insert wait for the winner's commit; SQLite
    serialises writers.)
    """
    found = existing_data_key(conn, ins, master)
    if found is not None:
        return found
    conn.execute(
        upsert(conn, t)
        .values(
            ins=ins,
            master_key_id=master.key_id,
            wrapped_key=master.wrap(new_data_key(), ins),
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=[t.c.ins])
    )
    stored = existing_data_key(conn, ins, master)
    assert stored is not None  # inserted above, or by the concurrent winner
    return stored


def destroy_data_key(conn: Connection, ins: str) -> bool:
    """Delete the record's data key (crypto-shredding); True if there was one."""
    return bool(conn.execute(delete(t).where(t.c.ins == ins)).rowcount)
