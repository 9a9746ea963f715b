"""`dmp professional-contact RPPS EMAIL`: where a médecin traitant is told of an
emergency access to a patient's record (RULES R14)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from dmp.domain.identity import make_rpps
from dmp.storage.db import Database
from dmp.storage.schema import professional_contact
from tests.cli.runner import run_dmp

DR = make_rpps("1000000031")


@pytest.fixture(autouse=True)
def environment(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DMP_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DMP_DATABASE_URL", db.url.render_as_string(hide_password=False))


def test_an_operator_records_and_updates_a_professionals_address(db: Database) -> None:
    assert run_dmp(["professional-contact", DR, "dr@medecin.mssante.fr"]).exit_code == 0
    result = run_dmp(["professional-contact", DR, "Dr.Nouveau@medecin.mssante.fr"])
    assert result.exit_code == 0, result.output
    with db.read() as conn:
        rows = conn.execute(select(professional_contact.c.rpps, professional_contact.c.email))
        assert [tuple(r) for r in rows] == [(DR, "Dr.Nouveau@medecin.mssante.fr")]


@pytest.mark.parametrize(("rpps", "email"), [("12345", "a@b.fr"), (DR, "pas-une-adresse")])
def test_a_bad_rpps_or_address_is_refused_and_nothing_stored(
    db: Database, rpps: str, email: str
) -> None:
    result = run_dmp(["professional-contact", rpps, email])
    assert result.exit_code == 1
    assert "Refusé" in result.output
    with db.read() as conn:
        assert conn.execute(select(professional_contact)).first() is None
