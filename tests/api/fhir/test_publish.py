"""ITI-65 publish: all or nothing, idempotent resends, replacement chains, and every way
a submission can be wrong (issue 4; RULES R1, R6, R7, R10)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from dmp.api.fhir import systems
from dmp.domain.identity import make_rpps
from dmp.feeds.synthetic.documents import make_png
from dmp.services.fsck import written_hour
from dmp.storage.db import Database
from dmp.storage.schema import document
from tests.api.conftest import Bearer, error_code, open_record, outcome
from tests.api.fhir.builders import PDF, bundle, document_reference
from tests.api.fhir.conftest import INS_QUERY
from tests.personas import ALICE, ZOE

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE ClinicalDocument [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&xxe;</title></ClinicalDocument>"""
LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&lol3;</title></ClinicalDocument>"""


def stored_count(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(document)).scalar_one())


def publish(client: TestClient, headers: dict[str, str], *refs: dict[str, Any], **kw: Any) -> Any:
    return client.post("/fhir", json=bundle(*refs, **kw), headers=headers)


def locations(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "transaction-response"
    return [e["response"]["location"] for e in body["entry"]]


def doc_id(response: Any) -> str:
    return next(loc for loc in locations(response) if loc.startswith("DocumentReference/")).split(
        "/"
    )[1]


def search(client: TestClient, headers: dict[str, str], **params: str) -> dict[str, Any]:
    response = client.get(
        "/fhir/DocumentReference",
        params={"patient.identifier": INS_QUERY, **params},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_r6_a_bundle_of_three_documents_is_stored_with_their_metadata(
    doctor_record: TestClient, bearer: Bearer, db: Database
) -> None:
    refs = [document_reference(), document_reference(), document_reference(type_code="11502-2")]
    response = publish(doctor_record, bearer.professional(), *refs)
    assert [loc.split("/")[0] for loc in locations(response)] == ["List"] + [
        "DocumentReference"
    ] * 3
    assert [e["response"]["status"] for e in response.json()["entry"][1:]] == ["201 Created"] * 3
    found = search(doctor_record, bearer.professional())
    assert found["total"] == 3
    masters = {e["resource"]["masterIdentifier"]["value"] for e in found["entry"]}
    assert masters == {r["masterIdentifier"]["value"] for r in refs}
    one = found["entry"][0]["resource"]
    attachment = one["content"][0]["attachment"]
    assert attachment["size"] > 0
    assert attachment["contentType"] == "application/pdf"
    assert one["author"][0]["identifier"]["system"] == systems.RPPS
    assert one["subject"]["identifier"]["value"] == ALICE.ins
    with db.read() as conn:  # bytes under the hour of the publish, where fsck looks
        rows = conn.execute(select(document.c.id, document.c.blob_key)).all()
    assert len(rows) == 3
    assert all(written_hour(key) and key.endswith(f"/{doc}") for doc, key in rows)


def test_all_or_nothing_one_bad_entry_stores_nothing_and_each_fault_is_named(
    doctor_record: TestClient, bearer: Bearer, db: Database
) -> None:
    good = document_reference()
    wrong_type = document_reference(type_code="99999-9")
    mismatch = document_reference(data=make_png(2, 2))  # declared PDF
    response = publish(doctor_record, bearer.professional(), good, wrong_type, mismatch)
    body = response.json()
    assert response.status_code == 422, response.text
    named = {(i["details"]["coding"][0]["code"], i["expression"][0]) for i in body["issue"]}
    assert ("DOCUMENT_TYPE_UNKNOWN", "Bundle.entry[2].resource.type") in named
    assert any(
        code == "CONTENT_TYPE_MISMATCH" and path.startswith("Bundle.entry[3].resource.content")
        for code, path in named
    ), named
    assert stored_count(db) == 0


def test_r6_resending_the_same_document_is_idempotent(
    doctor_record: TestClient, bearer: Bearer, db: Database
) -> None:
    ref = document_reference(master="urn:oid:1.2.250.99.1")
    first = doc_id(publish(doctor_record, bearer.professional(), ref))
    again = publish(doctor_record, bearer.professional(), ref)
    assert doc_id(again) == first
    assert again.json()["entry"][1]["response"]["status"] == "200 OK"
    assert stored_count(db) == 1


def test_r6_the_same_master_identifier_with_other_bytes_is_a_conflict(
    doctor_record: TestClient, bearer: Bearer, db: Database
) -> None:
    publish(doctor_record, bearer.professional(), document_reference(master="urn:oid:1.2.250.99.2"))
    other = document_reference(master="urn:oid:1.2.250.99.2", data=PDF + b"\n")
    issue = outcome(publish(doctor_record, bearer.professional(), other), 409)
    assert error_code(issue) == "MASTER_IDENTIFIER_REUSED"
    assert issue["expression"] == ["Bundle.entry[1].resource.masterIdentifier"]
    assert stored_count(db) == 1


def test_a_master_identifier_twice_in_one_bundle_is_refused(
    doctor_record: TestClient, bearer: Bearer, db: Database
) -> None:
    refs = [document_reference(master="urn:oid:1.2.250.99.3") for _ in range(2)]
    issue = outcome(publish(doctor_record, bearer.professional(), *refs), 422)
    assert error_code(issue) == "MASTER_IDENTIFIER_DUPLICATE"
    assert stored_count(db) == 0


def test_r7_replacing_supersedes_the_old_version(doctor_record: TestClient, bearer: Bearer) -> None:
    old = doc_id(publish(doctor_record, bearer.professional(), document_reference()))
    new = doc_id(publish(doctor_record, bearer.professional(), document_reference(replaces=old)))
    current = search(doctor_record, bearer.professional())
    assert [e["resource"]["id"] for e in current["entry"]] == [new]
    resource = current["entry"][0]["resource"]
    assert resource["meta"]["versionId"] == "2"
    assert resource["relatesTo"][0]["target"]["reference"] == f"DocumentReference/{old}"
    superseded = search(doctor_record, bearer.professional(), status="superseded")
    assert [e["resource"]["id"] for e in superseded["entry"]] == [old]
    # A superseded version cannot be replaced again: the chain has one head.
    issue = outcome(
        publish(doctor_record, bearer.professional(), document_reference(replaces=old)), 409
    )
    assert error_code(issue) == "REPLACES_NOT_CURRENT"


def test_r7_only_the_author_replaces_a_document(
    doctor_record: TestClient, bearer: Bearer, db: Database
) -> None:
    old = doc_id(publish(doctor_record, bearer.professional(), document_reference()))
    # Alice authorises another doctor, who tries to replace Dr Bob's document.
    other = make_rpps("1000000051")
    grant = doctor_record.post(
        f"/api/records/{ALICE.ins}/care-team",
        json={"professional": other, "change": "authorise"},
        headers=bearer.holder(),
    )
    assert grant.status_code == 200, grant.text
    response = publish(doctor_record, bearer.professional(other), document_reference(replaces=old))
    assert error_code(outcome(response, 422)) == "REPLACES_NOT_AUTHOR"
    assert stored_count(db) == 1


def test_a_document_may_come_as_a_binary_entry(doctor_record: TestClient, bearer: Bearer) -> None:
    url = "urn:uuid:6f7b0d8c-0000-4000-8000-000000000001"
    ref = document_reference(binary_url=url)
    response = publish(doctor_record, bearer.professional(), ref, binaries={url: PDF})
    kinds = [loc.split("/")[0] for loc in locations(response)]
    assert kinds == ["List", "DocumentReference", "Binary"]
    binary = doctor_record.get(f"/fhir/{locations(response)[2]}", headers=bearer.professional())
    assert binary.content == PDF


@pytest.mark.parametrize(
    ("mime", "data", "code"),
    [
        ("application/xml", XXE, "XML_FORBIDDEN"),
        ("application/xml", LAUGHS, "XML_FORBIDDEN"),
        ("application/pdf", b"", "CONTENT_EMPTY"),
        ("application/pdf", PDF[: len(PDF) // 2], "CONTENT_TRUNCATED"),
        ("image/png", PDF, "CONTENT_TYPE_MISMATCH"),
        ("application/zip", PDF, "CONTENT_TYPE_UNSUPPORTED"),
    ],
    ids=["xxe", "billion-laughs", "empty", "truncated", "mismatch", "unsupported"],
)
def test_bad_content_is_refused_with_its_reason(
    doctor_record: TestClient, bearer: Bearer, db: Database, mime: str, data: bytes, code: str
) -> None:
    ref = document_reference(mime=mime, data=data)
    issue = outcome(publish(doctor_record, bearer.professional(), ref), 422)
    assert error_code(issue) == code
    assert issue["expression"][0].startswith("Bundle.entry[1].resource.content[0].attachment")
    assert stored_count(db) == 0


def test_an_oversized_document_is_refused(
    doctor_record: TestClient, bearer: Bearer, db: Database
) -> None:
    vault = doctor_record.app.state.vault  # type: ignore[attr-defined]
    limit = len(PDF) - 1
    doctor_record.app.state.vault = type(vault)(vault.store, vault.master, limit)  # type: ignore[attr-defined]
    issue = outcome(publish(doctor_record, bearer.professional(), document_reference()), 422)
    assert error_code(issue) == "CONTENT_TOO_LARGE"
    assert stored_count(db) == 0


@pytest.mark.parametrize(
    ("change", "code", "where"),
    [
        ({"size": 3}, "SIZE_MISMATCH", "size"),
        ({"hash": base64.b64encode(b"x" * 20).decode()}, "HASH_MISMATCH", "hash"),
    ],
)
def test_a_declared_size_or_hash_must_match_the_bytes(
    doctor_record: TestClient, bearer: Bearer, change: dict[str, Any], code: str, where: str
) -> None:
    ref = document_reference()
    ref["content"][0]["attachment"].update(change)
    issue = outcome(publish(doctor_record, bearer.professional(), ref), 422)
    assert error_code(issue) == code
    assert issue["expression"] == [f"Bundle.entry[1].resource.content[0].attachment.{where}"]


def test_not_a_transaction_bundle(doctor_record: TestClient, bearer: Bearer) -> None:
    body = bundle(document_reference())
    body["type"] = "batch"
    response = doctor_record.post("/fhir", json=body, headers=bearer.professional())
    assert outcome(response, 422)["expression"] == ["Bundle.type"]
    empty = doctor_record.post("/fhir", content=b"", headers=bearer.professional())
    assert error_code(outcome(empty, 422)) == "BODY_EMPTY"
    junk = doctor_record.post("/fhir", content=b"{not json", headers=bearer.professional())
    assert error_code(outcome(junk, 422)) == "BODY_NOT_JSON"


def test_r4_a_closed_record_accepts_no_document(
    doctor_record: TestClient, bearer: Bearer, db: Database
) -> None:
    closed = doctor_record.post(
        f"/api/records/{ALICE.ins}/close",
        json={"closed_by": "holder", "reason": "je ne souhaite plus"},
        headers=bearer.holder(),
    )
    assert closed.status_code == 200, closed.text
    issue = outcome(publish(doctor_record, bearer.professional(), document_reference()), 404)
    assert error_code(issue) == "RECORD_NOT_FOUND"
    assert stored_count(db) == 0


def test_an_unknown_ins_is_absent(client: TestClient, bearer: Bearer, db: Database) -> None:
    ref = document_reference(ins=ZOE.ins)
    response = publish(client, bearer.professional(), ref, ins=ZOE.ins)
    assert error_code(outcome(response, 404)) == "RECORD_NOT_FOUND"
    assert stored_count(db) == 0


def test_r10_a_pharmacist_cannot_add_a_consultation_report(
    client: TestClient, bearer: Bearer, db: Database
) -> None:
    """The pharmacist opened the record (authorised) but the matrix gives no write on
    compte-rendu to profession 21: refused as if absent, nothing stored."""
    open_record(client, bearer)
    response = publish(client, bearer.pharmacist(), document_reference())
    assert error_code(outcome(response, 404)) == "RECORD_NOT_FOUND"
    assert stored_count(db) == 0


def test_anonymous_callers_must_authenticate(doctor_record: TestClient, db: Database) -> None:
    response = doctor_record.post("/fhir", json=bundle(document_reference()))
    assert response.status_code == 401
    assert stored_count(db) == 0


def test_subjects_must_agree(doctor_record: TestClient, bearer: Bearer) -> None:
    from tests.personas import BOB

    ref = document_reference(ins=BOB.ins)
    issue = outcome(publish(doctor_record, bearer.professional(), ref), 422)
    assert error_code(issue) == "SUBJECTS_DIFFER"


def test_a_binary_no_document_refers_to_is_refused(
    doctor_record: TestClient, bearer: Bearer, db: Database
) -> None:
    url = "urn:uuid:6f7b0d8c-0000-4000-8000-000000000002"
    response = publish(
        doctor_record, bearer.professional(), document_reference(), binaries={url: PDF}
    )
    issue = outcome(response, 422)
    assert (error_code(issue), issue["expression"]) == (
        "BINARY_UNREFERENCED",
        ["Bundle.entry[2].fullUrl"],
    )
    assert stored_count(db) == 0
