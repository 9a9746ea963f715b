"""The patient's health profile over FHIR, on SQLite and PostgreSQL (issue 4; RULES R3,
R5, R7–R12, R14–R16): the holder keeps it, professionals read and write it as the
matrix allows, intruders get exactly what a missing record gives, every access is in
the holder's history; and a real FHIR client (fhirpy) uses it over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import ResourceNotFound

from dmp.domain.actors import Role
from dmp.domain.profile import ProfileKind
from tests.api.conftest import (
    DR_STRANGER,
    INTRUDERS,
    RECORD,
    Bearer,
    Headers,
    TestClient,
    error_code,
    open_record,
    outcome,
    same_as_missing,
)
from tests.api.fhir.conftest import INS_QUERY, LiveServer
from tests.personas import ALICE, BOB, DR_BOB_RPPS, LEO
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

KINDS = list(ProfileKind)
LEO_QUERY = f"urn:oid:1.2.250.1.213.1.4.8|{LEO.ins}"
BOB_QUERY = f"urn:oid:1.2.250.1.213.1.4.8|{BOB.ins}"  # Bob has no record
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


def post(client: TestClient, headers: Headers, resource: dict[str, Any]) -> Any:
    return client.post(f"/fhir/{resource['resourceType']}", json=resource, headers=headers)


def created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    resource: dict[str, Any] = response.json()
    assert response.headers["etag"] == f'W/"{resource["meta"]["versionId"]}"'
    assert response.headers["location"].endswith(
        f"/fhir/{resource['resourceType']}/{resource['id']}"
    )
    assert_valid_fhir(resource)
    return resource


def search(
    client: TestClient, headers: Headers, kind: ProfileKind, query: str = INS_QUERY, **params: str
) -> dict[str, Any]:
    response = client.get(
        f"/fhir/{kind.value}", params={"patient.identifier": query, **params}, headers=headers
    )
    assert response.status_code == 200, response.text
    bundle: dict[str, Any] = response.json()
    assert bundle["type"] == "searchset"
    for entry in bundle["entry"]:
        assert_valid_fhir(entry["resource"])
    return bundle


def ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle["entry"]]


def history(client: TestClient, bearer: Bearer) -> list[tuple[str, str, str, str]]:
    """(action, outcome, actor id, purpose) of the holder's access history, newest first."""
    response = client.get(f"{RECORD}/history", params={"limit": 200}, headers=bearer.holder())
    assert response.status_code == 200, response.text
    return [
        (e["action"], e["outcome"], e["actor"]["id"], e["purpose"])
        for e in response.json()["events"]
    ]


def change_team(client: TestClient, bearer: Bearer, rpps: str, what: str) -> None:
    body = {"professional": rpps, "change": what}
    response = client.post(f"{RECORD}/care-team", json=body, headers=bearer.holder())
    assert response.status_code == 200, response.text


# -------------------------------------------------------------------- the holder (R5)


@pytest.mark.parametrize("kind", KINDS)
def test_r5_the_holder_creates_reads_finds_updates_and_deletes_each_kind(
    alice: TestClient, bearer: Bearer, kind: ProfileKind
) -> None:
    me = bearer.holder()
    resource = created(post(alice, me, BUILDERS[kind]()))
    assert resource["meta"]["versionId"] == "1"
    url = f"/fhir/{kind.value}/{resource['id']}"
    read = alice.get(url, headers=me)
    assert read.status_code == 200, read.text
    assert read.json() == resource
    assert read.headers["etag"] == 'W/"1"'
    found = search(alice, me, kind)
    assert (found["total"], ids(found)) == (1, [resource["id"]])
    assert found["entry"][0]["fullUrl"].endswith(url)

    local = [{"system": "urn:oid:1.2.250.1.999", "value": "carnet-12"}]
    changed = {**resource, "identifier": local}
    updated = alice.put(url, json=changed, headers={**me, "If-Match": 'W/"1"'})
    assert updated.status_code == 200, updated.text
    assert updated.json()["meta"]["versionId"] == "2"
    assert updated.json()["identifier"] == local
    assert alice.get(url, headers=me).json() == updated.json()

    deleted = alice.delete(url, headers=me)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["meta"]["versionId"] == "3"
    assert_valid_fhir(deleted.json())
    assert search(alice, me, kind)["total"] == 0  # R7: gone from the profile
    assert alice.get(url, headers=me).json()["meta"]["versionId"] == "3"  # her own, by id


