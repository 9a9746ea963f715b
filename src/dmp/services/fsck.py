"""`dmp fsck`: bring the blob store and the database back into agreement after crashes.

A publish notes its blob keys (`pending_blob`) before writing the bytes and clears the
note with the metadata (storage/blob_refs.py describes the protocol). A crash between
the two leaves a note; after `older_than` the publish is taken as abandoned:

- a note whose document row exists (the metadata committed) is just dropped;
- otherwise the blob and the note are removed, in one transaction per page: if deleting
  a blob fails, the notes stay and the next run retries (deleting is idempotent).

With `full_scan`, every key of the store is then listed and the blobs that no document
row and no pending note refers to are deleted (what a purge could not delete, RULES R4).
The listing is merged with the database's keys in byte order, then each candidate is
checked again in a fresh transaction, so a publish that started during the scan (its
note committed before its blob was written) is never touched.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from itertools import islice

from dmp.domain.audit import AuditAction
from dmp.services.context import system_ctx
from dmp.services.trail import trace
from dmp.storage import blob_refs
from dmp.storage.blobs import BlobStore
from dmp.storage.db import Database

PAGE = 200  # pending notes per transaction
CHECK_BATCH = 500  # full scan: candidates checked again per query


@dataclass(frozen=True, slots=True)
class FsckReport:
    """What a run looked at and what it removed."""

    pending_checked: int = 0  # notes older than the threshold
    pending_committed: int = 0  # ... whose metadata had committed: note dropped, blob kept
    orphans_removed: int = 0  # ... whose publish was abandoned: blob and note removed
    keys_scanned: int = 0  # full scan: keys listed in the store
    strays_removed: int = 0  # full scan: blobs nothing refers to, deleted
    full_scan: bool = False

    @property
    def removed(self) -> int:
        return self.orphans_removed + self.strays_removed


def fsck(
    db: Database,
    store: BlobStore,
    now: datetime,
    *,
    older_than: timedelta = timedelta(minutes=15),
    full_scan: bool = False,
) -> FsckReport:
    """Settle the pending notes older than `older_than`, then, with `full_scan`, delete
    the blobs nothing refers to. The run is traced in the system chain."""
    checked, committed = _settle_pending(db, store, now - older_than)
    scanned, strays = _sweep(db, store) if full_scan else (0, 0)
    report = FsckReport(checked, committed, checked - committed, scanned, strays, full_scan)
    with db.write() as conn:
        trace(conn, system_ctx(now), AuditAction.FSCK, detail=asdict(report))
    return report


def _settle_pending(db: Database, store: BlobStore, before: datetime) -> tuple[int, int]:
    checked = committed = 0
    while True:
        with db.write() as conn:
            claimed = blob_refs.claim_stale_pending(conn, before, PAGE)
            kept = blob_refs.committed_blob_keys(conn, claimed)
            for key, _ins in claimed:
                if key not in kept:
                    store.delete(key)  # before the commit: a failure keeps the notes
        checked += len(claimed)
        committed += len(kept)
        if len(claimed) < PAGE:
            return checked, committed


def _sweep(db: Database, store: BlobStore) -> tuple[int, int]:
    listed = _Counted(store.keys())
    strays = 0
    with db.read() as conn, closing(blob_refs.referenced_keys(conn)) as referenced:
        candidates = _unreferenced(_in_order(listed), referenced)
        while batch := list(islice(candidates, CHECK_BATCH)):
            with db.read() as fresh:
                still = blob_refs.referenced_now(fresh, batch)
            for key in batch:
                if key not in still:
                    store.delete(key)
                    strays += 1
    return listed.n, strays


def _unreferenced(keys: Iterable[str], referenced: Iterator[str]) -> Iterator[str]:
    """The keys (ascending) absent from `referenced` (ascending): a merge, O(1) memory."""
    ref = next(referenced, None)
    for key in keys:
        while ref is not None and ref < key:
            ref = next(referenced, None)
        if ref != key:
            yield key


def _in_order(keys: Iterable[str]) -> Iterator[str]:
    """`keys`, checked to ascend: a store listing out of order would make the merge
    call referenced blobs unreferenced (the second check would still save them)."""
    last = ""
    for key in keys:
        if key < last:
            raise RuntimeError(f"the blob store lists {key!r} after {last!r}: not in order")
        last = key
        yield key


class _Counted:
    def __init__(self, items: Iterable[str]) -> None:
        self._items = items
        self.n = 0

    def __iter__(self) -> Iterator[str]:
        for item in self._items:
            self.n += 1
            yield item
