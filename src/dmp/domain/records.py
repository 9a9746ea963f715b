"""A record's lifecycle: open, close, reopen, purge (RULES R1, R2, R3, R4).

    (none) --open--> OPEN --close--> CLOSED --reopen--> OPEN
                                       |
                                       +--purge (10 years after closure)--> PURGED

One record per INS: opening an INS whose record exists (open or closed) is a
conflict, never a second record. A purged record is a tombstone: identity and
content are gone, the fact of the purge remains; the person, still eligible, may
open a new record (docs/decisions/0001-record-key-and-tombstones.md).

Functions here decide and return the new state; they never store anything.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from dmp.domain.errors import Conflict, InvalidInput, Refused
from dmp.domain.identity import parse_finess, parse_insurer_office, parse_rpps
from dmp.domain.people import Beneficiary, Identity, is_minor
from dmp.domain.retention import is_purgeable, retention_ends
from dmp.domain.time import local_date

# How far in the future a client's clock may be before an opening date is refused.
CLOCK_SKEW = timedelta(minutes=5)
MAX_REASON_LENGTH = 500


class Channel(StrEnum):
    """RULES R2: the channels through which a record can be opened (2018)."""

    ONLINE = "online"
    PHARMACY = "pharmacy"
    INSURER = "insurer"
    PROFESSIONAL = "professional"
    ESTABLISHMENT = "establishment"


CHANNEL_LABELS = {
    Channel.ONLINE: "En ligne (titulaire)",
    Channel.PHARMACY: "Pharmacie",
    Channel.INSURER: "Accueil Assurance Maladie",
    Channel.PROFESSIONAL: "Professionnel de santé",
    Channel.ESTABLISHMENT: "Établissement de santé",
}


class RecordStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    PURGED = "purged"


class Holder(StrEnum):
    """Who exercises the holder's rights: the person, or a legal representative (R3)."""

    HOLDER = "holder"
    LEGAL_REPRESENTATIVE = "legal_representative"


def parse_holder(value: object, field: str) -> Holder:
    try:
        return Holder(str(value))
    except ValueError:
        allowed = ", ".join(h.value for h in Holder)
        raise InvalidInput("HOLDER", f"must be one of {allowed}, got {value!r}", field) from None


class Source(StrEnum):
    """Where a record comes from: opened here, or migrated from the legacy system."""

    OPENED = "opened"
    LEGACY = "legacy"


@dataclass(frozen=True, slots=True)
class Consent:
    """RULES R2: consent to open (or reopen), and that the person was informed of
    how the record is opened, closed and destroyed, who may access it, and the
    médecin traitant's rights (CSP R1111-40)."""

    given_by: Holder
    informed: bool
    collected_at: datetime


@dataclass(frozen=True, slots=True)
class Opening:
    channel: Channel
    opened_by: str | None
    department: str
    opened_at: datetime


@dataclass(frozen=True, slots=True)
class Record:
    ins: str
    identity: Identity | None  # None once purged: the tombstone keeps only the INS
    status: RecordStatus
    opening: Opening
    source: Source
    consent_given_by: Holder | None
    closed_at: datetime | None = None
    closed_by: Holder | None = None
    close_reason: str | None = None
    reopened_at: datetime | None = None
    purged_at: datetime | None = None


def parse_channel(value: object, field: str = "channel") -> Channel:
    try:
        return Channel(value.strip().lower() if isinstance(value, str) else str(value))
    except ValueError:
        allowed = ", ".join(c.value for c in Channel)
        raise InvalidInput("CHANNEL", f"must be one of {allowed}, got {value!r}", field) from None


def parse_opener(channel: Channel, value: object, field: str = "opened_by") -> str | None:
    """Who opened, as the channel requires: FINESS for a pharmacy or establishment,
    RPPS for a professional, an office code for the insurer, nobody online."""
    text = value.strip() if isinstance(value, str) else value
    if channel is Channel.ONLINE:
        if text:
            raise InvalidInput("OPENER", "must be empty for an online opening", field)
        return None
    if not text:
        raise InvalidInput("OPENER_MISSING", f"is required for a {channel.value} opening", field)
    if channel in (Channel.PHARMACY, Channel.ESTABLISHMENT):
        return parse_finess(text, field)
    if channel is Channel.PROFESSIONAL:
        return parse_rpps(text, field)
    return parse_insurer_office(text, field)


def parse_opened_at(value: object, now: datetime, field: str = "opened_at") -> datetime:
    """An ISO 8601 timestamp with its UTC offset, not in the future."""
    if isinstance(value, datetime):
        at = value
    else:
        if not isinstance(value, str):
            raise InvalidInput("DATETIME", f"expected ISO 8601 text, got {value!r}", field)
        try:
            at = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInput(
                "DATETIME",
                f"expected ISO 8601 with offset, e.g. 2018-11-06T09:30:00+01:00, got {value!r}",
                field,
            ) from None
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput("DATETIME_OFFSET", f"{value!r} lacks a UTC offset", field)
    if at > now + CLOCK_SKEW:
        raise InvalidInput("DATETIME_FUTURE", f"{at.isoformat()} is in the future", field)
    return at


def parse_reason(value: object, field: str = "reason") -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("REASON_MISSING", "a reason is required", field)
    reason = " ".join(value.split())
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidInput("REASON_LENGTH", f"at most {MAX_REASON_LENGTH} characters", field)
    return reason


