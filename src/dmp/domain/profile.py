"""The patient's health profile: structured entries of the record (issue 4; RULES R5).

CSP R1111-42 lists among the record's content the data the holder adds, vaccinations,
and what lets a professional act in an emergency: allergies and intolerances, the blood
group, the medical history, the people to call and the person of trust (CSP L1111-6;
the advance directives themselves are a document of type 42348-3). Each entry is one
FHIR resource, kept as the client sent it (the server sets `id` and `meta`); the
elements the profile relies on are checked by domain/profile_validation.py.

Who may read or write an entry is the access policy's (domain/access.py, the *_PROFILE
actions): an entry is judged like a document of its matrix category (RULES R10), the
holder writes and deletes every entry of their own profile, a professional changes
only the entries they wrote. The category of each kind (docs/decisions/0008):

- allergies, blood group, medical history: "synthèse" — what the medical summary holds;
  doctors, dentists and midwives write it, every caring profession reads it;
- vaccinations: "traitement administré" — a vaccine is a treatment given, and the
  matrix lets those who vaccinate in France (doctors, pharmacists, nurses, midwives)
  record it;
- emergency contacts and the person of trust: "documents déposés par le patient" — the
  holder designates them (L1111-6: in writing, by the person), so no profession writes
  them, and every profession that cares for the person reads them, in an emergency too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from dmp.domain.access import DocumentFacts
from dmp.domain.errors import Conflict, InvalidInput, PreconditionFailed
from dmp.domain.matrix import Category
from dmp.domain.time import as_utc

MAX_PAGE = 100
DEFAULT_PAGE = 50  # a profile is a few tens of entries: one page holds it


class ProfileKind(StrEnum):
    """The FHIR resource types of the profile."""

    ALLERGY_INTOLERANCE = "AllergyIntolerance"
    OBSERVATION = "Observation"  # the blood group only (LOINC 882-1)
    CONDITION = "Condition"
    IMMUNIZATION = "Immunization"
    RELATED_PERSON = "RelatedPerson"  # emergency contacts and the person of trust


CATEGORY: dict[ProfileKind, Category] = {
    ProfileKind.ALLERGY_INTOLERANCE: Category.SYNTHESE,
    ProfileKind.OBSERVATION: Category.SYNTHESE,
    ProfileKind.CONDITION: Category.SYNTHESE,
    ProfileKind.IMMUNIZATION: Category.TRAITEMENT_ADMINISTRE,
    ProfileKind.RELATED_PERSON: Category.DEPOSE_PAR_PATIENT,
}

# The element naming the patient, per kind (FHIR R4).
SUBJECT: dict[ProfileKind, str] = {
    ProfileKind.ALLERGY_INTOLERANCE: "patient",
    ProfileKind.OBSERVATION: "subject",
    ProfileKind.CONDITION: "subject",
    ProfileKind.IMMUNIZATION: "patient",
    ProfileKind.RELATED_PERSON: "patient",
}


def profile_kind(name: object, field: str = "resourceType") -> ProfileKind:
    """The kind named `name`, or InvalidInput: other resource types are not profile data."""
    try:
        return ProfileKind(str(name))
    except ValueError:
        raise InvalidInput(
            "RESOURCE_TYPE_UNSUPPORTED",
            f"{name!r} is not part of the health profile; one of "
            f"{', '.join(k.value for k in ProfileKind)}",
            field,
        ) from None


class EntryStatus(StrEnum):
    ACTIVE = "active"
    ENTERED_IN_ERROR = "entered-in-error"  # deleted, logically (as documents, RULES R7)


@dataclass(frozen=True, slots=True)
class ProfileEntry:
    """One version of an entry: the resource as sent (without id and meta) and what
    the access policy and the server's meta need."""

    ins: str
    id: str
    kind: ProfileKind
    version: int
    status: EntryStatus
    author_id: str  # RPPS, the holder's INS or a legal representative's id
    author_role: str
    created_at: datetime
    updated_at: datetime
    body: dict[str, Any]

    @property
    def deleted(self) -> bool:
        return self.status is EntryStatus.ENTERED_IN_ERROR

    def facts(self) -> DocumentFacts:
        """What the access policy judges: the kind's category, the author, deletion."""
        return DocumentFacts(
            CATEGORY[self.kind], self.author_id, self.created_at, deleted=self.deleted
        )

    def resource(self) -> dict[str, Any]:
        """The FHIR resource: the stored body with the server's id and meta."""
        meta = {k: v for k, v in (self.body.get("meta") or {}).items() if k in _CLIENT_META}
        meta["versionId"] = str(self.version)
        updated = as_utc(self.updated_at).isoformat(timespec="seconds")
        meta["lastUpdated"] = updated.replace("+00:00", "Z")
        body = {k: v for k, v in self.body.items() if k not in ("resourceType", "id", "meta")}
        return {"resourceType": self.kind.value, "id": self.id, "meta": meta, **body}


