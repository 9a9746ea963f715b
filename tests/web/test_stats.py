"""/stats over HTTP, on SQLite and PostgreSQL: real figures from records opened
through the services, French errors with HTTP 400, exports through the API."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from html import unescape

import pytest
from fastapi.testclient import TestClient

from dmp.services import records
from dmp.services.context import system_ctx
from dmp.storage.db import Database
from tests.web.builders import open_records

NOV = [datetime(2018, 11, d, 10, tzinfo=UTC) for d in range(1, 31)]
PERIOD = "/stats?from=2018-11-01&to=2018-12-31"


@pytest.fixture
def seeded(db: Database) -> list[str]:
    """Three pharmacy openings (Paris, Paris, Corsica) and one online (Bouches-du-Rhône)."""
    return open_records(
        db,
        [
            (NOV[5], "pharmacy", "75"),  # 6 Nov 2018, week 45
            (NOV[6], "pharmacy", "75"),
            (NOV[13], "pharmacy", "2A"),  # week 46
            (NOV[20], "online", "13"),  # week 47
        ],
    )


def visible(html: str) -> str:
    """Text as a reader sees it: entities decoded, French narrow spaces as spaces."""
    return unescape(html).replace("\u202f", " ")


def text_of(html: str, element_id: str) -> str:
    """The text of the element with this id."""
    found = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', html)
    assert found, f"no element #{element_id}"
    return visible(found.group(1)).strip()


def row(html: str, label: str) -> list[str]:
    """The cells, joined by '|', of every table row headed `label`."""
    rows = re.findall(r'<th scope="row">([^<]*)</th>((?:<td[^>]*>[^<]*</td>)+)', html)
    return [
        visible("|".join(re.findall(r"<td[^>]*>([^<]*)</td>", cells)))
        for head, cells in rows
        if visible(head) == label
    ]


def test_dashboard_shows_openings_per_channel_region_and_week(
    client: TestClient, seeded: list[str]
) -> None:
    response = client.get(PERIOD)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert text_of(html, "kpi-period") == "4"
    assert row(html, "Pharmacie") == ["3|75,0 %"]
    assert row(html, "En ligne (titulaire)") == ["1|25,0 %"]
    assert row(html, "Île-de-France") == ["2"]
    assert row(html, "Corse") == ["1"]
    assert row(html, "Provence-Alpes-Côte d'Azur") == ["1"]
    assert row(html, "Semaine 45 de 2018") == ["2", "2|2"]  # weekly table, then cumulative
    assert row(html, "Semaine 47 de 2018") == ["1", "1|4"]


def test_headline_figures_count_closures_reopenings_and_targets(
    client: TestClient, db: Database
) -> None:
    ins = open_records(
        db, [(NOV[5], "pharmacy", "75"), (NOV[6], "insurer", "69"), (NOV[7], "online", "33")]
    )
    records.close_record(db, system_ctx(NOV[9], "test"), ins[0], "holder", "je pars")
    records.close_record(db, system_ctx(NOV[9], "test"), ins[1], "holder", "je pars")
    records.reopen_record(db, system_ctx(NOV[12], "test"), ins[1], "holder", True)
    html = client.get(PERIOD).text
    assert text_of(html, "kpi-period") == "3"
    assert text_of(html, "kpi-active") == "2"  # 3 opened − 2 closed + 1 reopened
    assert "3 ouverts − 2 fermés + 1 rouverts" in visible(html)
    assert text_of(html, "kpi-cumulative") == "3"  # the targets count openings
    assert text_of(html, "kpi-target-10") == "< 0,1 %"
    assert "3 sur 10 000 000" in visible(html)


def test_progress_shows_the_share_of_each_target(client: TestClient, db: Database) -> None:
    open_records(db, [(NOV[5], "pharmacy", "75")] * 2)
    html = client.get(PERIOD).text
    assert re.search(r'<progress max="10000000" value="2"', html)
    assert re.search(r'<progress max="40000000" value="2"', html)


def test_channel_filter_narrows_the_period_figures(client: TestClient, seeded: list[str]) -> None:
    html = client.get(PERIOD + "&channel=pharmacy").text
    assert text_of(html, "kpi-period") == "3"
    assert row(html, "En ligne (titulaire)") == []
    assert '<option value="pharmacy" selected>' in html
    assert text_of(html, "kpi-cumulative") == "4"  # the national progress ignores the filter


def test_defaults_run_from_the_first_opening_to_today(
    client: TestClient, seeded: list[str]
) -> None:
    html = client.get("/stats").text
    assert 'name="from" value="2018-11-06"' in html
    assert 'name="to" value="2018-12-31"' in html  # TODAY in conftest
    assert text_of(html, "kpi-period") == "4"


def test_a_period_before_any_opening_shows_zero_and_no_chart(
    client: TestClient, seeded: list[str]
) -> None:
    response = client.get("/stats?from=2018-01-01&to=2018-10-31")
    assert response.status_code == 200
    assert text_of(response.text, "kpi-period") == "0"
    assert "Aucune ouverture sur cette période." in visible(response.text)
    assert "data-figure" not in response.text


def test_an_empty_database_shows_an_empty_dashboard(client: TestClient) -> None:
    response = client.get("/stats")
    assert response.status_code == 200
    assert text_of(response.text, "kpi-period") == "0"
    assert "Aucun dossier ouvert à cette date." in visible(response.text)


@pytest.mark.parametrize(
    ("query", "message", "field"),
    [
        ("from=2018-13-01", "La date « Du » n'est pas une date valide", "from"),
        ("to=demain", "La date « Au » n'est pas une date valide", "to"),
        ("from=2018-12-01&to=2018-11-01", "La date de début est postérieure", "from"),
        ("channel=fax", "Canal inconnu.", "channel"),
    ],
)
def test_bad_parameters_answer_400_with_a_french_message(
    client: TestClient, query: str, message: str, field: str
) -> None:
    response = client.get(f"/stats?{query}")
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert message in visible(response.text)
    assert f'id="{field}"' in response.text
    assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', response.text)
    assert "data-figure" not in response.text


def test_parameters_are_shown_back_escaped(client: TestClient) -> None:
    response = client.get("/stats", params={"from": '"><script>alert(1)</script>'})
    assert response.status_code == 400
    assert "<script>alert(1)" not in response.text
    assert "&lt;script&gt;alert(1)" in response.text


def test_export_links_give_the_same_figures_from_the_api(
    client: TestClient, seeded: list[str]
) -> None:
    html = client.get(PERIOD + "&channel=pharmacy").text
    links = re.findall(r'href="(/api/stats/openings\?[^"]+format=csv)"', html)
    assert len(links) == 4
    channel_link = next(link for link in links if "by=channel" in link).replace("&amp;", "&")
    assert "from=2018-11-01" in channel_link
    assert "channel=pharmacy" in channel_link
    exported = client.get(channel_link)
    assert exported.status_code == 200
    assert list(csv.reader(io.StringIO(exported.text))) == [
        ["key", "label", "count"],
        ["pharmacy", "Pharmacie", "3"],
    ]


def test_the_home_page_leads_to_the_dashboard(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code in (302, 307)
    assert response.headers["location"] == "/stats"