def test_r3_a_minors_representative_keeps_his_profile_and_the_minor_does_not(
    leo: TestClient, bearer: Bearer
) -> None:
    parent = bearer.representative()
    resource = created(post(leo, parent, immunization(LEO.ins)))
    assert search(leo, parent, ProfileKind.IMMUNIZATION, LEO_QUERY)["total"] == 1
    minor = bearer.holder(LEO.ins)
    assert search(leo, minor, ProfileKind.IMMUNIZATION, LEO_QUERY)["total"] == 0
    read = leo.get(f"/fhir/Immunization/{resource['id']}", headers=minor)
    assert error_code(outcome(read, 404)) == "ENTRY_NOT_FOUND"
    assert post(leo, minor, allergy(LEO.ins)).status_code == 404


def test_r5_a_person_designates_one_person_of_trust(alice: TestClient, bearer: Bearer) -> None:
    me = bearer.holder()
    first = created(post(alice, me, person_of_trust()))
    issue = outcome(post(alice, me, person_of_trust(name=[{"family": "Autre"}])), 409)
    assert (error_code(issue), issue["expression"]) == (
        "PERSON_OF_TRUST_EXISTS",
        ["RelatedPerson.relationship"],
    )
    assert search(alice, me, ProfileKind.RELATED_PERSON)["total"] == 1
    # She changes her mind: the person of trust becomes a mere emergency contact...
    demoted = emergency_contact(name=first["name"])
    url = f"/fhir/RelatedPerson/{first['id']}"
    assert alice.put(url, json=demoted, headers=me).status_code == 200
    # ... and she designates another.
    created(post(alice, me, person_of_trust(name=[{"family": "Autre"}])))


# ------------------------------------------------------- professionals (R7, R8, R10)


def test_r8_r10_r7_an_authorised_doctor_reads_the_profile_and_writes_his_own_entries(
    doctor_record: TestClient, bearer: Bearer
) -> None:
    me, dr = bearer.holder(), bearer.professional()
    hers = created(post(doctor_record, me, allergy()))
    assert ids(search(doctor_record, dr, ProfileKind.ALLERGY_INTOLERANCE)) == [hers["id"]]
    assert (
        doctor_record.get(f"/fhir/AllergyIntolerance/{hers['id']}", headers=dr).status_code == 200
    )

    his = created(post(doctor_record, dr, condition()))
    assert ids(search(doctor_record, me, ProfileKind.CONDITION)) == [his["id"]]
    his_url = f"/fhir/Condition/{his['id']}"
    resolved = condition(clinicalStatus={"coding": [{"code": "resolved"}]})
    assert doctor_record.put(his_url, json=resolved, headers=dr).status_code == 200

    # R7: her entry is not his to change; R10: contacts are the holder's to designate.
    hers_url = f"/fhir/AllergyIntolerance/{hers['id']}"
    refused = doctor_record.put(hers_url, json=allergy(criticality="low"), headers=dr)
    assert error_code(outcome(refused, 404)) == "ENTRY_NOT_FOUND"
    assert error_code(outcome(doctor_record.delete(hers_url, headers=dr), 404)) == "ENTRY_NOT_FOUND"
    assert error_code(outcome(post(doctor_record, dr, emergency_contact()), 404)) == (
        "RECORD_NOT_FOUND"
    )
    assert doctor_record.get(hers_url, headers=me).json()["meta"]["versionId"] == "1"

    # R5: the holder changes and deletes what the doctor wrote.
    assert doctor_record.put(his_url, json=condition(), headers=me).status_code == 200
    assert doctor_record.delete(his_url, headers=me).status_code == 200
    assert search(doctor_record, dr, ProfileKind.CONDITION)["total"] == 0


def test_r10_the_pharmacist_reads_the_profile_and_records_vaccinations_only(
    alice: TestClient, bearer: Bearer
) -> None:
    created(post(alice, bearer.holder(), allergy()))
    pharmacist = bearer.pharmacist()  # authorised: he opened the record (R8)
    assert search(alice, pharmacist, ProfileKind.ALLERGY_INTOLERANCE)["total"] == 1
    vaccination = created(post(alice, pharmacist, immunization()))
    assert search(alice, bearer.holder(), ProfileKind.IMMUNIZATION)["total"] == 1
    assert vaccination["id"] in ids(search(alice, pharmacist, ProfileKind.IMMUNIZATION))
    for refused in (allergy(), blood_group(), condition(), emergency_contact()):
        assert post(alice, pharmacist, refused).status_code == 404, refused["resourceType"]


# ---------------------------------------------------- nothing for intruders (R8, R9, R15)

OUTSIDERS = {
    **INTRUDERS,
    "blocked doctor": lambda b: b.professional(DR_BOB_RPPS),
    "complementary insurer": lambda b: b.token(Role.COMPLEMENTARY_INSURER, sub="mutuelle-1"),
    "employer": lambda b: b.token(Role.EMPLOYER, sub="employer-1"),
}


