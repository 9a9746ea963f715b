"""Notices to the holder through the outbox, delivered to a real SMTP server (aiosmtpd
on the loopback), on SQLite and PostgreSQL (RULES R17, R13, R14, R4; issue 3)."""

from __future__ import annotations

import ipaddress
import ssl
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient
from sqlalchemy import event

from dmp.config import Settings
from dmp.domain import accounts as account_rules
from dmp.domain import notifications as notices
from dmp.domain.access import EmergencyKind
from dmp.domain.actors import Actor, Role
from dmp.domain.errors import Conflict, InvalidInput, NotFound
from dmp.domain.notifications import NoticeKind, NoticeStatus
from dmp.main import create_app
from dmp.services import contacts, notifications, records
from dmp.services.beneficiaries import load_beneficiaries_batch
from dmp.services.contacts import ContactRequest
from dmp.services.context import Ctx, system_ctx
from dmp.services.notifications import deliver_pending
from dmp.storage import outbox
from dmp.storage.db import Database
from dmp.storage.mailer import SmtpConfig, SmtpMailer
from dmp.storage.outbox import OutboxEntry
from tests.personas import (
    ALICE,
    ALICE_BENEFICIARY,
    BOB_BENEFICIARY,
    DR_BOB_RPPS,
    LEO_BENEFICIARY,
    PHARMACY,
    ZOE,
)
from tests.smtp_sink import SmtpSink, free_port

NOW = datetime(2018, 11, 6, 10, 0, tzinfo=UTC)
ALICE_EMAIL = "alice.martin@example.org"


# ------------------------------------------------------------------ the test SMTP server


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


def mailer_for(port: int, **config: Any) -> SmtpMailer:
    return SmtpMailer(SmtpConfig("127.0.0.1", port, timeout=5, **config))


# ------------------------------------------------------------------------- the record


def at(now: datetime = NOW) -> Ctx:
    return system_ctx(now, "test")


def as_patient(ins: str = ALICE.ins, now: datetime = NOW) -> Ctx:
    return Ctx(Actor(Role.PATIENT, ins), now, "test")


@pytest.fixture
def alice(db: Database) -> Database:
    """Alice's record is open; she gave no contact yet."""
    load_beneficiaries_batch(
        db, at(), [ALICE_BENEFICIARY, BOB_BENEFICIARY, LEO_BENEFICIARY], "test"
    )
    records.open_record(
        db, at(), records.OpenRequest(ALICE.ins, "pharmacy", PHARMACY, "holder", True)
    )
    return db


@pytest.fixture
def reachable(alice: Database) -> Database:
    """Alice gave her e-mail address."""
    contacts.set_contact(alice, as_patient(), ALICE.ins, ContactRequest(ALICE_EMAIL))
    return alice


def queued(db: Database) -> list[OutboxEntry]:
    with db.read() as conn:
        return outbox.find_notices(conn, ALICE.ins)


def first_access(db: Database, now: datetime = NOW) -> OutboxEntry:
    with db.write() as conn:
        entry = notifications.enqueue_first_access(conn, ALICE.ins, now, DR_BOB_RPPS, "10")
    assert entry is not None
    return entry


# ------------------------------------------------------------------- exactly once


def test_r17_a_committed_notice_arrives_once_with_recipient_subject_and_message_id(
    reachable: Database, smtp: SmtpSink
) -> None:
    entry = first_access(reachable)
    report = deliver_pending(reachable, mailer_for(smtp.port), NOW, "w1")
    assert (report.claimed, report.sent, report.retried, report.failed) == (1, 1, 0, 0)
    assert len(smtp.received) == 1
    got = smtp.received[0]
    assert got.recipients == [ALICE_EMAIL]
    assert got.message["To"] == ALICE_EMAIL
    assert got.message["Subject"] == "DMP : un nouveau professionnel a accédé à votre dossier"
    assert got.message["Message-ID"] == entry.message_id
    assert got.message["Auto-Submitted"] == "auto-generated"
    body = got.message.get_content()
    assert DR_BOB_RPPS in body
    assert "médecin" in body
    # No identity in a message that crosses the internet in clear.
    assert ALICE.ins not in body
    assert ALICE.family_name not in body

    again = deliver_pending(reachable, mailer_for(smtp.port), NOW + timedelta(hours=2), "w2")
    assert again.claimed == 0
    assert len(smtp.received) == 1
    [stored] = queued(reachable)
    assert (stored.status, stored.attempts, stored.sent_at) == (NoticeStatus.SENT, 1, NOW)
    assert stored.next_attempt_at is None
    assert stored.claimed_by is None


