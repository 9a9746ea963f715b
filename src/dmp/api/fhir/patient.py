"""FHIR Patient: the record's holder as practice software finds it (PDSm4DMP TD0.2:
does this person have a record, is it open, who is the médecin traitant) and opening a
record through FHIR with the person's consent (RULES R2)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from dmp.api import deps
from dmp.api.fhir import systems
from dmp.api.fhir.common import FHIR_JSON, fhir_base, json_body
from dmp.api.fhir.search import UnsupportedParameter, patient_ins
from dmp.api.json import FhirJson
from dmp.api.records import AuthenticatedCtxDep
from dmp.domain.errors import InvalidInput, NotFound
from dmp.domain.records import Record
from dmp.services import records as service
from dmp.services.context import Ctx
from dmp.storage.db import Database

DbDep = Annotated[Database, Depends(deps.db)]
CtxDep = Annotated[Ctx, Depends(deps.ctx)]
CONSENT_EXTENSION = "urn:dmp:fhir:StructureDefinition:record-consent"
CHANNEL_EXTENSION = "urn:dmp:fhir:StructureDefinition:opening-channel"
_SEARCH = ("identifier", "_format")


def patient(record: Record, doctor: str | None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": record.ins,
        "identifier": [{"use": "official", "system": systems.INS_NIR, "value": record.ins}],
        "extension": [{"url": systems.DMP_RECORD_STATUS, "valueCode": record.status.value}],
        "active": record.status.value == "open",
    }
    identity = record.identity
    if identity is not None:
        resource["name"] = [
            {
                "use": "official",
                "family": identity.family_name,
                "given": identity.given_names.split(),
            }
        ]
        resource["gender"] = {"F": "female", "M": "male"}.get(str(identity.sex), "unknown")
        resource["birthDate"] = identity.birth_date.isoformat()
    if doctor:
        resource["generalPractitioner"] = [
            {"type": "Practitioner", "identifier": {"system": systems.RPPS, "value": doctor}}
        ]
    return resource


async def search(request: Request, db: DbDep, ctx: CtxDep) -> FhirJson:
    """GET /fhir/Patient?identifier=<INS system>|<INS>: the record's Patient if the
    caller may know of it; an empty result otherwise, as for no record at all."""
    for name in request.query_params:
        if name not in _SEARCH:
            raise UnsupportedParameter(
                "PARAMETER_UNSUPPORTED",
                f"search parameter {name!r} is not supported; supported: identifier",
                name,
            )
    ins = patient_ins(request.query_params, "identifier")
    try:
        record, doctor = await run_in_threadpool(service.get_record_and_doctor, db, ctx, ins)
        found = [patient(record, doctor)]
    except NotFound:
        found = []
    base = fhir_base(request)
    return FhirJson(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(found),
            "link": [{"relation": "self", "url": str(request.url)}],
            "entry": [
                {"fullUrl": f"{base}/Patient/{p['id']}", "resource": p, "search": {"mode": "match"}}
                for p in found
            ],
        },
        media_type=FHIR_JSON,
    )


async def read(id: str, db: DbDep, ctx: CtxDep) -> FhirJson:
    """GET /fhir/Patient/{INS}."""
    record, doctor = await run_in_threadpool(service.get_record_and_doctor, db, ctx, id)
    return FhirJson(patient(record, doctor), media_type=FHIR_JSON)


async def create(request: Request, db: DbDep, ctx: AuthenticatedCtxDep) -> FhirJson:
    """POST /fhir/Patient: open the record of the person the Patient identifies.

    RULES R2: the consent is an extension of the Patient (`record-consent`, with
    `givenBy` holder or legal_representative and `informed` true); the channel follows
    from who opens (a professional for themself; `opening-channel` may say pharmacy or
    establishment for their organisation).
    """
    body = await json_body(request, 64 * 1024, "Patient")
    if not isinstance(body, dict) or body.get("resourceType") != "Patient":
        raise InvalidInput("NOT_A_PATIENT", "the body must be a FHIR Patient", "Patient")
    ins = _ins_of(body)
    given_by, informed = _consent(body)
    channel = _extension(body, CHANNEL_EXTENSION, "valueCode") or _default_channel(ctx)
    opened_by = _opener(ctx, channel)
    opened = service.OpenRequest(ins, channel, opened_by, given_by, informed)
    record = await run_in_threadpool(service.open_record, db, ctx, opened)
    return FhirJson(
        patient(record, None),
        status_code=201,
        media_type=FHIR_JSON,
        headers={"Location": f"{fhir_base(request)}/Patient/{record.ins}"},
    )


def _ins_of(body: dict[str, Any]) -> str:
    for i, ident in enumerate(body.get("identifier") or []):
        if isinstance(ident, dict) and ident.get("system") in systems.INS_SYSTEMS:
            value = ident.get("value")
            if isinstance(value, str):
                return value
            raise InvalidInput(
                "INS_REQUIRED", "the INS value is required", f"Patient.identifier[{i}].value"
            )
    raise InvalidInput(
        "INS_REQUIRED",
        f"an identifier of system {systems.INS_NIR} is required",
        "Patient.identifier",
    )


def _extension(body: dict[str, Any], url: str, value_key: str) -> Any:
    for ext in body.get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == url:
            return ext.get(value_key) if value_key else ext
    return None


def _consent(body: dict[str, Any]) -> tuple[str, bool]:
    ext = _extension(body, CONSENT_EXTENSION, "")
    if not isinstance(ext, dict):
        raise InvalidInput(
            "CONSENT_REQUIRED",
            f"opening a record needs the person's consent (extension {CONSENT_EXTENSION})",
            "Patient.extension",
        )
    parts = {e.get("url"): e for e in ext.get("extension") or [] if isinstance(e, dict)}
    given_by = (parts.get("givenBy") or {}).get("valueCode", "")
    informed = (parts.get("informed") or {}).get("valueBoolean")
    if not isinstance(informed, bool):
        raise InvalidInput(
            "CONSENT_INFORMED",
            "the consent says whether the person was informed (informed: valueBoolean)",
            "Patient.extension.extension",
        )
    return str(given_by), informed


def _default_channel(ctx: Ctx) -> str:
    return {"professional": "professional", "insurer_agent": "insurer", "patient": "online"}.get(
        ctx.actor.role.value, "professional"
    )


def _opener(ctx: Ctx, channel: str) -> str | None:
    if channel == "professional":
        return ctx.actor.id
    if channel in ("pharmacy", "establishment"):
        return ctx.actor.organisation
    if channel == "insurer":
        return ctx.actor.organisation or ctx.actor.id
    return None
