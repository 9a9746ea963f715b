"""Audit events and their hash chain (RULES R16; DESIGN: audit).

Every action on a record is an event appended to a chain: one chain per record
(so chains partition with the data) and one for system-wide actions. Each event's
hash covers its content, its position and the previous hash, so an altered,
removed or reordered event breaks the chain. Hashing is pure; storing is not.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum

GENESIS = "0" * 64
SYSTEM_CHAIN = "system"


class AuditAction(StrEnum):
    """Every audited action, one member each (the access history lists them all)."""

    RECORD_OPEN = "record.open"
    RECORD_MIGRATE = "record.migrate"
    RECORD_READ = "record.read"
    RECORD_CLOSE = "record.close"
    RECORD_REOPEN = "record.reopen"
    RECORD_PURGE = "record.purge"
    RECORDS_IMPORT = "records.import"
    BENEFICIARIES_IMPORT = "beneficiaries.import"
    STATS_READ = "stats.read"


class Outcome(StrEnum):
    SUCCESS = "success"
    DENIED = "denied"
    FAILED = "failed"


class Purpose(StrEnum):
    NORMAL = "normal"
    EMERGENCY = "emergency"
    ADMINISTRATION = "administration"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    at: datetime
    action: AuditAction
    outcome: Outcome
    actor_role: str
    actor_id: str
    actor_profession: str | None = None
    actor_organisation: str | None = None
    record_ins: str | None = None
    document_id: str | None = None
    purpose: Purpose = Purpose.NORMAL
    reason: str | None = None
    client: str | None = None
    request_id: str | None = None
    detail: dict[str, object] = field(default_factory=dict)

    @property
    def chain(self) -> str:
        return f"record:{self.record_ins}" if self.record_ins else SYSTEM_CHAIN


def canonical(event: AuditEvent) -> str:
    """The event as canonical JSON (sorted keys, UTC ISO timestamps)."""
    data = asdict(event)
    data["at"] = event.at.isoformat()
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def chain_hash(prev_hash: str, chain: str, seq: int, event_json: str) -> str:
    """SHA-256 over the previous hash, the position and the event."""
    h = hashlib.sha256()
    for part in (prev_hash, chain, str(seq), event_json):
        h.update(part.encode())
        h.update(b"\x1f")
    return h.hexdigest()
