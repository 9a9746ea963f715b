"""The purge's candidates (RULES R4: destroyed 10 years after closure): every closed
record closed before the bound, each once, in pages, whatever the page size — and found
through the closed records' own index, never by walking every record.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from dmp.domain.identity import ins_key
from dmp.domain.people import Beneficiary, Identity
from dmp.services import records
from dmp.services.beneficiaries import load_beneficiaries_batch
from dmp.services.context import system_ctx
from dmp.services.retention import purge_expired
from dmp.storage.db import Database
from dmp.storage.records import ClosedPosition, find_closed_before

OPENED = datetime(2014, 3, 1, 9, tzinfo=UTC)
BOUND = date(2016, 1, 1)


def _people(n: int) -> list[Beneficiary]:
    people = []
    for i in range(n):
        first13 = f"1750575{i:06d}"
        identity = Identity(first13 + ins_key(first13), f"Nom{i}", "Jean", date(1975, 5, 1), "M")
        people.append(Beneficiary(identity, "75", "01"))
    return people


@pytest.fixture
def closures(db: Database) -> dict[str, datetime]:
    """30 records: 16 closed before BOUND (four at the very same instant, so that pages
    must break ties by INS), 4 closed after it, 10 still open. {INS: closure}."""
    people = _people(30)
    load_beneficiaries_batch(db, system_ctx(OPENED), people, "test")
    closed: dict[str, datetime] = {}
    for i, person in enumerate(people):
        ins = person.identity.ins
        request = records.OpenRequest(ins, "online", None, "holder", True)
        records.open_record(db, system_ctx(OPENED), request)
        if i < 4:
            when = OPENED + timedelta(days=400)  # the tie
        elif i < 16:
            when = OPENED + timedelta(days=30 * (16 - i))  # closure order is not INS order
        elif i < 20:
            when = OPENED + timedelta(days=800 + i)  # after the bound
        else:
            continue
        records.close_record(db, system_ctx(when), ins, "holder", "fin")
        closed[ins] = when
    return closed


def _all_pages(db: Database, limit: int) -> list[str]:
    found: list[str] = []
    after: ClosedPosition | None = None
    for _ in range(100):  # a page that never moves on must fail, not hang
        with db.read() as conn:
            page = find_closed_before(conn, BOUND, limit, after)
        found += [r.ins for r in page]
        if len(page) < limit:
            return found
        last = page[-1]
        assert last.closed_at is not None
        after = (last.closed_at, last.ins)
    raise AssertionError(f"still paging after 100 pages: {found[:20]}…")


@pytest.mark.parametrize("limit", [1, 3, 4, 7, 50])
def test_pages_hold_every_candidate_once_in_closure_order(
    db: Database, closures: dict[str, datetime], limit: int
) -> None:
    bound = datetime(BOUND.year, BOUND.month, BOUND.day, tzinfo=UTC)
    expected = sorted((at, ins) for ins, at in closures.items() if at < bound)
    assert len(expected) == 16
    assert len({at for at, _ in expected}) == 13  # four closed at the same instant
    assert _all_pages(db, limit) == [ins for _, ins in expected]


def test_purged_and_open_records_are_not_candidates(
    db: Database, closures: dict[str, datetime]
) -> None:
    earliest = min(closures.values())
    as_of = date(earliest.year + 10, earliest.month, earliest.day) + timedelta(days=1)
    purged = purge_expired(db, system_ctx(datetime(2030, 1, 1, tzinfo=UTC)), as_of)
    assert [p.closed_at for p in purged] == [earliest]
    assert purged[0].ins not in _all_pages(db, 5)
    assert len(_all_pages(db, 5)) == 15


def test_the_search_reads_the_closed_records_index(
    db: Database, closures: dict[str, datetime]
) -> None:
    """The plan of the very statement find_closed_before sends (caught on its way to the
    driver) is a range of ix_record_closed_at_ins, on the first page and the next."""
    sent: list[tuple[str, Any]] = []

    def catch(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", catch)
    try:
        with db.read() as conn:
            [first] = find_closed_before(conn, BOUND, 1)
            assert first.closed_at is not None
            find_closed_before(conn, BOUND, 1, (first.closed_at, first.ins))
    finally:
        event.remove(db.engine, "before_cursor_execute", catch)
    assert len(sent) == 2
    for statement, parameters in sent:
        with db.engine.connect() as conn:
            if db.engine.dialect.name == "postgresql":
                # A few dozen rows: a sequential scan would win, so it is taken away;
                # what is left to choose is the primary key or the closed records' index.
                conn.exec_driver_sql("SET enable_seqscan = off")
                conn.exec_driver_sql("SET enable_bitmapscan = off")
                rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters)
                plan = " ".join(str(r[0]) for r in rows)
            else:
                rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
                plan = " ".join(str(r[-1]) for r in rows)
        assert "ix_record_closed_at_ins" in plan, plan
