"""/stats in a real headless Chromium (Debian's), against a live uvicorn server:
the four Plotly charts draw, the form changes the figures, nothing leaves 127.0.0.1,
and without JavaScript every number is still on the page."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright

from dmp.storage.db import Database
from tests.web.builders import Opening, open_records
from tests.web.conftest import make_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
LAUNCH = datetime(2018, 11, 6, 9, tzinfo=UTC)
# Channels and departments weighted roughly like the first weeks of 2018.
CHANNELS = ["pharmacy"] * 5 + ["insurer"] * 3 + ["online"] * 2 + ["professional", "establishment"]
DEPARTMENTS = ["75", "92", "93", "13", "69", "59", "33", "31", "44", "67", "2A", "971", "35"]


def launch_weeks(n: int = 240) -> list[Opening]:
    """n openings spread over the eight weeks after the launch, growing week by week."""
    rng = random.Random(2018)
    days = [LAUNCH + timedelta(days=int(rng.triangular(0, 56, 56))) for _ in range(n)]
    return [(day, rng.choice(CHANNELS), rng.choice(DEPARTMENTS)) for day in sorted(days)]


@pytest.fixture
def base_url(sqlite_db: Database, tmp_path: Path) -> Iterator[str]:
    """The app served by uvicorn in a thread, on a free loopback port."""
    open_records(sqlite_db, launch_weeks())
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(make_app(sqlite_db, tmp_path), log_level="warning", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped while starting"
        assert time.monotonic() < deadline, "uvicorn did not start in 10 s"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (as .ci/run does)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def figure(page: Page, element_id: str) -> str:
    return (page.text_content(f"#{element_id}") or "").replace("\u202f", " ").strip()


def test_dashboard_draws_four_charts_and_the_form_changes_the_figures(
    browser: Browser, base_url: str
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    page.goto(f"{base_url}/stats")
    plots = page.locator(".js-plotly-plot")
    expect(plots).to_have_count(4)
    for i in range(4):
        expect(plots.nth(i).locator("svg.main-svg").first).to_be_visible()
    expect(page.locator("h1")).to_have_text("Ouvertures de dossiers médicaux partagés")
    headings = page.locator("h2").all_text_contents()
    for heading in (
        "Période",
        "Chiffres clés",
        "Ouvertures par semaine",
        "Canaux d'ouverture",
        "Ouvertures par région",
        "Progression vers les objectifs nationaux",
    ):
        assert heading in headings
    assert figure(page, "kpi-period") == "240"
    # Drawn charts fold their tables away; the numbers stay one click away.
    expect(page.locator("details.data[open]")).to_have_count(0)
    page.screenshot(path="/tmp/stats.png", full_page=True)

    page.fill("#from", "2018-12-01")
    page.fill("#to", "2018-12-31")
    page.select_option("#channel", "pharmacy")
    page.click("button[type=submit]")
    page.wait_for_url("**/stats?from=2018-12-01&to=2018-12-31&channel=pharmacy")
    expect(page.locator(".js-plotly-plot")).to_have_count(4)
    narrowed = int(figure(page, "kpi-period").replace(" ", ""))
    assert 0 < narrowed < 240
    assert figure(page, "kpi-cumulative") == "240"  # national progress: all channels

    assert errors == []
    assert any("/static/plotly.min.js?v=" in url for url in requests), requests
    assert all(url.startswith(base_url + "/") for url in requests), requests
    page.close()


def test_without_javascript_every_number_is_in_the_tables(browser: Browser, base_url: str) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{base_url}/stats?channel=online")
    expect(page.locator(".js-plotly-plot")).to_have_count(0)
    expect(page.locator("details.data[open]")).to_have_count(4)
    expect(
        page.get_by_role("table", name="Ouvertures par canal, En ligne (titulaire)")
    ).to_be_visible()
    context.close()


def test_a_bad_period_shows_the_error_next_to_the_form(browser: Browser, base_url: str) -> None:
    page = browser.new_page()
    response = page.goto(f"{base_url}/stats?from=2019-01-01&to=2018-12-01")
    assert response is not None
    assert response.status == 400
    expect(page.get_by_role("alert")).to_contain_text("La date de début est postérieure")
    expect(page.get_by_label("Du")).to_have_attribute("aria-invalid", "true")
    page.close()
