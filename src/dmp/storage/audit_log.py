"""The audit log: append and read only, hash-chained (RULES R16).

Appending locks the chain's head row, so concurrent appends to one chain queue up
and each event's hash covers the previous one. Nothing here updates or deletes an
event.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from dmp.domain.audit import (
    GENESIS,
    AuditAction,
    AuditEvent,
    ChainLink,
    Outcome,
    Purpose,
    canonical,
    chain_hash,
    record_chain,
)
from dmp.domain.time import as_utc
from dmp.storage.db import driver_execute
from dmp.storage.dialect import placeholder
from dmp.storage.schema import audit_chain_head as head
from dmp.storage.schema import audit_event as ev


def append(conn: Connection, event: AuditEvent) -> int:
    """Append `event` to its chain; return its sequence number.

    Every audited action passes here, so the statements are fixed SQL run on the
    driver's cursor (building them through SQLAlchemy's expression layer cost over 1 ms
    per event; `exec_driver_sql` still 45 µs a statement). The chain's head row is
    locked first: appends to one chain queue up. On PostgreSQL the event and the head's
    advance go in one statement (one round trip); SQLite runs in-process and takes them
    one by one.
    """
    sql = _SQL[conn.dialect.name]
    chain = event.chain
    head_row = driver_execute(conn, sql["lock"], (chain,)).fetchone()
    if head_row is None:  # the chain's first event
        driver_execute(conn, sql["head"], (chain, GENESIS))
        head_row = driver_execute(conn, sql["lock"], (chain,)).fetchone()
    seq, prev = head_row
    seq += 1
    body = canonical(event)
    digest = chain_hash(prev, chain, seq, body)
    at = _bind_at(conn, event.at)
    values = (chain, seq, at, event.action.value, event.outcome.value, body, prev, digest)
    if "event_and_advance" in sql:
        driver_execute(conn, sql["event_and_advance"], (*values, seq, digest, chain))
    else:
        driver_execute(conn, sql["event"], values)
        driver_execute(conn, sql["advance"], (seq, digest, chain))
    return int(seq)


def _statements(mark: str, lock: str) -> dict[str, str]:
    m = mark
    return {
        "head": f"INSERT INTO audit_chain_head (chain, seq, hash) VALUES ({m}, 0, {m}) "
        "ON CONFLICT (chain) DO NOTHING",
        "lock": f"SELECT seq, hash FROM audit_chain_head WHERE chain = {m}{lock}",
        "event": "INSERT INTO audit_event "
        "(chain, seq, at, action, outcome, event, prev_hash, hash) "
        f"VALUES ({', '.join([m] * 8)})",
        "advance": f"UPDATE audit_chain_head SET seq = {m}, hash = {m} WHERE chain = {m}",
    }


def _postgresql_statements() -> dict[str, str]:
    sql = _statements("%s", " FOR UPDATE")
    # A data-modifying CTE: the insert and the update run as one statement, in the
    # transaction that holds the head's lock.
    sql["event_and_advance"] = f"WITH appended AS ({sql['event']}) {sql['advance']}"
    return sql


_SQL = {"postgresql": _postgresql_statements(), "sqlite": _statements("?", "")}  # by dialect


def _bind_at(conn: Connection, at: datetime) -> Any:
    """The timestamp as the column's type stores it (SQLite: UTC text; PostgreSQL as is)."""
    process = ev.c.at.type.bind_processor(conn.dialect)
    return process(at) if process else at


def all_links(conn: Connection) -> Generator[tuple[str, ChainLink]]:
    """Every event as (chain, link), by chain then sequence, streamed."""
    rows = conn.execution_options(yield_per=10_000).execute(
        select(
            ev.c.chain, ev.c.seq, ev.c.event, ev.c.prev_hash, ev.c.hash, ev.c.action, ev.c.outcome
        ).order_by(ev.c.chain, ev.c.seq)
    )
    try:
        for chain, seq, body, prev, digest, action, outcome in rows:
            yield chain, ChainLink(int(seq), body, prev, digest, action, outcome)
    finally:
        rows.close()


def chain_heads(conn: Connection) -> dict[str, tuple[int, str]]:
    """Every chain's head: chain -> (last seq, last hash)."""
    rows = conn.execute(select(head.c.chain, head.c.seq, head.c.hash))
    return {chain: (int(seq), digest) for chain, seq, digest in rows}


def record_events(conn: Connection, ins: str, *, limit: int, offset: int) -> list[AuditEvent]:
    """A page of the events of the record of `ins` (its chain only), newest first."""
    rows = conn.scalars(
        select(ev.c.event)
        .where(ev.c.chain == record_chain(ins))
        .order_by(ev.c.seq.desc())
        .limit(limit)
        .offset(offset)
    )
    return [_decoded(body) for body in rows]


def record_event_count(conn: Connection, ins: str) -> int:
    """How many events the record of `ins` has: its chain head's sequence number."""
    seq = conn.scalar(select(head.c.seq).where(head.c.chain == record_chain(ins)))
    return int(seq or 0)


def _decoded(body: str) -> AuditEvent:
    """An event back from its canonical JSON (the inverse of audit.canonical)."""
    data = json.loads(body)
    return AuditEvent(
        at=as_utc(datetime.fromisoformat(data["at"])),
        action=AuditAction(data["action"]),
        outcome=Outcome(data["outcome"]),
        actor_role=data["actor_role"],
        actor_id=data["actor_id"],
        actor_profession=data.get("actor_profession"),
        actor_organisation=data.get("actor_organisation"),
        record_ins=data.get("record_ins"),
        document_id=data.get("document_id"),
        purpose=Purpose(data.get("purpose", Purpose.NORMAL)),
        reason=data.get("reason"),
        client=data.get("client"),
        request_id=data.get("request_id"),
        detail=data.get("detail") or {},
    )


def delete_record_chain(conn: Connection, ins: str) -> int:
    """RULES R4, R16: a record's traces are kept 10 years after its closure, then
    destroyed with it. The only deletion of audit rows there is: on PostgreSQL the
    append-only trigger lets it through for this transaction alone."""
    chain = record_chain(ins)
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        conn.exec_driver_sql("SELECT set_config('dmp.audit_purge', 'on', true)")
    mark = placeholder(conn)
    deleted = conn.exec_driver_sql(f"DELETE FROM audit_event WHERE chain = {mark}", (chain,))
    conn.exec_driver_sql(f"DELETE FROM audit_chain_head WHERE chain = {mark}", (chain,))
    if postgres:
        conn.exec_driver_sql("SELECT set_config('dmp.audit_purge', 'off', true)")
    return int(deleted.rowcount)
