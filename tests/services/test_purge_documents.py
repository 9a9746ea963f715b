"""The purge destroys documents by crypto-shredding (RULES R4, CSP L1111-18): in the
purge's transaction the record's data key and document rows go, then its blobs; any
copy left behind (a blob the store could not delete, a backup) can no longer be read.
On SQLite and PostgreSQL, with the folder store and S3 (moto's server)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Table, func, select

from dmp.domain.actors import Actor, Role
from dmp.domain.profile import ProfileKind
from dmp.services import profile as profile_service
from dmp.services import records
from dmp.services.beneficiaries import load_beneficiaries_batch
from dmp.services.context import Ctx, system_ctx
from dmp.services.fsck import fsck
from dmp.services.retention import purge_expired
from dmp.storage import keyring
from dmp.storage.blobs import BlobStore, FileBlobStore, MemoryBlobStore
from dmp.storage.db import Database
from dmp.storage.envelope import SealBroken, open_sealed
from dmp.storage.schema import document, profile_entry, record_key
from tests.personas import ALICE, ALICE_BENEFICIARY, BOB, BOB_BENEFICIARY, PHARMACY
from tests.services.blob_rows import MASTER, aad, publish

OPENED = datetime(2018, 11, 6, 10, 0, tzinfo=UTC)
CLOSED = OPENED + timedelta(days=1)
LATER = datetime(2028, 11, 7, 12, 0, tzinfo=UTC)  # ten years after the closure
AS_OF = date(2028, 11, 7)
PLAINTEXT = b"Compte rendu : allergie a la penicilline, traitement en cours."


def at(now: datetime) -> Ctx:
    return system_ctx(now, "test")


@pytest.fixture
def records_with_documents(db: Database) -> Database:
    """Alice's record closed in 2018 (purgeable in 2028), Bob's open."""
    load_beneficiaries_batch(db, at(OPENED), [ALICE_BENEFICIARY, BOB_BENEFICIARY], "test")
    for who in (ALICE, BOB):
        request = records.OpenRequest(who.ins, "pharmacy", PHARMACY, "holder", True)
        records.open_record(db, at(OPENED), request)
    return db


def close_alice(db: Database) -> None:
    records.close_record(db, at(CLOSED), ALICE.ins, "holder", "fin")


def raw_bytes(store: BlobStore, key: str) -> bytes:
    """The bytes as stored: the file itself, or the object."""
    if isinstance(store, FileBlobStore):
        return store.root.joinpath(*key.split("/")).read_bytes()
    return store.get(key)


def count(db: Database, table: Table, ins: str) -> int:
    with db.read() as conn:
        query = select(func.count()).select_from(table).where(table.c.ins == ins)
        return int(conn.execute(query).scalar_one())


def test_r4_purge_destroys_the_key_the_rows_then_the_blobs_of_that_record_only(
    records_with_documents: Database, store: BlobStore
) -> None:
    db = records_with_documents
    alice_key = publish(db, store, ALICE.ins, PLAINTEXT, OPENED)
    bob_key = publish(db, store, BOB.ins, b"Ordonnance", OPENED)
    close_alice(db)

    purged = purge_expired(db, at(LATER), AS_OF, store)

    assert [(p.ins, p.documents) for p in purged] == [(ALICE.ins, 1)]
    assert count(db, record_key, ALICE.ins) == 0
    assert count(db, document, ALICE.ins) == 0
    assert not store.exists(alice_key)
    # Bob's record is open: untouched.
    assert count(db, record_key, BOB.ins) == 1
    assert count(db, document, BOB.ins) == 1
    with db.read() as conn:
        bob = keyring.existing_data_key(conn, BOB.ins, MASTER)
    assert bob is not None
    assert open_sealed(bob, store.get(bob_key), aad(BOB.ins, bob_key)) == b"Ordonnance"


def test_r4_a_copy_left_behind_by_the_purge_cannot_be_read(
    records_with_documents: Database, store: BlobStore
) -> None:
    """Purge without the store (as if it were down): the blob stays, but its data key
    is gone, so no key the system holds or will make opens it."""
    db = records_with_documents
    key = publish(db, store, ALICE.ins, PLAINTEXT, OPENED)
    with db.read() as conn:
        before = keyring.existing_data_key(conn, ALICE.ins, MASTER)
    assert before is not None
    close_alice(db)

    purge_expired(db, at(LATER), AS_OF)  # no store: blobs are not deleted

    leftover = raw_bytes(store, key)
    assert PLAINTEXT not in leftover
    assert b"penicilline" not in leftover
    with db.write() as conn:
        assert keyring.existing_data_key(conn, ALICE.ins, MASTER) is None
        fresh = keyring.data_key_for(conn, ALICE.ins, MASTER, LATER)  # a new record's key
    assert fresh != before
    with pytest.raises(SealBroken):
        open_sealed(fresh, leftover, aad(ALICE.ins, key))
    # fsck --full then removes what the purge left.
    assert fsck(db, store, LATER, full_scan=True).orphans_removed == 1
    assert not store.exists(key)


class _DownStore(MemoryBlobStore):
    def delete(self, key: str) -> None:
        raise ConnectionError("blob store unreachable")


def test_r4_the_purge_commits_even_when_the_blob_store_is_down(
    records_with_documents: Database, caplog: pytest.LogCaptureFixture
) -> None:
    db = records_with_documents
    down = _DownStore()
    key = publish(db, down, ALICE.ins, PLAINTEXT, OPENED)
    close_alice(db)

    purged = purge_expired(db, at(LATER), AS_OF, down)

    assert [p.ins for p in purged] == [ALICE.ins]
    assert count(db, record_key, ALICE.ins) == 0
    assert count(db, document, ALICE.ins) == 0
    assert down.exists(key)  # left, unreadable, for fsck --full
    assert "dmp fsck --full" in caplog.text


def test_r4_purge_deletes_the_health_profile_too(records_with_documents: Database) -> None:
    """The profile (allergies, contacts…) is personal data of the record (RULES R4, R5)."""
    db = records_with_documents
    allergy = {
        "resourceType": "AllergyIntolerance",
        "patient": {"reference": f"Patient/{ALICE.ins}"},
        "code": {"text": "Pénicilline"},
    }
    bob_allergy = {**allergy, "patient": {"reference": f"Patient/{BOB.ins}"}}
    for who, body in ((ALICE, allergy), (BOB, bob_allergy)):
        profile_service.create_entry(
            db, Ctx(Actor(Role.PATIENT, who.ins), OPENED), ProfileKind.ALLERGY_INTOLERANCE, body
        )
    close_alice(db)
    purge_expired(db, at(LATER), AS_OF)
    assert count(db, profile_entry, ALICE.ins) == 0
    assert count(db, profile_entry, BOB.ins) == 1
