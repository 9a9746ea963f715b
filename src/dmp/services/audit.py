"""Checking the audit trail: every chain recomputed, the first fault named (RULES R16)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from itertools import groupby

from dmp.domain.audit import ChainFault, ChainLink, verify_chain
from dmp.storage import audit_log
from dmp.storage.db import Database


@dataclass(frozen=True, slots=True)
class TrailReport:
    chains: int
    events: int
    fault: ChainFault | None


def verify_trail(db: Database) -> TrailReport:
    """Recompute every chain; stop at the first altered, removed or reordered event."""
    chains = events = 0
    with db.read() as conn:
        heads = audit_log.chain_heads(conn)
        seen: set[str] = set()
        with closing(audit_log.all_links(conn)) as stream:
            for chain, group in groupby(stream, key=lambda item: item[0]):
                chains += 1
                seen.add(chain)
                counted = _CountedLinks(group)
                fault = verify_chain(chain, counted, heads.get(chain))
                events += counted.n
                if fault:
                    return TrailReport(chains, events, fault)
        for chain in sorted(set(heads) - seen):
            fault = verify_chain(chain, [], heads[chain])
            if fault:
                return TrailReport(chains, events, fault)
    return TrailReport(chains, events, None)


class _CountedLinks:
    """The links of one chain, counted as they are read."""

    def __init__(self, group: Iterator[tuple[str, ChainLink]]) -> None:
        self.group = group
        self.n = 0

    def __iter__(self) -> Iterator[ChainLink]:
        for _, link in self.group:
            self.n += 1
            yield link
