"""A record's access history over HTTP, on SQLite and PostgreSQL (issue 3; RULES R16):
who (role, identifier, profession, organisation), when, what, outcome, purpose and
reason of every traced action on the record, newest first, a page at a time — for the
holder, a minor's representative and the médecin traitant. Anyone else gets the very
404 a missing record gives: no events, no count."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from dmp.storage.db import Database
from dmp.storage.schema import audit_event
from tests.api.conftest import (
    DR_MT,
    DR_STRANGER,
    INTRUDERS,
    PHARMACIST,
    RECORD,
    Bearer,
    Headers,
    TestClient,
    error_code,
    open_record,
    outcome,
    same_as_missing,
)
from tests.personas import ALICE, BOB, DR_BOB_RPPS, LEO, PHARMACY

HISTORY = f"{RECORD}/history"


def history(client: TestClient, headers: Headers, **params: Any) -> dict[str, Any]:
    response = client.get(HISTORY, headers=headers, params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def what(page: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(action, outcome, actor role, actor id) of each event of a page."""
    return [
        (e["action"], e["outcome"], e["actor"]["role"], e["actor"]["id"]) for e in page["events"]
    ]


def chain_length(db: Database, ins: str) -> int:
    with db.read() as conn:
        count = conn.scalar(
            select(func.count())
            .select_from(audit_event)
            .where(audit_event.c.chain == f"record:{ins}")
        )
    return int(count or 0)


def change(client: TestClient, bearer: Bearer, rpps: str, what: str) -> None:
    body = {"professional": rpps, "change": what}
    response = client.post(f"{RECORD}/care-team", json=body, headers=bearer.holder())
    assert response.status_code == 200, response.text


# ------------------------------------------------------------------------------ allowed


def test_r16_the_holder_reads_who_did_what_and_when_newest_first(
    alice: TestClient, bearer: Bearer
) -> None:
    assert alice.get(RECORD, headers=bearer.professional(DR_STRANGER)).status_code == 404
    page = history(alice, bearer.holder())
    assert (page["total"], page["limit"], page["offset"]) == (3, 50, 0)
    assert what(page) == [
        ("history.read", "success", "patient", ALICE.ins),  # this very reading
        ("record.read", "denied", "professional", DR_STRANGER),
        ("record.open", "success", "professional", PHARMACIST),
    ]
    reading, attempt, opening = page["events"]
    assert set(opening) == {"at", "action", "outcome", "purpose", "reason", "actor", "document"}
    assert opening["actor"] == {
        "role": "professional",
        "id": PHARMACIST,
        "profession": "21",
        "organisation": PHARMACY,
    }
    assert (opening["purpose"], opening["document"]) == ("normal", None)
    assert attempt["actor"]["profession"] == "10"
    assert reading["actor"] == {
        "role": "patient",
        "id": ALICE.ins,
        "profession": None,
        "organisation": None,
    }
    assert attempt["reason"].startswith("R8")
    times = [datetime.fromisoformat(e["at"]) for e in page["events"]]
    assert all(t.tzinfo is not None for t in times)
    assert times == sorted(times, reverse=True)


def test_r16_the_history_holds_this_records_events_only(
    alice: TestClient, bearer: Bearer, db: Database
) -> None:
    open_record(alice, bearer, BOB.ins)
    for _ in range(2):
        assert alice.get(f"/api/records/{BOB.ins}", headers=bearer.holder(BOB.ins)).is_success
    page = history(alice, bearer.holder(), limit=200)
    assert page["total"] == len(page["events"]) == chain_length(db, ALICE.ins) == 2
    assert BOB.ins not in {e["actor"]["id"] for e in page["events"]}
    bobs = alice.get(f"/api/records/{BOB.ins}/history", headers=bearer.holder(BOB.ins)).json()
    assert bobs["total"] == chain_length(db, BOB.ins) == 4
    assert ALICE.ins not in {e["actor"]["id"] for e in bobs["events"]}


def test_r16_the_history_comes_a_page_at_a_time(alice: TestClient, bearer: Bearer) -> None:
    for _ in range(4):
        assert alice.get(RECORD, headers=bearer.holder()).status_code == 200
    everything = history(alice, bearer.holder(), limit=200)
    assert everything["total"] == len(everything["events"]) == 6
    page = history(alice, bearer.holder(), limit=2, offset=1)
    # Each reading is itself traced, on top: one new event shifts the pages by one.
    assert (page["total"], page["limit"], page["offset"]) == (7, 2, 1)
    assert page["events"] == everything["events"][:2]
    beyond = history(alice, bearer.holder(), offset=100)
    assert (beyond["total"], beyond["events"]) == (8, [])


