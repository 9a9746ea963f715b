"""The bytes of synthetic documents, in every format the DMP accepts (see documents.py).

    make_pdf                   a one-page PDF 1.4 a real reader opens; pad_to for big files
    make_cda_level1            CDA R2 with the PDF in a nonXMLBody (base64)
    make_cda_structured        CDA R2 with a structuredBody of sections
    make_fhir_document_bundle  a FHIR R4 Bundle of type "document" (Composition first)
    make_png, make_jpeg        valid images, built with zlib and by hand (no Pillow)

Deterministic: the same arguments give the same bytes (no clock, no global randomness).
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import textwrap
import uuid
import zlib
from collections.abc import Sequence
from datetime import datetime
from xml.sax.saxutils import escape, quoteattr

_PDF_LINES_PER_PAGE = 48  # 10 pt Helvetica, 14 pt leading, on A4 below the title
_PDF_COLUMNS = 95


def make_pdf(title: str, lines: list[str], *, pad_to: int | None = None) -> bytes:
    """A one-page A4 PDF 1.4 showing `title` and `lines` (wrapped; past one page, cut).

    `pad_to` grows the file to that many bytes with an unreferenced FlateDecode stream of
    random bytes: it looks like (and is) compressed data, renders as nothing, and is
    seeded by the text, so a 50 KB benchmark PDF is the same file every run.
    """
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842]"
        b" /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        _pdf_stream(_page_content(title, lines)),
        b"<< /Title " + _pdf_text(title) + b" /Producer (dmp synthetic documents) >>",
    ]
    pdf = _pdf_file(objects)
    if pad_to is None or pad_to <= len(pdf):
        return pdf
    noise = random.Random(hashlib.sha256(pdf).digest())
    size = pad_to - len(pdf)
    for _ in range(4):  # the /Length digits and deflate's block headers shift it a little
        padding = zlib.compress(noise.randbytes(max(size, 0)), 0)
        padded = _pdf_file([*objects, _pdf_stream(padding, b" /Filter /FlateDecode")])
        if len(padded) == pad_to or size <= 0:
            break
        size += pad_to - len(padded)
    return padded


def _pdf_text(text: str) -> bytes:
    """A PDF literal string in WinAnsi (cp1252), ASCII-only thanks to octal escapes."""
    out = bytearray(b"(")
    for byte in text.encode("cp1252", errors="replace"):
        if byte in b"()\\":
            out += b"\\" + bytes([byte])
        elif 32 <= byte < 127:
            out.append(byte)
        else:
            out += b"\\%03o" % byte
    return bytes(out + b")")


def _page_content(title: str, lines: list[str]) -> bytes:
    wrapped = [part for line in lines for part in (textwrap.wrap(line, _PDF_COLUMNS) or [""])][
        :_PDF_LINES_PER_PAGE
    ]
    body = b" T* ".join(_pdf_text(line) + b" Tj" for line in wrapped)
    return (
        b"BT /F1 16 Tf 56 780 Td " + _pdf_text(title) + b" Tj ET\n"
        b"BT /F1 10 Tf 14 TL 56 750 Td " + body + b" ET\n"
    )


def _pdf_stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d%s >>\nstream\n%s\nendstream" % (len(data), extra, data)


def _pdf_file(objects: Sequence[bytes]) -> bytes:
    """Header, numbered objects, a cross-reference table with exact offsets, trailer."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")  # binary comment: "this file is binary"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError("document times must be timezone-aware")
    return when


def _hl7_time(when: datetime) -> str:
    return _aware(when).strftime("%Y%m%d%H%M%S%z")


def _uuid(*parts: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, "dmp-synthetic:" + "|".join(parts))


def _cda(
    body: str,
    templates: Sequence[str],
    *,
    ins: str,
    title: str,
    loinc: str,
    author_rpps: str,
    when: datetime,
) -> bytes:
    """A CDA R2 header in the CI-SIS way (INS as NIR, author as 8 + RPPS) around `body`."""
    time = _hl7_time(when)
    document_id = f"2.25.{_uuid(ins, loinc, time, title, body[:200]).int}"  # UUID as an OID
    template_ids = "".join(f'\n  <templateId root="{t}"/>' for t in templates)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3">
  <realmCode code="FR"/>
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>{template_ids}
  <id root="{document_id}"/>
  <code code={quoteattr(loinc)} codeSystem="2.16.840.1.113883.6.1" displayName={quoteattr(title)}/>
  <title>{escape(title)}</title>
  <effectiveTime value="{time}"/>
  <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
  <languageCode code="fr-FR"/>
  <recordTarget><patientRole>
    <id root="1.2.250.1.213.1.4.8" extension={quoteattr(ins)}/>
  </patientRole></recordTarget>
  <author><time value="{time}"/><assignedAuthor>
    <id root="1.2.250.1.71.4.2.1" extension={quoteattr("8" + author_rpps)}/>
  </assignedAuthor></author>
  <custodian><assignedCustodian><representedCustodianOrganization>
    <id nullFlavor="UNK"/>
  </representedCustodianOrganization></assignedCustodian></custodian>
  <component>{body}</component>
