"""`dmp fsck`: remove the bytes that crashes leave in the blob store with no document.

A publish writes a document's bytes under the hour of its `now`,
`d/<YYYYMMDDHH>/<document id>` (`blob_key` in services/documents.py), then commits the
`document` row that refers to them, or deletes them when it fails. A crash in between
leaves bytes nothing refers to. A publish whose writing outlasted WRITE_DEADLINE (5 min)
gives up, so bytes whose hour ended more than `older_than` (15 min) ago and that no
document refers to are a crash's leftovers (or a purge's, RULES R4), and are deleted.
A key whose hour ends after `now - older_than` is too young to judge: its publish may
still be running.

- By default only recent hours are listed, one prefix `d/<hour>/` each, from the hour of
  `now - hours` to the hour `now - older_than` falls in (listed for the count of keys
  too young; later hours are not listed at all). Each batch of old-enough keys is
  looked up by `IN (...)` on the unique index of `document.blob_key`.
- With `full_scan`, every key of the store is listed and merged with the database's
  keys, both in byte order: the same rule for `d/<hour>/` keys, whatever their age.
  Keys of another layout (the former `d/<ab>/<uuid>`, anything else) carry no date;
  they are counted apart and deleted when no document refers to them, as --full always
  did: the store (folder or bucket) must hold dmp's documents only, and no older dmp
  version may publish while --full runs (its keys are of the former layout).

Either way each candidate is checked again in a fresh transaction right before it is
deleted, so a document committed during the run keeps its bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain, islice

from dmp.domain.audit import AuditAction
from dmp.services.context import system_ctx
from dmp.services.trail import trace
from dmp.storage import blob_refs
from dmp.storage.blobs import BlobStore
from dmp.storage.db import Database

CHECK_BATCH = 500  # keys looked up per query
HOUR = timedelta(hours=1)
_DATED = re.compile(r"d/(\d{10})/[^/]+")  # services/documents.py: blob_key


@dataclass(frozen=True, slots=True)
class FsckReport:
    """What a run looked at and what it removed.

    keys_scanned = too_young_skipped + referenced + orphans_removed + strays_removed
    + the keys outside the layout that a recent run leaves alone.
    """

    keys_scanned: int = 0  # keys listed in the store
    too_young_skipped: int = 0  # d/<hour>/ keys whose hour ends after the threshold
    referenced: int = 0  # judged and kept: a document refers to them
    orphans_removed: int = 0  # d/<hour>/ keys old enough that no document refers to
    outside_layout: int = 0  # keys not of the form d/<hour>/<id>: judged with --full only
    strays_removed: int = 0  # --full: keys outside the layout no document refers to
    hours_listed: int = 0  # recent run: hour prefixes listed
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
    hours: int = 3,
    full_scan: bool = False,
) -> FsckReport:
    """Delete the bytes no document refers to whose hour ended before `now - older_than`:
    those of the last `hours` hours, or with `full_scan` the whole store (see the module
    docstring). The run is traced in the system chain."""
    tally = _Tally(full_scan=full_scan)
    threshold = now - older_than
    if full_scan:
        _scan_all(db, store, threshold, tally)
    else:
        _scan_recent(db, store, now - hours * HOUR, threshold, tally)
    report = tally.report()
    detail = asdict(report) | {"older_than_s": older_than.total_seconds(), "hours": hours}
    with db.write() as conn:
        trace(conn, system_ctx(now), AuditAction.FSCK, detail=detail)
    return report


def written_hour(key: str) -> datetime | None:
    """The hour (UTC) a `d/<YYYYMMDDHH>/<id>` key was written in; None for another key."""
    match = _DATED.fullmatch(key)
    if match is None:
        return None
    try:
        return datetime.strptime(match[1], "%Y%m%d%H").replace(tzinfo=UTC)
    except ValueError:  # ten digits that are no hour, e.g. 2026139999
        return None


def hour_prefix(hour: datetime) -> str:
    """Where the keys written in `hour` (UTC) are listed."""
    return f"d/{hour.astimezone(UTC):%Y%m%d%H}/"


def _hours(since: datetime, until: datetime) -> Iterator[datetime]:
    """The hours from the one `since` falls in to the one `until` falls in."""
    hour, last = _floor_hour(since), _floor_hour(until)
    while hour <= last:
        yield hour
        hour += HOUR


def _floor_hour(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


# --- the two scans ---


def _scan_recent(
    db: Database, store: BlobStore, since: datetime, threshold: datetime, tally: _Tally
) -> None:
    prefixes = [hour_prefix(hour) for hour in _hours(since, threshold)]
    tally.hours_listed = len(prefixes)
    listed = chain.from_iterable(store.keys(prefix) for prefix in prefixes)
    judged = _old_enough(listed, threshold, tally, with_undated=False)
    while batch := list(islice(judged, CHECK_BATCH)):
        with db.read() as conn:
            known = blob_refs.referenced_now(conn, batch)
        tally.referenced += len(known)
        _remove_unreferenced(db, store, [key for key in batch if key not in known], tally)


def _scan_all(db: Database, store: BlobStore, threshold: datetime, tally: _Tally) -> None:
    listed = _old_enough(_in_order(store.keys()), threshold, tally, with_undated=True)
    with db.read() as conn, closing(blob_refs.referenced_keys(conn)) as referenced:
        candidates = _unreferenced(listed, referenced, tally)
        while batch := list(islice(candidates, CHECK_BATCH)):
            _remove_unreferenced(db, store, batch, tally)


def _old_enough(
    keys: Iterable[str], threshold: datetime, tally: _Tally, *, with_undated: bool
) -> Iterator[str]:
    """The keys to judge: dated ones whose hour ended by `threshold`, and the undated
    ones if `with_undated`; counts the others."""
    for key in keys:
        tally.keys_scanned += 1
        hour = written_hour(key)
        if hour is None:
            tally.outside_layout += 1
            if with_undated:
                yield key
        elif hour + HOUR > threshold:
            tally.too_young_skipped += 1
        else:
            yield key


def _remove_unreferenced(
    db: Database, store: BlobStore, candidates: list[str], tally: _Tally
) -> None:
    """Delete the candidates, each checked again in a fresh transaction first: a
    document may have committed since the listing or the first lookup."""
    if not candidates:
        return
    with db.read() as fresh:
        still = blob_refs.referenced_now(fresh, candidates)
    for key in candidates:
        if key in still:
            tally.referenced += 1
            continue
        store.delete(key)
        if written_hour(key) is None:
            tally.strays_removed += 1
        else:
            tally.orphans_removed += 1


def _unreferenced(keys: Iterable[str], referenced: Iterator[str], tally: _Tally) -> Iterator[str]:
    """The keys (ascending) absent from `referenced` (ascending): a merge, O(1) memory."""
    ref = next(referenced, None)
    for key in keys:
        while ref is not None and ref < key:
            ref = next(referenced, None)
        if ref == key:
            tally.referenced += 1
        else:
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


@dataclass(slots=True)
class _Tally:
    """FsckReport's counts, as the scan goes."""

    full_scan: bool
    keys_scanned: int = 0
    too_young_skipped: int = 0
    referenced: int = 0
    orphans_removed: int = 0
    outside_layout: int = 0
    strays_removed: int = 0
    hours_listed: int = 0

    def report(self) -> FsckReport:
        return FsckReport(**asdict(self))
