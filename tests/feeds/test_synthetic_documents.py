"""Synthetic documents are valid files of every accepted kind, deterministic, and
plausible for the demo (RULES R6 formats, R10 who may write what, R20 dates)."""

from __future__ import annotations

import base64
import random
import re
from datetime import UTC, datetime, timedelta

import pytest
from defusedxml.ElementTree import fromstring

from dmp.domain.content import check_content
from dmp.domain.document_types import document_type
from dmp.domain.identity import parse_rpps
from dmp.domain.matrix import default_matrix
from dmp.feeds.synthetic.documents import (
    DEFAULT_UNTIL,
    make_cda_level1,
    make_cda_structured,
    make_fhir_document_bundle,
    make_jpeg,
    make_pdf,
    make_png,
    sample_documents,
)
from tests.personas import ALICE, DR_BOB_RPPS

WHEN = datetime(2018, 11, 6, 10, 30, tzinfo=UTC)
META = {"ins": ALICE.ins, "author_rpps": DR_BOB_RPPS, "when": WHEN}


def xref_offsets(pdf: bytes) -> dict[int, int]:
    """Object number -> byte offset, read back through startxref and the xref table."""
    start = int(re.findall(rb"startxref\s+(\d+)\s+%%EOF", pdf)[-1])
    assert pdf[start:].startswith(b"xref")
    lines = pdf[start:].split(b"\n")
    first, count = map(int, lines[1].split())
    offsets = {}
    for number, entry in enumerate(lines[2 : 2 + count], start=first):
        offset, _, kind = entry.split()
        if kind == b"n":
            offsets[number] = int(offset)
    return offsets


@pytest.mark.parametrize("pad_to", [None, 50_000])
def test_pdf_xref_offsets_point_at_their_objects(pad_to: int | None) -> None:
    pdf = make_pdf("Compte rendu (essai) \\ été", ["Ligne accentuée : µmol/L – ok"], pad_to=pad_to)
    offsets = xref_offsets(pdf)
    assert sorted(offsets) == list(range(1, len(offsets) + 1))
    for number, offset in offsets.items():
        assert pdf[offset:].startswith(b"%d 0 obj\n" % number), number
    assert pdf.startswith(b"%PDF-1.4\n")
    assert pdf.endswith(b"%%EOF\n")


def test_pdf_padded_for_benchmarks_has_the_asked_size_and_stays_valid() -> None:
    pdf = make_pdf("Benchmark", ["x"], pad_to=50_000)
    assert len(pdf) == 50_000
    assert b"/Filter /FlateDecode" in pdf
    assert check_content("application/pdf", pdf, max_size=50_000, field="c").kind == "pdf"


def test_pdf_text_is_escaped_and_in_winansi() -> None:
    pdf = make_pdf("Titre (avec) \\", ["é"])
    assert b"(Titre \\(avec\\) \\\\)" in pdf
    assert b"(\\351)" in pdf  # é in cp1252, as an octal escape


def test_cda_level1_embeds_the_pdf_unchanged() -> None:
    pdf = make_pdf("Compte rendu", ["ok"])
    cda = make_cda_level1(pdf, title="Compte rendu", loinc="11488-4", **META)
    text = fromstring(cda).find(".//{urn:hl7-org:v3}nonXMLBody/{urn:hl7-org:v3}text")
    assert text is not None
    assert text.get("mediaType") == "application/pdf"
    assert base64.b64decode(text.text or "") == pdf
    assert f'extension="8{DR_BOB_RPPS}"'.encode() in cda  # CI-SIS: 8 + RPPS


def test_png_and_jpeg_have_the_dimensions_they_say() -> None:
    png = make_png(31, 17)
    assert (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")) == (31, 17)
    jpeg = make_jpeg()
    frame = jpeg.index(b"\xff\xc0")
    assert jpeg[frame + 5 : frame + 9] == b"\x00\x08\x00\x08"
    with pytest.raises(ValueError, match="pixel"):
        make_png(0, 3)


def test_fhir_document_bundle_is_a_valid_r4_bundle() -> None:
    bundle_model = pytest.importorskip("fhir.resources.R4B.bundle")
    data = make_fhir_document_bundle(title="Synthèse", loinc="60591-5", **META)
    bundle = bundle_model.Bundle.model_validate_json(data)
    assert bundle.type == "document"
    assert bundle.entry[0].resource.get_resource_type() == "Composition"


STRUCTURED = make_cda_structured(title="Essai", loinc="11369-6", **META)
FHIR_DOCUMENT = make_fhir_document_bundle(title="Essai", loinc="60591-5", **META)


@pytest.mark.parametrize(
    ("mime", "data", "kind"),
    [
        ("application/pdf", make_pdf("Essai", ["ligne"]), "pdf"),
        ("application/xml", STRUCTURED, "cda-structured"),
        ("application/fhir+json", FHIR_DOCUMENT, "fhir-document"),
        ("image/png", make_png(1, 1), "png"),
        ("image/jpeg", make_jpeg(), "jpeg"),
    ],
)
def test_each_generator_output_passes_the_content_check(mime: str, data: bytes, kind: str) -> None:
    assert check_content(mime, data, max_size=10**7, field="c").kind == kind


def test_naive_times_are_refused() -> None:
    naive = datetime(2018, 1, 1)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="timezone"):
        make_cda_structured(**{**META, "when": naive}, title="E", loinc="11369-6")


def test_r6_r10_sample_documents_pass_every_check_and_their_author_may_write_them() -> None:
    documents = sample_documents(random.Random(7), ALICE.ins, 120)
    matrix = default_matrix()
    assert len(documents) == 120
    for document in documents:
        content = check_content(document.mime_type, document.data, max_size=10**7, field="c")
        registered = document_type(document.loinc)
        assert registered.title == document.title
        assert parse_rpps(document.author_rpps) == document.author_rpps
        assert matrix.rights(document.author_profession, registered.category).write, document
        assert content.size == len(document.data)
    assert {d.mime_type for d in documents} >= {
        "application/pdf",
        "application/xml",
        "application/fhir+json",
        "text/plain",
    }
    assert len({d.loinc for d in documents}) >= 8


def test_r20_sample_care_dates_span_three_years_before_until_oldest_first() -> None:
    until = datetime(2024, 5, 1, 12, tzinfo=UTC)
    documents = sample_documents(random.Random(3), ALICE.ins, 200, until=until)
    dates = [d.care_date for d in documents]
    assert dates == sorted(dates)
    assert all(until - timedelta(days=3 * 365) <= day <= until for day in dates)
    assert any(day < until - timedelta(days=2 * 365) for day in dates)  # beyond R20's window
    assert sample_documents(random.Random(3), ALICE.ins, 1)[0].care_date <= DEFAULT_UNTIL


def test_samples_are_the_same_for_the_same_seed() -> None:
    first = sample_documents(random.Random(11), ALICE.ins, 30)
    assert first == sample_documents(random.Random(11), ALICE.ins, 30)
    assert first != sample_documents(random.Random(12), ALICE.ins, 30)
