"""The whole route table of the web pages."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse


def web_router() -> APIRouter:
    r = APIRouter()
    r.add_api_route(
        "/", lambda: RedirectResponse("/stats"), methods=["GET"], include_in_schema=False
    )
    return r


def mount_static(app: FastAPI) -> None:
    """Static files (none yet)."""
