"""The record lifecycle as pure functions (RULES R1, R2, R3, R4).

(none) --open--> OPEN --close--> CLOSED --reopen--> OPEN
                                   +--purge (10 years after closure)--> PURGED
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from dmp.domain.errors import Conflict, InvalidInput, Refused
from dmp.domain.records import (
    CLOCK_SKEW,
    Channel,
    Consent,
    Holder,
    Opening,
    Record,
    RecordStatus,
    Source,
    close_record,
    is_same_migration,
    migrate_record,
    open_record,
    parse_channel,
    parse_holder,
    parse_opened_at,
    parse_opener,
    parse_reason,
    purge_record,
    reopen_record,
)
from tests.personas import (
    ALICE,
    ALICE_BENEFICIARY,
    BOB,
    CLINIC,
    DR_BOB_RPPS,
    INSURER_OFFICE,
    LEO,
    LEO_BENEFICIARY,
    PHARMACY,
)

NOW = datetime(2018, 11, 6, 10, 0, tzinfo=UTC)
INFORMED = Consent(Holder.HOLDER, True, NOW)
BY_REPRESENTATIVE = Consent(Holder.LEGAL_REPRESENTATIVE, True, NOW)


def opening(at: datetime = NOW, channel: Channel = Channel.PHARMACY) -> Opening:
    opener = {Channel.PHARMACY: PHARMACY, Channel.ONLINE: None}.get(channel, PHARMACY)
    return Opening(channel, opener, "75", at)


def alice_open(at: datetime = NOW) -> Record:
    return open_record(None, ALICE.ins, ALICE_BENEFICIARY, opening(at), INFORMED, at)


def alice_closed(at: datetime) -> Record:
    return close_record(alice_open(at - timedelta(days=1)), Holder.HOLDER, "je pars", at)


# ---------------------------------------------------------------------------------- open


def test_r2_opening_keeps_the_consent_the_channel_and_the_registry_identity() -> None:
    record = alice_open()
    assert record.status is RecordStatus.OPEN
    assert record.identity == ALICE
    assert record.opening == opening()
    assert record.consent_given_by is Holder.HOLDER
    assert record.source is Source.OPENED
    assert record.closed_at is None


def test_opening_for_someone_not_in_the_registry_is_refused_as_not_beneficiary() -> None:
    with pytest.raises(Refused) as err:
        open_record(None, ALICE.ins, None, opening(), INFORMED, NOW)
    assert (err.value.code, err.value.field) == ("NOT_BENEFICIARY", "ins")
    assert ALICE.ins in err.value.message


def test_r2_opening_without_informing_the_person_is_refused() -> None:
    uninformed = Consent(Holder.HOLDER, False, NOW)
    with pytest.raises(Refused) as err:
        open_record(None, ALICE.ins, ALICE_BENEFICIARY, opening(), uninformed, NOW)
    assert (err.value.code, err.value.field) == ("CONSENT_NOT_INFORMED", "consent.informed")


def test_r3_a_minor_record_is_opened_with_a_legal_representative_consent_only() -> None:
    with pytest.raises(Refused) as err:
        open_record(None, LEO.ins, LEO_BENEFICIARY, opening(), INFORMED, NOW)
    assert (err.value.code, err.value.field) == ("CONSENT_MINOR", "consent.given_by")
    record = open_record(None, LEO.ins, LEO_BENEFICIARY, opening(), BY_REPRESENTATIVE, NOW)
    assert record.consent_given_by is Holder.LEGAL_REPRESENTATIVE


def test_r3_minority_is_judged_on_the_local_date_of_the_opening() -> None:
    """Léo turns 18 on 2033-06-30; at 22:30 UTC on the 29th it is already the 30th in Paris."""
    eve = datetime(2033, 6, 29, 21, 30, tzinfo=UTC)  # 23:30 in Paris: still a minor
    birthday = datetime(2033, 6, 29, 22, 30, tzinfo=UTC)  # 00:30 in Paris: of age
    with pytest.raises(Refused):
        open_record(None, LEO.ins, LEO_BENEFICIARY, opening(eve), INFORMED, eve)
    assert open_record(None, LEO.ins, LEO_BENEFICIARY, opening(birthday), INFORMED, birthday)


def test_r3_an_adult_record_may_be_opened_by_a_legal_representative() -> None:
    """Protected adults' rights are exercised by their representatives."""
    record = open_record(None, ALICE.ins, ALICE_BENEFICIARY, opening(), BY_REPRESENTATIVE, NOW)
    assert record.consent_given_by is Holder.LEGAL_REPRESENTATIVE


