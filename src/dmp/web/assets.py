"""Static files: our own CSS and script, and Plotly's JavaScript served from the
installed `plotly` package (STYLE 11: nothing vendored, no CDN)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import plotly
from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

PLOTLY_URL = "/static/plotly.min.js"
# Pages ask for PLOTLY_URL?v=<version>, so a year-long cache is safe across upgrades.
PLOTLY_VERSION: str = plotly.__version__
LONG_CACHE = "public, max-age=31536000, immutable"


@cache
def plotly_js_path() -> Path:
    path = Path(str(resources.files("plotly").joinpath("package_data", "plotly.min.js")))
    if not path.is_file():
        raise RuntimeError(f"plotly.min.js is missing from the installed plotly package: {path}")
    return path


def plotly_js() -> FileResponse:
    return FileResponse(
        plotly_js_path(),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": LONG_CACHE},
    )


def mount(app: FastAPI) -> None:
    # The Plotly route comes before the mount, which would otherwise answer 404 for it.
    app.add_api_route(PLOTLY_URL, plotly_js, methods=["GET"], include_in_schema=False)
    app.mount("/static", StaticFiles(packages=[("dmp.web", "static")]), name="static")
