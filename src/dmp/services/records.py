"""Record lifecycle use cases: open, read, close, reopen (RULES R1–R4)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from dmp.domain import records as rules
from dmp.domain.access import Action, CareLink, may_open
from dmp.domain.actors import Role
from dmp.domain.audit import AuditAction
from dmp.domain.errors import Refused
from dmp.domain.geography import parse_department
from dmp.domain.identity import parse_ins
from dmp.domain.records import Consent, Opening, Record, parse_holder
from dmp.domain.time import local_date
from dmp.services import notifications
from dmp.services.context import Ctx
from dmp.services.guard import guarded
from dmp.services.trail import trace, traced_write
from dmp.storage import care_team, rollups
from dmp.storage.beneficiaries import find_beneficiary
from dmp.storage.db import Database
from dmp.storage.records import find_record, insert_record, replace_purged, save_record


@dataclass(frozen=True, slots=True)
class OpenRequest:
    """What an opener sends, as raw values the domain's parsers validate."""

    ins: str
    channel: str
    opened_by: str | None
    consent_given_by: str
    informed: bool
    department: str | None = None  # of residence; the registry's when absent


def open_record(db: Database, ctx: Ctx, request: OpenRequest) -> Record:
    """RULES R1, R2: open the record of a consenting beneficiary, once per INS."""
    ins = parse_ins(request.ins)
    channel = rules.parse_channel(request.channel)
    opener = rules.parse_opener(channel, request.opened_by)
    consent = Consent(
        parse_holder(request.consent_given_by, "consent.given_by"), request.informed, ctx.now
    )
    requested_department = parse_department(request.department).code if request.department else None
    with traced_write(db, ctx, AuditAction.RECORD_OPEN, ins) as conn:
        allowed = may_open(ctx.actor, channel.value, opener, ins)
        if not allowed:
            raise Refused("OPENER_NOT_ALLOWED", allowed.rule, "opened_by")
        beneficiary = find_beneficiary(conn, ins)
        existing = find_record(conn, ins, for_update=True)
        department = requested_department or (beneficiary.department if beneficiary else "")
        opening = Opening(channel, opener, department, ctx.now)
        record = rules.open_record(existing, ins, beneficiary, opening, consent, ctx.now)
        if existing is None:
            insert_record(conn, record)
        else:
            replace_purged(conn, record)
        if ctx.actor.role is Role.PROFESSIONAL:
            # R8: consent to open is collected during care; the opener is authorised.
            care_team.save_link(conn, ins, ctx.actor.id, CareLink(authorised=True), ctx.now)
        key = (local_date(ctx.now), channel.value, department, opener or "")
        rollups.add_opening(conn, key)
        trace(conn, ctx, AuditAction.RECORD_OPEN, record_ins=ins, detail={"channel": channel.value})
    return record


def get_record(db: Database, ctx: Ctx, ins: str) -> Record:
    """The record of `ins`, if the access policy lets the caller know of it (traced
    either way); otherwise NotFound, as if there were none."""
    ins = parse_ins(ins)
    with guarded(db, ctx, Action.READ_RECORD, ins) as (_, access):
        return access.record


def get_record_and_doctor(db: Database, ctx: Ctx, ins: str) -> tuple[Record, str | None]:
    """The record and its médecin traitant's RPPS (FHIR Patient.generalPractitioner),
    under the same policy as `get_record`."""
    ins = parse_ins(ins)
    with guarded(db, ctx, Action.READ_RECORD, ins) as (conn, access):
        doctor = next(
            (rpps for rpps, link in care_team.links(conn, ins) if link.medecin_traitant), None
        )
        return access.record, doctor


def close_record(db: Database, ctx: Ctx, ins: str, by: str, reason: str) -> Record:
    """RULES R4: the holder or a representative closes the record, giving a reason."""
    ins = parse_ins(ins)
    holder = parse_holder(by, "closed_by")
    detail: dict[str, object] = {"closed_by": holder.value, "reason": reason}
    with guarded(db, ctx, Action.CLOSE_RECORD, ins, detail=detail) as (conn, access):
        after = rules.close_record(access.record, holder, reason, ctx.now)
        save_record(conn, access.record, after)
        _count_lifecycle(conn, ctx, after, "closed")
        notifications.enqueue_record_closed(conn, ins, ctx.now)
    return after


def reopen_record(db: Database, ctx: Ctx, ins: str, given_by: str, informed: bool) -> Record:
    """RULES R4: reopen a closed record within its retention period, with consent."""
    ins = parse_ins(ins)
    consent = Consent(parse_holder(given_by, "consent.given_by"), informed, ctx.now)
    detail: dict[str, object] = {"consent_given_by": consent.given_by.value}
    with guarded(db, ctx, Action.REOPEN_RECORD, ins, detail=detail) as (conn, access):
        after = rules.reopen_record(access.record, consent, ctx.now)
        save_record(conn, access.record, after)
        _count_lifecycle(conn, ctx, after, "reopened")
        notifications.enqueue_record_reopened(conn, ins, ctx.now)
    return after


def _count_lifecycle(conn: Connection, ctx: Ctx, record: Record, column: str) -> None:
    day = local_date(ctx.now)
    rollups.add_lifecycle(
        conn, day, record.opening.channel.value, record.opening.department, column
    )