@pytest.mark.parametrize(
    "existing",
    [
        pytest.param(lambda: alice_open(), id="open"),
        pytest.param(lambda: alice_closed(NOW), id="closed"),
    ],
)
def test_r1_opening_an_existing_record_is_a_conflict(existing: object) -> None:
    assert callable(existing)
    stored = existing()
    later = NOW + timedelta(days=30)
    with pytest.raises(Conflict) as err:
        open_record(stored, ALICE.ins, ALICE_BENEFICIARY, opening(later), INFORMED, later)
    assert (err.value.code, err.value.field) == ("RECORD_EXISTS", "ins")
    assert stored.status.value in err.value.message


def test_r1_a_purged_record_does_not_prevent_a_new_one() -> None:
    """docs/decisions/0001: the tombstone keeps the INS; an eligible person may open anew."""
    tombstone = purge_record(alice_closed(NOW), date(2028, 11, 6), NOW + timedelta(days=3653))
    later = datetime(2029, 1, 2, 9, 0, tzinfo=UTC)
    record = open_record(tombstone, ALICE.ins, ALICE_BENEFICIARY, opening(later), INFORMED, later)
    assert record.status is RecordStatus.OPEN
    assert record.identity == ALICE


def test_r2_an_opening_dated_in_the_future_is_refused_beyond_the_clock_skew() -> None:
    soon = NOW + CLOCK_SKEW
    assert open_record(None, ALICE.ins, ALICE_BENEFICIARY, opening(soon), INFORMED, NOW)
    later = soon + timedelta(seconds=1)
    with pytest.raises(InvalidInput) as err:
        open_record(None, ALICE.ins, ALICE_BENEFICIARY, opening(later), INFORMED, NOW)
    assert (err.value.code, err.value.field) == ("DATETIME_FUTURE", "opened_at")


# --------------------------------------------------------------------------------- close


def test_r4_the_holder_closes_the_record_with_a_reason() -> None:
    closed = close_record(alice_open(), Holder.HOLDER, "  je   déménage ", NOW)
    assert closed.status is RecordStatus.CLOSED
    assert (closed.closed_at, closed.closed_by, closed.close_reason) == (
        NOW,
        Holder.HOLDER,
        "je déménage",
    )
    assert closed.identity == ALICE  # kept during the retention period


def test_r4_closing_a_closed_record_is_a_conflict() -> None:
    closed = alice_closed(NOW)
    with pytest.raises(Conflict) as err:
        close_record(closed, Holder.HOLDER, "encore", NOW + timedelta(days=1))
    assert (err.value.code, err.value.field) == ("RECORD_ALREADY_CLOSED", "ins")
    assert "2018-11-06" in err.value.message


@pytest.mark.parametrize(
    ("reason", "code"),
    [("", "REASON_MISSING"), ("   ", "REASON_MISSING"), ("x" * 501, "REASON_LENGTH")],
)
def test_r4_closing_needs_a_reason_of_reasonable_length(reason: str, code: str) -> None:
    with pytest.raises(InvalidInput) as err:
        close_record(alice_open(), Holder.HOLDER, reason, NOW)
    assert (err.value.code, err.value.field) == (code, "reason")


def test_r3_a_minor_record_is_closed_by_a_legal_representative_only() -> None:
    record = open_record(None, LEO.ins, LEO_BENEFICIARY, opening(), BY_REPRESENTATIVE, NOW)
    with pytest.raises(Refused) as err:
        close_record(record, Holder.HOLDER, "je ne veux plus", NOW)
    assert (err.value.code, err.value.field) == ("CLOSE_MINOR", "closed_by")
    closed = close_record(record, Holder.LEGAL_REPRESENTATIVE, "déménagement", NOW)
    assert closed.closed_by is Holder.LEGAL_REPRESENTATIVE


def test_r3_once_of_age_the_holder_closes_the_record_alone() -> None:
    record = open_record(None, LEO.ins, LEO_BENEFICIARY, opening(), BY_REPRESENTATIVE, NOW)
    birthday = datetime(2033, 6, 29, 22, 30, tzinfo=UTC)  # 30 June 2033 in Paris: 18
    assert close_record(record, Holder.HOLDER, "je pars", birthday).status is RecordStatus.CLOSED