def test_a_notice_queued_in_a_rolled_back_transaction_never_arrives(
    reachable: Database, smtp: SmtpSink
) -> None:
    def change_that_fails_after_queueing() -> None:
        with reachable.write() as conn:
            notifications.enqueue_record_closed(conn, ALICE.ins, NOW)
            raise RuntimeError("the change fails after its notice was queued")

    with pytest.raises(RuntimeError):
        change_that_fails_after_queueing()
    report = deliver_pending(reachable, mailer_for(smtp.port), NOW, "w1")
    assert report.claimed == 0
    assert smtp.received == []
    assert queued(reachable) == []


def test_a_refused_close_queues_nothing_beyond_the_first_close(
    reachable: Database, smtp: SmtpSink
) -> None:
    records.close_record(reachable, at(), ALICE.ins, "holder", "je déménage")
    with pytest.raises(Conflict):
        records.close_record(reachable, at(), ALICE.ins, "holder", "encore")
    assert [e.kind for e in queued(reachable)] == [NoticeKind.RECORD_CLOSED]


def test_notices_queued_while_the_server_is_down_arrive_once_after_the_back_off(
    reachable: Database,
) -> None:
    port = free_port()  # nothing listens there yet
    entry = first_access(reachable)
    report = deliver_pending(reachable, mailer_for(port), NOW, "w1")
    assert (report.claimed, report.sent, report.retried, report.unreachable) == (1, 0, 1, True)
    [waiting] = queued(reachable)
    assert (waiting.status, waiting.attempts) == (NoticeStatus.PENDING, 1)
    assert waiting.next_attempt_at == NOW + timedelta(minutes=1)
    assert waiting.last_error
    assert "Connection" in waiting.last_error
    assert waiting.claimed_by is None

    sink = SmtpSink(port).start()
    try:
        early = deliver_pending(reachable, mailer_for(port), NOW + timedelta(seconds=30), "w1")
        assert early.claimed == 0
        later = NOW + timedelta(minutes=1, seconds=1)
        assert deliver_pending(reachable, mailer_for(port), later, "w1").sent == 1
        assert deliver_pending(reachable, mailer_for(port), later, "w2").claimed == 0
        assert sink.message_ids() == [entry.message_id]
        [sent] = queued(reachable)
        assert (sent.status, sent.attempts) == (NoticeStatus.SENT, 2)
    finally:
        sink.stop()


def test_an_unreachable_server_gives_the_rest_of_the_batch_back_untried(
    reachable: Database,
) -> None:
    port = free_port()
    for _ in range(3):
        first_access(reachable)
    report = deliver_pending(reachable, mailer_for(port), NOW, "w1")
    assert (report.claimed, report.retried) == (3, 3)
    waiting = queued(reachable)
    assert sorted(e.attempts for e in waiting) == [0, 0, 1]
    assert {e.next_attempt_at for e in waiting} == {NOW + timedelta(minutes=1)}
    assert all(e.status is NoticeStatus.PENDING and e.claimed_by is None for e in waiting)

    sink = SmtpSink(port).start()
    try:
        later = NOW + timedelta(minutes=2)
        assert deliver_pending(reachable, mailer_for(port), later, "w1").sent == 3
        assert sorted(sink.message_ids()) == sorted(e.message_id for e in waiting)
    finally:
        sink.stop()


