"""The identifier and code systems the FHIR API speaks (French DMP, PDSm4DMP).

Sources: the DMP's FHIR guide (ansforge/IG-FHIR-PDSM4DMP-EEDS, annex on identifiers)
and the ANS terminologies (TRE_*), cited per line.
"""

from __future__ import annotations

INS_NIR = "urn:oid:1.2.250.1.213.1.4.8"  # RULES R1: the person's own NIR
INS_NIA = "urn:oid:1.2.250.1.213.1.4.9"  # RULES R1: NIA (identifier waiting for a NIR)
INS_SYSTEMS = (INS_NIR, INS_NIA)
RPPS = "urn:oid:1.2.250.1.71.4.2.1"  # IdNat_PS: national identifier of professionals
FINESS = "urn:oid:1.2.250.1.71.4.2.2"  # IdNat_Struct: FINESS of organisations
URI = "urn:ietf:rfc:3986"  # masterIdentifier and entry UUIDs as URIs (IHE MHD)
# Visibility codes MASQUE_PS, INVISIBLE_PATIENT, INVISIBLE_REP_LEGAUX (ANS "MetaDMPMSS"
# table); the OID of their code system is unconfirmed: TRE_A07 style OID kept here alone.
DMP_CONFIDENTIALITY = "urn:oid:1.2.250.1.213.1.1.4.13"
HL7_CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
IHE_FORMAT = "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode"
ANS_FORMAT = "urn:oid:1.2.250.1.213.1.1.4.2.282"  # TRE_A06-FormatCodeComplementaire
# dmp's own: the state a search may filter on (R21) and the SHA-256 of the bytes (R6).
DMP_DOCUMENT_STATE = "urn:dmp:fhir:document-state"
DMP_SHA256 = "urn:dmp:fhir:StructureDefinition:sha256"
DMP_RECORD_STATUS = "urn:dmp:fhir:StructureDefinition:record-status"


def format_system(code: str) -> str:
    """IHE codes (urn:ihe:…) have the IHE system; the ANS's CI-SIS codes their own."""
    return IHE_FORMAT if code.startswith("urn:ihe:") else ANS_FORMAT
