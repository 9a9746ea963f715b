"""A minor's legal representatives, recorded by the insurer's desk (RULES R3): they
act for the minor from then on, lose that when withdrawn, and nobody else may record
or read them (R15: the desk reads no medical content, only this)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Bearer, error_code, open_record, opening, outcome
from tests.personas import ALICE, LEO

PARENT = "parent-2-leo"
URL = f"/api/records/{LEO.ins}/representatives"


@pytest.fixture
def leo_record(client: TestClient, bearer: Bearer) -> TestClient:
    consent = {"given_by": "legal_representative", "informed": True}
    response = client.post(
        "/api/records", json=opening(LEO.ins, consent=consent), headers=bearer.pharmacist()
    )
    assert response.status_code == 201, response.text
    return client


def test_r3_the_insurer_desk_records_a_representative_who_then_acts_for_the_minor(
    leo_record: TestClient, bearer: Bearer
) -> None:
    parent = bearer.representative(LEO.ins, PARENT)
    assert leo_record.get(f"/api/records/{LEO.ins}", headers=parent).status_code == 404
    body = {"representative": PARENT, "name": "Durand Marc"}
    declared = leo_record.post(URL, json=body, headers=bearer.insurer_agent())
    assert declared.status_code == 201, declared.text
    assert leo_record.get(f"/api/records/{LEO.ins}", headers=parent).status_code == 200
    listed = leo_record.get(URL, headers=bearer.insurer_agent()).json()
    assert {"representative": PARENT, "name": "Durand Marc"} in listed["representatives"]
    withdrawn = leo_record.delete(f"{URL}/{PARENT}", headers=bearer.insurer_agent())
    assert withdrawn.status_code == 200
    assert leo_record.get(f"/api/records/{LEO.ins}", headers=parent).status_code == 404
    again = leo_record.delete(f"{URL}/{PARENT}", headers=bearer.insurer_agent())
    assert error_code(outcome(again, 404)) == "REPRESENTATIVE_NOT_FOUND"


@pytest.mark.parametrize("who", ["holder", "professional", "representative", "anonymous"], ids=str)
def test_r3_r15_only_the_insurer_desk_records_representatives(
    leo_record: TestClient, bearer: Bearer, who: str
) -> None:
    headers = {
        "holder": bearer.holder(LEO.ins),
        "professional": bearer.pharmacist(),
        "representative": bearer.representative(LEO.ins, PARENT),
        "anonymous": {},
    }[who]
    body = {"representative": "intruder", "name": "X"}
    assert error_code(outcome(leo_record.post(URL, json=body, headers=headers), 404)) == (
        "RECORD_NOT_FOUND"
    )
    assert leo_record.get(URL, headers=headers).status_code == 404


def test_a_representative_needs_an_identifier_and_a_name(
    leo_record: TestClient, bearer: Bearer
) -> None:
    body = {"representative": "  ", "name": "Durand"}
    issue = outcome(leo_record.post(URL, json=body, headers=bearer.insurer_agent()), 422)
    assert issue["expression"] == ["representative"]
    unknown = leo_record.post(
        f"/api/records/{ALICE.ins}/representatives",
        json={"representative": PARENT, "name": "X"},
        headers=bearer.insurer_agent(),
    )
    assert error_code(outcome(unknown, 404)) == "RECORD_NOT_FOUND"


def test_r3_at_18_the_representatives_rights_end(client: TestClient, bearer: Bearer) -> None:
    """Alice is an adult: a representative recorded for her has no rights (R3)."""
    open_record(client, bearer)
    body = {"representative": PARENT, "name": "Durand Marc"}
    url = f"/api/records/{ALICE.ins}/representatives"
    assert client.post(url, json=body, headers=bearer.insurer_agent()).status_code == 201
    parent = bearer.representative(ALICE.ins, PARENT)
    assert client.get(f"/api/records/{ALICE.ins}", headers=parent).status_code == 404
