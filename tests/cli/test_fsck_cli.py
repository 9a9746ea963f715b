"""`dmp fsck [--full]` end to end with Typer's CliRunner, on SQLite and PostgreSQL:
it reports what it checked and removed, in French, and exits 0 (RULES R4 leftovers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dmp.storage.blobs import FileBlobStore
from dmp.storage.db import Database
from tests.cli.runner import run_dmp
from tests.personas import ALICE
from tests.services.blob_rows import new_blob_key, note_pending


@pytest.fixture
def blobs(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FileBlobStore:
    """The folder store `dmp` uses (DMP_DATA_DIR/blobs), on the test database."""
    monkeypatch.setenv("DMP_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DMP_DATABASE_URL", db.url.render_as_string(hide_password=False))
    monkeypatch.delenv("DMP_BLOB_STORE", raising=False)
    monkeypatch.delenv("DMP_BLOB_DIR", raising=False)
    return FileBlobStore(tmp_path / "var" / "blobs")


def test_fsck_removes_an_abandoned_publish_and_says_so(db: Database, blobs: FileBlobStore) -> None:
    key = new_blob_key()
    note_pending(db, ALICE.ins, key, datetime.now(UTC) - timedelta(hours=1))
    blobs.put(key, b"sealed")
    result = run_dmp(["fsck"])
    assert result.exit_code == 0, result.output
    assert "dépôts en attente examinés" in result.stdout
    assert "1 fichier(s) supprimé(s)" in result.stdout
    assert "fichiers parcourus" not in result.stdout
    assert not blobs.exists(key)


def test_fsck_full_scans_the_store_and_removes_unreferenced_blobs(
    db: Database, blobs: FileBlobStore
) -> None:
    stray = new_blob_key()
    blobs.put(stray, b"sealed bytes of a purged record")
    result = run_dmp(["fsck", "--full"])
    assert result.exit_code == 0, result.output
    assert "fichiers parcourus" in result.stdout
    assert "1 fichier(s) supprimé(s)" in result.stdout
    assert list(blobs.keys()) == []
