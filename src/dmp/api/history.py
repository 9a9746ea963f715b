"""A record's access history over HTTP (JSON; RULES R16): who did what, when, with which
outcome and purpose, newest first. Who may read it is the guard's decision
(services/history.py): anyone else gets a 404, as if there were no record — no
events, no count."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends

from dmp.api import deps
from dmp.domain.audit import AuditEvent
from dmp.domain.time import PARIS
from dmp.services import history as service
from dmp.services.context import Ctx
from dmp.storage.db import Database

DbDep = Annotated[Database, Depends(deps.db)]
CtxDep = Annotated[Ctx, Depends(deps.ctx)]


def event_json(event: AuditEvent) -> dict[str, Any]:
    return {
        "at": event.at.astimezone(PARIS).isoformat(),
        "action": event.action.value,
        "outcome": event.outcome.value,
        "purpose": event.purpose.value,
        "reason": event.reason,
        "actor": {
            "role": event.actor_role,
            "id": event.actor_id,
            "profession": event.actor_profession,
            "organisation": event.actor_organisation,
        },
        "document": event.document_id,
    }


def read_history(
    ins: str,
    db: DbDep,
    ctx: CtxDep,
    limit: int = service.DEFAULT_PAGE,
    offset: int = 0,
) -> dict[str, Any]:
    page = service.get_history(db, ctx, ins, limit, offset)
    return {
        "total": page.total,
        "limit": page.limit,
        "offset": page.offset,
        "events": [event_json(e) for e in page.events],
    }
