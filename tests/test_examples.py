"""Every example compiles to its golden manifest, which passes Argo's schema and rules."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from flowdsl import compile_dict
from flowdsl._target import load_flow
from flowdsl.emit import to_yaml

from argo_oracle import assert_valid_argo
from conftest import ROOT, check_golden

# Single-file examples, and project examples (a directory with its own pyproject.toml).
# Scheduled and triggered flows compile to several documents: tests/test_scheduling_examples.py
# checks those (nightly.py, retrain_on_data.py).
MULTI_DOCUMENT = {"nightly.py", "retrain_on_data.py"}
EXAMPLES = sorted(
    p
    for p in [*(ROOT / "examples").glob("*.py"), *(ROOT / "examples").glob("*/*.py")]
    if p.name not in MULTI_DOCUMENT
)


def normalised(doc: dict[str, Any]) -> dict[str, Any]:
    """By-value payloads embed the interpreter's bytecode and the file's absolute path:
    golden files keep their header (function, versions checked by the runtime) only."""
    doc = copy.deepcopy(doc)
    for template in doc["spec"].get("templates", []):
        script = template.get("script")
        if script and script.get("source", "").startswith("# flowdsl task payload"):
            lines = script["source"].splitlines()
            header = [line for line in lines[:3] if line.startswith("# f")]
            script["source"] = "\n".join([*header, "<cloudpickle payload>"]) + "\n"
    return doc


@pytest.mark.parametrize(
    "path", EXAMPLES, ids=[str(p.relative_to(ROOT / "examples")) for p in EXAMPLES]
)
def test_example_matches_golden(path: Path) -> None:
    """examples/NAME.py compiles to examples/NAME.yaml (FLOWDSL_REGEN=1 rewrites)."""
    doc = compile_dict(load_flow(str(path.relative_to(ROOT))))
    assert_valid_argo(doc)
    check_golden(path.with_suffix(".yaml"), to_yaml(normalised(doc)))


@pytest.mark.parametrize(
    "path", EXAMPLES, ids=[str(p.relative_to(ROOT / "examples")) for p in EXAMPLES]
)
def test_golden_is_valid_argo(path: Path) -> None:
    """The golden manifests themselves (what readers see) are valid Argo."""
    assert_valid_argo(yaml.safe_load(path.with_suffix(".yaml").read_text()))
