"""Shared test support: golden files and a place for throwaway flow modules."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"

#: Set FLOWDSL_REGEN=1 to rewrite golden files from the current output (then review the diff).
REGEN = os.environ.get("FLOWDSL_REGEN") == "1"


def check_golden(path: Path, actual: str) -> None:
    """Compare ``actual`` with the golden file at ``path`` (rewritten when FLOWDSL_REGEN=1)."""
    if REGEN or not path.exists():
        if not REGEN:
            pytest.fail(f"golden file {path} is missing; run with FLOWDSL_REGEN=1 to create it")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"output differs from {path} (FLOWDSL_REGEN=1 rewrites it)"
