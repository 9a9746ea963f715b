"""The health profile's rules, pure (issue 4; RULES R3, R5, R7–R10, R14, R15): who may
do what on each kind of entry (the access policy's *_PROFILE actions, table-driven, the
expectations written out from the rules and the matrix's reviewed defaults), what a
resource must hold to be stored (every fault named by its FHIRPath), and an entry's
versions and logical deletion."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dmp.domain.access import (
    Action,
    CareLink,
    Emergency,
    EmergencyKind,
    RecordFacts,
    Request,
    decide,
)
from dmp.domain.actors import Actor, Role
from dmp.domain.audit import AuditAction, Purpose
from dmp.domain.errors import Conflict, DomainError, InvalidInput, PreconditionFailed
from dmp.domain.matrix import Category, default_matrix
from dmp.domain.profile import (
    CATEGORY,
    EntryStatus,
    ProfileEntry,
    ProfileKind,
    ProfileQuery,
    check_one_person_of_trust,
    check_version,
    entered_in_error,
    matches,
    new_entry,
    revise,
)
from dmp.domain.profile_validation import check_resource
from dmp.domain.records import RecordStatus
from tests.personas import ALICE, BOB, LEO
from tests.profile_builders import (
    BUILDERS,
    allergy,
    assert_valid_fhir,
    blood_group,
    condition,
    emergency_contact,
    immunization,
    person_of_trust,
)

NOW = datetime(2019, 3, 1, 12, 0, tzinfo=UTC)
MATRIX = default_matrix()
ALICE_RECORD = RecordFacts(ALICE.ins, RecordStatus.OPEN, ALICE.birth_date)
LEO_RECORD = RecordFacts(LEO.ins, RecordStatus.OPEN, LEO.birth_date, frozenset({"parent-1"}))
HOLDER = Actor(Role.PATIENT, ALICE.ins)
DR_AUTHOR = "10000000027"
KINDS = list(ProfileKind)
PROFILE_ACTIONS = [
    Action.SEARCH_PROFILE,
    Action.READ_PROFILE,
    Action.WRITE_PROFILE,
    Action.DELETE_PROFILE,
]


def pro(profession: str, rpps: str = "10000000043") -> Actor:
    return Actor(Role.PROFESSIONAL, rpps, profession=profession, organisation="750000010")


def entry(kind: ProfileKind, author: str = DR_AUTHOR, ins: str = ALICE.ins) -> ProfileEntry:
    checked = check_resource(BUILDERS[kind](ins), kind, NOW)
    return new_entry(checked, f"id-{kind.value}", author, "professional", NOW - timedelta(days=2))


def ask(
    actor: Actor,
    action: Action,
    kind: ProfileKind,
    *,
    existing: ProfileEntry | None = None,
    record: RecordFacts = ALICE_RECORD,
    link: CareLink | None = None,
    emergency: Emergency | None = None,
) -> bool:
    """The policy's answer; `existing` is the entry acted on (none: a creation)."""
    request = Request(
        actor,
        action,
        record,
        NOW,
        MATRIX,
        link or CareLink(),
        emergency,
        existing.facts() if existing else None,
        CATEGORY[kind],
    )
    return decide(request).allowed


# ------------------------------------------------------------------ which category


def test_r10_each_kind_is_judged_as_a_document_of_its_category() -> None:
    assert CATEGORY == {
        ProfileKind.ALLERGY_INTOLERANCE: Category.SYNTHESE,
        ProfileKind.OBSERVATION: Category.SYNTHESE,
        ProfileKind.CONDITION: Category.SYNTHESE,
        ProfileKind.IMMUNIZATION: Category.TRAITEMENT_ADMINISTRE,
        ProfileKind.RELATED_PERSON: Category.DEPOSE_PAR_PATIENT,
    }


def test_r16_every_profile_action_is_an_audited_action() -> None:
    assert {a.value for a in PROFILE_ACTIONS} <= {a.value for a in AuditAction}


# ------------------------------------------------------------------ the holder (R5, R3)