def _check_consent(identity: Identity, consent: Consent, on: date) -> None:
    if not consent.informed:
        raise Refused(
            "CONSENT_NOT_INFORMED",
            "the person must be informed of how the record works before consenting (CSP R1111-40)",
            "consent.informed",
        )
    if is_minor(identity.birth_date, on) and consent.given_by is not Holder.LEGAL_REPRESENTATIVE:
        raise Refused(
            "CONSENT_MINOR",
            "the holder is a minor: consent must come from a legal representative",
            "consent.given_by",
        )


def open_record(
    existing: Record | None,
    ins: str,
    beneficiary: Beneficiary | None,
    opening: Opening,
    consent: Consent,
    now: datetime,
) -> Record:
    """RULES R1, R2: open a record with consent, for a beneficiary, once per INS.

    The identity traits come from the insurer's registry, so they are qualified.
    """
    _refuse_existing(existing)
    if beneficiary is None:
        raise Refused(
            "NOT_BENEFICIARY",
            f"{ins} is not in the registry of social-security beneficiaries",
            "ins",
        )
    if opening.opened_at > now + CLOCK_SKEW:
        raise InvalidInput("DATETIME_FUTURE", "opening date is in the future", "opened_at")
    _check_consent(beneficiary.identity, consent, local_date(opening.opened_at))
    return Record(
        ins, beneficiary.identity, RecordStatus.OPEN, opening, Source.OPENED, consent.given_by
    )


def migrate_record(existing: Record | None, identity: Identity, opening: Opening) -> Record:
    """A record opened in the legacy system, with consent collected there."""
    _refuse_existing(existing)
    if opening.opened_at.date() < identity.birth_date:
        raise InvalidInput(
            "OPENED_BEFORE_BIRTH", "the record was opened before the birth date", "opened_at"
        )
    return Record(identity.ins, identity, RecordStatus.OPEN, opening, Source.LEGACY, None)


def is_same_migration(existing: Record, identity: Identity, opening: Opening) -> bool:
    """A legacy line describes the stored record exactly (so importing it again is a no-op)."""
    return (
        existing.source is Source.LEGACY
        and existing.identity == identity
        and existing.opening.channel is opening.channel
        and existing.opening.opened_by == opening.opened_by
        and existing.opening.department == opening.department
        and existing.opening.opened_at == opening.opened_at
    )


def _refuse_existing(existing: Record | None) -> None:
    if existing is not None and existing.status is not RecordStatus.PURGED:
        raise Conflict(
            "RECORD_EXISTS",
            f"a record already exists for {existing.ins} "
            f"(opened {existing.opening.opened_at.date().isoformat()}, {existing.status.value})",
            "ins",
        )


def close_record(record: Record, by: Holder, reason: str, now: datetime) -> Record:
    """RULES R4: the holder (or a representative) may close the record at any time;
    RULES R3: a minor's record is closed by a legal representative, as it was opened."""
    if record.status is RecordStatus.CLOSED:
        raise Conflict(
            "RECORD_ALREADY_CLOSED",
            f"the record was already closed on {_day(record.closed_at)}",
            "ins",
        )
    _refuse_purged(record)
    identity = record.identity
    if (
        identity is not None
        and is_minor(identity.birth_date, local_date(now))
        and by is not Holder.LEGAL_REPRESENTATIVE
    ):
        raise Refused(
            "CLOSE_MINOR",
            "the holder is a minor: the record is closed by a legal representative (R3)",
            "closed_by",
        )
    return replace(
        record,
        status=RecordStatus.CLOSED,
        closed_at=now,
        closed_by=by,
        close_reason=parse_reason(reason),
    )


def reopen_record(record: Record, consent: Consent, now: datetime) -> Record:
    """RULES R4: reopening within the retention period needs the person's consent."""
    _refuse_purged(record)
    if record.status is RecordStatus.OPEN:
        raise Conflict("RECORD_NOT_CLOSED", "the record is open", "ins")
    assert record.closed_at is not None
    assert record.identity is not None
    if is_purgeable(record.closed_at, local_date(now)):
        raise Refused(
            "RETENTION_OVER",
            f"the retention period ended on {retention_ends(record.closed_at).isoformat()}",
            "ins",
        )
    _check_consent(record.identity, consent, local_date(now))
    return replace(
        record,
        status=RecordStatus.OPEN,
        reopened_at=now,
        closed_at=None,
        closed_by=None,
        close_reason=None,
        consent_given_by=consent.given_by,
    )


def purge_record(record: Record, as_of: date, now: datetime) -> Record:
    """RULES R4: ten years after closure the record is destroyed; the fact remains."""
    _refuse_purged(record)
    if record.status is not RecordStatus.CLOSED or record.closed_at is None:
        raise Refused("RECORD_NOT_CLOSED", "only a closed record can be purged", "ins")
    if not is_purgeable(record.closed_at, as_of):
        raise Refused(
            "RETENTION_RUNNING",
            f"kept until {retention_ends(record.closed_at).isoformat()} (10 years after closure)",
            "ins",
        )
    return replace(
        record, identity=None, close_reason=None, status=RecordStatus.PURGED, purged_at=now
    )


def _refuse_purged(record: Record) -> None:
    if record.status is RecordStatus.PURGED:
        raise Conflict(
            "RECORD_PURGED",
            f"the record was purged on {_day(record.purged_at)}; its content no longer exists",
            "ins",
        )


def _day(at: datetime | None) -> str:
    return at.date().isoformat() if at else "an unknown date"
