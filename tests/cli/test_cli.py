"""The `dmp` command end to end with Typer's CliRunner, on SQLite and PostgreSQL: the
record lifecycle, the imports and the statistics (issue 2; RULES R1–R4)."""

from __future__ import annotations

import csv
import gc
import io
import json
import warnings
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from dmp.cli.main import app
from dmp.domain.identity import make_finess
from dmp.services import records
from dmp.services.context import system_ctx
from dmp.storage.db import Database
from dmp.storage.migrate import head_revision
from tests.cli.runner import run_dmp
from tests.personas import (
    ALICE,
    ALICE_BENEFICIARY,
    BOB_BENEFICIARY,
    CLINIC,
    DR_BOB_RPPS,
    INSURER_OFFICE,
    LEGACY_HEADER,
    LEO,
    LEO_BENEFICIARY,
    PHARMACY,
    REGISTRY_HEADER,
    ZOE,
    legacy_line,
    numbered_identity,
    registry_line,
)

Dmp = Callable[..., Result]
HEAD = head_revision(Database("sqlite://"))
OTHER_PHARMACY = make_finess("13000003")


@pytest.fixture
def dmp(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Dmp:
    """`dmp …` against the test database, the schema upgraded first."""
    monkeypatch.setenv("DMP_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DMP_DATABASE_URL", db.url.render_as_string(hide_password=False))
    monkeypatch.delenv("DMP_PHARMACY_FEE_EUR", raising=False)

    def invoke(*args: str) -> Result:
        return run_dmp(args)

    upgraded = invoke("db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    return invoke


def refused(result: Result, code: str) -> None:
    """A refusal: exit status 1 and a message naming the reason's code on stderr."""
    assert result.exit_code == 1, result.output
    assert code in result.stderr
    assert "Refusé" in result.stderr


def write(path: Path, header: str, lines: list[str]) -> Path:
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def registry(dmp: Dmp, tmp_path: Path) -> Dmp:
    beneficiaries = [ALICE_BENEFICIARY, BOB_BENEFICIARY, LEO_BENEFICIARY]
    path = write(
        tmp_path / "registry.csv", REGISTRY_HEADER, [registry_line(b) for b in beneficiaries]
    )
    result = dmp("import-beneficiaries", str(path), "--no-progress")
    assert result.exit_code == 0, result.output
    return dmp


def open_alice(dmp: Dmp, *extra: str) -> Result:
    return dmp(
        "open", "--ins", ALICE.ins, "--channel", "pharmacy", "--opened-by", PHARMACY,
        "--informed", *extra,
    )  # fmt: skip


# ------------------------------------------------------------------------------- schema


def test_db_upgrade_creates_the_sqlite_database_in_the_data_dir_and_can_run_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DMP_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("DMP_DATABASE_URL", raising=False)
    for _ in range(2):
        result = run_dmp(["db", "upgrade"])
        assert result.exit_code == 0, result.output
        assert f"révision {HEAD}" in result.stdout
    assert (tmp_path / "var" / "dmp.sqlite3").is_file()


def test_a_command_leaves_no_database_connection_open(dmp: Dmp) -> None:
    """Each command must dispose of its database: a PostgreSQL connection left to the
    garbage collector raises ResourceWarning (and holds a server slot until then)."""
    gc.collect()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for args in (["db", "upgrade"], ["stats", "openings", "--to", "2018-12-31", "--by", "day"]):
            assert CliRunner().invoke(app, args, catch_exceptions=False).exit_code == 0
        gc.collect()
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaks == []


# ----------------------------------------------------------------------------- registry


def test_import_beneficiaries_prints_a_summary_and_exits_0(dmp: Dmp, tmp_path: Path) -> None:
    path = write(tmp_path / "registry.csv", REGISTRY_HEADER, [registry_line(ALICE_BENEFICIARY)])
    result = dmp("import-beneficiaries", str(path), "--no-progress")
    assert result.exit_code == 0, result.output
    assert "lignes lues" in result.stdout
    assert not (tmp_path / "registry.rejects.csv").exists()


def test_import_beneficiaries_with_a_bad_line_exits_1_and_names_the_rejects_file(
    dmp: Dmp, tmp_path: Path
) -> None:
    bad = registry_line(LEO_BENEFICIARY).replace(",13,", ",20,")
    path = write(
        tmp_path / "registry.csv", REGISTRY_HEADER, [registry_line(ALICE_BENEFICIARY), bad]
    )
    result = dmp("import-beneficiaries", str(path), "--no-progress")
    assert result.exit_code == 1
    assert "registry.rejects.csv" in result.stderr.replace("\n", "")
    rejects = (tmp_path / "registry.rejects.csv").read_text(encoding="utf-8")
    assert "3,department,DEPARTMENT_UNKNOWN," in rejects


# ------------------------------------------------------------------------------ records


def test_r2_open_prints_the_record_opened(registry: Dmp) -> None:
    result = open_alice(registry)
    assert result.exit_code == 0, result.output
    assert ALICE.ins in result.stdout
    assert "pharmacy" in result.stdout
    assert "75" in result.stdout


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--ins", ALICE.ins[:13] + "00", "--channel", "online"], "INS_KEY"),
        (["--ins", ALICE.ins[:14], "--channel", "online"], "INS_LENGTH"),
        (["--ins", ALICE.ins, "--channel", "online", "--department", "20"], "DEPARTMENT_UNKNOWN"),
        (["--ins", ZOE.ins, "--channel", "online"], "NOT_BENEFICIARY"),
        (["--ins", ALICE.ins, "--channel", "shop"], "CHANNEL"),
        (["--ins", ALICE.ins, "--channel", "pharmacy", "--opened-by", DR_BOB_RPPS], "FINESS"),
        (["--ins", ALICE.ins, "--channel", "pharmacy"], "OPENER_MISSING"),
        (["--ins", LEO.ins, "--channel", "online"], "CONSENT_MINOR"),
        (["--ins", ALICE.ins, "--channel", "online", "--consent-by", "ami"], "HOLDER"),
    ],
)
def test_open_refusals_print_a_clear_message_and_exit_1(
    registry: Dmp, args: list[str], code: str
) -> None:
    refused(registry("open", *args, "--informed"), code)


