"""FHIR payloads as practice software sends them: ITI-65 bundles and their parts."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from dmp.api.fhir import systems
from dmp.feeds.synthetic.documents import make_pdf
from tests.personas import ALICE

CONSULTATION = "11488-4"  # compte rendu (matrix: read by doctors, pharmacists…)
VACCINATIONS = "11369-6"
PDF = make_pdf("Compte rendu de consultation", ["Examen clinique normal."])


def document_reference(
    *,
    ins: str = ALICE.ins,
    type_code: str = CONSULTATION,
    master: str | None = None,
    data: bytes | None = PDF,
    mime: str = "application/pdf",
    binary_url: str | None = None,
    labels: list[str] = (),  # type: ignore[assignment]
    replaces: str | None = None,
    period_start: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    attachment: dict[str, Any] = {"contentType": mime, "title": "Compte rendu"}
    if binary_url:
        attachment["url"] = binary_url
    elif data is not None:
        attachment["data"] = base64.b64encode(data).decode()
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "masterIdentifier": {"system": systems.URI, "value": master or f"urn:oid:1.2.3.{_n()}"},
        "status": "current",
        "type": {"coding": [{"system": "http://loinc.org", "code": type_code}]},
        "subject": {"identifier": {"system": systems.INS_NIR, "value": ins}},
        "date": "2026-11-20T10:00:00+01:00",
        "author": [{"display": "Dr Bob Martin"}],
        "content": [{"attachment": attachment}],
    }
    if labels:
        resource["securityLabel"] = [
            {"coding": [{"system": systems.DMP_CONFIDENTIALITY, "code": code}]} for code in labels
        ]
    if replaces:
        resource["relatesTo"] = [
            {"code": "replaces", "target": {"reference": f"DocumentReference/{replaces}"}}
        ]
    if period_start:
        resource["context"] = {"period": {"start": period_start}}
    resource.update(extra)
    return resource


def bundle(
    *refs: dict[str, Any], ins: str = ALICE.ins, binaries: dict[str, bytes] | None = None
) -> dict[str, Any]:
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": f"urn:uuid:{uuid.uuid4()}",
            "resource": {
                "resourceType": "List",
                "identifier": [
                    {"use": "usual", "system": systems.URI, "value": f"urn:oid:1.2.9.{_n()}"}
                ],
                "status": "current",
                "mode": "working",
                "subject": {"identifier": {"system": systems.INS_NIR, "value": ins}},
            },
            "request": {"method": "POST", "url": "List"},
        }
    ]
    for ref in refs:
        entries.append(
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": ref,
                "request": {"method": "POST", "url": "DocumentReference"},
            }
        )
    for url, data in (binaries or {}).items():
        entries.append(
            {
                "fullUrl": url,
                "resource": {
                    "resourceType": "Binary",
                    "contentType": "application/pdf",
                    "data": base64.b64encode(data).decode(),
                },
                "request": {"method": "POST", "url": "Binary"},
            }
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


_counter = iter(range(1, 10**9))


def _n() -> str:
    return f"{uuid.uuid4().int % 10**12}.{next(_counter)}"
