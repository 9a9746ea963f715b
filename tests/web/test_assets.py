"""Static files: Plotly's JavaScript from the installed package, our CSS and script."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi.testclient import TestClient

from dmp.storage.db import Database
from tests.web.conftest import make_app


def test_plotly_js_comes_from_the_installed_package_with_a_long_cache(
    sqlite_db: Database, tmp_path: Path
) -> None:
    installed = resources.files("plotly").joinpath("package_data", "plotly.min.js").read_bytes()
    with TestClient(make_app(sqlite_db, tmp_path)) as client:
        response = client.get("/static/plotly.min.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "max-age=31536000" in response.headers["cache-control"]
    assert response.content == installed


def test_own_stylesheet_and_script_are_served(sqlite_db: Database, tmp_path: Path) -> None:
    with TestClient(make_app(sqlite_db, tmp_path)) as client:
        css = client.get("/static/app.css")
        script = client.get("/static/charts.js")
        missing = client.get("/static/nothing.js")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert "Plotly.newPlot" in script.text
    assert missing.status_code == 404


def test_the_page_asks_for_plotly_by_version_so_the_cache_can_be_long(
    sqlite_db: Database, tmp_path: Path
) -> None:
    import plotly

    with TestClient(make_app(sqlite_db, tmp_path)) as client:
        html = client.get("/stats").text
    assert f'src="/static/plotly.min.js?v={plotly.__version__}"' in html
    assert "cdn" not in html.lower()