def test_r2_open_without_the_information_given_is_refused(registry: Dmp) -> None:
    refused(registry("open", "--ins", ALICE.ins, "--channel", "online"), "CONSENT_NOT_INFORMED")


def test_r1_opening_the_same_ins_twice_is_refused_as_a_duplicate(registry: Dmp) -> None:
    assert open_alice(registry).exit_code == 0
    refused(open_alice(registry), "RECORD_EXISTS")


def test_r3_a_legal_representative_opens_a_minor_record(registry: Dmp) -> None:
    result = registry(
        "open", "--ins", LEO.ins, "--channel", "online", "--consent-by", "legal_representative",
        "--informed",
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def test_r3_a_minor_record_is_closed_by_a_legal_representative(registry: Dmp) -> None:
    opened = registry(
        "open", "--ins", LEO.ins, "--channel", "online", "--consent-by", "legal_representative",
        "--informed",
    )  # fmt: skip
    assert opened.exit_code == 0, opened.output
    refused(registry("close", LEO.ins, "--reason", "je pars"), "CLOSE_MINOR")
    closed = registry("close", LEO.ins, "--reason", "déménagement", "--by", "legal_representative")
    assert closed.exit_code == 0, closed.output


def test_r4_close_close_twice_and_reopen(registry: Dmp) -> None:
    assert open_alice(registry).exit_code == 0
    closed = registry("close", ALICE.ins, "--reason", "je déménage")
    assert closed.exit_code == 0, closed.output
    assert "fermé" in closed.stdout
    refused(registry("close", ALICE.ins, "--reason", "encore"), "RECORD_ALREADY_CLOSED")
    refused(registry("reopen", ALICE.ins), "CONSENT_NOT_INFORMED")
    reopened = registry("reopen", ALICE.ins, "--informed")
    assert reopened.exit_code == 0, reopened.output
    assert "rouvert" in reopened.stdout
    refused(registry("reopen", ALICE.ins, "--informed"), "RECORD_NOT_CLOSED")


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (["close", ZOE.ins, "--reason", "fin"], "RECORD_NOT_FOUND"),
        (["close", "123", "--reason", "fin"], "INS_LENGTH"),
        (["reopen", ZOE.ins, "--informed"], "RECORD_NOT_FOUND"),
    ],
)
def test_closing_or_reopening_a_record_that_does_not_exist_is_refused(
    registry: Dmp, command: list[str], code: str
) -> None:
    refused(registry(*command), code)


