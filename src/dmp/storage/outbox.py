"""The notification outbox: notices queued in the transaction of the event they
report, then leased, sent and marked by delivery workers.

A notice is due when it is pending, its next attempt is not in the future and no
live lease holds it. Claiming takes a lease (claimed_until, claimed_by) and counts
the attempt, in a transaction committed before anything is sent: on PostgreSQL the
due rows are selected FOR UPDATE SKIP LOCKED, so concurrent workers take disjoint
rows without waiting; on SQLite the write transaction (BEGIN IMMEDIATE) is exclusive.
A lease that expires (its worker died mid-send) makes the notice due again.
Invariant: next_attempt_at is set only while the notice is pending.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    RowMapping,
    bindparam,
    case,
    delete,
    or_,
    select,
    tuple_,
    update,
)

from dmp.domain.notifications import EPHEMERAL, ERASED_BODY, NoticeKind, NoticeStatus
from dmp.domain.time import as_utc
from dmp.storage.db import Prebuilt, run
from dmp.storage.schema import notification_outbox as t

ERROR_LENGTH = 500
_EPHEMERAL_KINDS = [kind.value for kind in EPHEMERAL]
# A message that leaves `pending` no longer needs its body: erase it if it holds a
# one-time secret (a login or reset code), so the secret does not outlast its use.
_BODY_ONCE_DONE = case((t.c.kind.in_(_EPHEMERAL_KINDS), ERASED_BODY), else_=t.c.body)


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One row of the outbox."""

    ins: str
    id: str
    kind: NoticeKind
    recipient: str | None
    subject: str
    body: str
    message_id: str
    created_at: datetime
    status: NoticeStatus
    attempts: int = 0
    next_attempt_at: datetime | None = None
    claimed_until: datetime | None = None
    claimed_by: str | None = None
    last_error: str | None = None
    sent_at: datetime | None = None


_INSERTED = (
    "ins",
    "id",
    "kind",
    "recipient",
    "subject",
    "body",
    "message_id",
    "created_at",
    "status",
    "attempts",
    "next_attempt_at",
    "last_error",
)
# Built once: notices are queued inside the transactions of publishes and accesses.
_INSERT = Prebuilt(t.insert().values({name: bindparam(name) for name in _INSERTED}))


def insert_notice(conn: Connection, entry: OutboxEntry) -> None:
    run(
        conn,
        _INSERT,
        ins=entry.ins,
        id=entry.id,
        kind=entry.kind.value,
        recipient=entry.recipient,
        subject=entry.subject,
        body=entry.body,
        message_id=entry.message_id,
        created_at=entry.created_at,
        status=entry.status.value,
        attempts=entry.attempts,
        next_attempt_at=entry.next_attempt_at,
        last_error=entry.last_error,
    )


