"""A document's bytes are what the publisher declares, whole, and safe (RULES R6: format,
MIME type, size, hash). Hostile XML is refused and nothing is ever fetched."""

from __future__ import annotations

import base64
import hashlib
import http.server
import threading
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dmp.domain.content import SUPPORTED_MIME_TYPES, Content, check_content
from dmp.domain.content_formats import (
    FORMAT_CDA_UNREFERENCED,
    FORMAT_JPEG,
    FORMAT_MIME_SUFFICIENT,
    FORMAT_PDF,
    FORMAT_TEXT,
)
from dmp.domain.errors import InvalidInput
from dmp.feeds.synthetic.documents import (
    make_cda_level1,
    make_cda_structured,
    make_fhir_document_bundle,
    make_jpeg,
    make_pdf,
    make_png,
)
from tests.personas import ALICE, DR_BOB_RPPS

WHEN = datetime(2018, 11, 6, 10, 30, tzinfo=UTC)
META = {"ins": ALICE.ins, "author_rpps": DR_BOB_RPPS, "when": WHEN}
LIMIT = 10_000_000

PDF = make_pdf("Compte rendu de consultation", ["Motif : toux.", "Conclusion : rien de grave."])
PNG = make_png(12, 7)
JPEG = make_jpeg()
CDA_LEVEL1 = make_cda_level1(PDF, title="Compte rendu", loinc="11488-4", **META)
CDA_STRUCTURED = make_cda_structured(title="Historique des vaccinations", loinc="11369-6", **META)
FHIR_DOCUMENT = make_fhir_document_bundle(title="Synthèse médicale", loinc="60591-5", **META)
TEXT = "Dispensation du 06/11/2018\nParacétamol 1 g\n".encode()

# One valid sample per family, with the family's label as the mismatch message names it.
SAMPLES = {
    "pdf": (PDF, "application/pdf", "a PDF document"),
    "png": (PNG, "image/png", "a PNG image"),
    "jpeg": (JPEG, "image/jpeg", "a JPEG image"),
    "xml": (CDA_LEVEL1, "application/xml", "XML"),
    "json": (FHIR_DOCUMENT, "application/fhir+json", "JSON"),
    "text": (TEXT, "text/plain", "plain text"),
}
FAMILY_OF = {
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpeg",
    "application/xml": "xml",
    "text/xml": "xml",
    "application/fhir+json": "json",
    "text/plain": "text",
}


def check(mime: str, data: bytes, max_size: int = LIMIT) -> Content:
    return check_content(mime, data, max_size=max_size, field="content")


def refusal(mime: str, data: bytes, max_size: int = LIMIT) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        check(mime, data, max_size)
    assert caught.value.field == "content"
    return caught.value


def cda_level1(media_type: str, payload: bytes, representation: str = "B64") -> bytes:
    encoded = base64.b64encode(payload).decode()
    return (
        '<ClinicalDocument xmlns="urn:hl7-org:v3"><component><nonXMLBody>'
        f'<text mediaType="{media_type}" representation="{representation}">{encoded}</text>'
        "</nonXMLBody></component></ClinicalDocument>"
    ).encode()


# --- accepted ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mime", "data", "kind", "format_code"),
    [
        ("application/pdf", PDF, "pdf", FORMAT_PDF),
        ("application/xml", CDA_LEVEL1, "cda-level1", FORMAT_PDF),
        ("text/xml", CDA_LEVEL1, "cda-level1", FORMAT_PDF),
        ("application/xml", CDA_STRUCTURED, "cda-structured", FORMAT_CDA_UNREFERENCED),
        ("application/fhir+json", FHIR_DOCUMENT, "fhir-document", FORMAT_MIME_SUFFICIENT),
        ("text/plain", TEXT, "text", FORMAT_TEXT),
        ("image/jpeg", JPEG, "jpeg", FORMAT_JPEG),
        ("image/png", PNG, "png", FORMAT_MIME_SUFFICIENT),
    ],
)
def test_r6_each_accepted_kind_gets_its_format_size_and_hash(
    mime: str, data: bytes, kind: str, format_code: str
) -> None:
    content = check(mime, data)
    assert content == Content(mime, format_code, len(data), hashlib.sha256(data).hexdigest(), kind)


