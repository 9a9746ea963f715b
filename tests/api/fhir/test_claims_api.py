"""The care history over FHIR, on SQLite and PostgreSQL (issue 5; RULES R5, R8, R10, R15):
`GET /fhir/ExplanationOfBenefit` by patient, date and category, each resource checked
against the FHIR model (fhir.resources, R4B); unsupported parameters refused with a 400
naming them; whoever may not read the history gets the empty searchset a record without
claims gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.explanationofbenefit import ExplanationOfBenefit

from dmp.domain.actors import Role
from dmp.domain.identity import make_finess, make_rpps
from dmp.domain.time import local_date
from dmp.storage.db import Database
from tests.api.conftest import INTRUDERS, Bearer, Headers, TestClient, outcome
from tests.feeds.claims_files import claim, run, write
from tests.personas import ALICE, BOB

EOB = "/fhir/ExplanationOfBenefit"
INS = "urn:oid:1.2.250.1.213.1.4.8"
KINE = make_rpps("1000000061")
PRESCRIBER = make_rpps("1000000079")
LAB = make_finess("69000002")


def day(days_ago: int) -> str:
    return (local_date(datetime.now(UTC)) - timedelta(days=days_ago)).isoformat()


@pytest.fixture
def claims(alice: TestClient, db: Database, tmp_path: Path) -> TestClient:
    """Alice's record with four claim lines (one older than 24 months), Bob's lines
    without a record."""
    lines = [
        claim("E1", ALICE.ins, day(10), prescriber_rpps=PRESCRIBER),
        claim("E2", ALICE.ins, day(40), category="biology", code="1104", facility_finess=LAB),
        claim(
            "E3",
            ALICE.ins,
            day(70),
            category="consultation",
            code="G",
            facility_finess="",
            label="Consultation",
        ),
        claim("E4", ALICE.ins, day(800)),  # older than the window: not kept
        claim("E5", BOB.ins, day(5)),
    ]
    run(db, write(tmp_path, lines), now=datetime.now(UTC))
    return alice


def search(client: TestClient, headers: Headers, **params: Any) -> dict[str, Any]:
    params.setdefault("patient.identifier", f"{INS}|{ALICE.ins}")
    response = client.get(EOB, params=params, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    bundle: dict[str, Any] = response.json()
    Bundle.model_validate(bundle)
    for entry in bundle.get("entry", []):
        ExplanationOfBenefit.model_validate(entry["resource"])
    return bundle


def ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


def test_r5_the_holder_searches_her_care_history_as_explanation_of_benefit(
    claims: TestClient, bearer: Bearer
) -> None:
    bundle = search(claims, bearer.holder())
    assert (bundle["type"], bundle["total"], ids(bundle)) == ("searchset", 3, ["E1", "E2", "E3"])
    eob = bundle["entry"][0]["resource"]
    assert (eob["status"], eob["use"], eob["outcome"]) == ("active", "claim", "complete")
    assert eob["patient"]["identifier"] == {"system": INS, "value": ALICE.ins}
    item = eob["item"][0]
    assert item["productOrService"]["coding"][0] == {
        "system": "urn:oid:1.2.250.1.213.2.3.2",
        "code": "3400933516390",
        "display": "PARACETAMOL 500 mg, comprimé",
    }
    assert (item["servicedDate"], item["quantity"]) == (day(10), {"value": 2})
    assert eob["billablePeriod"] == {"start": day(10), "end": day(10)}
    team = {m["role"]["coding"][0]["code"]: m["provider"]["identifier"] for m in eob["careTeam"]}
    assert team["other"] == {"system": "urn:oid:1.2.250.1.71.4.2.1", "value": PRESCRIBER}
    assert team["primary"]["system"] == "urn:oid:1.2.250.1.71.4.2.1"
    lab = bundle["entry"][1]["resource"]
    assert lab["facility"]["identifier"] == {"system": "urn:oid:1.2.250.1.71.4.2.2", "value": LAB}
    assert lab["type"]["coding"][0]["code"] == "professional"


def test_r5_search_by_date_category_and_page(claims: TestClient, bearer: Bearer) -> None:
    me = bearer.holder()
    assert ids(search(claims, me, date=f"ge{day(45)}")) == ["E1", "E2"]
    assert ids(search(claims, me, date=[f"le{day(40)}", f"gt{day(100)}"])) == ["E2", "E3"]
    assert ids(search(claims, me, category="consultation,biology")) == ["E2", "E3"]
    page = search(claims, me, _count=2)
    assert (page["total"], ids(page)) == (3, ["E1", "E2"])
    assert [link["relation"] for link in page["link"]] == ["self", "next"]
    assert ids(search(claims, me, _count=2, _offset=2)) == ["E3"]


def test_r10_a_professional_reads_it_as_the_matrix_allows(
    claims: TestClient, bearer: Bearer
) -> None:
    # The pharmacist who opened the record is authorised (R8); pharmacists read it (R10).
    assert ids(search(claims, bearer.pharmacist())) == ["E1", "E2", "E3"]
    body = {"professional": KINE, "change": "authorise"}
    changed = claims.post(f"/api/records/{ALICE.ins}/care-team", json=body, headers=bearer.holder())
    assert changed.status_code == 200, changed.text
    assert search(claims, bearer.professional(KINE, "70"))["total"] == 0  # kiné: no read


@pytest.mark.parametrize("who", [*INTRUDERS, "complementary insurer"])
def test_r8_r15_a_caller_without_rights_gets_what_a_record_without_claims_gives(
    claims: TestClient, bearer: Bearer, who: str
) -> None:
    headers = (
        bearer.token(Role.COMPLEMENTARY_INSURER, sub="mutuelle-1")
        if who == "complementary insurer"
        else INTRUDERS[who](bearer)
    )
    refused = search(claims, headers)
    no_record = search(claims, bearer.holder(BOB.ins), **{"patient.identifier": BOB.ins})
    assert refused["total"] == no_record["total"] == 0
    assert refused.get("entry", []) == no_record.get("entry", []) == []
    assert sorted(refused) == sorted(no_record)


def test_an_unsupported_search_parameter_is_refused_with_its_name(
    claims: TestClient, bearer: Bearer
) -> None:
    response = claims.get(
        EOB, params={"patient.identifier": ALICE.ins, "provider": "x"}, headers=bearer.holder()
    )
    issue = outcome(response, 400)
    assert issue["expression"] == ["provider"]
    bad = claims.get(EOB, params={"patient.identifier": ALICE.ins, "category": "vet"})
    assert outcome(bad, 422)["expression"] == ["category"]
    assert outcome(claims.get(EOB, headers=bearer.holder()), 422)["expression"] == [
        "patient.identifier"
    ]