def test_after_max_attempts_the_notice_is_failed_with_its_last_error(
    reachable: Database,
) -> None:
    port = free_port()
    first_access(reachable)
    when = NOW
    for attempt, wait in [(1, 1), (2, 2)]:
        assert deliver_pending(reachable, mailer_for(port), when, "w1", max_attempts=3).retried
        [waiting] = queued(reachable)
        assert waiting.attempts == attempt
        assert waiting.next_attempt_at == when + timedelta(minutes=wait)  # 1, then 2 min
        when = waiting.next_attempt_at
    report = deliver_pending(reachable, mailer_for(port), when, "w1", max_attempts=3)
    assert (report.failed, report.retried) == (1, 0)
    [failed] = queued(reachable)
    assert (failed.status, failed.attempts, failed.next_attempt_at) == (
        NoticeStatus.FAILED,
        3,
        None,
    )
    assert failed.last_error
    assert "ConnectionRefusedError" in failed.last_error
    later = deliver_pending(reachable, mailer_for(port), when + timedelta(days=1), "w1")
    assert later.claimed == 0


def test_a_recipient_refused_for_good_fails_at_once(reachable: Database, smtp: SmtpSink) -> None:
    smtp.refuse.add(ALICE_EMAIL)
    first_access(reachable)
    report = deliver_pending(reachable, mailer_for(smtp.port), NOW, "w1")
    assert (report.failed, report.retried) == (1, 0)
    [failed] = queued(reachable)
    assert failed.status is NoticeStatus.FAILED
    assert failed.last_error
    assert "550" in failed.last_error
    assert smtp.received == []


def test_failed_notices_can_be_queued_again(reachable: Database, smtp: SmtpSink) -> None:
    smtp.refuse.add(ALICE_EMAIL)
    first_access(reachable)
    deliver_pending(reachable, mailer_for(smtp.port), NOW, "w1")
    smtp.refuse.clear()
    later = NOW + timedelta(days=1)
    assert notifications.requeue_failed(reachable, later) == 1
    assert deliver_pending(reachable, mailer_for(smtp.port), later, "w1").sent == 1
    assert len(smtp.received) == 1


# ------------------------------------------------------------------------ leases


def test_an_expired_lease_is_claimed_again_and_a_live_one_is_not(
    reachable: Database, smtp: SmtpSink
) -> None:
    entry = first_access(reachable)
    with reachable.write() as conn:  # a worker claims it, then dies before sending
        [claimed] = outbox.claim_due(conn, NOW, "dead", NOW + timedelta(minutes=5), 10, 12)
    assert claimed.id == entry.id

    live = deliver_pending(reachable, mailer_for(smtp.port), NOW + timedelta(minutes=4), "w2")
    assert live.claimed == 0
    assert smtp.received == []

    expired = NOW + timedelta(minutes=5, seconds=1)
    assert deliver_pending(reachable, mailer_for(smtp.port), expired, "w2").sent == 1
    assert smtp.message_ids() == [entry.message_id]
    [sent] = queued(reachable)
    assert (sent.status, sent.attempts) == (NoticeStatus.SENT, 2)


def test_a_notice_whose_last_attempt_was_abandoned_is_failed_not_resent(
    reachable: Database, smtp: SmtpSink
) -> None:
    first_access(reachable)
    with reachable.write() as conn:
        outbox.claim_due(conn, NOW, "dead", NOW + timedelta(minutes=5), 10, 1)
    report = deliver_pending(
        reachable, mailer_for(smtp.port), NOW + timedelta(minutes=6), "w2", max_attempts=1
    )
    assert (report.claimed, report.failed) == (0, 1)
    [failed] = queued(reachable)
    assert failed.status is NoticeStatus.FAILED
    assert failed.last_error
    assert "lease expired" in failed.last_error
    assert smtp.received == []


