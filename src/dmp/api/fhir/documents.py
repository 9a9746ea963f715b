"""IHE MHD over FHIR R4: publish (ITI-65), find (ITI-67), retrieve (ITI-68), and the
document lifecycle (delete, archive, visibility flags) — each one call to a service."""

from __future__ import annotations

import base64
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from dmp.api import deps
from dmp.api.fhir import systems
from dmp.api.fhir.common import FHIR_JSON, fhir_base, json_body
from dmp.api.fhir.resources import document_reference, flags_of_labels, instant
from dmp.api.fhir.search import document_query
from dmp.api.fhir.submission import read_submission
from dmp.api.json import FhirJson
from dmp.api.records import AuthenticatedCtxDep, authenticated_ctx
from dmp.domain.errors import InvalidInput
from dmp.services import documents as service
from dmp.services.context import Ctx
from dmp.storage.db import Database

DbDep = Annotated[Database, Depends(deps.db)]
CtxDep = Annotated[Ctx, Depends(deps.ctx)]


async def vault(request: Request) -> service.Vault:
    value: service.Vault = request.app.state.vault
    return value


VaultDep = Annotated[service.Vault, Depends(vault)]


async def transaction(request: Request) -> Response:
    """POST /fhir — ITI-65 Provide Document Bundle: all the documents, or none.

    A plain Starlette endpoint, not a FastAPI one: publishing is the API's busiest path,
    and FastAPI's dependency solving and request handling cost about 6 % of a publish's
    instructions (docs/decisions/0009-documents.md, "Speed (session 5)"). It asks the
    same things in the same order — the caller proven by a bearer token (401 before the
    body is read), the body's size and JSON, then the submission — and its errors go
    through the app's handlers, as OperationOutcomes (api/outcomes.py, api/auth.py)."""
    ctx = await authenticated_ctx(await deps.ctx(request))
    db: Database = request.app.state.db
    vault: service.Vault = request.app.state.vault
    # base64 grows the bytes by 4/3; a Bundle may carry several documents.
    bundle = await json_body(request, vault.max_size * 2 + 1024 * 1024, "Bundle")
    submission = read_submission(bundle)
    stored = await run_in_threadpool(service.publish, db, vault, ctx, submission)
    by_master = {s.document.master_identifier: s for s in stored}
    # read_submission checked the shape: every DocumentReference has its content and
    # masterIdentifier, every Binary is named by one attachment's url.
    refs = [e["resource"] for e in bundle["entry"] if _kind(e) == "DocumentReference"]
    by_url = {
        r["content"][0]["attachment"].get("url"): by_master[r["masterIdentifier"]["value"]]
        for r in refs
    }
    entries: list[dict[str, Any]] = []
    for entry in bundle["entry"]:
        kind = _kind(entry)
        if kind == "DocumentReference":
            done = by_master[entry["resource"]["masterIdentifier"]["value"]]
            entries.append(_response(done, "DocumentReference"))
        elif kind == "Binary":
            entries.append(_response(by_url[entry["fullUrl"]], "Binary"))
        else:  # the List (SubmissionSet): kept as the documents' submission set
            location = f"List/{submission.submission_set}"
            entries.append({"response": {"status": "201 Created", "location": location}})
    return FhirJson(
        {"resourceType": "Bundle", "type": "transaction-response", "entry": entries},
        status_code=200,
        media_type=FHIR_JSON,
    )


def _kind(entry: dict[str, Any]) -> object:
    return entry.get("resource", {}).get("resourceType")


def _response(stored: service.Stored, kind: str) -> dict[str, Any]:
    doc = stored.document
    return {
        "response": {
            "status": "201 Created" if stored.created else "200 OK",
            "location": f"{kind}/{doc.id}",
            "etag": f'W/"{doc.version}"',
            "lastModified": instant(doc.published_at),
        }
    }


async def search(request: Request, ctx: CtxDep) -> FhirJson:
    """GET /fhir/DocumentReference — ITI-67: only what the caller may see, counted so."""
    db: Database = request.app.state.db  # as for a publish: no dependency to solve
    query = document_query(request.query_params)
    page = await run_in_threadpool(service.find, db, ctx, query)
    base = fhir_base(request)
    url = f"{base}/DocumentReference"
    links = [{"relation": "self", "url": str(request.url)}]
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "_offset"]

    def link(offset: int) -> str:
        return f"{url}?{urlencode([*params, ('_offset', str(offset))])}"

    if query.offset + query.count < page.total:
        links.append({"relation": "next", "url": link(query.offset + query.count)})
    if query.offset > 0:
        links.append({"relation": "previous", "url": link(max(0, query.offset - query.count))})
    return FhirJson(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": page.total,
            "link": links,
            "entry": [
                {
                    "fullUrl": f"{url}/{d.id}",
                    "resource": document_reference(d, base),
                    "search": {"mode": "match"},
                }
                for d in page.documents
            ],
        },
        media_type=FHIR_JSON,
    )


