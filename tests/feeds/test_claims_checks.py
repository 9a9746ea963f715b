"""The vectorised checks are a fast path of domain.claims, never a second opinion (issue 5):
whatever line they pass, the domain accepts with the very same values."""

from __future__ import annotations

import random
from dataclasses import asdict

import pyarrow as pa

from dmp.domain.claims import COLUMNS, parse_claim_line
from dmp.domain.errors import InvalidInput
from dmp.feeds.claims.checks import check_chunk
from tests.feeds.claims_files import TODAY, claim
from tests.personas import ALICE, BOB

NOISE = ["", " ", "0", "2A", "é", "\u00a0", "\t", "-", "99", "A", "1", "2026-02-30", "x" * 201]


def mutants(count: int) -> list[dict[str, str | None]]:
    """Valid lines with one or two fields replaced by near misses."""
    rng = random.Random(5)
    base = [
        claim("M1", ALICE.ins, "2026-01-10", label="PARACETAMOL").split(","),
        claim("M2", BOB.ins, "2024-03-16", category="biology", code="1104", label="NFS").split(","),
    ]
    rows = []
    for n in range(count):
        fields = list(rng.choice(base))
        for _ in range(rng.randint(0, 2)):
            i = rng.randrange(len(COLUMNS))
            value = fields[i]
            fields[i] = rng.choice(
                [
                    value[:-1],
                    value + rng.choice(NOISE),
                    rng.choice(NOISE),
                    value[:3] + rng.choice(NOISE) + value[4:],
                    value.lower(),
                ]
            )
        row: dict[str, str | None] = {c: (v or None) for c, v in zip(COLUMNS, fields, strict=True)}
        row["claim_id"] = row["claim_id"] and f"{row['claim_id']}-{n}"
        rows.append(row)
    return rows


def test_every_line_the_fast_path_keeps_is_one_the_domain_accepts_identically() -> None:
    rows = mutants(3000)
    table = pa.Table.from_pylist(
        [{"line": n + 2, **r} for n, r in enumerate(rows)],
        schema=pa.schema([("line", pa.int64()), *((c, pa.string()) for c in COLUMNS)]),
    )
    kept, rejections, outside = check_chunk(table, TODAY)
    assert kept.num_rows + len(rejections) + outside == len(rows)
    assert 300 < kept.num_rows < 2900  # both paths were exercised
    for got in kept.to_pylist():
        source = rows[got.pop("line") - 2]
        try:
            expected = asdict(parse_claim_line(source))
        except InvalidInput as exc:  # pragma: no cover - the failure names the culprit
            raise AssertionError(f"fast path kept a bad line: {source} ({exc})") from None
        assert got == {k: (v.value if k == "category" else v) for k, v in expected.items()}
    rejected_lines = {r.line for r in rejections}
    for r in rejections:
        assert r.field in COLUMNS
        assert r.code
    assert len(rejected_lines) == len(rejections)
