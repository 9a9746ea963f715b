"""Synthetic claims files for the demo, the tests and the benchmark (issue 5).

`claim_lines(seed, beneficiaries, lines, today, bad)` yields lines for the first
`beneficiaries` people of `seed` (the registry `dmp generate beneficiaries` writes
with the same seed and count), care dates spread over the 30 months before `today`
(so about a fifth are older than the 24-month window and are not kept), with `bad`
broken lines mixed in at seeded positions, each kind in turn (BAD_KINDS: the code the
importer must give). Claim ids rise through the file, as the insurer's do. Files are
CSV, gzip-compressed CSV (.gz) or Parquet (.parquet), chosen by the file name.
"""

from __future__ import annotations

import gzip
import io
import random
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from itertools import islice
from pathlib import Path

from dmp.domain.claims import COLUMNS, ClaimCategory, window_start
from dmp.domain.identity import ins_key, make_finess, make_rpps
from dmp.feeds.synthetic.claims_catalogue import CATEGORIES, ITEMS, cip13
from dmp.feeds.synthetic.names import FAMILY_NAMES
from dmp.feeds.synthetic.population import people
from dmp.feeds.synthetic.weighted import Weighted

SPREAD_DAYS = 913  # 30 months
PROFESSIONALS = 20_000
FACILITIES = 3_000
Line = list[str]
Progress = Callable[[int], None]

# (kind, code the importer gives: a rejection code, or what the summary counts)
BAD_KINDS = (
    ("bad_ins_key", "INS_KEY"),
    ("short_ins", "INS_LENGTH"),
    ("impossible_date", "DATE"),
    ("french_date", "DATE"),
    ("future_date", "CARE_DATE_FUTURE"),
    ("unknown_category", "CATEGORY"),
    ("code_of_another_nomenclature", "CODE_NOMENCLATURE"),
    ("bad_cip13_key", "CODE_NOMENCLATURE"),
    ("zero_quantity", "QUANTITY"),
    ("bad_performer_rpps", "RPPS_KEY"),
    ("bad_facility_finess", "FINESS_KEY"),
    ("bad_profession", "PROFESSION"),
    ("missing_label", "REQUIRED"),
    ("bad_claim_id", "CLAIM_ID"),
    ("missing_column", "FIELD_COUNT"),
    ("not_utf8", "ENCODING"),
    ("conflicting_claim_id", "CLAIM_CONFLICT"),
    ("exact_duplicate", "duplicates"),
    ("unknown_beneficiary", "unknown"),
)
C = {name: i for i, name in enumerate(COLUMNS)}


class ClaimMaker:
    """Valid claim lines for a fixed set of beneficiaries."""

    def __init__(self, seed: int | str, beneficiaries: int, today: date) -> None:
        self.rng = random.Random(f"dmp-synthetic:{seed}:claims")
        self.ins = [p.ins for p in islice(people(seed), beneficiaries)]
        self.today = today
        self.prefix = f"RC{seed}-"
        self.serial = 0
        self.categories = Weighted.of((c, w[0]) for c, w in CATEGORIES.items())
        self.items = {c: Weighted(items, (i[2] for i in items)) for c, items in ITEMS.items()}
        self.names = FAMILY_NAMES

    def next_id(self) -> str:
        self.serial += 1
        return f"{self.prefix}{self.serial:010d}"

    def line(self) -> Line:
        rng = self.rng
        category = self.categories.pick(rng)
        _, profession, prescribed, facility = CATEGORIES[category]
        code, label, _, most = self.items[category].pick(rng)
        care = self.today - timedelta(days=int(rng.random() * SPREAD_DAYS))
        performer = prescriber = finess = name = ""
        if profession is not None:
            n = int(PROFESSIONALS * rng.random() ** 2)
            performer, name = _professional(n), f"{self.names[n % len(self.names)]} {n}"
        if prescribed and rng.random() < 0.9:
            prescriber = _professional(int(PROFESSIONALS * rng.random()))
        if facility:
            finess = _facility(int(FACILITIES * rng.random() ** 2))
        return [
            self.next_id(),
            self.ins[int(len(self.ins) * rng.random())],
            care.isoformat(),
            category.value,
            code,
            label,
            str(1 + int(most * rng.random())),
            performer,
            name,
            profession or "",
            prescriber,
            finess,
        ]


def _professional(n: int) -> str:
    return make_rpps(f"1{n:09d}")


def _facility(n: int) -> str:
    department = 1 + n % 95
    return make_finess(f"{75 if department == 20 else department:02d}{n:06d}")


def outsider_ins(n: int) -> str:
    """An INS no registry person has: born in department 96 (the allocator never is)."""
    first13 = f"1{70 + n % 30:02d}{1 + n % 12:02d}96{n % 1000:03d}{n // 1000 % 1000:03d}"
    return first13 + ins_key(first13)


