"""Structure checks of the structured formats, CDA R2 and FHIR documents, and the XDS
format codes (RULES R6). Used by domain/content.py, which sniffs and sizes first.

Format codes come from the ANS's terminologies (ansforge/IG-terminologie-de-sante):
JDV_J60-FormatCode-DMP lists those the DMP accepts; ASS_A12 maps a CDA level 1's
nonXMLBody mediaType to its code; ASS_A11 maps a structured CDA's model (templateId) to
its code; "urn:ihe:iti:xds:2017:mimeTypeSufficient" is IHE's code for "the MIME type says
it all", used by the DMP's FHIR guide for FHIR documents.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden
from defusedxml.ElementTree import fromstring

from dmp.domain.errors import InvalidInput

FORMAT_PDF = "urn:ihe:iti:xds-sd:pdf:2008"  # PDF/A-1 body (TRE_A11-IheFormatCode)
FORMAT_TEXT = "urn:ihe:iti:xds-sd:text:2008"  # plain text body (TRE_A11)
FORMAT_JPEG = "urn:ihe:iti-fr:xds-sd:jpeg:2010"  # JPEG body (TRE_A11, French extension)
FORMAT_MIME_SUFFICIENT = "urn:ihe:iti:xds:2017:mimeTypeSufficient"  # IHE ITI TF-3
FORMAT_CDA_UNREFERENCED = "urn:asipSante:modelesHorsProfils:2011"  # TRE_A06: no IHE/CI-SIS model

# ASS_A12: nonXMLBody/text/@mediaType -> formatCode. The table also has text/rtf and
# image/tiff; dmp cannot check those bytes, so they are refused rather than stored blind.
LEVEL1_FORMATS = {
    "application/pdf": FORMAT_PDF,
    "text/plain": FORMAT_TEXT,
    "image/jpeg": FORMAT_JPEG,
}

# ASS_A11 (the models dmp's document types use): CI-SIS model templateId -> formatCode.
CDA_MODEL_FORMATS = {
    "1.2.250.1.213.1.1.1.9": "urn:asip:ci-sis:idap:2011",  # directives anticipées
    "1.2.250.1.213.1.1.1.13": "urn:asip:ci-sis:vsm:2012",  # volet de synthèse médicale
    "1.2.250.1.213.1.1.1.21": "urn:asip:ci-sis:ldl-ees:2017",  # lettre de liaison, entrée
    "1.2.250.1.213.1.1.1.29": "urn:asip:ci-sis:ldl-ses:2017",  # lettre de liaison, sortie
    "1.2.250.1.213.1.1.1.36": "urn:asip:ci-sis:hr:2019",  # données de remboursement
    "1.2.250.1.213.1.1.1.37": "urn:asip:ci-sis:vac:2019",  # historique des vaccinations
    "1.2.250.1.213.1.1.1.39": "urn:ihe:pharm:pre:2010",  # prescription de médicaments
    "1.2.250.1.213.1.1.1.45": "urn:ihe:rad:CDA:ImagingReportStructuredHeadings:2013",
    "1.2.250.1.213.1.1.1.46": "urn:asip:ci-sis:vac-note:2021",  # note de vaccination
    "1.2.250.1.213.1.1.1.51": "urn:ihe:pcc:ips:2020",  # synthèse médicale (IPS)
    "1.2.250.1.213.1.1.1.54": "urn:ihe:pharm:dis:2010",  # dispensation
    "1.2.250.1.213.1.1.1.55": "urn:ihe:lab:xd-lab:2008",  # CR de biologie
    "1.2.250.1.213.1.1.1.57": "urn:ihe:palm:apsr:2016",  # CR d'anatomie pathologique
}

HL7 = "urn:hl7-org:v3"
_NS = {"hl7": HL7}

# How content.py checks an embedded document: (mime, bytes, field) -> (kind, format code).
EmbeddedCheck = Callable[[str, bytes, str], tuple[str, str]]


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _parse_xml(data: bytes, field: str) -> Element:
    """Parse with every DTD, entity and external reference refused: nothing is fetched."""
    try:
        return fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:  # a ValueError: must come first
        if isinstance(exc, DTDForbidden):
            what = "has a document type declaration (DTD)"
        elif isinstance(exc, EntitiesForbidden):
            what = "declares an entity"
        else:
            what = "refers to an external resource"
        raise InvalidInput(
            "XML_FORBIDDEN",
            f"the XML {what}; DTDs, entities and external references are refused",
            field,
        ) from None
    except (ParseError, LookupError, ValueError) as exc:  # LookupError: unknown encoding
        raise InvalidInput("CONTENT_INVALID", f"the XML is not well-formed: {exc}", field) from None


def check_cda(data: bytes, field: str, check_embedded: EmbeddedCheck) -> tuple[str, str]:
    """(kind, format code) of a CDA R2 document: level 1 (nonXMLBody) or structured."""
    root = _parse_xml(data, field)
    if root.tag != f"{{{HL7}}}ClinicalDocument":
        raise InvalidInput(
            "CONTENT_INVALID",
            f"the XML is not a CDA R2 document: its root is {_short(root.tag)}, "
            f"not ClinicalDocument in namespace {HL7}",
            field,
        )
    unstructured = root.findall("hl7:component/hl7:nonXMLBody", _NS)
    structured = root.findall("hl7:component/hl7:structuredBody", _NS)
    if len(unstructured) + len(structured) != 1:
        raise InvalidInput(
            "CONTENT_INVALID",
            "a CDA document needs one component with a nonXMLBody or a structuredBody",
            field,
        )
    if unstructured:
        return _check_level1(unstructured[0], field, check_embedded)
    if structured[0].find("hl7:component/hl7:section", _NS) is None:
        raise InvalidInput("CONTENT_INVALID", "the CDA structuredBody has no section", field)
    templates = (t.get("root", "") for t in root.findall("hl7:templateId", _NS))
    model = next((CDA_MODEL_FORMATS[t] for t in templates if t in CDA_MODEL_FORMATS), None)
    return "cda-structured", model or FORMAT_CDA_UNREFERENCED


def _check_level1(body: Element, field: str, check_embedded: EmbeddedCheck) -> tuple[str, str]:
    """A nonXMLBody holds the document itself in base64; it must be what it claims."""
    text = body.find("hl7:text", _NS)
    if text is None or text.get("representation") != "B64":
        raise InvalidInput(
            "CONTENT_INVALID",
            'the CDA nonXMLBody must hold its document in <text representation="B64">',
            field,
        )
    media = (text.get("mediaType") or "").strip().lower()
    if media not in LEVEL1_FORMATS:
        raise InvalidInput(
            "CONTENT_TYPE_UNSUPPORTED",
            f"a CDA nonXMLBody of mediaType {_short(media)} is not accepted; "
            f"accepted: {', '.join(LEVEL1_FORMATS)}",
            field,
        )
    try:
        payload = base64.b64decode("".join((text.text or "").split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(
            "CONTENT_INVALID", "the CDA nonXMLBody text is not valid base64", field
        ) from None
    if not payload:
        raise InvalidInput("CONTENT_EMPTY", "the CDA nonXMLBody holds no document", field)
    try:
        check_embedded(media, payload, field)
    except InvalidInput as exc:
        raise InvalidInput(exc.code, f"the CDA's embedded document: {exc.message}", field) from None
    return "cda-level1", LEVEL1_FORMATS[media]


def check_fhir_document(data: bytes, field: str) -> tuple[str, str]:
    """(kind, format code) of a FHIR document: a Bundle of type "document" whose first
    entry is the Composition, with an identifier and a timestamp (FHIR R4 bdl-9/10/11)."""
    try:
        bundle = json.loads(data.decode("utf-8-sig"))
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError included
        raise InvalidInput(
            "CONTENT_INVALID", "the content is not valid UTF-8 JSON", field
        ) from None
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise InvalidInput("CONTENT_INVALID", "the JSON is not a FHIR Bundle", field)
    if bundle.get("type") != "document":
        raise InvalidInput(
            "CONTENT_INVALID",
            f'the FHIR Bundle is of type {_short(bundle.get("type"))}, not "document"',
            field,
        )
    if not bundle.get("identifier") or not bundle.get("timestamp"):
        raise InvalidInput(
            "CONTENT_INVALID", "a FHIR document needs an identifier and a timestamp", field
        )
    entries = bundle.get("entry")
    first = entries[0] if isinstance(entries, list) and entries else None
    resource = first.get("resource") if isinstance(first, dict) else None
    if not isinstance(resource, dict) or resource.get("resourceType") != "Composition":
        raise InvalidInput(
            "CONTENT_INVALID", "a FHIR document's first entry must be its Composition", field
        )
    return "fhir-document", FORMAT_MIME_SUFFICIENT
