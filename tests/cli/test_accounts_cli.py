"""`dmp activation-codes` (RULES R19): the letters' CSV for the mailing house, on SQLite
and PostgreSQL; the codes it prints activate accounts; the file is private and never
overwritten; bad input ends with a French message and exit code 1."""

from __future__ import annotations

import csv
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import Result

from dmp.services import accounts
from dmp.services.credentials import Portal
from dmp.storage.db import Database
from tests.cli.runner import run_dmp
from tests.personas import ALICE, BOB, LEO, ZOE
from tests.portal import (
    ALICE_EMAIL,
    ALICE_PASSWORD,
    KEYS,
    anonymous,
    cheap_passwords,
    register,
)

Dmp = Callable[..., Result]


@pytest.fixture
def dmp(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Dmp:
    """`dmp …` against the test database, whose registry holds Alice, Bob and Léo."""
    monkeypatch.setenv("DMP_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DMP_DATABASE_URL", db.url.render_as_string(hide_password=False))
    register(db, datetime.now(UTC))

    def invoke(*args: str) -> Result:
        return run_dmp(args)

    return invoke


def letters(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def test_r19_activation_codes_writes_a_private_csv_whose_codes_activate(
    dmp: Dmp, db: Database, tmp_path: Path
) -> None:
    out = tmp_path / "courriers.csv"
    result = dmp("activation-codes", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "2 courrier(s) d'activation écrit(s)" in result.stdout
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = letters(out)
    assert [r["ins"] for r in rows] == sorted([ALICE.ins, BOB.ins])  # Léo is a minor
    alice = next(r for r in rows if r["ins"] == ALICE.ins)
    assert list(alice) == ["ins", "family_name", "given_names", "department", "code",
                           "expires_on"]  # fmt: skip
    assert (alice["family_name"], alice["department"]) == ("Martin", "75")
    portal = Portal(KEYS, cheap_passwords())
    accounts.activate_account(
        db, anonymous(datetime.now(UTC)), portal, ALICE.ins, alice["code"], ALICE_EMAIL,
        ALICE_PASSWORD,
    )  # fmt: skip


def test_r19_a_second_run_issues_nothing_and_never_overwrites(dmp: Dmp, tmp_path: Path) -> None:
    out = tmp_path / "courriers.csv"
    assert dmp("activation-codes", "--out", str(out), "--limit", "1").exit_code == 0
    assert len(letters(out)) == 1
    again = dmp("activation-codes", "--out", str(out))
    assert again.exit_code == 1
    assert "existe déjà" in again.stderr
    assert len(letters(out)) == 1
    rest = tmp_path / "suite.csv"
    assert dmp("activation-codes", "--out", str(rest)).exit_code == 0
    assert len(letters(rest)) == 1  # the other adult; the first one's code is live


def test_r19_listed_ins_get_a_new_code_and_the_others_a_reason(dmp: Dmp, tmp_path: Path) -> None:
    out = tmp_path / "courriers.csv"
    result = dmp(
        "activation-codes", "--out", str(out), "--ins", ALICE.ins, "--ins", LEO.ins,
        "--ins", ZOE.ins,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [r["ins"] for r in letters(out)] == [ALICE.ins]
    assert f"{LEO.ins} : pas de courrier (mineur" in result.stderr
    assert f"{ZOE.ins} : pas de courrier (absent du registre" in result.stderr


def test_a_malformed_ins_is_refused_and_leaves_no_file(dmp: Dmp, tmp_path: Path) -> None:
    out = tmp_path / "courriers.csv"
    result = dmp("activation-codes", "--out", str(out), "--ins", "123")
    assert result.exit_code == 1
    assert "Refusé" in result.stderr
    assert not out.exists()
