"""The parallel import path (worker processes, many blocks) gives exactly what the
sequential path gives: same records, same rejects, same statistics."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from dmp.domain.identity import ins_key, make_finess
from dmp.domain.stats import make_openings_query
from dmp.feeds.records.runner import import_records_file
from dmp.services import stats
from dmp.services.context import system_ctx
from dmp.storage.db import Database
from dmp.storage.migrate import upgrade

NOW = datetime(2019, 1, 1, tzinfo=UTC)
HEADER = "ins,family_name,given_names,birth_date,sex,department,opened_at,channel,opened_by\n"


def legacy_file(path: Path, n: int) -> Path:
    """n lines, every 97th one broken in a different way."""
    lines = [HEADER.encode()]
    for i in range(n):
        born = date(1940, 1, 1) + timedelta(days=7 * i)
        first13 = f"1{born.year % 100:02d}{born.month:02d}75{i % 1000:03d}{i // 1000:03d}"
        ins = first13 + ins_key(first13)
        opened = datetime(2018, 11, 6, 8, tzinfo=UTC) + timedelta(minutes=7 * i)
        finess = make_finess(f"750000{i % 50:02d}")
        line = f"{ins},Martin,Jean,{born},M,75,{opened.isoformat()},pharmacy,{finess}\n"
        if i % 97 == 5:
            line = line.replace(ins, ins[:13] + ("00" if ins[13:] != "00" else "01"))
        elif i % 97 == 50:
            line = line.replace(",75,", ",20,")
        raw = line.encode()
        if i % 97 == 80:
            raw = raw.replace(b"Martin", b"Mart\xefn")  # Latin-1, not UTF-8
        lines.append(raw)
    path.write_bytes(b"".join(lines))
    return path


def fresh_db(path: Path) -> Database:
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    return db


def test_parallel_and_sequential_imports_agree(db: Database, tmp_path: Path) -> None:
    """Sequential into a fresh SQLite file; parallel into each kind of database (its
    batches are big enough for PostgreSQL's COPY paths, records and rollups)."""
    source = legacy_file(tmp_path / "legacy.csv", 3000)
    results = []
    for workers in (0, 2):
        target = fresh_db(tmp_path / "sequential.sqlite3") if workers == 0 else db
        rejects = tmp_path / f"rejects{workers}.csv"
        summary = import_records_file(
            target,
            system_ctx(NOW),
            source,
            rejects,
            batch_size=500,
            show_progress=False,
            workers=workers,
            block_size=4096,
        )
        report = stats.openings(target, make_openings_query(None, date(2019, 1, 1), "day"))
        results.append(
            (summary.read, summary.inserted, summary.rejected, rejects.read_text(), report.groups)
        )
        if workers == 0:
            target.dispose()
    assert results[0] == results[1]
    read, inserted, rejected, reject_text, _ = results[0]
    assert read == 3000
    assert rejected == 3 * 31  # lines 5, 50 and 80 of each run of 97
    assert inserted == read - rejected
    assert reject_text.count("INS_KEY") == 31
    assert reject_text.count("DEPARTMENT_UNKNOWN") == 31
    assert reject_text.count("ENCODING") == 31
