"""The audit log: append and read only, hash-chained (RULES R16).

Appending locks the chain's head row, so concurrent appends to one chain queue up
and each event's hash covers the previous one. Nothing here updates or deletes an
event.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from datetime import datetime

from sqlalchemy import Connection, select, update

from dmp.domain.audit import (
    GENESIS,
    AuditAction,
    AuditEvent,
    ChainLink,
    Outcome,
    Purpose,
    canonical,
    chain_hash,
)
from dmp.domain.time import as_utc
from dmp.storage.dialect import upsert
from dmp.storage.schema import audit_chain_head as head
from dmp.storage.schema import audit_event as ev


def append(conn: Connection, event: AuditEvent) -> int:
    """Append `event` to its chain; return its sequence number."""
    chain = event.chain
    conn.execute(
        upsert(conn, head)
        .values(chain=chain, seq=0, hash=GENESIS)
        .on_conflict_do_nothing(index_elements=["chain"])
    )
    seq, prev = conn.execute(
        select(head.c.seq, head.c.hash).where(head.c.chain == chain).with_for_update()
    ).one()
    seq += 1
    body = canonical(event)
    digest = chain_hash(prev, chain, seq, body)
    conn.execute(
        ev.insert().values(
            chain=chain,
            seq=seq,
            at=event.at,
            action=event.action.value,
            outcome=event.outcome.value,
            event=body,
            prev_hash=prev,
            hash=digest,
        )
    )
    conn.execute(update(head).where(head.c.chain == chain).values(seq=seq, hash=digest))
    return int(seq)


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
        .where(ev.c.chain == _record_chain(ins))
        .order_by(ev.c.seq.desc())
        .limit(limit)
        .offset(offset)
    )
    return [_decoded(body) for body in rows]


def record_event_count(conn: Connection, ins: str) -> int:
    """How many events the record of `ins` has: its chain head's sequence number."""
    seq = conn.scalar(select(head.c.seq).where(head.c.chain == _record_chain(ins)))
    return int(seq or 0)


def _record_chain(ins: str) -> str:
    return f"record:{ins}"  # as AuditEvent.chain names it


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