@pytest.mark.parametrize("kind", KINDS)
def test_r5_the_holder_writes_and_deletes_every_entry_of_her_profile_whoever_wrote_it(
    kind: ProfileKind,
) -> None:
    by_doctor, by_her = entry(kind), entry(kind, author=ALICE.ins)
    for action in PROFILE_ACTIONS:
        assert ask(HOLDER, action, kind), action
        assert ask(HOLDER, action, kind, existing=by_doctor), action
        assert ask(HOLDER, action, kind, existing=by_her), action
    if CATEGORY[kind] is not Category.DEPOSE_PAR_PATIENT:
        # ... where a document of the same category is not hers to change (R7).
        assert not ask(HOLDER, Action.WRITE_DOCUMENT, kind, existing=by_doctor)


@pytest.mark.parametrize("kind", KINDS)
def test_r3_a_minors_representatives_keep_his_profile_and_he_does_not(kind: ProfileKind) -> None:
    parent, leo = Actor(Role.REPRESENTATIVE, "parent-1"), Actor(Role.PATIENT, LEO.ins)
    stored = entry(kind, ins=LEO.ins)
    for action in PROFILE_ACTIONS:
        assert ask(parent, action, kind, existing=stored, record=LEO_RECORD), action
        assert not ask(leo, action, kind, existing=stored, record=LEO_RECORD), action
        stranger = Actor(Role.REPRESENTATIVE, "stranger")
        assert not ask(stranger, action, kind, existing=stored, record=LEO_RECORD), action


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("action", PROFILE_ACTIONS)
def test_r8_another_patient_gets_nothing(kind: ProfileKind, action: Action) -> None:
    assert not ask(Actor(Role.PATIENT, BOB.ins), action, kind, existing=entry(kind))


def test_r4_a_closed_record_has_no_profile_to_change() -> None:
    closed = replace(ALICE_RECORD, status=RecordStatus.CLOSED)
    for action in PROFILE_ACTIONS:
        assert not ask(HOLDER, action, ProfileKind.ALLERGY_INTOLERANCE, record=closed)
        assert not ask(
            pro("10", DR_AUTHOR),
            action,
            ProfileKind.ALLERGY_INTOLERANCE,
            record=closed,
            link=CareLink(medecin_traitant=True),
        )


# ------------------------------------------------------------ professionals (R8–R10)

# What an authorised professional may do, per kind: (reads, creates) — from the matrix's
# reviewed defaults: doctors write the synthesis and vaccinations; pharmacists, nurses
# and physiotherapists record treatments given (vaccinations); nobody but the holder
# designates contacts; a lab technician (86) reads none of it.
AUTHORISED = {
    "10": {k: (True, k is not ProfileKind.RELATED_PERSON) for k in KINDS},
    "21": {k: (True, k is ProfileKind.IMMUNIZATION) for k in KINDS},
    "60": {k: (True, k is ProfileKind.IMMUNIZATION) for k in KINDS},
    "70": {k: (True, k is ProfileKind.IMMUNIZATION) for k in KINDS},
    "86": {k: (False, False) for k in KINDS},
}


@pytest.mark.parametrize("profession", sorted(AUTHORISED))
@pytest.mark.parametrize("kind", KINDS)
def test_r8_r10_an_authorised_professional_reads_and_creates_what_the_matrix_says(
    profession: str, kind: ProfileKind
) -> None:
    reads, creates = AUTHORISED[profession][kind]
    actor, link = pro(profession), CareLink(authorised=True)
    assert ask(actor, Action.SEARCH_PROFILE, kind, link=link)
    assert ask(actor, Action.READ_PROFILE, kind, existing=entry(kind), link=link) is reads
    assert ask(actor, Action.WRITE_PROFILE, kind, link=link) is creates


@pytest.mark.parametrize("kind", [k for k in KINDS if k is not ProfileKind.RELATED_PERSON])
def test_r7_a_doctor_changes_his_own_entries_only(kind: ProfileKind) -> None:
    author, other = pro("10", DR_AUTHOR), pro("10")
    link = CareLink(authorised=True)
    own = entry(kind)
    for action in (Action.WRITE_PROFILE, Action.DELETE_PROFILE):
        assert ask(author, action, kind, existing=own, link=link), action
        assert not ask(other, action, kind, existing=own, link=link), action
        # R11: the médecin traitant reads everything but changes only his own entries.
        mt = CareLink(authorised=True, medecin_traitant=True)
        assert not ask(other, action, kind, existing=own, link=mt), action
    assert ask(other, Action.READ_PROFILE, kind, existing=own, link=link)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("action", PROFILE_ACTIONS)
