"""The synthetic launch: every line passes the real parsers, seeds are reproducible,
broken lines are refused with their code, and the data look like November 2018."""

from __future__ import annotations

import csv
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from itertools import islice
from pathlib import Path

import pytest

from dmp.domain.geography import departments, regions
from dmp.domain.identity import check_identity_consistency, parse_finess, parse_ins
from dmp.domain.people import is_minor
from dmp.domain.records import Channel
from dmp.domain.time import local_date
from dmp.feeds.beneficiaries import parser as beneficiaries_parser
from dmp.feeds.csvsource import Rejection
from dmp.feeds.records import parser as records_parser
from dmp.feeds.records.runner import import_records_file
from dmp.feeds.synthetic.bad_lines import KINDS
from dmp.feeds.synthetic.files import (
    BENEFICIARY_COLUMNS,
    RECORD_COLUMNS,
    beneficiary_rows,
    record_lines,
    record_rows,
    write_beneficiaries,
    write_records,
)
from dmp.feeds.synthetic.ins import InsAllocator
from dmp.feeds.synthetic.launch import LAST_DAY, LAUNCH, launch_openings
from dmp.feeds.synthetic.population import DEPARTMENT_POPULATION, people
from dmp.services.context import system_ctx
from dmp.storage.db import Database

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def test_the_files_have_the_importers_columns() -> None:
    assert BENEFICIARY_COLUMNS == beneficiaries_parser.COLUMNS
    assert RECORD_COLUMNS == records_parser.COLUMNS


def test_every_registry_line_passes_the_real_parser() -> None:
    for n, fields in enumerate(beneficiary_rows(1, 5_000), start=2):
        row = dict(zip(BENEFICIARY_COLUMNS, fields, strict=True))
        parsed = beneficiaries_parser.parse_line(n, row, NOW.date())
        assert not isinstance(parsed, Rejection), (fields, parsed)


def test_every_record_line_passes_the_real_parser() -> None:
    for n, fields in enumerate(record_rows(2, 5_000), start=2):
        row = dict(zip(RECORD_COLUMNS, fields, strict=True))
        parsed = records_parser.parse_line(n, row, NOW)
        assert not isinstance(parsed, Rejection), (fields, parsed)
        assert parsed.opening.opened_at.date() >= parsed.identity.birth_date


def test_ins_are_unique_and_encode_sex_birth_year_and_month() -> None:
    seen: set[str] = set()
    for person in islice(people(3), 30_000):
        assert parse_ins(person.ins) == person.ins
        check_identity_consistency(person.ins, person.birth_date, person.sex)
        assert person.ins not in seen
        seen.add(person.ins)


def test_a_crowded_ins_bucket_never_repeats_and_refuses_to_overflow() -> None:
    allocator = InsAllocator(__import__("random").Random(0))
    born = date(1970, 5, 17)
    issued = {allocator.issue("F", born, "99350") for _ in range(999)}  # Morocco: 999 serials
    assert len(issued) == 999
    assert all(ins.startswith("27005" + "99350") for ins in issued)
    with pytest.raises(OverflowError):
        allocator.issue("F", born, "99350")


def test_birthplaces_include_corsica_overseas_and_abroad() -> None:
    places = Counter(p.ins[5:7] for p in islice(people(4), 20_000))
    assert places["2A"]
    assert places["2B"]
    assert places["97"]  # 971…976
    assert places["99"]  # born abroad


