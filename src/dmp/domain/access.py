"""Who may do what on a record: the one decision function (DESIGN: access).

`decide(request)` returns allow or deny with the rule that decided. Nothing else in
the code decides access; services/guard.py enforces the decision and traces it.

The rules (RULES.md):
- R15 never: complementary insurers, employers, occupational medicine, anonymous
  callers; insurer agents and operators never read medical content.
- R4 a purged record is gone for everyone; a closed record is read by nobody but its
  holder's history; only reopening acts on it (services/records.py).
- R3 the holder's rights are exercised by the legal representatives while the holder
  is a minor; at 18 they pass to the holder and the representatives lose them.
- R9 a professional the holder blocked has no access, with or without consent.
- R8 other professionals need the holder's authorisation to read; once authorised
  they may add documents (R1111-47).
- R10 what a profession reads or writes per document category: the matrix.
- R11 the médecin traitant (and whoever the holder gives the same rights) reads all,
  masked documents included.
- R12 a masked document is seen only by the holder, its author and the médecin traitant.
- R13 a document hidden from the holder until announced becomes visible after 1 month.
- R14 emergencies: "bris de glace" or SAMU regulation, each with a reason, limited in
  time, each refusable in advance by the holder; masked documents stay masked.
- R7 only the author deletes or hides their document.
- R5 the health profile (issue 4; domain/profile.py): each entry is judged like a
  document of its matrix category, but the holder writes and deletes every entry of
  their own profile, and a professional changes only the entries they wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from dmp.domain.actors import Actor, Role
from dmp.domain.audit import Purpose
from dmp.domain.matrix import Category, Matrix
from dmp.domain.people import is_minor
from dmp.domain.records import RecordStatus

HIDDEN_FROM_PATIENT_AT_MOST = timedelta(days=30)  # R13: then visible automatically


class Action(StrEnum):
    OPEN_RECORD = "record.open"
    READ_RECORD = "record.read"  # the record exists, its status, the holder's identity
    CLOSE_RECORD = "record.close"
    REOPEN_RECORD = "record.reopen"
    SEARCH_DOCUMENTS = "document.search"  # the list; each document is then judged alone
    READ_DOCUMENT = "document.read"
    WRITE_DOCUMENT = "document.write"
    DELETE_DOCUMENT = "document.delete"
    ARCHIVE_DOCUMENT = "document.archive"
    MASK_DOCUMENT = "document.mask"
    HIDE_DOCUMENT = "document.hide"
    READ_HISTORY = "history.read"
    MANAGE_ACCESS = "access.manage"  # authorise, block, médecin traitant, emergency choices
    RECORD_CONSENT = "consent.record"  # a professional records consent given during care
    MANAGE_REPRESENTATIVES = "representatives.manage"  # R3: who acts for a minor
    DECLARE_EMERGENCY = "emergency.access"  # bris de glace or SAMU regulation
    # The health profile (R5): entries judged as documents of their category (R10).
    SEARCH_PROFILE = "profile.search"  # the list; each entry is then judged alone
    READ_PROFILE = "profile.read"
    WRITE_PROFILE = "profile.write"  # create, or update an existing entry
    DELETE_PROFILE = "profile.delete"
    # The care history (R5): the insurer's claim lines, matrix category remboursement.
    READ_CLAIMS = "claims.read"


class EmergencyKind(StrEnum):
    BRIS_DE_GLACE = "bris_de_glace"
    SAMU = "samu"


@dataclass(frozen=True, slots=True)
class RecordFacts:
    ins: str
    status: RecordStatus
    birth_date: date | None  # None once purged
    representatives: frozenset[str] = frozenset()
    refused: frozenset[EmergencyKind] = frozenset()  # emergency kinds refused in advance


@dataclass(frozen=True, slots=True)
class CareLink:
    """The acting professional's standing on this record."""

    authorised: bool = False
    blocked: bool = False
    medecin_traitant: bool = False
    full_rights: bool = False  # the holder gave the médecin traitant's rights (R11)


