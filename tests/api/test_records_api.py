"""The record lifecycle over HTTP (JSON), on SQLite and PostgreSQL: every refusal is an
OperationOutcome naming the code and the field (issue 2; RULES R1–R4)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from tests.api.conftest import TestClient
from tests.personas import ALICE, DR_BOB_RPPS, LEO, PHARMACY, ZOE


def body(ins: str = ALICE.ins, **changes: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "ins": ins,
        "channel": "pharmacy",
        "opened_by": PHARMACY,
        "consent": {"given_by": "holder", "informed": True},
    }
    request.update(changes)
    return request


def outcome(response: Any, status: int) -> dict[str, Any]:
    """The response is an OperationOutcome with `status`; return its single issue."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    payload = response.json()
    assert payload["resourceType"] == "OperationOutcome"
    assert payload["issue"]
    issue: dict[str, Any] = payload["issue"][0]
    assert issue["severity"] == "error"
    assert issue["details"]["text"]
    return issue


def error_code(issue: dict[str, Any]) -> str:
    code: str = issue["details"]["coding"][0]["code"]
    return code


def fields_named(response: Any) -> set[str]:
    return {e for i in response.json()["issue"] for e in i.get("expression", [])}


# -------------------------------------------------------------------------------- open


def test_r2_post_records_opens_a_record_201_with_its_location(client: TestClient) -> None:
    response = client.post("/api/records", json=body())
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/api/records/{ALICE.ins}"
    record = response.json()
    assert (record["ins"], record["status"], record["source"]) == (ALICE.ins, "open", "opened")
    assert record["identity"] == {
        "family_name": "Martin",
        "given_names": "Alice Marie",
        "birth_date": "1985-03-14",
        "sex": "F",
    }
    assert record["opening"]["channel"] == "pharmacy"
    assert record["opening"]["opened_by"] == PHARMACY
    assert record["opening"]["department"] == "75"
    assert datetime.fromisoformat(record["opening"]["opened_at"]).tzinfo is not None
    assert client.get(response.headers["location"]).json() == record


def test_r2_the_department_of_residence_may_differ_from_the_registry(client: TestClient) -> None:
    response = client.post("/api/records", json=body(department="2a"))
    assert response.status_code == 201, response.text
    assert response.json()["opening"]["department"] == "2A"


def test_r1_opening_the_same_ins_twice_is_409_conflict(client: TestClient) -> None:
    assert client.post("/api/records", json=body()).status_code == 201
    issue = outcome(client.post("/api/records", json=body()), 409)
    assert (issue["code"], error_code(issue), issue["expression"]) == (
        "conflict",
        "RECORD_EXISTS",
        ["ins"],
    )


@pytest.mark.parametrize(
    ("request_body", "code", "field"),
    [
        (body(ALICE.ins[:13] + "00"), "INS_KEY", "ins"),
        (body(ALICE.ins[:10]), "INS_LENGTH", "ins"),
        (body(department="20"), "DEPARTMENT_UNKNOWN", "department"),
        (body(channel="shop"), "CHANNEL", "channel"),
        (body(opened_by=DR_BOB_RPPS), "FINESS_FORMAT", "opened_by"),
        (body(opened_by=None), "OPENER_MISSING", "opened_by"),
        (body(channel="online"), "OPENER", "opened_by"),
        (body(consent={"given_by": "ami", "informed": True}), "HOLDER", "consent.given_by"),
    ],
)
def test_malformed_values_are_422_naming_the_field(
    client: TestClient, request_body: dict[str, Any], code: str, field: str
) -> None:
    issue = outcome(client.post("/api/records", json=request_body), 422)
    assert (issue["code"], error_code(issue), issue["expression"]) == ("invalid", code, [field])


@pytest.mark.parametrize(
    ("request_body", "code", "field"),
    [
        (body(ZOE.ins), "NOT_BENEFICIARY", "ins"),
        (body(consent={"given_by": "holder", "informed": False}), "CONSENT_NOT_INFORMED",
         "consent.informed"),
        (body(LEO.ins), "CONSENT_MINOR", "consent.given_by"),
    ],
)  # fmt: skip
def test_rule_refusals_are_422_business_rule_naming_the_field(
    client: TestClient, request_body: dict[str, Any], code: str, field: str
) -> None:
    issue = outcome(client.post("/api/records", json=request_body), 422)
    assert (issue["code"], error_code(issue), issue["expression"]) == (
        "business-rule",
        code,
        [field],
    )
    assert client.get(f"/api/records/{request_body['ins']}").status_code == 404


def test_r2_the_bad_key_outcome_names_ins_and_the_ins_key_code(client: TestClient) -> None:
    issue = outcome(client.post("/api/records", json=body(ALICE.ins[:13] + "00")), 422)
    assert issue["expression"] == ["ins"]
    assert issue["details"]["coding"] == [{"system": "urn:dmp:error", "code": "INS_KEY"}]


