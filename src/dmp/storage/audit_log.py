"""The audit log: append and read only, hash-chained (RULES R16).

Appending locks the chain's head row, so concurrent appends to one chain queue up
and each event's hash covers the previous one. Nothing here updates or deletes an
event.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, select, update

from dmp.domain.audit import GENESIS, AuditEvent, canonical, chain_hash
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


@dataclass(frozen=True, slots=True)
class StoredEvent:
    chain: str
    seq: int
    event: str
    prev_hash: str
    hash: str


def events_of_chain(conn: Connection, chain: str) -> list[StoredEvent]:
    rows = conn.execute(
        select(ev.c.chain, ev.c.seq, ev.c.event, ev.c.prev_hash, ev.c.hash)
        .where(ev.c.chain == chain)
        .order_by(ev.c.seq)
    )
    return [StoredEvent(*r) for r in rows]


def chain_heads(conn: Connection) -> Iterator[tuple[str, int, str]]:
    for chain, seq, digest in conn.execute(
        select(head.c.chain, head.c.seq, head.c.hash).order_by(head.c.chain)
    ):
        yield chain, int(seq), digest
