"""Attestations: keys, in-toto Statements, DSSE envelopes, SLSA provenance."""
