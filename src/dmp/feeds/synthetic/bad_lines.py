"""Deliberately broken lines for the legacy records file, one kind of fault each.

Each kind breaks exactly one thing in an otherwise valid line, so the importer must
reject it with one known code (the tests check it through the real parsers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dmp.domain.identity import make_finess, make_rpps
from dmp.domain.records import Channel

# Column positions in the legacy records file.
INS, FAMILY, GIVEN, BORN, SEX, DEPARTMENT, OPENED_AT, CHANNEL, OPENED_BY = range(9)


@dataclass(frozen=True, slots=True)
class BadLine:
    kind: str
    code: str  # the rejection code the importer must give
    fields: list[str]
    encoding: str = "utf-8"


def _bump(digit: str) -> str:
    return str((int(digit) + 1) % 10)


def _bad_key(f: list[str]) -> None:
    f[INS] = f[INS][:13] + f"{(int(f[INS][13:]) + 1) % 97:02d}"


def _unknown_department(f: list[str]) -> None:
    f[DEPARTMENT] = "96"  # never existed; "20" (Corsica before 1976) would do too


def _impossible_birth_date(f: list[str]) -> None:
    f[BORN] = f[BORN][:5] + "02-30"


def _french_timestamp(f: list[str]) -> None:
    day, time = f[OPENED_AT][:10], f[OPENED_AT][11:16]
    f[OPENED_AT] = f"{day[8:10]}/{day[5:7]}/{day[:4]} {time}"


def _no_offset(f: list[str]) -> None:
    f[OPENED_AT] = f[OPENED_AT][:19]


def _future(f: list[str]) -> None:
    f[OPENED_AT] = "2099" + f[OPENED_AT][4:]


def _missing_column(f: list[str]) -> None:
    del f[OPENED_BY]


def _bad_rpps(f: list[str]) -> None:
    rpps = make_rpps("1000012345")
    f[CHANNEL], f[OPENED_BY] = Channel.PROFESSIONAL.value, rpps[:10] + _bump(rpps[10])


def _bad_finess(f: list[str]) -> None:
    finess = make_finess("75201234")
    f[CHANNEL], f[OPENED_BY] = Channel.PHARMACY.value, finess[:8] + _bump(finess[8])


def _opener_online(f: list[str]) -> None:
    f[CHANNEL], f[OPENED_BY] = Channel.ONLINE.value, make_finess("75201234")


def _unknown_channel(f: list[str]) -> None:
    f[CHANNEL] = "fax"


def _sex_mismatch(f: list[str]) -> None:
    f[SEX] = "M" if f[SEX] == "F" else "F"


def _latin1(f: list[str]) -> None:
    f[GIVEN] = "Hélène"  # written in Latin-1 below: é is not valid UTF-8 there


KINDS: tuple[tuple[str, str, Callable[[list[str]], None]], ...] = (
    ("bad_ins_key", "INS_KEY", _bad_key),
    ("unknown_department", "DEPARTMENT_UNKNOWN", _unknown_department),
    ("impossible_birth_date", "DATE", _impossible_birth_date),
    ("french_timestamp", "DATETIME", _french_timestamp),
    ("timestamp_without_offset", "DATETIME_OFFSET", _no_offset),
    ("opened_in_the_future", "DATETIME_FUTURE", _future),
    ("missing_column", "FIELD_COUNT", _missing_column),
    ("bad_rpps_key", "RPPS_KEY", _bad_rpps),
    ("bad_finess_key", "FINESS_KEY", _bad_finess),
    ("opener_for_online", "OPENER", _opener_online),
    ("unknown_channel", "CHANNEL", _unknown_channel),
    ("sex_contradicts_ins", "SEX_MISMATCH", _sex_mismatch),
    ("not_utf8", "ENCODING", _latin1),
)


def spoil(fields: list[str], number: int) -> BadLine:
    """Break a valid line the `number`-th way (the kinds come round in turn)."""
    kind, code, damage = KINDS[number % len(KINDS)]
    broken = list(fields)
    damage(broken)
    return BadLine(kind, code, broken, "latin-1" if code == "ENCODING" else "utf-8")
