"""Unique, valid INS numbers for synthetic people, without remembering any of them.

An INS is sex (1) + birth year (2) + birth month (2) + birthplace (5) + serial (3) +
key (2). The birthplace is a department and a commune: 2 + 3 characters in
metropolitan France ("75056", "2A004"), 3 + 2 overseas ("97411"), "99" + an INSEE
country code for people born abroad ("99350", Morocco).

Uniqueness without a set of every INS issued (3 million of them would not keep
memory flat): people sharing sex, birth year and month and birthplace department (or
country) form a bucket; the n-th person of a bucket gets (commune, serial) number
(n × STEP + offset) mod capacity, a permutation of the bucket's (commune, serial)
pairs since STEP is prime to the capacity. Only one counter per bucket is kept:
2 sexes × 100 years × 12 months × ~120 places, about a megabyte.
"""

from __future__ import annotations

import random
from array import array
from datetime import date
from math import gcd

from dmp.domain.geography import departments
from dmp.domain.identity import Sex, ins_key

ABROAD = "99"
# INSEE country codes (the 3 digits after "99") of frequent birth countries abroad.
BIRTH_COUNTRIES = (
    ("352", 20),  # Algeria
    ("350", 18),  # Morocco
    ("139", 12),  # Portugal
    ("351", 8),  # Tunisia
    ("127", 6),  # Italy
    ("134", 6),  # Spain
    ("208", 5),  # Turkey
    ("131", 3),  # Belgium
    ("109", 3),  # Germany
    ("132", 2),  # United Kingdom
    ("341", 3),  # Senegal
    ("335", 2),  # Mali
    ("326", 2),  # Côte d'Ivoire
    ("322", 2),  # Cameroon
    ("243", 2),  # Vietnam
    ("114", 2),  # Romania
    ("397", 2),  # Comoros
    ("333", 2),  # Madagascar
    ("336", 1),  # Haiti
    ("216", 2),  # China
)
SERIALS = 999  # serials 001-999
STEP = 7919  # a prime that divides none of the capacities below (checked at start)


class _Place:
    """A birthplace prefix ("75", "2A", "971", or "99350" abroad) and its numbering."""

    __slots__ = ("capacity", "prefix", "width")

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        # Digits of the commune number (none abroad: the country code fills the place).
        self.width = 5 - len(prefix)
        self.capacity = (10**self.width - 1 if self.width else 1) * SERIALS

    def commune(self, index: int) -> str:
        return f"{index + 1:0{self.width}d}" if self.width else ""


class InsAllocator:
    """Issues each (sex, birth date, birthplace) a fresh, valid INS."""

    def __init__(self, rng: random.Random) -> None:
        places = [_Place(code) for code in departments()]
        places += [_Place(ABROAD + country) for country, _ in BIRTH_COUNTRIES]
        self.places = {p.prefix: (i, p) for i, p in enumerate(places)}
        for place in places:
            if gcd(STEP, place.capacity) != 1:
                raise AssertionError(f"STEP must be prime to the capacity of {place.prefix}")
        self._counters = array("I", [0]) * (2 * 100 * 12 * len(places))
        # A per-run offset so that seeds differ in serials, not only in names.
        self._offset = rng.randrange(1 << 30)

    def issue(self, sex: Sex, born: date, birthplace: str) -> str:
        """A new INS for a person born on `born` in `birthplace`: a department code,
        or "99" and a country code."""
        place_index, place = self.places[birthplace]
        sex_index = 0 if sex == "M" else 1
        yy = born.year % 100
        bucket = ((sex_index * 100 + yy) * 12 + born.month - 1) * len(self.places) + place_index
        n = self._counters[bucket]
        if n >= place.capacity:
            raise OverflowError(f"more than {place.capacity} people in one INS bucket")
        self._counters[bucket] = n + 1
        slot = (n * STEP + self._offset + bucket) % place.capacity
        commune, serial = divmod(slot, SERIALS)
        first13 = (
            f"{sex_index + 1}{yy:02d}{born.month:02d}"
            f"{place.prefix}{place.commune(commune)}{serial + 1:03d}"
        )
        return first13 + ins_key(first13)