def test_r16_r4_the_holder_reads_the_history_of_her_closed_record(
    alice: TestClient, bearer: Bearer
) -> None:
    close = {"closed_by": "holder", "reason": "je pars"}
    assert alice.post(f"{RECORD}/close", json=close, headers=bearer.holder()).status_code == 200
    assert what(history(alice, bearer.holder()))[:2] == [
        ("history.read", "success", "patient", ALICE.ins),
        ("record.close", "success", "patient", ALICE.ins),
    ]


def test_r16_r14_emergency_accesses_show_as_such(alice: TestClient, bearer: Bearer) -> None:
    er = bearer.professional(DR_STRANGER)
    bris = {"kind": "bris_de_glace", "reason": "inconsciente"}
    assert alice.post(f"{RECORD}/emergency", json=bris, headers=er).status_code == 201
    assert alice.get(RECORD, headers=er).status_code == 200
    page = history(alice, bearer.holder())
    by_er = [(e["action"], e["purpose"]) for e in page["events"] if e["actor"]["id"] == DR_STRANGER]
    assert by_er == [("record.read", "emergency"), ("emergency.access", "emergency")]


def test_r16_r3_a_minors_representative_reads_the_history_not_the_minor(
    leo: TestClient, bearer: Bearer
) -> None:
    path = f"/api/records/{LEO.ins}/history"
    page = leo.get(path, headers=bearer.representative())
    assert page.status_code == 200, page.text
    assert page.json()["events"][0]["actor"]["role"] == "representative"
    assert error_code(outcome(leo.get(path, headers=bearer.holder(LEO.ins)), 404)) == (
        "RECORD_NOT_FOUND"
    )


def test_r16_r11_the_medecin_traitant_reads_the_history(alice: TestClient, bearer: Bearer) -> None:
    change(alice, bearer, DR_MT, "medecin_traitant")
    page = history(alice, bearer.professional(DR_MT))
    assert what(page)[:2] == [
        ("history.read", "success", "professional", DR_MT),
        ("access.manage", "success", "patient", ALICE.ins),
    ]


# ------------------------------------------------------------------------- deny paths

IN_CARE = {"authorised professional": "authorise", "blocked professional": "block"}


@pytest.mark.parametrize("who", [*INTRUDERS, *IN_CARE])
def test_r16_anyone_else_gets_no_event_and_no_count_and_the_attempt_is_shown(
    client: TestClient, bearer: Bearer, who: str
) -> None:
    headers = INTRUDERS[who](bearer) if who in INTRUDERS else bearer.professional(DR_BOB_RPPS)
    missing = client.get(HISTORY, headers=headers, params={"limit": 5})
    open_record(client, bearer)
    if who in IN_CARE:
        change(client, bearer, DR_BOB_RPPS, IN_CARE[who])
    same_as_missing(client.get(HISTORY, headers=headers, params={"limit": 5}), missing)
    attempt = history(client, bearer.holder())["events"][1]
    assert (attempt["action"], attempt["outcome"]) == ("history.read", "denied")
    role = {
        "anonymous": "anonymous",
        "another patient": "patient",
        "insurer agent": "insurer_agent",
    }
    assert attempt["actor"]["role"] == role.get(who, "professional")


@pytest.mark.parametrize(
    ("params", "code", "field"),
    [
        ({"limit": 0}, "PAGE_LIMIT", "limit"),
        ({"limit": 201}, "PAGE_LIMIT", "limit"),
        ({"offset": -1}, "PAGE_OFFSET", "offset"),
        ({"offset": 10**12}, "PAGE_OFFSET", "offset"),
        ({"limit": "tous"}, "REQUEST_INVALID", "limit"),
    ],
)
def test_bad_paging_is_422_naming_the_parameter(
    alice: TestClient, bearer: Bearer, params: dict[str, Any], code: str, field: str
) -> None:
    issue = outcome(alice.get(HISTORY, headers=bearer.holder(), params=params), 422)
    assert (error_code(issue), issue["expression"]) == (code, [field])
