"""A record's care history: the insurer's claim lines of the last 24 months (RULES R5).

Reading it is the policy's decision (domain.access, Action.READ_CLAIMS, matrix category
"données de remboursement"): the holder, a minor's legal representatives, and the
professionals the holder authorised whose profession the matrix lets read that
category (the médecin traitant always); never insurer agents, complementary insurers,
employers (R15). Each reading is traced through the guard, allowed or denied (R16). A
caller who may not read it gets an empty page, as for a record that does not exist.

Whatever the dates asked, only lines within the 24-month window of today (Paris) are
shown, even before `dmp purge` has dropped the older ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from dmp.domain.access import Action
from dmp.domain.claims import ClaimCategory, ClaimLine, parse_category, window_start
from dmp.domain.errors import InvalidInput, NotFound
from dmp.domain.identity import parse_ins
from dmp.domain.matrix import Category
from dmp.domain.time import local_date
from dmp.services.context import Ctx
from dmp.services.guard import guarded
from dmp.storage import claims as store
from dmp.storage.db import Database

DEFAULT_PAGE = 50
MAX_PAGE = 500
MAX_OFFSET = 10_000_000


@dataclass(frozen=True, slots=True)
class CareHistoryPage:
    lines: list[ClaimLine]  # newest care first
    total: int  # lines in the window answering the query, all visible to the caller
    since: date  # the dates actually covered (clipped to the window)
    until: date


def care_history(
    db: Database,
    ctx: Ctx,
    ins: str,
    *,
    since: date | None = None,
    until: date | None = None,
    category: frozenset[str] = frozenset(),
    count: int = DEFAULT_PAGE,
    offset: int = 0,
) -> CareHistoryPage:
    """RULES R5, R10, R16: a page of the record's claim lines the caller may read."""
    ins = parse_ins(ins)
    categories = frozenset(parse_category(c) for c in category)
    if not 0 <= count <= MAX_PAGE:
        raise InvalidInput("PAGE_COUNT", f"must be 0 to {MAX_PAGE}", "_count")
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput("PAGE_OFFSET", f"must be 0 to {MAX_OFFSET}", "_offset")
    today = local_date(ctx.now)
    low = max(since or date.min, window_start(today))
    high = min(until or date.max, today)
    detail: dict[str, object] = {
        "since": low.isoformat(),
        "until": high.isoformat(),
        "category": sorted(categories),
    }
    try:
        with guarded(
            db, ctx, Action.READ_CLAIMS, ins, category=Category.REMBOURSEMENT, detail=detail
        ) as (conn, _):
            lines, total = store.find_claims(
                conn, ins, low, high, _sorted(categories), limit=count, offset=offset
            )
    except NotFound:
        return CareHistoryPage([], 0, low, high)
    return CareHistoryPage(lines, total, low, high)


def _sorted(categories: frozenset[ClaimCategory]) -> list[ClaimCategory]:
    return sorted(categories)