@pytest.mark.parametrize("who", OUTSIDERS)
def test_r8_r9_r15_outsiders_get_what_a_missing_record_gives_and_change_nothing(
    client: TestClient, bearer: Bearer, who: str
) -> None:
    headers = OUTSIDERS[who](bearer)
    # What they get before Alice has a record...
    missing = {kind: post(client, headers, BUILDERS[kind]()) for kind in KINDS}
    open_record(client, bearer)
    alice, me = client, bearer.holder()
    change_team(alice, bearer, DR_BOB_RPPS, "authorise")
    change_team(alice, bearer, DR_BOB_RPPS, "block")  # R9: with or without consent
    stored = {kind: created(post(alice, me, BUILDERS[kind]())) for kind in KINDS}
    # ... is what they get once she has one, with a profile.
    for kind, resource in stored.items():
        # Search: an empty searchset, as for a patient without a record (no count).
        found = search(alice, headers, kind)
        nobody = search(alice, headers, kind, BOB_QUERY)
        assert (found["total"], found["entry"]) == (0, []) == (nobody["total"], nobody["entry"])
        # Read, update, delete: the 404 an unknown id gives, but for the id itself.
        url, unknown = f"/fhir/{kind.value}/{resource['id']}", f"/fhir/{kind.value}/{UNKNOWN_ID}"
        body = BUILDERS[kind]()
        for method, kwargs in (("get", {}), ("put", {"json": body}), ("delete", {})):
            answer = alice.request(method, url, headers=headers, **kwargs)
            absent = alice.request(method, unknown, headers=headers, **kwargs)
            assert answer.status_code == absent.status_code == 404, (method, answer.text)
            assert answer.text.replace(resource["id"], UNKNOWN_ID) == absent.text
        # Create: the very 404 of a record that does not exist.
        same_as_missing(post(alice, headers, body), missing[kind])
    for kind, resource in stored.items():
        again = alice.get(f"/fhir/{kind.value}/{resource['id']}", headers=me).json()
        assert again == resource  # nothing changed
        assert search(alice, me, kind)["total"] == 1  # nothing added


def test_r4_a_closed_record_has_no_profile_for_professionals(
    doctor_record: TestClient, bearer: Bearer
) -> None:
    created(post(doctor_record, bearer.holder(), allergy()))
    closing = doctor_record.post(
        f"{RECORD}/close", json={"closed_by": "holder", "reason": "x"}, headers=bearer.holder()
    )
    assert closing.status_code == 200, closing.text
    found = search(doctor_record, bearer.professional(), ProfileKind.ALLERGY_INTOLERANCE)
    assert found["total"] == 0
    assert post(doctor_record, bearer.holder(), allergy()).status_code == 404


# ------------------------------------------------------------------ emergencies (R14)


def test_r14_an_emergency_doctor_reads_allergies_blood_group_and_contacts(
    alice: TestClient, bearer: Bearer
) -> None:
    me, er = bearer.holder(), bearer.professional(DR_STRANGER)
    for resource in (allergy(), blood_group(), emergency_contact(), person_of_trust()):
        created(post(alice, me, resource))
    assert search(alice, er, ProfileKind.ALLERGY_INTOLERANCE)["total"] == 0  # not yet
    bris = {"kind": "bris_de_glace", "reason": "inconsciente aux urgences"}
    assert alice.post(f"{RECORD}/emergency", json=bris, headers=er).status_code == 201
    allergies = search(alice, er, ProfileKind.ALLERGY_INTOLERANCE)
    assert allergies["entry"][0]["resource"]["code"]["text"] == "Pénicilline"
    group = search(alice, er, ProfileKind.OBSERVATION, code="http://loinc.org|882-1")
    assert group["entry"][0]["resource"]["valueCodeableConcept"]["coding"][0]["code"]
    assert search(alice, er, ProfileKind.RELATED_PERSON)["total"] == 2
    by_er = [(a, o, p) for a, o, who, p in history(alice, bearer) if who == DR_STRANGER]
    assert by_er[:3] == [("profile.search", "success", "emergency")] * 3
    assert ("profile.search", "denied", "normal") in by_er  # before the emergency


# --------------------------------------------------- versions, errors, parameters, audit


