"""The pages' Jinja2 environment and the French number and date formats.

French typography separates thousands with a narrow no-break space (U+202F) and
writes decimals with a comma; the same space goes before the percent sign.
"""

from __future__ import annotations

from datetime import date
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.templating import Jinja2Templates

NARROW_NBSP = "\u202f"


def fr_int(value: int) -> str:
    """3000000 -> '3 000 000'."""
    return f"{value:,}".replace(",", NARROW_NBSP)


def fr_percent(share: float) -> str:
    """0.3 -> '30,0 %'; a share too small to show is '< 0,1 %', not a misleading 0."""
    if 0 < share < 0.001:
        return f"<{NARROW_NBSP}0,1{NARROW_NBSP}%"
    return f"{share * 100:,.1f}".replace(",", NARROW_NBSP).replace(".", ",") + f"{NARROW_NBSP}%"


def fr_date(value: date) -> str:
    """2018-11-06 -> '06/11/2018'."""
    return value.strftime("%d/%m/%Y")


@cache
def templates() -> Jinja2Templates:
    env = Environment(
        loader=PackageLoader("dmp.web", "templates"),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,  # a missing variable is a bug, not an empty string
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(fr_int=fr_int, fr_percent=fr_percent, fr_date=fr_date)
    return Jinja2Templates(env=env)