def test_r8_r9_unauthorised_and_blocked_professionals_get_nothing(
    kind: ProfileKind, action: Action
) -> None:
    for link in (
        CareLink(),
        CareLink(authorised=True, blocked=True),
        CareLink(medecin_traitant=True, blocked=True),
    ):
        assert not ask(pro("10", DR_AUTHOR), action, kind, existing=entry(kind), link=link)


NEVER = [
    Actor(Role.COMPLEMENTARY_INSURER, "mutuelle-1"),
    Actor(Role.EMPLOYER, "employer-1"),
    Actor(Role.OCCUPATIONAL_DOCTOR, "10000000035", profession="10"),
    Actor(Role.ANONYMOUS, "anonymous"),
    Actor(Role.INSURER_AGENT, "CPAM75-desk-3"),
    Actor(Role.OPERATOR, "operator-1"),
]


@pytest.mark.parametrize("actor", NEVER, ids=lambda a: a.role.value)
def test_r15_never_roles_read_or_change_no_profile_even_when_linked(actor: Actor) -> None:
    full = CareLink(authorised=True, medecin_traitant=True, full_rights=True)
    for kind in KINDS:
        for action in PROFILE_ACTIONS:
            assert not ask(actor, action, kind, existing=entry(kind), link=full), (kind, action)


@pytest.mark.parametrize("kind", list(EmergencyKind))
def test_r14_in_an_emergency_a_doctor_reads_allergies_blood_group_and_contacts(
    kind: EmergencyKind,
) -> None:
    er = pro("10", "10000000050")
    during = Emergency(kind, "inconsciente", NOW - timedelta(hours=1), NOW + timedelta(hours=23))
    for profile_kind in KINDS:
        stored = entry(profile_kind)
        request = Request(
            er, Action.READ_PROFILE, ALICE_RECORD, NOW, MATRIX, CareLink(), during, stored.facts()
        )
        decision = decide(request)
        assert decision.allowed, profile_kind
        assert decision.purpose is Purpose.EMERGENCY
    assert ask(er, Action.SEARCH_PROFILE, ProfileKind.ALLERGY_INTOLERANCE, emergency=during)
    refused = replace(ALICE_RECORD, refused=frozenset({kind}))
    stored = entry(ProfileKind.ALLERGY_INTOLERANCE)
    assert not ask(
        er,
        Action.READ_PROFILE,
        ProfileKind.ALLERGY_INTOLERANCE,
        existing=stored,
        record=refused,
        emergency=during,
    )
    expired = replace(during, expires_at=NOW - timedelta(minutes=1))
    assert not ask(
        er, Action.READ_PROFILE, ProfileKind.ALLERGY_INTOLERANCE, existing=stored, emergency=expired
    )


def test_r7_a_deleted_entry_is_read_by_its_author_only() -> None:
    gone = entered_in_error(entry(ProfileKind.CONDITION), NOW)
    link = CareLink(authorised=True)
    assert ask(pro("10", DR_AUTHOR), Action.READ_PROFILE, gone.kind, existing=gone, link=link)
    assert not ask(pro("10"), Action.READ_PROFILE, gone.kind, existing=gone, link=link)
    assert not ask(HOLDER, Action.READ_PROFILE, gone.kind, existing=gone)


# ------------------------------------------------------------------ validation (R5)


