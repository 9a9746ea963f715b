"""`dmp import-claims` on SQLite and PostgreSQL (issue 5; RULES R5, R16): every bad line
rejected with its line, field and reason; a rerun is a no-op; a re-sent claim_id with
other content is a conflict and the stored line is kept; unknown beneficiaries and lines
older than 24 months are skipped and counted; an interrupted import resumes with no
line lost and none twice; CSV, gzip and Parquet give the same result."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
import zlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select

from dmp.domain.claims import COLUMNS
from dmp.domain.time import local_date
from dmp.feeds.synthetic.claims import BAD_KINDS, write_claims
from dmp.storage.db import Database
from dmp.storage.schema import audit_event, claim, claim_import
from tests.feeds.claims_files import (
    FIRST_DAY,
    TODAY,
    registry,
    rejected,
    rejects_of,
    run,
    synthetic_registry,
    write,
)
from tests.feeds.claims_files import (
    claim as line,
)
from tests.personas import ALICE, BOB, LEO, ZOE

SEED = 5


def stored(db: Database) -> dict[str, tuple[str, str, int]]:
    with db.read() as conn:
        rows = conn.execute(select(claim.c.claim_id, claim.c.ins, claim.c.code, claim.c.quantity))
        return {r[0]: (r[1], r[2], r[3]) for r in rows}


def claims_count(db: Database) -> int:
    with db.read() as conn:
        return int(conn.scalar(select(func.count()).select_from(claim)) or 0)


def test_r5_every_kind_of_bad_line_is_rejected_with_its_line_field_and_code(
    db: Database, tmp_path: Path
) -> None:
    synthetic_registry(db, tmp_path, SEED, 300)
    path = tmp_path / "claims.csv"
    write_claims(path, SEED, 300, 3000, TODAY, bad=2 * len(BAD_KINDS))
    summary = run(db, path, block_size=16_384)
    codes = Counter(code for _, _, code in rejected(path))
    expected = Counter(code for _, code in BAD_KINDS if code.isupper() and code != "CLAIM_CONFLICT")
    assert codes - Counter({"CLAIM_CONFLICT": 2}) == expected + expected
    assert summary.counts["conflicts"] == codes["CLAIM_CONFLICT"] == 2
    assert summary.counts["rejected"] == sum(expected.values()) * 2
    assert summary.counts["duplicates"] == 2
    assert summary.counts["read"] == 3000 + 2 * len(BAD_KINDS)
    kept = summary.counts["inserted"]
    assert kept == claims_count(db) > 2000
    assert (
        summary.counts["unknown"]
        + summary.counts["outside"]
        + kept
        + 2
        + 2
        + sum(expected.values()) * 2
        == summary.counts["read"]
    )
    assert summary.failed
    assert summary.rejects_path == rejects_of(path)
    lines = [n for n, _, _ in rejected(path)]
    assert lines == sorted(set(lines))


def test_r5_a_rerun_stores_nothing_twice_and_counts_duplicates(
    db: Database, tmp_path: Path
) -> None:
    registry(db)
    path = write(tmp_path, [line(f"A{n}", ALICE.ins) for n in range(10)])
    first = run(db, path)
    assert (first.counts["inserted"], first.failed, first.rejects_path) == (10, False, None)
    again = run(db, path)
    assert (again.counts["inserted"], again.counts["duplicates"]) == (0, 10)
    assert claims_count(db) == 10
    assert not rejects_of(path).exists()


def test_r5_a_resent_claim_with_other_content_is_a_conflict_and_the_stored_line_stays(
    db: Database, tmp_path: Path
) -> None:
    registry(db)
    run(db, write(tmp_path, [line("C1", ALICE.ins), line("C2", BOB.ins)], "first.csv"))
    later = write(
        tmp_path,
        [
            line("C1", ALICE.ins, quantity="5"),  # conflict: quantity
            line("C2", BOB.ins),  # duplicate
            line("C3", LEO.ins),
            line("C3", LEO.ins),  # the same line twice in a file: a duplicate
            line("C3", LEO.ins, code="3400930000015"),  # rejected: bad CIP13 key
            line("C3", ALICE.ins),  # conflict within the file: ins
        ],
        "second.csv",
    )
    summary = run(db, later)
    assert {k: summary.counts[k] for k in ("inserted", "duplicates", "conflicts", "rejected")} == {
        "inserted": 1,
        "duplicates": 2,
        "conflicts": 2,
        "rejected": 1,
    }
    assert rejected(later) == [
        (2, "quantity", "CLAIM_CONFLICT"),
        (6, "code", "CODE_NOMENCLATURE"),
        (7, "ins", "CLAIM_CONFLICT"),
    ]
    assert stored(db)["C1"] == (ALICE.ins, "3400933516390", 2)


def test_text_that_reads_like_a_null_is_kept_as_written(db: Database, tmp_path: Path) -> None:
    """Only an empty field is absent: "NA", "null" or "N/A" are text like any other."""
    registry(db)
    lines = [
        line("N1", ALICE.ins, label="NA", performer_name="N/A"),
        line("N2", BOB.ins, label='"null"', performer_name="NULL"),
    ]
    summary = run(db, write(tmp_path, lines))
    assert (summary.counts["inserted"], summary.counts["rejected"]) == (2, 0)
    with db.read() as conn:
        rows = conn.execute(select(claim.c.claim_id, claim.c.label, claim.c.performer_name))
        kept = {r[0]: (r[1], r[2]) for r in rows}
    assert kept == {"N1": ("NA", "N/A"), "N2": ("null", "NULL")}


def test_r5_lines_of_people_outside_the_registry_are_skipped_and_counted(
    db: Database, tmp_path: Path
) -> None:
    registry(db)
    summary = run(db, write(tmp_path, [line("Z1", ZOE.ins), line("A1", ALICE.ins)]))
    assert (summary.counts["unknown"], summary.counts["inserted"], summary.failed) == (1, 1, False)
    assert set(stored(db)) == {"A1"}


def test_r5_the_window_keeps_24_months_of_paris_days_on_both_sides_of_the_boundary(
    db: Database, tmp_path: Path
) -> None:
    registry(db)
    day = timedelta(days=1)
    path = write(
        tmp_path,
        [
            line("W1", ALICE.ins, FIRST_DAY.isoformat()),  # the first day: kept
            line("W2", ALICE.ins, (FIRST_DAY - day).isoformat()),  # the day before: not kept
            line("W3", ALICE.ins, TODAY.isoformat()),  # today in Paris (still the 15th in UTC)
            line("W4", ALICE.ins, (TODAY + day).isoformat()),  # tomorrow: an error
        ],
    )
    summary = run(db, path)
    assert set(stored(db)) == {"W1", "W3"}
    assert summary.counts["outside"] == 1
    assert rejected(path) == [(5, "care_date", "CARE_DATE_FUTURE")]


def test_r16_the_import_is_traced_once_per_batch_with_its_counts(
    db: Database, tmp_path: Path
) -> None:
    registry(db)
    path = write(tmp_path, [line(f"B{n:03d}", ALICE.ins) for n in range(60)])
    summary = run(db, path, block_size=2048)
    with db.read() as conn:
        events = [
            json.loads(e)
            for e in conn.scalars(
                select(audit_event.c.event).where(audit_event.c.action == "claims.import")
            )
        ]
    assert len(events) == summary.batches > 3
    assert sum(e["detail"]["inserted"] for e in events) == 60
    assert all(e["record_ins"] is None for e in events)  # the system chain, not per line


class Stop(Exception):
    pass


def test_r5_an_import_interrupted_after_a_batch_resumes_with_no_loss_and_no_duplicate(
    db: Database, tmp_path: Path
) -> None:
    synthetic_registry(db, tmp_path, SEED, 200)
    path = tmp_path / "claims.csv"
    write_claims(path, SEED, 200, 2000, TODAY, bad=len(BAD_KINDS))
    clean_db_counts = _clean_counts(tmp_path, path)

    def crash(batches: int) -> None:
        if batches == 3:
            raise Stop

    with pytest.raises(Stop):
        run(db, path, block_size=16_384, after_batch=crash)
    with db.read() as conn:
        halfway = conn.execute(select(claim_import.c.line, claim_import.c.finished_at)).one()
    assert halfway.finished_at is None
    assert halfway.line > 1
    resumed = run(db, path, block_size=16_384)
    assert resumed.resumed_after == halfway.line
    assert resumed.counts == clean_db_counts[0]
    assert sorted(rejected(path)) == clean_db_counts[1]
    assert claims_count(db) == resumed.counts["inserted"]


def _clean_counts(tmp_path: Path, path: Path) -> tuple[dict[str, int], list[tuple[int, str, str]]]:
    """What one uninterrupted run gives, on a database of its own (SQLite)."""
    from dmp.storage.migrate import upgrade

    other = Database(f"sqlite:///{tmp_path / 'clean.sqlite3'}")
    upgrade(other)
    synthetic_registry(other, tmp_path, SEED, 200)
    copy = tmp_path / "clean" / path.name
    copy.parent.mkdir()
    copy.write_bytes(path.read_bytes())
    summary = run(other, copy, block_size=16_384)
    other.dispose()
    return summary.counts, sorted(rejected(copy))


def test_r5_an_import_killed_mid_file_resumes_with_no_loss_and_no_duplicate(
    db: Database, tmp_path: Path
) -> None:
    synthetic_registry(db, tmp_path, SEED, 500)
    path = tmp_path / "claims.csv"
    now = datetime.now(UTC)  # the child process reads the clock: so does this test
    write_claims(path, SEED, 500, 30_000, local_date(now), bad=40)
    env = {
        **os.environ,
        "DMP_DATABASE_URL": db.url.render_as_string(hide_password=False),
        "DMP_DATA_DIR": str(tmp_path / "var"),
    }
    command = [str(Path(sys.executable).parent / "dmp"), "import-claims", str(path)]
    child = subprocess.Popen(
        [*command, "--block-size", "8192", "--no-progress"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with db.read() as conn:
                done = conn.scalar(select(claim_import.c.line))
            if done and done > 3000:
                break
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(30)
    with db.read() as conn:
        at_kill = conn.execute(select(claim_import.c.line, claim_import.c.finished_at)).one()
    assert at_kill.finished_at is None, "the import ended before it could be killed"
    resumed = run(db, path, block_size=8192, now=now)
    assert resumed.resumed_after is not None
    assert resumed.resumed_after >= at_kill.line
    assert resumed.counts["read"] == 30_040
    assert claims_count(db) == resumed.counts["inserted"]
    again = run(db, path, block_size=1 << 20, now=now)  # once more: all duplicates
    assert again.counts["inserted"] == 0
    assert again.counts["duplicates"] == resumed.counts["inserted"] + resumed.counts["duplicates"]


def test_gzip_and_parquet_files_give_what_the_csv_gives(db: Database, tmp_path: Path) -> None:
    registry(db)
    lines = [line(f"P{n}", ALICE.ins, quantity=str(1 + n % 3)) for n in range(20)]
    lines.append(line("P99", ALICE.ins, quantity="0"))  # rejected
    csv_path = write(tmp_path, lines)
    gz_path = tmp_path / "claims.csv.gz"
    gz_path.write_bytes(gzip.compress(csv_path.read_bytes()))
    table = pa_csv.read_csv(
        csv_path,
        convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(COLUMNS, pa.string())),
    )
    pq_path = tmp_path / "claims.parquet"
    pq.write_table(table, pq_path, row_group_size=7)
    first = run(db, csv_path)
    assert first.counts["inserted"] == 20
    for other in (gz_path, pq_path):
        summary = run(db, other, block_size=1024)
        assert summary.counts["duplicates"] == 20
        assert summary.counts["rejected"] == 1
        assert rejected(other) == rejected(csv_path) == [(22, "quantity", "QUANTITY")]


def test_a_quoted_line_break_or_bad_bytes_fall_back_to_line_by_line_parsing(
    db: Database, tmp_path: Path
) -> None:
    registry(db)
    path = write(
        tmp_path,
        [
            line("Q1", ALICE.ins, label='"deux\nlignes"'),  # a label spanning lines 2-3
            line("Q2", ALICE.ins).encode().replace(b"Dupont", b"Dupr\xe9"),
            line("Q3", ALICE.ins) + ",extra",
            "",
            line("Q4", ALICE.ins),
        ],
    )
    summary = run(db, path)
    assert rejected(path) == [
        (2, "label", "CONTROL_CHARACTER"),  # read whole, then refused: a label is one line
        (4, "", "ENCODING"),
        (5, "", "FIELD_COUNT"),
    ]
    assert set(stored(db)) == {"Q4"}
    assert summary.counts["read"] == 4


def _committed(db: Database) -> tuple[int, dict[str, int]]:
    with db.read() as conn:
        row = conn.execute(select(claim_import)).one()._mapping
    return row["line"], {k: row[k] for k in ("read", "inserted")}


def test_r5_a_batch_that_fails_to_store_stops_the_import_and_a_rerun_resumes_after_it(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer thread's failure reaches the caller (no hang, no later batch stored)."""
    from dmp.feeds.claims import runner

    synthetic_registry(db, tmp_path, SEED, 200)
    path = tmp_path / "claims.csv"
    write_claims(path, SEED, 200, 2000, TODAY)
    clean_counts, _ = _clean_counts(tmp_path, path)
    real, calls = runner.store_batch, []

    def failing(*args: object) -> object:
        calls.append(1)
        if len(calls) == 3:
            raise Stop
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(runner, "store_batch", failing)
    with pytest.raises(Stop):
        run(db, path, block_size=16_384)
    # The reader did not go on past the failure: on PostgreSQL the batch after it, being
    # stored at the same time (feeds/claims/runner.py), gave up and stored nothing.
    assert len(calls) == (3 if db.is_sqlite else 4)
    line, counts = _committed(db)
    assert counts["inserted"] == claims_count(db) > 0
    monkeypatch.setattr(runner, "store_batch", real)
    resumed = run(db, path, block_size=16_384)
    assert resumed.resumed_after == line
    assert resumed.counts == clean_counts
    assert claims_count(db) == clean_counts["inserted"]


