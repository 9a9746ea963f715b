"""Who may access a record, over HTTP on SQLite and PostgreSQL (issue 3; RULES R8, R9,
R11, R14): the holder's care team and emergency choices, a professional's consent
collected in care and emergency access. Each is allowed as the policy says; anyone else
gets the very 404 a missing record gives, and nothing changes."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dmp.config import Settings
from dmp.main import create_app
from dmp.storage.db import Database
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
from tests.personas import ALICE, DR_BOB_RPPS, LEO

TEAM = f"{RECORD}/care-team"
CHOICES = f"{RECORD}/emergency-choices"
CONSENT = f"{RECORD}/consent"
EMERGENCY = f"{RECORD}/emergency"
BRIS_DE_GLACE = {"kind": "bris_de_glace", "reason": "inconsciente aux urgences"}
SAMU = {"kind": "samu", "reason": "appel au 15"}


def standing(
    rpps: str,
    authorised: bool = False,
    blocked: bool = False,
    medecin_traitant: bool = False,
    full_rights: bool = False,
) -> dict[str, Any]:
    return {
        "rpps": rpps,
        "authorised": authorised,
        "blocked": blocked,
        "medecin_traitant": medecin_traitant,
        "full_rights": full_rights,
    }


def change(client: TestClient, headers: Headers, rpps: str, what: str, ins: str = ALICE.ins) -> Any:
    body = {"professional": rpps, "change": what}
    return client.post(f"/api/records/{ins}/care-team", json=body, headers=headers)


def team(client: TestClient, bearer: Bearer) -> dict[str, dict[str, Any]]:
    """Alice's care team as she sees it, by RPPS."""
    response = client.get(TEAM, headers=bearer.holder())
    assert response.status_code == 200, response.text
    return {p["rpps"]: p for p in response.json()["professionals"]}


def lasts(emergency: dict[str, Any]) -> timedelta:
    started = datetime.fromisoformat(emergency["started_at"])
    expires = datetime.fromisoformat(emergency["expires_at"])
    assert started.tzinfo is not None
    return expires - started


# ------------------------------------------------------------------- the holder's team


def test_r8_the_holder_sees_her_care_team_and_authorises_a_professional_who_then_reads(
    alice: TestClient, bearer: Bearer
) -> None:
    # R8: the pharmacist who opened the record, with the holder's consent, is authorised.
    opener = standing(PHARMACIST, authorised=True)
    assert alice.get(TEAM, headers=bearer.holder()).json() == {"professionals": [opener]}
    dr_bob = bearer.professional(DR_BOB_RPPS)
    assert alice.get(RECORD, headers=dr_bob).status_code == 404
    response = change(alice, bearer.holder(), DR_BOB_RPPS, "authorise")
    assert response.status_code == 200, response.text
    assert response.json() == standing(DR_BOB_RPPS, authorised=True)
    assert team(alice, bearer) == {
        DR_BOB_RPPS: standing(DR_BOB_RPPS, authorised=True),
        PHARMACIST: opener,
    }
    assert alice.get(RECORD, headers=dr_bob).json()["ins"] == ALICE.ins


@pytest.mark.parametrize(
    ("changes", "expected", "reads"),
    [
        (["authorise"], standing(DR_BOB_RPPS, authorised=True), True),
        (["authorise", "revoke"], standing(DR_BOB_RPPS), False),
        (["authorise", "block"], standing(DR_BOB_RPPS, blocked=True), False),
        (["block", "unblock"], standing(DR_BOB_RPPS), False),
        (["block", "authorise"], standing(DR_BOB_RPPS, authorised=True), True),
        (["medecin_traitant"], standing(DR_BOB_RPPS, True, medecin_traitant=True), True),
        (["medecin_traitant", "block"], standing(DR_BOB_RPPS, blocked=True), False),
        (["medecin_traitant", "revoke"], standing(DR_BOB_RPPS), False),
        (["grant_full_rights"], standing(DR_BOB_RPPS, True, full_rights=True), True),
        (["grant_full_rights", "withdraw_full_rights"], standing(DR_BOB_RPPS, True), True),
    ],
    ids=lambda v: "+".join(v) if isinstance(v, list) else None,
)
def test_r8_r9_r11_each_change_of_standing_and_what_it_lets_the_professional_read(
    alice: TestClient,
    bearer: Bearer,
    changes: list[str],
    expected: dict[str, Any],
    reads: bool,
) -> None:
    for what in changes:
        response = change(alice, bearer.holder(), DR_BOB_RPPS, what)
        assert response.status_code == 200, response.text
    assert response.json() == expected
    assert team(alice, bearer)[DR_BOB_RPPS] == expected
    read = alice.get(RECORD, headers=bearer.professional(DR_BOB_RPPS))
    assert read.status_code == (200 if reads else 404), read.text