@dataclass(frozen=True, slots=True)
class Emergency:
    kind: EmergencyKind
    reason: str
    started_at: datetime
    expires_at: datetime

    def active(self, now: datetime) -> bool:
        return self.started_at <= now < self.expires_at


@dataclass(frozen=True, slots=True)
class DocumentFacts:
    category: Category
    author_id: str | None
    published_at: datetime
    masked: bool = False  # by the holder, from professionals (R12)
    hidden_from_patient: bool = False  # by the author, until announced (R13)
    hidden_from_representatives: bool = False  # R3
    deleted: bool = False  # R7: entered in error by its author

    def visible_to_holder(self, now: datetime) -> bool:
        return (
            not self.hidden_from_patient or now >= self.published_at + HIDDEN_FROM_PATIENT_AT_MOST
        )


@dataclass(frozen=True, slots=True)
class Request:
    actor: Actor
    action: Action
    record: RecordFacts
    now: datetime
    matrix: Matrix
    link: CareLink = field(default_factory=CareLink)
    emergency: Emergency | None = None
    document: DocumentFacts | None = None
    category: Category | None = None  # what a write would add, when no document exists yet


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    rule: str
    purpose: Purpose = Purpose.NORMAL

    def __bool__(self) -> bool:
        return self.allowed


def allow(rule: str, purpose: Purpose = Purpose.NORMAL) -> Decision:
    return Decision(True, rule, purpose)


def deny(rule: str) -> Decision:
    return Decision(False, rule)


_NEVER = {Role.COMPLEMENTARY_INSURER, Role.EMPLOYER, Role.OCCUPATIONAL_DOCTOR, Role.ANONYMOUS}
_HOLDER_ACTIONS = {
    Action.READ_RECORD,
    Action.CLOSE_RECORD,
    Action.REOPEN_RECORD,
    Action.SEARCH_DOCUMENTS,
    Action.READ_DOCUMENT,
    Action.WRITE_DOCUMENT,
    Action.DELETE_DOCUMENT,
    Action.ARCHIVE_DOCUMENT,
    Action.MASK_DOCUMENT,
    Action.READ_HISTORY,
    Action.MANAGE_ACCESS,
    # R5: the holder writes and deletes any entry of their own profile, whoever wrote it
    # (none of the document-only restrictions below apply to these actions).
    Action.SEARCH_PROFILE,
    Action.READ_PROFILE,
    Action.WRITE_PROFILE,
    Action.DELETE_PROFILE,
    Action.READ_CLAIMS,  # R5: the holder reads their reimbursement data
}


def decide(r: Request) -> Decision:
    """Allow or deny `r.action` by `r.actor` on `r.record` (and `r.document`)."""
    role = r.actor.role
    if role in _NEVER:
        return deny("R15: never, whatever consent is claimed")
    reopening = r.action is Action.REOPEN_RECORD and role is not Role.PROFESSIONAL
    if r.record.status is RecordStatus.PURGED and not reopening:
        # The holder asking to reopen is told it was purged (records.reopen_record).
        return deny("R4: the record was purged")
    if role in (Role.INSURER_AGENT, Role.OPERATOR, Role.SYSTEM):
        return _administration(r)
    if r.document is not None and r.document.deleted and r.document.author_id != r.actor.id:
        return deny("R7: a deleted document is shown to nobody but its author")
    if role in (Role.PATIENT, Role.REPRESENTATIVE):
        return _holder(r)
    if role is Role.PROFESSIONAL:
        return _professional(r)
    return deny("R15: unknown role")


def _administration(r: Request) -> Decision:
    """Insurer desks open records; the system runs lifecycle commands; none reads content."""
    if r.action is Action.OPEN_RECORD and r.actor.role in (Role.INSURER_AGENT, Role.SYSTEM):
        return allow("R2: opening at the insurer's desk", Purpose.ADMINISTRATION)
    if r.action is Action.MANAGE_REPRESENTATIVES:
        # R3: the insurer knows who holds parental authority (the registry's "ayants
        # droit"); its desk records the legal representatives, reading no content.
        return allow("R3: the insurer records the legal representatives", Purpose.ADMINISTRATION)
    lifecycle = (Action.READ_RECORD, Action.CLOSE_RECORD, Action.REOPEN_RECORD)
    if r.actor.role is Role.SYSTEM and r.action in lifecycle:
        return allow("R4: lifecycle command on the holder's behalf", Purpose.ADMINISTRATION)
    return deny("R15: administration never reads medical content")


