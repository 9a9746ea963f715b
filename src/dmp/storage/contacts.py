"""Holder contacts: where the holder is told of R17 events, and their opt-ins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, select

from dmp.domain.notifications import Contact
from dmp.domain.time import as_utc
from dmp.storage.db import Prebuilt, fetch_one
from dmp.storage.dialect import upsert
from dmp.storage.schema import holder_contact as t
from dmp.storage.schema import professional_contact

# Built once: every publish looks for the holder's contact (a new-document notice).
_CONTACT = Prebuilt(select(t).where(t.c.ins == bindparam("ins")))


def find_contact(conn: Connection, ins: str) -> Contact | None:
    row = fetch_one(conn, _CONTACT, ins=ins)
    if row is None:
        return None
    return Contact(
        ins=row["ins"],
        email=row["email"],
        phone=row["phone"],
        notify_new_documents=bool(row["notify_new_documents"]),
        updated_at=as_utc(row["updated_at"]),
    )


def save_contact(conn: Connection, contact: Contact) -> None:
    """Insert or replace the record's contact."""
    values = {
        "email": contact.email,
        "phone": contact.phone,
        "notify_new_documents": contact.notify_new_documents,
        "updated_at": contact.updated_at,
    }
    conn.execute(
        upsert(conn, t)
        .values(ins=contact.ins, **values)
        .on_conflict_do_update(index_elements=["ins"], set_=values)
    )


def delete_contact(conn: Connection, ins: str) -> None:
    """Forget the contact (the record's purge destroys personal data, CSP L1111-18)."""
    conn.execute(delete(t).where(t.c.ins == ins))


def find_professional_email(conn: Connection, rpps: str) -> str | None:
    return conn.execute(
        select(professional_contact.c.email).where(professional_contact.c.rpps == rpps)
    ).scalar_one_or_none()


def save_professional_email(conn: Connection, rpps: str, email: str, at: datetime) -> None:
    values = {"email": email, "updated_at": at}
    conn.execute(
        upsert(conn, professional_contact)
        .values(rpps=rpps, **values)
        .on_conflict_do_update(index_elements=["rpps"], set_=values)
    )
