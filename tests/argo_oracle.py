"""The two Argo oracles as one test assertion.

Every test that produces a manifest checks it with::

    from argo_oracle import assert_valid_argo

    assert_valid_argo(manifest)

which runs Argo's JSON schema in strict mode (:func:`flowdsl.schema.schema_errors`) and
Argo's semantic rules (:func:`flowdsl.lint.problems`), and fails with every problem of both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowdsl._template_defaults import merge_template_defaults
from flowdsl.lint import problems
from flowdsl.schema import schema_errors

__all__ = ["argo_problems", "assert_valid_argo", "templates_as_run"]


def argo_problems(doc: Mapping[str, Any]) -> list[str]:
    """Every schema error and lint problem of ``doc``, one line each.

    Schema lines read ``schema <path>: <message>``, lint lines ``lint [<rule>] <path>: <message>``.
    """
    lines = [f"schema {error}" for error in schema_errors(doc)]
    lines.extend(f"lint [{p.rule}] {p.path or '<root>'}: {p.message}" for p in problems(doc))
    return lines


def assert_valid_argo(doc: Mapping[str, Any]) -> None:
    """Fail unless ``doc`` passes Argo's strict schema and flowdsl's lint of Argo's rules.

    Raises:
        AssertionError: listing every schema error and lint problem (the test's failure).
    """
    lines = argo_problems(doc)
    if lines:
        kind = doc.get("kind", "?") if isinstance(doc, Mapping) else "?"
        metadata = doc.get("metadata") if isinstance(doc, Mapping) else None
        name = "?"
        if isinstance(metadata, Mapping):
            name = str(metadata.get("name") or metadata.get("generateName") or "?")
        listing = "\n  ".join(lines)
        raise AssertionError(f"{kind} {name!r} is not valid Argo ({len(lines)}):\n  {listing}")


def templates_as_run(doc: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The templates of ``doc`` by name, each merged with ``spec.templateDefaults`` as Argo's
    controller merges them before running it: what each pod really gets."""
    spec = doc["spec"]
    spec = spec.get("workflowSpec", spec)  # a CronWorkflow
    defaults = spec.get("templateDefaults") or {}
    return {t["name"]: merge_template_defaults(defaults, t) for t in spec["templates"]}
