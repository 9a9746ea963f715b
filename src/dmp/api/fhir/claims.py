"""The care history over FHIR R4: `GET /fhir/ExplanationOfBenefit` (issue 5; RULES R5).

One ExplanationOfBenefit per claim line, searchable by patient (INS), care date and
category; one call to services/claims.py, which asks the guard. A caller who may not
read the record's care history gets the empty searchset a record without claims gives
(total 0): nothing tells the two apart. Unsupported parameters are refused with a 400
naming them, never silently ignored.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams

from dmp.api import deps
from dmp.api.fhir import systems
from dmp.api.fhir.common import FHIR_JSON, fhir_base
from dmp.api.fhir.search import (
    UnsupportedParameter,
    date_range,
    patient_param,
    tokens,
    whole_number,
)
from dmp.api.json import FhirJson
from dmp.domain.claims import CATEGORY_LABELS, ClaimCategory, ClaimLine
from dmp.services import claims as service
from dmp.services.context import Ctx
from dmp.storage.db import Database

DbDep = Annotated[Database, Depends(deps.db)]
CtxDep = Annotated[Ctx, Depends(deps.ctx)]

SUPPORTED = {
    "patient.identifier": "token (INS system|value)",
    "patient": "reference (Patient/<INS>)",
    "date": "date (care date; ge, gt, le, lt, eq)",
    "category": "token (consultation, pharmacy, biology…)",
    "_count": f"0..{service.MAX_PAGE}",
    "_offset": "paging",
    "_format": "json",
}
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
CARE_TEAM_ROLE = "http://terminology.hl7.org/CodeSystem/claimcareteamrole"
DMP_CLAIM_CATEGORY = "urn:dmp:fhir:claim-category"
# The HL7 claim type of each category (institutional, oral, pharmacy, professional, vision).
TYPES = {
    ClaimCategory.CONSULTATION: "professional",
    ClaimCategory.TECHNICAL_ACT: "professional",
    ClaimCategory.BIOLOGY: "professional",
    ClaimCategory.PHARMACY: "pharmacy",
    ClaimCategory.HOSPITAL_STAY: "institutional",
    ClaimCategory.PARAMEDICAL: "professional",
    ClaimCategory.DENTAL: "oral",
    ClaimCategory.OPTICAL: "vision",
    ClaimCategory.MEDICAL_DEVICE: "pharmacy",
}
INSURER = {"display": "Assurance Maladie"}


async def search(request: Request, db: DbDep, ctx: CtxDep) -> FhirJson:
    """GET /fhir/ExplanationOfBenefit?patient.identifier=…&date=…&category=…&_count=…"""
    params = request.query_params
    for name in params:
        if name not in SUPPORTED:
            raise UnsupportedParameter(
                "PARAMETER_UNSUPPORTED",
                f"search parameter {name!r} is not supported; supported: {', '.join(SUPPORTED)}",
                name,
            )
    ins = patient_param(params)
    since, until = _dates(params)
    count = whole_number(params.get("_count"), "_count", 0, service.MAX_PAGE, service.DEFAULT_PAGE)
    offset = whole_number(params.get("_offset"), "_offset", 0, service.MAX_OFFSET, 0)
    page = await run_in_threadpool(
        lambda: service.care_history(
            db,
            ctx,
            ins,
            since=since,
            until=until,
            category=tokens(params, "category", DMP_CLAIM_CATEGORY),
            count=count,
            offset=offset,
        )
    )
    url = f"{fhir_base(request)}/ExplanationOfBenefit"
    return FhirJson(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": page.total,
            "link": _links(request, url, params, count, offset, page.total),
            "entry": [
                {
                    "fullUrl": f"{url}/{line.claim_id}",
                    "resource": explanation_of_benefit(line),
                    "search": {"mode": "match"},
                }
                for line in page.lines
            ],
        },
        media_type=FHIR_JSON,
    )


def capability() -> dict[str, Any]:
    """This resource in the CapabilityStatement, from the table the handler checks."""
    kinds = {"patient.identifier": "token", "patient": "reference", "date": "date"}
    return {
        "type": "ExplanationOfBenefit",
        "interaction": [{"code": "search-type"}],
        "searchParam": [
            {"name": name, "type": kinds.get(name, "token"), "documentation": doc}
            for name, doc in SUPPORTED.items()
            if not name.startswith("_")
        ],
    }


def _dates(params: QueryParams) -> tuple[date | None, date | None]:
    """FHIR date prefixes over care dates, as the inclusive days [since, until]."""
    start, end = date_range(params.getlist("date"), "date")  # half-open, in UTC
    since = start.date() if start else None
    until = (end - timedelta(microseconds=1)).date() if end else None
    return since, until


def _links(
    request: Request, url: str, params: QueryParams, count: int, offset: int, total: int
) -> list[dict[str, str]]:
    links = [{"relation": "self", "url": str(request.url)}]
    kept = [(k, v) for k, v in params.multi_items() if k != "_offset"]

    def link(relation: str, at: int) -> dict[str, str]:
        return {"relation": relation, "url": f"{url}?{urlencode([*kept, ('_offset', str(at))])}"}

    if count and offset + count < total:
        links.append(link("next", offset + count))
    if offset > 0:
        links.append(link("previous", max(0, offset - count)))
    return links


def explanation_of_benefit(line: ClaimLine) -> dict[str, Any]:
    """One claim line as an R4 ExplanationOfBenefit: what was reimbursed, when, by whom."""
    nomenclature = line.nomenclature
    day = line.care_date.isoformat()
    resource: dict[str, Any] = {
        "resourceType": "ExplanationOfBenefit",
        "id": line.claim_id,
        "identifier": [{"system": "urn:dmp:fhir:claim-id", "value": line.claim_id}],
        "status": "active",
        "type": {"coding": [{"system": CLAIM_TYPE, "code": TYPES[line.category]}]},
        "subType": {
            "coding": [
                {
                    "system": DMP_CLAIM_CATEGORY,
                    "code": line.category.value,
                    "display": CATEGORY_LABELS[line.category],
                }
            ]
        },
        "use": "claim",
        "patient": {
            "reference": f"Patient/{line.ins}",
            "identifier": {"system": systems.INS_NIR, "value": line.ins},
        },
        "billablePeriod": {"start": day, "end": day},
        "created": day,
        "insurer": INSURER,
        "provider": _provider(line),
        "outcome": "complete",
        "insurance": [{"focal": True, "coverage": {"display": "Assurance Maladie obligatoire"}}],
        "item": [
            {
                "sequence": 1,
                "productOrService": {
                    "coding": [
                        {"system": nomenclature.system, "code": line.code, "display": line.label}
                    ],
                    "text": line.label,
                },
                "servicedDate": day,
                "quantity": {"value": line.quantity},
            }
        ],
    }
    team = _care_team(line)
    if team:
        resource["careTeam"] = team
        resource["item"][0]["careTeamSequence"] = [m["sequence"] for m in team]
    if line.facility_finess:
        resource["facility"] = {
            "identifier": {"system": systems.FINESS, "value": line.facility_finess}
        }
    return resource


def _practitioner(rpps: str, name: str | None = None) -> dict[str, Any]:
    reference: dict[str, Any] = {"identifier": {"system": systems.RPPS, "value": rpps}}
    if name:
        reference["display"] = name
    return reference


def _provider(line: ClaimLine) -> dict[str, Any]:
    """Who was reimbursed: the performer, else the facility (EOB.provider is required)."""
    if line.performer_rpps:
        return _practitioner(line.performer_rpps, line.performer_name)
    if line.facility_finess:
        return {"identifier": {"system": systems.FINESS, "value": line.facility_finess}}
    return {"display": line.performer_name or "non renseigné"}


def _care_team(line: ClaimLine) -> list[dict[str, Any]]:
    team: list[dict[str, Any]] = []
    if line.performer_rpps:
        member: dict[str, Any] = {
            "sequence": 1,
            "provider": _practitioner(line.performer_rpps, line.performer_name),
            "role": {"coding": [{"system": CARE_TEAM_ROLE, "code": "primary"}]},
        }
        if line.performer_profession:
            member["qualification"] = {
                "coding": [{"system": "urn:dmp:fhir:profession", "code": line.performer_profession}]
            }
        team.append(member)
    if line.prescriber_rpps:
        team.append(
            {
                "sequence": len(team) + 1,
                "provider": _practitioner(line.prescriber_rpps),
                "role": {
                    "coding": [{"system": CARE_TEAM_ROLE, "code": "other"}],
                    "text": "prescripteur",
                },
            }
        )
    return team
