"""The pipelined import path (chunks checked while earlier batches are stored) gives
exactly what the domain decides line by line, however the file is cut: same records,
same rejects, same statistics."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from dmp.domain.identity import ins_key, make_finess
from dmp.domain.stats import make_openings_query
from dmp.feeds.csvsource import CsvSource, Rejection
from dmp.feeds.records.parser import COLUMNS, parse_and_prepare
from dmp.feeds.records.runner import import_records_file
from dmp.services import stats
from dmp.services.context import system_ctx
from dmp.storage.db import Database
from dmp.storage.migrate import upgrade

NOW = datetime(2019, 1, 1, tzinfo=UTC)
HEADER = "ins,family_name,given_names,birth_date,sex,department,opened_at,channel,opened_by\n"


def legacy_file(path: Path, n: int) -> Path:
    """n lines, every 97th one broken in a different way; a few quoted names."""
    lines = [HEADER.encode()]
    for i in range(n):
        born = date(1940, 1, 1) + timedelta(days=7 * i)
        first13 = f"1{born.year % 100:02d}{born.month:02d}75{i % 1000:03d}{i // 1000:03d}"
        ins = first13 + ins_key(first13)
        opened = datetime(2018, 11, 6, 8, tzinfo=UTC) + timedelta(minutes=7 * i)
        finess = make_finess(f"750000{i % 50:02d}")
        name = '"Martin, dit Jean"' if i % 101 == 7 else "Martin"
        line = f"{ins},{name},Jean,{born},M,75,{opened.isoformat()},pharmacy,{finess}\n"
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


def line_by_line(path: Path) -> tuple[int, list[tuple[int, str]]]:
    """What the domain decides, one line at a time: (lines kept, [(line, code)] rejected)."""
    kept, rejected = 0, []
    for item in CsvSource(path, COLUMNS):
        judged = item if isinstance(item, Rejection) else parse_and_prepare(*item, NOW)
        if isinstance(judged, Rejection):
            rejected.append((judged.line, judged.code))
        else:
            kept += 1
    return kept, rejected


def test_small_chunks_and_batches_give_what_the_domain_decides_line_by_line(
    db: Database, tmp_path: Path
) -> None:
    """One chunk and big batches into a fresh SQLite file; many chunks and small batches
    into each kind of database."""
    source = legacy_file(tmp_path / "legacy.csv", 3000)
    results = []
    for block_size, batch_size in ((1 << 22, 10_000), (4096, 500)):
        whole = block_size > source.stat().st_size
        target = fresh_db(tmp_path / "whole.sqlite3") if whole else db
        rejects = tmp_path / f"rejects{block_size}.csv"
        summary = import_records_file(
            target,
            system_ctx(NOW),
            source,
            rejects,
            batch_size=batch_size,
            show_progress=False,
            block_size=block_size,
        )
        report = stats.openings(target, make_openings_query(None, date(2019, 1, 1), "day"))
        results.append(
            (summary.read, summary.inserted, summary.rejected, rejects.read_text(), report.groups)
        )
        if whole:
            target.dispose()
    assert results[0] == results[1]
    read, inserted, rejected, reject_text, _ = results[0]
    kept, by_domain = line_by_line(source)
    assert (read, inserted, rejected) == (3000, kept, len(by_domain))
    assert rejected == 3 * 31  # lines 5, 50 and 80 of each run of 97
    rows = [row.split(",") for row in reject_text.splitlines()[1:]]
    assert [(int(r[0]), r[2]) for r in rows] == sorted(by_domain)
    assert reject_text.count("INS_KEY") == 31
    assert reject_text.count("DEPARTMENT_UNKNOWN") == 31
    assert reject_text.count("ENCODING") == 31
