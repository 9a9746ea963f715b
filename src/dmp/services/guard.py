"""The one enforcement point of the access policy (DESIGN: access; STYLE habit 2).

Every use case touching a record's data enters through `guarded`: it loads the facts,
asks `domain.access.decide`, and traces the decision — allowed or denied — in the
audit trail. An allowed use case runs in the same transaction as its trace; a denial
commits its trace alone and then raises NotFound, so that what the caller may not
see looks absent (STYLE habit 3) while the attempt stays on record.

It also keeps the promises made to the holder about accesses (RULES R17): the first
access of a professional is remembered and notified.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection

from dmp.domain.access import (
    Action,
    CareLink,
    Decision,
    DocumentFacts,
    Emergency,
    RecordFacts,
    Request,
    decide,
)
from dmp.domain.actors import Role
from dmp.domain.audit import AuditAction, Outcome
from dmp.domain.errors import NotFound
from dmp.domain.matrix import Category
from dmp.domain.records import Record, RecordStatus
from dmp.services import notifications
from dmp.services.context import Ctx
from dmp.services.trail import trace
from dmp.storage import care_team
from dmp.storage.db import Database


@dataclass(frozen=True, slots=True)
class Access:
    """What an allowed use case may rely on."""

    record: Record
    decision: Decision
    link: CareLink
    emergency: Emergency | None
    facts: RecordFacts

    def judge(
        self,
        ctx: Ctx,
        action: Action,
        *,
        document: DocumentFacts | None = None,
        category: Category | None = None,
    ) -> Decision:
        """The policy's answer for one more item under the access already granted:
        each document of a search, each entry of a submission. The use case's one
        audit event covers them (its detail says what was returned or stored)."""
        return decide(
            Request(
                ctx.actor,
                action,
                self.facts,
                ctx.now,
                ctx.matrix,
                self.link,
                self.emergency,
                document,
                category,
            )
        )


@contextmanager
def guarded(
    db: Database,
    ctx: Ctx,
    action: Action,
    ins: str,
    *,
    document: DocumentFacts | None = None,
    category: Category | None = None,
    emergency: Emergency | None = None,
    detail: dict[str, object] | None = None,
) -> Iterator[tuple[Connection, Access]]:
    """A write transaction for `action` on the record of `ins`, if the policy allows it.

    `emergency` is the one being declared (Action.DECLARE_EMERGENCY); otherwise the
    professional's active emergency access, if any, is loaded. `detail` goes into the
    audit event, which is the use case's only trace: one event per action.
    """
    with db.write() as conn:
        access = _decide(conn, ctx, action, ins, document, category, emergency, detail)
        if access is not None:
            yield conn, access
            return
    raise NotFound("RECORD_NOT_FOUND", f"no record for {ins}", "ins")


@contextmanager
def refused_as(absent: NotFound) -> Iterator[None]:
    """For an item asked by its own id (a document, a profile entry): the guard's
    refusal (traced by it) answers as that item being absent, which names neither the
    record nor the patient (STYLE habit 3)."""
    try:
        yield
    except NotFound as exc:
        if exc.code != "RECORD_NOT_FOUND":
            raise
        raise absent from None


def peek(
    conn: Connection,
    ctx: Ctx,
    action: Action,
    ins: str,
    *,
    category: Category | None = None,
) -> Access | None:
    """The policy's answer without a trace, for a use case that prepares work (writes
    bytes to the blob store) before its traced transaction: that transaction asks again
    through `guarded`, which decides for good and traces."""
    evaluated = _evaluate(conn, ctx, action, ins, None, category, None, lock=False)
    if evaluated is None or not evaluated[0].decision.allowed:
        return None
    return evaluated[0]


def _evaluate(
    conn: Connection,
    ctx: Ctx,
    action: Action,
    ins: str,
    document: DocumentFacts | None,
    category: Category | None,
    declared: Emergency | None,
    *,
    lock: bool = True,
) -> tuple[Access, bool] | None:
    """The access (allowed or not) and whether the professional came before; None
    when there is no record. `lock` holds the record's row for a change to come."""
    professional = ctx.actor.id if ctx.actor.role is Role.PROFESSIONAL else None
    found = care_team.access_facts(
        conn, ins, professional, ctx.now, for_update=lock and action is not Action.READ_RECORD
    )
    if found is None:
        return None
    link, accessed_before, emergency = CareLink(), True, declared
    if professional is not None:
        link, accessed_before = found.link, found.accessed_before
        emergency = declared or found.emergency
    decision = decide(
        Request(
            ctx.actor, action, found.facts, ctx.now, ctx.matrix, link, emergency, document, category
        )
    )
    return Access(found.record, decision, link, emergency, found.facts), accessed_before


def _decide(
    conn: Connection,
    ctx: Ctx,
    action: Action,
    ins: str,
    document: DocumentFacts | None,
    category: Category | None,
    declared: Emergency | None,
    detail: dict[str, object] | None,
) -> Access | None:
    audit = AuditAction(action.value)  # every access action is an audited action
    evaluated = _evaluate(conn, ctx, action, ins, document, category, declared)
    if evaluated is None:
        trace(conn, ctx, audit, outcome=Outcome.DENIED, record_ins=ins, reason="no record")
        return None
    access, accessed_before = evaluated
    decision = access.decision
    outcome = Outcome.SUCCESS if decision.allowed else Outcome.DENIED
    trace(
        conn,
        ctx,
        audit,
        outcome=outcome,
        record_ins=ins,
        reason=decision.rule,
        purpose=decision.purpose,
        detail=detail,
    )
    if not decision.allowed:
        return None
    if (
        ctx.actor.role is Role.PROFESSIONAL
        and not accessed_before
        and access.record.status is RecordStatus.OPEN
    ):
        # RULES R17: the holder is told of each professional's first access.
        care_team.mark_first_access(conn, ins, ctx.actor.id, ctx.now)
        notifications.enqueue_first_access(conn, ins, ctx.now, ctx.actor.id, ctx.actor.profession)
    return access