@pytest.mark.parametrize(
    ("declared", "normalised"),
    [
        ("APPLICATION/PDF", "application/pdf"),
        (" application/pdf ", "application/pdf"),
        ("text/plain; charset=UTF-8", "text/plain"),
        ('text/plain;charset="utf-8"', "text/plain"),
    ],
)
def test_declared_type_is_normalised(declared: str, normalised: str) -> None:
    data = PDF if normalised == "application/pdf" else TEXT
    assert check(declared, data).mime_type == normalised


def test_text_may_start_with_a_bom_and_blank_lines() -> None:
    assert check("text/plain", b"\xef\xbb\xbf\n\nBonjour").kind == "text"


def test_xml_and_json_are_acceptable_plain_text() -> None:
    assert check("text/plain", CDA_LEVEL1).kind == "text"
    assert check("text/plain", FHIR_DOCUMENT).kind == "text"


def test_structured_cda_of_a_ci_sis_model_gets_the_model_format_code() -> None:
    """ANS ASS_A11: the templateId of the CI-SIS model gives the formatCode."""
    data = CDA_STRUCTURED.replace(
        b'<templateId root="1.2.250.1.213.1.1.1.1"/>',
        b'<templateId root="1.2.250.1.213.1.1.1.1"/><templateId root="1.2.250.1.213.1.1.1.37"/>',
    )
    assert check("application/xml", data).format_code == "urn:asip:ci-sis:vac:2019"


@pytest.mark.parametrize(
    ("media_type", "payload", "format_code"),
    [("image/jpeg", JPEG, FORMAT_JPEG), ("text/plain", TEXT, FORMAT_TEXT)],
)
def test_cda_level1_takes_the_format_code_of_its_body(
    media_type: str, payload: bytes, format_code: str
) -> None:
    """ANS ASS_A12: the nonXMLBody mediaType gives the formatCode."""
    content = check("application/xml", cda_level1(media_type, payload))
    assert (content.kind, content.format_code) == ("cda-level1", format_code)


def test_cda_with_a_stylesheet_instruction_is_accepted() -> None:
    data = CDA_LEVEL1.replace(
        b"?>\n", b'?>\n<?xml-stylesheet type="text/xsl" href="cda.xsl"?>\n', 1
    )
    assert check("application/xml", data).kind == "cda-level1"


# --- size and declared type -------------------------------------------------------------


@pytest.mark.parametrize("mime", SUPPORTED_MIME_TYPES)
def test_r6_empty_content_is_refused(mime: str) -> None:
    assert refusal(mime, b"").code == "CONTENT_EMPTY"


def test_r6_content_one_byte_over_the_limit_is_refused_and_the_limit_accepted() -> None:
    error = refusal("application/pdf", PDF, max_size=len(PDF) - 1)
    assert error.code == "CONTENT_TOO_LARGE"
    assert str(len(PDF) - 1) in error.message
    assert check("application/pdf", PDF, max_size=len(PDF)).size == len(PDF)


@pytest.mark.parametrize(
    "mime",
    ["application/msword", "image/gif", "text/html", "", "pdf", "text/plain; charset=latin-1"],
)
def test_r6_unsupported_declared_type_is_refused(mime: str) -> None:
    assert refusal(mime, TEXT).code == "CONTENT_TYPE_UNSUPPORTED"


# --- mismatch ------------------------------------------------------------------------


MISMATCHES = [
    (mime, family)
    for mime, declared_family in FAMILY_OF.items()
    for family in SAMPLES
    if family != declared_family and not (declared_family == "text" and family in ("xml", "json"))
]


@pytest.mark.parametrize(("mime", "family"), MISMATCHES)
def test_r6_bytes_of_another_type_than_declared_are_refused_naming_both(
    mime: str, family: str
) -> None:
    data, _, label = SAMPLES[family]
    error = refusal(mime, data)
    assert error.code == "CONTENT_TYPE_MISMATCH"
    assert label in error.message
    assert mime in error.message


