"""The patient's health profile over FHIR R4 (issue 4; RULES R5): search, read, create,
update and delete of AllergyIntolerance, Observation (the blood group), Condition,
Immunization and RelatedPerson — each handler one call to services/profile.py.

Versions: every change increments `meta.versionId`, sent back as `ETag: W/"<n>"`; an
update or delete with `If-Match: W/"<n>"` is refused with 412 when the entry has moved
on. Without If-Match the last write wins, as FHIR allows.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from email.utils import format_datetime
from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams

from dmp.api import deps
from dmp.api.fhir.common import FHIR_JSON, fhir_base
from dmp.api.fhir.search import UnsupportedParameter, patient_param, tokens, whole_number
from dmp.api.json import FhirJson
from dmp.domain.document_types import LOINC_SYSTEM
from dmp.domain.errors import InvalidInput
from dmp.domain.profile import DEFAULT_PAGE, MAX_PAGE, ProfileEntry, ProfileKind, ProfileQuery
from dmp.services import profile as service
from dmp.services.context import Ctx
from dmp.storage.db import Database

DbDep = Annotated[Database, Depends(deps.db)]
CtxDep = Annotated[Ctx, Depends(deps.ctx)]
BODY_LIMIT = 64 * 1024  # a profile entry is a few kilobytes
Handler = Callable[..., Awaitable[FhirJson]]
KINDS = tuple(ProfileKind)  # the resource types served

# Search parameters, per kind: name -> (FHIR type, documentation). Anything else is
# refused with its name (never silently ignored).
_COMMON = {
    "patient.identifier": ("token", "the patient's INS (system|value)"),
    "patient": ("reference", "Patient/<INS>"),
}
_RESULT = {
    "_count": f"1..{MAX_PAGE} (default {DEFAULT_PAGE})",
    "_offset": "paging",
    "_format": "json",
}
SEARCH_PARAMS: dict[ProfileKind, dict[str, tuple[str, str]]] = {
    kind: dict(_COMMON) for kind in ProfileKind
}
SEARCH_PARAMS[ProfileKind.OBSERVATION]["code"] = ("token", "LOINC; the profile holds 882-1")


def profile_query(kind: ProfileKind, params: QueryParams) -> ProfileQuery:
    supported = {**SEARCH_PARAMS[kind], **_RESULT}
    for name in params:
        if name not in supported:
            raise UnsupportedParameter(
                "PARAMETER_UNSUPPORTED",
                f"search parameter {name!r} is not supported on {kind.value}; "
                f"supported: {', '.join(supported)}",
                name,
            )
    return ProfileQuery(
        ins=patient_param(params),
        kind=kind,
        codes=tokens(params, "code", LOINC_SYSTEM),
        count=whole_number(params.get("_count"), "_count", 1, MAX_PAGE, DEFAULT_PAGE),
        offset=whole_number(params.get("_offset"), "_offset", 0, 10_000_000, 0),
    )


def capability_resources() -> list[dict[str, Any]]:
    """The CapabilityStatement's word on the profile (api/fhir/metadata.py)."""
    return [
        {
            "type": kind.value,
            "interaction": [
                {"code": code} for code in ("read", "search-type", "create", "update", "delete")
            ],
            "versioning": "versioned-update",
            "readHistory": False,
            "updateCreate": False,
            "conditionalCreate": False,
            "conditionalUpdate": False,
            "conditionalDelete": "not-supported",
            "searchParam": [
                {"name": name, "type": kind_, "documentation": doc}
                for name, (kind_, doc) in SEARCH_PARAMS[kind].items()
            ],
        }
        for kind in ProfileKind
    ]


# --- handlers, one set per kind (api/fhir/routes.py registers them) ---


def search_handler(kind: ProfileKind) -> Handler:
    async def search(request: Request, db: DbDep, ctx: CtxDep) -> FhirJson:
        """GET /fhir/<Type>?patient.identifier=…: only what the caller may read, counted so."""
        query = profile_query(kind, request.query_params)
        page = await run_in_threadpool(service.find_entries, db, ctx, query)
        url = f"{fhir_base(request)}/{kind.value}"
        return FhirJson(_searchset(request, url, query, page), media_type=FHIR_JSON)

    return _named(search, kind)