# The parts of a client's meta worth keeping: the profiles it claims, its tags and
# security labels; versionId and lastUpdated are the server's.
_CLIENT_META = ("profile", "tag", "security")


@dataclass(frozen=True, slots=True)
class CheckedResource:
    """A resource whose essential elements were checked, and the patient it is about."""

    kind: ProfileKind
    ins: str
    body: dict[str, Any]  # without id; meta reduced to what the client may set

    @property
    def subject_path(self) -> str:
        return f"{self.kind.value}.{SUBJECT[self.kind]}"


def new_entry(
    checked: CheckedResource, entry_id: str, author_id: str, author_role: str, now: datetime
) -> ProfileEntry:
    return ProfileEntry(
        ins=checked.ins,
        id=entry_id,
        kind=checked.kind,
        version=1,
        status=EntryStatus.ACTIVE,
        author_id=author_id,
        author_role=author_role,
        created_at=now,
        updated_at=now,
        body=checked.body,
    )


def check_version(entry: ProfileEntry, expected: int | None) -> None:
    """Optimistic concurrency (FHIR `If-Match: W/"<version>"`): a change made on an
    outdated copy is refused rather than silently overwriting a newer one."""
    if expected is not None and expected != entry.version:
        raise PreconditionFailed(
            "VERSION_CONFLICT",
            f"{entry.kind.value}/{entry.id} is at version {entry.version}, not {expected}; "
            "read it again and resend the change",
            "If-Match",
        )


def revise(entry: ProfileEntry, checked: CheckedResource, now: datetime) -> ProfileEntry:
    """The entry's next version with the new body. An entry stays in its patient's
    record and keeps its kind; a deleted entry is not revived (a new one is created)."""
    if checked.kind is not entry.kind:
        raise InvalidInput(
            "RESOURCE_TYPE_MISMATCH",
            f"{entry.kind.value}/{entry.id} is a {entry.kind.value}",
            "resourceType",
        )
    if checked.ins != entry.ins:
        raise InvalidInput(
            "SUBJECT_CHANGED",
            "an entry stays in the record of its patient; create one in the other record",
            checked.subject_path,
        )
    if entry.deleted:
        raise Conflict(
            "ENTRY_ENTERED_IN_ERROR",
            f"{entry.kind.value}/{entry.id} was deleted (entered in error); create a new entry",
            "id",
        )
    return replace(entry, version=entry.version + 1, updated_at=now, body=checked.body)


