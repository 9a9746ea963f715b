"""The insurer's registry of beneficiaries (who may have a record)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, bindparam, select

from dmp.domain.people import Beneficiary, Identity
from dmp.storage.db import Prebuilt, fetch_one
from dmp.storage.dialect import upsert
from dmp.storage.schema import beneficiary as t

# Built once: every publish checks that the record's INS is in the registry (R1).
_BENEFICIARY = Prebuilt(select(t).where(t.c.ins == bindparam("ins")))


def find_beneficiary(conn: Connection, ins: str) -> Beneficiary | None:
    row = fetch_one(conn, _BENEFICIARY, ins=ins)
    if row is None:
        return None
    identity = Identity(
        row["ins"], row["family_name"], row["given_names"], row["birth_date"], row["sex"]
    )
    return Beneficiary(identity, row["department"], row["regime"])


def upsert_beneficiaries(conn: Connection, people: Sequence[Beneficiary], now: datetime) -> int:
    """Insert or refresh registry lines (the registry is the insurer's truth)."""
    if not people:
        return 0
    stmt = upsert(conn, t)
    stmt = stmt.on_conflict_do_update(
        index_elements=["ins"],
        set_={
            c: stmt.excluded[c]
            for c in (
                "family_name",
                "given_names",
                "birth_date",
                "sex",
                "department",
                "regime",
                "updated_at",
            )
        },
    )
    conn.execute(
        stmt,
        [
            {
                "ins": p.identity.ins,
                "family_name": p.identity.family_name,
                "given_names": p.identity.given_names,
                "birth_date": p.identity.birth_date,
                "sex": p.identity.sex,
                "department": p.department,
                "regime": p.regime,
                "updated_at": now,
            }
            for p in people
        ],
    )
    return len(people)


def count_beneficiaries(conn: Connection) -> int:
    from sqlalchemy import func

    return int(conn.execute(select(func.count()).select_from(t)).scalar_one())
