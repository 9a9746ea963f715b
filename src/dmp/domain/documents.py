"""Documents in a record: their metadata, versions, states and visibility (RULES R6, R7,
R12, R13, R20, R21).

A document is a version: replacing it stores a new document that `replaces` the old
one, which becomes superseded (R7). Deleting is logical (entered-in-error) and only
by the author; the bytes stay for the retention period. Archiving takes a document
out of the default search without changing its status (R21).

The visibility flags are the DMP's confidentiality codes (MASQUE_PS, INVISIBLE_PATIENT,
INVISIBLE_REP_LEGAUX); who may set which one is the access policy's (domain/access.py);
which combinations make sense is decided here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from dmp.domain.access import Action, DocumentFacts
from dmp.domain.document_types import VACCINATION_HISTORY
from dmp.domain.errors import Conflict, InvalidInput, Refused
from dmp.domain.matrix import Category

DEFAULT_SEARCH_WINDOW = timedelta(days=2 * 365 + 1)  # R20: the last 2 years of care
MAX_PAGE = 100
DEFAULT_PAGE = 20
AWAITING_NOTICE_AFTER = timedelta(days=14)  # R13: the holder is told after 2 weeks


class DocumentStatus(StrEnum):
    CURRENT = "current"
    SUPERSEDED = "superseded"
    ENTERED_IN_ERROR = "entered-in-error"


class Flag(StrEnum):
    """The visibility flags, coded as the DMP codes them (confidentialityCode)."""

    MASKED = "MASQUE_PS"  # R12: masked from professionals, by the holder
    HIDDEN_FROM_PATIENT = "INVISIBLE_PATIENT"  # R13: until announced, by the author
    HIDDEN_FROM_REPRESENTATIVES = "INVISIBLE_REP_LEGAUX"  # R3, by the author


@dataclass(frozen=True, slots=True)
class Visibility:
    masked: bool = False
    hidden_from_patient: bool = False
    hidden_from_representatives: bool = False

    @property
    def flags(self) -> frozenset[Flag]:
        on = (
            (Flag.MASKED, self.masked),
            (Flag.HIDDEN_FROM_PATIENT, self.hidden_from_patient),
            (Flag.HIDDEN_FROM_REPRESENTATIVES, self.hidden_from_representatives),
        )
        return frozenset(flag for flag, set_ in on if set_)


def visibility_of(flags: frozenset[Flag], field: str) -> Visibility:
    """The visibility a set of flags asks for, refused when they cannot go together.

    R13: a document cannot be both invisible to the holder and masked from
    professionals — nobody but its author and the médecin traitant would see it.
    """
    if Flag.MASKED in flags and Flag.HIDDEN_FROM_PATIENT in flags:
        raise InvalidInput(
            "FLAGS_INCOMPATIBLE",
            "a document cannot be both masked from professionals (MASQUE_PS) and "
            "invisible to the patient (INVISIBLE_PATIENT)",
            field,
        )
    return Visibility(
        masked=Flag.MASKED in flags,
        hidden_from_patient=Flag.HIDDEN_FROM_PATIENT in flags,
        hidden_from_representatives=Flag.HIDDEN_FROM_REPRESENTATIVES in flags,
    )


@dataclass(frozen=True, slots=True)
class Author:
    """Who wrote the document: a professional (RPPS) or the holder (INS)."""

    id: str
    role: str
    profession: str | None = None
    specialty: str | None = None
    organisation: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Document:
    """One stored document version with the metadata of RULES R6."""

    ins: str
    id: str
    master_identifier: str
    version: int
    replaces: str | None
    status: DocumentStatus
    archived: bool
    type_code: str
    category: Category
    class_code: str
    title: str
    author: Author
    care_start: datetime | None
    care_end: datetime | None
    created_at: datetime
    published_at: datetime
    visibility: Visibility
    mime_type: str
    format_code: str | None
    language: str | None
    size: int
    sha256: str
    sha1: str  # FHIR R4 Attachment.hash
    blob_key: str
    submission_set: str
    description: str | None = None

    def facts(self) -> DocumentFacts:
        """What the access policy needs to know of this document."""
        return DocumentFacts(
            category=self.category,
            author_id=self.author.id,
            published_at=self.published_at,
            masked=self.visibility.masked,
            hidden_from_patient=self.visibility.hidden_from_patient,
            hidden_from_representatives=self.visibility.hidden_from_representatives,
            deleted=self.status is DocumentStatus.ENTERED_IN_ERROR,
        )

    def visibility_at(self, now: datetime) -> Visibility:
        """The flags in force: R13's "invisible to the holder" lapses after a month."""
        v = self.visibility
        if v.hidden_from_patient and self.facts().visible_to_holder(now):
            return replace(v, hidden_from_patient=False)
        return v

    @property
    def care_date(self) -> datetime:
        """The date the R20 window applies to: the care date, else the publication."""
        return self.care_start or self.published_at


