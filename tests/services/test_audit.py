"""The audit trail detects any altered, removed or reordered event (RULES R16)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError

from dmp.services import records
from dmp.services.audit import verify_trail
from dmp.services.beneficiaries import load_beneficiaries_batch
from dmp.services.context import system_ctx
from dmp.storage.db import Database
from dmp.storage.schema import audit_chain_head, audit_event
from tests.personas import ALICE, ALICE_BENEFICIARY, BOB_BENEFICIARY, PHARMACY

NOW = datetime(2018, 11, 6, 10, 0, tzinfo=UTC)
CHAIN = f"record:{ALICE.ins}"


@pytest.fixture
def trail(db: Database) -> Database:
    """Alice's record opened, read, closed and reopened: four events in her chain."""
    return _fill(db)


@pytest.fixture
def pg_trail(pg_db: Database) -> Database:
    return _fill(pg_db)


def _fill(db: Database) -> Database:
    load_beneficiaries_batch(db, system_ctx(NOW), [ALICE_BENEFICIARY, BOB_BENEFICIARY], "t")
    request = records.OpenRequest(ALICE.ins, "pharmacy", PHARMACY, "holder", True)
    records.open_record(db, system_ctx(NOW), request)
    records.get_record(db, system_ctx(NOW + timedelta(hours=1)), ALICE.ins)
    records.close_record(db, system_ctx(NOW + timedelta(days=1)), ALICE.ins, "holder", "fin")
    records.reopen_record(db, system_ctx(NOW + timedelta(days=2)), ALICE.ins, "holder", True)
    return db


def test_r16_a_clean_trail_verifies(trail: Database) -> None:
    report = verify_trail(trail)
    assert report.fault is None
    assert report.events == 5  # 4 in Alice's chain, 1 for the registry batch
    assert report.chains == 2


def _tamper(db: Database, change: Callable[[], Any]) -> None:
    """Change the stored rows behind the application's back, as an intruder would."""
    statements = change()
    with db.write() as conn:
        if conn.dialect.name == "postgresql":
            # A superuser can switch triggers off; the application cannot (see below).
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        for statement in statements if isinstance(statements, list) else [statements]:
            conn.execute(statement)


def _move(seq: int, to: int) -> Any:
    return (
        update(audit_event)
        .where(audit_event.c.chain == CHAIN, audit_event.c.seq == seq)
        .values(seq=to)
    )


TAMPERINGS = {
    "altered content": (
        lambda: (
            update(audit_event)
            .where(audit_event.c.chain == CHAIN, audit_event.c.seq == 2)
            .values(event=audit_event.c.event + " ")
        ),
        2,
        "altered",
    ),
    "altered indexed column": (
        lambda: (
            update(audit_event)
            .where(audit_event.c.chain == CHAIN, audit_event.c.seq == 3)
            .values(action="record.read")
        ),
        3,
        "indexed columns",
    ),
    "removed middle event": (
        lambda: delete(audit_event).where(audit_event.c.chain == CHAIN, audit_event.c.seq == 2),
        2,
        "missing",
    ),
    "removed last event": (
        lambda: delete(audit_event).where(audit_event.c.chain == CHAIN, audit_event.c.seq == 4),
        4,
        "head",
    ),
    "reordered events": (
        lambda: [
            _move(2, 100),
            _move(3, 2),
            _move(100, 3),
        ],
        2,
        "link broken",
    ),
    "whole chain removed": (
        lambda: delete(audit_event).where(audit_event.c.chain == CHAIN),
        1,
        "head",
    ),
}


@pytest.mark.parametrize("name", TAMPERINGS)
def test_r16_tampering_is_detected_and_the_first_bad_event_named(
    trail: Database, name: str
) -> None:
    change, seq, words = TAMPERINGS[name]
    _tamper(trail, change)
    fault = verify_trail(trail).fault
    assert fault is not None
    assert (fault.chain, fault.seq) == (CHAIN, seq)
    assert words in fault.problem


def test_r16_a_head_rewound_to_hide_the_end_is_detected(trail: Database) -> None:
    _tamper(
        trail,
        lambda: (
            update(audit_chain_head)
            .where(audit_chain_head.c.chain == CHAIN)
            .values(seq=audit_chain_head.c.seq - 1)
        ),
    )
    fault = verify_trail(trail).fault
    assert fault is not None
    assert fault.chain == CHAIN


@pytest.mark.parametrize(
    "change",
    [
        lambda: update(audit_event).values(outcome="denied"),
        lambda: delete(audit_event),
    ],
    ids=["update", "delete"],
)
def test_r16_on_postgresql_the_application_cannot_update_or_delete_audit_rows(
    pg_trail: Database, change: Callable[[], Any]
) -> None:
    with pytest.raises(DBAPIError, match="append-only"), pg_trail.write() as conn:
        conn.execute(change())
    report = verify_trail(pg_trail)
    assert report.fault is None
    assert report.events == 5
