"""The dashboard's Plotly figures, built from service reports.

Figures travel as JSON in a `data-figure` attribute and are drawn by our
static/charts.js with the locally served plotly.min.js; every figure's numbers
are also in an HTML table on the page, so nothing depends on JavaScript.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import plotly.graph_objects as go

from dmp.domain.stats import OpeningsReport
from dmp.services.stats import Progress
from dmp.web.rendering import fr_int, fr_percent

INK = "#161616"
GRID = "#e5e5e5"
BLUE = "#000091"  # "bleu France", the State's colour
# One colour per channel key, the same whatever the filter, so a channel keeps its colour.
CHANNEL_COLOURS = {
    "online": "#000091",
    "pharmacy": "#009081",
    "insurer": "#c3992a",
    "professional": "#6a6af4",
    "establishment": "#ce614a",
}
TARGET_COLOURS = ("#c3992a", "#ce614a")
WEEK_MS = 7 * 24 * 3600 * 1000
# Plotly's automatic date ticks read "nov. 4"; French writes "4 nov.".
DATE_AXIS = {
    "type": "date",
    "hoverformat": "%d/%m/%Y",
    "nticks": 6,  # few enough to stay readable on a phone, where labels must not rotate
    "tickangle": 0,
    "tickformatstops": [
        {"dtickrange": [None, "M1"], "value": "%-d %b\n%Y"},
        {"dtickrange": ["M1", "M12"], "value": "%b\n%Y"},
        {"dtickrange": ["M12", None], "value": "%Y"},
    ],
}
# Below this share of the first target the cumulative curve would be a flat line at
# zero on a linear axis, so the chart opens on a log scale (a button switches back).
LOG_SCALE_BELOW = 0.05


def _layout(**extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "template": "none",  # keeps the JSON small; we set what we use below
        "font": {
            "family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
            "size": 13,
            "color": INK,
        },
        "separators": ", ",  # French: decimal comma, space between thousands
        "margin": {"l": 56, "r": 16, "t": 16, "b": 48},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "hoverlabel": {"font": {"size": 14}},
        "xaxis": {"gridcolor": GRID, "zeroline": False, "automargin": True},
        "yaxis": {"gridcolor": GRID, "zeroline": False, "automargin": True, "rangemode": "tozero"},
        "showlegend": False,
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(layout.get(key), dict):
            layout[key] = {**layout[key], **value}
        else:
            layout[key] = value
    return layout


def weekly(report: OpeningsReport) -> go.Figure:
    """Openings per ISO week, one bar per week, dated by its Monday."""
    mondays = [_monday(g.key) for g in report.groups]
    bars = go.Bar(
        x=mondays,
        y=[g.count for g in report.groups],
        # Each bar spans its week (Monday to Sunday) rather than being centred on Monday.
        xperiod=WEEK_MS,
        xperiod0=mondays[0] if mondays else None,
        xperiodalignment="middle",
        customdata=[g.label for g in report.groups],
        marker={"color": BLUE},
        hovertemplate="%{customdata}<br>%{y:,d} ouvertures<extra></extra>",
    )
    return go.Figure(
        bars,
        _layout(
            height=340,
            bargap=0.15,
            xaxis=DATE_AXIS,
            yaxis={"title": {"text": "Ouvertures"}, "tickformat": ",d"},
        ),
    )


def channels(report: OpeningsReport) -> go.Figure:
    """The channel split as a ring: each channel's share of the period's openings."""
    shares = [fr_percent(g.count / report.total) if report.total else "" for g in report.groups]
    pie = go.Pie(
        labels=[g.label for g in report.groups],
        values=[g.count for g in report.groups],
        customdata=shares,  # French percentages, as in the table ('38,8 %')
        marker={"colors": [CHANNEL_COLOURS.get(g.key, BLUE) for g in report.groups]},
        hole=0.55,
        sort=False,
        direction="clockwise",
        texttemplate="%{customdata}",
        hovertemplate="%{label}<br>%{value:,d} ouvertures (%{customdata})<extra></extra>",
    )
    centre = {
        "text": f"<b>{fr_int(report.total)}</b><br>ouvertures",
        "showarrow": False,
        "font": {"size": 16},
        "x": 0.5,
        "y": 0.5,
        "xref": "paper",
        "yref": "paper",
    }
    return go.Figure(
        pie,
        _layout(
            height=360,
            showlegend=True,
            legend={"orientation": "h", "x": 0, "y": -0.05, "yanchor": "top"},
            margin={"l": 8, "r": 8, "t": 8, "b": 8},
            annotations=[centre],
        ),
    )


def regions(report: OpeningsReport) -> go.Figure:
    """Openings per region, largest first (at the top)."""
    groups = list(reversed(report.groups))  # Plotly draws the first category at the bottom
    bars = go.Bar(
        x=[g.count for g in groups],
        y=[g.label for g in groups],
        orientation="h",
        marker={"color": "#009081"},
        hovertemplate="%{y}<br>%{x:,d} ouvertures<extra></extra>",
    )
    return go.Figure(
        bars,
        _layout(
            height=max(220, 60 + 30 * len(groups)),
            margin={"l": 8, "r": 16, "t": 8, "b": 40},
            xaxis={"title": {"text": "Ouvertures"}, "tickformat": ",d", "rangemode": "tozero"},
            yaxis={"gridcolor": "rgba(0,0,0,0)", "ticksuffix": "  "},
        ),
    )


@dataclass(frozen=True, slots=True)
class LegendItem:
    label: str
    colour: str
    dashed: bool


def progress_legend(report: Progress) -> list[LegendItem]:
    """The progress chart's legend, drawn in HTML by the page: Plotly's own legend
    collides with the scale buttons and the date ticks on a phone."""
    items = [LegendItem("Dossiers ouverts (cumul)", BLUE, False)]
    for target, colour in zip(report.targets, TARGET_COLOURS, strict=False):
        items.append(LegendItem(f"Objectif {target.target // 1_000_000} millions", colour, True))
    return items


def progress(report: Progress) -> go.Figure:
    """Records opened since the first ever, against the national targets, with a
    switch to a log scale: at the start the curve is too small to see on a linear one."""
    x = [w.monday + timedelta(days=6) for w in report.weeks]  # a week's total is its Sunday's
    legend = progress_legend(report)
    traces: list[go.Scatter] = [
        go.Scatter(
            x=x,
            y=[w.cumulative for w in report.weeks],
            customdata=[w.label for w in report.weeks],
            mode="lines+markers" if len(x) < 3 else "lines",
            line={"color": legend[0].colour, "width": 3},
            fill="tozeroy",
            fillcolor="rgba(0,0,145,0.08)",
            hovertemplate="Fin de la %{customdata}<br>%{y:,d} dossiers ouverts<extra></extra>",
        )
    ]
    for target, item in zip(report.targets, legend[1:], strict=True):
        traces.append(
            go.Scatter(
                x=[x[0], x[-1]] if x else [],
                y=[target.target, target.target],
                mode="lines",
                line={"color": item.colour, "width": 2, "dash": "dash"},
                hovertemplate=f"{item.label}<extra></extra>",
            )
        )
    scales = [
        {"label": "Linéaire", "method": "relayout", "args": [{"yaxis.type": "linear"}]},
        {"label": "Logarithmique", "method": "relayout", "args": [{"yaxis.type": "log"}]},
    ]
    log = bool(report.targets) and report.targets[0].share < LOG_SCALE_BELOW
    return go.Figure(
        traces,
        _layout(
            height=400,
            margin={"l": 56, "r": 16, "t": 48, "b": 40},
            xaxis=DATE_AXIS,
            yaxis={
                "title": {"text": "Dossiers"},
                "tickformat": ",d",
                "type": "log" if log else "linear",
            },
            updatemenus=[
                {
                    "type": "buttons",
                    "active": 1 if log else 0,
                    "direction": "right",
                    "buttons": scales,
                    "x": 0,
                    "xanchor": "left",
                    "y": 1.04,
                    "yanchor": "bottom",
                    "showactive": True,
                    "pad": {"t": 0, "r": 0},
                    "font": {"size": 12},
                }
            ],
        ),
    )


def as_json(figure: go.Figure) -> str:
    """The figure for the `data-figure` attribute (Jinja escapes it for HTML)."""
    text: str = figure.to_json(validate=False)
    return text


def _monday(week: str) -> str:
    year, number = week.split("-W")
    return date.fromisocalendar(int(year), int(number), 1).isoformat()
