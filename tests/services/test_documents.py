"""The documents service beyond what the FHIR tests see: R13's notice that a hidden
document awaits its announcement, failures that leave nothing behind, and the audit
of publishing (RULES R6, R7, R13, R16, R17)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dmp.domain.actors import Actor, Role
from dmp.domain.documents import DocumentQuery, NewDocument, Submission, Visibility
from dmp.domain.errors import NotFound, SeveralErrors
from dmp.domain.identity import make_rpps
from dmp.feeds.synthetic.documents import make_pdf
from dmp.services import care_team, documents, records
from dmp.services.beneficiaries import load_beneficiaries_batch
from dmp.services.context import Ctx, system_ctx
from dmp.storage.blobs import FileBlobStore
from dmp.storage.db import Database
from dmp.storage.envelope import load_master_key
from dmp.storage.schema import audit_event, notification_outbox
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
