"""Who may access a record, over HTTP (JSON; RULES R8, R9, R11, R14): the holder's care
team and emergency choices, a professional's consent collected in care and emergency
access. Every call goes through the guard (services/care_team.py): what the caller
may not act on is a 404, as if there were no record."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends
from pydantic import BaseModel, ConfigDict, Field

from dmp.api import deps
from dmp.api.json import Json
from dmp.config import Settings
from dmp.domain.access import CareLink
from dmp.domain.identity import parse_rpps
from dmp.domain.time import PARIS
from dmp.services import care_team as service
from dmp.services.context import Ctx
from dmp.storage.db import Database

DbDep = Annotated[Database, Depends(deps.db)]
CtxDep = Annotated[Ctx, Depends(deps.ctx)]
SettingsDep = Annotated[Settings, Depends(deps.settings)]


class ChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    professional: str = Field(description="the professional's RPPS")
    change: str = Field(description=" | ".join(c.value for c in service.Change))


class EmergencyChoicesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refuse_bris_de_glace: bool = Field(description="refuse access by any professional (R14)")
    refuse_samu: bool = Field(description="refuse access by the emergency regulation centre")


class EmergencyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(description="bris_de_glace | samu")
    reason: str = Field(description="why the holder's record is needed now")


def standing_json(rpps: str, link: CareLink) -> dict[str, Any]:
    return {
        "rpps": rpps,
        "authorised": link.authorised,
        "blocked": link.blocked,
        "medecin_traitant": link.medecin_traitant,
        "full_rights": link.full_rights,
    }


def read_care_team(ins: str, db: DbDep, ctx: CtxDep) -> dict[str, Any]:
    team = service.care_team_of(db, ctx, ins)
    return {"professionals": [standing_json(rpps, link) for rpps, link in team]}


def change_professional(ins: str, body: ChangeIn, db: DbDep, ctx: CtxDep) -> dict[str, Any]:
    link = service.change_professional(db, ctx, ins, body.professional, body.change)
    return standing_json(parse_rpps(body.professional, "professional"), link)


def set_emergency_choices(
    ins: str, body: EmergencyChoicesIn, db: DbDep, ctx: CtxDep
) -> dict[str, Any]:
    service.set_emergency_choices(db, ctx, ins, body.refuse_bris_de_glace, body.refuse_samu)
    return body.model_dump()


def record_consent(ins: str, db: DbDep, ctx: CtxDep) -> dict[str, Any]:
    return standing_json(ctx.actor.id, service.record_consent_in_care(db, ctx, ins))


def declare_emergency(
    ins: str, body: EmergencyIn, db: DbDep, ctx: CtxDep, settings: SettingsDep
) -> Json:
    duration = timedelta(hours=settings.emergency_hours)
    emergency = service.declare_emergency(db, ctx, ins, body.kind, body.reason, duration)
    return Json(
        {
            "kind": emergency.kind.value,
            "reason": emergency.reason,
            "started_at": emergency.started_at.astimezone(PARIS).isoformat(),
            "expires_at": emergency.expires_at.astimezone(PARIS).isoformat(),
        },
        status_code=201,
    )