@pytest.mark.parametrize(
    "resource",
    [
        allergy(),
        blood_group(),
        condition(),
        immunization(),
        emergency_contact(),
        person_of_trust(),
    ],
    ids=lambda r: (
        r["resourceType"] + ("/trust" if r["name"][0]["family"] == "Durand" else "")
        if r["resourceType"] == "RelatedPerson"
        else r["resourceType"]
    ),
)
def test_r5_a_complete_resource_is_accepted_and_kept_as_sent(resource: dict[str, Any]) -> None:
    kind = ProfileKind(resource["resourceType"])
    checked = check_resource({**resource, "id": "client-id"}, kind, NOW)
    assert (checked.kind, checked.ins) == (kind, ALICE.ins)
    assert checked.body == resource  # the client's id is ignored on create, nothing else
    emitted = new_entry(checked, "e1", ALICE.ins, "patient", NOW).resource()
    assert emitted["id"] == "e1"
    assert emitted["meta"] == {"versionId": "1", "lastUpdated": "2019-03-01T12:00:00Z"}
    assert_valid_fhir(emitted)


def faults(data: object, kind: ProfileKind, entry_id: str | None = None) -> set[tuple[str, str]]:
    """(code, FHIRPath) of every fault check_resource finds."""
    with pytest.raises(DomainError) as caught:
        check_resource(data, kind, NOW, entry_id)
    errors = getattr(caught.value, "errors", (caught.value,))
    assert all(isinstance(e, InvalidInput) for e in errors)
    return {(e.code, e.field or "") for e in errors}


A, O, C, I, R = (  # noqa: E741 - one letter per kind keeps the table readable
    ProfileKind.ALLERGY_INTOLERANCE,
    ProfileKind.OBSERVATION,
    ProfileKind.CONDITION,
    ProfileKind.IMMUNIZATION,
    ProfileKind.RELATED_PERSON,
)
WRONG_KEY = ALICE.ins[:13] + f"{(int(ALICE.ins[13:]) + 1) % 100:02d}"


def without(resource: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k not in names}


