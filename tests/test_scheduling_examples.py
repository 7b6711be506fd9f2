"""Scheduled and triggered examples compile to their golden multi-document manifests.

An example whose flow has a schedule or triggers is checked here, as ``compile --kind all``
emits it (WorkflowTemplate, CronWorkflow, Sensor, WorkflowEventBindings); tests/test_examples.py
checks the others.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from flowdsl._cron import compile_documents
from flowdsl._target import load_flow
from flowdsl.emit import to_yaml
from flowdsl.schema import binding_schema_errors, sensor_schema_errors

from argo_oracle import assert_valid_argo
from conftest import ROOT, check_golden


def _scheduled(path: Path) -> bool:
    options = load_flow(str(path.relative_to(ROOT))).flow_options
    return options.schedule is not None or bool(options.triggers)


EXAMPLES = [p for p in sorted((ROOT / "examples").glob("*.py")) if _scheduled(p)]


def normalised(doc: dict[str, Any]) -> dict[str, Any]:
    """By-value payloads embed bytecode and absolute paths: keep their header only."""
    doc = copy.deepcopy(doc)
    spec = doc.get("spec") or {}
    for template in (spec.get("workflowSpec") or spec).get("templates") or []:
        script = template.get("script")
        if script and script.get("source", "").startswith("# flowdsl task payload"):
            lines = script["source"].splitlines()
            header = [line for line in lines[:3] if line.startswith("# f")]
            script["source"] = "\n".join([*header, "<cloudpickle payload>"]) + "\n"
    return doc


def assert_valid(doc: dict[str, Any]) -> None:
    """Each kind against its oracle: Argo's schema and rules, or Argo Events' schema."""
    if doc["kind"] == "Sensor":
        assert sensor_schema_errors(doc) == []
    elif doc["kind"] == "WorkflowEventBinding":
        assert binding_schema_errors(doc) == []
    else:
        assert_valid_argo(doc)


def test_there_are_scheduled_examples() -> None:
    """The examples of issue 7 are found (a rename would otherwise skip them silently)."""
    assert {p.stem for p in EXAMPLES} >= {"nightly", "retrain_on_data"}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_matches_golden(path: Path) -> None:
    """examples/NAME.py compiles (--kind all) to examples/NAME.yaml (FLOWDSL_REGEN=1 rewrites)."""
    docs = compile_documents(load_flow(str(path.relative_to(ROOT))), "all")
    for doc in docs:
        assert_valid(doc)
    check_golden(path.with_suffix(".yaml"), to_yaml([normalised(d) for d in docs]))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_golden_is_valid(path: Path) -> None:
    """The golden documents themselves (what readers see) are valid."""
    for doc in yaml.safe_load_all(path.with_suffix(".yaml").read_text()):
        assert_valid(doc)
