"""A minor's legal representatives (RULES R3): recorded by the insurer's desk, which
knows who holds parental authority; they exercise the holder's rights until the holder
turns 18, when domain/access.py stops honouring them by itself."""

from __future__ import annotations

from dmp.domain.access import Action
from dmp.domain.errors import InvalidInput, NotFound
from dmp.domain.identity import parse_ins
from dmp.services.context import Ctx
from dmp.services.guard import guarded
from dmp.storage import care_team
from dmp.storage.db import Database

MAX_ID = 64
MAX_NAME = 200


def _text(value: str, field: str, limit: int) -> str:
    cleaned = " ".join(value.split()) if isinstance(value, str) else ""
    if not cleaned:
        raise InvalidInput("REQUIRED", "is required", field)
    if len(cleaned) > limit:
        raise InvalidInput("TOO_LONG", f"at most {limit} characters", field)
    return cleaned


def declare_representative(db: Database, ctx: Ctx, ins: str, who: str, name: str) -> None:
    """R3: `who` (the identifier they log in with) acts for the holder of `ins`."""
    ins = parse_ins(ins)
    who, name = _text(who, "representative", MAX_ID), _text(name, "name", MAX_NAME)
    detail: dict[str, object] = {"representative": who, "change": "declare"}
    with guarded(db, ctx, Action.MANAGE_REPRESENTATIVES, ins, detail=detail) as (conn, _):
        care_team.save_representative(conn, ins, who, name, ctx.now)


def withdraw_representative(db: Database, ctx: Ctx, ins: str, who: str) -> None:
    ins = parse_ins(ins)
    who = _text(who, "representative", MAX_ID)
    detail: dict[str, object] = {"representative": who, "change": "withdraw"}
    with guarded(db, ctx, Action.MANAGE_REPRESENTATIVES, ins, detail=detail) as (conn, _):
        if not care_team.remove_representative(conn, ins, who):
            raise NotFound("REPRESENTATIVE_NOT_FOUND", f"{who} is not a representative", "who")


def representatives(db: Database, ctx: Ctx, ins: str) -> list[tuple[str, str]]:
    ins = parse_ins(ins)
    detail: dict[str, object] = {"representatives": "read"}
    with guarded(db, ctx, Action.MANAGE_REPRESENTATIVES, ins, detail=detail) as (conn, _):
        return care_team.representatives_of(conn, ins)
