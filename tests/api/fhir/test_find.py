"""ITI-67 find: each caller sees only what the policy lets them see, `total` counts
only that, paging walks it, the default window is the DMP's (RULES R8–R13, R15, R20,
R21), and unsupported parameters are refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dmp.domain.identity import make_rpps
from tests.api.conftest import INTRUDERS, Bearer, error_code, outcome
from tests.api.fhir.builders import VACCINATIONS, bundle, document_reference
from tests.api.fhir.conftest import INS_QUERY
from tests.api.fhir.test_publish import doc_id, locations, publish, search
from tests.personas import ALICE, ZOE

DR_MT = make_rpps("1000000031")


def ids(found: dict[str, Any]) -> set[str]:
    return {e["resource"]["id"] for e in found.get("entry", [])}


def change(client: TestClient, bearer: Bearer, rpps: str, what: str) -> None:
    response = client.post(
        f"/api/records/{ALICE.ins}/care-team",
        json={"professional": rpps, "change": what},
        headers=bearer.holder(),
    )
    assert response.status_code == 200, response.text


def mask(client: TestClient, bearer: Bearer, document: str) -> None:
    labels = [{"coding": [{"system": "urn:oid:1.2.250.1.213.1.1.4.13", "code": "MASQUE_PS"}]}]
    response = client.patch(
        f"/fhir/DocumentReference/{document}",
        json=[{"op": "replace", "path": "/securityLabel", "value": labels}],
        headers=bearer.holder(),
    )
    assert response.status_code == 200, response.text


@pytest.fixture
def three(doctor_record: TestClient, bearer: Bearer) -> dict[str, str]:
    """Three documents by Dr Bob: plain, hidden from Alice until announced, and one
    Alice masks from professionals."""
    dr = bearer.professional()
    plain = doc_id(publish(doctor_record, dr, document_reference()))
    hidden = doc_id(publish(doctor_record, dr, document_reference(labels=["INVISIBLE_PATIENT"])))
    masked = doc_id(publish(doctor_record, dr, document_reference()))
    mask(doctor_record, bearer, masked)
    return {"plain": plain, "hidden": hidden, "masked": masked}


def test_r13_the_holder_does_not_see_what_is_hidden_until_announced(
    doctor_record: TestClient, bearer: Bearer, three: dict[str, str]
) -> None:
    found = search(doctor_record, bearer.holder())
    assert ids(found) == {three["plain"], three["masked"]}
    assert found["total"] == 2


def test_r12_the_author_still_sees_the_document_the_holder_masked(
    doctor_record: TestClient, bearer: Bearer, three: dict[str, str]
) -> None:
    found = search(doctor_record, bearer.professional())
    assert ids(found) == set(three.values())
    masked = next(e for e in found["entry"] if e["resource"]["id"] == three["masked"])
    codes = [c["code"] for label in masked["resource"]["securityLabel"] for c in label["coding"]]
    assert "MASQUE_PS" in codes


def test_r12_another_authorised_professional_does_not_see_a_masked_document(
    doctor_record: TestClient, bearer: Bearer, three: dict[str, str]
) -> None:
    other = make_rpps("1000000051")
    change(doctor_record, bearer, other, "authorise")
    found = search(doctor_record, bearer.professional(other))
    assert ids(found) == {three["plain"], three["hidden"]}
    assert found["total"] == 2
    read = doctor_record.get(
        f"/fhir/DocumentReference/{three['masked']}", headers=bearer.professional(other)
    )
    missing = doctor_record.get(
        "/fhir/DocumentReference/00000000-0000-4000-8000-000000000000",
        headers=bearer.professional(other),
    )
    assert read.status_code == missing.status_code == 404


def test_r11_the_medecin_traitant_sees_masked_documents(
    doctor_record: TestClient, bearer: Bearer, three: dict[str, str]
) -> None:
    change(doctor_record, bearer, DR_MT, "medecin_traitant")
    assert ids(search(doctor_record, bearer.professional(DR_MT))) == set(three.values())


def test_r9_a_blocked_professional_sees_nothing_even_authorised(
    doctor_record: TestClient, bearer: Bearer, three: dict[str, str]
) -> None:
    change(doctor_record, bearer, make_rpps("1000000001"), "block")
    found = search(doctor_record, bearer.professional())
    assert (found["total"], ids(found)) == (0, set())


@pytest.mark.parametrize("intruder", INTRUDERS, ids=list(INTRUDERS))
def test_r8_r15_intruders_get_what_they_would_get_for_no_record(
    doctor_record: TestClient, bearer: Bearer, three: dict[str, str], intruder: str
) -> None:
    headers = INTRUDERS[intruder](bearer)
    seen = doctor_record.get(
        "/fhir/DocumentReference", params={"patient.identifier": INS_QUERY}, headers=headers
    )
    nothing = doctor_record.get(
        "/fhir/DocumentReference",
        params={"patient.identifier": f"urn:oid:1.2.250.1.213.1.4.8|{ZOE.ins}"},
        headers=headers,
    )
    for response in (seen, nothing):
        assert response.status_code == 200
        body = response.json()
        assert (body["total"], body["entry"]) == (0, [])
    assert len(seen.content) == len(nothing.content)  # same shape; only the INS differs


def test_paging_walks_every_visible_document_once_and_total_counts_them(
    doctor_record: TestClient, bearer: Bearer
) -> None:
    dr = bearer.professional()
    refs = [document_reference() for _ in range(23)]
    refs.append(document_reference(labels=["INVISIBLE_PATIENT"]))
    refs.append(document_reference(labels=["INVISIBLE_PATIENT"]))
    assert len(locations(doctor_record.post("/fhir", json=bundle(*refs), headers=dr))) == 26
    seen: list[str] = []
    page = search(doctor_record, bearer.holder(), _count="10")
    totals = set()
    while True:
        totals.add(page["total"])
        seen += [e["resource"]["id"] for e in page["entry"]]
        nxt = [link["url"] for link in page["link"] if link["relation"] == "next"]
        if not nxt:
            break
        response = doctor_record.get(nxt[0], headers=bearer.holder())
        assert response.status_code == 200
        page = response.json()
    assert totals == {23}
    assert len(seen) == len(set(seen)) == 23
    assert any(link["relation"] == "previous" for link in page["link"])


def test_r20_the_default_search_covers_two_years_but_not_the_vaccination_history(
    doctor_record: TestClient, bearer: Bearer
) -> None:
    dr = bearer.professional()
    long_ago = (datetime.now(UTC) - timedelta(days=3 * 365)).isoformat()
    recent = doc_id(publish(doctor_record, dr, document_reference()))
    old = doc_id(publish(doctor_record, dr, document_reference(period_start=long_ago)))
    vaccines = doc_id(
        publish(
            doctor_record, dr, document_reference(type_code=VACCINATIONS, period_start=long_ago)
        )
    )
    assert ids(search(doctor_record, dr)) == {recent, vaccines}
    since = (datetime.now(UTC) - timedelta(days=4 * 365)).date().isoformat()
    assert ids(search(doctor_record, dr, period=f"ge{since}")) == {recent, old, vaccines}


def test_filters_by_type_date_status_author_and_sort(
    doctor_record: TestClient, bearer: Bearer
) -> None:
    dr = bearer.professional()
    report = doc_id(publish(doctor_record, dr, document_reference()))
    lab = doc_id(publish(doctor_record, dr, document_reference(type_code="11502-2")))
    assert ids(search(doctor_record, dr, type="http://loinc.org|11502-2")) == {lab}
    assert ids(search(doctor_record, dr, type="11502-2,11488-4")) == {lab, report}
    assert ids(search(doctor_record, dr, category="10")) == {lab, report}
    today = datetime.now(UTC).date()
    assert ids(search(doctor_record, dr, date=f"ge{today.isoformat()}")) == {lab, report}
    assert ids(search(doctor_record, dr, date=f"lt{today.isoformat()}")) == set()
    author = f"urn:oid:1.2.250.1.71.4.2.1|{make_rpps('1000000001')}"
    assert ids(search(doctor_record, dr, **{"author.identifier": author})) == {lab, report}
    assert ids(search(doctor_record, dr, **{"author.identifier": DR_MT})) == set()
    ascending = search(doctor_record, dr, _sort="date")
    descending = search(doctor_record, dr, _sort="-date")
    assert [e["resource"]["id"] for e in ascending["entry"]] == [
        e["resource"]["id"] for e in reversed(descending["entry"])
    ]


@pytest.mark.parametrize(
    ("params", "status", "where"),
    [
        ({"patient.identifier": INS_QUERY, "foo": "1"}, 400, "foo"),
        ({"patient.identifier": INS_QUERY, "_include": "x"}, 400, "_include"),
        ({}, 422, "patient.identifier"),
        ({"patient.identifier": "urn:oid:9.9|285037505612306"}, 422, "patient.identifier"),
        ({"patient.identifier": INS_QUERY, "date": "yesterday"}, 422, "date"),
        ({"patient.identifier": INS_QUERY, "status": "lost"}, 422, "status"),
        ({"patient.identifier": INS_QUERY, "_count": "101"}, 422, "_count"),
        ({"patient.identifier": INS_QUERY, "_sort": "title"}, 422, "_sort"),
    ],
)
def test_bad_or_unsupported_parameters_are_refused_by_name(
    doctor_record: TestClient, bearer: Bearer, params: dict[str, str], status: int, where: str
) -> None:
    response = doctor_record.get(
        "/fhir/DocumentReference", params=params, headers=bearer.professional()
    )
    assert outcome(response, status)["expression"] == [where]


def test_the_patient_is_found_by_ins_with_status_and_medecin_traitant(
    doctor_record: TestClient, bearer: Bearer
) -> None:
    change(doctor_record, bearer, DR_MT, "medecin_traitant")
    found = doctor_record.get(
        "/fhir/Patient", params={"identifier": INS_QUERY}, headers=bearer.professional()
    ).json()
    assert found["total"] == 1
    patient = found["entry"][0]["resource"]
    assert patient["active"] is True
    assert patient["generalPractitioner"][0]["identifier"]["value"] == DR_MT
    stranger = doctor_record.get(
        "/fhir/Patient",
        params={"identifier": INS_QUERY},
        headers=bearer.professional(make_rpps("1000000041")),
    ).json()
    assert (stranger["total"], stranger["entry"]) == (0, [])
    unsupported = doctor_record.get(
        "/fhir/Patient", params={"name": "x"}, headers=bearer.professional()
    )
    assert error_code(outcome(unsupported, 400)) == "PARAMETER_UNSUPPORTED"