@pytest.mark.parametrize(
    ("kind", "resource", "fault"),
    [
        (A, without(allergy(), "code"), ("REQUIRED", "AllergyIntolerance.code")),
        (A, allergy(code={"coding": []}), ("REQUIRED", "AllergyIntolerance.code")),
        (A, allergy(criticality="huge"), ("CODE_INVALID", "AllergyIntolerance.criticality")),
        (A, allergy(category=["pets"]), ("CODE_INVALID", "AllergyIntolerance.category[0]")),
        (
            A,
            allergy(reaction=[{"severity": "mild"}]),
            ("REQUIRED", "AllergyIntolerance.reaction[0].manifestation"),
        ),
        (
            A,
            allergy(verificationStatus={"coding": [{"code": "entered-in-error"}]}),
            ("CODE_INVALID", "AllergyIntolerance.verificationStatus.coding[0].code"),
        ),
        (A, allergy(allergen="pollen"), ("ELEMENT_UNKNOWN", "AllergyIntolerance.allergen")),
        (A, without(allergy(), "patient"), ("SUBJECT_REQUIRED", "AllergyIntolerance.patient")),
        (
            A,
            allergy(patient={"reference": f"Group/{ALICE.ins}"}),
            ("SUBJECT_NOT_A_PATIENT", "AllergyIntolerance.patient.reference"),
        ),
        (
            A,
            allergy(patient={"identifier": {"system": "urn:oid:1.2.3", "value": ALICE.ins}}),
            ("IDENTIFIER_SYSTEM", "AllergyIntolerance.patient.identifier.system"),
        ),
        (
            A,
            allergy(
                patient={
                    "reference": f"Patient/{ALICE.ins}",
                    "identifier": {"system": "urn:oid:1.2.250.1.213.1.4.8", "value": BOB.ins},
                }
            ),
            ("SUBJECT_INCONSISTENT", "AllergyIntolerance.patient"),
        ),
        (A, allergy(onsetDateTime="2004-13"), ("DATE_INVALID", "AllergyIntolerance.onsetDateTime")),
        (
            A,
            allergy(onsetDateTime="2019-03-01T10:00:00"),  # a time without its offset
            ("DATE_INVALID", "AllergyIntolerance.onsetDateTime"),
        ),
        (
            O,
            blood_group(code={"coding": [{"system": "http://loinc.org", "code": "2339-0"}]}),
            ("OBSERVATION_CODE_UNSUPPORTED", "Observation.code"),
        ),
        (
            O,
            blood_group(code={"text": "Groupe sanguin"}),
            ("OBSERVATION_CODE_UNSUPPORTED", "Observation.code"),
        ),
        (
            O,
            blood_group(group="112144000"),
            ("BLOOD_GROUP_UNKNOWN", "Observation.valueCodeableConcept"),
        ),
        (
            O,
            without(blood_group(), "valueCodeableConcept"),
            ("REQUIRED", "Observation.valueCodeableConcept"),
        ),
        (
            O,
            {**without(blood_group(), "valueCodeableConcept"), "valueString": "O+"},
            ("VALUE_TYPE", "Observation.valueString"),
        ),
        (O, without(blood_group(), "status"), ("REQUIRED", "Observation.status")),
        (O, blood_group(status="entered-in-error"), ("CODE_INVALID", "Observation.status")),
        (
            C,
            condition(
                subject={
                    "identifier": {"system": "urn:oid:1.2.250.1.213.1.4.8", "value": WRONG_KEY}
                }
            ),
            ("INS_KEY", "Condition.subject.identifier.value"),
        ),
        (
            C,
            condition(onsetDateTime="2010", abatementDateTime="2005"),
            ("DATE_ORDER", "Condition.abatementDateTime"),
        ),
        (
            C,
            condition(
                clinicalStatus={"coding": [{"system": "http://snomed.info/sct", "code": "active"}]}
            ),
            ("CODE_SYSTEM", "Condition.clinicalStatus.coding[0]"),
        ),
        (
            I,
            immunization(occurrenceDateTime="2019-03-02"),
            ("DATE_IN_FUTURE", "Immunization.occurrenceDateTime"),
        ),
        (
            I,
            immunization(occurrenceDateTime="2019-03-01T14:00:00+01:00"),
            ("DATE_IN_FUTURE", "Immunization.occurrenceDateTime"),
        ),
        (I, without(immunization(), "occurrenceDateTime"), ("REQUIRED", "Immunization.occurrence")),
        (I, without(immunization(), "vaccineCode"), ("REQUIRED", "Immunization.vaccineCode")),
        (I, immunization(status="entered-in-error"), ("CODE_INVALID", "Immunization.status")),
        (
            R,
            emergency_contact(relationship=[{"text": "Voisin"}]),
            ("RELATIONSHIP_REQUIRED", "RelatedPerson.relationship"),
        ),
        (R, without(emergency_contact(), "telecom"), ("REQUIRED", "RelatedPerson.telecom")),
        (R, emergency_contact(name=[{"given": ["Paul"]}]), ("REQUIRED", "RelatedPerson.name")),
    ],
    ids=lambda v: v[1] if isinstance(v, tuple) else None,
)
def test_r5_an_incomplete_or_wrong_resource_is_refused_naming_the_element(
    kind: ProfileKind, resource: dict[str, Any], fault: tuple[str, str]
) -> None:
    assert fault in faults(resource, kind)


def test_every_fault_of_a_resource_is_reported_at_once() -> None:
    bad = without(immunization(occurrenceDateTime="2030-01-01", status="given"), "vaccineCode")
    assert faults(bad, I) == {
        ("DATE_IN_FUTURE", "Immunization.occurrenceDateTime"),
        ("CODE_INVALID", "Immunization.status"),
        ("REQUIRED", "Immunization.vaccineCode"),
    }


def test_dates_of_the_day_in_france_and_expiry_dates_in_the_future_are_accepted() -> None:
    late = datetime(2019, 3, 1, 23, 30, tzinfo=UTC)  # already 2 March in Paris
    check_resource(immunization(occurrenceDateTime="2019-03-02"), I, late)
    check_resource(immunization(expirationDate="2031-12-31"), I, NOW)
    check_resource(person_of_trust(telecom=[]), R, NOW)  # a person of trust needn't a phone


def test_a_resource_of_another_type_or_no_resource_at_all_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_resource(condition(), A, NOW)
    assert (caught.value.code, caught.value.field) == ("RESOURCE_TYPE_MISMATCH", "resourceType")
    with pytest.raises(InvalidInput) as caught:
        check_resource({"resourceType": "Patient"}, A, NOW)
    assert (caught.value.code, caught.value.field) == ("RESOURCE_TYPE_UNSUPPORTED", "resourceType")
    with pytest.raises(InvalidInput) as caught:
        check_resource([allergy()], A, NOW)
    assert caught.value.code == "RESOURCE_INVALID"


