"""Real FHIR clients against the running server (issue 4): fhirpy and fhirclient
publish, find (following the paging links) and retrieve documents over HTTP, and what
the server emits is valid FHIR R4B as fhir.resources reads it."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest
from fhirclient.models.documentreference import DocumentReference as FcDocumentReference
from fhirclient.server import FHIRServer
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import OperationOutcome as FhirpyOutcome

from dmp.feeds.synthetic.documents import make_cda_level1
from tests.api.fhir.builders import PDF, bundle, document_reference
from tests.api.fhir.conftest import INS_QUERY, LiveServer
from tests.personas import ALICE, DR_BOB_RPPS

pytestmark = pytest.mark.usefixtures("doctor_record")

R4B = pytest.importorskip("fhir.resources.R4B.documentreference")
BUNDLE_R4B = pytest.importorskip("fhir.resources.R4B.bundle")
CAPABILITY_R4B = pytest.importorskip("fhir.resources.R4B.capabilitystatement")


def fhirpy_client(live: LiveServer) -> SyncFHIRClient:
    token = live.bearer.professional()["Authorization"]
    return SyncFHIRClient(live.base, authorization=token)


def test_fhirpy_publishes_finds_across_pages_and_retrieves(live_server: LiveServer) -> None:
    client = fhirpy_client(live_server)
    refs = [document_reference() for _ in range(7)]
    response: dict[str, Any] = client.execute("", method="post", data=bundle(*refs))
    assert response["type"] == "transaction-response"
    assert len(response["entry"]) == 8
    found = (
        client.resources("DocumentReference")
        .search(**{"patient.identifier": INS_QUERY})
        .limit(3)
        .fetch_all()
    )
    assert len(found) == 7
    masters = {d["masterIdentifier"]["value"] for d in found}
    assert masters == {r["masterIdentifier"]["value"] for r in refs}
    for document in found:
        R4B.DocumentReference.model_validate(document.serialize())
    binary = client.execute(f"Binary/{found[0]['id']}", method="get", params={"_format": "json"})
    assert base64.b64decode(binary["data"]) == PDF
    reports = client.resources("DocumentReference").search(
        **{"patient.identifier": INS_QUERY, "type": "11488-4"}
    )
    assert len(reports.fetch_all()) == 7


def test_fhirpy_sees_the_operation_outcome_of_a_refused_bundle(live_server: LiveServer) -> None:
    client = fhirpy_client(live_server)
    wrong = document_reference(mime="image/png")
    with pytest.raises(FhirpyOutcome) as refused:
        client.execute("", method="post", data=bundle(wrong))
    issues = refused.value.resource["issue"]
    assert issues[0]["details"]["coding"][0]["code"] == "CONTENT_TYPE_MISMATCH"
    assert issues[0]["expression"][0].startswith("Bundle.entry[1].resource.content[0]")
    nothing = client.resources("DocumentReference").search(**{"patient.identifier": INS_QUERY})
    assert nothing.fetch_all() == []


def test_fhirclient_publishes_a_cda_finds_it_and_retrieves_the_bytes(
    live_server: LiveServer,
) -> None:
    server = FHIRServer(None, base_uri=live_server.base)
    server.session.headers["Authorization"] = live_server.bearer.professional()["Authorization"]
    cda = make_cda_level1(
        PDF,
        ins=ALICE.ins,
        title="Compte rendu",
        loinc="11488-4",
        author_rpps=DR_BOB_RPPS,
        when=datetime(2026, 11, 20, tzinfo=UTC),
    )
    ref = document_reference(mime="application/xml", data=cda)
    result = server.post_json("", bundle(ref)).json()
    assert result["entry"][1]["response"]["status"] == "201 Created"
    search = FcDocumentReference.where({"patient.identifier": INS_QUERY})
    found = list(search.perform_resources_iter(server))
    assert [d.masterIdentifier.value for d in found] == [ref["masterIdentifier"]["value"]]
    attachment = found[0].content[0].attachment
    assert attachment.contentType == "application/xml"
    data = server.request_data(attachment.url, headers={"Accept": "application/xml"})
    assert data == cda
    capability = server.request_json("metadata")
    CAPABILITY_R4B.CapabilityStatement.model_validate(capability)


def test_every_emitted_search_bundle_is_valid_r4b(live_server: LiveServer) -> None:
    client = fhirpy_client(live_server)
    client.execute("", method="post", data=bundle(document_reference(labels=["MASQUE_PS"])))
    searchset = client.execute(
        "DocumentReference", method="get", params={"patient.identifier": INS_QUERY}
    )
    BUNDLE_R4B.Bundle.model_validate(searchset)
