"""`dmp import-beneficiaries` end to end on SQLite and PostgreSQL: the insurer's registry
decides who may have a record (DESIGN: eligibility; RULES R1)."""

from __future__ import annotations

import csv
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dmp.domain.people import Beneficiary
from dmp.feeds.beneficiaries.runner import import_beneficiaries_file
from dmp.feeds.csvsource import CsvFileError
from dmp.feeds.runner import ImportSummary
from dmp.services import records
from dmp.services.context import system_ctx
from dmp.storage.beneficiaries import count_beneficiaries, find_beneficiary
from dmp.storage.db import Database
from tests.personas import (
    ALICE,
    ALICE_BENEFICIARY,
    BOB_BENEFICIARY,
    LEO_BENEFICIARY,
    REGISTRY_HEADER,
    registry_line,
)

NOW = datetime(2018, 11, 6, 10, 0, tzinfo=UTC)


def write(tmp_path: Path, lines: list[str | bytes], header: str = REGISTRY_HEADER) -> Path:
    path = tmp_path / "registry.csv"
    body = [x if isinstance(x, bytes) else x.encode() for x in lines]
    path.write_bytes(b"\n".join([header.encode(), *body]) + b"\n")
    return path


def run(db: Database, path: Path, batch_size: int = 10_000) -> ImportSummary:
    return import_beneficiaries_file(
        db,
        system_ctx(NOW, "test"),
        path,
        path.with_suffix(".rejects.csv"),
        batch_size=batch_size,
        show_progress=False,
    )


def rejects_of(path: Path) -> list[tuple[int, str, str]]:
    with path.with_suffix(".rejects.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert all(row["reason"] for row in rows)
    return sorted((int(row["line"]), row["field"], row["code"]) for row in rows)


def registered(db: Database, ins: str) -> Beneficiary | None:
    with db.read() as conn:
        return find_beneficiary(conn, ins)


def test_the_registry_is_loaded_and_makes_people_eligible(db: Database, tmp_path: Path) -> None:
    path = write(tmp_path, [registry_line(b) for b in (ALICE_BENEFICIARY, BOB_BENEFICIARY)])
    summary = run(db, path)
    assert (summary.read, summary.inserted, summary.rejected) == (2, 2, 0)
    assert registered(db, ALICE.ins) == ALICE_BENEFICIARY
    assert registered(db, BOB_BENEFICIARY.identity.ins) == BOB_BENEFICIARY
    record = records.open_record(
        db, system_ctx(NOW), records.OpenRequest(ALICE.ins, "online", None, "holder", True)
    )
    assert record.opening.department == "75"  # the registry's, when none is given


def test_each_bad_registry_line_is_rejected_with_its_line_field_and_reason(
    db: Database, tmp_path: Path
) -> None:
    leo = registry_line(LEO_BENEFICIARY)
    bad_key = LEO_BENEFICIARY.identity.ins[:13] + "00"
    lines: list[str | bytes] = [
        registry_line(ALICE_BENEFICIARY),
        leo.replace(LEO_BENEFICIARY.identity.ins, bad_key),
        leo.replace(",13,", ",20,"),
        leo.replace(",M,", ",F,"),
        leo.replace("2015-06-30", "2015-06-31"),
        leo.replace("2015-06-30", "2019-06-30"),  # after today, and not the INS's year
        leo.replace(",01", ",régime général"),
        leo.replace("Durand", ""),
        leo + ",extra",
        leo.encode().replace("Léo".encode(), b"L\xe9o"),
        registry_line(BOB_BENEFICIARY),
    ]
    path = write(tmp_path, lines)
    summary = run(db, path)
    assert (summary.read, summary.inserted, summary.rejected) == (11, 2, 9)
    assert rejects_of(path) == [
        (3, "ins", "INS_KEY"),
        (4, "department", "DEPARTMENT_UNKNOWN"),
        (5, "sex", "SEX_MISMATCH"),
        (6, "birth_date", "DATE"),
        (7, "birth_date", "DATE_FUTURE"),
        (8, "regime", "REGIME"),
        (9, "family_name", "NAME_EMPTY"),
        (10, "", "FIELD_COUNT"),
        (11, "", "ENCODING"),
    ]
    assert registered(db, LEO_BENEFICIARY.identity.ins) is None
    with db.read() as conn:
        assert count_beneficiaries(conn) == 2


def test_a_second_run_refreshes_the_registry_without_duplicating_anyone(
    db: Database, tmp_path: Path
) -> None:
    run(db, write(tmp_path, [registry_line(ALICE_BENEFICIARY)]))
    moved = replace(ALICE_BENEFICIARY, department="13")
    renamed = replace(moved, identity=replace(ALICE, family_name="Martin-Durand"))
    run(db, write(tmp_path, [registry_line(renamed), registry_line(LEO_BENEFICIARY)]))
    assert registered(db, ALICE.ins) == renamed  # the registry is the insurer's truth
    with db.read() as conn:
        assert count_beneficiaries(conn) == 2


@pytest.mark.parametrize("batch_size", [10_000, 1])
def test_a_person_listed_twice_keeps_the_last_line(
    db: Database, tmp_path: Path, batch_size: int
) -> None:
    moved = replace(ALICE_BENEFICIARY, department="2B")
    path = write(tmp_path, [registry_line(ALICE_BENEFICIARY), registry_line(moved)])
    summary = run(db, path, batch_size)
    assert summary.rejected == 0
    assert registered(db, ALICE.ins) == moved


def test_a_registry_file_lacking_a_column_is_a_file_error(db: Database, tmp_path: Path) -> None:
    path = write(
        tmp_path, [registry_line(ALICE_BENEFICIARY)], REGISTRY_HEADER.replace(",regime", "")
    )
    with pytest.raises(CsvFileError, match="regime"):
        run(db, path)
    assert registered(db, ALICE.ins) is None