def test_r11_one_medecin_traitant_at_a_time(alice: TestClient, bearer: Bearer) -> None:
    assert change(alice, bearer.holder(), DR_MT, "medecin_traitant").status_code == 200
    assert change(alice, bearer.holder(), DR_BOB_RPPS, "medecin_traitant").status_code == 200
    assert team(alice, bearer) == {
        DR_BOB_RPPS: standing(DR_BOB_RPPS, authorised=True, medecin_traitant=True),
        DR_MT: standing(DR_MT, authorised=True),  # still authorised, no longer MT
        PHARMACIST: standing(PHARMACIST, authorised=True),  # the opener (R8)
    }


def test_r3_a_minors_representative_manages_his_care_team_not_the_minor(
    leo: TestClient, bearer: Bearer
) -> None:
    response = change(leo, bearer.representative(), DR_BOB_RPPS, "authorise", LEO.ins)
    assert response.status_code == 200, response.text
    listed = leo.get(f"/api/records/{LEO.ins}/care-team", headers=bearer.representative())
    assert listed.json() == {
        "professionals": [
            standing(DR_BOB_RPPS, authorised=True),
            standing(PHARMACIST, authorised=True),  # the opener (R8)
        ]
    }
    by_leo = leo.get(f"/api/records/{LEO.ins}/care-team", headers=bearer.holder(LEO.ins))
    assert error_code(outcome(by_leo, 404)) == "RECORD_NOT_FOUND"


@pytest.mark.parametrize(
    ("payload", "code", "fhir_code", "field"),
    [
        ({"professional": DR_BOB_RPPS, "change": "adopt"}, "CHANGE", "invalid", "change"),
        ({"professional": "123", "change": "authorise"}, "RPPS_FORMAT", "invalid",
         "professional"),
        ({"professional": DR_BOB_RPPS[:-1] + "0", "change": "block"}, "RPPS_KEY", "invalid",
         "professional"),
        ({"professional": DR_BOB_RPPS}, "REQUEST_INVALID", "invalid", "change"),
        ({"professional": DR_BOB_RPPS, "change": "block", "why": "x"}, "REQUEST_INVALID",
         "invalid", "why"),
        ({"professional": 10000000018, "change": "block"}, "REQUEST_INVALID", "invalid",
         "professional"),
    ],
)  # fmt: skip
def test_a_malformed_change_is_422_naming_the_field_and_changes_nothing(
    alice: TestClient,
    bearer: Bearer,
    payload: dict[str, Any],
    code: str,
    fhir_code: str,
    field: str,
) -> None:
    issue = outcome(alice.post(TEAM, json=payload, headers=bearer.holder()), 422)
    assert (issue["code"], error_code(issue), issue["expression"]) == (fhir_code, code, [field])
    assert team(alice, bearer) == {PHARMACIST: standing(PHARMACIST, authorised=True)}


# ------------------------------------------------------------------ emergency choices


def test_r14_the_holder_refuses_bris_de_glace_in_advance_but_not_samu(
    client: TestClient, bearer: Bearer
) -> None:
    er = bearer.professional(DR_STRANGER)
    missing = client.post(EMERGENCY, json=BRIS_DE_GLACE, headers=er)
    open_record(client, bearer)
    choices = {"refuse_bris_de_glace": True, "refuse_samu": False}
    response = client.put(CHOICES, json=choices, headers=bearer.holder())
    assert response.status_code == 200, response.text
    assert response.json() == choices
    same_as_missing(client.post(EMERGENCY, json=BRIS_DE_GLACE, headers=er), missing)
    assert client.get(RECORD, headers=er).status_code == 404
    assert client.post(EMERGENCY, json=SAMU, headers=er).status_code == 201
    assert client.get(RECORD, headers=er).status_code == 200