def entered_in_error(entry: ProfileEntry, now: datetime) -> ProfileEntry:
    """RULES R7 for the profile: deletion is logical. The resource says so the way its
    type does (FHIR R4 invariants ait-2 and con-5: no clinicalStatus once entered in
    error; a RelatedPerson has no status, it becomes inactive)."""
    body = dict(entry.body)
    if entry.kind in (ProfileKind.ALLERGY_INTOLERANCE, ProfileKind.CONDITION):
        system = (
            ALLERGY_VERIFICATION
            if entry.kind is ProfileKind.ALLERGY_INTOLERANCE
            else CONDITION_VERIFICATION
        )
        body.pop("clinicalStatus", None)
        body["verificationStatus"] = {"coding": [{"system": system, "code": "entered-in-error"}]}
    elif entry.kind is ProfileKind.RELATED_PERSON:
        body["active"] = False
    else:
        body["status"] = "entered-in-error"
    return replace(
        entry,
        version=entry.version + 1,
        updated_at=now,
        status=EntryStatus.ENTERED_IN_ERROR,
        body=body,
    )


# --- the person of trust (CSP L1111-6) ---

V2_CONTACT_ROLE = "http://terminology.hl7.org/CodeSystem/v2-0131"  # C: emergency contact
V3_ROLE_CLASS = "http://terminology.hl7.org/CodeSystem/v3-RoleClass"  # ECON (CI-SIS)
# No HL7 code means the French "personne de confiance": HPOWATT (v3 RoleCode) gives a
# power to decide that she does not have. dmp's own code (docs/decisions/0008).
DMP_RELATIONSHIP = "urn:dmp:fhir:CodeSystem:relationship"
PERSON_OF_TRUST = "personne-de-confiance"
EMERGENCY_CONTACT_CODES = frozenset({(V2_CONTACT_ROLE, "C"), (V3_ROLE_CLASS, "ECON")})

ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"


def roles_of(body: dict[str, Any]) -> frozenset[tuple[str, str]]:
    """The (system, code) pairs of a RelatedPerson's relationships."""
    found: set[tuple[str, str]] = set()
    for concept in body.get("relationship") or []:
        codings = concept.get("coding") if isinstance(concept, dict) else None
        for coding in codings or []:
            if isinstance(coding, dict):
                found.add((str(coding.get("system", "")), str(coding.get("code", ""))))
    return frozenset(found)


def is_person_of_trust(body: dict[str, Any]) -> bool:
    return (DMP_RELATIONSHIP, PERSON_OF_TRUST) in roles_of(body)


def check_one_person_of_trust(
    checked: CheckedResource, entry_id: str | None, others: list[ProfileEntry]
) -> None:
    """CSP L1111-6: a person designates one person of trust (and may change them at any
    time: update the entry, or delete it and designate another)."""
    if checked.kind is not ProfileKind.RELATED_PERSON or not is_person_of_trust(checked.body):
        return
    for other in others:
        if (
            other.id != entry_id
            and other.kind is ProfileKind.RELATED_PERSON
            and not other.deleted
            and is_person_of_trust(other.body)
        ):
            raise Conflict(
                "PERSON_OF_TRUST_EXISTS",
                f"the person of trust is already designated (RelatedPerson/{other.id}); "
                "update that entry or delete it first",
                "RelatedPerson.relationship",
            )


# --- search ---


@dataclass(frozen=True, slots=True)
class ProfileQuery:
    """A search of one kind of entry in one record (FHIR search-type)."""

    ins: str
    kind: ProfileKind
    codes: frozenset[str] = frozenset()  # Observation: LOINC codes (only 882-1 exists)
    count: int = DEFAULT_PAGE
    offset: int = 0


def matches(entry: ProfileEntry, query: ProfileQuery) -> bool:
    """Deleted entries leave the profile (their author still reads them by id, R7)."""
    if entry.kind is not query.kind or entry.deleted:
        return False
    if query.codes:
        codings = (entry.body.get("code") or {}).get("coding") or []
        return any(isinstance(c, dict) and c.get("code") in query.codes for c in codings)
    return True


def sort_key(entry: ProfileEntry) -> tuple[datetime, str]:
    """Most recently changed first; the id breaks ties so paging is stable."""
    return entry.updated_at, entry.id
