"""Use cases: load, decide (domain), change, commit, audit — one transaction each."""
