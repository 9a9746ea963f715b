"""`fsck` on SQLite and PostgreSQL: what crashes leave between the blob store and the
database is settled, and nothing a document or a running publish refers to is touched
(services/fsck.py; the purge's leftovers, RULES R4)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dmp.services import fsck as fsck_module
from dmp.services.fsck import FsckReport, fsck
from dmp.storage.blobs import FileBlobStore, MemoryBlobStore
from dmp.storage.db import Database
from dmp.storage.schema import audit_event, document, pending_blob
from tests.personas import ALICE, BOB
from tests.services.blob_rows import new_blob_key, note_pending, publish

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
LONG_AGO = NOW - timedelta(hours=2)
JUST_NOW = NOW - timedelta(minutes=1)


@pytest.fixture
def store(tmp_path: Path) -> FileBlobStore:
    return FileBlobStore(tmp_path / "blobs")


def pending_keys(db: Database) -> set[str]:
    with db.read() as conn:
        return set(conn.execute(select(pending_blob.c.blob_key)).scalars())


def abandoned(db: Database, store: FileBlobStore, at: datetime = LONG_AGO) -> str:
    """A publish that crashed after writing its bytes, before its metadata."""
    key = new_blob_key()
    note_pending(db, ALICE.ins, key, at)
    store.put(key, b"sealed bytes of an abandoned publish")
    return key


# ------------------------------------------------------------------------- pending notes


def test_an_abandoned_publish_loses_its_blob_and_its_note(
    db: Database, store: FileBlobStore
) -> None:
    key = abandoned(db, store)
    report = fsck(db, store, NOW)
    assert report == FsckReport(pending_checked=1, pending_committed=0, orphans_removed=1)
    assert not store.exists(key)
    assert pending_keys(db) == set()


def test_a_note_whose_metadata_committed_is_dropped_and_its_blob_kept(
    db: Database, store: FileBlobStore
) -> None:
    key = publish(db, store, ALICE.ins, b"compte rendu", LONG_AGO)
    note_pending(db, ALICE.ins, key, LONG_AGO)  # the publish crashed before clearing it
    report = fsck(db, store, NOW)
    assert report == FsckReport(pending_checked=1, pending_committed=1, orphans_removed=0)
    assert store.exists(key)
    assert pending_keys(db) == set()


def test_a_publish_younger_than_the_threshold_is_left_alone(
    db: Database, store: FileBlobStore
) -> None:
    key = abandoned(db, store, at=JUST_NOW)
    report = fsck(db, store, NOW, older_than=timedelta(minutes=15))
    assert report.pending_checked == 0
    assert store.exists(key)
    assert pending_keys(db) == {key}
    assert fsck(db, store, NOW, older_than=timedelta(seconds=30)).orphans_removed == 1
    assert not store.exists(key)


def test_many_abandoned_publishes_are_settled_page_by_page(
    db: Database, store: FileBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fsck_module, "PAGE", 2)
    keys = [abandoned(db, store) for _ in range(5)]
    assert fsck(db, store, NOW).orphans_removed == 5
    assert not any(store.exists(k) for k in keys)
    assert pending_keys(db) == set()


class _UndeletableStore(MemoryBlobStore):
    def delete(self, key: str) -> None:
        raise OSError("the store is down")


def test_a_blob_that_cannot_be_deleted_keeps_its_note_for_the_next_run(db: Database) -> None:
    down = _UndeletableStore()
    key = new_blob_key()
    note_pending(db, ALICE.ins, key, LONG_AGO)
    down.put(key, b"sealed")
    with pytest.raises(OSError, match="down"):
        fsck(db, down, NOW)
    assert pending_keys(db) == {key}
    up = MemoryBlobStore()
    up.put(key, b"sealed")
    assert fsck(db, up, NOW).orphans_removed == 1
    assert pending_keys(db) == set()


# ------------------------------------------------------------------------------ full scan


def test_r4_full_scan_deletes_only_blobs_nothing_refers_to(
    db: Database, store: FileBlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fsck_module, "CHECK_BATCH", 2)
    documents = [publish(db, store, ins, b"compte rendu", LONG_AGO) for ins in (ALICE.ins, BOB.ins)]
    running = new_blob_key()
    note_pending(db, ALICE.ins, running, JUST_NOW)  # a publish in flight
    store.put(running, b"sealed, metadata coming")
    strays = [new_blob_key() for _ in range(3)]  # e.g. left by a purge whose store was down
    for key in strays:
        store.put(key, b"sealed bytes of a purged record")

    assert fsck(db, store, NOW).keys_scanned == 0  # no full scan unless asked
    report = fsck(db, store, NOW, full_scan=True)
    assert report.keys_scanned == 6
    assert report.strays_removed == 3
    assert report.removed == 3
    assert sorted(store.keys()) == sorted([*documents, running])


class _PublishDuringScan(FileBlobStore):
    """A store whose listing, once under way, sees a publish that started after the
    scan read the database's keys: its note (or its document) is newer than that read."""

    def __init__(self, root: Path, db: Database, complete: bool) -> None:
        super().__init__(root)
        self.db, self.complete = db, complete
        self.published: str | None = None

    def keys(self, prefix: str = "") -> Iterator[str]:
        yield from super().keys(prefix)
        key = f"z/{uuid.uuid4()}"  # listed last, as the listing goes on
        if self.complete:
            self.published = publish(self.db, self, ALICE.ins, b"new", NOW, key)
        else:
            self.published = key
            note_pending(self.db, ALICE.ins, key, NOW)
            self.put(key, b"sealed, metadata coming")
        yield key


@pytest.mark.parametrize("complete", [False, True], ids=["in-flight", "committed"])
def test_full_scan_spares_a_publish_made_while_it_runs(
    db: Database, tmp_path: Path, complete: bool
) -> None:
    store = _PublishDuringScan(tmp_path / "blobs", db, complete)
    old = publish(db, store, BOB.ins, b"compte rendu", LONG_AGO)
    report = fsck(db, store, NOW, full_scan=True)
    assert report.strays_removed == 0
    assert store.published is not None
    assert store.exists(store.published)
    assert store.exists(old)


def test_fsck_is_traced_in_the_system_chain_with_its_counts(
    db: Database, store: FileBlobStore
) -> None:
    abandoned(db, store)
    fsck(db, store, NOW, full_scan=True)
    with db.read() as conn:
        rows = conn.execute(
            select(audit_event.c.chain, audit_event.c.event).where(
                audit_event.c.action == "store.fsck"
            )
        ).all()
        assert conn.execute(select(func.count()).select_from(document)).scalar_one() == 0
    assert [chain for chain, _ in rows] == ["system"]
    detail = json.loads(rows[0].event)["detail"]
    assert detail["orphans_removed"] == 1
    assert detail["full_scan"] is True


class _Unordered(MemoryBlobStore):
    def keys(self, prefix: str = "") -> Iterator[str]:
        yield from reversed(list(super().keys(prefix)))


def test_full_scan_stops_on_a_store_that_lists_out_of_order_before_deleting(
    db: Database,
) -> None:
    store = _Unordered()
    store.put("d/aa/1", b"x")
    store.put("d/bb/2", b"y")
    with pytest.raises(RuntimeError, match="not in order"):
        fsck(db, store, NOW, full_scan=True)
    assert sorted(store.keys()) == ["d/aa/1", "d/bb/2"]