def test_r4_closing_a_purged_record_is_refused_as_purged() -> None:
    tombstone = purge_record(alice_closed(NOW), date(2030, 1, 1), NOW)
    with pytest.raises(Conflict) as err:
        close_record(tombstone, Holder.HOLDER, "fin", NOW)
    assert err.value.code == "RECORD_PURGED"


# -------------------------------------------------------------------------------- reopen


def test_r4_a_closed_record_is_reopened_with_consent() -> None:
    closed = alice_closed(NOW)
    later = NOW + timedelta(days=400)
    reopened = reopen_record(closed, Consent(Holder.HOLDER, True, later), later)
    assert reopened.status is RecordStatus.OPEN
    assert (reopened.reopened_at, reopened.closed_at, reopened.close_reason) == (later, None, None)
    assert reopened.opening == closed.opening  # still counted under its first opening


def test_r4_reopening_an_open_record_is_a_conflict() -> None:
    with pytest.raises(Conflict) as err:
        reopen_record(alice_open(), INFORMED, NOW)
    assert (err.value.code, err.value.field) == ("RECORD_NOT_CLOSED", "ins")


def test_r4_reopening_without_informed_consent_is_refused() -> None:
    with pytest.raises(Refused) as err:
        reopen_record(alice_closed(NOW), Consent(Holder.HOLDER, False, NOW), NOW)
    assert err.value.code == "CONSENT_NOT_INFORMED"


def test_r3_a_minor_record_is_reopened_by_a_legal_representative_only() -> None:
    record = open_record(None, LEO.ins, LEO_BENEFICIARY, opening(), BY_REPRESENTATIVE, NOW)
    closed = close_record(record, Holder.LEGAL_REPRESENTATIVE, "déménagement", NOW)
    with pytest.raises(Refused) as err:
        reopen_record(closed, INFORMED, NOW)
    assert err.value.code == "CONSENT_MINOR"
    assert reopen_record(closed, BY_REPRESENTATIVE, NOW).status is RecordStatus.OPEN


def test_r4_reopening_is_possible_until_the_last_day_of_retention_then_refused() -> None:
    closed = alice_closed(datetime(2018, 11, 7, 10, 0, tzinfo=UTC))
    last_day = datetime(2028, 11, 6, 12, 0, tzinfo=UTC)
    assert reopen_record(closed, INFORMED, last_day).status is RecordStatus.OPEN
    over = datetime(2028, 11, 7, 12, 0, tzinfo=UTC)
    with pytest.raises(Refused) as err:
        reopen_record(closed, INFORMED, over)
    assert (err.value.code, err.value.field) == ("RETENTION_OVER", "ins")
    assert "2028-11-07" in err.value.message


def test_r4_reopening_a_purged_record_is_refused_as_purged() -> None:
    tombstone = purge_record(alice_closed(NOW), date(2028, 11, 6), NOW + timedelta(days=3653))
    with pytest.raises(Conflict) as err:
        reopen_record(tombstone, INFORMED, NOW + timedelta(days=3654))
    assert (err.value.code, err.value.field) == ("RECORD_PURGED", "ins")


# --------------------------------------------------------------------------------- purge


