"""Record lifecycle use cases on SQLite and PostgreSQL (RULES R1–R4)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import pytest

from dmp.domain.errors import Conflict, InvalidInput, NotFound, Refused
from dmp.domain.records import RecordStatus
from dmp.domain.stats import make_openings_query
from dmp.services import records, stats
from dmp.services.audit import verify_trail
from dmp.services.beneficiaries import load_beneficiaries_batch
from dmp.services.context import Ctx, system_ctx
from dmp.services.retention import purge_expired
from dmp.storage import audit_log
from dmp.storage.db import Database
from tests.personas import (
    ALICE,
    ALICE_BENEFICIARY,
    BOB_BENEFICIARY,
    LEO,
    LEO_BENEFICIARY,
    PHARMACY,
    ZOE,
)

NOW = datetime(2018, 11, 6, 10, 0, tzinfo=UTC)


def at(now: datetime = NOW) -> Ctx:
    return system_ctx(now, "test")


@pytest.fixture
def registry(db: Database) -> Database:
    load_beneficiaries_batch(
        db, at(), [ALICE_BENEFICIARY, BOB_BENEFICIARY, LEO_BENEFICIARY], "test"
    )
    return db


def open_alice(db: Database, now: datetime = NOW) -> None:
    records.open_record(
        db, at(now), records.OpenRequest(ALICE.ins, "pharmacy", PHARMACY, "holder", True)
    )


def test_r2_opening_records_consent_channel_opener_and_department(registry: Database) -> None:
    open_alice(registry)
    record = records.get_record(registry, at(), ALICE.ins)
    assert record.status is RecordStatus.OPEN
    assert record.opening.channel.value == "pharmacy"
    assert record.opening.opened_by == PHARMACY
    assert record.opening.department == "75"
    assert record.identity == ALICE


def test_r1_opening_twice_is_a_conflict_not_a_duplicate(registry: Database) -> None:
    open_alice(registry)
    with pytest.raises(Conflict) as err:
        open_alice(registry)
    assert err.value.code == "RECORD_EXISTS"
    report = stats.openings(registry, make_openings_query(None, date(2018, 12, 31), "channel"))
    assert report.total == 1


def test_opening_for_someone_not_in_the_registry_is_refused(registry: Database) -> None:
    with pytest.raises(Refused) as err:
        records.open_record(
            registry, at(), records.OpenRequest(ZOE.ins, "online", None, "holder", True)
        )
    assert err.value.code == "NOT_BENEFICIARY"
    with pytest.raises(NotFound):
        records.get_record(registry, at(), ZOE.ins)


def test_r3_a_minor_record_needs_a_legal_representative_consent(registry: Database) -> None:
    with pytest.raises(Refused) as err:
        records.open_record(
            registry, at(), records.OpenRequest(LEO.ins, "online", None, "holder", True)
        )
    assert err.value.field == "consent.given_by"
    records.open_record(
        registry, at(), records.OpenRequest(LEO.ins, "online", None, "legal_representative", True)
    )


def test_bad_ins_key_is_invalid_input_naming_the_field(registry: Database) -> None:
    bad = ALICE.ins[:13] + ("00" if ALICE.ins[13:] != "00" else "01")
    with pytest.raises(InvalidInput) as err:
        records.open_record(
            registry, at(), records.OpenRequest(bad, "online", None, "holder", True)
        )
    assert (err.value.code, err.value.field) == ("INS_KEY", "ins")


def test_r4_close_reopen_and_close_twice(registry: Database) -> None:
    open_alice(registry)
    records.close_record(registry, at(NOW + timedelta(days=1)), ALICE.ins, "holder", "je déménage")
    with pytest.raises(Conflict) as err:
        records.close_record(registry, at(NOW + timedelta(days=2)), ALICE.ins, "holder", "encore")
    assert err.value.code == "RECORD_ALREADY_CLOSED"
    reopened = records.reopen_record(
        registry, at(NOW + timedelta(days=3)), ALICE.ins, "holder", True
    )
    assert reopened.status is RecordStatus.OPEN


def test_r4_purge_after_ten_years_then_reopen_is_refused(registry: Database) -> None:
    open_alice(registry)
    closed = NOW + timedelta(days=1)
    records.close_record(registry, at(closed), ALICE.ins, "holder", "fin")
    later = datetime(2028, 11, 7, 12, tzinfo=UTC)
    assert purge_expired(registry, at(later), date(2028, 11, 6)) == []
    purged = purge_expired(registry, at(later), date(2028, 11, 7))
    assert [p.ins for p in purged] == [ALICE.ins]
    with pytest.raises(Conflict) as err:
        records.reopen_record(
            registry, at(datetime(2028, 11, 8, tzinfo=UTC)), ALICE.ins, "holder", True
        )
    assert err.value.code == "RECORD_PURGED"


def test_r1_concurrent_openings_of_one_ins_make_one_record_and_one_conflict(
    registry: Database,
) -> None:
    def attempt(_: int) -> str:
        try:
            open_alice(registry)
        except Conflict as exc:
            return exc.code
        return "opened"

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = sorted(pool.map(attempt, range(4)))
    assert outcomes == ["RECORD_EXISTS"] * 3 + ["opened"]
    report = stats.openings(registry, make_openings_query(None, date(2018, 12, 31), "channel"))
    assert report.total == 1


def test_r4_r16_the_traces_go_with_the_purge_and_the_trail_still_verifies(
    registry: Database,
) -> None:
    """Traces are kept 10 years after closure (R16), then destroyed with the record
    (R4): the tombstone's trail holds the purge alone, and every chain verifies."""
    open_alice(registry)
    records.get_record(registry, at(NOW), ALICE.ins)
    records.close_record(registry, at(NOW + timedelta(days=1)), ALICE.ins, "holder", "fin")
    with registry.read() as conn:
        assert audit_log.record_event_count(conn, ALICE.ins) >= 3
    purge_expired(registry, at(datetime(2028, 11, 7, 12, tzinfo=UTC)), date(2028, 11, 7))
    with registry.read() as conn:
        [event] = audit_log.record_events(conn, ALICE.ins, limit=10, offset=0)
    assert event.action.value == "record.purge"
    assert event.detail["traces"] >= 3
    report = verify_trail(registry)
    assert report.fault is None, report
