"""Audit events and their hash chain (RULES R16; DESIGN: audit).

Every action on a record is an event appended to a chain: one chain per record
(so chains partition with the data) and one for system-wide actions. Each event's
hash covers its content, its position and the previous hash, so an altered,
removed or reordered event breaks the chain. Hashing is pure; storing is not.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
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
    AUDIT_VERIFY = "audit.verify"
    FSCK = "store.fsck"
    DOCUMENT_SEARCH = "document.search"
    DOCUMENT_READ = "document.read"
    DOCUMENT_WRITE = "document.write"
    DOCUMENT_DELETE = "document.delete"
    DOCUMENT_ARCHIVE = "document.archive"
    DOCUMENT_MASK = "document.mask"
    DOCUMENT_HIDE = "document.hide"
    HISTORY_READ = "history.read"
    ACCESS_MANAGE = "access.manage"  # authorise, block, médecin traitant, emergency choices
    EMERGENCY_ACCESS = "emergency.access"
    CONSENT_RECORD = "consent.record"
    REPRESENTATIVES_MANAGE = "representatives.manage"
    PROFESSIONAL_CONTACT = "professional.contact"
    # The health profile (issue 4; domain/profile.py).
    PROFILE_SEARCH = "profile.search"
    PROFILE_READ = "profile.read"
    PROFILE_WRITE = "profile.write"
    PROFILE_DELETE = "profile.delete"
    # The holder's portal account (RULES R19; docs/decisions/0007-portal-accounts.md).
    ACCOUNT_CODES_ISSUE = "account.codes_issue"  # activation letters, per batch
    ACCOUNT_ACTIVATE = "account.activate"
    ACCOUNT_LOGIN = "account.login"  # detail.step: password, code
    ACCOUNT_LOCK = "account.lock"
    ACCOUNT_LOGOUT = "account.logout"
    ACCOUNT_SESSION_END = "account.session_end"  # idle or absolute timeout
    ACCOUNT_RESET = "account.reset"  # detail.step: request, complete
    ACCOUNT_TOTP = "account.totp"
    # The insurer's claims feed and the care history (issue 5; domain/claims.py).
    CLAIMS_IMPORT = "claims.import"  # one event per batch, with its counts
    CLAIMS_READ = "claims.read"
    CLAIMS_PURGE = "claims.purge"


class Outcome(StrEnum):
    SUCCESS = "success"
    DENIED = "denied"
    FAILED = "failed"


class Purpose(StrEnum):
    NORMAL = "normal"
    EMERGENCY = "emergency"
    ADMINISTRATION = "administration"


def record_chain(ins: str) -> str:
    """The name of a record's chain (chains partition the trail by patient)."""
    return f"record:{ins}"


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
        return record_chain(self.record_ins) if self.record_ins else SYSTEM_CHAIN


_EVENT_FIELDS = tuple(f.name for f in fields(AuditEvent))


def canonical(event: AuditEvent) -> str:
    """The event as canonical JSON (sorted keys, UTC ISO timestamps)."""
    # Shallow (no dataclasses.asdict deep copy): json.dumps walks `detail` itself.
    data = {name: getattr(event, name) for name in _EVENT_FIELDS}
    data["at"] = event.at.isoformat()
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def chain_hash(prev_hash: str, chain: str, seq: int, event_json: str) -> str:
    """SHA-256 over the previous hash, the position and the event."""
    h = hashlib.sha256()
    for part in (prev_hash, chain, str(seq), event_json):
        h.update(part.encode())
        h.update(b"\x1f")
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class ChainLink:
    """An event as stored: position, canonical JSON, hashes, and the indexed columns."""

    seq: int
    event_json: str
    prev_hash: str
    hash: str
    action: str
    outcome: str


@dataclass(frozen=True, slots=True)
class ChainFault:
    chain: str
    seq: int
    problem: str


def verify_chain(
    chain: str, links: Iterable[ChainLink], head: tuple[int, str] | None
) -> ChainFault | None:
    """The first fault of a chain (altered, removed or reordered event), or None.

    `head` is the chain's stored head (last seq, last hash); a chain with events but no
    head, or whose head is not its last event, has lost events at its end.
    """
    prev, expected = GENESIS, 1
    for link in links:
        if link.seq != expected:
            return ChainFault(chain, expected, f"event {expected} is missing (found {link.seq})")
        if link.prev_hash != prev:
            return ChainFault(chain, link.seq, "previous-hash link broken (removed or reordered)")
        if chain_hash(prev, chain, link.seq, link.event_json) != link.hash:
            return ChainFault(chain, link.seq, "content altered (hash mismatch)")
        stored = json.loads(link.event_json)
        if (stored.get("action"), stored.get("outcome")) != (link.action, link.outcome):
            return ChainFault(chain, link.seq, "indexed columns differ from the hashed event")
        prev, expected = link.hash, expected + 1
    last = expected - 1
    if head is None:
        return ChainFault(chain, 1, "chain head missing") if last else None
    if head != (last, prev):
        return ChainFault(chain, last + 1, f"chain head says {head[0]} events, found {last}")
    return None
