"""Purging records ten years after closure (RULES R4; CSP L1111-18).

The purge destroys the record's data key in the transaction that marks it purged, so
its documents are unreadable wherever a copy survives (crypto-shredding, see
storage/envelope.py), and deletes its document rows; their blobs are deleted once that
transaction has committed, as well as can be: what is left is unreadable anyway, and
`dmp fsck --full` removes it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from dmp.domain import claims as claim_rules
from dmp.domain import records as rules
from dmp.domain.audit import AuditAction
from dmp.domain.retention import (
    check_purge_date,
    is_purgeable,
    purge_candidates_closed_before,
)
from dmp.domain.time import local_date
from dmp.services.context import Ctx
from dmp.services.trail import trace
from dmp.storage import audit_log, blob_refs, claims, contacts, keyring, outbox, profile
from dmp.storage.blobs import BlobStore
from dmp.storage.db import Database
from dmp.storage.records import ClosedPosition, find_closed_before, save_record

PAGE = 500
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Purged:
    ins: str
    closed_at: datetime
    documents: int = 0  # document versions destroyed


def purge_expired(
    db: Database, ctx: Ctx, as_of: date, store: BlobStore | None = None
) -> list[Purged]:
    """Purge every record closed more than ten years before `as_of`.

    Each page is its own transaction, so an interruption keeps what was done and a
    rerun continues; each purge leaves an audit event in the record's chain. Without
    a `store`, blobs stay for `dmp fsck --full` (unreadable: their key is destroyed).
    """
    check_purge_date(as_of, local_date(ctx.now))
    purged: list[Purged] = []
    after: ClosedPosition | None = None
    bound = purge_candidates_closed_before(as_of)
    while True:
        blob_keys: list[str] = []
        with db.write() as conn:
            page = find_closed_before(conn, bound, PAGE, after)
            for record in page:
                assert record.closed_at is not None
                if not is_purgeable(record.closed_at, as_of):
                    continue
                gone = rules.purge_record(record, as_of, ctx.now)
                save_record(conn, record, gone)
                # The holder's e-mail and queued notices are personal data too.
                contacts.delete_contact(conn, record.ins)
                outbox.delete_notices(conn, record.ins)
                # Crypto-shredding first: once this commits, no copy can be read.
                keyring.destroy_data_key(conn, record.ins)
                documents = blob_refs.delete_documents_of(conn, record.ins)
                blob_keys += documents
                profile_entries = profile.delete_entries_of(conn, record.ins)
                # R16: the traces' 10 years after closure are over too; the purge's own
                # event starts the tombstone's trail.
                traces = audit_log.delete_record_chain(conn, record.ins)
                trace(
                    conn,
                    ctx,
                    AuditAction.RECORD_PURGE,
                    record_ins=record.ins,
                    detail={
                        "closed_at": record.closed_at.isoformat(),
                        "as_of": as_of.isoformat(),
                        "documents": len(documents),
                        "profile_entries": profile_entries,
                        "traces": traces,
                    },
                )
                purged.append(Purged(record.ins, record.closed_at, len(documents)))
        if store is not None:
            _delete_blobs(store, blob_keys)
        if len(page) < PAGE:
            return purged
        last = page[-1]
        assert last.closed_at is not None
        after = (last.closed_at, last.ins)


def _delete_blobs(store: BlobStore, keys: list[str]) -> None:
    """Delete the purged records' blobs, as well as can be: the purge has committed, and
    what stays is unreadable (its key is gone) until `dmp fsck --full` removes it."""
    failed = 0
    for key in keys:
        try:
            store.delete(key)
        except Exception as exc:  # any store error: the purge itself has succeeded
            if not failed:
                log.warning("purge: blob %s not deleted: %s", key, exc)
            failed += 1
    if failed:
        log.warning("purge: %d blob(s) left, unreadable, for dmp fsck --full", failed)


def purge_old_claims(db: Database, ctx: Ctx, as_of: date) -> int:
    """RULES R5: the care history holds 24 months; `dmp purge` drops the claim lines whose
    care date is older than the window of `as_of` (domain.claims.window_start: the
    window's first day stays). One statement and one audit event with the count."""
    check_purge_date(as_of, local_date(ctx.now))
    before = claim_rules.window_start(as_of)
    with db.write() as conn:
        deleted = claims.delete_claims_before(conn, before)
        trace(
            conn,
            ctx,
            AuditAction.CLAIMS_PURGE,
            detail={"as_of": as_of.isoformat(), "before": before.isoformat(), "deleted": deleted},
        )
    return deleted
