"""Rendering a portal page: the template, the form's CSRF token, the field errors."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import HTMLResponse

from dmp.domain.errors import DomainError
from dmp.web.portal.messages import field_of, french
from dmp.web.portal.security import csrf_token
from dmp.web.rendering import templates

# Every form field is optional at the HTTP level: a missing one is a French error on
# the page, never FastAPI's JSON 422.
FormText = Annotated[str, Form()]


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    values: dict[str, Any] = {"csrf": csrf_token(request), "signed_in": False, "errors": {}}
    values.update(context or {})
    response: HTMLResponse = templates().TemplateResponse(
        request, f"portal/{name}", values, status_code=status
    )
    return response


def error_of(exc: DomainError) -> dict[str, str]:
    """{form field: French sentence} for one domain error."""
    return {field_of(exc): french(exc)}
