"""``{{...}}`` substitution, as Argo's ``template.Replace`` does it.

A tag is everything between ``{{`` and the next ``}}``, trimmed of spaces. A simple tag
(``{{inputs.parameters.lr}}``) is looked up in a flat scope of dotted names; an expression
tag (``{{=asInt(inputs.parameters.n) + 1}}``) is evaluated by :mod:`flowdsl.local.exprlang`
against the same scope seen as nested objects, and its value printed as Go's ``%v`` would.

Scopes, as Argo builds them (each stage fills what it knows and leaves the rest alone):

- global: ``workflow.parameters.X``, ``workflow.parameters`` (JSON), ``workflow.name``,
  ``workflow.namespace``, ``workflow.uid``, ``workflow.creationTimestamp``,
  ``workflow.mainEntrypoint``, ``workflow.serviceAccountName``, ``workflow.labels.X``,
  ``workflow.annotations.X``, ``workflow.outputs.parameters.X`` (``globalName`` outputs),
  ``workflow.scheduledTime`` (a CronWorkflow's run, or a manifest annotated with
  ``workflows.argoproj.io/scheduled-time`` as Argo's cron controller does), and
  in an exit handler ``workflow.status``, ``workflow.duration`` and ``workflow.failures``;
- a template's inputs: ``inputs.parameters.X`` and ``inputs.parameters`` (JSON);
- a DAG task: ``tasks.T.outputs.parameters.P``, ``tasks.T.outputs.result``,
  ``tasks.T.outputs.exitCode``, ``tasks.T.status``, ``tasks.T.id``, ``tasks.T.startedAt``,
  ``tasks.T.finishedAt`` and, for a looped T, ``tasks.T.outputs.parameters.P`` and
  ``tasks.T.outputs.result`` as JSON lists; a step: the same under ``steps.S``;
- a loop item: ``item`` and ``item.KEY``;
- a leaf attempt: ``retries``, ``pod.name``, ``node.name``.

An unknown tag is left as written (Argo substitutes with ``allowUnresolved``: a later stage
may know it, and the lint rejects truly unknown tags before a run starts).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["TAG", "nested_env", "referenced_names", "substitute", "substitute_deep"]

#: A ``{{...}}`` tag; group 1 is its content.
TAG = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


def nested_env(scope: Mapping[str, str]) -> dict[str, Any]:
    """The flat scope as nested objects, for expressions (``tasks['a'].outputs.result``).

    A name that is both a value and a prefix of other names
    (``tasks.a.outputs.parameters`` and ``tasks.a.outputs.parameters.p``) keeps the nested
    object: expressions reach the values through it.
    """
    env: dict[str, Any] = {}
    for key in sorted(scope, key=lambda k: k.count(".")):
        parts = key.split(".")
        target = env
        for part in parts[:-1]:
            existing = target.get(part)
            if not isinstance(existing, dict):
                existing = {}
                target[part] = existing
            target = existing
        if not isinstance(target.get(parts[-1]), dict):
            target[parts[-1]] = scope[key]
    return env


def substitute(
    text: str,
    scope: Mapping[str, str],
    *,
    env: Mapping[str, Any] | None = None,
) -> str:
    """Replace every tag of ``text`` that ``scope`` can resolve.

    Args:
        text: the text to substitute.
        scope: flat dotted names to values.
        env: the scope as nested objects for expression tags (built on demand if omitted).

    Returns:
        The text with known tags replaced and unknown ones left as written.
    """
    if "{{" not in text:
        return text
    built_env: list[Mapping[str, Any]] = [env] if env is not None else []

    def replace(match: re.Match[str]) -> str:
        tag = match.group(1).strip()
        if tag.startswith("="):
            from flowdsl.local import exprlang

            if not built_env:
                built_env.append(nested_env(scope))
            try:
                value = exprlang.evaluate(tag[1:], built_env[0])
            except exprlang.ExprError:
                # Unknown names mean "not resolvable yet" (a later stage has them); Argo's
                # allowUnresolved keeps every failing expression as written.
                return match.group(0)
            if value is None:
                return match.group(0)
            return exprlang.go_format(value)
        value = scope.get(tag)
        return match.group(0) if value is None else value

    return TAG.sub(replace, text)


def substitute_deep(
    value: Any, scope: Mapping[str, str], *, env: Mapping[str, Any] | None = None
) -> Any:
    """A copy of a JSON-like value with every string substituted (keys are left alone)."""
    if isinstance(value, str):
        return substitute(value, scope, env=env)
    if isinstance(value, dict):
        return {key: substitute_deep(item, scope, env=env) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute_deep(item, scope, env=env) for item in value]
    return value


_REF = re.compile(r"\b(tasks|steps)(?:\.([a-zA-Z0-9][-a-zA-Z0-9_]*)|\[\s*['\"]([^'\"]+)['\"]\s*\])")


def referenced_names(value: Any, prefix: str) -> set[str]:
    """Names ``X`` that ``value``'s tags reach as ``{prefix}.X`` (``tasks.X`` / ``steps.X``).

    Used to build a task's scope from only the tasks it refers to, which keeps scope
    building linear in a long chain of tasks.
    """
    found: set[str] = set()

    def visit(item: Any) -> None:
        if isinstance(item, str):
            if "{{" not in item:
                return
            for tag in TAG.finditer(item):
                for match in _REF.finditer(tag.group(1)):
                    if match.group(1) == prefix:
                        found.add(match.group(2) or match.group(3))
        elif isinstance(item, dict):
            for sub in item.values():
                visit(sub)
        elif isinstance(item, list):
            for sub in item:
                visit(sub)

    visit(value)
    return found
