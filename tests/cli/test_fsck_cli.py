"""`dmp fsck [--full] [--hours N]` end to end with Typer's CliRunner, on SQLite and
PostgreSQL: it removes the bytes crashes left, reports what it saw in French, and
exits 0 (services/fsck.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dmp.storage.blobs import FileBlobStore
from dmp.storage.db import Database
from tests.cli.runner import run_dmp
from tests.personas import ALICE
from tests.services.blob_rows import crash_leftover, publish


@pytest.fixture
def blobs(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FileBlobStore:
    """The folder store `dmp` uses (DMP_DATA_DIR/blobs), on the test database."""
    monkeypatch.setenv("DMP_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DMP_DATABASE_URL", db.url.render_as_string(hide_password=False))
    monkeypatch.delenv("DMP_BLOB_STORE", raising=False)
    monkeypatch.delenv("DMP_BLOB_DIR", raising=False)
    return FileBlobStore(tmp_path / "var" / "blobs")


def hours_ago(n: float) -> datetime:
    return datetime.now(UTC) - timedelta(hours=n)


def test_fsck_removes_a_crash_leftover_of_the_last_hours_and_keeps_the_rest(
    db: Database, blobs: FileBlobStore
) -> None:
    leftover = crash_leftover(db, blobs, ALICE.ins, hours_ago(2))
    document = publish(db, blobs, ALICE.ins, b"compte rendu", hours_ago(2))
    running = crash_leftover(db, blobs, ALICE.ins, hours_ago(0))  # a publish under way
    result = run_dmp(["fsck"])
    assert result.exit_code == 0, result.output
    assert "3 dernières heures" in result.stdout
    assert "fichiers parcourus" in result.stdout
    assert "trop récents" in result.stdout
    assert "1 fichier(s) supprimé(s) ; vérification tracée." in result.stdout
    assert not blobs.exists(leftover)
    assert blobs.exists(document)
    assert blobs.exists(running)


def test_fsck_full_reaches_leftovers_older_than_the_hours_listed(
    db: Database, blobs: FileBlobStore
) -> None:
    old = crash_leftover(db, blobs, ALICE.ins, hours_ago(72))
    stray = "d/ab/ab12-purged"  # the former layout: a purge's leftover
    blobs.put(stray, b"sealed bytes of a purged record")

    result = run_dmp(["fsck", "--hours", "24"])
    assert result.exit_code == 0, result.output
    assert "24 dernières heures" in result.stdout
    assert "0 fichier(s) supprimé(s)" in result.stdout
    assert blobs.exists(old)

    result = run_dmp(["fsck", "--full"])
    assert result.exit_code == 0, result.output
    assert "tout le stockage" in result.stdout
    assert "hors du format" in result.stdout
    assert "2 fichier(s) supprimé(s)" in result.stdout
    assert list(blobs.keys()) == []
