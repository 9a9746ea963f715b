"""ITI-67 search parameters read into a DocumentQuery; anything unsupported is refused
with the parameter's name (never silently ignored)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from starlette.datastructures import QueryParams

from dmp.api.fhir import systems
from dmp.domain.documents import MAX_PAGE, DocumentQuery, DocumentStatus, SortKey
from dmp.domain.errors import InvalidInput
from dmp.domain.identity import parse_ins

SUPPORTED = {
    "patient.identifier": "token (INS system|value)",
    "patient": "reference (Patient/<INS>)",
    "type": "token (LOINC)",
    "category": "token (DMP classCode)",
    "date": "date (publication)",
    "period": "date (care period)",
    "status": "token",
    "author.identifier": "token (RPPS system|value)",
    "archived": "boolean (dmp: include archived documents, RULES R21)",
    "_sort": "date, -date, period, -period",
    "_count": f"0..{MAX_PAGE} (0: the total only)",
    "_total": "none, estimate, accurate (the total is always accurate)",
    "_offset": "paging",
    "_format": "json",
}


class UnsupportedParameter(InvalidInput):
    """A search parameter this server does not support (HTTP 400)."""


def document_query(params: QueryParams) -> DocumentQuery:
    for name in params:
        if name not in SUPPORTED:
            raise UnsupportedParameter(
                "PARAMETER_UNSUPPORTED",
                f"search parameter {name!r} is not supported; supported: {', '.join(SUPPORTED)}",
                name,
            )
    ins = patient_param(params)
    if params.get("_total", "accurate") not in ("none", "estimate", "accurate"):
        raise InvalidInput("TOTAL", "_total is none, estimate or accurate", "_total")
    date_from, date_until = date_range(params.getlist("date"), "date")
    period_from, period_until = date_range(params.getlist("period"), "period")
    sort, descending = _sort(params.get("_sort", "-date"))
    return DocumentQuery(
        ins=ins,
        types=tokens(params, "type"),
        class_codes=tokens(params, "category"),
        statuses=frozenset(_status(v) for v in tokens(params, "status")),
        authors=tokens(params, "author.identifier", systems.RPPS),
        date_from=date_from,
        date_until=date_until,
        period_from=period_from,
        period_until=period_until,
        include_archived=_boolean(params.get("archived"), "archived"),
        sort=sort,
        descending=descending,
        count=whole_number(params.get("_count"), "_count", 0, MAX_PAGE, 20),
        offset=whole_number(params.get("_offset"), "_offset", 0, 10_000_000, 0),
    )


def patient_ins(params: QueryParams, name: str = "patient.identifier") -> str:
    values = params.getlist(name)
    if len(values) != 1:
        raise InvalidInput("PATIENT_REQUIRED", f"exactly one {name} is required", name)
    system, sep, value = values[0].rpartition("|")
    if sep and system not in systems.INS_SYSTEMS:
        raise InvalidInput(
            "IDENTIFIER_SYSTEM", f"the patient is identified by the INS ({systems.INS_NIR})", name
        )
    return parse_ins(value, name)


def patient_param(params: QueryParams) -> str:
    if "patient.identifier" in params and "patient" in params:
        raise InvalidInput(
            "PATIENT_TWICE", "give patient or patient.identifier, not both", "patient"
        )
    if "patient" in params:
        ref = params.getlist("patient")
        if len(ref) != 1:
            raise InvalidInput("PATIENT_REQUIRED", "exactly one patient is required", "patient")
        return parse_ins(ref[0].removeprefix("Patient/"), "patient")
    return patient_ins(params)


def tokens(params: QueryParams, name: str, system: str | None = None) -> frozenset[str]:
    """Comma-separated values are ORed; a `system|` prefix must be the expected one."""
    found: set[str] = set()
    for raw in params.getlist(name):
        for value in raw.split(","):
            sys, sep, code = value.rpartition("|")
            if sep and system is not None and sys not in ("", system):
                raise InvalidInput("IDENTIFIER_SYSTEM", f"{name} expects system {system}", name)
            if not code:
                raise InvalidInput("PARAMETER_EMPTY", f"{name} has an empty value", name)
            found.add(code)
    return frozenset(found)


def _status(value: str) -> DocumentStatus:
    try:
        return DocumentStatus(value)
    except ValueError:
        raise InvalidInput(
            "STATUS_UNKNOWN",
            f"status {value!r}: one of {', '.join(s.value for s in DocumentStatus)}",
            "status",
        ) from None


_PREFIXES = ("ge", "gt", "le", "lt", "eq")


def date_range(values: list[str], name: str) -> tuple[datetime | None, datetime | None]:
    """FHIR date prefixes into a half-open range [from, until)."""
    start: datetime | None = None
    until: datetime | None = None
    for value in values:
        prefix = value[:2] if value[:2] in _PREFIXES else "eq"
        text = value[2:] if value[:2] in _PREFIXES else value
        low, high = _bounds(text, name)
        if prefix in ("ge", "eq"):
            start = max(start, low) if start else low
        if prefix == "gt":
            start = max(start, high) if start else high
        if prefix in ("lt",):
            until = min(until, low) if until else low
        if prefix in ("le", "eq"):
            until = min(until, high) if until else high
    return start, until


def _bounds(text: str, name: str) -> tuple[datetime, datetime]:
    """The instants a date of the given precision covers: [low, high)."""
    try:
        if len(text) == 4:
            year = int(text)
            return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
        if len(text) == 7:
            first = date.fromisoformat(f"{text}-01")
            nxt = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
            return _day(first), _day(nxt)
        if len(text) == 10:
            day = date.fromisoformat(text)
            return _day(day), _day(day + timedelta(days=1))
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput("DATE_INVALID", f"{name}: {text!r} is not a FHIR date", name) from None
    if moment.tzinfo is None:
        raise InvalidInput("DATE_INVALID", f"{name}: a time needs its offset", name)
    moment = moment.astimezone(UTC)
    return moment, moment + timedelta(seconds=1)


def _day(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def _sort(value: str) -> tuple[SortKey, bool]:
    descending = value.startswith("-")
    try:
        return SortKey(value.removeprefix("-")), descending
    except ValueError:
        raise InvalidInput(
            "SORT_UNSUPPORTED", "_sort is one of date, -date, period, -period", "_sort"
        ) from None


def _boolean(value: str | None, name: str) -> bool:
    if value in (None, "false"):
        return False
    if value == "true":
        return True
    raise InvalidInput("BOOLEAN", f"{name} is true or false", name)


def whole_number(value: str | None, name: str, low: int, high: int, default: int) -> int:
    if value is None:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise InvalidInput("NUMBER", f"{name} is a whole number from {low} to {high}", name)
    return int(value)
