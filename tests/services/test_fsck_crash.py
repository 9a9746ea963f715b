"""A real publish (services/documents.py) interrupted after writing its bytes, before its
metadata commits: no document is visible, the bytes stay, and `fsck` removes them once
their hour is past the threshold. Once in-process (a failure while the store cannot
delete), once in a subprocess that dies on the spot (os._exit: no rollback, no cleanup)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dmp.domain.actors import Actor, Role
from dmp.domain.documents import DocumentQuery, NewDocument, Submission
from dmp.feeds.synthetic.document_formats import make_pdf
from dmp.services import care_team, documents, records
from dmp.services.beneficiaries import load_beneficiaries_batch
from dmp.services.context import Ctx, system_ctx
from dmp.services.fsck import fsck, written_hour
from dmp.storage.blobs import FileBlobStore
from dmp.storage.db import Database
from dmp.storage.envelope import load_master_key
from tests.personas import ALICE, ALICE_BENEFICIARY, DR_BOB_RPPS, PHARMACY

PUBLISHED = datetime(2026, 11, 23, 9, 40, tzinfo=UTC)
SETUP = PUBLISHED - timedelta(days=30)
AN_HOUR_LATER = PUBLISHED + timedelta(hours=1)  # 10:40: the hour 09:00-10:00 is old enough
DR_BOB = Actor(Role.PROFESSIONAL, DR_BOB_RPPS, "10")


def alice_record_dr_bob_may_write(db: Database) -> None:
    """Alice in the registry, her record open, Dr Bob authorised during care (R8)."""
    load_beneficiaries_batch(db, system_ctx(SETUP), [ALICE_BENEFICIARY], "test")
    opening = records.OpenRequest(ALICE.ins, "pharmacy", PHARMACY, "holder", True)
    records.open_record(db, system_ctx(SETUP), opening)
    care_team.record_consent_in_care(db, Ctx(DR_BOB, SETUP), ALICE.ins)


def visible_to_dr_bob(db: Database) -> int:
    query = DocumentQuery(ALICE.ins)
    return documents.find(db, Ctx(DR_BOB, AN_HOUR_LATER), query).total


def vault(store: FileBlobStore, data_dir: Path) -> documents.Vault:
    master = load_master_key(key_b64="", key_file=None, mode="dev", data_dir=data_dir)
    return documents.Vault(store, master)


class _DownAfterPut(FileBlobStore):
    """Writes, then becomes unreachable: the failed publish cannot delete its bytes."""

    def delete(self, key: str) -> None:
        raise ConnectionError("blob store unreachable")


def test_a_publish_failing_after_its_bytes_with_the_store_down_leaves_them_to_fsck(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice_record_dr_bob_may_write(db)
    store = _DownAfterPut(tmp_path / "blobs")

    def database_gone(*args: object) -> None:
        raise ConnectionError("database unreachable")

    monkeypatch.setattr(documents, "_commit", database_gone)
    new = NewDocument(
        f"urn:uuid:{uuid.uuid4()}", "11488-4", None, "application/pdf", make_pdf("CR", []), SETUP
    )
    with pytest.raises(ConnectionError, match="database"):
        documents.publish(
            db,
            vault(store, tmp_path),
            Ctx(DR_BOB, PUBLISHED),
            Submission(ALICE.ins, f"urn:uuid:{uuid.uuid4()}", (new,)),
        )
    [left] = store.keys()
    hour = written_hour(left)  # the wall clock's, whatever time the caller's context says
    assert hour <= datetime.now(UTC) < hour + timedelta(hours=2)
    assert visible_to_dr_bob(db) == 0

    assert fsck(db, FileBlobStore(store.root), datetime.now(UTC)).orphans_removed == 0
    assert store.exists(left)  # too young to judge: a publish may still be under way
    later = hour + timedelta(hours=1, minutes=20)
    assert fsck(db, FileBlobStore(store.root), later).orphans_removed == 1
    assert list(store.keys()) == []


# The publishing process: the bytes are stored, then the process dies before the
# transaction that would record the document (argv: database URL, data dir, INS, RPPS,
# time of the publish).
CRASHING_PUBLISH = """
import os, sys
from datetime import datetime
from pathlib import Path

from dmp.domain.actors import Actor, Role
from dmp.domain.documents import NewDocument, Submission
from dmp.feeds.synthetic.document_formats import make_pdf
from dmp.services.context import Ctx
from dmp.services.documents import Vault, publish
from dmp.storage.blobs import FileBlobStore
from dmp.storage.db import Database
from dmp.storage.envelope import load_master_key


class CrashAfterPut(FileBlobStore):
    def put(self, key, data):
        super().put(key, data)
        os._exit(70)  # not 1, which an uncaught exception would also give


url, data_dir, ins, rpps, at = sys.argv[1:]
now = datetime.fromisoformat(at)
master = load_master_key(key_b64="", key_file=None, mode="dev", data_dir=Path(data_dir))
vault = Vault(CrashAfterPut(Path(data_dir) / "blobs"), master)
pdf = make_pdf("Compte rendu", ["Examen clinique normal."])
new = NewDocument("urn:oid:1.2.250.99.42", "11488-4", None, "application/pdf", pdf, now)
ctx = Ctx(Actor(Role.PROFESSIONAL, rpps, "10"), now, "crash-test")
publish(Database(url), vault, ctx, Submission(ins, "urn:oid:1.2.250.99.43", (new,)))
sys.exit(0)  # not reached: the put above ends the process
"""


def test_a_publish_killed_after_writing_its_bytes_leaves_no_document_and_fsck_cleans(
    sqlite_db: Database, tmp_path: Path
) -> None:
    db = sqlite_db
    alice_record_dr_bob_may_write(db)
    url = db.url.render_as_string(hide_password=False)
    argv = [url, str(tmp_path), ALICE.ins, DR_BOB_RPPS, PUBLISHED.isoformat()]
    crashed = subprocess.run(
        [sys.executable, "-c", CRASHING_PUBLISH, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert crashed.returncode == 70, crashed.stderr

    store = FileBlobStore(tmp_path / "blobs")
    [left] = store.keys()
    hour = written_hour(left)
    assert hour <= datetime.now(UTC) < hour + timedelta(hours=2)
    assert visible_to_dr_bob(db) == 0

    report = fsck(db, store, hour + timedelta(hours=1, minutes=20))
    assert (report.keys_scanned, report.orphans_removed) == (1, 1)
    assert list(store.keys()) == []
