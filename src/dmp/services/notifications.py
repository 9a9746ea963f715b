"""Notices to the holder (RULES R17): queued in the transaction of the event they
report, delivered later by workers through a `Mailer`; and the holder's contact.

Queueing writes an outbox row with the caller's Connection, so a notice exists if
and only if its event was committed: nothing is lost while the mail server is down,
nothing is sent for a rolled-back change. Delivery leases due rows, commits the
lease, sends, then marks each row in its own transaction (docs/decisions/0006).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Connection

from dmp.domain import notifications as notices
from dmp.domain.access import EmergencyKind
from dmp.domain.matrix import default_matrix
from dmp.domain.notifications import Notice, NoticeStatus
from dmp.domain.time import as_utc
from dmp.storage import contacts, outbox
from dmp.storage.db import Database
from dmp.storage.mailer import DeliveryError, Mailer, OutgoingEmail
from dmp.storage.outbox import OutboxEntry

log = logging.getLogger(__name__)

DEFAULT_BATCH = 20
# Longer than a batch takes to send (batch × a few SMTP timeouts): a lease that runs
# out while its worker still sends lets another worker send the same notice.
DEFAULT_LEASE = timedelta(minutes=5)
NO_EMAIL = "no e-mail address known for the holder"


# --- queueing, in the caller's transaction ---


def enqueue(conn: Connection, ins: str, notice: Notice, now: datetime) -> OutboxEntry | None:
    """Queue `notice` for the holder of `ins` in the caller's transaction.

    Mandatory notices (R17) are always recorded: pending when an e-mail is known, else
    undeliverable; optional ones only for a holder who opted in (else None).
    """
    contact = contacts.find_contact(conn, ins)
    if notice.kind not in notices.MANDATORY and not (contact and contact.wants(notice.kind)):
        return None
    return enqueue_to(conn, ins, notice, now, contact.email if contact else None)


def enqueue_to(
    conn: Connection, ins: str, notice: Notice, now: datetime, recipient: str | None
) -> OutboxEntry:
    """Queue `notice` about the record of `ins` for `recipient` (the holder, or a
    professional); recorded as undeliverable when no address is known."""
    now = as_utc(now)
    notice_id = uuid.uuid4().hex
    entry = OutboxEntry(
        ins=ins,
        id=notice_id,
        kind=notice.kind,
        recipient=recipient,
        subject=notice.subject,
        body=notice.body,
        message_id=notices.message_id(notice_id),
        created_at=now,
        status=NoticeStatus.PENDING if recipient else NoticeStatus.UNDELIVERABLE,
        next_attempt_at=now if recipient else None,
        last_error=None if recipient else NO_EMAIL,
    )
    outbox.insert_notice(conn, entry)
    return entry


def enqueue_emergency_to_doctor(
    conn: Connection,
    ins: str,
    now: datetime,
    kind: EmergencyKind,
    rpps: str,
    profession: str | None,
    doctor: str,
    patient: str,
) -> OutboxEntry:
    """R14: the médecin traitant (`doctor`, an RPPS) is informed of the emergency."""
    notice = notices.emergency_access_to_doctor(now, kind, rpps, _label(profession), patient)
    return enqueue_to(conn, ins, notice, now, contacts.find_professional_email(conn, doctor))


def _label(profession: str | None) -> str | None:
    return default_matrix().labels.get(profession or "")


def enqueue_first_access(
    conn: Connection, ins: str, now: datetime, rpps: str, profession: str | None
) -> OutboxEntry | None:
    """R17: a professional's first access to the record."""
    return enqueue(conn, ins, notices.first_access(now, rpps, _label(profession)), now)


def enqueue_emergency_access(
    conn: Connection,
    ins: str,
    now: datetime,
    kind: EmergencyKind,
    rpps: str,
    profession: str | None,
) -> OutboxEntry | None:
    """R14, R17: an emergency access (bris de glace or SAMU), told afterwards."""
    return enqueue(conn, ins, notices.emergency_access(now, kind, rpps, _label(profession)), now)


def enqueue_document_awaiting(
    conn: Connection, ins: str, now: datetime, visible_from: date
) -> OutboxEntry | None:
    """R13, R17: a document hidden until announced has waited 2 weeks."""
    return enqueue(conn, ins, notices.document_awaiting(now, visible_from), now)


def enqueue_new_document(conn: Connection, ins: str, now: datetime) -> OutboxEntry | None:
    """A new document, for holders who opted in (every publish asks: the notice is
    written only for them)."""
    contact = contacts.find_contact(conn, ins)
    if not (contact and contact.wants(notices.NoticeKind.NEW_DOCUMENT)):
        return None
    return enqueue_to(conn, ins, notices.new_document(now), now, contact.email)


def enqueue_record_closed(conn: Connection, ins: str, now: datetime) -> OutboxEntry | None:
    """R4: the record was closed."""
    return enqueue(conn, ins, notices.record_closed(now), now)


def enqueue_record_reopened(conn: Connection, ins: str, now: datetime) -> OutboxEntry | None:
    """R4: the record was reopened."""
    return enqueue(conn, ins, notices.record_reopened(now), now)


# --- delivery ---


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What a delivery pass did. `retried` includes notices given back untried."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    unreachable: bool = False

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(
            self.claimed + other.claimed,
            self.sent + other.sent,
            self.retried + other.retried,
            self.failed + other.failed,
            self.unreachable or other.unreachable,
        )


