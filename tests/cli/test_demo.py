"""`dmp demo` loads a launch once through the real paths; `dmp generate` files import."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dmp.cli.main import app
from dmp.domain.stats import make_openings_query
from dmp.feeds.beneficiaries.runner import import_beneficiaries_file
from dmp.feeds.records.runner import import_records_file
from dmp.feeds.synthetic.bad_lines import KINDS
from dmp.services import stats
from dmp.services.context import system_ctx
from dmp.storage.db import Database

runner = CliRunner()
END = date(2019, 12, 31)
NOW = datetime(2025, 1, 1, tzinfo=UTC)
SMALL = ["--beneficiaries", "500", "--records", "300", "--seed", "3"]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db: Database) -> Path:
    """A data dir of its own, on the test's database (SQLite or PostgreSQL)."""
    monkeypatch.setenv("DMP_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DMP_DATABASE_URL", db.url.render_as_string(hide_password=False))
    return tmp_path / "var"


def test_demo_loads_a_launch_across_channels_and_regions(env: Path, db: Database) -> None:
    result = runner.invoke(app, ["demo", "--no-serve", *SMALL])

    assert result.exit_code == 0, result.output
    totals = stats.totals(db, END)
    # 300 migrated + 2/5 of the 200 registry people left = 80 opened through the service.
    assert totals.opened == 380
    assert totals.closed == 1
    by_channel = stats.openings(db, make_openings_query(None, END, "channel"))
    assert len(by_channel.groups) == 5
    by_region = stats.openings(db, make_openings_query(None, END, "region"))
    assert len(by_region.groups) >= 12
    assert "http://127.0.0.1:8000/stats" in result.output
    assert "Identifiants de démonstration" in result.output
    assert (env / "demo" / "beneficiaires.csv").exists()


def test_a_second_demo_loads_nothing(env: Path, db: Database) -> None:
    first = runner.invoke(app, ["demo", "--no-serve", *SMALL])
    assert first.exit_code == 0, first.output
    before = stats.totals(db, END)

    second = runner.invoke(app, ["demo", "--no-serve", *SMALL])

    assert second.exit_code == 0, second.output
    assert "rien à charger" in second.output
    assert stats.totals(db, END) == before
    assert _example_ins(first.output)
    assert _example_ins(first.output) == _example_ins(second.output)


def test_demo_refuses_more_records_than_beneficiaries(env: Path) -> None:
    result = runner.invoke(app, ["demo", "--no-serve", "--beneficiaries", "10", "--records", "11"])
    assert result.exit_code == 2


# The files are imported through the importers' own functions rather than
# `dmp import-records`, whose tests live with that command.


def test_generated_records_import_cleanly(tmp_path: Path, db: Database) -> None:
    path = tmp_path / "legacy.csv"
    made = runner.invoke(app, ["generate", "records", "--count", "700", "--out", str(path)])
    assert made.exit_code == 0, made.output

    summary = import_records_file(
        db, system_ctx(NOW), path, tmp_path / "r.csv", show_progress=False
    )

    assert (summary.inserted, summary.rejected) == (700, 0)
    assert stats.totals(db, END).opened == 700


def test_generated_bad_lines_are_all_rejected(tmp_path: Path, db: Database) -> None:
    path, rejects = tmp_path / "legacy.csv", tmp_path / "rejects.csv"
    bad = len(KINDS)
    args = ["generate", "records", "--count", "100", "--bad-lines", str(bad), "--out", str(path)]
    assert runner.invoke(app, args).exit_code == 0

    summary = import_records_file(db, system_ctx(NOW), path, rejects, show_progress=False)

    assert (summary.inserted, summary.rejected) == (100, bad)
    with rejects.open(encoding="utf-8") as handle:
        codes = sorted(row["code"] for row in csv.DictReader(handle))
    assert codes == sorted(code for _, code, _ in KINDS)


def test_generated_registry_imports_cleanly(tmp_path: Path, db: Database) -> None:
    path = tmp_path / "registry.csv"
    args = ["generate", "beneficiaries", "--count", "600", "--out", str(path), "--seed", "9"]
    made = runner.invoke(app, args)
    assert made.exit_code == 0, made.output
    assert "600 bénéficiaires" in made.output

    summary = import_beneficiaries_file(
        db, system_ctx(NOW), path, tmp_path / "r.csv", show_progress=False
    )

    assert (summary.inserted, summary.rejected) == (600, 0)


def _example_ins(output: str) -> list[str]:
    return [word for word in output.split() if len(word) == 15 and word[:13].isdigit()]