@pytest.mark.parametrize(
    ("closed_at", "as_of", "purgeable"),
    [
        (datetime(2018, 11, 7, 10, 0, tzinfo=UTC), date(2028, 11, 6), False),  # day before
        (datetime(2018, 11, 7, 10, 0, tzinfo=UTC), date(2028, 11, 7), True),  # ten years to the day
        (datetime(2018, 11, 7, 10, 0, tzinfo=UTC), date(2035, 1, 1), True),
        (datetime(2020, 2, 29, 10, 0, tzinfo=UTC), date(2030, 2, 27), False),  # 29 February
        (datetime(2020, 2, 29, 10, 0, tzinfo=UTC), date(2030, 2, 28), True),  # (no 29th in 2030)
        (datetime(2020, 2, 29, 10, 0, tzinfo=UTC), date(2030, 3, 1), True),
        (datetime(2020, 2, 28, 10, 0, tzinfo=UTC), date(2030, 2, 27), False),
        (datetime(2016, 2, 29, 10, 0, tzinfo=UTC), date(2026, 2, 28), True),
        # Closed at 00:30 in Paris on 7 November: it was closed on the 7th, not the 6th.
        (datetime(2018, 11, 6, 23, 30, tzinfo=UTC), date(2028, 11, 6), False),
        (datetime(2018, 11, 6, 23, 30, tzinfo=UTC), date(2028, 11, 7), True),
    ],
)
def test_r4_a_closed_record_is_purged_ten_years_after_closure_not_before(
    closed_at: datetime, as_of: date, purgeable: bool
) -> None:
    closed = alice_closed(closed_at)
    now = datetime(as_of.year, as_of.month, as_of.day, 12, tzinfo=UTC)
    if not purgeable:
        with pytest.raises(Refused) as err:
            purge_record(closed, as_of, now)
        assert (err.value.code, err.value.field) == ("RETENTION_RUNNING", "ins")
        return
    tombstone = purge_record(closed, as_of, now)
    assert tombstone.status is RecordStatus.PURGED
    assert (tombstone.ins, tombstone.purged_at) == (ALICE.ins, now)
    assert tombstone.identity is None  # identity and content are gone
    assert tombstone.close_reason is None
    assert tombstone.closed_at == closed_at  # the fact remains


def test_r4_an_open_record_is_never_purged() -> None:
    with pytest.raises(Refused) as err:
        purge_record(alice_open(), date(2040, 1, 1), NOW)
    assert err.value.code == "RECORD_NOT_CLOSED"


def test_r4_purging_twice_is_refused_as_purged() -> None:
    tombstone = purge_record(alice_closed(NOW), date(2030, 1, 1), NOW)
    with pytest.raises(Conflict) as err:
        purge_record(tombstone, date(2030, 1, 2), NOW)
    assert err.value.code == "RECORD_PURGED"


# ------------------------------------------------------------------- parsing the opening


@pytest.mark.parametrize(
    ("channel", "value", "opener"),
    [
        (Channel.ONLINE, "", None),
        (Channel.ONLINE, "  ", None),
        (Channel.ONLINE, None, None),
        (Channel.PHARMACY, PHARMACY, PHARMACY),
        (Channel.PHARMACY, f" {PHARMACY} ", PHARMACY),
        (Channel.ESTABLISHMENT, CLINIC, CLINIC),
        (Channel.ESTABLISHMENT, "2A0000011", "2A0000011"),
        (Channel.PROFESSIONAL, DR_BOB_RPPS, DR_BOB_RPPS),
        (Channel.INSURER, INSURER_OFFICE, INSURER_OFFICE),
        (Channel.INSURER, "cpam75", "CPAM75"),
    ],
)
def test_r2_the_opener_is_what_the_channel_requires(
    channel: Channel, value: object, opener: str | None
) -> None:
    assert parse_opener(channel, value) == opener


@pytest.mark.parametrize(
    ("channel", "value", "code"),
    [
        (Channel.ONLINE, PHARMACY, "OPENER"),  # online means the holder, nobody else
        (Channel.PHARMACY, "", "OPENER_MISSING"),
        (Channel.PHARMACY, None, "OPENER_MISSING"),
        (Channel.PHARMACY, DR_BOB_RPPS, "FINESS_FORMAT"),  # an RPPS is not a FINESS
        (Channel.PHARMACY, "750000011", "FINESS_KEY"),
        (Channel.ESTABLISHMENT, INSURER_OFFICE, "FINESS_FORMAT"),
        (Channel.PROFESSIONAL, PHARMACY, "RPPS_FORMAT"),  # a FINESS is not an RPPS
        (Channel.PROFESSIONAL, "10000000018", "RPPS_KEY"),
        (Channel.PROFESSIONAL, "", "OPENER_MISSING"),
        (Channel.INSURER, "", "OPENER_MISSING"),
        (Channel.INSURER, "75", "OFFICE_FORMAT"),
    ],
)
def test_r2_an_opener_that_does_not_fit_the_channel_is_refused(
    channel: Channel, value: object, code: str
) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_opener(channel, value)
    assert (err.value.code, err.value.field) == (code, "opened_by")


@pytest.mark.parametrize(
    ("value", "channel"),
    [("online", Channel.ONLINE), (" Pharmacy ", Channel.PHARMACY), ("INSURER", Channel.INSURER)],
)
def test_r2_the_five_channels_of_2018_are_recognised(value: str, channel: Channel) -> None:
    assert parse_channel(value) is channel