def test_r4_closing_needs_a_reason(registry: Dmp) -> None:
    assert open_alice(registry).exit_code == 0
    refused(registry("close", ALICE.ins, "--reason", " "), "REASON_MISSING")


def test_r4_purge_removes_only_records_closed_ten_years_before_and_says_so(
    registry: Dmp, db: Database
) -> None:
    today = datetime.now(UTC).date()
    opened = datetime(today.year - 12, 3, 1, 10, tzinfo=UTC)
    request = records.OpenRequest(ALICE.ins, "pharmacy", PHARMACY, "holder", True)
    records.open_record(db, system_ctx(opened), request)
    closed = datetime(today.year - 10, today.month, 1, 10, tzinfo=UTC) - timedelta(days=40)
    records.close_record(db, system_ctx(closed), ALICE.ins, "holder", "fin")
    day_before = (closed + timedelta(days=-1)).date().replace(year=closed.year + 10)

    early = registry("purge", "--as-of", day_before.isoformat())
    assert early.exit_code == 0, early.output
    assert "0 dossier(s) purgé(s)" in early.stdout
    assert ALICE.ins not in early.stdout

    done = registry("purge", "--as-of", today.isoformat())
    assert done.exit_code == 0, done.output
    assert f"purgé {ALICE.ins}" in done.stdout
    assert "1 dossier(s) purgé(s)" in done.stdout

    refused(registry("reopen", ALICE.ins, "--informed"), "RECORD_PURGED")
    again = registry("purge", "--as-of", today.isoformat())
    assert "0 dossier(s) purgé(s)" in again.stdout


def test_r4_a_purge_dated_in_the_future_is_refused(registry: Dmp) -> None:
    tomorrow = datetime.now(UTC).date() + timedelta(days=2)
    refused(registry("purge", "--as-of", tomorrow.isoformat()), "PURGE_DATE_FUTURE")


def test_purge_with_a_malformed_date_exits_2(dmp: Dmp) -> None:
    result = dmp("purge", "--as-of", "06/11/2028")
    assert result.exit_code == 2
    assert "YYYY-MM-DD" in result.output


# ---------------------------------------------------------------------- import-records


def test_import_records_of_a_clean_file_exits_0_and_a_rerun_adds_nothing(
    dmp: Dmp, tmp_path: Path
) -> None:
    path = write(tmp_path / "legacy.csv", LEGACY_HEADER, [legacy_line(ALICE, "75")])
    first = dmp("import-records", str(path), "--no-progress")
    assert first.exit_code == 0, first.output
    assert "lignes lues" in first.stdout
    second = dmp("import-records", str(path), "--no-progress")
    assert second.exit_code == 0, second.output
    refused(open_alice(dmp), "RECORD_EXISTS")  # migrated, so it exists


def test_import_records_with_a_rejected_line_exits_1_and_writes_the_rejects(
    dmp: Dmp, tmp_path: Path
) -> None:
    bad = legacy_line(numbered_identity(2), department="20")
    path = write(tmp_path / "legacy.csv", LEGACY_HEADER, [legacy_line(ALICE, "75"), bad])
    rejects = tmp_path / "out" / "rejets.csv"
    rejects.parent.mkdir()
    result = dmp("import-records", str(path), "--no-progress", "--rejects", str(rejects))
    assert result.exit_code == 1
    assert "rejets.csv" in result.stderr.replace("\n", "")
    assert "3,department,DEPARTMENT_UNKNOWN," in rejects.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "content",
    [
        LEGACY_HEADER.replace(",opened_by", "") + "\n",
        "",
    ],
)
def test_import_records_of_an_unreadable_file_exits_2(
    dmp: Dmp, tmp_path: Path, content: str
) -> None:
    path = tmp_path / "legacy.csv"
    path.write_text(content, encoding="utf-8")
    result = dmp("import-records", str(path), "--no-progress")
    assert result.exit_code == 2
    assert "Fichier illisible" in result.stderr


def test_import_records_of_a_missing_file_exits_2(dmp: Dmp, tmp_path: Path) -> None:
    result = dmp("import-records", str(tmp_path / "absent.csv"), "--no-progress")
    assert result.exit_code == 2


