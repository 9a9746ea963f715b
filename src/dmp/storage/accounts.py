"""Portal accounts: activation codes, accounts and password resets (RULES R19).

Only digests of the secrets are stored (docs/decisions/0007-portal-accounts.md). Every
table leads with the holder's INS; lookups are by primary key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Connection, RowMapping, and_, select, update

from dmp.domain.accounts import Throttle
from dmp.domain.time import as_utc
from dmp.storage.dialect import upsert
from dmp.storage.schema import beneficiary as b
from dmp.storage.schema import portal_account as acc
from dmp.storage.schema import portal_activation as act
from dmp.storage.schema import portal_reset as rst


@dataclass(frozen=True, slots=True)
class Activation:
    ins: str
    code_hash: str
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    throttle: Throttle = field(default_factory=Throttle)


@dataclass(frozen=True, slots=True)
class Account:
    ins: str
    email: str
    password_hash: str
    created_at: datetime
    password_changed_at: datetime
    totp_secret: bytes | None = None  # sealed
    totp_pending: bytes | None = None  # sealed
    totp_last_step: int | None = None
    throttle: Throttle = field(default_factory=Throttle)
    last_login_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Reset:
    ins: str
    code_hash: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Addressee:
    """What an activation letter needs of a registry line."""

    ins: str
    family_name: str
    given_names: str
    birth_date: date
    department: str


def _utc(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


def _throttle(row: RowMapping) -> Throttle:
    return Throttle(int(row["failures"]), _utc(row["locked_until"]), int(row["lockouts"]))


def _throttle_values(throttle: Throttle) -> dict[str, object]:
    return {
        "failures": throttle.failures,
        "locked_until": throttle.locked_until,
        "lockouts": throttle.lockouts,
    }


# --- activation codes ---


def find_activation(conn: Connection, ins: str, *, for_update: bool = False) -> Activation | None:
    query = select(act).where(act.c.ins == ins)
    row = conn.execute(query.with_for_update() if for_update else query).mappings().first()
    if row is None:
        return None
    return Activation(
        row["ins"],
        row["code_hash"],
        as_utc(row["issued_at"]),
        as_utc(row["expires_at"]),
        _utc(row["used_at"]),
        _throttle(row),
    )


def save_activations(conn: Connection, codes: Sequence[Activation]) -> None:
    """Insert or replace each beneficiary's code: the previous one, used or not, dies."""
    if not codes:
        return
    stmt = upsert(conn, act)
    stmt = stmt.on_conflict_do_update(
        index_elements=["ins"],
        set_={c.name: stmt.excluded[c.name] for c in act.columns if c.name != "ins"},
    )
    conn.execute(
        stmt,
        [
            {
                "ins": a.ins,
                "code_hash": a.code_hash,
                "issued_at": a.issued_at,
                "expires_at": a.expires_at,
                "used_at": None,
                **_throttle_values(a.throttle),
            }
            for a in codes
        ],
    )


def save_activation_throttle(conn: Connection, ins: str, throttle: Throttle) -> None:
    conn.execute(update(act).where(act.c.ins == ins).values(**_throttle_values(throttle)))


def use_activation(conn: Connection, ins: str, code_hash: str, now: datetime) -> bool:
    """Mark the code used, if it still is this one and unused (single use, even racing)."""
    done = conn.execute(
        update(act)
        .where(act.c.ins == ins, act.c.code_hash == code_hash, act.c.used_at.is_(None))
        .values(used_at=now, **_throttle_values(Throttle()))
    )
    return bool(done.rowcount)


def code_candidates(conn: Connection, after: str, limit: int, now: datetime) -> list[Addressee]:
    """The next `limit` beneficiaries by INS after `after` who have no account and no
    live (unused, unexpired) activation code: who gets a letter in a bulk run."""
    live = and_(act.c.used_at.is_(None), act.c.expires_at > now)
    query = (
        select(b.c.ins, b.c.family_name, b.c.given_names, b.c.birth_date, b.c.department)
        .select_from(
            b.outerjoin(acc, acc.c.ins == b.c.ins).outerjoin(act, and_(act.c.ins == b.c.ins, live))
        )
        .where(b.c.ins > after, acc.c.ins.is_(None), act.c.ins.is_(None))
        .order_by(b.c.ins)
        .limit(limit)
    )
    return [Addressee(*row) for row in conn.execute(query)]


def find_addressees(conn: Connection, ins: Sequence[str]) -> dict[str, Addressee]:
    rows = conn.execute(
        select(b.c.ins, b.c.family_name, b.c.given_names, b.c.birth_date, b.c.department).where(
            b.c.ins.in_(list(ins))
        )
    )
    return {row[0]: Addressee(*row) for row in rows}


def accounts_among(conn: Connection, ins: Sequence[str]) -> set[str]:
    return set(conn.scalars(select(acc.c.ins).where(acc.c.ins.in_(list(ins)))))


# --- accounts ---


def find_account(conn: Connection, ins: str, *, for_update: bool = False) -> Account | None:
    query = select(acc).where(acc.c.ins == ins)
    row = conn.execute(query.with_for_update() if for_update else query).mappings().first()
    if row is None:
        return None
    return Account(
        ins=row["ins"],
        email=row["email"],
        password_hash=row["password_hash"],
        created_at=as_utc(row["created_at"]),
        password_changed_at=as_utc(row["password_changed_at"]),
        totp_secret=row["totp_secret"],
        totp_pending=row["totp_pending"],
        totp_last_step=row["totp_last_step"],
        throttle=_throttle(row),
        last_login_at=_utc(row["last_login_at"]),
    )


def insert_account(conn: Connection, account: Account) -> None:
    conn.execute(
        acc.insert().values(
            ins=account.ins,
            email=account.email,
            password_hash=account.password_hash,
            created_at=account.created_at,
            password_changed_at=account.password_changed_at,
            **_throttle_values(account.throttle),
        )
    )


def update_account(conn: Connection, ins: str, **values: object) -> None:
    """Change some columns of the account (names as in the table)."""
    if "throttle" in values:
        throttle = values.pop("throttle")
        assert isinstance(throttle, Throttle)
        values.update(_throttle_values(throttle))
    conn.execute(update(acc).where(acc.c.ins == ins).values(**values))


# --- password resets ---


def save_reset(conn: Connection, reset: Reset) -> None:
    """Insert or replace the account's reset: a new code kills the previous one."""
    values = {
        "code_hash": reset.code_hash,
        "created_at": reset.created_at,
        "expires_at": reset.expires_at,
        "used_at": None,
    }
    conn.execute(
        upsert(conn, rst)
        .values(ins=reset.ins, **values)
        .on_conflict_do_update(index_elements=["ins"], set_=values)
    )


def find_reset(conn: Connection, ins: str) -> Reset | None:
    row = conn.execute(select(rst).where(rst.c.ins == ins)).mappings().first()
    if row is None:
        return None
    return Reset(
        row["ins"],
        row["code_hash"],
        as_utc(row["created_at"]),
        as_utc(row["expires_at"]),
        _utc(row["used_at"]),
    )


def use_reset(conn: Connection, ins: str, code_hash: str, now: datetime) -> bool:
    """Mark the reset code used, if it is still this one, unused and unexpired."""
    done = conn.execute(
        update(rst)
        .where(
            rst.c.ins == ins,
            rst.c.code_hash == code_hash,
            rst.c.used_at.is_(None),
            rst.c.expires_at > now,
        )
        .values(used_at=now)
    )
    return bool(done.rowcount)
