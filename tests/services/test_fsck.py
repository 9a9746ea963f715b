"""`fsck` on SQLite and PostgreSQL, with the folder store and S3 (moto's server): the
bytes a crash leaves (under an hour long past, no document row) are removed, and
nothing a document or a running publish refers to is touched (services/fsck.py; the
purge's leftovers, RULES R4). A real publish that crashes: test_fsck_crash.py."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select

from dmp.services import fsck as fsck_module
from dmp.services.documents import blob_key
from dmp.services.fsck import FsckReport, fsck, hour_prefix, written_hour
from dmp.storage import blob_refs
from dmp.storage.blobs import BlobStore, FileBlobStore, MemoryBlobStore
from dmp.storage.db import Database
from dmp.storage.schema import audit_event, document
from tests.personas import ALICE, BOB
from tests.services.blob_rows import crash_leftover, document_row, publish

NOW = datetime(2026, 11, 23, 10, 20, tzinfo=UTC)  # threshold 10:05: hours up to 09:xx judged
OLD = NOW - timedelta(hours=2)  # 08:20, in the hour 08:00-09:00
LAST_HOUR = datetime(2026, 11, 23, 9, 50, tzinfo=UTC)  # its hour ended at 10:00
JUST_NOW = NOW - timedelta(minutes=18)  # 10:02: its hour ends at 11:00
DAYS_AGO = NOW - timedelta(days=3)  # before the 3 hours a recent run lists
HOURS_LISTED = 4  # 2026-11-23 07:00 to 10:00 (the default 3 hours back)


def insert_document(db: Database, key: str, at: datetime) -> None:
    """The metadata of a publish committing: its row now refers to `key`."""
    with db.write() as conn:
        conn.execute(document.insert().values(document_row(ALICE.ins, key, b"new", at)))


# ------------------------------------------------------------------- the key's hour


def test_fsck_reads_the_hour_that_publish_writes_in_the_key() -> None:
    at = datetime(2026, 11, 23, 9, 59, 59, tzinfo=UTC)
    key = blob_key(at, str(uuid.uuid4()))
    assert written_hour(key) == datetime(2026, 11, 23, 9, tzinfo=UTC)
    assert key.startswith(hour_prefix(at))


@pytest.mark.parametrize(
    "key", ["d/ab/0c1d", "d/2026139912/x", "d/2026112310/a/b", "x/2026112310/a", "readme"]
)
def test_a_key_outside_the_layout_has_no_hour(key: str) -> None:
    assert written_hour(key) is None


# ------------------------------------------------------------------------ recent run


def test_a_crash_leftover_under_an_hour_long_past_is_removed(
    db: Database, store: BlobStore
) -> None:
    key = crash_leftover(db, store, ALICE.ins, OLD)
    report = fsck(db, store, NOW)
    assert report == FsckReport(keys_scanned=1, orphans_removed=1, hours_listed=HOURS_LISTED)
    assert not store.exists(key)


def test_a_committed_documents_bytes_are_kept(db: Database, store: BlobStore) -> None:
    key = publish(db, store, ALICE.ins, b"compte rendu", OLD)
    report = fsck(db, store, NOW)
    assert (report.referenced, report.removed) == (1, 0)
    assert store.exists(key)


def test_bytes_younger_than_the_threshold_are_kept_until_their_hour_is_old_enough(
    db: Database, store: BlobStore
) -> None:
    key = crash_leftover(db, store, ALICE.ins, JUST_NOW)
    report = fsck(db, store, NOW)
    assert (report.too_young_skipped, report.removed) == (1, 0)
    assert store.exists(key)
    assert fsck(db, store, NOW + timedelta(hours=1)).orphans_removed == 1
    assert not store.exists(key)


@pytest.mark.parametrize(("minutes", "removed"), [(15, 1), (30, 0)])
def test_the_age_goes_by_the_end_of_the_hour_in_the_key(
    db: Database, minutes: int, removed: int
) -> None:
    """Written at 09:50, judged at 10:20: the hour ended at 10:00, which is old enough
    for a 15-minute threshold (10:05), not for a 30-minute one (09:50)."""
    store = MemoryBlobStore()
    key = crash_leftover(db, store, ALICE.ins, LAST_HOUR)
    report = fsck(db, store, NOW, older_than=timedelta(minutes=minutes))
    assert (report.orphans_removed, report.too_young_skipped) == (removed, 1 - removed)
    assert store.exists(key) == (removed == 0)


def test_bytes_older_than_the_hours_listed_are_left_to_the_full_scan(
    db: Database, store: BlobStore
) -> None:
    key = crash_leftover(db, store, ALICE.ins, DAYS_AGO)
    assert fsck(db, store, NOW).keys_scanned == 0
    assert store.exists(key)
    report = fsck(db, store, NOW, full_scan=True)
    assert (report.keys_scanned, report.orphans_removed, report.hours_listed) == (1, 1, 0)
    assert not store.exists(key)


def test_more_hours_reach_older_leftovers(db: Database) -> None:
    store = MemoryBlobStore()
    key = crash_leftover(db, store, ALICE.ins, DAYS_AGO)
    report = fsck(db, store, NOW, hours=96)
    assert (report.hours_listed, report.orphans_removed) == (97, 1)
    assert not store.exists(key)


@pytest.mark.parametrize("full_scan", [False, True], ids=["recent", "full"])
def test_many_keys_are_looked_up_batch_by_batch(
    db: Database, monkeypatch: pytest.MonkeyPatch, full_scan: bool
) -> None:
    monkeypatch.setattr(fsck_module, "CHECK_BATCH", 2)
    store = MemoryBlobStore()
    kept = [publish(db, store, ins, b"compte rendu", OLD) for ins in (ALICE.ins, BOB.ins)]
    leftovers = [crash_leftover(db, store, ALICE.ins, at) for at in (OLD, LAST_HOUR) * 3]
    report = fsck(db, store, NOW, full_scan=full_scan)
    assert (report.keys_scanned, report.referenced, report.orphans_removed) == (8, 2, 6)
    assert sorted(store.keys()) == sorted(kept)
    assert not any(store.exists(key) for key in leftovers)


def test_the_second_look_spares_a_key_whose_document_commits_after_the_first(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A publish's row lands between fsck's lookup and its deletion: the lookup made
    again in a fresh transaction right before deleting sees it."""
    store = MemoryBlobStore()
    late = crash_leftover(db, store, ALICE.ins, OLD)  # bytes written, row not yet there
    looked_up = blob_refs.referenced_now
    lookups: list[Sequence[str]] = []

    def then_the_row_commits(conn: Connection, keys: Sequence[str]) -> set[str]:
        found = looked_up(conn, keys)
        lookups.append(keys)
        if len(lookups) == 1:
            insert_document(db, late, OLD)
        return found

    monkeypatch.setattr(blob_refs, "referenced_now", then_the_row_commits)
    report = fsck(db, store, NOW)
    assert (report.referenced, report.removed) == (1, 0)
    assert lookups == [[late], [late]]
    assert store.exists(late)