def deliver_pending(
    db: Database,
    mailer: Mailer,
    now: datetime,
    worker_id: str,
    batch: int = DEFAULT_BATCH,
    *,
    max_attempts: int = notices.DEFAULT_MAX_ATTEMPTS,
    lease: timedelta = DEFAULT_LEASE,
) -> DeliveryReport:
    """One pass: lease up to `batch` due notices, send each, record each outcome.

    The lease is committed before sending, and each outcome in its own transaction
    right after the server's reply, so a crash loses at most the outcome of the one
    message in flight (resent after the lease, with the same Message-ID). When the
    server is unreachable the rest of the batch is given back untried.
    """
    now = as_utc(now)
    with db.write() as conn:
        outbox.expire_ephemeral(conn, now)  # a login code is never sent late (decision 0007)
        abandoned = outbox.fail_abandoned(conn, now, max_attempts)
        claimed = outbox.claim_due(conn, now, worker_id, now + lease, batch, max_attempts)
    report = DeliveryReport(claimed=len(claimed), failed=abandoned)
    try:
        for n, entry in enumerate(claimed):
            try:
                _send(mailer, entry)
            except DeliveryError as exc:
                report += _record_failure(db, entry, exc, now, worker_id, max_attempts)
                if exc.unreachable:
                    report += _give_back(db, claimed[n + 1 :], exc, now, worker_id, entry)
                    break
                continue
            with db.write() as conn:
                outbox.mark_sent(conn, entry.ins, entry.id, now)
            report += DeliveryReport(sent=1)
    finally:
        mailer.close()
    return report


def deliver_due(
    db: Database,
    mailer: Mailer,
    now: datetime,
    worker_id: str,
    batch: int = DEFAULT_BATCH,
    *,
    max_attempts: int = notices.DEFAULT_MAX_ATTEMPTS,
    lease: timedelta = DEFAULT_LEASE,
    stop: threading.Event | None = None,
) -> DeliveryReport:
    """Passes until nothing is due at `now`, the server is unreachable, or `stop` is set."""
    total = DeliveryReport()
    while stop is None or not stop.is_set():
        report = deliver_pending(
            db, mailer, now, worker_id, batch, max_attempts=max_attempts, lease=lease
        )
        total += report
        if report.claimed < batch or report.unreachable:
            break
    return total


def requeue_failed(db: Database, now: datetime) -> int:
    """Give every failed notice a fresh set of attempts; return how many."""
    with db.write() as conn:
        return outbox.requeue_failed(conn, as_utc(now))


def _send(mailer: Mailer, entry: OutboxEntry) -> None:
    if not entry.recipient:  # pending rows always have one; never send to nobody
        raise DeliveryError(NO_EMAIL, permanent=True)
    mailer.send(
        OutgoingEmail(
            entry.recipient, entry.subject, entry.body, entry.message_id, entry.created_at
        )
    )


def _record_failure(
    db: Database,
    entry: OutboxEntry,
    exc: DeliveryError,
    now: datetime,
    worker_id: str,
    max_attempts: int,
) -> DeliveryReport:
    retry = None if exc.permanent else notices.retry_at(entry.attempts, max_attempts, now)
    with db.write() as conn:
        if retry is None:
            outbox.mark_failed(conn, entry.ins, entry.id, worker_id, str(exc))
            return DeliveryReport(failed=1, unreachable=exc.unreachable)
        outbox.mark_retry(conn, entry.ins, entry.id, worker_id, retry, str(exc))
    return DeliveryReport(retried=1, unreachable=exc.unreachable)


def _give_back(
    db: Database,
    rest: list[OutboxEntry],
    exc: DeliveryError,
    now: datetime,
    worker_id: str,
    failed: OutboxEntry,
) -> DeliveryReport:
    """The untried rest of the batch waits as long as the notice that just failed."""
    at = now + notices.retry_delay(failed.attempts)
    with db.write() as conn:
        given = outbox.release_untried(conn, [(e.ins, e.id) for e in rest], worker_id, at, str(exc))
    return DeliveryReport(retried=given)


# --- the worker ---


def worker_name(role: str) -> str:
    """A worker's lease owner name: host, process and role, unique while it runs."""
    return f"{socket.gethostname()[:60]}/{os.getpid()}/{role}/{uuid.uuid4().hex[:8]}"


class DeliveryWorker:
    """Delivers due notices every `interval` seconds until stopped: in a daemon thread
    beside the web server (`start`/`stop`) or in the foreground (`run`, dmp notify).

    Any number of workers may run at once, in one process or many: leases keep them
    from sending the same notice twice.
    """

    def __init__(
        self,
        db: Database,
        mailer: Mailer,
        clock: Callable[[], datetime],
        worker_id: str,
        *,
        interval: float = 5.0,
        batch: int = DEFAULT_BATCH,
        max_attempts: int = notices.DEFAULT_MAX_ATTEMPTS,
        scheduled: Sequence[Callable[[Database, datetime], object]] = (),
    ) -> None:
        self.db, self.mailer, self.clock, self.worker_id = db, mailer, clock, worker_id
        self.interval, self.batch, self.max_attempts = interval, batch, max_attempts
        # Notices due by the calendar rather than by an event (R13's two weeks), queued
        # before each pass.
        self.scheduled = tuple(scheduled)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> DeliveryReport:
        for job in self.scheduled:
            job(self.db, self.clock())
        return deliver_due(
            self.db,
            self.mailer,
            self.clock(),
            self.worker_id,
            self.batch,
            max_attempts=self.max_attempts,
            stop=self._stopping,
        )

    def run(self) -> None:
        """Passes every `interval` seconds until `stop`; an error is logged, not fatal."""
        while not self._stopping.is_set():
            try:
                report = self.run_once()
            except Exception:  # the database may be briefly away: try again later
                log.exception("notification delivery pass failed")
            else:
                if report.claimed or report.failed:
                    log.info("notifications: %s", report)
            self._stopping.wait(self.interval)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="dmp-notify", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Ask the loop to stop and wait for the pass under way (at most `timeout` s)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
