"""The facts the access policy needs about a record and an actor, and their changes:
care links (authorised, blocked, médecin traitant, full rights), emergency accesses,
the holder's emergency choices and a minor's legal representatives."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, select, update

from dmp.domain.access import CareLink, Emergency, EmergencyKind, RecordFacts
from dmp.domain.records import Record
from dmp.domain.time import as_utc
from dmp.storage.dialect import upsert
from dmp.storage.schema import access_preferences, care_link, emergency_access, representative

# Built once: the guard runs these for every access, and building a statement cost
# more than running it.
_REPRESENTATIVES = select(representative.c.representative).where(
    representative.c.ins == bindparam("ins")
)
_PREFERENCES = select(
    access_preferences.c.refuse_bris_de_glace, access_preferences.c.refuse_samu
).where(access_preferences.c.ins == bindparam("ins"))
_LINK = select(care_link).where(
    care_link.c.ins == bindparam("ins"), care_link.c.professional == bindparam("professional")
)
_ACTIVE_EMERGENCY = (
    select(emergency_access)
    .where(
        emergency_access.c.ins == bindparam("ins"),
        emergency_access.c.professional == bindparam("professional"),
        emergency_access.c.expires_at > bindparam("now"),
        emergency_access.c.started_at <= bindparam("now"),
    )
    .order_by(emergency_access.c.expires_at.desc())
    .limit(1)
)


def record_facts(conn: Connection, record: Record) -> RecordFacts:
    reps = conn.scalars(_REPRESENTATIVES, {"ins": record.ins})
    prefs = conn.execute(_PREFERENCES, {"ins": record.ins}).first()
    refused: set[EmergencyKind] = set()
    if prefs and prefs[0]:
        refused.add(EmergencyKind.BRIS_DE_GLACE)
    if prefs and prefs[1]:
        refused.add(EmergencyKind.SAMU)
    birth = record.identity.birth_date if record.identity else None
    return RecordFacts(record.ins, record.status, birth, frozenset(reps), frozenset(refused))


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


def active_emergency(
    conn: Connection, ins: str, professional: str, now: datetime
) -> Emergency | None:
    params = {"ins": ins, "professional": professional, "now": now}
    row = conn.execute(_ACTIVE_EMERGENCY, params).mappings().first()
    if row is None:
        return None
    return Emergency(
        EmergencyKind(row["kind"]),
        row["reason"],
        as_utc(row["started_at"]),
        as_utc(row["expires_at"]),
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
