"""The package version, kept in one place (read by pyproject and by by-value payloads)."""

__version__ = "0.1.0"