@pytest.mark.parametrize(
    ("request_body", "field"),
    [
        ({k: v for k, v in body().items() if k != "ins"}, "ins"),
        ({k: v for k, v in body().items() if k != "channel"}, "channel"),
        ({k: v for k, v in body().items() if k != "consent"}, "consent"),
        (body(consent={"given_by": "holder"}), "consent.informed"),
        (body(ins=285037505612306), "ins"),
        (body(channel=["pharmacy"]), "channel"),
        (body(consent={"given_by": "holder", "informed": "peut-être"}), "consent.informed"),
        (body(consent="oui"), "consent"),
        (body(nir=ALICE.ins), "nir"),
        (body(consent={"given_by": "holder", "informed": True, "signed": True}), "consent.signed"),
    ],
)
def test_missing_mistyped_or_extra_fields_are_422_naming_the_field(
    client: TestClient, request_body: dict[str, Any], field: str
) -> None:
    response = client.post("/api/records", json=request_body)
    outcome(response, 422)
    assert field in fields_named(response)


def test_a_body_that_is_not_json_is_422(client: TestClient) -> None:
    response = client.post(
        "/api/records", content=b"ins=1", headers={"content-type": "application/json"}
    )
    outcome(response, 422)


# ----------------------------------------------------------------------- read and status


def test_reading_an_unknown_record_is_404_operation_outcome(client: TestClient) -> None:
    issue = outcome(client.get(f"/api/records/{ZOE.ins}"), 404)
    assert (issue["code"], error_code(issue), issue["expression"]) == (
        "not-found",
        "RECORD_NOT_FOUND",
        ["ins"],
    )


def test_reading_with_a_malformed_ins_is_422(client: TestClient) -> None:
    issue = outcome(client.get("/api/records/123"), 422)
    assert error_code(issue) == "INS_LENGTH"


def test_an_unknown_route_is_404_operation_outcome(client: TestClient) -> None:
    outcome(client.get("/api/nothing-here"), 404)


def test_r4_close_then_reopen_over_http(client: TestClient) -> None:
    assert client.post("/api/records", json=body()).status_code == 201
    closed = client.post(
        f"/api/records/{ALICE.ins}/close", json={"closed_by": "holder", "reason": "je pars"}
    )
    assert closed.status_code == 200, closed.text
    assert (closed.json()["status"], closed.json()["close_reason"]) == ("closed", "je pars")
    assert closed.json()["closed_at"]

    again = client.post(
        f"/api/records/{ALICE.ins}/close", json={"closed_by": "holder", "reason": "encore"}
    )
    assert error_code(outcome(again, 409)) == "RECORD_ALREADY_CLOSED"

    uninformed = client.post(
        f"/api/records/{ALICE.ins}/reopen",
        json={"consent": {"given_by": "holder", "informed": False}},
    )
    assert error_code(outcome(uninformed, 422)) == "CONSENT_NOT_INFORMED"

    reopened = client.post(
        f"/api/records/{ALICE.ins}/reopen",
        json={"consent": {"given_by": "holder", "informed": True}},
    )
    assert reopened.status_code == 200, reopened.text
    assert (reopened.json()["status"], reopened.json()["closed_at"]) == ("open", None)
    assert reopened.json()["reopened_at"]

    twice = client.post(
        f"/api/records/{ALICE.ins}/reopen",
        json={"consent": {"given_by": "holder", "informed": True}},
    )
    assert error_code(outcome(twice, 409)) == "RECORD_NOT_CLOSED"


@pytest.mark.parametrize(
    ("path", "payload", "status", "code"),
    [
        (f"/api/records/{ZOE.ins}/close", {"closed_by": "holder", "reason": "x"}, 404,
         "RECORD_NOT_FOUND"),
        (f"/api/records/{ALICE.ins}/close", {"closed_by": "holder", "reason": ""}, 422,
         "REASON_MISSING"),
        (f"/api/records/{ALICE.ins}/close", {"closed_by": "docteur", "reason": "x"}, 422,
         "HOLDER"),
        (f"/api/records/{ALICE.ins}/close", {"reason": "x"}, 422, "REQUEST_INVALID"),
        (f"/api/records/{ZOE.ins}/reopen", {"consent": {"given_by": "holder", "informed": True}},
         404, "RECORD_NOT_FOUND"),
    ],
)  # fmt: skip
def test_close_and_reopen_refusals(
    client: TestClient, path: str, payload: dict[str, Any], status: int, code: str
) -> None:
    assert client.post("/api/records", json=body()).status_code == 201
    assert error_code(outcome(client.post(path, json=payload), status)) == code