def test_r14_the_holder_changes_her_mind(alice: TestClient, bearer: Bearer) -> None:
    er = bearer.professional(DR_STRANGER)
    both = {"refuse_bris_de_glace": True, "refuse_samu": True}
    assert alice.put(CHOICES, json=both, headers=bearer.holder()).status_code == 200
    assert alice.post(EMERGENCY, json=SAMU, headers=er).status_code == 404
    none = {"refuse_bris_de_glace": False, "refuse_samu": False}
    assert alice.put(CHOICES, json=none, headers=bearer.holder()).json() == none
    assert alice.post(EMERGENCY, json=SAMU, headers=er).status_code == 201


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"refuse_bris_de_glace": True}, "refuse_samu"),
        ({"refuse_samu": True}, "refuse_bris_de_glace"),
        ({"refuse_bris_de_glace": True, "refuse_samu": "peut-être"}, "refuse_samu"),
        ({"refuse_bris_de_glace": True, "refuse_samu": True, "refuse_all": True}, "refuse_all"),
    ],
)
def test_malformed_emergency_choices_are_422_naming_the_field(
    alice: TestClient, bearer: Bearer, payload: dict[str, Any], field: str
) -> None:
    issue = outcome(alice.put(CHOICES, json=payload, headers=bearer.holder()), 422)
    assert (error_code(issue), issue["expression"]) == ("REQUEST_INVALID", [field])
    bris = alice.post(EMERGENCY, json=BRIS_DE_GLACE, headers=bearer.professional(DR_STRANGER))
    assert bris.status_code == 201  # nothing was refused


# ---------------------------------------------------- the professional's side: consent


def test_r8_a_professional_records_the_consent_given_in_care_then_reads(
    alice: TestClient, bearer: Bearer
) -> None:
    stranger = bearer.professional(DR_STRANGER)
    assert alice.get(RECORD, headers=stranger).status_code == 404
    response = alice.post(CONSENT, headers=stranger)
    assert response.status_code == 200, response.text
    assert response.json() == standing(DR_STRANGER, authorised=True)
    assert alice.get(RECORD, headers=stranger).json()["ins"] == ALICE.ins
    assert team(alice, bearer)[DR_STRANGER] == standing(DR_STRANGER, authorised=True)


def test_r8_consent_in_care_keeps_the_medecin_traitants_rights(
    alice: TestClient, bearer: Bearer
) -> None:
    assert change(alice, bearer.holder(), DR_MT, "medecin_traitant").status_code == 200
    response = alice.post(CONSENT, headers=bearer.professional(DR_MT))
    assert response.json() == standing(DR_MT, authorised=True, medecin_traitant=True)


# ------------------------------------------------ the professional's side: emergencies


def test_r14_a_professional_declares_an_emergency_for_24_hours_then_reads(
    alice: TestClient, bearer: Bearer
) -> None:
    er = bearer.professional(DR_STRANGER)
    response = alice.post(EMERGENCY, json=BRIS_DE_GLACE, headers=er)
    assert response.status_code == 201, response.text
    emergency = response.json()
    assert (emergency["kind"], emergency["reason"]) == ("bris_de_glace", BRIS_DE_GLACE["reason"])
    assert lasts(emergency) == timedelta(hours=24)
    assert alice.get(RECORD, headers=er).json()["ins"] == ALICE.ins


def test_r14_the_emergency_duration_comes_from_the_settings(
    alice: TestClient, bearer: Bearer, db: Database, tmp_path: Path
) -> None:
    settings = Settings(mode="dev", data_dir=tmp_path, emergency_hours=6)
    with TestClient(create_app(settings, db=db)) as client:
        response = client.post(EMERGENCY, json=SAMU, headers=bearer.professional(DR_STRANGER))
    assert response.status_code == 201, response.text
    assert lasts(response.json()) == timedelta(hours=6)