def test_r5_a_gzip_file_cut_short_stops_with_a_clear_error_and_keeps_the_batches_before(
    db: Database, tmp_path: Path
) -> None:
    """A read failure mid-file (the reading side of the pipeline) surfaces as a file
    error once the batch being stored is committed; nothing is half stored."""
    from dmp.feeds.csvsource import CsvFileError

    synthetic_registry(db, tmp_path, SEED, 200)
    plain = tmp_path / "claims.csv"
    write_claims(plain, SEED, 200, 3000, TODAY)
    whole = gzip.compress(plain.read_bytes())
    cut = tmp_path / "claims.csv.gz"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    with pytest.raises(CsvFileError, match="unreadable after byte"):
        run(db, cut, block_size=16_384)
    line, counts = _committed(db)
    # What the cut file still holds whole: its complete lines, the header being line 1.
    readable = zlib.decompressobj(wbits=31).decompress(cut.read_bytes())
    whole_lines = readable.count(b"\n")
    assert whole_lines < 3001  # the cut took lines away
    assert 1 < line <= whole_lines  # batches were committed, none past the cut
    assert counts["inserted"] == claims_count(db) > 0
    ids_before_cut = {row.split(b",", 1)[0].decode() for row in readable.splitlines()[1:line]}
    with db.read() as conn:
        stored = set(conn.scalars(select(claim.c.claim_id)))
    assert stored <= ids_before_cut


def test_r5_a_second_claims_import_waits_for_the_one_running(
    pg_db: Database, tmp_path: Path
) -> None:
    """PostgreSQL's imports store two batches at once, so the table is no longer locked
    per batch: a whole import holds the lock of claims imports, and another one (here a
    second file) starts only once it is over. Readers never wait."""
    from dmp.services.claims_import import one_import_at_a_time

    registry(pg_db)
    path = write(tmp_path, [line("W1", ALICE.ins), line("W2", BOB.ins)])
    done: list[object] = []
    with one_import_at_a_time(pg_db):  # an import under way, as far as the lock goes
        second = threading.Thread(target=lambda: done.append(run(pg_db, path)), daemon=True)
        second.start()
        second.join(0.5)
        assert second.is_alive()
        assert claims_count(pg_db) == 0
        with pg_db.read() as conn:
            assert conn.scalar(select(func.count()).select_from(claim_import)) == 0
    second.join(30)
    assert not second.is_alive()
    assert claims_count(pg_db) == 2
    assert len(done) == 1
