"""Checking a health-profile resource before it is stored (issue 4; RULES R5).

The profile keeps the client's FHIR JSON, so what is checked here is what the profile
and its readers rely on — an emergency doctor reading an allergy must find what the
patient reacts to; a blood group must be one — plus the shape of every element the
resource type does not define (refused: a typo would otherwise be stored silently).
Every fault is reported at once, each named by its FHIRPath (`Immunization.
occurrenceDateTime`), as SeveralErrors of InvalidInput.

Deliberately not checked: codes of open value sets (what a vaccine or a condition is
coded with: CIS, ATC, SNOMED CT, CIM-10… or just text), narrative, extensions.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import date, datetime, timedelta
from typing import Any

from dmp.domain.document_types import LOINC_SYSTEM
from dmp.domain.errors import DomainError, InvalidInput, SeveralErrors
from dmp.domain.identity import parse_ins
from dmp.domain.profile import (
    ALLERGY_VERIFICATION,
    CONDITION_VERIFICATION,
    DMP_RELATIONSHIP,
    EMERGENCY_CONTACT_CODES,
    PERSON_OF_TRUST,
    SUBJECT,
    CheckedResource,
    ProfileKind,
    profile_kind,
    roles_of,
)
from dmp.domain.time import local_date

BLOOD_GROUP = "882-1"  # LOINC: ABO and Rh group [Type] in Blood
SNOMED = "http://snomed.info/sct"
# SNOMED CT: ABO group with Rh(D), the answers to 882-1 (as in the eHDSI value set).
BLOOD_GROUPS = {
    "278149003": "A Rh(D) positif",
    "278152006": "A Rh(D) négatif",
    "278150003": "B Rh(D) positif",
    "278153001": "B Rh(D) négatif",
    "278151004": "AB Rh(D) positif",
    "278154007": "AB Rh(D) négatif",
    "278147001": "O Rh(D) positif",
    "278148006": "O Rh(D) négatif",
}
INS_SYSTEMS = ("urn:oid:1.2.250.1.213.1.4.8", "urn:oid:1.2.250.1.213.1.4.9")  # RULES R1
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
CLOCK_SKEW = timedelta(minutes=5)  # a client's clock may run a little ahead

_RESOURCE = ("resourceType", "id", "meta", "implicitRules", "language", "text", "contained")
_DOMAIN = (*_RESOURCE, "extension", "modifierExtension", "identifier")


# The elements FHIR R4 defines for each kind (anything else is refused).
def _elements(names: str) -> frozenset[str]:
    return frozenset((*_DOMAIN, *names.split()))


ELEMENTS: dict[ProfileKind, frozenset[str]] = {
    ProfileKind.ALLERGY_INTOLERANCE: _elements(
        """clinicalStatus verificationStatus type category criticality code patient encounter
        onsetDateTime onsetAge onsetPeriod onsetRange onsetString recordedDate recorder
        asserter lastOccurrence note reaction"""
    ),
    ProfileKind.OBSERVATION: _elements(
        """basedOn partOf status category code subject focus encounter effectiveDateTime
        effectivePeriod effectiveTiming effectiveInstant issued performer
        valueCodeableConcept dataAbsentReason interpretation note bodySite method specimen
        device referenceRange hasMember derivedFrom component"""
    ),
    ProfileKind.CONDITION: _elements(
        """clinicalStatus verificationStatus category severity code bodySite subject
        encounter onsetDateTime onsetAge onsetPeriod onsetRange onsetString
        abatementDateTime abatementAge abatementPeriod abatementRange abatementString
        recordedDate recorder asserter stage evidence note"""
    ),
    ProfileKind.IMMUNIZATION: _elements(
        """status statusReason vaccineCode patient encounter occurrenceDateTime
        occurrenceString recorded primarySource reportOrigin location manufacturer lotNumber
        expirationDate site route doseQuantity performer note reasonCode reasonReference
        isSubpotent subpotentReason education programEligibility fundingSource reaction
        protocolApplied"""
    ),
    ProfileKind.RELATED_PERSON: _elements(
        """active patient relationship name telecom gender birthDate address photo period
        communication"""
    ),
}
# Observation's value[x] other than valueCodeableConcept: a blood group is coded.
_OTHER_VALUES = (
    "valueQuantity",
    "valueString",
    "valueBoolean",
    "valueInteger",
    "valueRange",
    "valueRatio",
    "valueSampledData",
    "valueTime",
    "valueDateTime",
    "valuePeriod",
)


def check_resource(
    data: object, kind: ProfileKind, now: datetime, entry_id: str | None = None
) -> CheckedResource:
    """`data` as a resource of `kind` about one patient, or every fault at once.

    `entry_id` is the id of the entry being updated (FHIR update: the body's id, when
    given, must be it); on create the client's id is ignored, as FHIR says.
    """
    if not isinstance(data, dict):
        raise InvalidInput("RESOURCE_INVALID", "the body must be a FHIR resource (a JSON object)")
    check = _Checker(kind, now)
    if data.get("resourceType") != kind.value:
        given = profile_kind(data.get("resourceType"))  # unknown types are named as such
        raise InvalidInput(
            "RESOURCE_TYPE_MISMATCH", f"a {given.value} sent as a {kind.value}", "resourceType"
        )
    if entry_id is not None and "id" in data and data["id"] != entry_id:
        check.fail("ID_MISMATCH", f"the resource's id must be {entry_id}, the URL's", "id")
    for key in data:
        if key.removeprefix("_") not in ELEMENTS[kind]:
            check.fail("ELEMENT_UNKNOWN", f"{kind.value} has no element {key!r}", key)
    ins = check.subject(data)
    _CHECKS[kind](check, data)
    if check.errors:
        raise SeveralErrors(check.errors)
    assert ins is not None  # a missing or bad subject is an error above
    body = {k: v for k, v in data.items() if k != "id"}
    return CheckedResource(kind, ins, body)


class _Checker:
    """Collects the faults of one resource, each at its FHIRPath."""

    def __init__(self, kind: ProfileKind, now: datetime) -> None:
        self.kind = kind
        self.now = now
        self.errors: list[DomainError] = []

    def path(self, element: str) -> str:
        return f"{self.kind.value}.{element}"

    def fail(self, code: str, message: str, element: str) -> None:
        self.errors.append(InvalidInput(code, message, self.path(element)))

    def subject(self, data: dict[str, Any]) -> str | None:
        """The INS of the patient the resource is about (a Patient reference by id or
        by INS identifier; both must then agree)."""
        element = SUBJECT[self.kind]
        ref = data.get(element)
        if not isinstance(ref, dict):
            self.fail(
                "SUBJECT_REQUIRED", "the patient (a reference to Patient) is required", element
            )
            return None
        found: list[str] = []
        try:
            reference = ref.get("reference")
            if reference is not None:
                kind, _, ins = str(reference).rstrip("/").rpartition("/")
                if not kind.endswith("Patient"):
                    raise InvalidInput(
                        "SUBJECT_NOT_A_PATIENT", "the subject is a Patient/<INS>", "reference"
                    )
                found.append(parse_ins(ins, "reference"))
            identifier = ref.get("identifier")
            if identifier is not None:
                if not isinstance(identifier, dict) or identifier.get("system") not in INS_SYSTEMS:
                    raise InvalidInput(
                        "IDENTIFIER_SYSTEM",
                        f"the patient is identified by the INS ({INS_SYSTEMS[0]})",
                        "identifier.system",
                    )
                found.append(parse_ins(identifier.get("value"), "identifier.value"))
        except InvalidInput as exc:
            self.fail(exc.code, exc.message, f"{element}.{exc.field}")
            return None
        if not found:
            self.fail("SUBJECT_REQUIRED", "reference or identifier (the INS) is required", element)
            return None
        if len(set(found)) > 1:
            self.fail("SUBJECT_INCONSISTENT", "reference and identifier differ", element)
            return None
        return found[0]

    def concept(self, data: dict[str, Any], element: str, *, required: bool) -> list[Any]:
        """A CodeableConcept with at least a code or a text; its codings."""
        return self.concept_of(data.get(element), element, required=required)

    def concept_of(self, value: object, element: str, *, required: bool) -> list[Any]:
        if value is None:
            if required:
                self.fail("REQUIRED", f"{element} is required (a coding or a text)", element)
            return []
        if not isinstance(value, dict):
            self.fail("CODEABLE_CONCEPT", "expected a CodeableConcept", element)
            return []
        codings = value.get("coding", [])
        if not isinstance(codings, list) or not all(
            isinstance(c, dict) and isinstance(c.get("code", ""), str) for c in codings
        ):
            self.fail("CODING_INVALID", "coding is a list of {system, code}", f"{element}.coding")
            return []
        coded = [c for c in codings if c.get("code")]
        if not coded and not (isinstance(value.get("text"), str) and value["text"].strip()):
            self.fail("REQUIRED", f"{element} needs a coding with a code, or a text", element)
        return coded

    def status(
        self, data: dict[str, Any], element: str, system: str, allowed: Collection[str]
    ) -> None:
        """A status CodeableConcept bound to one HL7 code system (required binding)."""
        for i, coding in enumerate(self.concept(data, element, required=False)):
            if coding.get("system", system) != system:
                self.fail(
                    "CODE_SYSTEM", f"{element} is coded in {system}", f"{element}.coding[{i}]"
                )
            elif coding["code"] not in allowed:
                self.fail(
                    "CODE_INVALID",
                    f"{coding['code']!r}: one of {', '.join(allowed)}",
                    f"{element}.coding[{i}].code",
                )

    def code(
        self, data: dict[str, Any], element: str, allowed: Collection[str], *, required: bool
    ) -> None:
        value = data.get(element)
        if value is None:
            if required:
                self.fail("REQUIRED", f"{element} is required", element)
        elif value not in allowed:
            self.fail("CODE_INVALID", f"{value!r}: one of {', '.join(allowed)}", element)

    def codes(self, data: dict[str, Any], element: str, allowed: Collection[str]) -> None:
        values = data.get(element, [])
        if not isinstance(values, list):
            self.fail("CODE_INVALID", f"{element} is a list of codes", element)
            return
        for i, value in enumerate(values):
            if value not in allowed:
                self.fail(
                    "CODE_INVALID", f"{value!r}: one of {', '.join(allowed)}", f"{element}[{i}]"
                )

    def when(self, data: dict[str, Any], element: str, *, past: bool = True) -> datetime | None:
        """A FHIR date or dateTime (year, year-month, date, or a time with its offset);
        `past`: not after today (a vaccination or an onset has happened)."""
        value = data.get(element)
        if value is None:
            return None
        start = _instant(value)
        if start is None:
            self.fail(
                "DATE_INVALID",
                f"{value!r} is not a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD or a time with offset)",
                element,
            )
            return None
        if past and _later_than_now(value, start, self.now):
            self.fail("DATE_IN_FUTURE", f"{value} is in the future", element)
        return start

    def texts(self, data: dict[str, Any], element: str) -> None:
        value = data.get(element)
        if value is not None and not (isinstance(value, str) and value.strip()):
            self.fail("STRING_INVALID", f"{element} is a non-empty string", element)


def _instant(value: object) -> datetime | None:
    """The first instant a FHIR date/dateTime covers (dates at midnight UTC, enough to
    order them), or None when malformed."""
    if not isinstance(value, str):
        return None
    try:
        if len(value) == 4 and value.isdigit():
            return datetime.fromisoformat(f"{value}-01-01T00:00:00+00:00")
        if len(value) == 7:
            return datetime.fromisoformat(f"{date.fromisoformat(value + '-01')}T00:00:00+00:00")
        if len(value) == 10:
            return datetime.fromisoformat(f"{date.fromisoformat(value)}T00:00:00+00:00")
        if "T" not in value:
            return None
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None  # FHIR: a time has its offset


def _later_than_now(value: str, start: datetime, now: datetime) -> bool:
    if "T" in value:
        return start > now + CLOCK_SKEW
    # A date (or month, or year) is in the future when it starts after today, in France.
    return start.date() > local_date(now)


def _allergy(check: _Checker, data: dict[str, Any]) -> None:
    check.status(data, "clinicalStatus", ALLERGY_CLINICAL, ("active", "inactive", "resolved"))
    check.status(
        data, "verificationStatus", ALLERGY_VERIFICATION, ("unconfirmed", "confirmed", "refuted")
    )
    check.code(data, "type", ("allergy", "intolerance"), required=False)
    check.codes(data, "category", ("food", "medication", "environment", "biologic"))
    check.code(data, "criticality", ("low", "high", "unable-to-assess"), required=False)
    check.concept(data, "code", required=True)  # what the patient reacts to
    for element in ("onsetDateTime", "recordedDate", "lastOccurrence"):
        check.when(data, element)
    reactions = data.get("reaction", [])
    if not isinstance(reactions, list):
        check.fail("REACTION_INVALID", "reaction is a list", "reaction")
        return
    for i, reaction in enumerate(reactions):
        manifestations = reaction.get("manifestation") if isinstance(reaction, dict) else None
        if not isinstance(manifestations, list) or not manifestations:
            check.fail(
                "REQUIRED", "each reaction names its manifestations", f"reaction[{i}].manifestation"
            )
            continue
        for j, manifestation in enumerate(manifestations):
            check.concept_of(manifestation, f"reaction[{i}].manifestation[{j}]", required=True)
        check.code(reaction, "severity", ("mild", "moderate", "severe"), required=False)


def _blood_group(check: _Checker, data: dict[str, Any]) -> None:
    codings = check.concept(data, "code", required=True)
    if isinstance(data.get("code"), dict) and not any(
        c.get("system") == LOINC_SYSTEM and c["code"] == BLOOD_GROUP for c in codings
    ):
        check.fail(
            "OBSERVATION_CODE_UNSUPPORTED",
            f"the profile's only Observation is the blood group ({LOINC_SYSTEM}|{BLOOD_GROUP})",
            "code",
        )
    check.code(
        data,
        "status",
        ("registered", "preliminary", "final", "amended", "corrected"),
        required=True,
    )
    for element in _OTHER_VALUES:
        if element in data:
            check.fail("VALUE_TYPE", "a blood group is a valueCodeableConcept", element)
    values = check.concept(data, "valueCodeableConcept", required=True)
    if isinstance(data.get("valueCodeableConcept"), dict) and not any(
        c.get("system") == SNOMED and c["code"] in BLOOD_GROUPS for c in values
    ):
        check.fail(
            "BLOOD_GROUP_UNKNOWN",
            f"the value is one of the 8 ABO-Rh(D) groups of {SNOMED} ({', '.join(BLOOD_GROUPS)})",
            "valueCodeableConcept",
        )
    check.when(data, "effectiveDateTime")
    check.when(data, "issued")


def _condition(check: _Checker, data: dict[str, Any]) -> None:
    clinical = ("active", "recurrence", "relapse", "inactive", "remission", "resolved")
    check.status(data, "clinicalStatus", CONDITION_CLINICAL, clinical)
    verification = ("unconfirmed", "provisional", "differential", "confirmed", "refuted")
    check.status(data, "verificationStatus", CONDITION_VERIFICATION, verification)
    categories = data.get("category", [])
    if not isinstance(categories, list):
        check.fail("CATEGORY_INVALID", "category is a list of CodeableConcept", "category")
    check.concept(data, "code", required=True)  # which condition
    onset = check.when(data, "onsetDateTime")
    abatement = check.when(data, "abatementDateTime")
    if onset and abatement and abatement < onset:
        check.fail("DATE_ORDER", "the condition cannot end before its onset", "abatementDateTime")
    check.when(data, "recordedDate")


def _immunization(check: _Checker, data: dict[str, Any]) -> None:
    # entered-in-error is what DELETE does; a client does not set it.
    check.code(data, "status", ("completed", "not-done"), required=True)
    check.concept(data, "vaccineCode", required=True)
    if "occurrenceDateTime" not in data and "occurrenceString" not in data:
        check.fail("REQUIRED", "when the vaccine was given (occurrenceDateTime)", "occurrence")
    check.when(data, "occurrenceDateTime")
    check.texts(data, "occurrenceString")
    check.when(data, "recorded")
    check.when(data, "expirationDate", past=False)
    check.texts(data, "lotNumber")


def _related_person(check: _Checker, data: dict[str, Any]) -> None:
    roles = roles_of(data) if isinstance(data.get("relationship"), list) else frozenset()
    emergency = bool(roles & EMERGENCY_CONTACT_CODES)
    if not emergency and (DMP_RELATIONSHIP, PERSON_OF_TRUST) not in roles:
        check.fail(
            "RELATIONSHIP_REQUIRED",
            "a contact of the profile is an emergency contact "
            "(http://terminology.hl7.org/CodeSystem/v2-0131|C) or the person of trust "
            f"({DMP_RELATIONSHIP}|{PERSON_OF_TRUST})",
            "relationship",
        )
    names = data.get("name")
    if not isinstance(names, list) or not any(
        isinstance(n, dict) and (n.get("family") or n.get("text")) for n in names
    ):
        check.fail("REQUIRED", "the person's name (family or text)", "name")
    telecom = data.get("telecom")
    reachable = isinstance(telecom, list) and any(
        isinstance(t, dict) and isinstance(t.get("value"), str) and t["value"].strip()
        for t in telecom
    )
    if emergency and not reachable:
        check.fail("REQUIRED", "an emergency contact has a phone number or e-mail", "telecom")
    if "active" in data and not isinstance(data["active"], bool):
        check.fail("BOOLEAN", "active is true or false", "active")
    check.when(data, "birthDate")
    check.code(data, "gender", ("male", "female", "other", "unknown"), required=False)


_CHECKS: dict[ProfileKind, Callable[[_Checker, dict[str, Any]], None]] = {
    ProfileKind.ALLERGY_INTOLERANCE: _allergy,
    ProfileKind.OBSERVATION: _blood_group,
    ProfileKind.CONDITION: _condition,
    ProfileKind.IMMUNIZATION: _immunization,
    ProfileKind.RELATED_PERSON: _related_person,
}
