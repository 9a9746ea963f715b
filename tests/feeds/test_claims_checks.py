"""The vectorised checks are a fast path of domain.claims, never a second opinion (issue 5):
whatever line they pass, the domain accepts with the very same values."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import asdict

import pyarrow as pa
import pytest

from dmp.domain.claims import COLUMNS, parse_claim_line
from dmp.domain.errors import InvalidInput
from dmp.domain.identity import make_finess, make_rpps, parse_finess, parse_rpps
from dmp.feeds.claims.checks import _finess_ok, _rpps_ok, check_chunk
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


def _domain_accepts(parse: Callable[[str], str], value: str) -> bool:
    try:
        return parse(value) == value
    except InvalidInput:
        return False


@pytest.mark.parametrize(
    ("kernel", "parse", "make", "prefixes"),
    [
        (_rpps_ok, parse_rpps, make_rpps, ["1", "2", "8"]),
        (_finess_ok, parse_finess, make_finess, ["75", "2A", "2B", "97", "98", "01", "20", "96"]),
    ],
)
def test_the_luhn_kernels_judge_every_identifier_as_the_domain_does(
    kernel: Callable[[pa.ChunkedArray], pa.ChunkedArray],
    parse: Callable[[str], str],
    make: Callable[[str], str],
    prefixes: list[str],
) -> None:
    """Each digit of valid RPPS and FINESS numbers changed in turn (a wrong key, mostly),
    plus near misses of shape: the column kernel says what the domain's parser says."""
    rng = random.Random(11)
    width = 10 if make is make_rpps else 8  # digits before the key
    values: list[str] = []
    for prefix in prefixes:
        for _ in range(40):
            body = prefix + "".join(rng.choice("0123456789") for _ in range(width - len(prefix)))
            try:
                valid = make(body)
            except (InvalidInput, ValueError):
                valid = body + "0"  # a Corsican FINESS has no Luhn key: any last digit
            values.append(valid)
            i = rng.randrange(len(valid))
            values.append(valid[:i] + rng.choice("0123456789") + valid[i + 1 :])
    values += ["", "0" * 11, "1" * 12, "12345 67890", "2A", "abcdefghi", "00000000"]
    got = kernel(pa.chunked_array([pa.array(values, pa.string())])).to_pylist()
    expected = [_domain_accepts(parse, v) for v in values]
    assert got == expected
    assert 0 < sum(expected) < len(values)