def _holder(r: Request) -> Decision:
    minor = r.record.birth_date is not None and is_minor(r.record.birth_date, r.now.date())
    if r.actor.role is Role.PATIENT:
        if r.actor.id != r.record.ins:
            return deny("R8: another person's record")
        if minor:
            return deny("R3: a minor's rights are exercised by the legal representatives")
    else:
        if r.actor.id not in r.record.representatives:
            return deny("R3: not a legal representative of this holder")
        if not minor:
            return deny("R3: the holder came of age; the representatives' rights ended")
    if r.action is Action.OPEN_RECORD:
        return allow("R2: the holder opens their own record")
    if r.action not in _HOLDER_ACTIONS:
        if r.action is Action.HIDE_DOCUMENT:
            return deny("R7: only the author hides a document")
        return deny("R8: an action for professionals only")
    if r.action is Action.REOPEN_RECORD:
        return allow("R4: the holder reopens their record, consenting again")
    on_closed = (Action.READ_HISTORY, Action.READ_RECORD, Action.CLOSE_RECORD)
    if r.record.status is not RecordStatus.OPEN and r.action not in on_closed:
        # The holder still sees that the record exists, closed, and its traces (R4, R16).
        return deny("R4: the record is closed")
    doc = r.document
    if doc is not None:
        if not doc.visible_to_holder(r.now):
            return deny("R13: hidden from the holder until announced")
        if r.actor.role is Role.REPRESENTATIVE and doc.hidden_from_representatives:
            return deny("R3: hidden from the legal representatives")
        # The holder's own deposits, or this representative's (R3, R7).
        authored = doc.author_id in (r.record.ins, r.actor.id)
        if r.action in (Action.DELETE_DOCUMENT, Action.ARCHIVE_DOCUMENT) and not authored:
            return deny("R7: only the author deletes or archives a document")
    if r.action is Action.WRITE_DOCUMENT:
        category = doc.category if doc else r.category
        if category is not Category.DEPOSE_PAR_PATIENT:
            return deny("R7: the holder adds documents of the class 'expression du titulaire'")
    return allow("R5: the holder's own record")


def _professional(r: Request) -> Decision:
    if r.action is Action.OPEN_RECORD:
        return allow("R2: opened by a professional with the person's consent")
    if r.record.status is not RecordStatus.OPEN:
        return deny("R4: the record is closed")
    if r.link.blocked:
        return deny("R9: blocked by the holder")
    if r.action is Action.RECORD_CONSENT:
        return allow("R8: consent collected during care, recorded by an explicit action")
    if r.action is Action.DECLARE_EMERGENCY:
        if r.emergency is None:
            return deny("R14: an emergency needs its kind and reason")
        if r.emergency.kind in r.record.refused:
            return deny("R14: the holder refused this emergency access in advance")
        return allow(f"R14: emergency access ({r.emergency.kind})", Purpose.EMERGENCY)
    holder_only = (Action.MASK_DOCUMENT, Action.MANAGE_ACCESS, Action.CLOSE_RECORD)
    if r.action in (*holder_only, Action.REOPEN_RECORD):
        return deny("R12: only the holder decides this")
    if r.action is Action.READ_HISTORY:
        if r.link.medecin_traitant:
            return allow("R16: the médecin traitant reads the traces")
        return deny("R16: professionals see only their own traces")
    emergency = r.emergency if r.emergency and r.emergency.active(r.now) else None
    if emergency and emergency.kind in r.record.refused:
        return deny("R14: the holder refused this emergency access in advance")
    full = r.link.medecin_traitant or r.link.full_rights
    if not (r.link.authorised or full or emergency):
        return deny("R8: not authorised by the holder")
    if full:
        basis, purpose = "R11: the médecin traitant", Purpose.NORMAL
    elif r.link.authorised:
        basis, purpose = "R8: authorised by the holder", Purpose.NORMAL
    else:
        basis, purpose = (
            f"R14: emergency access ({emergency and emergency.kind})",
            Purpose.EMERGENCY,
        )
    if r.action in (Action.READ_RECORD, Action.SEARCH_DOCUMENTS, Action.SEARCH_PROFILE):
        return allow(basis, purpose)
    return _on_document(r, full, basis, purpose)


