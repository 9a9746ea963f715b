"""Retrieve (ITI-68) and the document lifecycle: the original bytes and their hash,
logical deletion by the author only, archiving, and who sets which visibility flag
(RULES R6, R7, R12, R13, R21)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dmp.api.fhir import systems
from dmp.domain.identity import make_rpps
from dmp.feeds.synthetic.documents import make_png
from tests.api.conftest import Bearer, error_code, outcome
from tests.api.fhir.builders import PDF, document_reference
from tests.api.fhir.test_find import change, ids
from tests.api.fhir.test_publish import doc_id, publish, search

DR_OTHER = make_rpps("1000000051")


def labels(*codes: str) -> list[dict[str, Any]]:
    return [{"coding": [{"system": systems.DMP_CONFIDENTIALITY, "code": c}]} for c in codes]


def patch(client: TestClient, headers: dict[str, str], doc: str, path: str, value: Any) -> Any:
    return client.patch(
        f"/fhir/DocumentReference/{doc}",
        json=[{"op": "replace", "path": path, "value": value}],
        headers=headers,
    )


@pytest.fixture
def report(doctor_record: TestClient, bearer: Bearer) -> str:
    return doc_id(publish(doctor_record, bearer.professional(), document_reference()))


def test_r6_retrieve_returns_the_original_bytes_type_and_hash(
    doctor_record: TestClient, bearer: Bearer, report: str
) -> None:
    meta = doctor_record.get(f"/fhir/DocumentReference/{report}", headers=bearer.holder()).json()
    attachment = meta["content"][0]["attachment"]
    response = doctor_record.get(attachment["url"], headers=bearer.holder())
    assert response.status_code == 200
    assert response.content == PDF
    assert response.headers["content-type"] == "application/pdf"
    assert attachment["hash"] == base64.b64encode(hashlib.sha1(PDF).digest()).decode()  # noqa: S324
    assert attachment["extension"][0]["valueString"] == hashlib.sha256(PDF).hexdigest()
    as_fhir = doctor_record.get(
        attachment["url"], headers={**bearer.holder(), "Accept": "application/fhir+json"}
    ).json()
    assert base64.b64decode(as_fhir["data"]) == PDF


def test_png_bytes_come_back_as_png(doctor_record: TestClient, bearer: Bearer) -> None:
    png = make_png(3, 2)
    ref = document_reference(type_code="18748-4", mime="image/png", data=png)
    doc = doc_id(publish(doctor_record, bearer.professional(), ref))
    response = doctor_record.get(f"/fhir/Binary/{doc}", headers=bearer.professional())
    assert (response.content, response.headers["content-type"]) == (png, "image/png")


def test_encryption_at_rest_the_stored_blob_is_not_the_plaintext(
    doctor_record: TestClient, bearer: Bearer, report: str, tmp_path: Path
) -> None:
    blobs = [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) == 1
    raw = blobs[0].read_bytes()
    assert b"%PDF" not in raw
    assert b"Examen clinique" not in raw
    assert len(raw) >= len(PDF) + 16  # nonce and tag around the ciphertext


def test_r7_only_the_author_deletes_and_deletion_is_logical(
    doctor_record: TestClient, bearer: Bearer, report: str
) -> None:
    change(doctor_record, bearer, DR_OTHER, "authorise")
    refused = doctor_record.delete(
        f"/fhir/DocumentReference/{report}", headers=bearer.professional(DR_OTHER)
    )
    assert error_code(outcome(refused, 404)) == "DOCUMENT_NOT_FOUND"  # as an unknown id
    by_holder = doctor_record.delete(f"/fhir/DocumentReference/{report}", headers=bearer.holder())
    assert by_holder.status_code == 404
    deleted = doctor_record.delete(
        f"/fhir/DocumentReference/{report}", headers=bearer.professional()
    )
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["status"] == "entered-in-error"
    assert ids(search(doctor_record, bearer.holder())) == set()
    # Nobody but the author reads it now; the author still finds it by status.
    assert doctor_record.get(f"/fhir/Binary/{report}", headers=bearer.holder()).status_code == 404
    mine = search(doctor_record, bearer.professional(), status="entered-in-error")
    assert ids(mine) == {report}
    again = doctor_record.delete(f"/fhir/DocumentReference/{report}", headers=bearer.professional())
    assert error_code(outcome(again, 409)) == "DOCUMENT_DELETED"


def test_r12_the_holder_masks_and_unmasks_but_a_professional_cannot(
    doctor_record: TestClient, bearer: Bearer, report: str
) -> None:
    change(doctor_record, bearer, DR_OTHER, "authorise")
    by_author = patch(
        doctor_record, bearer.professional(), report, "/securityLabel", labels("MASQUE_PS")
    )
    assert by_author.status_code == 404
    masked = patch(doctor_record, bearer.holder(), report, "/securityLabel", labels("MASQUE_PS"))
    assert masked.status_code == 200, masked.text
    assert ids(search(doctor_record, bearer.professional(DR_OTHER))) == set()
    unmasked = patch(doctor_record, bearer.holder(), report, "/securityLabel", [])
    assert unmasked.status_code == 200
    assert ids(search(doctor_record, bearer.professional(DR_OTHER))) == {report}


def test_r13_the_author_hides_and_announces_but_the_holder_cannot_hide(
    doctor_record: TestClient, bearer: Bearer, report: str
) -> None:
    hide = labels("INVISIBLE_PATIENT")
    assert patch(doctor_record, bearer.holder(), report, "/securityLabel", hide).status_code == 404
    hidden = patch(doctor_record, bearer.professional(), report, "/securityLabel", hide)
    assert hidden.status_code == 200, hidden.text
    assert ids(search(doctor_record, bearer.holder())) == set()
    announced = patch(doctor_record, bearer.professional(), report, "/securityLabel", [])
    assert announced.status_code == 200
    assert ids(search(doctor_record, bearer.holder())) == {report}


def test_r13_masked_and_hidden_from_the_holder_cannot_be_combined(
    doctor_record: TestClient, bearer: Bearer, report: str
) -> None:
    both = labels("MASQUE_PS", "INVISIBLE_PATIENT")
    # One request sets one person's flags: the holder's masking, not the author's hiding.
    issue = outcome(patch(doctor_record, bearer.holder(), report, "/securityLabel", both), 422)
    assert error_code(issue) == "FLAGS_MIXED"
    masked = patch(doctor_record, bearer.holder(), report, "/securityLabel", labels("MASQUE_PS"))
    assert masked.status_code == 200
    # The author may not hide from the holder what the holder masked from professionals.
    issue = outcome(
        patch(doctor_record, bearer.professional(), report, "/securityLabel", both), 422
    )
    assert error_code(issue) == "FLAGS_INCOMPATIBLE"
    at_publish = document_reference(labels=["MASQUE_PS", "INVISIBLE_PATIENT"])
    issue = outcome(publish(doctor_record, bearer.professional(), at_publish), 422)
    assert error_code(issue) == "FLAGS_INCOMPATIBLE"
    assert issue["expression"] == ["Bundle.entry[1].resource.securityLabel"]


def test_r21_archived_documents_leave_the_default_search(
    doctor_record: TestClient, bearer: Bearer, report: str
) -> None:
    tag = [{"system": systems.DMP_DOCUMENT_STATE, "code": "archived"}]
    archived = patch(doctor_record, bearer.professional(), report, "/meta/tag", tag)
    assert archived.status_code == 200, archived.text
    assert ids(search(doctor_record, bearer.professional())) == set()
    assert ids(search(doctor_record, bearer.professional(), archived="true")) == {report}
    restored = patch(doctor_record, bearer.professional(), report, "/meta/tag", [])
    assert restored.status_code == 200
    assert ids(search(doctor_record, bearer.professional())) == {report}


@pytest.mark.parametrize(
    ("ops", "where"),
    [
        ([{"op": "replace", "path": "/status", "value": "current"}], "PATCH[0].path"),
        ([{"op": "move", "path": "/securityLabel"}], "PATCH[0].op"),
        ({"op": "replace"}, "PATCH"),
    ],
)
def test_patch_changes_only_what_it_supports(
    doctor_record: TestClient, bearer: Bearer, report: str, ops: Any, where: str
) -> None:
    response = doctor_record.patch(
        f"/fhir/DocumentReference/{report}", json=ops, headers=bearer.holder()
    )
    assert outcome(response, 422)["expression"] == [where]


def test_the_metadata_tell_the_truth(doctor_record: TestClient) -> None:
    statement = doctor_record.get("/fhir/metadata").json()
    assert statement["fhirVersion"] == "4.0.1"
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    params = {p["name"] for p in resources["DocumentReference"]["searchParam"]}
    assert {"patient.identifier", "type", "date", "period", "status", "category"} <= params
    # Every advertised parameter is accepted; anything else is refused (test_find).
    for name in params - {"patient", "patient.identifier", "archived"}:
        value = {"date": "ge2020-01-01", "period": "ge2020-01-01", "status": "current"}.get(
            name, "x"
        )
        response = doctor_record.get(
            "/fhir/DocumentReference",
            params={
                "patient.identifier": "urn:oid:1.2.250.1.213.1.4.8|285037505612306",
                name: value,
            },
        )
        assert response.status_code == 200, (name, response.text)
