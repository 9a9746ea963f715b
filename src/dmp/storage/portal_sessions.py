"""Server-side portal sessions (RULES R19; docs/decisions/0007-portal-accounts.md).

The cookie carries a random id; the table keeps only its SHA-256, so a copy of the
table opens no session. Rows lead with the INS; the cookie's digest finds them through
a unique index.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, or_, select, update

from dmp.domain.accounts import SESSION_IDLE, Stage
from dmp.domain.time import as_utc
from dmp.storage.schema import portal_session as t


def session_digest(token: str) -> str:
    """What is stored of a session id (256 random bits: a plain hash is enough)."""
    return hashlib.sha256(f"dmp-session:{token}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Session:
    ins: str
    id_hash: str
    stage: Stage
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    otp_hash: str | None = None
    otp_sent_at: datetime | None = None


def insert_session(conn: Connection, session: Session) -> None:
    conn.execute(
        t.insert().values(
            ins=session.ins,
            id_hash=session.id_hash,
            stage=session.stage.value,
            created_at=session.created_at,
            last_seen_at=session.last_seen_at,
            expires_at=session.expires_at,
            otp_hash=session.otp_hash,
            otp_sent_at=session.otp_sent_at,
        )
    )


def find_session(conn: Connection, id_hash: str) -> Session | None:
    row = conn.execute(select(t).where(t.c.id_hash == id_hash)).mappings().first()
    if row is None:
        return None
    sent = row["otp_sent_at"]
    return Session(
        ins=row["ins"],
        id_hash=row["id_hash"],
        stage=Stage(row["stage"]),
        created_at=as_utc(row["created_at"]),
        last_seen_at=as_utc(row["last_seen_at"]),
        expires_at=as_utc(row["expires_at"]),
        otp_hash=row["otp_hash"],
        otp_sent_at=as_utc(sent) if sent is not None else None,
    )


def touch_session(conn: Connection, session: Session, now: datetime) -> None:
    """The holder was active now: the idle timeout starts again."""
    conn.execute(
        update(t)
        .where(t.c.ins == session.ins, t.c.id_hash == session.id_hash)
        .values(last_seen_at=now)
    )


def set_session_code(
    conn: Connection, session: Session, otp_hash: str, now: datetime, expires_at: datetime
) -> None:
    """A new one-time code for the second factor: the previous one no longer counts."""
    conn.execute(
        update(t)
        .where(t.c.ins == session.ins, t.c.id_hash == session.id_hash)
        .values(otp_hash=otp_hash, otp_sent_at=now, expires_at=expires_at)
    )


def delete_session(conn: Connection, ins: str, id_hash: str) -> bool:
    done = conn.execute(delete(t).where(t.c.ins == ins, t.c.id_hash == id_hash))
    return bool(done.rowcount)


def delete_sessions(conn: Connection, ins: str) -> int:
    """End every session of the holder (password changed, account locked)."""
    return int(conn.execute(delete(t).where(t.c.ins == ins)).rowcount)


def delete_ended_sessions(conn: Connection, ins: str, now: datetime) -> int:
    """Forget the holder's sessions that timed out (absolute or idle)."""
    ended = or_(t.c.expires_at <= now, t.c.last_seen_at <= now - SESSION_IDLE)
    return int(conn.execute(delete(t).where(t.c.ins == ins, ended)).rowcount)


def delete_expired_sessions(conn: Connection, now: datetime) -> int:
    """Forget every session past its absolute end (an operator's sweep; index range)."""
    return int(conn.execute(delete(t).where(t.c.expires_at <= now)).rowcount)