# ---------------------------------------------------------------------------- statistics

P = [numbered_identity(n, born=date(1980, 5, 5)) for n in range(1, 9)]
OPENINGS = [
    legacy_line(P[0], "75", "2018-11-06T09:30:00+01:00", "pharmacy", PHARMACY),
    legacy_line(P[1], "92", "2018-11-06T23:30:00Z", "pharmacy", PHARMACY),  # 7 Nov in Paris
    legacy_line(P[2], "13", "2018-11-20T10:00:00+01:00", "pharmacy", OTHER_PHARMACY),
    legacy_line(P[3], "2A", "2018-11-12T08:00:00+01:00", "online", ""),
    legacy_line(P[4], "974", "2018-12-03T10:00:00+04:00", "establishment", CLINIC),
    legacy_line(P[5], "69", "2018-10-15T10:00:00+02:00", "professional", DR_BOB_RPPS),
    legacy_line(P[6], "971", "2018-12-31T23:30:00-04:00", "insurer", INSURER_OFFICE),  # 2019
    legacy_line(P[7], "75", "2018-10-31T23:30:00Z", "pharmacy", PHARMACY),  # 1 Nov in Paris
]


@pytest.fixture
def launched(dmp: Dmp, tmp_path: Path) -> Dmp:
    path = write(tmp_path / "legacy.csv", LEGACY_HEADER, OPENINGS)
    result = dmp("import-records", str(path), "--no-progress")
    assert result.exit_code == 0, result.output
    return dmp


def openings_json(dmp: Dmp, *args: str) -> dict[str, object]:
    result = dmp("stats", "openings", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    report: dict[str, object] = json.loads(result.stdout)
    return report


def counts(report: dict[str, object]) -> list[tuple[str, int]]:
    groups = report["groups"]
    assert isinstance(groups, list)
    return [(g["key"], g["count"]) for g in groups]


NOV_DEC = ("--from", "2018-11-01", "--to", "2018-12-31")


def test_stats_openings_json_has_the_documented_shape(launched: Dmp) -> None:
    report = openings_json(launched, *NOV_DEC, "--by", "channel")
    assert {"from", "to", "by", "total", "groups"} <= set(report)
    assert (report["from"], report["to"], report["by"], report["total"]) == (
        "2018-11-01",
        "2018-12-31",
        "channel",
        6,
    )
    assert report["groups"] == [
        {"key": "pharmacy", "label": "Pharmacie", "count": 4},
        {"key": "establishment", "label": "Établissement de santé", "count": 1},
        {"key": "online", "label": "En ligne (titulaire)", "count": 1},
    ]


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        ("channel", [("pharmacy", 4), ("establishment", 1), ("online", 1)]),
        ("region", [("11", 3), ("04", 1), ("93", 1), ("94", 1)]),
        ("department", [("75", 2), ("13", 1), ("2A", 1), ("92", 1), ("974", 1)]),
        (
            "opener",
            [(PHARMACY, 3), *sorted([(CLINIC, 1), (OTHER_PHARMACY, 1), ("online", 1)])],
        ),
        (
            "week",
            [
                ("2018-W44", 1),
                ("2018-W45", 2),
                ("2018-W46", 1),
                ("2018-W47", 1),
                ("2018-W48", 0),
                ("2018-W49", 1),
            ],
        ),
    ],
)
def test_stats_openings_groups_by_each_dimension(
    launched: Dmp, by: str, expected: list[tuple[str, int]]
) -> None:
    assert counts(openings_json(launched, *NOV_DEC, "--by", by)) == expected


def test_stats_openings_by_day_counts_local_days_with_empty_days_at_zero(launched: Dmp) -> None:
    days = dict(counts(openings_json(launched, *NOV_DEC, "--by", "day")))
    assert len(days) == 33  # 1 November to 3 December, zero-filled
    assert (days["2018-11-01"], days["2018-11-06"], days["2018-11-07"]) == (1, 1, 1)
    assert days["2018-11-08"] == 0