def test_an_update_names_its_entry() -> None:
    assert faults({**allergy(), "id": "other"}, A, "e1") == {
        ("ID_MISMATCH", "AllergyIntolerance.id")
    }
    check_resource({**allergy(), "id": "e1"}, A, NOW, "e1")
    check_resource(allergy(), A, NOW, "e1")  # the URL names it


# -------------------------------------------------------- versions and deletion (R7)


def test_each_change_makes_a_version_and_an_outdated_one_is_refused() -> None:
    first = entry(ProfileKind.ALLERGY_INTOLERANCE)
    check_version(first, None)
    check_version(first, 1)
    changed = revise(first, check_resource(allergy(criticality="low"), A, NOW), NOW)
    assert (changed.version, changed.updated_at, changed.body["criticality"]) == (2, NOW, "low")
    assert changed.resource()["meta"]["versionId"] == "2"
    with pytest.raises(PreconditionFailed) as caught:
        check_version(changed, 1)
    assert (caught.value.code, caught.value.field) == ("VERSION_CONFLICT", "If-Match")


def test_an_entry_stays_in_its_patients_record_and_a_deleted_one_is_not_revived() -> None:
    first = entry(ProfileKind.ALLERGY_INTOLERANCE)
    with pytest.raises(InvalidInput) as caught:
        revise(first, check_resource(allergy(BOB.ins), A, NOW), NOW)
    assert (caught.value.code, caught.value.field) == (
        "SUBJECT_CHANGED",
        "AllergyIntolerance.patient",
    )
    gone = entered_in_error(first, NOW)
    with pytest.raises(Conflict):
        revise(gone, check_resource(allergy(), A, NOW), NOW)


@pytest.mark.parametrize("kind", KINDS)
def test_r7_deletion_is_logical_and_said_the_way_each_type_says_it(kind: ProfileKind) -> None:
    gone = entered_in_error(entry(kind), NOW)
    assert (gone.status, gone.version, gone.deleted) == (EntryStatus.ENTERED_IN_ERROR, 2, True)
    resource = gone.resource()
    assert_valid_fhir(resource)
    said = {
        A: lambda r: (
            r["verificationStatus"]["coding"][0]["code"] == "entered-in-error"
            and "clinicalStatus" not in r
        ),
        C: lambda r: (
            r["verificationStatus"]["coding"][0]["code"] == "entered-in-error"
            and "clinicalStatus" not in r
        ),
        O: lambda r: r["status"] == "entered-in-error",
        I: lambda r: r["status"] == "entered-in-error",
        R: lambda r: r["active"] is False,
    }
    assert said[kind](resource)
    assert not matches(gone, ProfileQuery(ALICE.ins, kind))  # gone from searches


def test_a_person_designates_one_person_of_trust() -> None:
    stored = new_entry(check_resource(person_of_trust(), R, NOW), "t1", ALICE.ins, "patient", NOW)
    second = check_resource(person_of_trust(name=[{"family": "Autre"}]), R, NOW)
    with pytest.raises(Conflict) as caught:
        check_one_person_of_trust(second, None, [stored])
    assert (caught.value.code, caught.value.field) == (
        "PERSON_OF_TRUST_EXISTS",
        "RelatedPerson.relationship",
    )
    check_one_person_of_trust(second, "t1", [stored])  # the same entry, updated
    check_one_person_of_trust(second, None, [entered_in_error(stored, NOW)])  # the old one gone
    check_one_person_of_trust(check_resource(emergency_contact(), R, NOW), None, [stored])


def test_an_observation_search_by_code_finds_the_blood_group() -> None:
    group = entry(ProfileKind.OBSERVATION)
    assert matches(group, ProfileQuery(ALICE.ins, O, frozenset({"882-1"})))
    assert not matches(group, ProfileQuery(ALICE.ins, O, frozenset({"2339-0"})))
    assert not matches(group, ProfileQuery(ALICE.ins, A))
