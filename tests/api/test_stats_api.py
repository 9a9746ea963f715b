"""`GET /api/stats/openings` and `/api/stats/pharmacy-fees`: the same figures as
`dmp stats`, on SQLite and PostgreSQL (issue 2; RULES R2)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from dmp.config import Settings
from dmp.domain.identity import make_finess
from dmp.feeds.records.runner import import_records_file
from dmp.main import create_app
from dmp.services.context import system_ctx
from dmp.storage.db import Database
from tests.api.conftest import TestClient
from tests.cli.runner import run_dmp
from tests.personas import (
    CLINIC,
    DR_BOB_RPPS,
    INSURER_OFFICE,
    LEGACY_HEADER,
    PHARMACY,
    legacy_line,
    numbered_identity,
)

OTHER_PHARMACY = make_finess("13000003")
P = [numbered_identity(n, sex="M", born=date(1975, 9, 9)) for n in range(1, 8)]
OPENINGS = [
    legacy_line(P[0], "75", "2018-11-06T09:30:00+01:00", "pharmacy", PHARMACY),
    legacy_line(P[1], "92", "2018-11-06T23:30:00Z", "pharmacy", PHARMACY),  # 7 Nov in Paris
    legacy_line(P[2], "13", "2018-11-20T10:00:00+01:00", "pharmacy", OTHER_PHARMACY),
    legacy_line(P[3], "2B", "2018-11-12T08:00:00+01:00", "online", ""),
    legacy_line(P[4], "976", "2018-12-03T10:00:00+03:00", "establishment", CLINIC),
    legacy_line(P[5], "69", "2018-10-15T10:00:00+02:00", "professional", DR_BOB_RPPS),
    legacy_line(P[6], "971", "2018-11-30T10:00:00-04:00", "insurer", INSURER_OFFICE),
]


@pytest.fixture
def launched(client: TestClient, db: Database, tmp_path: Path) -> TestClient:
    path = tmp_path / "legacy.csv"
    path.write_text("\n".join([LEGACY_HEADER, *OPENINGS]) + "\n", encoding="utf-8")
    ctx = system_ctx(datetime(2019, 1, 15, tzinfo=UTC), "test")
    summary = import_records_file(db, ctx, path, tmp_path / "rejects.csv", show_progress=False)
    assert (summary.inserted, summary.rejected) == (len(OPENINGS), 0)
    return client


def cli_json(db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *args: str) -> Any:
    monkeypatch.setenv("DMP_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DMP_DATABASE_URL", db.url.render_as_string(hide_password=False))
    result = run_dmp(["stats", "openings", "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def outcome(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["resourceType"] == "OperationOutcome"
    issue: dict[str, Any] = payload["issue"][0]
    return issue


QUERIES = [
    {"from": "2018-11-01", "to": "2018-11-30", "by": by}
    for by in ("channel", "region", "department", "opener", "week", "day")
] + [
    {"from": "2018-11-01", "to": "2018-12-31", "by": "week", "cumulative": "true"},
    {"to": "2018-12-31", "by": "channel"},
    {"from": "2018-11-07", "to": "2018-11-07", "by": "day"},
    {"from": "2018-11-01", "to": "2018-12-31", "by": "opener", "channel": "pharmacy"},
]


@pytest.mark.parametrize("params", QUERIES, ids=lambda q: "-".join(q.values()))
def test_the_api_answers_the_same_json_as_the_cli(
    launched: TestClient,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    params: dict[str, str],
) -> None:
    response = launched.get("/api/stats/openings", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    args = [
        part
        for key, value in params.items()
        for part in ([f"--{key}"] if key == "cumulative" else [f"--{key}", value])
    ]
    assert response.json() == cli_json(db, monkeypatch, tmp_path, *args)


def test_the_openings_json_has_the_documented_shape(launched: TestClient) -> None:
    params = {"from": "2018-11-01", "to": "2018-11-30", "by": "region"}
    report = launched.get("/api/stats/openings", params=params).json()
    assert {"from", "to", "by", "total", "groups"} <= set(report)
    assert (report["from"], report["to"], report["by"], report["total"]) == (
        "2018-11-01",
        "2018-11-30",
        "region",
        5,
    )
    assert report["groups"] == [
        {"key": "11", "label": "Île-de-France", "count": 2},
        {"key": "01", "label": "Guadeloupe", "count": 1},
        {"key": "93", "label": "Provence-Alpes-Côte d'Azur", "count": 1},
        {"key": "94", "label": "Corse", "count": 1},
    ]


def test_an_opening_at_23_30_utc_counts_on_the_next_local_day(launched: TestClient) -> None:
    params = {"from": "2018-11-07", "to": "2018-11-07", "by": "opener"}
    report = launched.get("/api/stats/openings", params=params).json()
    assert (report["total"], report["groups"][0]["key"]) == (1, PHARMACY)


def test_the_openings_as_csv(launched: TestClient) -> None:
    params = {"from": "2018-11-01", "to": "2018-11-30", "by": "channel", "format": "csv"}
    response = launched.get("/api/stats/openings", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert list(csv.reader(io.StringIO(response.text))) == [
        ["key", "label", "count"],
        ["pharmacy", "Pharmacie", "3"],
        ["insurer", "Accueil Assurance Maladie", "1"],
        ["online", "En ligne (titulaire)", "1"],
    ]


@pytest.mark.parametrize(
    ("params", "code", "field"),
    [
        ({"to": "2018-11-30", "by": "month"}, "STATS_BY", "by"),
        ({"from": "2018-12-01", "to": "2018-11-30", "by": "day"}, "STATS_PERIOD", "from"),
        ({"to": "2018-11-30", "by": "day", "channel": "shop"}, "CHANNEL", "channel"),
        ({"by": "day"}, "REQUEST_INVALID", "to"),
        ({"to": "30/11/2018", "by": "day"}, "REQUEST_INVALID", "to"),
        ({"to": "2018-11-30"}, "REQUEST_INVALID", "by"),
        ({"to": "2018-11-30", "by": "day", "format": "xml"}, "REQUEST_INVALID", "format"),
    ],
)
def test_bad_stats_parameters_are_422_naming_the_parameter(
    client: TestClient, params: dict[str, str], code: str, field: str
) -> None:
    issue = outcome(client.get("/api/stats/openings", params=params), 422)
    assert issue["details"]["coding"][0]["code"] == code
    assert issue["expression"] == [field]


def test_r2_pharmacy_fees_over_http_as_csv_and_json(launched: TestClient) -> None:
    response = launched.get("/api/stats/pharmacy-fees", params={"month": "2018-11"})
    assert response.status_code == 200, response.text
    assert list(csv.reader(io.StringIO(response.text))) == [
        ["finess", "openings", "amount_eur"],
        *sorted([[PHARMACY, "2", "2.00"], [OTHER_PHARMACY, "1", "1.00"]]),
    ]
    as_json = launched.get(
        "/api/stats/pharmacy-fees", params={"month": "2018-11", "format": "json"}
    )
    assert as_json.json()["unit_fee_eur"] == "1.00"
    assert {p["finess"]: p["amount_eur"] for p in as_json.json()["pharmacies"]} == {
        PHARMACY: "2.00",
        OTHER_PHARMACY: "1.00",
    }


def test_r2_the_pharmacy_fee_comes_from_the_settings(launched: TestClient, db: Database) -> None:
    with TestClient(create_app(Settings(pharmacy_fee_eur=Decimal("0.75")), db=db)) as c:
        response = c.get("/api/stats/pharmacy-fees", params={"month": "2018-11"})
    assert [PHARMACY, "2", "1.50"] in list(csv.reader(io.StringIO(response.text)))


def test_pharmacy_fees_for_a_malformed_month_are_422(client: TestClient) -> None:
    issue = outcome(client.get("/api/stats/pharmacy-fees", params={"month": "2018-13"}), 422)
    assert (issue["details"]["coding"][0]["code"], issue["expression"]) == ("MONTH", ["month"])