@dataclass(frozen=True, slots=True)
class NewDocument:
    """One document of a submission, as the publisher sent it (before any check).

    `path` is the FHIRPath of its DocumentReference in the request, `content_path` that
    of its bytes, so every error names the faulty entry (issue 4: all or nothing).
    """

    master_identifier: str
    type_code: str
    title: str | None
    declared_mime: str
    data: bytes
    created_at: datetime
    care_start: datetime | None = None
    care_end: datetime | None = None
    visibility: Visibility = Visibility()
    replaces: str | None = None
    language: str | None = None
    description: str | None = None
    author_name: str | None = None
    path: str = "DocumentReference"
    content_path: str = "DocumentReference.content[0].attachment"


@dataclass(frozen=True, slots=True)
class Submission:
    """An ITI-65 submission set: documents for one record, stored all or nothing."""

    ins: str
    submission_set: str
    documents: tuple[NewDocument, ...]


def check_submission(sub: Submission) -> list[InvalidInput]:
    """What is wrong with the submission as a whole (each document is checked alone)."""
    errors: list[InvalidInput] = []
    if not sub.documents:
        errors.append(InvalidInput("SUBMISSION_EMPTY", "no document to publish", "Bundle.entry"))
    seen: dict[str, str] = {}
    for new in sub.documents:
        field = f"{new.path}.masterIdentifier"
        if new.master_identifier in seen:
            errors.append(
                InvalidInput(
                    "MASTER_IDENTIFIER_DUPLICATE",
                    f"masterIdentifier {new.master_identifier} also identifies "
                    f"{seen[new.master_identifier]}",
                    field,
                )
            )
        seen.setdefault(new.master_identifier, new.path)
        if new.care_start and new.care_end and new.care_end < new.care_start:
            errors.append(
                InvalidInput(
                    "PERIOD_REVERSED",
                    "the care period ends before it starts",
                    new.path + ".context.period",
                )
            )
    return errors


def is_resend(stored: Document, ins: str, sha256: str, type_code: str) -> bool:
    """R6: the producer's unique id (masterIdentifier) identifies one document forever.

    Sending the same document again (same record, type and bytes) is idempotent; the
    same id with anything else is a conflict, never a silent overwrite.
    """
    return stored.ins == ins and stored.sha256 == sha256 and stored.type_code == type_code


def check_resend(stored: Document, ins: str, sha256: str, type_code: str, field: str) -> None:
    if not is_resend(stored, ins, sha256, type_code):
        raise Conflict(
            "MASTER_IDENTIFIER_REUSED",
            f"masterIdentifier {stored.master_identifier} already identifies another "
            "document; a new document or version needs a new masterIdentifier",
            field,
        )


def check_replaceable(old: Document, ins: str, author_id: str, field: str) -> None:
    """R7: only the current version of a document of the same record, by its author."""
    if old.ins != ins:
        raise Refused(
            "REPLACES_OTHER_RECORD", "the replaced document belongs to another record", field
        )
    if old.status is not DocumentStatus.CURRENT:
        raise Conflict(
            "REPLACES_NOT_CURRENT",
            f"document {old.id} is {old.status}: only the current version can be replaced",
            field,
        )
    if old.author.id != author_id:
        raise Refused("REPLACES_NOT_AUTHOR", "only the author replaces a document (R7)", field)


def supersede(old: Document) -> Document:
    return replace(old, status=DocumentStatus.SUPERSEDED)


def delete(doc: Document) -> Document:
    """R7: logical deletion; the bytes remain for the retention period."""
    if doc.status is DocumentStatus.ENTERED_IN_ERROR:
        raise Conflict("DOCUMENT_DELETED", f"document {doc.id} is already deleted", "status")
    return replace(doc, status=DocumentStatus.ENTERED_IN_ERROR)


def set_archived(doc: Document, archived: bool) -> Document:
    if doc.status is DocumentStatus.ENTERED_IN_ERROR:
        raise Conflict("DOCUMENT_DELETED", f"document {doc.id} is deleted", "status")
    return replace(doc, archived=archived)


def change_visibility(doc: Document, flags: frozenset[Flag], field: str) -> Document:
    if doc.status is DocumentStatus.ENTERED_IN_ERROR:
        raise Conflict("DOCUMENT_DELETED", f"document {doc.id} is deleted", "status")
    return replace(doc, visibility=visibility_of(flags, field))


