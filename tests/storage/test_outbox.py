"""The outbox repository on SQLite and PostgreSQL: what is due, leases, outcomes
(RULES R17; docs/decisions/0006-notifications.md)."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection

from dmp.domain import notifications as notices
from dmp.domain.notifications import NoticeKind, NoticeStatus
from dmp.storage import outbox
from dmp.storage.db import Database
from dmp.storage.outbox import OutboxEntry
from tests.personas import ALICE, BOB

NOW = datetime(2018, 11, 6, 10, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)
MAX = 12


def pending(ins: str = ALICE.ins, created: datetime = NOW) -> OutboxEntry:
    notice_id = uuid.uuid4().hex
    return OutboxEntry(
        ins=ins,
        id=notice_id,
        kind=NoticeKind.RECORD_CLOSED,
        recipient="alice.martin@example.org",
        subject="DMP : votre dossier a été fermé",
        body="…",
        message_id=notices.message_id(notice_id),
        created_at=created,
        status=NoticeStatus.PENDING,
        next_attempt_at=created,
    )


def put(db: Database, *entries: OutboxEntry) -> None:
    with db.write() as conn:
        for entry in entries:
            outbox.insert_notice(conn, entry)


def claim(db: Database, worker: str, now: datetime = NOW, limit: int = 10) -> list[OutboxEntry]:
    with db.write() as conn:
        return outbox.claim_due(conn, now, worker, now + LEASE, limit, MAX)


def stored(db: Database, ins: str = ALICE.ins) -> list[OutboxEntry]:
    with db.read() as conn:
        return outbox.find_notices(conn, ins)


def test_a_notice_reads_back_as_it_was_queued(db: Database) -> None:
    entry = pending()
    put(db, entry)
    assert stored(db) == [entry]


def test_claiming_takes_the_oldest_due_first_leases_and_counts_the_attempt(db: Database) -> None:
    old, new = pending(created=NOW - timedelta(minutes=2)), pending(BOB.ins)
    later = pending(created=NOW + timedelta(minutes=1))  # not due yet
    put(db, new, later, old)
    [first] = claim(db, "w1", limit=1)
    assert first.id == old.id
    assert (first.claimed_by, first.claimed_until, first.attempts) == ("w1", NOW + LEASE, 1)
    assert [e.id for e in claim(db, "w2")] == [new.id]
    assert claim(db, "w3") == []


def test_a_live_lease_is_not_claimed_and_an_expired_one_is(db: Database) -> None:
    put(db, pending())
    claim(db, "w1")
    assert claim(db, "w2", NOW + LEASE - timedelta(seconds=1)) == []
    [again] = claim(db, "w2", NOW + LEASE)
    assert (again.claimed_by, again.attempts) == ("w2", 2)


def test_a_worker_that_lost_its_lease_cannot_release_the_notice(db: Database) -> None:
    entry = pending()
    put(db, entry)
    claim(db, "w1")
    claim(db, "w2", NOW + LEASE)  # w1 was too slow; w2 took over
    with db.write() as conn:
        retry = NOW + timedelta(minutes=1)
        assert not outbox.mark_retry(conn, entry.ins, entry.id, "w1", retry, "late")
        assert not outbox.mark_failed(conn, entry.ins, entry.id, "w1", "late")
    [held] = stored(db)
    assert (held.status, held.claimed_by, held.last_error) == (NoticeStatus.PENDING, "w2", None)


def test_sent_is_final_and_leaves_nothing_due(db: Database) -> None:
    entry = pending()
    put(db, entry)
    claim(db, "w1")
    with db.write() as conn:
        assert outbox.mark_sent(conn, entry.ins, entry.id, NOW)
        assert not outbox.mark_sent(conn, entry.ins, entry.id, NOW)
    [sent] = stored(db)
    assert (sent.status, sent.sent_at, sent.next_attempt_at, sent.claimed_by) == (
        NoticeStatus.SENT,
        NOW,
        None,
        None,
    )
    assert claim(db, "w2", NOW + timedelta(days=1)) == []


def test_a_retry_waits_and_keeps_the_error(db: Database) -> None:
    entry = pending()
    put(db, entry)
    claim(db, "w1")
    retry = NOW + timedelta(minutes=1)
    with db.write() as conn:
        assert outbox.mark_retry(conn, entry.ins, entry.id, "w1", retry, "x" * 600)
    [waiting] = stored(db)
    assert (waiting.status, waiting.next_attempt_at, waiting.claimed_by) == (
        NoticeStatus.PENDING,
        retry,
        None,
    )
    assert waiting.last_error == "x" * outbox.ERROR_LENGTH
    assert claim(db, "w1", retry - timedelta(seconds=1)) == []
    assert len(claim(db, "w1", retry)) == 1


def test_untried_notices_are_given_back_without_counting_an_attempt(db: Database) -> None:
    a, b = pending(), pending()
    put(db, a, b)
    claim(db, "w1")
    retry = NOW + timedelta(minutes=1)
    with db.write() as conn:
        given = outbox.release_untried(conn, [(a.ins, a.id), (b.ins, b.id)], "w1", retry, "refused")
    assert given == 2
    assert {(e.attempts, e.next_attempt_at, e.claimed_by) for e in stored(db)} == {(0, retry, None)}


def test_the_last_attempt_abandoned_by_its_worker_ends_failed(db: Database) -> None:
    entry = pending()
    put(db, entry)
    with db.write() as conn:
        outbox.claim_due(conn, NOW, "w1", NOW + LEASE, 10, 1)
        assert outbox.fail_abandoned(conn, NOW + LEASE - timedelta(seconds=1), 1) == 0
        assert outbox.fail_abandoned(conn, NOW + LEASE, 1) == 1
    [failed] = stored(db)
    assert (failed.status, failed.next_attempt_at) == (NoticeStatus.FAILED, None)


def test_failed_notices_are_requeued_with_fresh_attempts(db: Database) -> None:
    entry = pending()
    put(db, entry)
    claim(db, "w1")
    with db.write() as conn:
        outbox.mark_failed(conn, entry.ins, entry.id, "w1", "550 mailbox unknown")
        assert outbox.requeue_failed(conn, NOW + timedelta(days=1)) == 1
    [again] = stored(db)
    assert (again.status, again.attempts) == (NoticeStatus.PENDING, 0)
    assert again.last_error == "550 mailbox unknown"


def test_a_purge_forgets_the_record_notices_only(db: Database) -> None:
    put(db, pending(), pending(), pending(BOB.ins))
    with db.write() as conn:
        assert outbox.delete_notices(conn, ALICE.ins) == 2
    assert stored(db) == []
    assert len(stored(db, BOB.ins)) == 1


def test_postgresql_workers_skip_rows_another_is_claiming_instead_of_waiting(
    pg_db: Database,
) -> None:
    put(pg_db, *(pending() for _ in range(4)))
    first_claimed = threading.Event()
    release = threading.Event()
    seen: dict[str, list[str]] = {}

    def slow_claimer() -> None:
        with pg_db.write() as conn:
            seen["w1"] = ids(conn, "w1")
            first_claimed.set()
            release.wait(10)  # keeps its row locks, uncommitted

    thread = threading.Thread(target=slow_claimer)
    thread.start()
    try:
        assert first_claimed.wait(10)
        with pg_db.write() as conn:
            conn.exec_driver_sql("SET LOCAL lock_timeout = '2s'")  # waiting would fail
            seen["w2"] = ids(conn, "w2")
    finally:
        release.set()
        thread.join()
    assert len(seen["w1"]) == len(seen["w2"]) == 2
    assert not set(seen["w1"]) & set(seen["w2"])


def ids(conn: Connection, worker: str) -> list[str]:
    return [e.id for e in outbox.claim_due(conn, NOW, worker, NOW + LEASE, 2, MAX)]
