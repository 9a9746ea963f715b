"""Record lifecycle over HTTP (JSON): open, read, close, reopen.

Opening needs a proven caller (RULES R2, R18): without a bearer token the answer is a
401 with its challenge, before the body's fields are checked (only a body that is not
JSON at all is a 422 first); who may open through which channel is the policy's
decision (domain.access.may_open). Reading, closing and reopening go through the
guard: what the caller may not see is a 404, as if there were no record.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends
from pydantic import BaseModel, ConfigDict, Field

from dmp.api import auth, deps
from dmp.api.json import Json
from dmp.domain.actors import Role
from dmp.domain.records import Record
from dmp.domain.time import PARIS
from dmp.services import records as service
from dmp.services.context import Ctx
from dmp.services.tokens import TokenRefused
from dmp.storage.db import Database

DbDep = Annotated[Database, Depends(deps.db)]
CtxDep = Annotated[Ctx, Depends(deps.ctx)]


class NotAuthenticated(auth.UnsupportedScheme):
    """No Authorization header where a proven caller is required. Like another scheme,
    it presents no bearer credentials, so the challenge names no error (RFC 6750 §3.1)."""

    def __init__(self) -> None:
        TokenRefused.__init__(
            self, "AUTH_REQUIRED", "opening a record needs Authorization: Bearer <token>"
        )


async def authenticated_ctx(ctx: CtxDep) -> Ctx:
    """The caller's context, refused with a 401 when no token proves who they are
    (authentication, not access: may_open decides who opens what)."""
    if ctx.actor.role is Role.ANONYMOUS:
        raise NotAuthenticated()
    return ctx


AuthenticatedCtxDep = Annotated[Ctx, Depends(authenticated_ctx)]


class ConsentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    given_by: str = Field(description="holder or legal_representative")
    informed: bool = Field(description="the person was informed as CSP R1111-40 requires")


class OpenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ins: str
    channel: str
    opened_by: str | None = None
    department: str | None = None
    consent: ConsentIn


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    closed_by: str
    reason: str


class ReopenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    consent: ConsentIn


def record_json(record: Record) -> dict[str, Any]:
    identity = record.identity
    return {
        "ins": record.ins,
        "status": record.status.value,
        "source": record.source.value,
        "identity": None
        if identity is None
        else {
            "family_name": identity.family_name,
            "given_names": identity.given_names,
            "birth_date": identity.birth_date.isoformat(),
            "sex": identity.sex,
        },
        "opening": {
            "channel": record.opening.channel.value,
            "opened_by": record.opening.opened_by,
            "department": record.opening.department,
            "opened_at": record.opening.opened_at.astimezone(PARIS).isoformat(),
        },
        "closed_at": record.closed_at.isoformat() if record.closed_at else None,
        "close_reason": record.close_reason,
        "reopened_at": record.reopened_at.isoformat() if record.reopened_at else None,
    }


def open_record(body: OpenIn, db: DbDep, ctx: AuthenticatedCtxDep) -> Json:
    request = service.OpenRequest(
        body.ins,
        body.channel,
        body.opened_by,
        body.consent.given_by,
        body.consent.informed,
        body.department,
    )
    record = service.open_record(db, ctx, request)
    return Json(
        record_json(record), status_code=201, headers={"Location": f"/api/records/{record.ins}"}
    )


def read_record(ins: str, db: DbDep, ctx: CtxDep) -> dict[str, Any]:
    return record_json(service.get_record(db, ctx, ins))


def close_record(ins: str, body: CloseIn, db: DbDep, ctx: CtxDep) -> dict[str, Any]:
    return record_json(service.close_record(db, ctx, ins, body.closed_by, body.reason))


def reopen_record(ins: str, body: ReopenIn, db: DbDep, ctx: CtxDep) -> dict[str, Any]:
    return record_json(
        service.reopen_record(db, ctx, ins, body.consent.given_by, body.consent.informed)
    )
