"""Writing audit events for use cases, in their transaction or, for a refusal,
in a transaction of its own (the refused change rolled back; its trace must not)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection

from dmp.domain.audit import AuditAction, AuditEvent, Outcome, Purpose
from dmp.domain.errors import DomainError, NotFound, SeveralErrors
from dmp.services.context import Ctx
from dmp.storage import audit_log
from dmp.storage.db import Database


def trace(
    conn: Connection,
    ctx: Ctx,
    action: AuditAction,
    *,
    outcome: Outcome = Outcome.SUCCESS,
    record_ins: str | None = None,
    reason: str | None = None,
    purpose: Purpose = Purpose.NORMAL,
    detail: dict[str, object] | None = None,
) -> None:
    audit_log.append(
        conn,
        AuditEvent(
            at=ctx.now,
            action=action,
            outcome=outcome,
            actor_role=ctx.actor.role.value,
            actor_id=ctx.actor.id,
            actor_profession=ctx.actor.profession,
            actor_organisation=ctx.actor.organisation,
            record_ins=record_ins,
            purpose=purpose,
            reason=reason,
            client=ctx.client,
            request_id=ctx.request_id,
            detail=detail or {},
        ),
    )


@contextmanager
def traced_write(
    db: Database, ctx: Ctx, action: AuditAction, record_ins: str | None
) -> Iterator[Connection]:
    """A write transaction whose refusal (a DomainError) is itself traced."""
    try:
        with db.write() as conn:
            yield conn
    except DomainError as exc:
        with db.write() as conn:
            trace(
                conn,
                ctx,
                action,
                outcome=Outcome.FAILED,
                record_ins=record_ins,
                reason=exc.code,
                detail={"field": exc.field, "message": exc.message},
            )
        raise


@contextmanager
def failures_traced(
    db: Database, ctx: Ctx, action: AuditAction, ins: str, detail: dict[str, object]
) -> Iterator[None]:
    """A change the policy allowed but a rule then refused (If-Match, clashing flags…)
    rolls back with the guard's trace; it is traced as failed in its own transaction.
    A refusal by the policy (NotFound) was traced by the guard already."""
    try:
        yield
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        errors = exc.errors if isinstance(exc, SeveralErrors) else (exc,)
        with db.write() as conn:
            trace(
                conn,
                ctx,
                action,
                outcome=Outcome.FAILED,
                record_ins=ins,
                reason=exc.code,
                detail={**detail, "errors": [{"code": e.code, "field": e.field} for e in errors]},
            )
        raise