@pytest.mark.parametrize(
    ("payload", "code", "field"),
    [
        ({"kind": "panic", "reason": "x"}, "EMERGENCY_KIND", "kind"),
        ({"kind": "samu", "reason": "   "}, "REASON_MISSING", "reason"),
        ({"kind": "samu"}, "REQUEST_INVALID", "reason"),
        ({"reason": "x"}, "REQUEST_INVALID", "kind"),
        ({**SAMU, "hours": 48}, "REQUEST_INVALID", "hours"),
    ],
)
def test_a_malformed_emergency_is_422_naming_the_field_and_opens_nothing(
    alice: TestClient, bearer: Bearer, payload: dict[str, Any], code: str, field: str
) -> None:
    er = bearer.professional(DR_STRANGER)
    issue = outcome(alice.post(EMERGENCY, json=payload, headers=er), 422)
    assert (error_code(issue), issue["expression"]) == (code, [field])
    assert alice.get(RECORD, headers=er).status_code == 404


# ------------------------------------------------------------------------- deny paths

# Professionals with a standing on Alice's record: still not the holder.
IN_CARE = {
    "authorised professional": "authorise",
    "médecin traitant": "medecin_traitant",
    "blocked professional": "block",
}
HOLDER_ONLY = [
    ("GET", TEAM, None),
    ("POST", TEAM, {"professional": DR_STRANGER, "change": "authorise"}),
    ("PUT", CHOICES, {"refuse_bris_de_glace": True, "refuse_samu": True}),
]


def caller(bearer: Bearer, who: str) -> Headers:
    if who in INTRUDERS:
        return INTRUDERS[who](bearer)
    if who == "holder":
        return bearer.holder()
    return bearer.professional(DR_BOB_RPPS)  # given a standing by IN_CARE[who]


@pytest.mark.parametrize("who", [*INTRUDERS, *IN_CARE])
@pytest.mark.parametrize("call", HOLDER_ONLY, ids=lambda c: f"{c[0]} {c[1].rsplit('/')[-1]}")
def test_r8_only_the_holder_sees_and_changes_who_may_access_her_record(
    client: TestClient, bearer: Bearer, who: str, call: tuple[str, str, Any]
) -> None:
    method, path, payload = call
    headers = caller(bearer, who)
    missing = client.request(method, path, json=payload, headers=headers)
    open_record(client, bearer)
    if who in IN_CARE:
        assert change(client, bearer.holder(), DR_BOB_RPPS, IN_CARE[who]).status_code == 200
    before = team(client, bearer)
    same_as_missing(client.request(method, path, json=payload, headers=headers), missing)
    assert team(client, bearer) == before
    bris = client.post(EMERGENCY, json=BRIS_DE_GLACE, headers=bearer.professional(DR_STRANGER))
    assert bris.status_code == 201  # the holder's emergency choices are unchanged


PROFESSIONAL_ONLY = [("POST", CONSENT, None), ("POST", EMERGENCY, BRIS_DE_GLACE)]
# Any professional may record consent in care (R8) or declare an emergency (R14); no
# one else may, nor a professional the holder blocked (R9).
NOT_PROFESSIONALS = [
    "anonymous",
    "another patient",
    "insurer agent",
    "holder",
    "blocked professional",
]


@pytest.mark.parametrize("who", NOT_PROFESSIONALS)
@pytest.mark.parametrize("call", PROFESSIONAL_ONLY, ids=lambda c: c[1].rsplit("/")[-1])
def test_r8_r9_r14_only_a_professional_not_blocked_records_consent_or_an_emergency(
    client: TestClient, bearer: Bearer, who: str, call: tuple[str, str, Any]
) -> None:
    method, path, payload = call
    headers = caller(bearer, who)
    missing = client.request(method, path, json=payload, headers=headers)
    open_record(client, bearer)
    if who in IN_CARE:
        assert change(client, bearer.holder(), DR_BOB_RPPS, IN_CARE[who]).status_code == 200
    before = team(client, bearer)
    same_as_missing(client.request(method, path, json=payload, headers=headers), missing)
    assert team(client, bearer) == before
    assert client.get(RECORD, headers=bearer.professional(DR_BOB_RPPS)).status_code == 404
