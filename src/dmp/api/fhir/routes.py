"""The route table of the FHIR R4 API, base `/fhir`."""

from __future__ import annotations

from fastapi import APIRouter

from dmp.api.fhir import claims, documents, metadata, patient, profile


def fhir_router() -> APIRouter:
    # ITI-65, the API's busiest route, first and as a plain Starlette route: FastAPI's
    # dependency solving and request handling cost ~6 % of a publish (documents.transaction).
    # Starlette routes take no prefix, hence their full paths on a router of their own.
    root = APIRouter()
    root.add_route("/fhir", documents.transaction, methods=["POST"], name="transaction")
    root.add_route("/fhir/", documents.transaction, methods=["POST"], include_in_schema=False)
    r = APIRouter(prefix="/fhir", tags=["FHIR"])
    r.add_api_route("/metadata", metadata.metadata, methods=["GET"])
    r.add_api_route("/DocumentReference", documents.search, methods=["GET"])
    r.add_api_route("/DocumentReference/{id}", documents.read, methods=["GET"])
    r.add_api_route("/DocumentReference/{id}", documents.patch, methods=["PATCH"])
    r.add_api_route("/DocumentReference/{id}", documents.delete, methods=["DELETE"])
    r.add_api_route("/Binary/{id}", documents.binary, methods=["GET"])
    r.add_api_route("/Patient", patient.search, methods=["GET"])
    r.add_api_route("/Patient", patient.create, methods=["POST"], status_code=201)
    r.add_api_route("/Patient/{id}", patient.read, methods=["GET"])
    r.add_api_route("/ExplanationOfBenefit", claims.search, methods=["GET"])  # issue 5
    # The patient's health profile (issue 4): search, create, read, update, delete per type.
    for kind in profile.KINDS:
        path, one = f"/{kind.value}", f"/{kind.value}/{{id}}"
        r.add_api_route(path, profile.search_handler(kind), methods=["GET"])
        r.add_api_route(path, profile.create_handler(kind), methods=["POST"], status_code=201)
        r.add_api_route(one, profile.read_handler(kind), methods=["GET"])
        r.add_api_route(one, profile.update_handler(kind), methods=["PUT"])
        r.add_api_route(one, profile.delete_handler(kind), methods=["DELETE"])
    root.include_router(r)
    return root