def _on_document(r: Request, full: bool, basis: str, purpose: Purpose) -> Decision:
    doc = r.document
    author = doc is not None and doc.author_id == r.actor.id
    author_only = (
        Action.DELETE_DOCUMENT,
        Action.HIDE_DOCUMENT,
        Action.ARCHIVE_DOCUMENT,
        Action.DELETE_PROFILE,
    )
    if r.action in author_only:
        return allow("R7: the author's own document") if author else deny("R7: only the author")
    if r.action is Action.WRITE_PROFILE and doc is not None and not author:
        # R5: an existing entry is changed by its author (or the holder), not by others.
        return deny("R7: a profile entry is changed by its author or the holder")
    category = doc.category if doc else r.category
    if category is None:
        return deny("R10: no document category to judge")
    rights = r.matrix.rights(r.actor.profession, category)
    if r.action in (Action.WRITE_DOCUMENT, Action.WRITE_PROFILE):
        if not rights.write:
            return deny(
                f"R10: the matrix gives profession {r.actor.profession} no write on {category}"
            )
        return allow(f"R10: the matrix allows writing; {basis}", purpose)
    if r.action is Action.READ_CLAIMS:  # a section, not a document: the matrix decides
        if full:
            return allow("R11: the médecin traitant sees all", purpose)
        if not rights.read:
            return deny(
                f"R10: the matrix gives profession {r.actor.profession} no read on {category}"
            )
        return allow(f"R10: allowed by the matrix; {basis}", purpose)
    # READ_DOCUMENT, READ_PROFILE
    if doc is None:
        return deny("R10: nothing to read")
    if author:
        return allow("R12: the author reads their document", purpose)
    if doc.masked:
        if r.link.medecin_traitant or r.link.full_rights:
            return allow("R11: the médecin traitant sees masked documents")
        return deny("R12: masked by the holder")
    if full:
        return allow("R11: the médecin traitant sees all")
    if not rights.read:
        return deny(f"R10: the matrix gives profession {r.actor.profession} no read on {category}")
    return allow(f"R10: allowed by the matrix; {basis}", purpose)


def may_open(actor: Actor, channel: str, opened_by: str | None, ins: str) -> Decision:
    """RULES R2: who opens a record, through which channel, as whom.

    A professional opens as themself (channel professional, their RPPS) or for their
    organisation (pharmacy or establishment, its FINESS); an insurer agent at the
    insurer's desk; the holder online, for their own INS; the system (an operator's
    command on the server, or a migration) through any channel.
    """
    role = actor.role
    if role is Role.SYSTEM:
        return allow("R2: opened by an operator's command", Purpose.ADMINISTRATION)
    if role is Role.PATIENT:
        if channel == "online" and actor.id == ins:
            return allow("R2: the holder opens their own record online")
        return deny("R2: a holder opens only their own record, online")
    if role is Role.PROFESSIONAL:
        if channel == "professional" and opened_by == actor.id:
            return allow("R2: opened by the professional, with the person's consent")
        if channel in ("pharmacy", "establishment") and opened_by == actor.organisation:
            return allow(f"R2: opened at the {channel}, with the person's consent")
        return deny("R2: a professional opens as themself or for their own organisation")
    if role is Role.INSURER_AGENT:
        if channel == "insurer":
            return allow("R2: opened at the insurer's desk", Purpose.ADMINISTRATION)
        return deny("R2: an insurer agent opens through the insurer channel")
    return deny("R15: not allowed to open a record")
