"""What every FHIR handler shares: the media type, the base URL, and reading a JSON
body with a clear error naming the resource expected."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request

from dmp.domain.errors import InvalidInput

FHIR_JSON = "application/fhir+json"


def fhir_base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir"


async def json_body(request: Request, limit: int, expected: str) -> Any:
    """The request's JSON; `expected` (Bundle, Patient, PATCH…) names it in errors."""
    body = await request.body()
    if not body:
        raise InvalidInput("BODY_EMPTY", "the request has no body", expected)
    if len(body) > limit:
        raise InvalidInput("BODY_TOO_LARGE", f"the request is larger than {limit} bytes", expected)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidInput("BODY_NOT_JSON", "the body is not JSON", expected) from None