def test_the_same_seed_gives_the_same_files(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    write_records(a, 500, seed=7, bad=13)
    write_records(b, 500, seed=7, bad=13)
    write_records(c, 500, seed=8, bad=13)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_the_first_people_of_a_seed_do_not_depend_on_the_count() -> None:
    registry = [fields[0] for fields in beneficiary_rows(5, 300)]
    records = [fields[0] for fields in record_rows(5, 200)]
    assert records == registry[:200]


def test_bad_lines_leave_the_valid_lines_unchanged() -> None:
    clean = list(record_rows(6, 300))
    mixed = [line for line in record_lines(6, 300, bad=40) if isinstance(line, list)]
    assert mixed == clean


def test_every_kind_of_bad_line_is_rejected_by_the_importer_with_its_code(
    sqlite_db: Database, tmp_path: Path
) -> None:
    path, rejects = tmp_path / "records.csv", tmp_path / "rejects.csv"
    bad = 2 * len(KINDS)
    expected = {
        n: line.code
        for n, line in enumerate(record_lines(9, 400, bad), start=2)
        if not isinstance(line, list)
    }
    write_records(path, 400, seed=9, bad=bad)

    summary = import_records_file(sqlite_db, system_ctx(NOW), path, rejects, show_progress=False)

    assert (summary.inserted, summary.rejected) == (400, bad)
    with rejects.open(encoding="utf-8") as handle:
        got = {int(r["line"]): r["code"] for r in csv.DictReader(handle)}
    assert got == expected
    assert set(expected.values()) == {code for _, code, _ in KINDS}


def test_the_registry_file_imports_cleanly(sqlite_db: Database, tmp_path: Path) -> None:
    from dmp.feeds.beneficiaries.runner import import_beneficiaries_file

    path = tmp_path / "registry.csv"
    assert write_beneficiaries(path, 1_000, seed=10) == 1_000
    ctx = system_ctx(NOW)
    summary = import_beneficiaries_file(
        sqlite_db, ctx, path, tmp_path / "r.csv", show_progress=False
    )
    assert (summary.inserted, summary.rejected) == (1_000, 0)


def test_people_are_spread_like_the_french_population() -> None:
    sample = list(islice(people(11), 20_000))
    assert set(DEPARTMENT_POPULATION) == set(departments())
    assert {p.region for p in sample} == set(regions())
    minors = sum(is_minor(p.birth_date, LAUNCH) for p in sample) / len(sample)
    assert 0.17 < minors < 0.26  # about 21 % of the French were under 18 in 2018
    over_75 = sum(p.birth_date.year <= 1943 for p in sample) / len(sample)
    assert 0.06 < over_75 < 0.13
    by_department = Counter(p.department for p in sample)
    assert by_department["59"] > 5 * by_department["48"]  # Nord vs Lozère
    regimes = Counter(p.regime for p in sample)
    assert regimes["01"] / len(sample) > 0.8
    assert regimes["02"]
    assert regimes["03"]


def test_openings_follow_the_launch_weeks_and_each_channels_hours() -> None:
    pairs = list(islice(launch_openings(12), 30_000))
    days = Counter(local_date(o.opened_at) for _, o in pairs)
    assert min(days) >= LAUNCH
    assert max(days) <= LAST_DAY
    channels = Counter(o.channel for _, o in pairs)
    assert channels.most_common(2)[0][0] in (Channel.PHARMACY, Channel.INSURER)
    assert {c for c, _ in channels.most_common(2)} == {Channel.PHARMACY, Channel.INSURER}
    assert (
        channels[Channel.ONLINE] > channels[Channel.ESTABLISHMENT] > channels[Channel.PROFESSIONAL]
    )
    assert not [o for _, o in pairs if o.channel is Channel.INSURER and o.opened_at.weekday() >= 5]
    sundays = sum(n for d, n in days.items() if d.weekday() == 6)
    assert sundays < 0.06 * len(pairs)
    week_47, week_52 = (
        sum(n for d, n in days.items() if d.isocalendar()[1] == w) for w in (47, 52)
    )
    assert week_52 < week_47  # the Christmas dip


def test_openers_are_valid_and_in_the_patients_department() -> None:
    for person, opening in islice(launch_openings(13), 5_000):
        if opening.channel is Channel.ONLINE:
            assert opening.opened_by == ""
        elif opening.channel in (Channel.PHARMACY, Channel.ESTABLISHMENT):
            finess = parse_finess(opening.opened_by)
            assert finess[:2] == person.department[:2]
            if person.department.startswith("97"):
                assert finess[2] == person.department[2]


def test_generating_many_lines_keeps_memory_flat() -> None:
    for _ in record_rows(14, 10_000):
        pass  # fill the bounded caches (reference data, frequent openers) first
    tracemalloc.start()
    try:
        rows = record_rows(14, 10_000)
        consume(islice(rows, 1_000))
        early, _ = tracemalloc.get_traced_memory()
        consume(islice(rows, 8_000))
        late, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Keeping as little as an INS per line would hold ~0.8 MB more by now.
    assert late - early < 300_000


def consume(items: Iterator[object]) -> None:
    for _ in items:
        pass
