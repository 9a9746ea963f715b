"""The holder's contact details and opt-ins for notices (RULES R17), set and read by
the holder (or a minor's legal representatives) through the access guard."""

from __future__ import annotations

from dataclasses import dataclass

from dmp.domain import notifications as notices
from dmp.domain.access import Action
from dmp.domain.audit import AuditAction
from dmp.domain.errors import InvalidInput
from dmp.domain.identity import parse_ins, parse_rpps
from dmp.domain.notifications import Contact
from dmp.services.context import Ctx
from dmp.services.guard import guarded
from dmp.services.trail import trace
from dmp.storage import contacts
from dmp.storage.db import Database


@dataclass(frozen=True, slots=True)
class ContactRequest:
    """What the holder sends, as raw values the domain's parsers validate."""

    email: str | None
    phone: str | None = None
    notify_new_documents: bool = False


def set_contact(db: Database, ctx: Ctx, ins: str, request: ContactRequest) -> Contact:
    """Set where the holder of `ins` is told of R17 events, and their opt-ins."""
    ins = parse_ins(ins)
    email = notices.parse_email(request.email)
    phone = notices.parse_phone(request.phone)
    contact = Contact(ins, email, phone, request.notify_new_documents, ctx.now)
    with guarded(db, ctx, Action.MANAGE_ACCESS, ins, detail={"contact": "set"}) as (conn, _):
        contacts.save_contact(conn, contact)
    return contact


def find_contact(db: Database, ctx: Ctx, ins: str) -> Contact | None:
    """The contact of the holder of `ins`, if they gave one."""
    ins = parse_ins(ins)
    with guarded(db, ctx, Action.MANAGE_ACCESS, ins, detail={"contact": "read"}) as (conn, _):
        return contacts.find_contact(conn, ins)


def set_professional_contact(db: Database, ctx: Ctx, rpps: str, email: str) -> str:
    """Where a professional is told what concerns them (R14: an emergency access to a
    patient whose médecin traitant they are). An operator's act, traced."""
    rpps = parse_rpps(rpps, "rpps")
    address = notices.parse_email(email)
    if address is None:
        raise InvalidInput("EMAIL_REQUIRED", "an address is required", "email")
    with db.write() as conn:
        contacts.save_professional_email(conn, rpps, address, ctx.now)
        trace(conn, ctx, AuditAction.PROFESSIONAL_CONTACT, detail={"rpps": rpps})
    return address
