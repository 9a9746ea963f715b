"""The one table from errors to HTTP: every error body is a FHIR OperationOutcome
naming the code, the message and the offending field."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from dmp.api.fhir.search import UnsupportedParameter
from dmp.api.json import FhirJson
from dmp.domain.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    Refused,
    SeveralErrors,
)

# (HTTP status, FHIR issue type) per domain error class.
STATUS: dict[type[DomainError], tuple[int, str]] = {
    UnsupportedParameter: (400, "not-supported"),  # checked before InvalidInput, its base
    InvalidInput: (422, "invalid"),
    NotFound: (404, "not-found"),
    PreconditionFailed: (412, "conflict"),  # checked before Conflict, its base
    Conflict: (409, "conflict"),
    Refused: (422, "business-rule"),
}


def operation_outcome(issues: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": list(issues)}


def issue(code: str, text: str, fhir_code: str, field: str | None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "severity": "error",
        "code": fhir_code,
        "details": {"coding": [{"system": "urn:dmp:error", "code": code}], "text": text},
    }
    if field:
        item["expression"] = [field]
    return item


def _status(exc: DomainError) -> tuple[int, str]:
    return next((v for cls, v in STATUS.items() if isinstance(exc, cls)), (400, "processing"))


def domain_error_response(exc: DomainError) -> FhirJson:
    """One issue per error; several errors (a transaction's entries) answer with the
    status of the first, every faulty entry named by its FHIRPath."""
    errors = exc.errors if isinstance(exc, SeveralErrors) else (exc,)
    issues = [issue(e.code, e.message, _status(e)[1], e.field) for e in errors]
    return FhirJson(
        operation_outcome(issues),
        status_code=_status(errors[0])[0],
        media_type="application/fhir+json",
    )


def install(app: FastAPI) -> None:
    """Register the error handlers on `app`."""

    async def on_domain_error(_: Request, exc: Exception) -> FhirJson:
        assert isinstance(exc, DomainError)
        return domain_error_response(exc)

    async def on_validation_error(_: Request, exc: Exception) -> FhirJson:
        assert isinstance(exc, RequestValidationError)
        issues = [
            issue(
                "REQUEST_INVALID",
                str(err.get("msg", "invalid value")),
                "invalid",
                ".".join(str(p) for p in err.get("loc", ())[1:]) or None,
            )
            for err in exc.errors()
        ]
        return FhirJson(operation_outcome(issues), status_code=422)

    async def on_http_error(_: Request, exc: Exception) -> FhirJson:
        assert isinstance(exc, HTTPException)
        fhir_code = "not-found" if exc.status_code == 404 else "processing"
        return FhirJson(
            operation_outcome([issue(f"HTTP_{exc.status_code}", str(exc.detail), fhir_code, None)]),
            status_code=exc.status_code,
            media_type="application/fhir+json",
        )

    async def on_unexpected(_: Request, exc: Exception) -> FhirJson:
        # Logged by the server; the caller learns nothing of the internals.
        name = "DOCUMENT_UNREADABLE" if type(exc).__name__ == "DocumentUnreadable" else "INTERNAL"
        return FhirJson(
            operation_outcome([issue(name, "internal error", "exception", None)]),
            status_code=500,
            media_type="application/fhir+json",
        )

    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(Exception, on_unexpected)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