async def read(request: Request, id: str, db: DbDep, ctx: CtxDep) -> FhirJson:
    """GET /fhir/DocumentReference/{id}."""
    doc = await run_in_threadpool(service.read_document, db, ctx, id)
    return FhirJson(document_reference(doc, fhir_base(request)), media_type=FHIR_JSON)


async def binary(request: Request, id: str, db: DbDep, ctx: CtxDep, vault: VaultDep) -> Response:
    """GET /fhir/Binary/{id} — ITI-68: the original bytes with their Content-Type; a
    Binary resource (base64) when the client asks for FHIR JSON."""
    doc, data = await run_in_threadpool(service.retrieve, db, vault, ctx, id)
    accept = request.headers.get("accept", "")
    if FHIR_JSON in accept or request.query_params.get("_format") == "json":
        return FhirJson(
            {
                "resourceType": "Binary",
                "id": doc.id,
                "contentType": doc.mime_type,
                "data": base64.b64encode(data).decode(),
            },
            media_type=FHIR_JSON,
        )
    return Response(
        data,
        media_type=doc.mime_type,
        headers={
            "ETag": f'"{doc.sha256}"',
            "Digest": f"sha-256={base64.b64encode(bytes.fromhex(doc.sha256)).decode()}",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


async def delete(request: Request, id: str, db: DbDep, ctx: AuthenticatedCtxDep) -> FhirJson:
    """DELETE /fhir/DocumentReference/{id} — R7: logical, by the author only."""
    doc = await run_in_threadpool(service.delete_document, db, ctx, id)
    return FhirJson(document_reference(doc, fhir_base(request)), media_type=FHIR_JSON)


async def patch(request: Request, id: str, db: DbDep, ctx: AuthenticatedCtxDep) -> FhirJson:
    """PATCH /fhir/DocumentReference/{id} (JSON Patch): `securityLabel` (the visibility
    flags, R12/R13) and the archived tag in `meta.tag` (R21). Anything else is refused."""
    ops = await json_body(request, 64 * 1024, "PATCH")
    if not isinstance(ops, list) or not ops:
        raise InvalidInput("PATCH_INVALID", "the body is a JSON Patch array", "PATCH")
    flags = None
    archived = None
    for i, op in enumerate(ops):
        where = f"PATCH[{i}]"
        if not isinstance(op, dict) or op.get("op") not in ("replace", "add"):
            raise InvalidInput("PATCH_OP", "supported: replace or add", f"{where}.op")
        path = op.get("path")
        if path == "/securityLabel":
            labels = flags_of_labels(op.get("value"), "DocumentReference.securityLabel")
            if isinstance(labels, list):
                raise InvalidInput("SECURITY_LABEL", "unsupported securityLabel code", labels[0])
            flags = labels
        elif path == "/meta/tag":
            archived = _archived_tag(op.get("value"))
        else:
            raise InvalidInput(
                "PATCH_PATH", "only /securityLabel and /meta/tag can be changed", f"{where}.path"
            )
    if flags is not None and archived is not None:
        raise InvalidInput("PATCH_MIXED", "change flags and archiving separately", "PATCH")
    if flags is not None:
        doc = await run_in_threadpool(service.set_flags, db, ctx, id, flags)
    else:
        assert archived is not None
        doc = await run_in_threadpool(service.archive_document, db, ctx, id, archived)
    return FhirJson(document_reference(doc, fhir_base(request)), media_type=FHIR_JSON)


def _archived_tag(value: object) -> bool:
    if not isinstance(value, list):
        raise InvalidInput("TAG", "meta.tag is a list of codings", "DocumentReference.meta.tag")
    codes = {
        t.get("code")
        for t in value
        if isinstance(t, dict) and t.get("system") == systems.DMP_DOCUMENT_STATE
    }
    if codes - {"archived"}:
        raise InvalidInput("TAG", "the only state tag is 'archived'", "DocumentReference.meta.tag")
    return "archived" in codes
