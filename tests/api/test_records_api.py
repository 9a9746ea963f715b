"""The record lifecycle over HTTP (JSON), on SQLite and PostgreSQL, called with bearer
tokens: every refusal is an OperationOutcome naming the code and the field (issue 2;
RULES R1–R4). Who may open, read, close and reopen is the access policy's (issue 3;
RULES R2, R8, R9, R15, R18): an anonymous opener is asked to authenticate (401), an
opener through the wrong channel for their role is refused (422), and a caller who may
not see a record gets the very 404 a missing record gives."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from dmp.domain.identity import make_finess
from dmp.storage.db import Database
from dmp.storage.records import find_record
from dmp.storage.schema import audit_event
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
from tests.api.conftest import opening as body
from tests.personas import ALICE, BOB, CLINIC, DR_BOB_RPPS, INSURER_OFFICE, LEO, PHARMACY, ZOE

OTHER_PHARMACY = make_finess("13000003")


def fields_named(response: Any) -> set[str]:
    return {e for i in response.json()["issue"] for e in i.get("expression", [])}


def no_record(db: Database, ins: str) -> bool:
    with db.read() as conn:
        return find_record(conn, ins) is None


# -------------------------------------------------------------------------------- open


def test_r2_post_records_opens_a_record_201_with_its_location(
    client: TestClient, bearer: Bearer
) -> None:
    response = client.post("/api/records", json=body(), headers=bearer.pharmacist())
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
    assert client.get(response.headers["location"], headers=bearer.holder()).json() == record


def test_r2_the_department_of_residence_may_differ_from_the_registry(
    client: TestClient, bearer: Bearer
) -> None:
    response = client.post("/api/records", json=body(department="2a"), headers=bearer.pharmacist())
    assert response.status_code == 201, response.text
    assert response.json()["opening"]["department"] == "2A"


def test_r1_opening_the_same_ins_twice_is_409_conflict(client: TestClient, bearer: Bearer) -> None:
    assert client.post("/api/records", json=body(), headers=bearer.pharmacist()).status_code == 201
    issue = outcome(client.post("/api/records", json=body(), headers=bearer.pharmacist()), 409)
    assert (issue["code"], error_code(issue), issue["expression"]) == (
        "conflict",
        "RECORD_EXISTS",
        ["ins"],
    )


@pytest.mark.parametrize(
    ("opener", "request_body"),
    [
        ("pharmacist", body()),
        ("doctor", body(channel="professional", opened_by=DR_BOB_RPPS)),
        ("clinic doctor", body(channel="establishment", opened_by=CLINIC)),
        ("insurer agent", body(channel="insurer", opened_by=INSURER_OFFICE)),
        ("holder", body(channel="online", opened_by=None)),
    ],
)
def test_r2_each_role_opens_through_its_own_channel(
    client: TestClient, bearer: Bearer, opener: str, request_body: dict[str, Any]
) -> None:
    headers = {
        "pharmacist": bearer.pharmacist(),
        "doctor": bearer.professional(DR_BOB_RPPS),
        "clinic doctor": bearer.professional(DR_BOB_RPPS, finess=CLINIC),
        "insurer agent": bearer.insurer_agent(),
        "holder": bearer.holder(),
    }[opener]
    response = client.post("/api/records", json=request_body, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["opening"]["channel"] == request_body["channel"]


def test_r18_an_anonymous_opener_is_asked_to_authenticate_401(
    client: TestClient, db: Database
) -> None:
    response = client.post("/api/records", json=body())
    issue = outcome(response, 401)
    assert (issue["code"], error_code(issue)) == ("login", "AUTH_REQUIRED")
    assert response.headers["www-authenticate"] == "Bearer"  # RFC 6750 §3.1: no error code
    assert no_record(db, ALICE.ins)


def test_r18_authentication_comes_before_the_body_is_validated(client: TestClient) -> None:
    response = client.post("/api/records", json={"nir": ALICE.ins})
    assert error_code(outcome(response, 401)) == "AUTH_REQUIRED"


@pytest.mark.parametrize(
    ("opener", "request_body"),
    [
        ("pharmacist", body(opened_by=OTHER_PHARMACY)),  # another pharmacy's FINESS
        ("pharmacist", body(channel="professional", opened_by=DR_BOB_RPPS)),  # as someone else
        ("pharmacist", body(channel="insurer", opened_by=INSURER_OFFICE)),
        ("doctor", body(channel="establishment", opened_by=CLINIC)),  # no organisation
        ("doctor", body(channel="online", opened_by=None)),
        ("insurer agent", body()),
        ("holder", body()),  # the holder opens online, not at a pharmacy
        ("another patient", body(channel="online", opened_by=None)),
    ],
)
def test_r2_opening_through_the_wrong_channel_for_the_role_is_refused_and_traced(
    client: TestClient, bearer: Bearer, db: Database, opener: str, request_body: dict[str, Any]
) -> None:
    headers = {
        "pharmacist": bearer.pharmacist(),
        "doctor": bearer.professional(DR_BOB_RPPS),
        "insurer agent": bearer.insurer_agent(),
        "holder": bearer.holder(),
        "another patient": bearer.holder(BOB.ins),
    }[opener]
    issue = outcome(client.post("/api/records", json=request_body, headers=headers), 422)
    assert (issue["code"], error_code(issue), issue["expression"]) == (
        "business-rule",
        "OPENER_NOT_ALLOWED",
        ["opened_by"],
    )
    assert no_record(db, ALICE.ins)
    with db.read() as conn:
        [trace] = [
            json.loads(e)
            for e in conn.scalars(
                select(audit_event.c.event).where(audit_event.c.chain == f"record:{ALICE.ins}")
            )
        ]
    assert (trace["action"], trace["outcome"], trace["reason"]) == (
        "record.open",
        "failed",
        "OPENER_NOT_ALLOWED",
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
    client: TestClient, bearer: Bearer, request_body: dict[str, Any], code: str, field: str
) -> None:
    issue = outcome(
        client.post("/api/records", json=request_body, headers=bearer.pharmacist()), 422
    )
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
    client: TestClient,
    bearer: Bearer,
    db: Database,
    request_body: dict[str, Any],
    code: str,
    field: str,
) -> None:
    issue = outcome(
        client.post("/api/records", json=request_body, headers=bearer.pharmacist()), 422
    )
    assert (issue["code"], error_code(issue), issue["expression"]) == (
        "business-rule",
        code,
        [field],
    )
    ins = request_body["ins"]
    assert client.get(f"/api/records/{ins}", headers=bearer.holder(ins)).status_code == 404
    assert no_record(db, ins)


def test_r2_the_bad_key_outcome_names_ins_and_the_ins_key_code(
    client: TestClient, bearer: Bearer
) -> None:
    response = client.post(
        "/api/records", json=body(ALICE.ins[:13] + "00"), headers=bearer.pharmacist()
    )
    issue = outcome(response, 422)
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
    client: TestClient, bearer: Bearer, request_body: dict[str, Any], field: str
) -> None:
    response = client.post("/api/records", json=request_body, headers=bearer.pharmacist())
    outcome(response, 422)
    assert field in fields_named(response)


def test_a_body_that_is_not_json_is_422(client: TestClient, bearer: Bearer) -> None:
    headers = {**bearer.pharmacist(), "content-type": "application/json"}
    response = client.post("/api/records", content=b"ins=1", headers=headers)
    outcome(response, 422)


# ----------------------------------------------------------------------- read and status


def test_reading_an_unknown_record_is_404_operation_outcome(
    client: TestClient, bearer: Bearer
) -> None:
    issue = outcome(client.get(f"/api/records/{ZOE.ins}", headers=bearer.holder(ZOE.ins)), 404)
    assert (issue["code"], error_code(issue), issue["expression"]) == (
        "not-found",
        "RECORD_NOT_FOUND",
        ["ins"],
    )


def test_reading_with_a_malformed_ins_is_422(client: TestClient, bearer: Bearer) -> None:
    issue = outcome(client.get("/api/records/123", headers=bearer.holder()), 422)
    assert error_code(issue) == "INS_LENGTH"


def test_an_unknown_route_is_404_operation_outcome(client: TestClient) -> None:
    outcome(client.get("/api/nothing-here"), 404)


@pytest.mark.parametrize("intruder", INTRUDERS)
def test_r8_r15_a_record_hidden_from_the_caller_looks_missing_to_read_close_and_reopen(
    client: TestClient, bearer: Bearer, intruder: str
) -> None:
    headers = INTRUDERS[intruder](bearer)
    calls = [
        ("GET", RECORD, None),
        ("POST", f"{RECORD}/close", {"closed_by": "holder", "reason": "x"}),
        ("POST", f"{RECORD}/reopen", {"consent": {"given_by": "holder", "informed": True}}),
    ]
    missing = [client.request(m, path, json=j, headers=headers) for m, path, j in calls]
    open_record(client, bearer)
    for (method, path, payload), before in zip(calls, missing, strict=True):
        same_as_missing(client.request(method, path, json=payload, headers=headers), before)
    assert client.get(RECORD, headers=bearer.holder()).json()["status"] == "open"


def test_r8_an_unauthorised_professional_gets_the_404_of_a_missing_record_and_nothing_else(
    client: TestClient, bearer: Bearer
) -> None:
    stranger = bearer.professional(DR_STRANGER)
    missing = client.get(RECORD, headers=stranger)
    open_record(client, bearer)
    hidden = client.get(RECORD, headers=stranger)
    same_as_missing(hidden, missing)
    for secret in (ALICE.family_name, "open", PHARMACY):
        assert secret not in hidden.text


def test_r9_a_blocked_professional_gets_the_404_of_a_missing_record_even_with_consent(
    client: TestClient, bearer: Bearer
) -> None:
    dr_bob = bearer.professional(DR_BOB_RPPS)
    missing = client.get(RECORD, headers=dr_bob)
    open_record(client, bearer)
    assert client.post(f"{RECORD}/consent", headers=dr_bob).status_code == 200
    assert client.get(RECORD, headers=dr_bob).status_code == 200  # authorised in care…
    block = {"professional": DR_BOB_RPPS, "change": "block"}
    assert (
        client.post(f"{RECORD}/care-team", json=block, headers=bearer.holder()).status_code == 200
    )
    same_as_missing(client.get(RECORD, headers=dr_bob), missing)  # …then blocked
    assert client.post(f"{RECORD}/consent", headers=dr_bob).status_code == 404


def test_r3_a_minors_record_is_read_by_the_representative_not_by_the_minor(
    leo: TestClient, bearer: Bearer
) -> None:
    path = f"/api/records/{LEO.ins}"
    assert leo.get(path, headers=bearer.representative()).json()["ins"] == LEO.ins
    assert leo.get(path, headers=bearer.holder(LEO.ins)).status_code == 404
    assert leo.get(RECORD, headers=bearer.representative(ALICE.ins)).status_code == 404


# ------------------------------------------------------------------------ close, reopen


def test_r4_close_then_reopen_over_http(client: TestClient, bearer: Bearer) -> None:
    alice: Headers = bearer.holder()
    assert client.post("/api/records", json=body(), headers=bearer.pharmacist()).status_code == 201
    closed = client.post(
        f"{RECORD}/close", json={"closed_by": "holder", "reason": "je pars"}, headers=alice
    )
    assert closed.status_code == 200, closed.text
    assert (closed.json()["status"], closed.json()["close_reason"]) == ("closed", "je pars")
    assert closed.json()["closed_at"]

    # The holder still sees her closed record (R4: she may reopen it); closing it
    # again is a conflict that says when it was closed.
    assert client.get(RECORD, headers=alice).json()["status"] == "closed"
    again = client.post(
        f"{RECORD}/close", json={"closed_by": "holder", "reason": "encore"}, headers=alice
    )
    assert error_code(outcome(again, 409)) == "RECORD_ALREADY_CLOSED"
    # Nobody else does: the pharmacist who opened it (and is authorised) finds nothing.
    by_opener = client.get(RECORD, headers=bearer.pharmacist())
    assert error_code(outcome(by_opener, 404)) == "RECORD_NOT_FOUND"

    uninformed = client.post(
        f"{RECORD}/reopen",
        json={"consent": {"given_by": "holder", "informed": False}},
        headers=alice,
    )
    assert error_code(outcome(uninformed, 422)) == "CONSENT_NOT_INFORMED"

    reopened = client.post(
        f"{RECORD}/reopen",
        json={"consent": {"given_by": "holder", "informed": True}},
        headers=alice,
    )
    assert reopened.status_code == 200, reopened.text
    assert (reopened.json()["status"], reopened.json()["closed_at"]) == ("open", None)
    assert reopened.json()["reopened_at"]
    assert client.get(RECORD, headers=alice).json() == reopened.json()

    twice = client.post(
        f"{RECORD}/reopen",
        json={"consent": {"given_by": "holder", "informed": True}},
        headers=alice,
    )
    assert error_code(outcome(twice, 409)) == "RECORD_NOT_CLOSED"


@pytest.mark.parametrize(
    ("path", "payload", "status", "code"),
    [
        (f"/api/records/{ZOE.ins}/close", {"closed_by": "holder", "reason": "x"}, 404,
         "RECORD_NOT_FOUND"),
        (f"{RECORD}/close", {"closed_by": "holder", "reason": ""}, 422, "REASON_MISSING"),
        (f"{RECORD}/close", {"closed_by": "docteur", "reason": "x"}, 422, "HOLDER"),
        (f"{RECORD}/close", {"reason": "x"}, 422, "REQUEST_INVALID"),
        (f"/api/records/{ZOE.ins}/reopen", {"consent": {"given_by": "holder", "informed": True}},
         404, "RECORD_NOT_FOUND"),
    ],
)  # fmt: skip
def test_close_and_reopen_refusals(
    alice: TestClient, bearer: Bearer, path: str, payload: dict[str, Any], status: int, code: str
) -> None:
    response = alice.post(path, json=payload, headers=bearer.holder())
    assert error_code(outcome(response, status)) == code
    assert alice.get(RECORD, headers=bearer.holder()).json()["status"] == "open"


def test_r4_the_pharmacist_who_opened_it_may_not_close_it(
    alice: TestClient, bearer: Bearer
) -> None:
    response = alice.post(
        f"{RECORD}/close",
        json={"closed_by": "holder", "reason": "x"},
        headers=bearer.pharmacist(),
    )
    assert error_code(outcome(response, 404)) == "RECORD_NOT_FOUND"
    assert alice.get(RECORD, headers=bearer.holder()).json()["status"] == "open"
