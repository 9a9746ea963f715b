"""Synthetic openings, shaped like the national launch of 6 November 2018.

DESIGN: 3 million records five weeks after the launch, over 200,000 a week. Openings
run from Tuesday 6 November to Sunday 30 December 2018: a launch week, a ramp up
to early December, a dip before Christmas. Each channel keeps its own hours: insurer
desks are shut at weekends, pharmacies on Sundays (but for the pharmacies on duty),
people open their record online at any hour, most often in the evening.

Openers come from pools per department, sized by population (about 21,000
pharmacies, 3,000 establishments, 20,000 professionals and 600 insurer desks in all),
and a few of each pool open most records, as the most active pharmacies did.
Identifiers are computed from the pool position, so no pool is kept in memory.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache, lru_cache

from dmp.domain.geography import departments
from dmp.domain.identity import make_finess, make_rpps
from dmp.domain.records import Channel
from dmp.domain.time import PARIS
from dmp.feeds.synthetic.population import DEPARTMENT_POPULATION, Person, people
from dmp.feeds.synthetic.weighted import Weighted

LAUNCH = date(2018, 11, 6)
LAST_DAY = date(2018, 12, 30)

CHANNELS = (
    (Channel.PHARMACY, 38.0),
    (Channel.INSURER, 31.0),
    (Channel.ONLINE, 21.0),
    (Channel.ESTABLISHMENT, 7.0),
    (Channel.PROFESSIONAL, 3.0),
)

# Relative volume of each ISO week of 2018, from the launch week (45) to week 52.
WEEKS = {45: 0.85, 46: 1.0, 47: 1.05, 48: 1.1, 49: 1.12, 50: 1.05, 51: 0.9, 52: 0.45}
# Christmas Day: desks and pharmacies shut (pharmacies on duty aside).
HOLIDAYS = {date(2018, 12, 25)}

# Monday to Sunday, per channel.
WEEKDAYS = {
    Channel.PHARMACY: (1.0, 1.0, 1.0, 1.0, 1.05, 0.75, 0.03),
    Channel.INSURER: (1.0, 1.05, 0.9, 1.0, 0.95, 0.0, 0.0),
    Channel.ONLINE: (1.0, 0.95, 0.95, 0.95, 0.85, 0.75, 0.9),
    Channel.ESTABLISHMENT: (1.0, 1.0, 1.0, 1.0, 1.0, 0.3, 0.15),
    Channel.PROFESSIONAL: (1.0, 1.0, 0.8, 1.0, 1.0, 0.4, 0.02),
}

# Hour of day 0–23 (local time), per channel.
_SHOP = (0,) * 8 + (1, 5, 9, 10, 9, 5, 4, 8, 9, 9, 9, 7, 2) + (0,) * 3
_DESK = (0,) * 8 + (3, 9, 10, 10, 3, 4, 9, 9, 6, 1) + (0,) * 6
_HOME = (1, 0.5, 0.2, 0.1, 0.1, 0.2, 1, 2, 3, 4, 4, 4, 5, 5, 4, 4, 4, 5, 7, 9, 11, 12, 8, 4)
_WARD = (0,) * 7 + (2, 7, 9, 9, 7, 5, 6, 8, 8, 7, 5, 3, 1) + (0,) * 4
HOURS = {
    Channel.PHARMACY: _SHOP,
    Channel.INSURER: _DESK,
    Channel.ONLINE: _HOME,
    Channel.ESTABLISHMENT: _WARD,
    Channel.PROFESSIONAL: _WARD,
}

# Openers in all of France, shared between departments by population.
POOL_SIZES = {
    Channel.PHARMACY: 21_000,
    Channel.ESTABLISHMENT: 3_000,
    Channel.PROFESSIONAL: 20_000,
    Channel.INSURER: 600,
}
# A pool member is drawn as int(size × u ** CONCENTRATION): the first few open most.
CONCENTRATION = 2.5


@dataclass(frozen=True, slots=True)
class LaunchOpening:
    channel: Channel
    opened_by: str  # FINESS, RPPS or insurer desk code; "" online
    opened_at: datetime  # aware, Europe/Paris


class Launch:
    """A seeded stream of openings: `opening(department)` draws the next one."""

    def __init__(self, seed: int | str) -> None:
        self.rng = random.Random(f"dmp-synthetic:{seed}:launch")
        self.channels = Weighted.of(CHANNELS)
        span = range((LAST_DAY - LAUNCH).days + 1)
        days = [LAUNCH + timedelta(d) for d in span]
        self.days = {c: Weighted(days, (_day_weight(c, d) for d in days)) for c in WEEKDAYS}
        self.hours = {c: Weighted(range(24), h) for c, h in HOURS.items()}

    def opening(self, department: str) -> LaunchOpening:
        rng = self.rng
        channel = self.channels.pick(rng)
        day = self.days[channel].pick(rng)
        hour = self.hours[channel].pick(rng)
        second = int(3600 * rng.random())
        at = datetime(day.year, day.month, day.day, hour, second // 60, second % 60, tzinfo=PARIS)
        if channel is Channel.ONLINE:
            return LaunchOpening(channel, "", at)
        size = pool_size(channel, department)
        return LaunchOpening(
            channel, opener(channel, department, int(size * rng.random() ** CONCENTRATION)), at
        )


def _day_weight(channel: Channel, day: date) -> float:
    weight = WEEKS[day.isocalendar()[1]] * WEEKDAYS[channel][day.weekday()]
    if day in HOLIDAYS and channel is not Channel.ONLINE:
        weight *= 0.05
    return weight


@cache
def pool_size(channel: Channel, department: str) -> int:
    """How many openers of `channel` a department has: its share of the national pool."""
    total = sum(DEPARTMENT_POPULATION.values())
    share = DEPARTMENT_POPULATION.get(department, 100) / total
    return max(1, round(POOL_SIZES[channel] * share))


@lru_cache(maxsize=1024)  # a few openers open most records: compute their keys once
def opener(channel: Channel, department: str, index: int) -> str:
    """The identifier of the `index`-th opener of `channel` in `department`.

    FINESS: the department prefix ("75", "2A", or "97" and the overseas digit), then
    "2" for pharmacies or "0" for establishments, a serial, and the Luhn key. The key
    of Corsican FINESS is unconfirmed (identity.py checks their structure only); we
    compute it on the digits after the prefix. RPPS: "10", the department's rank,
    the index, and the Luhn key. Desks: "CPAM", the department, a two-digit number.
    """
    if channel is Channel.INSURER:
        return f"CPAM{department}{index % 100:02d}"
    if channel is Channel.PROFESSIONAL:
        return make_rpps(f"10{_rank(department):03d}{index:05d}")
    kind = "2" if channel is Channel.PHARMACY else "0"
    if department.startswith("97"):
        return make_finess(f"97{department[2]}{kind}{index:04d}")
    if department in ("2A", "2B"):
        return department + make_finess(f"20{kind}{index:05d}")[2:]
    return make_finess(f"{department}{kind}{index:05d}")


@cache
def _rank(department: str) -> int:
    return list(departments()).index(department)


def launch_openings(seed: int | str) -> Iterator[tuple[Person, LaunchOpening]]:
    """The people of `seed` (same order as `people(seed)`), each with an opening."""
    launch = Launch(seed)
    for person in people(seed):
        yield person, launch.opening(person.department)