@dataclass(frozen=True, slots=True)
class FlagChange:
    """What a request to set a document's flags means (R3, R12, R13): whose change it
    is (the holder's masking or the author's hiding: the action the policy judges),
    and what would be stored once allowed."""

    action: Action  # MASK_DOCUMENT or HIDE_DOCUMENT
    flags: frozenset[Flag]
    changes: bool
    mixed: bool  # both people's flags at once

    def apply(self, doc: Document) -> Document:
        """The document with the flags, once the policy allowed `action`."""
        if self.mixed:
            raise InvalidInput(
                "FLAGS_MIXED",
                "masking (the holder's choice) and hiding (the author's) are changed by "
                "separate requests",
                "securityLabel",
            )
        return change_visibility(doc, self.flags, "securityLabel") if self.changes else doc


def flag_change(
    doc: Document, requested: frozenset[Flag], now: datetime, holder_side: bool
) -> FlagChange:
    """Read a flags request against the stored ones.

    R13: past a month the holder sees the document whatever its flag says; a request
    drops that lapsed flag (so the holder may then mask it, R12). A request that changes
    nothing is judged as the change it names, so its answer never tells more than the
    right to make it would.
    """
    stored = doc.visibility.flags
    changed = requested ^ stored
    hidden = Flag.HIDDEN_FROM_PATIENT
    lapsed = hidden in stored and hidden not in doc.visibility_at(now).flags
    flags = requested - {hidden} if lapsed else requested
    masking = Flag.MASKED in changed
    if not changed:
        masking = Flag.MASKED in requested or (not requested and holder_side)
    action = Action.MASK_DOCUMENT if masking else Action.HIDE_DOCUMENT
    mixed = Flag.MASKED in changed and bool(changed - {Flag.MASKED})
    return FlagChange(action, flags, bool(changed), mixed)


_CURRENT_ONLY = frozenset({DocumentStatus.CURRENT})


class SortKey(StrEnum):
    DATE = "date"  # publication (DocumentReference.date)
    PERIOD = "period"  # care date


@dataclass(frozen=True, slots=True)
class DocumentQuery:
    """An ITI-67 search, already parsed and validated (api/fhir turns parameters into it).

    Ranges are half-open [from, until). None means no constraint.
    """

    ins: str
    types: frozenset[str] = frozenset()
    categories: frozenset[Category] = frozenset()
    class_codes: frozenset[str] = frozenset()
    statuses: frozenset[DocumentStatus] = frozenset()
    authors: frozenset[str] = frozenset()
    date_from: datetime | None = None
    date_until: datetime | None = None
    period_from: datetime | None = None
    period_until: datetime | None = None
    include_archived: bool = False
    sort: SortKey = SortKey.DATE
    descending: bool = True
    count: int = DEFAULT_PAGE
    offset: int = 0

    @property
    def narrows_time(self) -> bool:
        return bool(self.date_from or self.date_until or self.period_from or self.period_until)


def matches(doc: Document, q: DocumentQuery, today: date) -> bool:
    """Whether `doc` answers `q`, R20's default window included.

    R20: without a status, only current versions; without a time range, only the last
    2 years of care, except the vaccination history.
    """
    if q.types and doc.type_code not in q.types:
        return False
    if q.categories and doc.category not in q.categories:
        return False
    if q.class_codes and doc.class_code not in q.class_codes:
        return False
    if q.authors and doc.author.id not in q.authors:
        return False
    if doc.archived and not q.include_archived:
        return False
    if doc.status not in (q.statuses or _CURRENT_ONLY):
        return False
    if not _within(doc.published_at, q.date_from, q.date_until):
        return False
    if q.period_from or q.period_until:
        start = doc.care_start or doc.published_at
        end = doc.care_end or start
        # Overlap of the care period with the asked range.
        if q.period_until and start >= q.period_until:
            return False
        if q.period_from and end < q.period_from:
            return False
    if not q.narrows_time and doc.type_code != VACCINATION_HISTORY:
        window_start = today - DEFAULT_SEARCH_WINDOW
        if doc.care_date.date() < window_start:
            return False
    return True


def _within(moment: datetime, start: datetime | None, until: datetime | None) -> bool:
    return (start is None or moment >= start) and (until is None or moment < until)


def sort_key(doc: Document, key: SortKey) -> tuple[datetime, str]:
    return (doc.care_date if key is SortKey.PERIOD else doc.published_at, doc.id)


def is_awaiting_announcement(doc: Document, now: datetime) -> bool:
    """R13: hidden from the holder for 2 weeks or more, and not yet visible to them."""
    facts = doc.facts()
    return (
        doc.visibility.hidden_from_patient
        and doc.status is DocumentStatus.CURRENT
        and now >= doc.published_at + AWAITING_NOTICE_AFTER
        and not facts.visible_to_holder(now)
    )
