"""A minor's legal representatives over HTTP (RULES R3), for the insurer's desk."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends
from pydantic import BaseModel, ConfigDict, Field

from dmp.api import deps
from dmp.api.json import Json
from dmp.services import representatives as service
from dmp.services.context import Ctx
from dmp.storage.db import Database

DbDep = Annotated[Database, Depends(deps.db)]
CtxDep = Annotated[Ctx, Depends(deps.ctx)]


class RepresentativeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    representative: str = Field(description="the identifier the representative logs in with")
    name: str = Field(description="family and given names")


def list_representatives(ins: str, db: DbDep, ctx: CtxDep) -> dict[str, Any]:
    found = service.representatives(db, ctx, ins)
    return {"representatives": [{"representative": r, "name": n} for r, n in found]}


def declare(ins: str, body: RepresentativeIn, db: DbDep, ctx: CtxDep) -> Json:
    service.declare_representative(db, ctx, ins, body.representative, body.name)
    return Json({"representative": body.representative, "name": body.name}, status_code=201)


def withdraw(ins: str, who: str, db: DbDep, ctx: CtxDep) -> dict[str, str]:
    service.withdraw_representative(db, ctx, ins, who)
    return {"withdrawn": who}
