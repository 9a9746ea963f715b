"""Purging records ten years after closure (RULES R4; CSP L1111-18)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

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
from dmp.storage import contacts, outbox
from dmp.storage.db import Database
from dmp.storage.records import find_closed_before, save_record

PAGE = 500


@dataclass(frozen=True, slots=True)
class Purged:
    ins: str
    closed_at: datetime


def purge_expired(db: Database, ctx: Ctx, as_of: date) -> list[Purged]:
    """Purge every record closed more than ten years before `as_of`.

    Each page is its own transaction, so an interruption keeps what was done and a
    rerun continues; each purge leaves an audit event in the record's chain.
    """
    check_purge_date(as_of, local_date(ctx.now))
    purged: list[Purged] = []
    after = ""
    bound = purge_candidates_closed_before(as_of)
    while True:
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
                trace(
                    conn,
                    ctx,
                    AuditAction.RECORD_PURGE,
                    record_ins=record.ins,
                    detail={"closed_at": record.closed_at.isoformat(), "as_of": as_of.isoformat()},
                )
                purged.append(Purged(record.ins, record.closed_at))
        if len(page) < PAGE:
            return purged
        after = page[-1].ins
