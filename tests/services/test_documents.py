"""The documents service beyond what the FHIR tests see: R13's notice that a hidden
document awaits its announcement, failures that leave nothing behind, and the audit
of publishing (RULES R6, R7, R13, R16, R17)."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, event, func, select, text

from dmp.domain.access import CareLink
from dmp.domain.actors import Actor, Role
from dmp.domain.documents import DocumentQuery, NewDocument, Submission, Visibility
from dmp.domain.errors import Conflict, NotFound, SeveralErrors
from dmp.domain.identity import make_rpps
from dmp.feeds.synthetic.documents import make_pdf
from dmp.services import care_team, documents, records
from dmp.services.beneficiaries import load_beneficiaries_batch
from dmp.services.context import Ctx, system_ctx
from dmp.storage import care_team as care_team_store
from dmp.storage.blobs import FileBlobStore
from dmp.storage.db import Database
from dmp.storage.envelope import load_master_key
from dmp.storage.schema import audit_event, document, notification_outbox, record_key
from tests.personas import ALICE, ALICE_BENEFICIARY

NOW = datetime(2026, 11, 23, 9, tzinfo=UTC)
DOCTOR = Actor(Role.PROFESSIONAL, make_rpps("1000000001"), "10")
STRANGER = Actor(Role.PROFESSIONAL, make_rpps("1000000041"), "10")
PDF = make_pdf("Compte rendu", ["Résultats normaux."])


@pytest.fixture
def vault(tmp_path: Path) -> documents.Vault:
    master = load_master_key(key_b64="", key_file=None, mode="dev", data_dir=tmp_path)
    return documents.Vault(FileBlobStore(tmp_path / "blobs"), master)


@pytest.fixture
def record(db: Database) -> Database:
    """Alice's record, opened a year ago; her doctor authorised during care (R8)."""
    opened = NOW - timedelta(days=365)
    load_beneficiaries_batch(db, system_ctx(opened), [ALICE_BENEFICIARY], "test")
    request = records.OpenRequest(ALICE.ins, "online", None, "holder", True)
    records.open_record(db, system_ctx(opened), request)
    care_team.record_consent_in_care(db, Ctx(DOCTOR, opened), ALICE.ins)
    return db


def publish(db: Database, vault: documents.Vault, at: datetime, n: int, **visibility: bool) -> str:
    new = NewDocument(
        master_identifier=f"urn:oid:1.2.250.1.999.1.{n}",
        type_code="11488-4",
        title=None,
        declared_mime="application/pdf",
        data=PDF,
        created_at=at,
        visibility=Visibility(**visibility),
    )
    stored = documents.publish(db, vault, Ctx(DOCTOR, at), Submission(ALICE.ins, f"s{n}", (new,)))
    return stored[0].document.id


def notices(db: Database, kind: str) -> int:
    with db.read() as conn:
        query = select(func.count()).where(notification_outbox.c.kind == kind)
        return int(conn.execute(query.select_from(notification_outbox)).scalar_one())


def test_r13_the_holder_is_told_once_that_a_hidden_document_waits_two_weeks(
    record: Database, vault: documents.Vault
) -> None:
    publish(record, vault, NOW - timedelta(days=15), 1, hidden_from_patient=True)
    publish(record, vault, NOW - timedelta(days=10), 2, hidden_from_patient=True)  # too soon
    publish(record, vault, NOW - timedelta(days=31), 3, hidden_from_patient=True)  # visible
    publish(record, vault, NOW - timedelta(days=20), 4)  # never hidden
    assert documents.announce_awaiting(record, NOW) == 1
    assert notices(record, "document_awaiting") == 1
    assert documents.announce_awaiting(record, NOW + timedelta(hours=1)) == 0
    # The one published 10 days ago gets its notice when its two weeks are up.
    assert documents.announce_awaiting(record, NOW + timedelta(days=4, hours=1)) == 1


