"""French departments and the regions they belong to (INSEE codes).

Reference data (INSEE's official geographic code, 2016 regions) ships with the
package as a CSV; it is read once. Region codes are INSEE's ("11" Île-de-France,
"93" Provence-Alpes-Côte d'Azur, "01".."06" overseas).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources

from dmp.domain.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Department:
    code: str
    name: str
    region_code: str
    region_name: str


@cache
def departments() -> dict[str, Department]:
    """All departments by INSEE code ('01'…'95', '2A', '2B', '971'…'976')."""
    text = resources.files("dmp.domain").joinpath("data/departments.csv").read_text("utf-8")
    rows = csv.DictReader(io.StringIO(text))
    return {
        r["department"]: Department(
            r["department"], r["department_name"], r["region"], r["region_name"]
        )
        for r in rows
    }


@cache
def regions() -> dict[str, str]:
    """Region INSEE code -> region name."""
    return {d.region_code: d.region_name for d in departments().values()}


def parse_department(value: str, field: str = "department") -> Department:
    """The department for an INSEE code; '1' is read as '01', '2a' as '2A'."""
    code = (value or "").strip().upper()
    if len(code) == 1 and code.isdigit():
        code = "0" + code
    found = departments().get(code)
    if found is None:
        raise InvalidInput(
            "DEPARTMENT_UNKNOWN",
            f"{value!r} is not an INSEE department code (01…95, 2A, 2B, 971…976)",
            field,
        )
    return found


def region_of(department_code: str) -> str:
    """The region code of a known department code."""
    return departments()[department_code].region_code
