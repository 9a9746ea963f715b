"""A line of the legacy records file judged by the domain alone: a prepared record, or a
Rejection naming the field. The import checks whole chunks with Arrow first
(checks.py); this is what it asks about every line those checks doubt, and the
reference they are tested against.

Columns: ins,family_name,given_names,birth_date,sex,department,opened_at,channel,opened_by
"""

from __future__ import annotations

from datetime import datetime

from dmp.domain.errors import DomainError
from dmp.domain.geography import parse_department
from dmp.domain.identity import parse_ins, parse_sex
from dmp.domain.people import Identity, parse_birth_date, parse_name
from dmp.domain.records import Opening, parse_channel, parse_opened_at, parse_opener
from dmp.feeds.csvsource import Rejection
from dmp.services.legacy_import import (
    LegacyLine,
    LineConflict,
    PreparedRecord,
    prepare_legacy_line,
)

COLUMNS = (
    "ins",
    "family_name",
    "given_names",
    "birth_date",
    "sex",
    "department",
    "opened_at",
    "channel",
    "opened_by",
)


def parse_line(line: int, row: dict[str, str], now: datetime) -> LegacyLine | Rejection:
    try:
        ins = parse_ins(row["ins"])
        birth_date = parse_birth_date(row["birth_date"], now.date())
        identity = Identity(
            ins,
            parse_name(row["family_name"], "family_name"),
            parse_name(row["given_names"], "given_names"),
            birth_date,
            parse_sex(row["sex"]),
        )
        channel = parse_channel(row["channel"])
        opening = Opening(
            channel,
            parse_opener(channel, row["opened_by"]),
            parse_department(row["department"]).code,
            parse_opened_at(row["opened_at"], now),
        )
    except DomainError as exc:
        return Rejection(line, exc.field, exc.code, exc.message)
    return LegacyLine(line, identity, opening)


def parse_and_prepare(line: int, row: dict[str, str], now: datetime) -> PreparedRecord | Rejection:
    """The line as the record the migration rule makes of it, or why not."""
    parsed = parse_line(line, row, now)
    if isinstance(parsed, Rejection):
        return parsed
    prepared = prepare_legacy_line(parsed)
    if isinstance(prepared, LineConflict):
        return Rejection(prepared.line, prepared.field, prepared.code, prepared.reason)
    return prepared
