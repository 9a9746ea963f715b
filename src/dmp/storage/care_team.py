"""The facts the access policy needs about a record and an actor, and their changes:
care links (authorised, blocked, médecin traitant, full rights), emergency accesses,
the holder's emergency choices and a minor's legal representatives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, RowMapping, Select, and_, bindparam, select, update

from dmp.domain.access import CareLink, Emergency, EmergencyKind, RecordFacts
from dmp.domain.records import Record
from dmp.domain.time import as_utc
from dmp.storage.db import Prebuilt, fetch_all, fetch_one
from dmp.storage.dialect import upsert
from dmp.storage.records import record_of
from dmp.storage.schema import (
    access_preferences,
    care_link,
    emergency_access,
    record,
    representative,
)

# Built once: building a statement cost more than running it.
_LINK = select(care_link).where(
    care_link.c.ins == bindparam("ins"), care_link.c.professional == bindparam("professional")
)


@dataclass(frozen=True, slots=True)
class AccessFacts:
    """Everything the policy needs about a record and the acting professional."""

    record: Record
    facts: RecordFacts
    link: CareLink
    accessed_before: bool  # R17: the professional's first access was already noted
    emergency: Emergency | None  # the professional's active emergency access


def _access_facts_query() -> Select[Any]:
    """The record, its holder's emergency choices, its representatives, and the acting
    professional's care link and active emergency access, in one statement: the guard
    runs it for every access, and on PostgreSQL each statement is a round trip.

    One row per representative (at least one: the joins are outer); the care link and
    the preferences are one row at most by their keys, and the emergency access is the
    one active access that expires last, picked by its key."""
    em, rep, pref, link = emergency_access, representative, access_preferences, care_link
    latest_active = (
        select(em.c.started_at)
        .where(
            em.c.ins == bindparam("ins"),
            em.c.professional == bindparam("professional"),
            em.c.expires_at > bindparam("now"),
            em.c.started_at <= bindparam("now"),
        )
        .order_by(em.c.expires_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    return (
        select(
            *record.c,
            rep.c.representative.label("rep_id"),
            pref.c.refuse_bris_de_glace.label("pref_bris_de_glace"),
            pref.c.refuse_samu.label("pref_samu"),
            link.c.professional.label("link_professional"),
            link.c.authorised.label("link_authorised"),
            link.c.blocked.label("link_blocked"),
            link.c.medecin_traitant.label("link_medecin_traitant"),
            link.c.full_rights.label("link_full_rights"),
            link.c.first_access_at.label("link_first_access_at"),
            em.c.kind.label("em_kind"),
            em.c.reason.label("em_reason"),
            em.c.started_at.label("em_started_at"),
            em.c.expires_at.label("em_expires_at"),
        )
        .select_from(
            record.outerjoin(rep, rep.c.ins == record.c.ins)
            .outerjoin(pref, pref.c.ins == record.c.ins)
            .outerjoin(
                link,
                and_(link.c.ins == record.c.ins, link.c.professional == bindparam("professional")),
            )
            .outerjoin(
                em,
                and_(
                    em.c.ins == record.c.ins,
                    em.c.professional == bindparam("professional"),
                    em.c.started_at == latest_active,
                ),
            )
        )
        .where(record.c.ins == bindparam("ins"))
    )


_ACCESS_FACTS = Prebuilt(_access_facts_query())
_LOCK_RECORD = Prebuilt(
    select(record.c.ins).where(record.c.ins == bindparam("ins")).with_for_update()
)


def access_facts(
    conn: Connection, ins: str, professional: str | None, now: datetime, *, for_update: bool
) -> AccessFacts | None:
    """The facts of the record of `ins` for an access by `professional` (None: the
    actor is not a professional) at `now`; None when there is no record. `for_update`
    locks the record's row for a change to come."""
    # The lock comes first, in a statement of its own: a statement that waited for it
    # would still see the facts as they were when it began (READ COMMITTED), not what
    # the change it waited for (a block, a first access) committed. SQLite's write
    # transactions are exclusive from their start: nothing to wait for there.
    postgres = conn.dialect.name == "postgresql"
    if for_update and postgres and fetch_one(conn, _LOCK_RECORD, ins=ins) is None:
        return None
    found = fetch_all(conn, _ACCESS_FACTS, ins=ins, professional=professional, now=now)
    if not found:
        return None
    row = found[0]
    rec = record_of(cast(RowMapping, row))  # a dict by column name, as a mapping is
    refused: set[EmergencyKind] = set()
    if row["pref_bris_de_glace"]:
        refused.add(EmergencyKind.BRIS_DE_GLACE)
    if row["pref_samu"]:
        refused.add(EmergencyKind.SAMU)
    representatives = frozenset(r["rep_id"] for r in found if r["rep_id"] is not None)
    birth = rec.identity.birth_date if rec.identity else None
    facts = RecordFacts(rec.ins, rec.status, birth, representatives, frozenset(refused))
    link, accessed_before = CareLink(), False
    if row["link_professional"] is not None:
        link = CareLink(
            bool(row["link_authorised"]),
            bool(row["link_blocked"]),
            bool(row["link_medecin_traitant"]),
            bool(row["link_full_rights"]),
        )
        accessed_before = row["link_first_access_at"] is not None
    emergency = None
    if row["em_kind"] is not None:
        emergency = Emergency(
            EmergencyKind(row["em_kind"]),
            row["em_reason"],
            as_utc(row["em_started_at"]),
            as_utc(row["em_expires_at"]),
        )
    return AccessFacts(rec, facts, link, accessed_before, emergency)