def test_an_update_on_an_outdated_version_is_412_and_changes_nothing(
    alice: TestClient, bearer: Bearer
) -> None:
    me = bearer.holder()
    resource = created(post(alice, me, allergy()))
    url = f"/fhir/AllergyIntolerance/{resource['id']}"
    first = alice.put(url, json=allergy(criticality="low"), headers={**me, "If-Match": 'W/"1"'})
    assert first.status_code == 200, first.text
    late = alice.put(url, json=allergy(criticality="high"), headers={**me, "If-Match": 'W/"1"'})
    issue = outcome(late, 412)
    assert (issue["code"], error_code(issue), issue["expression"]) == (
        "conflict",
        "VERSION_CONFLICT",
        ["If-Match"],
    )
    stale_delete = alice.delete(url, headers={**me, "If-Match": 'W/"1"'})
    assert error_code(outcome(stale_delete, 412)) == "VERSION_CONFLICT"
    now = alice.get(url, headers=me).json()
    assert (now["meta"]["versionId"], now["criticality"]) == ("2", "low")
    malformed = alice.put(url, json=allergy(), headers={**me, "If-Match": "v2"})
    assert outcome(malformed, 422)["expression"] == ["If-Match"]
    assert ("profile.write", "failed", ALICE.ins, "normal") in history(alice, bearer)


@pytest.mark.parametrize(
    ("path", "body", "code", "expression"),
    [
        ("AllergyIntolerance", {**allergy(), "code": None}, "REQUIRED", "AllergyIntolerance.code"),
        (
            "Observation",
            blood_group(code={"coding": [{"system": "http://loinc.org", "code": "2339-0"}]}),
            "OBSERVATION_CODE_UNSUPPORTED",
            "Observation.code",
        ),
        (
            "Immunization",
            immunization(occurrenceDateTime="2999-01-01"),
            "DATE_IN_FUTURE",
            "Immunization.occurrenceDateTime",
        ),
        (
            "RelatedPerson",
            emergency_contact(relationship=[{"text": "voisin"}]),
            "RELATIONSHIP_REQUIRED",
            "RelatedPerson.relationship",
        ),
        (
            "Condition",
            condition(subject={"reference": "Patient/123"}),
            "INS_LENGTH",
            "Condition.subject.reference",
        ),
        ("Condition", {**condition(), "severe": True}, "ELEMENT_UNKNOWN", "Condition.severe"),
        ("AllergyIntolerance", condition(), "RESOURCE_TYPE_MISMATCH", "resourceType"),
        ("Condition", {"resourceType": "Patient"}, "RESOURCE_TYPE_UNSUPPORTED", "resourceType"),
        ("Condition", "not json", "BODY_NOT_JSON", "Condition"),
    ],
    ids=lambda v: v if isinstance(v, str) and v.isupper() else None,
)
def test_an_invalid_resource_is_422_naming_the_element_and_nothing_is_stored(
    alice: TestClient, bearer: Bearer, path: str, body: Any, code: str, expression: str
) -> None:
    me = bearer.holder()
    if isinstance(body, str):
        response = alice.post(f"/fhir/{path}", content=body.encode(), headers=me)
    else:
        response = alice.post(f"/fhir/{path}", json=body, headers=me)
    issues = response.json().get("issue", [])
    assert outcome(response, 422)
    assert (code, [expression]) in [
        (i["details"]["coding"][0]["code"], i.get("expression")) for i in issues
    ]
    for kind in KINDS:
        assert search(alice, me, kind)["total"] == 0


@pytest.mark.parametrize(
    ("kind", "params", "name"),
    [
        (ProfileKind.ALLERGY_INTOLERANCE, {"code": "764146007"}, "code"),
        (ProfileKind.OBSERVATION, {"date": "2020"}, "date"),
        (ProfileKind.CONDITION, {"_sort": "-date"}, "_sort"),
        (ProfileKind.IMMUNIZATION, {"status": "completed"}, "status"),
        (ProfileKind.RELATED_PERSON, {"name": "Martin"}, "name"),
    ],
)
def test_an_unsupported_search_parameter_is_400_naming_it(
    alice: TestClient, bearer: Bearer, kind: ProfileKind, params: dict[str, str], name: str
) -> None:
    response = alice.get(
        f"/fhir/{kind.value}",
        params={"patient.identifier": INS_QUERY, **params},
        headers=bearer.holder(),
    )
    issue = outcome(response, 400)
    assert (issue["code"], error_code(issue), issue["expression"]) == (
        "not-supported",
        "PARAMETER_UNSUPPORTED",
        [name],
    )


