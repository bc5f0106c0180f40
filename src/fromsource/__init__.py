"""fromsource: build Python wheels from source under signed provenance."""

__version__ = "0.1.0"
