"""HTTP API: JSON for records and statistics (FHIR R4 / IHE MHD comes with documents)."""
