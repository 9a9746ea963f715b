"""FHIR Patient: opening a record from practice software with the person's consent
(RULES R1, R2) and reading its status (PDSm4DMP TD0.2)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from dmp.api.fhir import systems
from dmp.api.fhir.patient import CONSENT_EXTENSION
from tests.api.conftest import Bearer, error_code, outcome
from tests.personas import ALICE, DR_BOB_RPPS, ZOE


def patient(ins: str = ALICE.ins, *, consent: bool = True, informed: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"system": systems.INS_NIR, "value": ins}],
    }
    if consent:
        body["extension"] = [
            {
                "url": CONSENT_EXTENSION,
                "extension": [
                    {"url": "givenBy", "valueCode": "holder"},
                    {"url": "informed", "valueBoolean": informed},
                ],
            }
        ]
    return body


def test_r2_a_professional_opens_a_record_through_fhir_and_is_then_authorised(
    client: TestClient, bearer: Bearer
) -> None:
    created = client.post("/fhir/Patient", json=patient(), headers=bearer.professional())
    assert created.status_code == 201, created.text
    assert created.headers["location"].endswith(f"/fhir/Patient/{ALICE.ins}")
    body = created.json()
    assert body["identifier"][0]["value"] == ALICE.ins
    assert body["extension"][0]["valueCode"] == "open"
    read = client.get(f"/fhir/Patient/{ALICE.ins}", headers=bearer.professional())
    assert read.status_code == 200  # R8: the opener is authorised
    assert read.json()["name"][0]["family"] == ALICE.family_name
    again = client.post("/fhir/Patient", json=patient(), headers=bearer.professional())
    assert error_code(outcome(again, 409)) == "RECORD_EXISTS"


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (patient(consent=False), "Patient.extension"),
        ({"resourceType": "Patient", "identifier": []}, "Patient.identifier"),
        ({"resourceType": "Observation"}, "Patient"),
    ],
    ids=["no consent", "no INS", "not a Patient"],
)
def test_r2_opening_needs_the_ins_and_the_consent(
    client: TestClient, bearer: Bearer, body: dict[str, Any], where: str
) -> None:
    issue = outcome(client.post("/fhir/Patient", json=body, headers=bearer.professional()), 422)
    assert issue["expression"] == [where]
    assert (
        client.get(f"/fhir/Patient/{ALICE.ins}", headers=bearer.professional()).status_code == 404
    )


def test_r1_only_beneficiaries_of_the_registry_get_a_record(
    client: TestClient, bearer: Bearer
) -> None:
    refused = client.post("/fhir/Patient", json=patient(ZOE.ins), headers=bearer.professional())
    assert refused.status_code == 422, refused.text


def test_opening_through_fhir_needs_a_proven_caller(client: TestClient) -> None:
    assert client.post("/fhir/Patient", json=patient()).status_code == 401


def test_a_professional_opens_only_as_themself(client: TestClient, bearer: Bearer) -> None:
    """The channel and opener follow from the token: nobody opens in another's name."""
    body = patient()
    body["extension"].append(
        {"url": "urn:dmp:fhir:StructureDefinition:opening-channel", "valueCode": "pharmacy"}
    )
    # Dr Bob's token names no organisation: a pharmacy opening cannot be his.
    refused = client.post("/fhir/Patient", json=body, headers=bearer.professional(DR_BOB_RPPS))
    assert error_code(outcome(refused, 422)) == "OPENER_MISSING"