def test_two_concurrent_workers_deliver_every_notice_exactly_once(
    reachable: Database, smtp: SmtpSink
) -> None:
    n = 40
    with reachable.write() as conn:
        entries = [notifications.enqueue_record_reopened(conn, ALICE.ins, NOW) for _ in range(n)]
    ids = {e.message_id for e in entries if e is not None}
    assert len(ids) == n
    start = threading.Barrier(2)
    claims: list[str] = []

    def linger_after_choosing(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        # Widen the race: a worker waits between choosing due rows and leasing them,
        # so a claim that neither locked nor re-checked them would lease them twice.
        if statement.lstrip().startswith("SELECT notification_outbox.ins"):
            claims.append(statement)
            time.sleep(0.02)

    def worker(name: str) -> int:
        start.wait()
        sent = 0
        while True:
            report = deliver_pending(reachable, mailer_for(smtp.port), NOW, name, batch=3)
            sent += report.sent
            if report.claimed == 0:
                return sent

    event.listen(reachable.engine, "after_cursor_execute", linger_after_choosing)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            counts = list(pool.map(worker, ["w1", "w2"]))
    finally:
        event.remove(reachable.engine, "after_cursor_execute", linger_after_choosing)
    assert claims  # the hook saw the claims
    assert sum(counts) == n
    assert all(counts)  # both took part
    assert sorted(smtp.message_ids()) == sorted(ids)  # each once, none twice
    assert {e.status for e in queued(reachable)} == {NoticeStatus.SENT}


# ------------------------------------------------------------- what gets queued


def test_r4_closing_then_reopening_queues_record_closed_and_reopened(
    reachable: Database, smtp: SmtpSink
) -> None:
    records.close_record(reachable, at(NOW + timedelta(days=1)), ALICE.ins, "holder", "fin")
    records.reopen_record(reachable, at(NOW + timedelta(days=2)), ALICE.ins, "holder", True)
    waiting = queued(reachable)
    assert [e.kind for e in waiting] == [NoticeKind.RECORD_CLOSED, NoticeKind.RECORD_REOPENED]
    assert {(e.status, e.recipient) for e in waiting} == {(NoticeStatus.PENDING, ALICE_EMAIL)}

    deliver_pending(reachable, mailer_for(smtp.port), NOW + timedelta(days=3), "w1")
    subjects = sorted(r.message["Subject"] for r in smtp.received)
    assert subjects == ["DMP : votre dossier a été fermé", "DMP : votre dossier a été rouvert"]


def test_r17_without_an_email_a_mandatory_notice_is_kept_as_undeliverable(
    alice: Database, smtp: SmtpSink
) -> None:
    records.close_record(alice, at(), ALICE.ins, "holder", "fin")
    [kept] = queued(alice)
    assert (kept.kind, kept.status, kept.recipient) == (
        NoticeKind.RECORD_CLOSED,
        NoticeStatus.UNDELIVERABLE,
        None,
    )
    assert kept.next_attempt_at is None
    assert deliver_pending(alice, mailer_for(smtp.port), NOW, "w1").claimed == 0
    assert smtp.received == []


@pytest.mark.parametrize("opted_in", [False, True])
def test_a_new_document_is_notified_only_to_a_holder_who_opted_in(
    alice: Database, opted_in: bool
) -> None:
    request = ContactRequest(ALICE_EMAIL, notify_new_documents=opted_in)
    contacts.set_contact(alice, as_patient(), ALICE.ins, request)
    with alice.write() as conn:
        entry = notifications.enqueue_new_document(conn, ALICE.ins, NOW)
    assert (entry is not None) is opted_in
    assert len(queued(alice)) == int(opted_in)


def test_r14_r13_r17_every_mandatory_notice_is_queued_without_opt_in(
    reachable: Database,
) -> None:
    with reachable.write() as conn:
        notifications.enqueue_first_access(conn, ALICE.ins, NOW, DR_BOB_RPPS, "10")
        notifications.enqueue_emergency_access(
            conn, ALICE.ins, NOW, EmergencyKind.SAMU, DR_BOB_RPPS, "10"
        )
        notifications.enqueue_document_awaiting(conn, ALICE.ins, NOW, date(2018, 12, 6))
        notifications.enqueue_record_closed(conn, ALICE.ins, NOW)
        notifications.enqueue_record_reopened(conn, ALICE.ins, NOW)
    assert {e.kind for e in queued(reachable)} == notices.MANDATORY


# -------------------------------------------------------------------- the contact


def test_the_holder_sets_and_reads_their_contact(alice: Database) -> None:
    assert contacts.find_contact(alice, as_patient(), ALICE.ins) is None
    request = ContactRequest("  Alice.Martin@EXAMPLE.org ", "06 12 34 56 78", True)
    contacts.set_contact(alice, as_patient(), ALICE.ins, request)
    later = NOW + timedelta(days=1)
    contacts.set_contact(alice, as_patient(now=later), ALICE.ins, ContactRequest(ALICE_EMAIL))
    contact = contacts.find_contact(alice, as_patient(), ALICE.ins)
    assert contact is not None
    assert (contact.email, contact.phone, contact.notify_new_documents) == (
        ALICE_EMAIL,
        None,
        False,
    )
    assert contact.updated_at == later


@pytest.mark.parametrize(
    ("email_value", "phone_value", "field"),
    [
        ("alice.example.org", None, "email"),
        ("alice@localhost", None, "email"),
        ("alice@exa mple.org", None, "email"),
        ("al..ice@example.org", None, "email"),
        (ALICE_EMAIL, "12345", "phone"),
        (ALICE_EMAIL, "+33 6 12 34 56 78 99 99 99", "phone"),
    ],
)
def test_a_bad_email_or_phone_is_refused_naming_the_field(
    alice: Database, email_value: str, phone_value: str | None, field: str
) -> None:
    with pytest.raises(InvalidInput) as err:
        contacts.set_contact(
            alice, as_patient(), ALICE.ins, ContactRequest(email_value, phone_value)
        )
    assert err.value.field == field
    assert contacts.find_contact(alice, as_patient(), ALICE.ins) is None


def test_a_contact_for_a_record_that_does_not_exist_is_not_found(alice: Database) -> None:
    with pytest.raises(NotFound):
        contacts.set_contact(alice, as_patient(ZOE.ins), ZOE.ins, ContactRequest(ALICE_EMAIL))


# ------------------------------------------------------------------ the domain rules


def test_the_back_off_doubles_from_one_minute_up_to_an_hour() -> None:
    delays = [notices.retry_delay(n) for n in range(1, 10)]
    assert delays == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60, 60, 60)]
    assert notices.retry_at(2, 3, NOW) == NOW + timedelta(minutes=2)
    assert notices.retry_at(3, 3, NOW) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("jean-luc.o'neil+dmp@Sub.Example.FR", "jean-luc.o'neil+dmp@sub.example.fr"),
        ("", None),
        ("   ", None),
    ],
)
def test_email_syntax_accepts_sane_addresses(value: str, expected: str | None) -> None:
    assert notices.parse_email(value) == expected


