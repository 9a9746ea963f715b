"""`dmp import-records` end to end on SQLite and PostgreSQL: the legacy records file is
migrated, every good line kept, every bad line rejected with its line number, field and
reason, a rerun adds nothing, and the opening rollups count exactly what was inserted
(issue 2; RULES R1, R2)."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from dmp.domain.audit import SYSTEM_CHAIN
from dmp.domain.records import Record, RecordStatus, Source
from dmp.domain.stats import GroupBy, make_openings_query
from dmp.feeds.csvsource import CsvFileError
from dmp.feeds.records.runner import import_records_file
from dmp.feeds.runner import ImportSummary
from dmp.services import records, stats
from dmp.services.beneficiaries import load_beneficiaries_batch
from dmp.services.context import system_ctx
from dmp.services.retention import purge_expired
from dmp.storage import audit_log
from dmp.storage.db import Database
from dmp.storage.records import find_records, insert_record
from tests.personas import (
    ALICE,
    ALICE_BENEFICIARY,
    BOB,
    CLINIC,
    DR_BOB_RPPS,
    INSURER_OFFICE,
    LEGACY_HEADER,
    PHARMACY,
    legacy_line,
    numbered_identity,
)

NOW = datetime(2018, 12, 10, 12, 0, tzinfo=UTC)
CROWD = [numbered_identity(n) for n in range(1, 30)]


def write(tmp_path: Path, lines: list[str | bytes], name: str = "legacy.csv", **kw: str) -> Path:
    """A legacy file: the header, then `lines` (text is UTF-8 encoded, bytes are kept as is)."""
    eol = kw.get("eol", "\n").encode()
    header = kw.get("header", LEGACY_HEADER).encode()
    body = [x if isinstance(x, bytes) else x.encode() for x in lines]
    path = tmp_path / name
    path.write_bytes(kw.get("bom", "").encode() + eol.join([header, *body]) + eol)
    return path


def run(db: Database, path: Path, batch_size: int = 5000, now: datetime = NOW) -> ImportSummary:
    return import_records_file(
        db,
        system_ctx(now, "test"),
        path,
        path.with_suffix(".rejects.csv"),
        batch_size=batch_size,
        show_progress=False,
    )


def rejects_of(path: Path) -> list[tuple[int, str, str]]:
    """(line, field, code) of each line of the reject file, which must give a reason."""
    with path.with_suffix(".rejects.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert all(row["reason"] for row in rows)
    return sorted((int(row["line"]), row["field"], row["code"]) for row in rows)


def stored(db: Database, ins: list[str]) -> dict[str, Record]:
    with db.read() as conn:
        return find_records(conn, ins)


def openings_total(db: Database, by: str = "channel", channel: str | None = None) -> int:
    query = make_openings_query(None, date(2018, 12, 31), by, channel, cumulative=True)
    return stats.openings(db, query).total


GOOD = [
    legacy_line(CROWD[0], "69", "2018-11-06T09:30:00+01:00", "pharmacy", PHARMACY),
    legacy_line(CROWD[1], "75", "2018-11-06T23:30:00Z", "online", ""),
    legacy_line(CROWD[2], "2A", "2018-11-07T10:00:00+01:00", "establishment", CLINIC),
    legacy_line(CROWD[3], "971", "2018-11-20T08:00:00-04:00", "professional", DR_BOB_RPPS),
    legacy_line(CROWD[4], "13", "2016-05-02T14:00:00+02:00", "insurer", INSURER_OFFICE),
]


def bad_lines() -> list[tuple[str | bytes, str, str]]:
    """Each bad line, with the field and code its rejection must name."""
    p = CROWD[10:22]
    bad_key = p[1].ins[:13] + f"{(int(p[1].ins[13:]) % 97) + 1:02d}"
    return [
        ("1,2,3", "", "FIELD_COUNT"),
        (legacy_line(p[0]) + ",extra", "", "FIELD_COUNT"),
        (legacy_line(p[1]).replace(p[1].ins, bad_key), "ins", "INS_KEY"),
        (legacy_line(p[2]).replace("1970-01-15", "1970-01-32"), "birth_date", "DATE"),
        (legacy_line(p[3]).replace("1970-01-15", "15/01/1970"), "birth_date", "DATE"),
        (legacy_line(p[4]).encode().replace(b"Nom", b"N\xe9m"), "", "ENCODING"),
        (legacy_line(p[5], department="20"), "department", "DEPARTMENT_UNKNOWN"),
        (
            legacy_line(p[6], channel="pharmacy", opened_by=DR_BOB_RPPS),
            "opened_by",
            "FINESS_FORMAT",
        ),
        (legacy_line(p[7], channel="online", opened_by=PHARMACY), "opened_by", "OPENER"),
        (legacy_line(p[8], opened_at="2018-11-06T09:30:00"), "opened_at", "DATETIME_OFFSET"),
        (legacy_line(p[9], opened_at="2019-01-01T00:00:00+01:00"), "opened_at", "DATETIME_FUTURE"),
        (legacy_line(p[10]).replace(",F,", ",M,"), "sex", "SEX_MISMATCH"),
        (
            legacy_line(p[11], opened_at="1969-12-31T10:00:00+01:00"),
            "opened_at",
            "OPENED_BEFORE_BIRTH",
        ),
    ]


@pytest.mark.parametrize("batch_size", [5000, 3])
def test_good_lines_are_kept_and_each_bad_line_is_rejected_with_its_line_field_and_reason(
    db: Database, tmp_path: Path, batch_size: int
) -> None:
    bad = bad_lines()
    lines: list[str | bytes] = [*GOOD[:2], *(b[0] for b in bad), *GOOD[2:]]
    path = write(tmp_path, lines)
    summary = run(db, path, batch_size)
    assert (summary.read, summary.inserted, summary.already_present, summary.rejected) == (
        len(GOOD) + len(bad),
        len(GOOD),
        0,
        len(bad),
    )
    assert summary.rejects_path == path.with_suffix(".rejects.csv")
    # Lines 2–3 are good, the bad ones follow from line 4, in file order.
    assert rejects_of(path) == [(4 + i, field, code) for i, (_, field, code) in enumerate(bad)]
    kept = stored(db, [p.ins for p in CROWD])
    assert set(kept) == {p.ins for p in CROWD[:5]}
    assert all(r.status is RecordStatus.OPEN and r.source is Source.LEGACY for r in kept.values())


def test_a_migrated_record_keeps_the_legacy_opening_and_identity(
    db: Database, tmp_path: Path
) -> None:
    run(db, write(tmp_path, GOOD))
    record = stored(db, [CROWD[3].ins])[CROWD[3].ins]
    assert record.identity == CROWD[3]
    assert record.opening.opened_at == datetime(2018, 11, 20, 12, 0, tzinfo=UTC)
    assert (record.opening.channel.value, record.opening.opened_by) == (
        "professional",
        DR_BOB_RPPS,
    )
    assert record.opening.department == "971"
    assert record.consent_given_by is None  # collected by the legacy system
    online = stored(db, [CROWD[1].ins])[CROWD[1].ins]
    assert online.opening.opened_by is None


def test_a_migrated_record_is_stored_exactly_as_one_stored_by_itself(
    db: Database, tmp_path: Path
) -> None:
    """The bulk path writes each column as SQLAlchemy's types do (on SQLite, dates and
    times are text: the same text, or comparisons and sorting would go astray)."""
    run(db, write(tmp_path, [GOOD[3]]))
    record = stored(db, [CROWD[3].ins])[CROWD[3].ins]
    assert record.identity is not None
    twin_ins = CROWD[6].ins
    twin = replace(record, ins=twin_ins, identity=replace(record.identity, ins=twin_ins))
    with db.write() as conn:
        insert_record(conn, twin)
    with db.read() as conn:
        rows = conn.execute(
            text("SELECT * FROM record WHERE ins IN (:a, :b)"),
            {"a": record.ins, "b": twin_ins},
        ).mappings()
        raw = {row["ins"]: {k: v for k, v in row.items() if k != "ins"} for row in rows}
    assert raw[record.ins] == raw[twin_ins]


def test_a_second_run_of_the_same_file_adds_nothing_and_rejects_only_the_same_lines(
    db: Database, tmp_path: Path
) -> None:
    bad = bad_lines()
    path = write(tmp_path, [*GOOD, *(b[0] for b in bad)])
    first = run(db, path)
    first_rejects = rejects_of(path)
    second = run(db, path)
    assert (second.read, second.inserted, second.already_present, second.rejected) == (
        first.read,
        0,
        len(GOOD),
        len(bad),
    )
    assert rejects_of(path) == first_rejects
    assert openings_total(db) == len(GOOD)


@pytest.mark.parametrize("batch_size", [5000, 1])
def test_r1_the_same_ins_twice_with_different_content_rejects_the_second_as_a_conflict(
    db: Database, tmp_path: Path, batch_size: int
) -> None:
    who = CROWD[0]
    path = write(
        tmp_path,
        [
            legacy_line(who, department="69"),
            legacy_line(CROWD[1]),
            legacy_line(who, department="13"),  # same INS, another department
            legacy_line(replace(who, family_name="Autre")),  # same INS, another name
        ],
    )
    summary = run(db, path, batch_size)
    assert (summary.inserted, summary.already_present, summary.rejected) == (2, 0, 2)
    assert rejects_of(path) == [(4, "ins", "RECORD_EXISTS"), (5, "ins", "RECORD_EXISTS")]
    assert stored(db, [who.ins])[who.ins].opening.department == "69"  # the first line won
    assert openings_total(db) == 2


def test_the_same_line_twice_in_a_file_is_stored_once(db: Database, tmp_path: Path) -> None:
    path = write(tmp_path, [GOOD[0], GOOD[0]])
    summary = run(db, path)
    assert (summary.inserted, summary.already_present, summary.rejected) == (1, 1, 0)
    assert openings_total(db) == 1


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (LEGACY_HEADER.replace(",opened_by", ""), "lacks column"),
        (LEGACY_HEADER.replace("ins,", "nir,"), "lacks column"),
        ("", "empty"),
    ],
)
def test_a_header_lacking_a_column_is_a_file_error_and_nothing_is_stored(
    db: Database, tmp_path: Path, header: str, message: str
) -> None:
    path = write(tmp_path, GOOD, header=header)
    with pytest.raises(CsvFileError, match=message):
        run(db, path)
    assert stored(db, [p.ins for p in CROWD]) == {}
    assert not path.with_suffix(".rejects.csv").exists()


def test_an_empty_file_is_a_file_error(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(CsvFileError, match="empty"):
        run(db, path)


def test_a_file_with_only_the_header_imports_nothing_and_writes_no_rejects(
    db: Database, tmp_path: Path
) -> None:
    path = write(tmp_path, [])
    summary = run(db, path)
    assert (summary.read, summary.inserted, summary.rejected) == (0, 0, 0)
    assert summary.rejects_path is None
    assert not path.with_suffix(".rejects.csv").exists()


def test_a_bom_crlf_line_endings_and_a_quoted_field_with_a_comma_are_read(
    db: Database, tmp_path: Path
) -> None:
    who = replace(CROWD[0], given_names="Marie, Anne")
    quoted = legacy_line(who).replace("Marie, Anne", '"Marie, Anne"')
    path = write(tmp_path, [quoted, GOOD[1]], bom="\ufeff", eol="\r\n")
    summary = run(db, path)
    assert (summary.inserted, summary.rejected) == (2, 0)
    assert stored(db, [who.ins])[who.ins].identity == who


def test_nothing_already_stored_is_lost_after_rejected_and_conflicting_lines(
    db: Database, tmp_path: Path
) -> None:
    # Already stored: five migrated records, and Alice's record opened here then closed.
    run(db, write(tmp_path, GOOD, name="first.csv"))
    load_beneficiaries_batch(db, system_ctx(NOW, "test"), [ALICE_BENEFICIARY], "test")
    records.open_record(
        db,
        system_ctx(NOW, "test"),
        records.OpenRequest(ALICE.ins, "pharmacy", PHARMACY, "holder", True),
    )
    records.close_record(db, system_ctx(NOW, "test"), ALICE.ins, "holder", "je pars")
    everyone = [ALICE.ins, *(p.ins for p in CROWD)]
    before = stored(db, everyone)
    rollup_before = {by.value: openings_total(db, by.value) for by in GroupBy}

    # A later file: every kind of bad line, and lines contradicting what is stored.
    bad = [b[0] for b in bad_lines()]
    contradicting = [
        legacy_line(CROWD[0], department="13"),
        legacy_line(replace(CROWD[1], given_names="Autre")),
        legacy_line(ALICE, department="75"),  # a record opened here (and closed)
    ]
    path = write(tmp_path, [*bad, *contradicting, legacy_line(CROWD[5])], name="second.csv")
    summary = run(db, path)

    assert (summary.inserted, summary.rejected) == (1, len(bad) + len(contradicting))
    after = stored(db, everyone)
    assert {ins: after[ins] for ins in before} == before  # unchanged, none lost
    assert after[CROWD[5].ins].status is RecordStatus.OPEN
    assert after[ALICE.ins].status is RecordStatus.CLOSED
    assert rejects_of(path)[-3:] == [
        (len(bad) + 2, "ins", "RECORD_EXISTS"),
        (len(bad) + 3, "ins", "RECORD_EXISTS"),
        (len(bad) + 4, "ins", "RECORD_EXISTS"),
    ]
    for by, total in rollup_before.items():
        assert openings_total(db, by) == total + 1


def test_the_rollups_count_exactly_the_inserted_records(db: Database, tmp_path: Path) -> None:
    path = write(tmp_path, [*GOOD, GOOD[0], *(b[0] for b in bad_lines())])
    summary = run(db, path, batch_size=4)
    assert summary.inserted == len(GOOD)
    for by in GroupBy:
        assert openings_total(db, by.value) == len(GOOD), by
    q = make_openings_query(None, date(2018, 12, 31), "channel", cumulative=True)
    assert {g.key: g.count for g in stats.openings(db, q).groups} == {
        "pharmacy": 1,
        "online": 1,
        "establishment": 1,
        "professional": 1,
        "insurer": 1,
    }
    q = make_openings_query(None, date(2018, 12, 31), "department", cumulative=True)
    assert {g.key for g in stats.openings(db, q).groups} == {"69", "75", "2A", "971", "13"}
    q = make_openings_query(None, date(2018, 12, 31), "opener", cumulative=True)
    assert {g.key for g in stats.openings(db, q).groups} == {
        PHARMACY,
        "online",
        CLINIC,
        DR_BOB_RPPS,
        INSURER_OFFICE,
    }


def test_openings_are_counted_on_their_local_day_in_paris(db: Database, tmp_path: Path) -> None:
    """23:30 UTC on 6 November 2018 is 00:30 on the 7th in Paris; 08:00 at UTC−4 is noon UTC."""
    run(db, write(tmp_path, GOOD))
    q = make_openings_query(date(2018, 11, 6), date(2018, 11, 30), "day")
    assert [(g.key, g.count) for g in stats.openings(db, q).groups if g.count] == [
        ("2018-11-06", 1),
        ("2018-11-07", 2),
        ("2018-11-20", 1),
    ]


def test_a_legacy_record_does_not_need_the_registry(db: Database, tmp_path: Path) -> None:
    """Migrated records already exist: eligibility was checked by the legacy system."""
    summary = run(db, write(tmp_path, [legacy_line(BOB, department="2A")]))
    assert summary.inserted == 1


def test_the_import_is_traced_once_per_batch(db: Database, tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    run(db, path, batch_size=2)
    with db.read() as conn:
        events = [e.event_json for c, e in audit_log.all_links(conn) if c == SYSTEM_CHAIN]
    imports = [e for e in events if '"records.import"' in e]
    assert len(imports) == 3
    assert all('"source":"legacy.csv"' in e for e in imports)


def test_every_line_read_is_counted_once_even_for_a_purged_record(
    db: Database, tmp_path: Path
) -> None:
    """A legacy line whose INS only has a purge tombstone must be inserted or rejected,
    never silently dropped: read = inserted + already present + rejected."""
    load_beneficiaries_batch(db, system_ctx(NOW, "test"), [ALICE_BENEFICIARY], "test")
    records.open_record(
        db,
        system_ctx(NOW, "test"),
        records.OpenRequest(ALICE.ins, "online", None, "holder", True),
    )
    records.close_record(db, system_ctx(NOW, "test"), ALICE.ins, "holder", "je pars")
    later = datetime(2029, 1, 2, 9, 0, tzinfo=UTC)
    assert len(purge_expired(db, system_ctx(later, "test"), later.date())) == 1
    path = write(tmp_path, [legacy_line(ALICE, department="75"), GOOD[0]])
    summary = run(db, path, now=later)
    assert summary.read == summary.inserted + summary.already_present + summary.rejected


def test_a_clean_run_after_a_fixed_file_leaves_no_stale_reject_file(
    db: Database, tmp_path: Path
) -> None:
    """The reject file describes the last run: a leftover one would send the operator
    chasing lines that were fixed and imported."""
    bad = legacy_line(CROWD[6], department="20")
    path = write(tmp_path, [GOOD[0], bad])
    assert run(db, path).rejected == 1
    assert path.with_suffix(".rejects.csv").exists()
    write(tmp_path, [GOOD[0], legacy_line(CROWD[6], department="69")])
    summary = run(db, path)
    assert (summary.inserted, summary.already_present, summary.rejected) == (1, 1, 0)
    assert not path.with_suffix(".rejects.csv").exists()


def test_batches_commit_in_the_order_of_the_file(db: Database, tmp_path: Path) -> None:
    """On PostgreSQL two batches are stored at once (services/batches.Turn): their audit
    events must still follow the file, batch after batch."""
    path = write(tmp_path, [legacy_line(who) for who in CROWD[:12]])
    run(db, path, batch_size=1)
    with db.read() as conn:
        events = [e.event_json for c, e in audit_log.all_links(conn) if c == SYSTEM_CHAIN]
    firsts = [json.loads(e)["detail"]["lines"][0] for e in events if '"records.import"' in e]
    assert firsts == list(range(2, 14))


def _refuse_openings_in(db: Database, department: str) -> None:
    """The database refuses to count an opening in `department`, as a full disk or a lost
    connection would refuse a batch: a failure in the middle of an import, once the
    batch's records are in. PostgreSQL takes a moment first, so that the next batch,
    stored at the same time, is surely under way."""
    with db.write() as conn:
        if db.is_sqlite:
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON openings_daily "
                f"WHEN NEW.department = '{department}' "
                "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN PERFORM pg_sleep(0.5); RAISE EXCEPTION 'refused by the test'; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON openings_daily FOR EACH ROW "
                f"WHEN (NEW.department = '{department}') EXECUTE FUNCTION refuse()"
            )


def test_a_batch_that_fails_stops_the_import_and_the_batches_before_it_are_kept(
    db: Database, tmp_path: Path
) -> None:
    """Batches of 2: the third fails in the database. The first two stay stored with their
    rollups and audit events; the fourth, stored at the same time on PostgreSQL, gives
    up; nothing after is stored. Once the cause is gone, a rerun stores the rest."""
    people = CROWD[:10]
    lines = [legacy_line(who, department="2B" if who == people[4] else "69") for who in people]
    path = write(tmp_path, lines)
    _refuse_openings_in(db, "2B")
    with pytest.raises(Exception, match="refused by the test"):
        run(db, path, batch_size=2)
    kept = stored(db, [who.ins for who in people])
    assert sorted(kept) == sorted(who.ins for who in people[:4])
    assert openings_total(db) == 4
    with db.read() as conn:
        events = [e.event_json for c, e in audit_log.all_links(conn) if c == SYSTEM_CHAIN]
    assert len([e for e in events if '"records.import"' in e]) == 2

    drop = "DROP TRIGGER refuse" + ("" if db.is_sqlite else " ON openings_daily")
    with db.write() as conn:
        conn.exec_driver_sql(drop)
    summary = run(db, path, batch_size=2)
    assert (summary.inserted, summary.already_present, summary.rejected) == (6, 4, 0)
    assert openings_total(db) == 10
