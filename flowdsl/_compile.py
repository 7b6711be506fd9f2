"""``flowdsl.compile``: trace, lower, lint. Loaded lazily: it imports Hera."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hera.workflows import models as m

from flowdsl.dsl import Flow
from flowdsl.errors import CompileError
from flowdsl.ir import FlowGraph
from flowdsl.lint import lint
from flowdsl.lower import Kind, lower, to_dict

__all__ = ["compile", "compile_dict", "compile_graph_dict"]


def _check_flow(target: object) -> Flow[Any, Any]:
    if not isinstance(target, Flow):
        raise CompileError(
            f"flowdsl.compile takes a @flow (got {target!r})",
            fix="decorate the function with @flow, or pass the flow rather than a task",
        )
    return target


def compile(
    flow: Flow[Any, Any],
    kind: Kind = "workflow",
    params: Mapping[str, Any] | None = None,
) -> m.Workflow | m.WorkflowTemplate:
    """Compile a flow to a Hera ``Workflow`` or ``WorkflowTemplate`` model.

    The manifest has passed flowdsl's lint of Argo's rules. Turn it into text with
    ``flowdsl.to_yaml(model)`` or submit it with Hera's ``WorkflowsService``.

    Args:
        flow: a ``@flow``.
        kind: ``"workflow"`` or ``"template"`` (a WorkflowTemplate).
        params: values for flow parameters (Python values), overriding defaults.

    Raises:
        TraceError, ParameterError, CompileError: what the flow or the values got wrong.
    """
    model = lower(_check_flow(flow).trace(), kind=kind, arguments=params)
    lint(to_dict(model))
    return model


def compile_dict(
    flow: Flow[Any, Any],
    kind: Kind = "workflow",
    params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Like :func:`compile`, returning the manifest as plain data (Argo's field names)."""
    doc = to_dict(lower(_check_flow(flow).trace(), kind=kind, arguments=params))
    lint(doc)
    return doc


def compile_graph_dict(
    graph: FlowGraph,
    kind: Kind = "workflow",
    params: Mapping[str, Any] | None = None,
    *,
    image_fallback: str | None = None,
) -> dict[str, Any]:
    """Lower and lint an already traced flow (the local engine supplies an image fallback)."""
    doc = to_dict(lower(graph, kind=kind, arguments=params, image_fallback=image_fallback))
    lint(doc)
    return doc