def test_no_notice_text_carries_medical_content_or_a_link() -> None:
    texts = [
        notices.first_access(NOW, DR_BOB_RPPS, "Médecin"),
        notices.emergency_access(NOW, EmergencyKind.BRIS_DE_GLACE, DR_BOB_RPPS, None),
        notices.emergency_access_to_doctor(
            NOW, EmergencyKind.SAMU, DR_BOB_RPPS, "Médecin", "Alice Martin"
        ),
        notices.document_awaiting(NOW, date(2018, 12, 6)),
        notices.new_document(NOW),
        notices.record_closed(NOW),
        notices.record_reopened(NOW),
        # The portal account's messages (decision 0007): codes to type, never a link.
        account_rules.login_code_notice("123456", NOW),
        account_rules.reset_code_notice("ABCD-EFGH-JKMN-PQRS", NOW),
        account_rules.locked_notice(NOW, NOW),
    ]
    assert {n.kind for n in texts} == set(NoticeKind)
    for n in texts:
        assert n.subject.startswith("DMP : ")
        assert "http" not in n.body
        assert "www." not in n.body
    assert "le 06/11/2018 à 11 h 00" in notices.record_closed(NOW).body.lower()  # Paris time


# --------------------------------------------------------------- TLS and login


def self_signed(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a fresh certificate for 127.0.0.1, and a client trusting it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    return server, ssl.create_default_context(cafile=str(cert_file))


def only(user: str, password: str) -> Any:
    def authenticate(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            user.encode(),
            password.encode(),
        )
        return AuthResult(success=ok, handled=False)  # handled=False: reply 535

    return authenticate


def test_delivery_over_starttls_with_login(reachable: Database, tmp_path: Path) -> None:
    server_tls, client_tls = self_signed(tmp_path)
    sink = SmtpSink(
        tls_context=server_tls,
        require_starttls=True,
        authenticator=only("dmp", "s3cret"),
        auth_require_tls=True,
        auth_required=True,
    ).start()
    try:
        first_access(reachable)
        good = mailer_for(
            sink.port, starttls=True, user="dmp", password="s3cret", tls_context=client_tls
        )
        assert deliver_pending(reachable, good, NOW, "w1").sent == 1
        assert len(sink.received) == 1

        first_access(reachable)
        wrong = mailer_for(
            sink.port, starttls=True, user="dmp", password="wrong", tls_context=client_tls
        )
        report = deliver_pending(reachable, wrong, NOW, "w1")
        assert (report.retried, report.unreachable) == (1, True)
        assert any(e.last_error and "535" in e.last_error for e in queued(reachable))
    finally:
        sink.stop()


def test_delivery_over_implicit_tls_checks_the_certificate(
    reachable: Database, tmp_path: Path
) -> None:
    server_tls, client_tls = self_signed(tmp_path)
    sink = SmtpSink(server_hostname="127.0.0.1", ssl_context=server_tls).start()
    try:
        first_access(reachable)
        untrusted = mailer_for(sink.port, ssl=True)  # the system's CAs do not know ours
        assert deliver_pending(reachable, untrusted, NOW, "w1").retried == 1
        assert sink.received == []
        later = NOW + timedelta(minutes=2)
        trusted = mailer_for(sink.port, ssl=True, tls_context=client_tls)
        assert deliver_pending(reachable, trusted, later, "w1").sent == 1
        assert len(sink.received) == 1
    finally:
        sink.stop()


def test_starttls_required_but_not_offered_never_falls_back_to_clear_text(
    reachable: Database, smtp: SmtpSink
) -> None:
    first_access(reachable)
    report = deliver_pending(reachable, mailer_for(smtp.port, starttls=True), NOW, "w1")
    assert (report.retried, report.unreachable) == (1, True)
    assert smtp.received == []


def test_the_smtp_configuration_refuses_contradictions() -> None:
    with pytest.raises(ValueError, match="not both"):
        SmtpConfig("smtp.example.org", starttls=True, ssl=True)
    with pytest.raises(ValueError, match="clear text"):
        SmtpConfig("smtp.example.org", user="dmp", password="x")


# ------------------------------------------------------------ the in-process worker


def test_the_server_delivers_in_process_and_stops_at_shutdown(
    reachable: Database, smtp: SmtpSink
) -> None:
    settings = Settings(smtp_host="127.0.0.1", smtp_port=smtp.port, notify_interval=0.05)
    entry = first_access(reachable, datetime.now(UTC))
    with TestClient(create_app(settings, db=reachable)):
        assert any(t.name == "dmp-notify" for t in threading.enumerate())
        deadline = time.monotonic() + 10
        while not smtp.received and time.monotonic() < deadline:
            time.sleep(0.02)
    assert smtp.message_ids() == [entry.message_id]
    assert not any(t.name == "dmp-notify" for t in threading.enumerate())


def test_without_an_smtp_host_the_server_runs_no_worker(reachable: Database) -> None:
    with TestClient(create_app(Settings(smtp_host=""), db=reachable)):
        assert not any(t.name == "dmp-notify" for t in threading.enumerate())
