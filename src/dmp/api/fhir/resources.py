"""Stored documents as FHIR R4 DocumentReference resources (IHE MHD, PDSm4DMP)."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from dmp.api.fhir import systems
from dmp.domain.document_types import CLASS_CODES, CLASS_SYSTEM, document_type
from dmp.domain.documents import Document, Flag
from dmp.domain.matrix import CATEGORY_LABELS


def instant(at: datetime) -> str:
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")


def patient_reference(ins: str) -> dict[str, Any]:
    return {
        "reference": f"Patient/{ins}",
        "identifier": {"system": systems.INS_NIR, "value": ins},
    }


def document_reference(doc: Document, base: str) -> dict[str, Any]:
    """One stored version as a DocumentReference; `base` is the FHIR base URL."""
    class_code, class_display = CLASS_CODES[doc.category]
    kind = document_type(doc.type_code)
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "id": doc.id,
        "meta": _meta(doc),
        "masterIdentifier": {"system": systems.URI, "value": doc.master_identifier},
        "identifier": [{"use": "official", "system": systems.URI, "value": f"urn:uuid:{doc.id}"}],
        "status": doc.status.value,
        "type": {
            "coding": [
                {
                    "system": kind.system,
                    "code": doc.type_code,
                    "display": kind.title,
                }
            ]
        },
        "category": [
            {
                "coding": [{"system": CLASS_SYSTEM, "code": class_code, "display": class_display}],
                "text": CATEGORY_LABELS.get(doc.category, doc.category.value),
            }
        ],
        "subject": patient_reference(doc.ins),
        "date": instant(doc.published_at),
        "author": [_author(doc)],
        "securityLabel": _security_labels(doc),
        "content": [
            {
                "attachment": _attachment(doc, base),
                "format": {
                    "system": systems.format_system(doc.format_code or ""),
                    "code": doc.format_code,
                },
            }
        ],
    }
    if doc.description:
        resource["description"] = doc.description
    if doc.replaces:
        resource["relatesTo"] = [
            {"code": "replaces", "target": {"reference": f"DocumentReference/{doc.replaces}"}}
        ]
    if doc.care_start or doc.care_end:
        period = {}
        if doc.care_start:
            period["start"] = instant(doc.care_start)
        if doc.care_end:
            period["end"] = instant(doc.care_end)
        resource["context"] = {"period": period}
    if not doc.format_code:
        del resource["content"][0]["format"]
    return resource


def _meta(doc: Document) -> dict[str, Any]:
    meta: dict[str, Any] = {"versionId": str(doc.version), "lastUpdated": instant(doc.published_at)}
    if doc.archived:
        # R21: the state a search filters on; DocumentReference has no element for it.
        meta["tag"] = [{"system": systems.DMP_DOCUMENT_STATE, "code": "archived"}]
    return meta


def _author(doc: Document) -> dict[str, Any]:
    a = doc.author
    system = systems.RPPS if a.role == "professional" else systems.INS_NIR
    author: dict[str, Any] = {"identifier": {"system": system, "value": a.id}}
    if a.role == "representative":
        author["identifier"] = {"system": "urn:dmp:representative", "value": a.id}
    if a.name:
        author["display"] = a.name
    return author


def _security_labels(doc: Document) -> list[dict[str, Any]]:
    labels = [
        {"coding": [{"system": systems.HL7_CONFIDENTIALITY, "code": "N", "display": "normal"}]}
    ]
    for flag in sorted(doc.visibility.flags):
        labels.append({"coding": [{"system": systems.DMP_CONFIDENTIALITY, "code": flag.value}]})
    return labels


def _attachment(doc: Document, base: str) -> dict[str, Any]:
    return {
        "contentType": doc.mime_type,
        **({"language": doc.language} if doc.language else {}),
        "url": f"{base}/Binary/{doc.id}",
        "size": doc.size,
        "hash": base64.b64encode(bytes.fromhex(doc.sha1)).decode(),
        "title": doc.title,
        "creation": instant(doc.created_at),
        "extension": [{"url": systems.DMP_SHA256, "valueString": doc.sha256}],
    }


def flags_of_labels(labels: object, path: str) -> frozenset[Flag] | list[str]:
    """The visibility flags a securityLabel list asks for, or the paths of what is wrong.

    Codes of the HL7 confidentiality system are accepted and carry no flag (the DMP
    marks every document N, normal); anything else is named as unsupported.
    """
    if labels is None:
        return frozenset()
    if not isinstance(labels, list):
        return [path]
    flags: set[Flag] = set()
    wrong: list[str] = []
    for i, label in enumerate(labels):
        codings = label.get("coding") if isinstance(label, dict) else None
        if not isinstance(codings, list) or not codings:
            wrong.append(f"{path}[{i}]")
            continue
        for j, coding in enumerate(codings):
            where = f"{path}[{i}].coding[{j}]"
            if not isinstance(coding, dict):
                wrong.append(where)
                continue
            system, code = coding.get("system"), coding.get("code")
            if system == systems.HL7_CONFIDENTIALITY:
                continue
            if system == systems.DMP_CONFIDENTIALITY and isinstance(code, str) and code in _FLAGS:
                flags.add(Flag(code))
                continue
            wrong.append(where)
    return wrong if wrong else frozenset(flags)


_FLAGS = frozenset(f.value for f in Flag)
