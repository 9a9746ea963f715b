"""The audit log: append-only and hash-chained, one chain per record (RULES R16)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from dmp.domain.audit import (
    GENESIS,
    SYSTEM_CHAIN,
    AuditAction,
    AuditEvent,
    ChainLink,
    Outcome,
    canonical,
    chain_hash,
    verify_chain,
)
from dmp.storage import audit_log
from dmp.storage.db import Database
from tests.personas import ALICE, BOB

T0 = datetime(2018, 11, 6, 9, 0, tzinfo=UTC)


def event(
    n: int, ins: str | None = None, action: AuditAction = AuditAction.RECORD_READ
) -> AuditEvent:
    return AuditEvent(
        at=T0 + timedelta(seconds=n),
        action=action,
        outcome=Outcome.SUCCESS,
        actor_role="system",
        actor_id="test",
        record_ins=ins,
        detail={"n": n},
    )


def chain_of(db: Database, chain: str) -> list[ChainLink]:
    with db.read() as conn:
        return [link for name, link in audit_log.all_links(conn) if name == chain]


def heads(db: Database) -> dict[str, tuple[int, str]]:
    with db.read() as conn:
        return audit_log.chain_heads(conn)


def assert_intact(db: Database, chain: str, events: list[ChainLink]) -> None:
    """Sequences 1..n; each prev_hash is the previous hash; each hash covers its event;
    the head is the last event (checked by hand, then by the domain's verifier)."""
    previous = GENESIS
    for seq, stored in enumerate(events, start=1):
        assert stored.seq == seq
        assert stored.prev_hash == previous
        assert stored.hash == chain_hash(previous, chain, seq, stored.event_json)
        previous = stored.hash
    assert heads(db)[chain] == (len(events), previous)
    assert verify_chain(chain, events, heads(db)[chain]) is None


def test_r16_appended_events_form_a_chain_whose_head_is_the_last_event(db: Database) -> None:
    for n in range(5):
        with db.write() as conn:
            assert audit_log.append(conn, event(n, ALICE.ins)) == n + 1
    events = chain_of(db, f"record:{ALICE.ins}")
    assert len(events) == 5
    assert events[0].prev_hash == GENESIS
    assert_intact(db, f"record:{ALICE.ins}", events)
    assert heads(db)[f"record:{ALICE.ins}"] == (5, events[-1].hash)
    assert events[2].event_json == canonical(event(2, ALICE.ins))
    assert (events[2].action, events[2].outcome) == ("record.read", "success")


def test_r16_events_without_a_record_go_to_the_system_chain(db: Database) -> None:
    with db.write() as conn:
        audit_log.append(conn, event(1, None, AuditAction.RECORDS_IMPORT))
    (stored,) = chain_of(db, SYSTEM_CHAIN)
    assert '"action":"records.import"' in stored.event_json


def test_r16_altering_an_event_breaks_the_chain() -> None:
    first = chain_hash(GENESIS, "system", 1, canonical(event(1)))
    second = chain_hash(first, "system", 2, canonical(event(2)))
    assert chain_hash(GENESIS, "system", 1, canonical(event(99))) != first  # content
    assert chain_hash(GENESIS, "system", 2, canonical(event(1))) != first  # position
    assert chain_hash(GENESIS, "other", 1, canonical(event(1))) != first  # chain
    assert chain_hash(GENESIS, "system", 2, canonical(event(2))) != second  # predecessor


def test_r16_a_rolled_back_transaction_leaves_no_event_and_no_gap(db: Database) -> None:
    with db.write() as conn:
        audit_log.append(conn, event(1, ALICE.ins))
    try:
        with db.write() as conn:
            audit_log.append(conn, event(2, ALICE.ins))
            raise RuntimeError("the use case failed after tracing")
    except RuntimeError:
        pass
    with db.write() as conn:
        audit_log.append(conn, event(3, ALICE.ins))
    events = chain_of(db, f"record:{ALICE.ins}")
    assert [e.seq for e in events] == [1, 2]
    assert '"n":3' in events[1].event_json
    assert_intact(db, f"record:{ALICE.ins}", events)


def test_r16_concurrent_appends_to_two_chains_keep_separate_intact_sequences(
    db: Database,
) -> None:
    per_thread = 8
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def append_many(ins: str, offset: int) -> None:
        try:
            start.wait()
            for n in range(per_thread):
                with db.write() as conn:
                    audit_log.append(conn, event(offset + n, ins))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [
        threading.Thread(target=append_many, args=(ins, offset))
        for ins in (ALICE.ins, BOB.ins)
        for offset in (0, 100)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    for ins in (ALICE.ins, BOB.ins):
        events = chain_of(db, f"record:{ins}")
        assert len(events) == 2 * per_thread
        assert_intact(db, f"record:{ins}", events)
        assert all(f'"record_ins":"{ins}"' in e.event_json for e in events)
