"""The route table of the FHIR R4 API, base `/fhir`."""

from __future__ import annotations

from fastapi import APIRouter


def fhir_router() -> APIRouter:
    r = APIRouter(prefix="/fhir", tags=["FHIR"])
    return r