@pytest.mark.parametrize("value", ["", "shop", "mutuelle", "employer", None, 1])
def test_r15_any_other_channel_is_refused(value: object) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_channel(value)
    assert (err.value.code, err.value.field) == ("CHANNEL", "channel")


@pytest.mark.parametrize(
    ("value", "instant"),
    [
        ("2018-11-06T09:30:00+01:00", datetime(2018, 11, 6, 8, 30, tzinfo=UTC)),
        ("2018-11-06T08:30:00Z", datetime(2018, 11, 6, 8, 30, tzinfo=UTC)),
        (" 2018-11-06T08:30:00+00:00 ", datetime(2018, 11, 6, 8, 30, tzinfo=UTC)),
        ("2018-11-06T10:04:59+00:00", NOW + timedelta(minutes=4, seconds=59)),  # clock skew
    ],
)
def test_an_opening_timestamp_is_iso_8601_with_an_offset(value: str, instant: datetime) -> None:
    assert parse_opened_at(value, NOW) == instant


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("2018-11-06T09:30:00", "DATETIME_OFFSET"),
        ("2018-11-06", "DATETIME_OFFSET"),
        ("06/11/2018 09:30", "DATETIME"),
        ("2018-11-31T09:30:00+01:00", "DATETIME"),
        ("", "DATETIME"),
        ("2018-11-06T10:06:00+00:00", "DATETIME_FUTURE"),
        ("2019-01-01T00:00:00+01:00", "DATETIME_FUTURE"),
        (None, "DATETIME"),
        (1541496600, "DATETIME"),
    ],
)
def test_a_bad_opening_timestamp_is_refused_naming_the_field(value: object, code: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_opened_at(value, NOW)
    assert (err.value.code, err.value.field) == (code, "opened_at")


@pytest.mark.parametrize(
    ("value", "holder"),
    [("holder", Holder.HOLDER), ("legal_representative", Holder.LEGAL_REPRESENTATIVE)],
)
def test_r3_the_holder_or_a_legal_representative_exercises_the_rights(
    value: str, holder: Holder
) -> None:
    assert parse_holder(value, "closed_by") is holder


@pytest.mark.parametrize("value", ["", "doctor", "HOLDER", None])
def test_r3_nobody_else_exercises_the_holder_rights(value: object) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_holder(value, "closed_by")
    assert (err.value.code, err.value.field) == ("HOLDER", "closed_by")


def test_r4_a_reason_is_normalised() -> None:
    assert parse_reason(" je  pars\n") == "je pars"


# --------------------------------------------------------------------- legacy migration


def test_a_legacy_record_is_migrated_open_with_the_legacy_opening() -> None:
    legacy = opening(datetime(2016, 3, 1, 9, 0, tzinfo=UTC))
    record = migrate_record(None, ALICE, legacy)
    assert (record.status, record.source, record.opening) == (
        RecordStatus.OPEN,
        Source.LEGACY,
        legacy,
    )
    assert record.consent_given_by is None  # collected by the legacy system


def test_r1_a_legacy_line_for_an_existing_record_is_a_conflict() -> None:
    with pytest.raises(Conflict) as err:
        migrate_record(alice_open(), ALICE, opening())
    assert err.value.code == "RECORD_EXISTS"


def test_a_legacy_record_opened_before_birth_is_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        migrate_record(None, BOB, opening(datetime(1950, 11, 1, tzinfo=UTC)))
    assert (err.value.code, err.value.field) == ("OPENED_BEFORE_BIRTH", "opened_at")


def test_importing_the_same_legacy_line_again_is_recognised_as_the_same_migration() -> None:
    legacy = opening(datetime(2016, 3, 1, 9, 0, tzinfo=UTC))
    stored = migrate_record(None, ALICE, legacy)
    assert is_same_migration(stored, ALICE, legacy)
    assert not is_same_migration(stored, replace(ALICE, family_name="Autre"), legacy)
    assert not is_same_migration(stored, ALICE, replace(legacy, department="13"))
    assert not is_same_migration(stored, ALICE, replace(legacy, opened_at=NOW))
    assert not is_same_migration(stored, ALICE, replace(legacy, channel=Channel.ESTABLISHMENT))
    opened_here = alice_open()
    assert not is_same_migration(opened_here, ALICE, opened_here.opening)