def test_a_refused_caller_leaves_no_bytes_and_a_denied_trace(
    record: Database, vault: documents.Vault, tmp_path: Path
) -> None:
    new = NewDocument("urn:oid:1.2.250.1.999.2.1", "11488-4", None, "application/pdf", PDF, NOW)
    with pytest.raises(NotFound):
        documents.publish(record, vault, Ctx(STRANGER, NOW), Submission(ALICE.ins, "s", (new,)))
    assert not [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
    with record.read() as conn:
        denied = conn.execute(
            select(func.count())
            .select_from(audit_event)
            .where(audit_event.c.action == "document.write", audit_event.c.outcome == "denied")
        ).scalar_one()
    assert denied == 1


def test_invalid_documents_leave_no_bytes_and_a_failed_trace(
    record: Database, vault: documents.Vault, tmp_path: Path
) -> None:
    good = NewDocument("urn:oid:1.2.250.1.999.3.1", "11488-4", None, "application/pdf", PDF, NOW)
    bad = NewDocument("urn:oid:1.2.250.1.999.3.2", "11488-4", None, "application/pdf", b"x", NOW)
    with pytest.raises(SeveralErrors):
        documents.publish(record, vault, Ctx(DOCTOR, NOW), Submission(ALICE.ins, "s", (good, bad)))
    assert not [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
    with record.read() as conn:
        failed = conn.execute(
            select(audit_event.c.event).where(
                audit_event.c.action == "document.write", audit_event.c.outcome == "failed"
            )
        ).scalar_one()
    event = json.loads(failed)
    assert event["reason"] == "CONTENT_TYPE_MISMATCH"  # b"x" is no PDF: the reason, named
    assert event["detail"]["errors"][0]["field"].endswith("content[0].attachment")
    page = documents.find(record, Ctx(DOCTOR, NOW), DocumentQuery(ALICE.ins))
    assert page.total == 0


def test_a_failure_after_the_bytes_are_written_removes_them(
    record: Database, vault: documents.Vault, tmp_path: Path
) -> None:
    """The commit fails (here: the record is closed between the checks and the commit,
    so the traced decision refuses): the bytes already written are deleted."""
    publish(record, vault, NOW - timedelta(days=1), 1)  # the record's key exists
    before = {p for p in (tmp_path / "blobs").rglob("*") if p.is_file()}

    class ClosingStore(FileBlobStore):
        def put(self, key: str, data: bytes) -> None:
            super().put(key, data)
            records.close_record(
                record, Ctx(Actor(Role.PATIENT, ALICE.ins), NOW), ALICE.ins, "holder", "je ferme"
            )

    racing = documents.Vault(ClosingStore(tmp_path / "blobs"), vault.master)
    with pytest.raises(NotFound):
        publish(record, racing, NOW, 2)
    assert {p for p in (tmp_path / "blobs").rglob("*") if p.is_file()} == before


def test_r10_a_bundle_with_one_refused_category_stores_nothing_and_leaves_one_denial(
    record: Database, vault: documents.Vault, tmp_path: Path
) -> None:
    """A pharmacist may add a dispensation but not a consultation report: the whole
    bundle is refused, and the trail holds a denial, not an "allowed" then a denial."""
    pharmacist = Actor(Role.PROFESSIONAL, make_rpps("1000000021"), "21")
    care_team.record_consent_in_care(record, Ctx(pharmacist, NOW), ALICE.ins)
    dispensation = NewDocument(
        "urn:oid:1.2.250.1.999.4.1", "60593-1", None, "application/pdf", PDF, NOW
    )
    report = NewDocument("urn:oid:1.2.250.1.999.4.2", "11488-4", None, "application/pdf", PDF, NOW)
    with pytest.raises(NotFound):
        documents.publish(
            record, vault, Ctx(pharmacist, NOW), Submission(ALICE.ins, "s", (dispensation, report))
        )
    with record.read() as conn:
        outcomes = conn.scalars(
            select(audit_event.c.outcome).where(audit_event.c.action == "document.write")
        ).all()
    assert outcomes == ["denied"]
    assert not [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
    alone = Submission(ALICE.ins, "s2", (dispensation,))
    assert documents.publish(record, vault, Ctx(pharmacist, NOW), alone)[0].created


def test_r6_a_document_stored_meanwhile_by_another_submission_is_refused_with_retry(
    record: Database, vault: documents.Vault, tmp_path: Path
) -> None:
    """The same masterIdentifier sent twice at once: the second to commit stores nothing
    (its bytes are removed, its failure traced) and its resend answers the stored one.
    (The record has a document already: the race of two first documents is the next
    test's.)"""
    earlier = publish(record, vault, NOW, 6)
    first_id: list[str] = []

    class RacingStore(FileBlobStore):
        def put(self, key: str, data: bytes) -> None:
            super().put(key, data)
            if not first_id:  # the other submission commits between our checks and ours
                first_id.append(publish(record, vault, NOW, 7))

    racing = documents.Vault(RacingStore(tmp_path / "blobs"), vault.master)
    with pytest.raises(Conflict) as refused:
        publish(record, racing, NOW, 7)
    assert refused.value.code == "RETRY"
    with record.read() as conn:
        stored = conn.scalars(select(document.c.id)).all()
        failed = conn.scalars(
            select(audit_event.c.event).where(audit_event.c.outcome == "failed")
        ).all()
    assert sorted(stored) == sorted([earlier, *first_id])
    assert [json.loads(e)["reason"] for e in failed] == ["RETRY"]
    assert len([p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]) == 2  # not ours
    assert publish(record, vault, NOW, 7) == first_id[0]  # the resend: the stored one


def test_a_records_first_documents_sent_at_once_keep_one_key_and_both_are_stored(
    record: Database, vault: documents.Vault, tmp_path: Path
) -> None:
    """A record's data key is made by its first document and stored in that document's
    transaction (R4: one key per record). Two first documents at once: the one that
    commits second finds the record keyed meanwhile, stores nothing on that attempt (its
    bytes, sealed with a key the record will not keep, are removed), and is sealed again
    with the record's key and stored: the sender sees no failure, both documents open."""
    other: list[str] = []
    puts: list[str] = []

    class RacingStore(FileBlobStore):
        def put(self, key: str, data: bytes) -> None:
            super().put(key, data)
            puts.append(key)
            if not other:  # the other first document commits between our peek and ours
                other.append(publish(record, vault, NOW, 8))

    racing = documents.Vault(RacingStore(tmp_path / "blobs"), vault.master)
    mine = publish(record, racing, NOW, 9)
    assert len(puts) == 2  # sealed twice: with its own key, then with the record's
    with record.read() as conn:
        assert sorted(conn.scalars(select(document.c.id)).all()) == sorted([*other, mine])
        assert conn.execute(select(func.count()).select_from(record_key)).scalar() == 1
    assert len([p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]) == 2
    for doc_id in (other[0], mine):
        _, data = documents.retrieve(record, vault, Ctx(DOCTOR, NOW), doc_id)
        assert data == PDF


def test_a_records_first_document_stores_its_key_in_its_own_commit(
    record: Database, vault: documents.Vault
) -> None:
    """No write transaction of its own for the key: one commit per publish (R6), the
    first one included."""
    writes: list[bool] = []

    def note(conn: Connection) -> None:
        if conn.get_execution_options().get("dmp_write"):  # Database.write's transactions
            writes.append(True)

    event.listen(record.engine, "commit", note)
    publish(record, vault, NOW, 1)
    assert len(writes) == 1


def _statements(db: Database) -> list[str]:
    """The SQL statements run on `db` from now on (transaction control left out)."""
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if not statement.startswith("BEGIN"):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    return seen


def test_a_search_reads_the_guards_facts_in_one_statement(
    record: Database, vault: documents.Vault
) -> None:
    """Record, care link, emergency, representatives and preferences: one statement
    (after the record's lock on PostgreSQL), then the trace and the documents; on
    PostgreSQL each statement is a round trip."""
    publish(record, vault, NOW, 1)
    statements = _statements(record)
    page = documents.find(record, Ctx(DOCTOR, NOW), DocumentQuery(ALICE.ins))
    assert page.total == 1
    facts = [s for s in statements if "care_link" in s]
    assert len(facts) == 1
    assert all(t in facts[0] for t in ("representative", "access_preferences", "emergency"))
    postgres = record.engine.dialect.name == "postgresql"
    lock, trace = (1, 2) if postgres else (0, 3)
    assert len(statements) == lock + 1 + trace + 1


def test_a_publish_reads_the_facts_once_per_transaction_and_takes_no_savepoint(
    record: Database, vault: documents.Vault
) -> None:
    publish(record, vault, NOW, 1)  # the record's data key exists from now on
    statements = _statements(record)
    publish(record, vault, NOW, 2)
    assert len([s for s in statements if "care_link" in s]) == 2  # peek, then traced
    assert not [s for s in statements if "SAVEPOINT" in s.upper()]


def _until_waiting_for_a_lock(db: Database) -> None:
    """Until another connection waits for a row lock (PostgreSQL); SQLite's waiter sits
    in its busy handler, unseen: a moment's head start has to do there."""
    if db.engine.dialect.name != "postgresql":
        time.sleep(0.2)
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with db.engine.connect() as conn:
            waiting = conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            ).scalar_one()
        if waiting:
            return
        time.sleep(0.01)
    raise AssertionError("nobody waited for the lock")


def test_r9_a_search_waiting_on_a_block_being_committed_sees_the_block(
    record: Database, vault: documents.Vault
) -> None:
    """The guard decides on the facts as they are once it holds the record: a search
    that waited for the holder's change to the care team is judged after that change."""
    publish(record, vault, NOW, 1)
    pages: list[documents.Page] = []
    search = threading.Thread(
        target=lambda: pages.append(
            documents.find(record, Ctx(DOCTOR, NOW), DocumentQuery(ALICE.ins))
        )
    )
    with record.write() as conn:
        assert care_team_store.access_facts(conn, ALICE.ins, None, NOW, for_update=True)
        search.start()
        _until_waiting_for_a_lock(record)
        blocked = CareLink(authorised=False, blocked=True)
        care_team_store.save_link(conn, ALICE.ins, DOCTOR.id, blocked, NOW)
    search.join(timeout=30)
    assert [p.total for p in pages] == [0]