def read_handler(kind: ProfileKind) -> Handler:
    async def read(id: str, db: DbDep, ctx: CtxDep) -> FhirJson:
        """GET /fhir/<Type>/{id}."""
        entry = await run_in_threadpool(service.read_entry, db, ctx, kind, id)
        return _resource(entry)

    return _named(read, kind)


def create_handler(kind: ProfileKind) -> Handler:
    async def create(request: Request, db: DbDep, ctx: CtxDep) -> FhirJson:
        """POST /fhir/<Type>: the record is the one of the patient the resource names."""
        data = await _body(request, kind)
        entry = await run_in_threadpool(service.create_entry, db, ctx, kind, data)
        location = f"{fhir_base(request)}/{kind.value}/{entry.id}"
        return _resource(entry, status_code=201, location=location)

    return _named(create, kind)


def update_handler(kind: ProfileKind) -> Handler:
    async def update(request: Request, id: str, db: DbDep, ctx: CtxDep) -> FhirJson:
        """PUT /fhir/<Type>/{id}, with If-Match: W/"<versionId>" for a safe update."""
        data = await _body(request, kind)
        expected = _if_match(request)
        entry = await run_in_threadpool(service.update_entry, db, ctx, kind, id, data, expected)
        return _resource(entry)

    return _named(update, kind)


def delete_handler(kind: ProfileKind) -> Handler:
    async def delete(request: Request, id: str, db: DbDep, ctx: CtxDep) -> FhirJson:
        """DELETE /fhir/<Type>/{id}: logical (entered in error), by the author or holder."""
        expected = _if_match(request)
        entry = await run_in_threadpool(service.delete_entry, db, ctx, kind, id, expected)
        return _resource(entry)

    return _named(delete, kind)


def _named(handler: Handler, kind: ProfileKind) -> Handler:
    # Distinct names give distinct OpenAPI operation ids and readable route names.
    handler.__name__ = f"{handler.__name__}_{kind.value}"
    handler.__qualname__ = handler.__name__
    return handler


def _resource(entry: ProfileEntry, status_code: int = 200, location: str | None = None) -> FhirJson:
    headers = {
        "ETag": f'W/"{entry.version}"',
        "Last-Modified": format_datetime(entry.updated_at, usegmt=True),
    }
    if location:
        headers["Location"] = location
    return FhirJson(
        entry.resource(), status_code=status_code, media_type=FHIR_JSON, headers=headers
    )


def _searchset(
    request: Request, url: str, query: ProfileQuery, page: service.ProfilePage
) -> dict[str, Any]:
    links = [{"relation": "self", "url": str(request.url)}]
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "_offset"]

    def link(offset: int) -> str:
        return f"{url}?{urlencode([*params, ('_offset', str(offset))])}"

    if query.offset + query.count < page.total:
        links.append({"relation": "next", "url": link(query.offset + query.count)})
    if query.offset > 0:
        links.append({"relation": "previous", "url": link(max(0, query.offset - query.count))})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": page.total,
        "link": links,
        "entry": [
            {"fullUrl": f"{url}/{e.id}", "resource": e.resource(), "search": {"mode": "match"}}
            for e in page.entries
        ],
    }


async def _body(request: Request, kind: ProfileKind) -> Any:
    body = await request.body()
    if not body:
        raise InvalidInput("BODY_EMPTY", f"the request has no {kind.value}", kind.value)
    if len(body) > BODY_LIMIT:
        raise InvalidInput(
            "BODY_TOO_LARGE", f"the request is larger than {BODY_LIMIT} bytes", kind.value
        )
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidInput("BODY_NOT_JSON", "the body is not JSON", kind.value) from None


_ETAG = re.compile(r'(?:W/)?"([0-9]{1,9})"|([0-9]{1,9})')


def _if_match(request: Request) -> int | None:
    raw = request.headers.get("if-match")
    if raw is None:
        return None
    found = _ETAG.fullmatch(raw.strip())
    if found is None:
        raise InvalidInput("IF_MATCH_INVALID", 'If-Match is W/"<versionId>"', "If-Match")
    return int(found.group(1) or found.group(2))
