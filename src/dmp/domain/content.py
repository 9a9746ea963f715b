"""What a document's bytes are, checked before anything is stored (RULES R6).

R6: a document carries its format, MIME type, size and hash. The publisher declares the
MIME type; the bytes must be what it says, whole, and safe to parse:

    declared type                    bytes must be                         kind
    application/pdf                  %PDF- at byte 0, %%EOF at the end     pdf
    application/xml, text/xml        a CDA R2 ClinicalDocument with a      cda-level1 (nonXMLBody)
                                     nonXMLBody or a structuredBody        cda-structured
    application/fhir+json            a FHIR Bundle of type "document"      fhir-document
    text/plain                       UTF-8 without NUL                     text
    image/jpeg, image/png            a whole JPEG (SOI…EOI) / PNG (…IEND)  jpeg, png

CDA is declared application/xml by the DMP's FHIR guide (ansforge/IG-FHIR-PDSM4DMP-EEDS,
the TD2 and annex examples); text/xml, the media type of XDS-era DMP software, is also
accepted (unconfirmed that the DMP still sees it; harmless, it names the same thing).

XML is parsed by defusedxml with every DTD, entity declaration and external reference
refused (XML_FORBIDDEN): no XXE, no entity expansion, nothing is ever fetched.

Format codes (XDS formatCode, JDV_J60-FormatCode-DMP / JDV_J10-XdsFormatCode-CISIS):
- PDF, text, JPEG: the IHE/ANS codes for a body in that media type (TRE_A11-IheFormatCode);
  a CDA level 1 takes the code of its nonXMLBody's mediaType (ANS table
  ASS_A12-CorresMediaTypeCDANonStructure-XdsFormatCode-CISIS);
- a structured CDA takes the code of its CI-SIS model (templateId; ANS table
  ASS_A11-CorresModeleCDA-XdsFormatCode-CISIS, the models dmp knows are in content_formats),
  else "urn:asipSante:modelesHorsProfils:2011" (document not referenced by IHE or CI-SIS);
- PNG and FHIR documents have no specific code: "urn:ihe:iti:xds:2017:mimeTypeSufficient",
  as the DMP's FHIR guide does for its FHIR document example.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from dmp.domain.content_formats import (
    FORMAT_JPEG,
    FORMAT_MIME_SUFFICIENT,
    FORMAT_PDF,
    FORMAT_TEXT,
    check_cda,
    check_fhir_document,
)
from dmp.domain.errors import InvalidInput

SUPPORTED_MIME_TYPES = (
    "application/pdf",
    "application/xml",
    "text/xml",
    "application/fhir+json",
    "text/plain",
    "image/jpeg",
    "image/png",
)

# What the bytes of each declared type must sniff as.
_FAMILY = {
    "application/pdf": "pdf",
    "application/xml": "xml",
    "text/xml": "xml",
    "application/fhir+json": "json",
    "text/plain": "text",
    "image/jpeg": "jpeg",
    "image/png": "png",
}
_LABELS = {
    "pdf": "a PDF document (application/pdf)",
    "png": "a PNG image (image/png)",
    "jpeg": "a JPEG image (image/jpeg)",
    "xml": "XML",
    "json": "JSON",
    "text": "plain text",
}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"IEND"
_JPEG_SOI = b"\xff\xd8\xff"
_JPEG_EOI = b"\xff\xd9"
# Only XML, JSON and text may start with a UTF-8 byte order mark or blank space.
_LEADING_BLANK = re.compile(rb"(?:\xef\xbb\xbf)?[ \t\r\n]*")
# ISO 32000-1 §7.5.5: a reader looks for %%EOF within the last 1024 bytes.
_PDF_EOF_WINDOW = 1024


@dataclass(frozen=True, slots=True)
class Content:
    """Checked bytes: normalised MIME type, XDS format code, size, SHA-256 (hex), kind."""

    mime_type: str
    format_code: str
    size: int
    sha256: str
    kind: str  # pdf, cda-level1, cda-structured, fhir-document, text, jpeg, png


def check_content(declared_mime: str, data: bytes, *, max_size: int, field: str) -> Content:
    """The checked content, or InvalidInput naming `field` (RULES R6).

    Codes: CONTENT_TYPE_UNSUPPORTED, CONTENT_EMPTY, CONTENT_TOO_LARGE,
    CONTENT_TYPE_MISMATCH, CONTENT_TRUNCATED, CONTENT_INVALID, XML_FORBIDDEN.
    """
    mime = _declared_type(declared_mime, field)
    if not data:
        raise InvalidInput("CONTENT_EMPTY", "the document is empty (0 bytes)", field)
    if len(data) > max_size:
        raise InvalidInput(
            "CONTENT_TOO_LARGE",
            f"the document is {len(data)} bytes; the limit is {max_size} bytes",
            field,
        )
    kind, format_code = check_bytes(mime, data, field)
    return Content(mime, format_code, len(data), hashlib.sha256(data).hexdigest(), kind)


def check_bytes(mime: str, data: bytes, field: str) -> tuple[str, str]:
    """(kind, format code) of non-empty bytes declared as `mime`, a supported type."""
    family = _FAMILY[mime]
    _check_family(mime, family, data, field)
    return _CHECKS[family](data, field)


def _declared_type(declared: object, field: str) -> str:
    """The MIME type without parameters, lower case; only UTF-8 if a charset is given."""
    text = declared if isinstance(declared, str) else ""
    base, _, parameters = text.partition(";")
    mime = base.strip().lower()
    if mime not in _FAMILY:
        raise InvalidInput(
            "CONTENT_TYPE_UNSUPPORTED",
            f"{text[:60]!r} is not an accepted type; accepted: {', '.join(SUPPORTED_MIME_TYPES)}",
            field,
        )
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        charset = value.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in ("utf-8", "utf8"):
            raise InvalidInput(
                "CONTENT_TYPE_UNSUPPORTED",
                f"charset {value.strip()[:40]!r} is not accepted; documents are UTF-8",
                field,
            )
    return mime


def _sniff(data: bytes) -> str | None:
    """What the bytes look like: pdf, png, jpeg, xml, json, text, or None (unknown binary)."""
    # Binary formats must start at byte 0 (see _check_pdf for why PDF gets no slack).
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(_PNG_SIGNATURE):
        return "png"
    if data.startswith(_JPEG_SOI):
        return "jpeg"
    blank = _LEADING_BLANK.match(data)
    offset = blank.end() if blank else 0
    first = data[offset : offset + 1]
    if first == b"<":
        return "xml"
    if first in (b"{", b"["):
        return "json"
    return "text" if _is_text(data) else None


def _is_text(data: bytes) -> bool:
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in data


def _check_family(mime: str, family: str, data: bytes, field: str) -> None:
    found = _sniff(data)
    # Plain text may hold anything textual, XML and JSON included; binaries may not.
    if found == family or (family == "text" and found in ("xml", "json", None)):
        return
    if found is None:
        raise InvalidInput(
            "CONTENT_INVALID", f"the bytes are not {_LABELS[family]} as {mime} declares", field
        )
    raise InvalidInput(
        "CONTENT_TYPE_MISMATCH",
        f"the bytes are {_LABELS[found]} but {mime} was declared",
        field,
    )


def _check_pdf(data: bytes, field: str) -> tuple[str, str]:
    """A whole PDF: %PDF- at byte 0 (already sniffed), %%EOF in the last 1024 bytes.

    Readers tolerate up to 1024 bytes of anything before %PDF-, but we do not: that slack
    is what polyglot files use (bytes that are both an HTML page or a script and a PDF)
    to get past type checks, and PDF/A (ISO 19005, the DMP's urn:ihe:iti:xds-sd:pdf:2008)
    requires the header at byte 0 anyway.
    """
    if b"%%EOF" not in data[-_PDF_EOF_WINDOW:]:
        raise InvalidInput(
            "CONTENT_TRUNCATED",
            "the PDF has no %%EOF marker in its last 1024 bytes: it is cut short",
            field,
        )
    return "pdf", FORMAT_PDF


def _check_png(data: bytes, field: str) -> tuple[str, str]:
    """A whole PNG: IHDR first, every chunk complete with a good CRC, IEND last."""
    position = len(_PNG_SIGNATURE)
    first = True
    while True:
        header = data[position : position + 8]
        if len(header) < 8:
            raise InvalidInput("CONTENT_TRUNCATED", "the PNG ends before its IEND chunk", field)
        length = int.from_bytes(header[:4], "big")
        chunk_type = header[4:]
        end = position + 12 + length
        if first and chunk_type != b"IHDR":
            raise InvalidInput("CONTENT_INVALID", "the PNG does not start with IHDR", field)
        if end > len(data):
            raise InvalidInput("CONTENT_TRUNCATED", "the PNG ends inside a chunk", field)
        crc = int.from_bytes(data[end - 4 : end], "big")
        if zlib.crc32(data[position + 4 : end - 4]) != crc:
            raise InvalidInput(
                "CONTENT_INVALID", f"the PNG's {chunk_type!r} chunk is corrupt (CRC)", field
            )
        if chunk_type == _PNG_END:
            if end != len(data):
                # Bytes after IEND are how files smuggle a second format: refused.
                raise InvalidInput("CONTENT_INVALID", "the PNG has bytes after IEND", field)
            return "png", FORMAT_MIME_SUFFICIENT
        position, first = end, False


def _check_jpeg(data: bytes, field: str) -> tuple[str, str]:
    """A whole JPEG: SOI at byte 0 (already sniffed), EOI as the last two bytes."""
    if not data.endswith(_JPEG_EOI):
        raise InvalidInput(
            "CONTENT_TRUNCATED", "the JPEG does not end with its EOI marker (FFD9)", field
        )
    return "jpeg", FORMAT_JPEG


def _check_text(data: bytes, field: str) -> tuple[str, str]:
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            "CONTENT_INVALID", f"the text is not valid UTF-8 (byte {exc.start})", field
        ) from None
    if b"\x00" in data:
        raise InvalidInput("CONTENT_INVALID", "the text contains a NUL character", field)
    return "text", FORMAT_TEXT


def _check_xml(data: bytes, field: str) -> tuple[str, str]:
    return check_cda(data, field, check_bytes)


def _check_json(data: bytes, field: str) -> tuple[str, str]:
    return check_fhir_document(data, field)


_CHECKS: dict[str, Callable[[bytes, str], tuple[str, str]]] = {
    "pdf": _check_pdf,
    "png": _check_png,
    "jpeg": _check_jpeg,
    "text": _check_text,
    "xml": _check_xml,
    "json": _check_json,
}