</ClinicalDocument>
""".encode()


_CISIS_HEADER = "1.2.250.1.213.1.1.1.1"  # CI-SIS: structuration minimale des documents
_IHE_XDS_SD = "1.3.6.1.4.1.19376.1.2.20"  # IHE XDS-SD: scanned/unstructured document


def make_cda_level1(
    pdf: bytes, *, ins: str, title: str, loinc: str, author_rpps: str, when: datetime
) -> bytes:
    """A CDA R2 level 1 document: the PDF, base64, in a nonXMLBody (CI-SIS "N1")."""
    encoded = base64.encodebytes(pdf).decode("ascii")  # lines of 76 characters
    body = (
        '\n    <nonXMLBody><text mediaType="application/pdf" representation="B64">\n'
        f"{encoded}</text></nonXMLBody>\n  "
    )
    return _cda(
        body,
        (_CISIS_HEADER, _IHE_XDS_SD),
        ins=ins,
        title=title,
        loinc=loinc,
        author_rpps=author_rpps,
        when=when,
    )


def make_cda_structured(
    *,
    ins: str,
    title: str,
    loinc: str,
    author_rpps: str,
    when: datetime,
    sections: Sequence[tuple[str, Sequence[str]]] = (("Commentaire", ("Sans particularité.",)),),
) -> bytes:
    """A CDA R2 document with a structuredBody: one section per (title, paragraphs).

    It claims no CI-SIS content model, so its format code is "modelesHorsProfils".
    """
    parts = []
    for section_title, paragraphs in sections:
        text = "".join(f"<paragraph>{escape(p)}</paragraph>" for p in paragraphs)
        parts.append(
            f"\n      <component><section><title>{escape(section_title)}</title>"
            f"<text>{text}</text></section></component>"
        )
    body = f"\n    <structuredBody>{''.join(parts)}\n    </structuredBody>\n  "
    return _cda(
        body,
        (_CISIS_HEADER,),
        ins=ins,
        title=title,
        loinc=loinc,
        author_rpps=author_rpps,
        when=when,
    )


def make_fhir_document_bundle(
    *,
    ins: str,
    title: str,
    loinc: str,
    author_rpps: str,
    when: datetime,
    sections: Sequence[tuple[str, Sequence[str]]] = (("Commentaire", ("Sans particularité.",)),),
) -> bytes:
    """A FHIR R4 document: Bundle(type=document) with the Composition first, then the
    Patient (INS as NIR) and the Practitioner (8 + RPPS) it refers to."""
    stamp = _aware(when).isoformat()
    key = (ins, loinc, stamp, title)
    composition, patient, author = (f"urn:uuid:{_uuid(*key, part)}" for part in "CPA")
    section_list = [
        {
            "title": section_title,
            "text": {
                "status": "generated",
                "div": '<div xmlns="http://www.w3.org/1999/xhtml">'
                + "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
                + "</div>",
            },
        }
        for section_title, paragraphs in sections
    ]
    bundle = {
        "resourceType": "Bundle",
        "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{_uuid(*key)}"},
        "type": "document",
        "timestamp": stamp,
        "entry": [
            {
                "fullUrl": composition,
                "resource": {
                    "resourceType": "Composition",
                    "status": "final",
                    "type": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
                    "subject": {"reference": patient},
                    "date": stamp,
                    "author": [{"reference": author}],
                    "title": title,
                    "section": section_list,
                },
            },
            {
                "fullUrl": patient,
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [{"system": "urn:oid:1.2.250.1.213.1.4.8", "value": ins}],
                },
            },
            {
                "fullUrl": author,
                "resource": {
                    "resourceType": "Practitioner",
                    "identifier": [
                        {"system": "urn:oid:1.2.250.1.71.4.2.1", "value": "8" + author_rpps}
                    ],
                },
            },
        ],
    }
    return json.dumps(bundle, ensure_ascii=False, indent=1).encode("utf-8")


def make_png(width: int, height: int) -> bytes:
    """An 8-bit RGB PNG of a colour gradient, `width` × `height` pixels."""
    if width < 1 or height < 1:
        raise ValueError("a PNG needs at least one pixel")
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter type 0 (none) for each scanline
        blue = 255 * y // max(height - 1, 1)
        for x in range(width):
            rows += bytes((255 * x // max(width - 1, 1), 160, blue))
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes((8, 2, 0, 0, 0))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + _png_chunk(b"IEND", b"")
    )


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def make_jpeg() -> bytes:
    """A baseline JPEG of one 8×8 grey block, written marker by marker.

    Every coefficient is zero, so each Huffman table needs one symbol: DC category 0
    and AC end-of-block, both coded "0"; the scan is "00" padded with ones (0x3F).
    """
    jfif = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    quantisation = b"\x00" + b"\x01" * 64  # table 0, 8-bit, all ones
    frame = b"\x08\x00\x08\x00\x08\x01\x01\x11\x00"  # 8-bit, 8×8, 1 component, table 0
    one_code = b"\x01" + b"\x00" * 15 + b"\x00"  # one code of length 1, for symbol 0x00
    scan = b"\x01\x01\x00\x00\x3f\x00"  # component 1, tables 0/0, spectral 0–63
    return (
        b"\xff\xd8"
        + _jpeg_segment(b"\xe0", jfif)
        + _jpeg_segment(b"\xdb", quantisation)
        + _jpeg_segment(b"\xc0", frame)
        + _jpeg_segment(b"\xc4", b"\x00" + one_code)  # DC table 0
        + _jpeg_segment(b"\xc4", b"\x10" + one_code)  # AC table 0
        + _jpeg_segment(b"\xda", scan)
        + b"\x3f"
        + b"\xff\xd9"
    )


def _jpeg_segment(marker: bytes, payload: bytes) -> bytes:
    return b"\xff" + marker + (len(payload) + 2).to_bytes(2, "big") + payload
