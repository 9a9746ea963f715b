"""Synthetic people: the insured population of France in 2018, roughly.

Departments are weighted by their population (rounded 2018 figures), ages follow the
2018 age pyramid in five-year bands (minors included), women outnumber men at great
ages, most people were born in their department of residence, some elsewhere in
France and some abroad, and nearly everyone is covered by the régime général.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from dmp.domain.geography import departments
from dmp.domain.identity import Sex
from dmp.feeds.synthetic.ins import ABROAD, BIRTH_COUNTRIES, InsAllocator
from dmp.feeds.synthetic.names import (
    FAMILY_NAMES,
    REGIONAL_FAMILY_NAMES,
    REGIONAL_SHARE,
    given_names_of,
)
from dmp.feeds.synthetic.weighted import Weighted

# Ages are counted back from here: every synthetic person is born before the launch.
AGE_REFERENCE = date(2018, 11, 1)

# Inhabitants in thousands, 2018, rounded.
DEPARTMENT_POPULATION = {
    "01": 650, "02": 535, "03": 337, "04": 164, "05": 141, "06": 1083, "07": 326,
    "08": 273, "09": 153, "10": 310, "11": 372, "12": 279, "13": 2024, "14": 694,
    "15": 145, "16": 352, "17": 645, "18": 304, "19": 241, "2A": 158, "2B": 181,
    "21": 533, "22": 598, "23": 118, "24": 414, "25": 539, "26": 512, "27": 600,
    "28": 432, "29": 909, "30": 745, "31": 1362, "32": 191, "33": 1583, "34": 1144,
    "35": 1060, "36": 222, "37": 606, "38": 1258, "39": 260, "40": 407, "41": 331,
    "42": 762, "43": 227, "44": 1394, "45": 678, "46": 174, "47": 332, "48": 76,
    "49": 813, "50": 496, "51": 568, "52": 175, "53": 307, "54": 733, "55": 187,
    "56": 750, "57": 1044, "58": 207, "59": 2604, "60": 824, "61": 283, "62": 1468,
    "63": 653, "64": 677, "65": 228, "66": 474, "67": 1125, "68": 764, "69": 1843,
    "70": 236, "71": 553, "72": 566, "73": 431, "74": 807, "75": 2176, "76": 1255,
    "77": 1403, "78": 1438, "79": 374, "80": 572, "81": 387, "82": 258, "83": 1058,
    "84": 559, "85": 675, "86": 436, "87": 374, "88": 367, "89": 338, "90": 142,
    "91": 1296, "92": 1609, "93": 1623, "94": 1387, "95": 1228, "971": 390, "972": 364,
    "973": 281, "974": 860, "976": 270,
}  # fmt: skip

# (first age of the five-year band, inhabitants in thousands, share of women), 2018.
AGE_BANDS = (
    (0, 3700, 0.49), (5, 4100, 0.49), (10, 4150, 0.49), (15, 4050, 0.49),
    (20, 3700, 0.50), (25, 3800, 0.51), (30, 4000, 0.51), (35, 4150, 0.51),
    (40, 4200, 0.51), (45, 4600, 0.51), (50, 4450, 0.51), (55, 4300, 0.52),
    (60, 4100, 0.52), (65, 3950, 0.53), (70, 2950, 0.54), (75, 2200, 0.57),
    (80, 1900, 0.61), (85, 1300, 0.66), (90, 600, 0.73), (95, 170, 0.80), (100, 20, 0.85),
)  # fmt: skip

# The "grand régime" code as on the carte Vitale, with rough shares of the insured.
REGIMES = (
    ("01", 88.0),  # régime général (incl. the former mutuelles étudiantes)
    ("02", 5.5),  # régime agricole (MSA)
    ("03", 4.5),  # travailleurs indépendants (former RSI)
    ("04", 0.6),  # SNCF
    ("05", 0.2),  # RATP
    ("06", 0.2),  # marins (ENIM)
    ("07", 0.2),  # mines (CANSSM)
    ("08", 0.8),  # militaires (CNMSS)
)

BORN_IN_RESIDENCE = 0.78
BORN_ABROAD = 0.08  # the rest were born in another department


@dataclass(frozen=True, slots=True)
class Person:
    """A line of the insurer's registry."""

    ins: str
    family_name: str
    given_names: str
    birth_date: date
    sex: Sex
    department: str  # of residence
    regime: str

    @property
    def region(self) -> str:
        return departments()[self.department].region_code


class Population:
    """An endless, seeded stream of distinct people."""

    def __init__(self, seed: int | str) -> None:
        self.rng = random.Random(f"dmp-synthetic:{seed}:people")
        self.allocator = InsAllocator(self.rng)
        self.departments = Weighted.of(
            (code, DEPARTMENT_POPULATION.get(code, 100)) for code in departments()
        )
        self.bands = Weighted(AGE_BANDS, (n for _, n, _ in AGE_BANDS))
        self.regimes = Weighted.of(REGIMES)
        self.countries = Weighted.of(BIRTH_COUNTRIES)
        self.family_names = _zipf(FAMILY_NAMES)
        self.regional = {r: _zipf(names) for r, names in REGIONAL_FAMILY_NAMES.items()}

    def __iter__(self) -> Iterator[Person]:
        while True:
            yield self.next_person()

    def next_person(self) -> Person:
        rng = self.rng
        department = self.departments.pick(rng)
        first_age, _, women = self.bands.pick(rng)
        sex: Sex = "F" if rng.random() < women else "M"
        born = AGE_REFERENCE - timedelta(days=int((first_age + 5 * rng.random()) * 365.2425))
        ins = self.allocator.issue(sex, born, self._birthplace(department))
        return Person(
            ins,
            self._family_name(department),
            self._given_names(born.year, sex),
            born,
            sex,
            department,
            self.regimes.pick(self.rng),
        )

    def _birthplace(self, residence: str) -> str:
        draw = self.rng.random()
        if draw < BORN_IN_RESIDENCE:
            return residence
        if draw < BORN_IN_RESIDENCE + BORN_ABROAD:
            return ABROAD + self.countries.pick(self.rng)
        return self.departments.pick(self.rng)

    def _family_name(self, department: str) -> str:
        regional = self.regional.get(departments()[department].region_code)
        if regional is not None and self.rng.random() < REGIONAL_SHARE:
            return regional.pick(self.rng)
        return self.family_names.pick(self.rng)

    def _given_names(self, birth_year: int, sex: Sex) -> str:
        pool = given_names_of(birth_year, sex == "F")
        count = 1 + (self.rng.random() < 0.55) + (self.rng.random() < 0.15)
        chosen: list[str] = []
        while len(chosen) < count:
            name = pool[int(len(pool) * self.rng.random() ** 1.6)]  # the fashionable first
            if name not in chosen:
                chosen.append(name)
        return " ".join(chosen)


def people(seed: int | str) -> Iterator[Person]:
    """The people of `seed`, always in the same order."""
    return iter(Population(seed))


def _zipf(names: tuple[str, ...]) -> Weighted[str]:
    """Names listed from the most frequent: frequency falls with the rank."""
    return Weighted(names, (1 / (rank + 8) for rank in range(len(names))))
