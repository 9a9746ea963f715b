"""/stats: the operator's openings dashboard (DESIGN: operator / statistician).

The query string is the form: `from`, `to` (YYYY-MM-DD, local days, inclusive) and
an optional `channel`. Defaults: from the first opening ever to today. Every figure
comes from services.stats; a bad parameter re-shows the form with a French message
and HTTP 400.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi.responses import HTMLResponse

from dmp.domain.errors import DomainError
from dmp.domain.records import CHANNEL_LABELS
from dmp.domain.stats import OpeningsQuery, make_openings_query
from dmp.services import stats as service
from dmp.storage.db import Database
from dmp.web import assets, charts
from dmp.web.deps import DbDep, TodayDep
from dmp.web.errors import bad_date_message, french_message
from dmp.web.rendering import templates

EXPORT_URL = "/api/stats/openings"


@dataclass(slots=True)
class PeriodForm:
    """The form as typed, to show it back, and the error of each field."""

    start: str = ""
    end: str = ""
    channel: str = ""
    errors: dict[str, str] = field(default_factory=dict)


def page(
    request: Request,
    db: DbDep,
    today: TodayDep,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
    channel: str | None = None,
) -> HTMLResponse:
    form = PeriodForm(from_ or "", to or "", channel or "")
    end = _parse_day(form, "to", form.end) or today
    start = _parse_day(form, "from", form.start)
    if form.errors:
        return _render(request, form, None, 400)
    if start is None:
        start = service.first_opening_day(db, end)
    try:
        query = make_openings_query(start, end, "week", form.channel or None)
    except DomainError as exc:
        form.errors[exc.field or "form"] = french_message(exc)
        return _render(request, form, None, 400)
    form.start = start.isoformat() if start else ""
    form.end = end.isoformat()
    return _render(request, form, _dashboard(db, query))


def _parse_day(form: PeriodForm, name: str, value: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        form.errors[name] = bad_date_message(name)
        return None


def _dashboard(db: Database, query: OpeningsQuery) -> dict[str, Any]:
    """Everything the template shows for a valid query, from the services only."""
    channel = query.channel.value if query.channel else None
    weekly = service.openings(db, query)
    by_channel = service.openings(
        db, make_openings_query(query.start, query.end, "channel", channel)
    )
    by_region = service.openings(db, make_openings_query(query.start, query.end, "region", channel))
    progress = service.progress(db, query.end)
    return {
        "query": query,
        "weekly": weekly,
        "by_channel": by_channel,
        "by_region": by_region,
        "totals": service.totals(db, query.end),
        "progress": progress,
        "figures": {
            "weekly": charts.as_json(charts.weekly(weekly)),
            "channels": charts.as_json(charts.channels(by_channel)),
            "regions": charts.as_json(charts.regions(by_region)),
            "progress": charts.as_json(charts.progress(progress)),
        },
        "progress_legend": charts.progress_legend(progress),
        "exports": {by: _export_links(query, by) for by in ("week", "channel", "region")}
        | {"cumulative": _export_links(query, "week", cumulative=True)},
    }


def _export_links(query: OpeningsQuery, by: str, cumulative: bool = False) -> dict[str, str]:
    """The same figures from the stats API, as CSV and JSON."""
    params: dict[str, str] = {"to": query.end.isoformat(), "by": by}
    if cumulative:
        params["cumulative"] = "true"
    else:
        if query.start:
            params["from"] = query.start.isoformat()
        if query.channel:
            params["channel"] = query.channel.value
    return {fmt: f"{EXPORT_URL}?{urlencode({**params, 'format': fmt})}" for fmt in ("csv", "json")}


def _render(
    request: Request, form: PeriodForm, dashboard: dict[str, Any] | None, status: int = 200
) -> HTMLResponse:
    context = {
        "form": form,
        "channels": CHANNEL_LABELS,
        "plotly_url": f"{assets.PLOTLY_URL}?v={assets.PLOTLY_VERSION}",
        "dash": dashboard,
    }
    response: HTMLResponse = templates().TemplateResponse(
        request, "stats.html", context, status_code=status
    )
    return response
