"""A record's access history (RULES R16; CSP R1111-43, L1111-19): every traced action on
the record — who (role, identifier, profession, organisation), when, what, with which
outcome, purpose and reason — newest first, a page at a time.

Who reads it is the policy's decision (domain.access, Action.READ_HISTORY): the holder
at any time, also once the record is closed; a minor's legal representatives; the
médecin traitant. Other professionals never see another actor's traces. Only the
record's own chain is read, so no other record's event can appear.
"""

from __future__ import annotations

from dataclasses import dataclass

from dmp.domain.access import Action
from dmp.domain.audit import AuditEvent
from dmp.domain.errors import InvalidInput
from dmp.domain.identity import parse_ins
from dmp.services.context import Ctx
from dmp.services.guard import guarded
from dmp.storage import audit_log
from dmp.storage.db import Database

DEFAULT_PAGE = 50
MAX_PAGE = 200
MAX_OFFSET = 1_000_000_000  # beyond any chain; keeps the SQL offset within 64 bits


@dataclass(frozen=True, slots=True)
class HistoryPage:
    events: list[AuditEvent]  # newest first
    total: int  # the record's events, all of which the caller may see
    limit: int
    offset: int


def get_history(
    db: Database, ctx: Ctx, ins: str, limit: int = DEFAULT_PAGE, offset: int = 0
) -> HistoryPage:
    """R16: a page of the record's traces, if the policy lets the caller read them
    (this reading is itself traced, and listed); otherwise NotFound, as if no record."""
    ins = parse_ins(ins)
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput("PAGE_LIMIT", f"must be 1 to {MAX_PAGE}", "limit")
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput("PAGE_OFFSET", f"must be 0 to {MAX_OFFSET}", "offset")
    with guarded(db, ctx, Action.READ_HISTORY, ins) as (conn, _):
        events = audit_log.record_events(conn, ins, limit=limit, offset=offset)
        total = audit_log.record_event_count(conn, ins)
    return HistoryPage(events, total, limit, offset)
