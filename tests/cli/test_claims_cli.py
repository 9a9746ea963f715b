"""`dmp generate claims`, `dmp import-claims` and `dmp purge` end to end with Typer's
CliRunner, on SQLite and PostgreSQL (issue 5; RULES R5): the summary in French, exit 1
when a line is rejected or in conflict, 0 on a clean rerun of a clean file."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dmp.domain.time import local_date
from dmp.storage.db import Database
from tests.cli.runner import run_dmp
from tests.feeds.claims_files import claim, write
from tests.personas import ALICE, ALICE_BENEFICIARY, REGISTRY_HEADER, registry_line


@pytest.fixture
def env(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DMP_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DMP_DATABASE_URL", db.url.render_as_string(hide_password=False))
    assert run_dmp(["db", "upgrade"]).exit_code == 0
    return tmp_path


def test_generated_claims_import_with_rejects_and_exit_1(env: Path) -> None:
    out, registry = env / "claims.csv.gz", env / "registry.csv"
    args = ["--bad-lines", "19", "--out", str(out), "--registry", str(registry), "--seed", "3"]
    made = run_dmp(["generate", "claims", "--beneficiaries", "50", "--lines", "500", *args])
    assert made.exit_code == 0, made.output
    assert run_dmp(["import-beneficiaries", str(registry), "--no-progress"]).exit_code == 0
    result = run_dmp(["import-claims", str(out), "--no-progress"])
    assert result.exit_code == 1, result.output
    assert "lignes lues" in result.output
    assert "519" in result.output
    assert (env / "claims.csv.gz.rejects.csv").exists()


def test_a_clean_file_exits_0_and_purge_reports_the_claims_it_dropped(env: Path) -> None:
    (env / "registry.csv").write_text(f"{REGISTRY_HEADER}\n{registry_line(ALICE_BENEFICIARY)}\n")
    assert run_dmp(["import-beneficiaries", str(env / "registry.csv")]).exit_code == 0
    today = local_date(datetime.now(UTC))
    path = write(env, [claim("K1", ALICE.ins, today.isoformat())])
    first = run_dmp(["import-claims", str(path), "--no-progress"])
    assert first.exit_code == 0, first.output
    assert run_dmp(["import-claims", str(path), "--no-progress"]).exit_code == 0
    purged = run_dmp(["purge", "--as-of", today.isoformat()])
    assert purged.exit_code == 0, purged.output
    assert "0 ligne(s) de remboursement" in purged.output


def test_an_unreadable_file_exits_2(env: Path) -> None:
    (env / "bad.csv").write_text("a,b\n1,2\n")
    result = run_dmp(["import-claims", str(env / "bad.csv"), "--no-progress"])
    assert result.exit_code == 2


def test_a_gzip_file_cut_short_exits_2_and_says_the_committed_batches_are_kept(
    env: Path,
) -> None:
    (env / "registry.csv").write_text(f"{REGISTRY_HEADER}\n{registry_line(ALICE_BENEFICIARY)}\n")
    assert run_dmp(["import-beneficiaries", str(env / "registry.csv")]).exit_code == 0
    today = local_date(datetime.now(UTC)).isoformat()
    plain = write(env, [claim(f"T{n}", ALICE.ins, today) for n in range(3000)])
    whole = gzip.compress(plain.read_bytes())
    (env / "cut.csv.gz").write_bytes(whole[: len(whole) // 2])
    result = run_dmp(["import-claims", str(env / "cut.csv.gz"), "--no-progress"])
    assert result.exit_code == 2
    assert "unreadable after byte" in result.output
