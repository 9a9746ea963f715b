"""Identifiers validated at the edge, each refusal with a stable code and the field (RULES R1).

INS/NIR: 15 characters, key = 97 − (first 13 mod 97) with 2A read as 19 and 2B as 18.
RPPS: 11 digits, Luhn. FINESS: 9 characters, department prefix, Luhn when all digits.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dmp.domain.errors import InvalidInput
from dmp.domain.identity import (
    check_identity_consistency,
    ins_key,
    ins_sex,
    make_finess,
    make_rpps,
    parse_finess,
    parse_ins,
    parse_insurer_office,
    parse_rpps,
    parse_sex,
)
from tests.personas import ALICE, BOB, CLINIC, DR_BOB_RPPS, PHARMACY, make_ins


def reference_key(first13: str) -> str:
    """The INS key computed the way INSEE defines it, independently of the code under test."""
    digits = first13[:5] + {"2A": "19", "2B": "18"}.get(first13[5:7], first13[5:7]) + first13[7:]
    return f"{97 - int(digits) % 97:02d}"


def with_key(first13: str) -> str:
    return first13 + reference_key(first13)


def refusal(parse: object, value: object, **kwargs: str) -> InvalidInput:
    assert callable(parse)
    with pytest.raises(InvalidInput) as err:
        parse(value, **kwargs)
    return err.value


FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")

# ----------------------------------------------------------------------------- INS / NIR


@pytest.mark.parametrize(
    ("written", "compact"),
    [
        ("295109912611193", "295109912611193"),  # INSEE's published example
        (ALICE.ins, ALICE.ins),
        (BOB.ins, BOB.ins),  # born in Corse-du-Sud (2A)
        (BOB.ins.lower(), BOB.ins),  # '2a' is read as '2A'
        ("2 95 10 99 126 111 93", "295109912611193"),  # as printed on the carte Vitale
        ("2.95.10.99.126.111.93", "295109912611193"),
        ("  295109912611193 ", "295109912611193"),
        (with_key("1800520000001"), with_key("1800520000001")),  # month 20: unknown month
        (with_key("1803099123001"), with_key("1803099123001")),  # months 30–42: legacy unknown
        (with_key("1804299123001"), with_key("1804299123001")),
        (with_key("7805099123001"), with_key("7805099123001")),  # NIA: month 50+, sex 7/8
        (with_key("8809999123001"), with_key("8809999123001")),
        (with_key("3850199123001"), with_key("3850199123001")),  # sex 3/4: temporary numbers
        (with_key("1850197412345"), with_key("1850197412345")),  # born in La Réunion
        (with_key("1850199123001"), with_key("1850199123001")),  # born abroad (99)
        (with_key("185012B012345"), with_key("185012B012345")),  # Haute-Corse (2B)
    ],
)
def test_r1_valid_ins_is_accepted_in_compact_form(written: str, compact: str) -> None:
    assert parse_ins(written) == compact


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", "INS_LENGTH"),
        ("29510991261119", "INS_LENGTH"),  # 14
        ("2951099126111930", "INS_LENGTH"),  # 16
        (with_key("0851075056123"), "INS_SEX_DIGIT"),
        (with_key("5851075056123"), "INS_SEX_DIGIT"),
        (with_key("9851075056123"), "INS_SEX_DIGIT"),
        (with_key("2851375056123"), "INS_MONTH"),  # 13
        (with_key("2850075056123"), "INS_MONTH"),  # 00
        (with_key("2851975056123"), "INS_MONTH"),  # 19
        (with_key("2852175056123"), "INS_MONTH"),  # 21
        (with_key("2852975056123"), "INS_MONTH"),  # 29
        (with_key("2854375056123"), "INS_MONTH"),  # 43
        (with_key("2854975056123"), "INS_MONTH"),  # 49
        ("2851000056123" + "00", "INS_DEPARTMENT"),  # department 00 does not exist
        ("285102C056123" + "00", "INS_DEPARTMENT"),
        ("28510A1056123" + "00", "INS_DEPARTMENT"),
        ("2X51075056123" + "00", "INS_FORMAT"),  # birth year
        ("28510750561X3" + "00", "INS_FORMAT"),  # serial
        ("2851075056123" + "X1", "INS_FORMAT"),  # key
        ("295109912611194", "INS_KEY"),
        ("295109912611100", "INS_KEY"),  # 00 is never a key
        ("295109912611198", "INS_KEY"),  # nor 98
        (BOB.ins[:5] + "2B" + BOB.ins[7:], "INS_KEY"),  # 2A and 2B keys differ
        (123456789012345, "INS_FORMAT"),
        (None, "INS_FORMAT"),
        (b"295109912611193", "INS_FORMAT"),
    ],
)
def test_r1_malformed_ins_is_refused_with_its_code_and_field(value: object, code: str) -> None:
    err = refusal(parse_ins, value)
    assert (err.code, err.field) == (code, "ins")
    assert err.message


def test_r1_ins_refusal_names_the_field_the_caller_chose() -> None:
    assert refusal(parse_ins, "295109912611194", field="patient.ins").field == "patient.ins"


@pytest.mark.parametrize(
    "value",
    [
        "1²5037505612306",  # a superscript two is a digit to str.isdigit, not to INSEE
        "285037505612306".translate(FULLWIDTH),
        "2850375056１2306",
        "28503750561230٦",  # Arabic-Indic six
    ],
)
def test_r1_ins_with_non_ascii_digits_is_invalid_input_not_a_crash(value: str) -> None:
    """A line of an import or an API body must never crash the parser (500, aborted import)."""
    err = refusal(parse_ins, value)
    assert err.field == "ins"
    assert err.code.startswith("INS_")


def test_r1_key_uses_19_for_2a_and_18_for_2b() -> None:
    assert ins_key("1501119004045") == reference_key("1501119004045")
    assert ins_key("150112A004045") == ins_key("1501119004045")
    assert ins_key("150112B004045") == ins_key("1501118004045")
    assert BOB.ins[13:] == ins_key(BOB.ins[:13])


@pytest.mark.parametrize(
    ("first", "sex"), [("1", "M"), ("2", "F"), ("3", "M"), ("4", "F"), ("7", "M"), ("8", "F")]
)
def test_ins_sex_digit_encodes_the_sex(first: str, sex: str) -> None:
    assert ins_sex(with_key(f"{first}851075056123")) == sex


# Hypothesis: every INS built by INSEE's rules parses, and every single-digit typo is caught.

SEX_DIGITS = st.sampled_from("123478")
MONTHS = st.sampled_from([*range(1, 13), 20, *range(30, 43), *range(50, 100)])
DEPARTMENTS = st.one_of(st.integers(1, 99).map(lambda n: f"{n:02d}"), st.sampled_from(["2A", "2B"]))


@st.composite
def valid_ins(draw: st.DrawFn) -> str:
    first13 = (
        draw(SEX_DIGITS)
        + f"{draw(st.integers(0, 99)):02d}"
        + f"{draw(MONTHS):02d}"
        + draw(DEPARTMENTS)
        + f"{draw(st.integers(0, 999)):03d}"
        + f"{draw(st.integers(1, 999)):03d}"
    )
    return with_key(first13)


@given(valid_ins())
def test_r1_every_valid_ins_parses_and_round_trips(ins: str) -> None:
    assert parse_ins(ins) == ins
    spaced = " ".join([ins[:1], ins[1:3], ins[3:5], ins[5:7], ins[7:10], ins[10:13], ins[13:]])
    assert parse_ins(spaced) == ins
    assert parse_ins(ins.lower()) == ins
    assert ins_key(ins[:13]) == ins[13:]


@given(valid_ins(), st.integers(0, 14), st.integers(1, 9))
def test_r1_changing_any_single_digit_of_an_ins_makes_it_invalid(
    ins: str, position: int, shift: int
) -> None:
    if not ins[position].isdigit():
        position = 0  # the letter of 2A/2B: change the sex digit instead
    typo = ins[:position] + str((int(ins[position]) + shift) % 10) + ins[position + 1 :]
    with pytest.raises(InvalidInput) as err:
        parse_ins(typo)
    assert err.value.field == "ins"


@given(valid_ins(), st.integers(7, 12), st.integers(1, 9))
def test_r1_a_typo_in_the_serial_digits_fails_the_key_check(
    ins: str, position: int, shift: int
) -> None:
    typo = ins[:position] + str((int(ins[position]) + shift) % 10) + ins[position + 1 :]
    with pytest.raises(InvalidInput) as err:
        parse_ins(typo)
    assert err.value.code == "INS_KEY"


# ------------------------------------------------------------------- identity consistency


@pytest.mark.parametrize(
    ("ins", "born", "sex", "problem"),
    [
        (ALICE.ins, date(1985, 3, 14), "F", None),
        (ALICE.ins, date(1985, 3, 14), "M", ("SEX_MISMATCH", "sex")),
        (ALICE.ins, date(1984, 3, 14), "F", ("BIRTH_DATE_MISMATCH", "birth_date")),
        (ALICE.ins, date(2085, 3, 14), "F", None),  # the INS only knows the last two digits
        (ALICE.ins, date(1985, 4, 14), "F", ("BIRTH_DATE_MISMATCH", "birth_date")),
        (with_key("2852075056123"), date(1985, 7, 1), "F", None),  # month unknown: any month
        (with_key("2853575056123"), date(1985, 12, 1), "F", None),
        (with_key("8855075056123"), date(1985, 1, 1), "F", None),  # NIA
        (with_key("8855075056123"), date(1985, 1, 1), "M", ("SEX_MISMATCH", "sex")),
    ],
)
def test_r1_identity_traits_must_agree_with_the_ins(
    ins: str, born: date, sex: str, problem: tuple[str, str] | None
) -> None:
    if problem is None:
        check_identity_consistency(ins, born, sex)  # type: ignore[arg-type]
        return
    with pytest.raises(InvalidInput) as err:
        check_identity_consistency(ins, born, sex)  # type: ignore[arg-type]
    assert (err.value.code, err.value.field) == problem


@given(
    st.dates(date(1900, 1, 1), date(2025, 12, 31)),
    st.sampled_from(["F", "M"]),
    st.sampled_from(["75056", "2A004", "2B033", "97411", "99134"]),
    st.integers(1, 999),
)
def test_r1_an_ins_made_for_a_person_is_consistent_with_them_and_not_with_the_other_sex(
    born: date, sex: str, place: str, serial: int
) -> None:
    ins = make_ins("2" if sex == "F" else "1", born, place, f"{serial:03d}")
    assert parse_ins(ins) == ins
    check_identity_consistency(ins, born, sex)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput) as err:
        check_identity_consistency(ins, born, "M" if sex == "F" else "F")
    assert err.value.code == "SEX_MISMATCH"


@pytest.mark.parametrize(("value", "sex"), [("F", "F"), ("M", "M"), (" m ", "M"), ("f", "F")])
def test_sex_is_f_or_m(value: str, sex: str) -> None:
    assert parse_sex(value) == sex


@pytest.mark.parametrize("value", ["", "X", "H", "Femme", None, 1])
def test_any_other_sex_is_refused(value: object) -> None:
    err = refusal(parse_sex, value)
    assert (err.code, err.field) == ("SEX", "sex")


# ----------------------------------------------------------------------------------- RPPS


@pytest.mark.parametrize(
    ("written", "compact"),
    [
        (DR_BOB_RPPS, DR_BOB_RPPS),
        (make_rpps("8100000000"), make_rpps("8100000000")),
        ("100 0000 0017", "10000000017"),
    ],
)
def test_r18_valid_rpps_is_accepted(written: str, compact: str) -> None:
    assert parse_rpps(written) == compact


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", "RPPS_FORMAT"),
        ("1000000001", "RPPS_FORMAT"),  # 10 digits
        ("100000000017", "RPPS_FORMAT"),  # 12 digits
        ("1000000001A", "RPPS_FORMAT"),
        ("10000000018", "RPPS_KEY"),
        ("10003456784", "RPPS_KEY"),
        (DR_BOB_RPPS.translate(FULLWIDTH), "RPPS_FORMAT"),  # digits, but not ASCII ones
        (10000000017, "RPPS_FORMAT"),
        (None, "RPPS_FORMAT"),
    ],
)
def test_r18_malformed_rpps_is_refused_with_its_code_and_field(value: object, code: str) -> None:
    err = refusal(parse_rpps, value, field="opened_by")
    assert (err.code, err.field) == (code, "opened_by")


@given(st.text("0123456789", min_size=10, max_size=10))
def test_r18_ten_digits_completed_by_their_luhn_key_are_a_valid_rpps(first10: str) -> None:
    assert parse_rpps(make_rpps(first10)) == make_rpps(first10)


@given(st.text("0123456789", min_size=10, max_size=10), st.integers(0, 10), st.integers(1, 9))
def test_r18_changing_any_single_digit_of_an_rpps_fails_the_key_check(
    first10: str, position: int, shift: int
) -> None:
    rpps = make_rpps(first10)
    typo = rpps[:position] + str((int(rpps[position]) + shift) % 10) + rpps[position + 1 :]
    assert refusal(parse_rpps, typo).code == "RPPS_KEY"


# --------------------------------------------------------------------------------- FINESS


@pytest.mark.parametrize(
    ("written", "compact"),
    [
        (PHARMACY, PHARMACY),
        (CLINIC, CLINIC),
        (make_finess("97100001"), make_finess("97100001")),  # Guadeloupe
        (make_finess("98000001"), make_finess("98000001")),  # Monaco and overseas collectivities
        (make_finess("01000001"), make_finess("01000001")),
        (make_finess("95000001"), make_finess("95000001")),
        ("2A0000011", "2A0000011"),  # Corsica: structure only (key rule unconfirmed)
        ("2B0012345", "2B0012345"),
        ("2a0000011", "2A0000011"),
        (" 75 000 001 0 ", PHARMACY),
    ],
)
def test_valid_finess_is_accepted(written: str, compact: str) -> None:
    assert parse_finess(written) == compact


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", "FINESS_FORMAT"),
        ("75000001", "FINESS_FORMAT"),  # 8
        ("7500000100", "FINESS_FORMAT"),  # 10
        ("7500000A0", "FINESS_FORMAT"),
        ("2C0000011", "FINESS_FORMAT"),
        ("AB0000011", "FINESS_FORMAT"),
        (make_finess("00000001"), "FINESS_DEPARTMENT"),
        (make_finess("20000001"), "FINESS_DEPARTMENT"),  # no '20' since 1976
        (make_finess("96000001"), "FINESS_DEPARTMENT"),
        (make_finess("99000001"), "FINESS_DEPARTMENT"),
        ("750000011", "FINESS_KEY"),
        (PHARMACY.translate(FULLWIDTH), "FINESS_FORMAT"),
        (750000010, "FINESS_FORMAT"),
        (None, "FINESS_FORMAT"),
    ],
)
def test_malformed_finess_is_refused_with_its_code_and_field(value: object, code: str) -> None:
    err = refusal(parse_finess, value, field="opened_by")
    assert (err.code, err.field) == (code, "opened_by")


FINESS_PREFIXES = st.sampled_from([f"{n:02d}" for n in range(1, 96) if n != 20] + ["97", "98"])


@given(FINESS_PREFIXES, st.text("0123456789", min_size=6, max_size=6))
def test_a_department_and_six_digits_completed_by_luhn_are_a_valid_finess(
    prefix: str, rest: str
) -> None:
    finess = make_finess(prefix + rest)
    assert parse_finess(finess) == finess


@given(FINESS_PREFIXES, st.text("0123456789", min_size=6, max_size=6), st.integers(0, 8))
def test_changing_any_single_digit_of_a_finess_makes_it_invalid(
    prefix: str, rest: str, position: int
) -> None:
    finess = make_finess(prefix + rest)
    typo = finess[:position] + str((int(finess[position]) + 1) % 10) + finess[position + 1 :]
    assert refusal(parse_finess, typo).code in ("FINESS_KEY", "FINESS_DEPARTMENT")


# ------------------------------------------------------------------------- insurer office


@pytest.mark.parametrize(("written", "compact"), [("751A01", "751A01"), ("cpam75", "CPAM75")])
def test_r2_insurer_office_code_is_accepted(written: str, compact: str) -> None:
    assert parse_insurer_office(written) == compact


@pytest.mark.parametrize("value", ["", "75", "1234567890123", "75-01", "75_A", None])
def test_r2_malformed_insurer_office_code_is_refused(value: object) -> None:
    err = refusal(parse_insurer_office, value)
    assert (err.code, err.field) == ("OFFICE_FORMAT", "opened_by")