def test_pdf_with_a_prefix_before_its_header_is_refused() -> None:
    """Readers allow 1024 bytes before %PDF-; polyglot files hide there, so we do not."""
    assert refusal("application/pdf", b"<html><script/>" + PDF).code == "CONTENT_TYPE_MISMATCH"
    assert refusal("application/pdf", b"\x00\x01" + PDF).code == "CONTENT_INVALID"


def test_unknown_binary_declared_as_an_image_is_invalid() -> None:
    assert refusal("image/png", b"\x00\x01\x02\xff").code == "CONTENT_INVALID"


# --- truncated and corrupt ------------------------------------------------------------


@pytest.mark.parametrize(
    ("mime", "data"),
    [
        ("application/pdf", PDF[: PDF.rindex(b"%%EOF")]),
        ("application/pdf", PDF[: len(PDF) // 2]),
        ("image/png", PNG[:-12]),  # no IEND
        ("image/png", PNG[:40]),  # cut inside a chunk
        ("image/png", PNG[:8]),  # the signature alone
        ("image/jpeg", JPEG[:-2]),  # no EOI
    ],
)
def test_truncated_files_are_refused(mime: str, data: bytes) -> None:
    assert refusal(mime, data).code == "CONTENT_TRUNCATED"


@pytest.mark.parametrize(
    "data",
    [
        PNG + b"<script>alert(1)</script>",  # bytes after IEND
        PNG[:20] + bytes([PNG[20] ^ 0xFF]) + PNG[21:],  # IHDR corrupted: CRC fails
        PNG[:12] + b"IDAT" + PNG[16:],  # first chunk is not IHDR
    ],
)
def test_corrupt_png_is_refused(data: bytes) -> None:
    assert refusal("image/png", data).code == "CONTENT_INVALID"


# --- text ------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"caf\xe9 cr\xe8me", b"ok\x00hidden", b"\xff\xfeh\x00i\x00"])
def test_text_must_be_utf8_without_nul(data: bytes) -> None:
    assert refusal("text/plain", data).code == "CONTENT_INVALID"


# --- hostile XML ----------------------------------------------------------------------


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Recorder.hits.append(self.path)
        body = b'<!ENTITY leak "fetched">'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


@pytest.fixture(scope="module")
def listener() -> Iterator[str]:
    """A real HTTP server on loopback: the XML below points at it; it must hear nothing."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


CDA_OPEN = '<ClinicalDocument xmlns="urn:hl7-org:v3">'
HOSTILE = {
    "xxe-file": '<!DOCTYPE ClinicalDocument [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    f"{CDA_OPEN}<title>&x;</title></ClinicalDocument>",
    "xxe-http": '<!DOCTYPE ClinicalDocument [<!ENTITY x SYSTEM "{url}/xxe">]>'
    f"{CDA_OPEN}<title>&x;</title></ClinicalDocument>",
    "billion-laughs": "<!DOCTYPE ClinicalDocument ["
    + '<!ENTITY a "lol">'
    + "".join(
        f'<!ENTITY {b} "{("&" + a + ";") * 10}">'
        for a, b in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + f"]>{CDA_OPEN}<title>&i;</title></ClinicalDocument>",
    "external-dtd": '<!DOCTYPE ClinicalDocument SYSTEM "{url}/cda.dtd">'
    f"{CDA_OPEN}</ClinicalDocument>",
    "public-dtd": '<!DOCTYPE ClinicalDocument PUBLIC "-//HL7//DTD CDA//EN" "{url}/public.dtd">'
    f"{CDA_OPEN}</ClinicalDocument>",
    "parameter-entity": '<!DOCTYPE ClinicalDocument [<!ENTITY % p SYSTEM "{url}/p.dtd"> %p;]>'
    f"{CDA_OPEN}<title>&leak;</title></ClinicalDocument>",
    "empty-internal-dtd": f"<!DOCTYPE ClinicalDocument []>{CDA_OPEN}</ClinicalDocument>",
}


def test_the_listener_would_hear_a_fetch(listener: str) -> None:
    """Guards the test below: if XML did fetch, the listener would record it."""
    with urllib.request.urlopen(f"{listener}/probe") as response:  # noqa: S310 - loopback
        assert response.status == 200
    assert "/probe" in _Recorder.hits


@pytest.mark.parametrize("name", sorted(HOSTILE))
@pytest.mark.parametrize("mime", ["application/xml", "text/xml"])
def test_xml_with_dtd_or_entities_is_forbidden_and_nothing_is_fetched(
    name: str, mime: str, listener: str
) -> None:
    before = list(_Recorder.hits)
    data = ('<?xml version="1.0"?>\n' + HOSTILE[name].replace("{url}", listener)).encode()
    error = refusal(mime, data)
    assert error.code == "XML_FORBIDDEN"
    assert "root:" not in error.message
    assert _Recorder.hits == before


# --- XML that is not a CDA -------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b'<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>',
        b"<ClinicalDocument><component><nonXMLBody/></component></ClinicalDocument>",  # no ns
        f"{CDA_OPEN}</ClinicalDocument>".encode(),  # no body
        f"{CDA_OPEN}<component><structuredBody/></component></ClinicalDocument>".encode(),
        f"{CDA_OPEN}<component><nonXMLBody><text>x</text></nonXMLBody></component>"
        "</ClinicalDocument>".encode(),  # not base64
        b"<ClinicalDocument xmlns='urn:hl7-org:v3'>",  # not well-formed
        b'<?xml version="1.0" encoding="x-unknown"?><a/>',
        b"  \n<?xml version='1.0'?><a/>",  # the XML declaration must come first
    ],
)
def test_xml_that_is_not_a_cda_document_is_invalid(data: bytes) -> None:
    assert refusal("application/xml", data).code == "CONTENT_INVALID"


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (PNG, "CONTENT_TYPE_MISMATCH"),  # declared application/pdf, holds a PNG
        (b"\x00\x01\x02", "CONTENT_INVALID"),
        (PDF[: PDF.rindex(b"%%EOF")], "CONTENT_TRUNCATED"),
    ],
)
def test_cda_level1_must_hold_the_pdf_it_declares(payload: bytes, code: str) -> None:
    error = refusal("application/xml", cda_level1("application/pdf", payload))
    assert error.code == code
    assert "embedded" in error.message


def test_cda_level1_body_must_be_base64_of_a_supported_media_type() -> None:
    assert refusal("application/xml", cda_level1("text/rtf", b"{\\rtf1}")).code == (
        "CONTENT_TYPE_UNSUPPORTED"
    )
    assert refusal("application/xml", cda_level1("application/pdf", PDF, "TXT")).code == (
        "CONTENT_INVALID"
    )
    assert refusal("application/xml", cda_level1("application/pdf", b"")).code == "CONTENT_EMPTY"


# --- JSON that is not a FHIR document ------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b'{"resourceType": "Bundle", "type": "collection", "entry": []}',
        b'{"resourceType": "Patient"}',
        b"[1, 2, 3]",
        b'{"resourceType": "Bundle", "type": "document"',  # cut short
        FHIR_DOCUMENT.replace(b'"Composition"', b'"Observation"'),
        FHIR_DOCUMENT.replace(b'"identifier": {', b'"ident": {', 1),
        b"[" * 100_000 + b"]" * 100_000,  # deeper than the parser's recursion
        b'{"resourceType": "Bundle", "type": "document", "n": 1' + b"0" * 5000 + b"}",
    ],
)
def test_json_that_is_not_a_fhir_document_bundle_is_invalid(data: bytes) -> None:
    assert refusal("application/fhir+json", data).code == "CONTENT_INVALID"


# --- property -------------------------------------------------------------------------

PREFIXES = [b"", b"%PDF-", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"<", b"{", CDA_OPEN.encode()]


@settings(max_examples=300, deadline=None)
@given(
    mime=st.sampled_from([*SUPPORTED_MIME_TYPES, "image/gif", "text/plain; charset=x"]),
    prefix=st.sampled_from(PREFIXES),
    data=st.binary(max_size=300),
    max_size=st.integers(min_value=1, max_value=400),
)
def test_any_bytes_either_pass_or_raise_invalid_input(
    mime: str, prefix: bytes, data: bytes, max_size: int
) -> None:
    try:
        content = check_content(mime, prefix + data, max_size=max_size, field="content")
    except InvalidInput as error:
        field = error.field
    else:
        assert content.size == len(prefix + data) <= max_size
        field = "content"
    assert field == "content"