def spoil(maker: ClaimMaker, line: Line, number: int, earlier: Line | None) -> tuple[Line, str]:
    """Break a valid line the `number`-th way; return it with its encoding."""
    kind = BAD_KINDS[number % len(BAD_KINDS)][0]
    f = list(line)
    if kind == "conflicting_claim_id" and earlier is None:
        kind = "bad_claim_id"
    if kind == "bad_ins_key":
        f[C["ins"]] = f[C["ins"]][:13] + f"{(int(f[C['ins']][13:]) + 1) % 97:02d}"
    elif kind == "short_ins":
        f[C["ins"]] = f[C["ins"]][:14]
    elif kind == "impossible_date":
        f[C["care_date"]] = f[C["care_date"]][:5] + "02-30"
    elif kind == "french_date":
        y, m, d = f[C["care_date"]].split("-")
        f[C["care_date"]] = f"{d}/{m}/{y}"
    elif kind == "future_date":
        f[C["care_date"]] = (maker.today + timedelta(days=3)).isoformat()
    elif kind == "unknown_category":
        f[C["category"]] = "veterinary"
    elif kind == "code_of_another_nomenclature":
        f[C["category"]], f[C["code"]] = "pharmacy", "DEQP003"
    elif kind == "bad_cip13_key":
        good = cip13(3000001)
        f[C["category"]], f[C["code"]] = "pharmacy", good[:12] + str((int(good[12]) + 1) % 10)
    elif kind == "zero_quantity":
        f[C["quantity"]] = "0"
    elif kind == "bad_performer_rpps":
        rpps = _professional(7)
        f[C["performer_rpps"]] = rpps[:10] + str((int(rpps[10]) + 1) % 10)
    elif kind == "bad_facility_finess":
        finess = _facility(7)
        f[C["facility_finess"]] = finess[:8] + str((int(finess[8]) + 1) % 10)
    elif kind == "bad_profession":
        f[C["performer_profession"]] = "médecin"
    elif kind == "missing_label":
        f[C["label"]] = ""
    elif kind == "bad_claim_id":
        f[C["claim_id"]] = "#" + f[C["claim_id"]]
    elif kind == "missing_column":
        del f[C["facility_finess"]]
    elif kind == "not_utf8":
        f[C["label"]] = "Hélène"
        return f, "latin-1"
    elif kind == "conflicting_claim_id":
        assert earlier is not None
        f[C["claim_id"]] = earlier[C["claim_id"]]
        f[C["quantity"]] = str(int(earlier[C["quantity"]]) + 1)
        f[C["ins"]], f[C["care_date"]] = earlier[C["ins"]], earlier[C["care_date"]]
    elif kind == "exact_duplicate" and earlier is not None:
        f = list(earlier)
    elif kind == "unknown_beneficiary":
        f[C["ins"]] = outsider_ins(number)
    return f, "utf-8"


def claim_lines(
    seed: int | str, beneficiaries: int, lines: int, today: date, bad: int = 0
) -> Iterator[tuple[Line, str]]:
    """`lines` valid lines and `bad` broken ones, as (fields, encoding)."""
    maker = ClaimMaker(seed, beneficiaries, today)
    positions = set(
        random.Random(f"dmp-synthetic:{seed}:claims-bad").sample(range(lines + bad), bad)
    )
    spoiled, earlier = 0, None
    kept_from = window_start(today).isoformat()  # a re-sent line must be one that is kept
    for n in range(lines + bad):
        line = maker.line()
        if n in positions:
            yield spoil(maker, line, spoiled, earlier)
            spoiled += 1
        else:
            if line[C["care_date"]] >= kept_from:
                earlier = line
            yield line, "utf-8"


def write_claims(
    path: Path,
    seed: int | str,
    beneficiaries: int,
    lines: int,
    today: date,
    bad: int = 0,
    on_progress: Progress | None = None,
) -> int:
    """Write the file (CSV, .gz or .parquet by name); return the number of lines."""
    produced = claim_lines(seed, beneficiaries, lines, today, bad)
    if path.name.lower().endswith((".parquet", ".pq")):
        return _write_parquet(path, produced, on_progress)
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    written = 0
    with opener(path, "wb") as out:
        out.write((",".join(COLUMNS) + "\n").encode())
        buffer = io.StringIO()
        for fields, encoding in produced:
            text = ",".join(_quoted(v) for v in fields) + "\n"
            if encoding != "utf-8":
                out.write(buffer.getvalue().encode())
                buffer = io.StringIO()
                out.write(text.encode(encoding))
            else:
                buffer.write(text)
            written += 1
            if written % 10_000 == 0:
                out.write(buffer.getvalue().encode())
                buffer = io.StringIO()
                if on_progress:
                    on_progress(written)
        out.write(buffer.getvalue().encode())
    if on_progress:
        on_progress(written)
    return written


def _quoted(value: str) -> str:
    if any(c in value for c in ',"\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _write_parquet(
    path: Path, produced: Iterator[tuple[Line, str]], on_progress: Progress | None
) -> int:
    """Parquet holds text columns; lines with a wrong field count cannot be stored."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(c, pa.string()) for c in COLUMNS])
    written = 0
    with pq.ParquetWriter(path, schema) as out:
        while chunk := list(islice(produced, 100_000)):
            rows = [f for f, _ in chunk if len(f) == len(COLUMNS)]
            columns = {c: [r[i] or None for r in rows] for i, c in enumerate(COLUMNS)}
            out.write_table(pa.table(columns, schema=schema))
            written += len(rows)
            if on_progress:
                on_progress(written)
    return written


__all__ = ["BAD_KINDS", "ClaimCategory", "claim_lines", "write_claims"]
