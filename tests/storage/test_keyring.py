"""Records' data keys (storage/keyring.py) on SQLite and PostgreSQL: one per record,
made once even under concurrency, destroyed by the purge (RULES R4, CSP L1111-18)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from dmp.storage import keyring
from dmp.storage.db import Database
from dmp.storage.envelope import MasterKey, SealBroken, new_data_key
from dmp.storage.schema import record_key
from tests.personas import ALICE, BOB

NOW = datetime(2018, 11, 6, 10, 0, tzinfo=UTC)
MASTER = MasterKey(b"m" * 32)


def key_rows(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(record_key)).scalar_one())


def test_a_record_gets_one_data_key_and_keeps_it(db: Database) -> None:
    with db.write() as conn:
        assert keyring.existing_data_key(conn, ALICE.ins, MASTER) is None
        made = keyring.data_key_for(conn, ALICE.ins, MASTER, NOW)
    with db.write() as conn:
        assert keyring.data_key_for(conn, ALICE.ins, MASTER, NOW) == made
        assert keyring.existing_data_key(conn, ALICE.ins, MASTER) == made
        assert keyring.data_key_for(conn, BOB.ins, MASTER, NOW) != made
    assert len(made) == 32
    assert key_rows(db) == 2


def test_the_data_key_is_stored_only_wrapped_by_the_master_key(db: Database) -> None:
    with db.write() as conn:
        made = keyring.data_key_for(conn, ALICE.ins, MASTER, NOW)
    with db.read() as conn:
        row = conn.execute(select(record_key)).one()
    assert row.master_key_id == MASTER.key_id
    assert made not in bytes(row.wrapped_key)
    assert MASTER.unwrap(bytes(row.wrapped_key), ALICE.ins) == made


def test_concurrent_first_documents_of_a_record_share_one_data_key(db: Database) -> None:
    """Creators racing each insert a candidate; all end up with the winner's key."""
    writers = 8
    start = threading.Barrier(writers)

    def first_document() -> bytes:
        start.wait()
        with db.write() as conn:
            return keyring.data_key_for(conn, ALICE.ins, MASTER, NOW)

    with ThreadPoolExecutor(writers) as pool:
        keys = list(pool.map(lambda _: first_document(), range(writers)))
    assert len(set(keys)) == 1
    assert key_rows(db) == 1


def test_r4_destroying_the_data_key_leaves_the_record_without_one(db: Database) -> None:
    with db.write() as conn:
        keyring.data_key_for(conn, ALICE.ins, MASTER, NOW)
        bob = keyring.data_key_for(conn, BOB.ins, MASTER, NOW)
    with db.write() as conn:
        assert keyring.destroy_data_key(conn, ALICE.ins) is True
        assert keyring.destroy_data_key(conn, ALICE.ins) is False  # idempotent
    with db.read() as conn:
        assert keyring.existing_data_key(conn, ALICE.ins, MASTER) is None
        assert keyring.existing_data_key(conn, BOB.ins, MASTER) == bob


def test_a_data_key_wrapped_by_another_master_key_is_refused_by_name(db: Database) -> None:
    with db.write() as conn:
        keyring.data_key_for(conn, ALICE.ins, MASTER, NOW)
    other = MasterKey(new_data_key())
    with db.read() as conn, pytest.raises(keyring.MasterKeyMismatch, match=MASTER.key_id):
        keyring.existing_data_key(conn, ALICE.ins, other)


def test_a_data_key_moved_to_another_record_does_not_unwrap(db: Database) -> None:
    with db.write() as conn:
        keyring.data_key_for(conn, ALICE.ins, MASTER, NOW)
        conn.execute(record_key.update().values(ins=BOB.ins))
    with db.read() as conn, pytest.raises(SealBroken):
        keyring.existing_data_key(conn, BOB.ins, MASTER)
