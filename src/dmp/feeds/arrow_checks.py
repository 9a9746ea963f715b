"""Arrow kernels the feeds' fast paths share (claims, legacy records).

A fast path only says "surely valid"; what it doubts goes to the domain's parsers,
the one judge (decision 0010).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

# parse_ins's structure: sex digit, year, a NIR month (01–12, 20, 30–42, 50–99), a
# birthplace department (01–99 but 00, 2A, 2B), then 8 digits; the key is checked below.
INS_SHAPE = (
    r"^[1-478][0-9]{2}(0[1-9]|1[0-2]|20|3[0-9]|4[0-2]|[5-9][0-9])"
    r"(0[1-9]|[1-9][0-9]|2A|2B)[0-9]{8}$"
)


def ins_ok(ins: pa.ChunkedArray) -> pa.ChunkedArray:
    """RULES R1: the INS shape, and its key = 97 − (first 13 characters mod 97), with 2A
    read as 19 and 2B as 18 — in int64 arithmetic over the whole column."""
    shaped = pc.fill_null(pc.match_substring_regex(ins, INS_SHAPE), False)
    safe = pc.if_else(shaped, ins, "100000000000000")
    first13 = pc.utf8_slice_codeunits(safe, 0, 13)
    # The shape allows letters only in the birthplace: a plain replacement is enough.
    first13 = pc.replace_substring(first13, "2A", "19", max_replacements=1)
    first13 = pc.replace_substring(first13, "2B", "18", max_replacements=1)
    number = pc.cast(first13, pa.int64())
    remainder = pc.subtract(number, pc.multiply(pc.divide(number, 97), 97))
    key = pc.cast(pc.utf8_slice_codeunits(safe, 13, 15), pa.int64())
    return pc.and_(shaped, pc.equal(pc.subtract(97, remainder), key))