def find_link(conn: Connection, ins: str, professional: str) -> tuple[CareLink, bool]:
    """The professional's standing, and whether they ever accessed the record."""
    row = conn.execute(_LINK, {"ins": ins, "professional": professional}).mappings().first()
    if row is None:
        return CareLink(), False
    link = CareLink(row["authorised"], row["blocked"], row["medecin_traitant"], row["full_rights"])
    return link, row["first_access_at"] is not None


def save_link(conn: Connection, ins: str, professional: str, link: CareLink, now: datetime) -> None:
    values = {
        "authorised": link.authorised,
        "blocked": link.blocked,
        "medecin_traitant": link.medecin_traitant,
        "full_rights": link.full_rights,
        "updated_at": now,
    }
    stmt = upsert(conn, care_link).values(ins=ins, professional=professional, **values)
    conn.execute(stmt.on_conflict_do_update(index_elements=["ins", "professional"], set_=values))


def links(conn: Connection, ins: str) -> list[tuple[str, CareLink]]:
    rows = conn.execute(
        select(care_link).where(care_link.c.ins == ins).order_by(care_link.c.professional)
    ).mappings()
    return [
        (
            r["professional"],
            CareLink(r["authorised"], r["blocked"], r["medecin_traitant"], r["full_rights"]),
        )
        for r in rows
    ]


def clear_medecin_traitant(conn: Connection, ins: str, now: datetime) -> None:
    """R11: one médecin traitant per record; designating one ends the previous."""
    conn.execute(
        update(care_link)
        .where(care_link.c.ins == ins, care_link.c.medecin_traitant.is_(True))
        .values(medecin_traitant=False, updated_at=now)
    )


def mark_first_access(conn: Connection, ins: str, professional: str, now: datetime) -> None:
    stmt = upsert(conn, care_link).values(
        ins=ins,
        professional=professional,
        authorised=False,
        blocked=False,
        medecin_traitant=False,
        full_rights=False,
        first_access_at=now,
        updated_at=now,
    )
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["ins", "professional"], set_={"first_access_at": now}
        )
    )


def add_emergency(conn: Connection, ins: str, professional: str, emergency: Emergency) -> None:
    conn.execute(
        emergency_access.insert().values(
            ins=ins,
            professional=professional,
            started_at=emergency.started_at,
            kind=emergency.kind.value,
            reason=emergency.reason,
            expires_at=emergency.expires_at,
        )
    )


def save_preferences(
    conn: Connection, ins: str, refuse_bris_de_glace: bool, refuse_samu: bool, now: datetime
) -> None:
    values = {
        "refuse_bris_de_glace": refuse_bris_de_glace,
        "refuse_samu": refuse_samu,
        "updated_at": now,
    }
    stmt = upsert(conn, access_preferences).values(ins=ins, **values)
    conn.execute(stmt.on_conflict_do_update(index_elements=["ins"], set_=values))


def representatives_of(conn: Connection, ins: str) -> list[tuple[str, str]]:
    """A minor's legal representatives: (identifier, name)."""
    rows = conn.execute(
        select(representative.c.representative, representative.c.name)
        .where(representative.c.ins == ins)
        .order_by(representative.c.representative)
    )
    return [(r[0], r[1]) for r in rows]


def save_representative(conn: Connection, ins: str, who: str, name: str, since: datetime) -> None:
    conn.execute(
        upsert(conn, representative)
        .values(ins=ins, representative=who, name=name, since=since)
        .on_conflict_do_update(index_elements=["ins", "representative"], set_={"name": name})
    )


def remove_representative(conn: Connection, ins: str, who: str) -> bool:
    result = conn.execute(
        representative.delete().where(
            representative.c.ins == ins, representative.c.representative == who
        )
    )
    return int(result.rowcount) == 1
