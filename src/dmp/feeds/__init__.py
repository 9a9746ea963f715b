"""Batch imports: pure streaming parsers and runners that feed services in batches."""
