"""FHIR R4 for practice software (IHE MHD as profiled by the French DMP, PDSm4DMP)."""