def test_a_search_names_one_patient_and_pages_by_count(alice: TestClient, bearer: Bearer) -> None:
    me = bearer.holder()
    no_patient = alice.get("/fhir/Immunization", headers=me)
    assert outcome(no_patient, 422)["expression"] == ["patient.identifier"]
    for day in ("2001-01-01", "2002-01-01", "2003-01-01"):
        created(post(alice, me, immunization(occurrenceDateTime=day)))
    by_reference = alice.get(
        "/fhir/Immunization", params={"patient": f"Patient/{ALICE.ins}", "_count": "2"}, headers=me
    ).json()
    assert (by_reference["total"], len(by_reference["entry"])) == (3, 2)
    following = next(link["url"] for link in by_reference["link"] if link["relation"] == "next")
    rest = alice.get(following, headers=me).json()
    assert len(rest["entry"]) == 1
    assert set(ids(by_reference)).isdisjoint(ids(rest))
    created(post(alice, me, blood_group()))
    assert search(alice, me, ProfileKind.OBSERVATION, code="882-1")["total"] == 1
    assert search(alice, me, ProfileKind.OBSERVATION, code="http://loinc.org|2339-0")["total"] == 0


def test_r16_every_access_to_the_profile_is_in_the_holders_history(
    doctor_record: TestClient, bearer: Bearer
) -> None:
    me, dr, stranger = bearer.holder(), bearer.professional(), bearer.professional(DR_STRANGER)
    resource = created(post(doctor_record, me, allergy()))
    url = f"/fhir/AllergyIntolerance/{resource['id']}"
    doctor_record.get(url, headers=dr)
    search(doctor_record, dr, ProfileKind.ALLERGY_INTOLERANCE)
    doctor_record.get(url, headers=stranger)
    search(doctor_record, stranger, ProfileKind.ALLERGY_INTOLERANCE)
    post(doctor_record, stranger, condition())
    doctor_record.put(url, json=allergy(criticality="low"), headers=me)
    doctor_record.delete(url, headers=me)
    events = [e for e in history(doctor_record, bearer) if e[0].startswith("profile.")]
    assert [(a, o, who) for a, o, who, _ in events] == [
        ("profile.delete", "success", ALICE.ins),
        ("profile.write", "success", ALICE.ins),
        ("profile.write", "denied", DR_STRANGER),
        ("profile.search", "denied", DR_STRANGER),
        ("profile.read", "denied", DR_STRANGER),
        ("profile.search", "success", DR_BOB_RPPS),
        ("profile.read", "success", DR_BOB_RPPS),
        ("profile.write", "success", ALICE.ins),
    ]


def test_the_capability_statement_tells_what_the_profile_supports(alice: TestClient) -> None:
    statement = alice.get("/fhir/metadata").json()
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    for kind in KINDS:
        served = resources[kind.value]
        assert {i["code"] for i in served["interaction"]} == {
            "read",
            "search-type",
            "create",
            "update",
            "delete",
        }
        assert served["versioning"] == "versioned-update"
        names = {p["name"] for p in served["searchParam"]}
        assert names == {"patient", "patient.identifier"} | (
            {"code"} if kind is ProfileKind.OBSERVATION else set()
        )
    assert_valid_fhir(statement)


# ------------------------------------------------------------- a real FHIR client


def test_r5_fhirpy_keeps_a_profile_against_the_running_server(
    alice: TestClient, live_server: LiveServer
) -> None:
    """fhirpy (SyncFHIRClient) over HTTP: create, search, read, update, delete."""
    token = live_server.bearer.holder()["Authorization"]
    fhir = SyncFHIRClient(live_server.base, authorization=token)
    penicillin = fhir.resource("AllergyIntolerance", **allergy())
    penicillin.save()
    assert penicillin.id
    assert penicillin["meta"]["versionId"] == "1"
    fhir.resource("Observation", **blood_group()).save()

    found = fhir.resources("AllergyIntolerance").search(**{"patient.identifier": INS_QUERY}).fetch()
    assert [r.id for r in found] == [penicillin.id]
    group = (
        fhir.resources("Observation")
        .search(patient=f"Patient/{ALICE.ins}", code="http://loinc.org|882-1")
        .fetch()
    )
    assert group[0]["valueCodeableConcept"]["coding"][0]["code"] == "278147001"

    penicillin["criticality"] = "low"
    penicillin.save()
    again = fhir.reference("AllergyIntolerance", penicillin.id).to_resource()
    assert (again["criticality"], again["meta"]["versionId"]) == ("low", "2")

    penicillin.delete()
    assert fhir.resources("AllergyIntolerance").search(patient=f"Patient/{ALICE.ins}").fetch() == []
    stranger = SyncFHIRClient(
        live_server.base,
        authorization=live_server.bearer.professional(DR_STRANGER)["Authorization"],
    )
    with pytest.raises(ResourceNotFound):
        stranger.reference("Observation", group[0].id).to_resource()