@pytest.mark.parametrize(
    ("start", "end", "total"),
    [
        ("2018-11-07", "2018-11-07", 1),  # 2018-11-06T23:30:00Z is 7 November in Paris
        ("2018-11-06", "2018-11-06", 1),
        ("2018-11-01", "2018-11-01", 1),  # 2018-10-31T23:30:00Z is 1 November in Paris
        ("2018-10-31", "2018-10-31", 0),
        ("2018-12-31", "2018-12-31", 0),  # 23:30 at UTC−4 on 31 December is 2019 in Paris
        ("2019-01-01", "2019-01-01", 1),
        ("2018-10-15", "2019-01-01", 8),
    ],
)
def test_stats_openings_from_and_to_are_inclusive_local_days_in_paris(
    launched: Dmp, start: str, end: str, total: int
) -> None:
    report = openings_json(launched, "--from", start, "--to", end, "--by", "channel")
    assert report["total"] == total


def test_stats_openings_cumulative_counts_from_the_first_record(launched: Dmp) -> None:
    report = openings_json(launched, *NOV_DEC, "--by", "channel", "--cumulative")
    assert (report["from"], report["total"]) == (None, 7)
    without_from = openings_json(launched, "--to", "2018-12-31", "--by", "channel")
    assert without_from["total"] == 7


def test_stats_openings_for_one_channel(launched: Dmp) -> None:
    report = openings_json(launched, *NOV_DEC, "--by", "department", "--channel", "pharmacy")
    assert counts(report) == [("75", 2), ("13", 1), ("92", 1)]


def test_stats_openings_as_csv(launched: Dmp) -> None:
    result = launched("stats", "openings", *NOV_DEC, "--by", "channel", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert list(csv.reader(io.StringIO(result.stdout))) == [
        ["key", "label", "count"],
        ["pharmacy", "Pharmacie", "4"],
        ["establishment", "Établissement de santé", "1"],
        ["online", "En ligne (titulaire)", "1"],
    ]


def test_stats_openings_as_a_table_by_default(launched: Dmp) -> None:
    result = launched("stats", "openings", *NOV_DEC, "--by", "channel")
    assert result.exit_code == 0, result.output
    assert "pharmacy" in result.stdout
    (total,) = [line for line in result.stdout.splitlines() if "Total" in line]
    assert total.split()[-2:] == ["6", "│"] or total.split()[-1] == "6"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--to", "2018-12-31", "--by", "month"], "STATS_BY"),
        (["--from", "2019-01-01", "--to", "2018-12-31", "--by", "day"], "STATS_PERIOD"),
        (["--to", "2018-12-31", "--by", "day", "--channel", "shop"], "CHANNEL"),
    ],
)
def test_stats_openings_bad_parameters_are_refused(dmp: Dmp, args: list[str], code: str) -> None:
    refused(dmp("stats", "openings", *args), code)


@pytest.mark.parametrize(
    "args",
    [
        ["--to", "31/12/2018", "--by", "day"],
        ["--to", "2018-12-31", "--by", "day", "--format", "xml"],
        ["--by", "day"],
    ],
)
def test_stats_openings_malformed_options_exit_2(dmp: Dmp, args: list[str]) -> None:
    assert dmp("stats", "openings", *args).exit_code == 2


def fees(dmp: Dmp, month: str) -> list[list[str]]:
    result = dmp("stats", "pharmacy-fees", "--month", month)
    assert result.exit_code == 0, result.output
    return list(csv.reader(io.StringIO(result.stdout)))


def test_r2_pharmacy_fees_are_one_euro_per_record_opened_in_the_local_month(
    launched: Dmp,
) -> None:
    assert fees(launched, "2018-11") == [
        ["finess", "openings", "amount_eur"],
        *sorted([[PHARMACY, "3", "3.00"], [OTHER_PHARMACY, "1", "1.00"]]),
    ]
    assert fees(launched, "2018-10") == [["finess", "openings", "amount_eur"]]


def test_r2_the_pharmacy_fee_is_configurable(
    launched: Dmp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DMP_PHARMACY_FEE_EUR", "0.50")
    assert fees(launched, "2018-11") == [
        ["finess", "openings", "amount_eur"],
        *sorted([[PHARMACY, "3", "1.50"], [OTHER_PHARMACY, "1", "0.50"]]),
    ]


def test_pharmacy_fees_for_a_malformed_month_are_refused(dmp: Dmp) -> None:
    refused(dmp("stats", "pharmacy-fees", "--month", "2018-13"), "MONTH")