class _FailingDeletes(MemoryBlobStore):
    def delete(self, key: str) -> None:
        raise OSError("the store is down")


def test_a_store_that_cannot_delete_fails_the_run_and_the_next_run_removes_the_bytes(
    db: Database,
) -> None:
    down = _FailingDeletes()
    key = crash_leftover(db, down, ALICE.ins, OLD)
    with pytest.raises(OSError, match="down"):
        fsck(db, down, NOW)
    up = MemoryBlobStore()
    up.put(key, down.get(key))
    assert fsck(db, up, NOW).orphans_removed == 1
    assert not up.exists(key)


# ------------------------------------------------------------------------- full scan


def test_full_scan_judges_every_key_and_removes_unreferenced_ones_outside_the_layout(
    db: Database, store: BlobStore
) -> None:
    """Keys without an hour (the former `d/<ab>/<uuid>`, anything else) are reported by
    both runs, and deleted by --full only, when no document refers to them."""
    legacy_doc = publish(db, store, BOB.ins, b"ordonnance", DAYS_AGO, "d/ab/ab12-legacy")
    legacy_stray = "d/cd/cd34-purged"  # left by a purge whose store was down
    nested = f"{hour_prefix(OLD)}not-a/document"
    for key in (legacy_stray, nested):
        store.put(key, b"sealed bytes of a purged record")
    documents = [publish(db, store, ALICE.ins, b"compte rendu", at) for at in (OLD, JUST_NOW)]
    young = crash_leftover(db, store, ALICE.ins, JUST_NOW)

    recent = fsck(db, store, NOW)
    assert (recent.keys_scanned, recent.outside_layout, recent.removed) == (4, 1, 0)
    report = fsck(db, store, NOW, full_scan=True)
    assert report == FsckReport(
        keys_scanned=6,
        too_young_skipped=2,
        referenced=2,
        outside_layout=3,
        strays_removed=2,
        full_scan=True,
    )
    assert sorted(store.keys()) == sorted([legacy_doc, *documents, young])


class _PublishDuringScan(FileBlobStore):
    """A store whose listing, once under way, sees a publish that committed after the
    scan read the database's keys (listed last: its hour is the latest old enough)."""

    def __init__(self, root: Path, db: Database) -> None:
        super().__init__(root)
        self.db = db
        self.published: str | None = None

    def keys(self, prefix: str = "") -> Iterator[str]:
        yield from super().keys(prefix)
        self.published = publish(self.db, self, ALICE.ins, b"new", LAST_HOUR)
        yield self.published


def test_full_scan_spares_a_document_committed_while_it_runs(db: Database, tmp_path: Path) -> None:
    store = _PublishDuringScan(tmp_path / "blobs", db)
    old = publish(db, store, BOB.ins, b"compte rendu", OLD)
    report = fsck(db, store, NOW, full_scan=True)
    assert (report.referenced, report.removed) == (2, 0)
    assert store.published is not None
    assert store.exists(store.published)
    assert store.exists(old)


class _Unordered(MemoryBlobStore):
    def keys(self, prefix: str = "") -> Iterator[str]:
        yield from reversed(list(super().keys(prefix)))


def test_full_scan_stops_on_a_store_that_lists_out_of_order_before_deleting(
    db: Database,
) -> None:
    store = _Unordered()
    keys = sorted(crash_leftover(db, store, ALICE.ins, at) for at in (OLD, DAYS_AGO))
    with pytest.raises(RuntimeError, match="not in order"):
        fsck(db, store, NOW, full_scan=True)
    assert sorted(store.keys()) == keys


# ---------------------------------------------------------------------------- audit


def test_fsck_is_traced_in_the_system_chain_with_its_counts(db: Database, store: BlobStore) -> None:
    crash_leftover(db, store, ALICE.ins, OLD)
    fsck(db, store, NOW, hours=24)
    with db.read() as conn:
        rows = conn.execute(
            select(audit_event.c.chain, audit_event.c.event).where(
                audit_event.c.action == "store.fsck"
            )
        ).all()
        assert conn.execute(select(func.count()).select_from(document)).scalar_one() == 0
    assert [chain for chain, _ in rows] == ["system"]
    detail = json.loads(rows[0].event)["detail"]
    assert (detail["orphans_removed"], detail["full_scan"], detail["hours"]) == (1, False, 24)
    assert detail["older_than_s"] == 900