def claim_due(
    conn: Connection,
    now: datetime,
    worker_id: str,
    until: datetime,
    limit: int,
    max_attempts: int,
) -> list[OutboxEntry]:
    """Lease up to `limit` due notices to `worker_id` until `until`, counting the
    attempt; the oldest due first. Commit before sending."""
    is_due = (
        t.c.status == NoticeStatus.PENDING.value,
        t.c.next_attempt_at <= now,
        or_(t.c.claimed_until.is_(None), t.c.claimed_until <= now),
        t.c.attempts < max_attempts,
    )
    due = (
        select(t.c.ins, t.c.id)
        .where(*is_due)
        .order_by(t.c.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    keys = [(ins, id_) for ins, id_ in conn.execute(due)]
    if not keys:
        return []
    claimed = conn.execute(
        update(t)
        .where(tuple_(t.c.ins, t.c.id).in_(keys), *is_due)  # re-checked after any wait
        .values(claimed_by=worker_id, claimed_until=until, attempts=t.c.attempts + 1)
        .returning(*t.c)
    )
    entries = [_to_entry(row) for row in claimed.mappings()]
    return sorted(entries, key=lambda e: (e.next_attempt_at or e.created_at, e.created_at))


def fail_abandoned(conn: Connection, now: datetime, max_attempts: int) -> int:
    """Give up the notices whose last allowed attempt was claimed by a worker that
    never reported back (its lease expired); return how many."""
    done = conn.execute(
        update(t)
        .where(
            t.c.status == NoticeStatus.PENDING.value,
            t.c.attempts >= max_attempts,
            or_(t.c.claimed_until.is_(None), t.c.claimed_until <= now),
        )
        .values(
            status=NoticeStatus.FAILED.value,
            next_attempt_at=None,
            claimed_until=None,
            claimed_by=None,
            last_error="abandoned: no outcome reported for the last attempt (lease expired)",
            body=_BODY_ONCE_DONE,
        )
    )
    return int(done.rowcount)


def mark_sent(conn: Connection, ins: str, notice_id: str, now: datetime) -> bool:
    """The SMTP server accepted the notice. Whoever holds the lease now, it went out."""
    done = conn.execute(
        update(t)
        .where(t.c.ins == ins, t.c.id == notice_id, t.c.status == NoticeStatus.PENDING.value)
        .values(
            status=NoticeStatus.SENT.value,
            sent_at=now,
            next_attempt_at=None,
            claimed_until=None,
            claimed_by=None,
            body=_BODY_ONCE_DONE,
        )
    )
    return bool(done.rowcount)


def mark_retry(
    conn: Connection, ins: str, notice_id: str, worker_id: str, at: datetime, error: str
) -> bool:
    """The attempt failed: try again at `at`. Only while `worker_id` still holds the lease
    (else another worker has taken the notice over and must not be disturbed)."""
    return _release(
        conn, ins, notice_id, worker_id, status=NoticeStatus.PENDING, next_at=at, error=error
    )


def mark_failed(conn: Connection, ins: str, notice_id: str, worker_id: str, error: str) -> bool:
    """Give up: a permanent refusal, or the last allowed attempt failed."""
    return _release(
        conn, ins, notice_id, worker_id, status=NoticeStatus.FAILED, next_at=None, error=error
    )


def release_untried(
    conn: Connection,
    keys: list[tuple[str, str]],
    worker_id: str,
    at: datetime,
    error: str,
) -> int:
    """Give back claimed notices that were not tried (the server was unreachable for an
    earlier one): their attempt is not counted, their next one is at `at`."""
    if not keys:
        return 0
    done = conn.execute(
        update(t)
        .where(
            tuple_(t.c.ins, t.c.id).in_(keys),
            t.c.status == NoticeStatus.PENDING.value,
            t.c.claimed_by == worker_id,
        )
        .values(
            attempts=t.c.attempts - 1,
            next_attempt_at=at,
            claimed_until=None,
            claimed_by=None,
            last_error=f"not tried: {error}"[:ERROR_LENGTH],
        )
    )
    return int(done.rowcount)


def _release(
    conn: Connection,
    ins: str,
    notice_id: str,
    worker_id: str,
    *,
    status: NoticeStatus,
    next_at: datetime | None,
    error: str,
) -> bool:
    done = conn.execute(
        update(t)
        .where(
            t.c.ins == ins,
            t.c.id == notice_id,
            t.c.status == NoticeStatus.PENDING.value,
            t.c.claimed_by == worker_id,
        )
        .values(
            status=status.value,
            next_attempt_at=next_at,
            claimed_until=None,
            claimed_by=None,
            last_error=error[:ERROR_LENGTH],
            body=t.c.body if status is NoticeStatus.PENDING else _BODY_ONCE_DONE,
        )
    )
    return bool(done.rowcount)


def requeue_failed(conn: Connection, now: datetime) -> int:
    """Give every failed notice a fresh set of attempts (after an outage outlasted them);
    not the one-time codes: erased, and useless by now."""
    done = conn.execute(
        update(t)
        .where(t.c.status == NoticeStatus.FAILED.value, t.c.kind.not_in(_EPHEMERAL_KINDS))
        .values(status=NoticeStatus.PENDING.value, attempts=0, next_attempt_at=now)
    )
    return int(done.rowcount)


def expire_ephemeral(conn: Connection, now: datetime, ins: str | None = None) -> int:
    """Fail unsent the pending messages whose one-time secret is no longer valid, erasing
    it (all of them, or those of `ins`, e.g. when a new code replaces the last one)."""
    outdated = [
        (t.c.kind == kind.value) & (t.c.created_at <= now - lifetime)
        for kind, lifetime in EPHEMERAL.items()
    ]
    return _erase_pending(
        conn, "expired unsent: its one-time code is no longer valid", ins, or_(*outdated)
    )


def cancel_ephemeral(conn: Connection, ins: str, kind: NoticeKind, reason: str) -> int:
    """Fail unsent, erased, the pending messages of `kind` to `ins` (a new code replaced them,
    or the one they carry was used already)."""
    return _erase_pending(conn, reason, ins, t.c.kind == kind.value)


def _erase_pending(conn: Connection, reason: str, ins: str | None, which: Any) -> int:
    scope = [t.c.ins == ins] if ins is not None else []
    done = conn.execute(
        update(t)
        .where(
            *scope,
            t.c.status == NoticeStatus.PENDING.value,
            t.c.next_attempt_at.is_not(None),  # the pending rows: one range of the index
            t.c.kind.in_(_EPHEMERAL_KINDS),
            which,
        )
        .values(
            status=NoticeStatus.FAILED.value,
            next_attempt_at=None,
            claimed_until=None,
            claimed_by=None,
            last_error=reason,
            body=ERASED_BODY,
        )
    )
    return int(done.rowcount)


def find_notices(conn: Connection, ins: str) -> list[OutboxEntry]:
    """The record's notices, oldest first."""
    rows = conn.execute(select(t).where(t.c.ins == ins).order_by(t.c.created_at, t.c.id))
    return [_to_entry(row) for row in rows.mappings()]


def delete_notices(conn: Connection, ins: str) -> int:
    """Forget the record's notices (they hold its e-mail address; the purge destroys it)."""
    return int(conn.execute(delete(t).where(t.c.ins == ins)).rowcount)


def _utc(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


def _to_entry(row: RowMapping) -> OutboxEntry:
    return OutboxEntry(
        ins=row["ins"],
        id=row["id"],
        kind=NoticeKind(row["kind"]),
        recipient=row["recipient"],
        subject=row["subject"],
        body=row["body"],
        message_id=row["message_id"],
        created_at=as_utc(row["created_at"]),
        status=NoticeStatus(row["status"]),
        attempts=int(row["attempts"]),
        next_attempt_at=_utc(row["next_attempt_at"]),
        claimed_until=_utc(row["claimed_until"]),
        claimed_by=row["claimed_by"],
        last_error=row["last_error"],
        sent_at=_utc(row["sent_at"]),
    )
