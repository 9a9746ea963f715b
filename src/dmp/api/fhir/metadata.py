"""GET /fhir/metadata: the CapabilityStatement, saying exactly what this server does.

Built from the same tables the handlers use (the search parameters of search.py), so
it cannot drift from the truth.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from dmp import __version__
from dmp.api.fhir import claims
from dmp.api.fhir.common import FHIR_JSON, fhir_base
from dmp.api.fhir.profile import capability_resources
from dmp.api.fhir.search import SUPPORTED
from dmp.api.json import FhirJson

_TYPES = {
    "patient.identifier": "token",
    "patient": "reference",
    "type": "token",
    "category": "token",
    "date": "date",
    "period": "date",
    "status": "token",
    "author.identifier": "token",
    "archived": "token",
}


def _params(names: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {"name": name, "type": kind, "documentation": SUPPORTED.get(name, "")}
        for name, kind in names.items()
    ]


def capability_statement(base: str) -> dict[str, Any]:
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-23",
        "kind": "instance",
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "software": {"name": "dmp", "version": __version__},
        "implementation": {"description": "Dossier Médical Partagé (dmp)", "url": base},
        "instantiates": [
            "https://profiles.ihe.net/ITI/MHD/CapabilityStatement/IHE.MHD.DocumentRecipient",
            "https://profiles.ihe.net/ITI/MHD/CapabilityStatement/IHE.MHD.DocumentResponder",
        ],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "cors": False,
                    "description": "Bearer tokens (OpenID Connect, Pro Santé Connect); "
                    "every access is decided by the record's access policy and audited.",
                },
                "interaction": [{"code": "transaction"}],
                "resource": [
                    {
                        "type": "DocumentReference",
                        "interaction": [
                            {"code": "read"},
                            {"code": "search-type"},
                            {"code": "patch"},
                            {"code": "delete"},
                        ],
                        "versioning": "no-version",
                        "conditionalCreate": False,
                        "searchParam": _params(_TYPES),
                    },
                    {"type": "Binary", "interaction": [{"code": "read"}]},
                    {
                        "type": "Patient",
                        "interaction": [
                            {"code": "read"},
                            {"code": "search-type"},
                            {"code": "create"},
                        ],
                        "searchParam": [{"name": "identifier", "type": "token"}],
                    },
                    {"type": "List", "interaction": []},
                    *capability_resources(),  # the health profile (issue 4)
                    claims.capability(),  # the care history (issue 5)
                ],
            }
        ],
    }


async def metadata(request: Request) -> FhirJson:
    return FhirJson(capability_statement(fhir_base(request)), media_type=FHIR_JSON)
