"""Who may access a record, as the holder decides (RULES R8, R9, R11, R14): authorise,
revoke, block and unblock professionals, name the médecin traitant, give the médecin
traitant's rights, refuse emergency accesses in advance; and, on the professional's
side, consent recorded during care and emergency accesses."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from enum import StrEnum

from dmp.domain.access import Action, CareLink, Emergency, EmergencyKind
from dmp.domain.errors import InvalidInput
from dmp.domain.identity import parse_ins, parse_rpps
from dmp.domain.records import parse_reason
from dmp.services import notifications
from dmp.services.context import Ctx
from dmp.services.guard import guarded
from dmp.storage import care_team
from dmp.storage.db import Database

DEFAULT_EMERGENCY_DURATION = timedelta(hours=24)  # R14: unconfirmed; configurable


class Change(StrEnum):
    AUTHORISE = "authorise"
    REVOKE = "revoke"
    BLOCK = "block"
    UNBLOCK = "unblock"
    MEDECIN_TRAITANT = "medecin_traitant"
    GRANT_FULL_RIGHTS = "grant_full_rights"
    WITHDRAW_FULL_RIGHTS = "withdraw_full_rights"


def _apply(link: CareLink, change: Change) -> CareLink:
    """How each of the holder's choices changes a professional's standing."""
    match change:
        case Change.AUTHORISE:
            return replace(link, authorised=True, blocked=False)
        case Change.REVOKE:
            return replace(link, authorised=False, full_rights=False, medecin_traitant=False)
        case Change.BLOCK:  # R9: blocked means no access at all
            return CareLink(blocked=True)
        case Change.UNBLOCK:
            return replace(link, blocked=False)
        case Change.MEDECIN_TRAITANT:
            return CareLink(authorised=True, medecin_traitant=True, full_rights=link.full_rights)
        case Change.GRANT_FULL_RIGHTS:
            return replace(link, authorised=True, blocked=False, full_rights=True)
        case Change.WITHDRAW_FULL_RIGHTS:
            return replace(link, full_rights=False)


def parse_change(value: str) -> Change:
    try:
        return Change(value)
    except ValueError:
        allowed = ", ".join(c.value for c in Change)
        raise InvalidInput("CHANGE", f"must be one of {allowed}, got {value!r}", "change") from None


def change_professional(db: Database, ctx: Ctx, ins: str, rpps: str, change: str) -> CareLink:
    """The holder (or a minor's representative) changes a professional's standing."""
    ins, rpps, what = parse_ins(ins), parse_rpps(rpps, "professional"), parse_change(change)
    detail: dict[str, object] = {"change": what.value, "professional": rpps}  # R16
    with guarded(db, ctx, Action.MANAGE_ACCESS, ins, detail=detail) as (conn, _):
        current, _seen = care_team.find_link(conn, ins, rpps)
        updated = _apply(current, what)
        if what is Change.MEDECIN_TRAITANT:
            care_team.clear_medecin_traitant(conn, ins, ctx.now)
        care_team.save_link(conn, ins, rpps, updated, ctx.now)
    return updated


def care_team_of(db: Database, ctx: Ctx, ins: str) -> list[tuple[str, CareLink]]:
    """The professionals with a standing on the record, for the holder."""
    ins = parse_ins(ins)
    with guarded(db, ctx, Action.MANAGE_ACCESS, ins, detail={"care_team": "read"}) as (conn, _):
        return care_team.links(conn, ins)


def set_emergency_choices(
    db: Database, ctx: Ctx, ins: str, refuse_bris_de_glace: bool, refuse_samu: bool
) -> None:
    """R14: the holder refuses, in advance and separately, each kind of emergency access."""
    ins = parse_ins(ins)
    detail: dict[str, object] = {
        "refuse_bris_de_glace": refuse_bris_de_glace,
        "refuse_samu": refuse_samu,
    }
    with guarded(db, ctx, Action.MANAGE_ACCESS, ins, detail=detail) as (conn, _):
        care_team.save_preferences(conn, ins, refuse_bris_de_glace, refuse_samu, ctx.now)


def record_consent_in_care(db: Database, ctx: Ctx, ins: str) -> CareLink:
    """R8: a professional records that the holder consented during care."""
    ins = parse_ins(ins)
    with guarded(db, ctx, Action.RECORD_CONSENT, ins) as (conn, access):
        updated = replace(access.link, authorised=True)
        care_team.save_link(conn, ins, ctx.actor.id, updated, ctx.now)
    return updated


def declare_emergency(
    db: Database,
    ctx: Ctx,
    ins: str,
    kind: str,
    reason: str,
    duration: timedelta = DEFAULT_EMERGENCY_DURATION,
) -> Emergency:
    """R14: bris de glace or SAMU regulation, with a stated reason, for a limited time;
    the holder is told afterwards (R17)."""
    ins = parse_ins(ins)
    try:
        what = EmergencyKind(kind)
    except ValueError:
        allowed = ", ".join(k.value for k in EmergencyKind)
        raise InvalidInput("EMERGENCY_KIND", f"must be one of {allowed}", "kind") from None
    emergency = Emergency(what, parse_reason(reason), ctx.now, ctx.now + duration)
    # R14, R16: the kind, the stated reason and the end of the access are on record.
    detail: dict[str, object] = {
        "kind": what.value,
        "reason": emergency.reason,
        "expires_at": emergency.expires_at.isoformat(),
    }
    declared = guarded(db, ctx, Action.DECLARE_EMERGENCY, ins, emergency=emergency, detail=detail)
    with declared as (conn, access):
        care_team.add_emergency(conn, ins, ctx.actor.id, emergency)
        notifications.enqueue_emergency_access(
            conn, ins, ctx.now, what, ctx.actor.id, ctx.actor.profession
        )
        # R14: the médecin traitant is informed too (unless they are the one declaring).
        doctor = next((r for r, link in care_team.links(conn, ins) if link.medecin_traitant), None)
        if doctor is not None and doctor != ctx.actor.id:
            identity = access.record.identity
            patient = f"{identity.given_names} {identity.family_name}" if identity else ins
            notifications.enqueue_emergency_to_doctor(
                conn, ins, ctx.now, what, ctx.actor.id, ctx.actor.profession, doctor, patient
            )
    return emergency
