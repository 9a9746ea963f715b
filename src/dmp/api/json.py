"""JSON responses serialised by orjson."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse


class Json(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class FhirJson(Json):
    media_type = "application/fhir+json"
