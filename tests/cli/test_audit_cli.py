"""`dmp audit verify` (RULES R16)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import update

from dmp.services import records
from dmp.services.beneficiaries import load_beneficiaries_batch
from dmp.services.context import system_ctx
from dmp.storage.db import Database
from dmp.storage.migrate import upgrade
from dmp.storage.schema import audit_event
from tests.cli.runner import run_dmp
from tests.personas import ALICE, ALICE_BENEFICIARY, PHARMACY

NOW = datetime(2018, 11, 6, 10, tzinfo=UTC)


@pytest.fixture
def trail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'dmp.sqlite3'}")
    upgrade(db)
    monkeypatch.setenv("DMP_DATABASE_URL", db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("DMP_DATA_DIR", str(tmp_path))
    load_beneficiaries_batch(db, system_ctx(NOW), [ALICE_BENEFICIARY], "t")
    request = records.OpenRequest(ALICE.ins, "pharmacy", PHARMACY, "holder", True)
    records.open_record(db, system_ctx(NOW), request)
    records.close_record(db, system_ctx(NOW), ALICE.ins, "holder", "fin")
    return db


def test_r16_audit_verify_passes_on_a_clean_trail(trail: Database) -> None:
    result = run_dmp(["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "Journal intègre : 3 événements dans 2 chaînes" in result.stdout


def test_r16_audit_verify_fails_naming_the_first_bad_event(trail: Database) -> None:
    with trail.write() as conn:
        conn.execute(
            update(audit_event)
            .where(audit_event.c.chain == f"record:{ALICE.ins}", audit_event.c.seq == 1)
            .values(event=audit_event.c.event.op("||")(" "))
        )
    result = run_dmp(["audit", "verify"])
    assert result.exit_code == 1
    assert f"chaîne record:{ALICE.ins}, événement n° 1" in result.stderr
    assert "altered" in result.stderr
