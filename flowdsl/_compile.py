"""``flowdsl.compile``: trace, lower, lint. Loaded lazily: it imports Hera."""

from __future__ import annotations

import dataclasses
import gc
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hera.workflows import models as m

from flowdsl._lower_options import Layers
from flowdsl._size import check_size
from flowdsl.config import ProjectConfig, load_config
from flowdsl.dsl import Flow, option_layers
from flowdsl.errors import CompileError
from flowdsl.ir import FlowGraph
from flowdsl.lint import lint
from flowdsl.lower import Kind, lower, to_dict

#: What ``config=`` accepts: a loaded configuration, a file, or None (find pyproject.toml).
ConfigSource = ProjectConfig | str | Path | None

__all__ = [
    "compile",
    "compile_dict",
    "compile_graph_dict",
    "compile_scheduled",
    "layers",
    "project_config",
]


def _check_flow(target: object) -> Flow[Any, Any]:
    if not isinstance(target, Flow):
        raise CompileError(
            f"flowdsl.compile takes a @flow (got {target!r})",
            fix="decorate the function with @flow, or pass the flow rather than a task",
        )
    return target


def project_config(flow: Flow[Any, Any] | None, config: ConfigSource = None) -> ProjectConfig:
    """The project configuration for ``flow``.

    The file given, else the ``pyproject.toml`` nearest to the flow's source file (then to
    the current directory).
    """
    if isinstance(config, ProjectConfig):
        return config
    if config is not None:
        return load_config(config)
    start = None
    if flow is not None:
        module = sys.modules.get(flow.__wrapped__.__module__)
        source = getattr(module, "__file__", None)
        if source:
            start = Path(source).resolve().parent
    return load_config(start=start)


def layers(config: ProjectConfig) -> Layers:
    """The precedence levels the configuration contributes to lowering."""
    tasks, workflow = option_layers(config.defaults)
    profiles = {name: option_layers(values)[0] for name, values in config.profiles.items()}
    source = str(config.path) if config.path is not None else None
    return Layers(profiles=profiles, tasks=tasks, workflow=workflow, source=source)


def _with_project_code(graph: FlowGraph, config: ProjectConfig) -> FlowGraph:
    # `code` in [tool.flowdsl] applies to flows that leave it at its default ("auto").
    code = config.defaults.get("code")
    if code is None or graph.options.code != "auto":
        return graph
    return dataclasses.replace(graph, options=dataclasses.replace(graph.options, code=code))


def compile(
    flow: Flow[Any, Any],
    kind: Kind = "workflow",
    params: Mapping[str, Any] | None = None,
    *,
    config: ConfigSource = None,
) -> m.Workflow | m.WorkflowTemplate:
    """Compile a flow to a Hera ``Workflow`` or ``WorkflowTemplate`` model.

    The manifest has passed flowdsl's lint of Argo's rules. Turn it into text with
    ``flowdsl.to_yaml(model)`` or submit it with Hera's ``WorkflowsService``.

    Args:
        flow: a ``@flow``.
        kind: ``"workflow"`` or ``"template"`` (a WorkflowTemplate).
        params: values for flow parameters (Python values), overriding defaults.
        config: the project configuration: a ``ProjectConfig``, a file, or None for the
            ``pyproject.toml`` nearest to the flow's source (``[tool.flowdsl]``).

    Raises:
        TraceError, ParameterError, CompileError, OptionError: what the flow, the values or
            the configuration got wrong.
    """
    model = _lower(_check_flow(flow), kind=kind, params=params, config=config, image_fallback=None)
    doc = to_dict(model)
    check_size(doc, flow.name)
    lint(doc)
    return model


def _lower(
    flow: Flow[Any, Any] | None,
    *,
    kind: Kind,
    params: Mapping[str, Any] | None,
    config: ConfigSource,
    image_fallback: str | None,
    graph: FlowGraph | None = None,
    scheduled: bool = False,
) -> m.Workflow | m.WorkflowTemplate:
    project = project_config(flow, config)
    traced = graph if graph is not None else flow.trace()  # type: ignore[union-attr]
    return lower(
        _with_project_code(traced, project),
        kind=kind,
        arguments=params,
        image_fallback=image_fallback,
        layers=layers(project),
        scheduled=scheduled,
    )


def compile_scheduled(
    flow: Flow[Any, Any], params: Mapping[str, Any] | None = None, *, config: ConfigSource = None
) -> m.Workflow:
    """The Workflow of a run that carries a scheduled time (a CronWorkflow's spec), linted.

    Like :func:`compile`, with ``FLOWDSL_SCHEDULED_TIME`` in every pod (see
    :func:`flowdsl.lower.lower`).
    """
    model = _lower(
        _check_flow(flow),
        kind="workflow",
        params=params,
        config=config,
        image_fallback=None,
        scheduled=True,
    )
    assert isinstance(model, m.Workflow)  # kind="workflow"
    doc = to_dict(model)
    check_size(doc, flow.name)
    lint(doc)
    return model


def compile_dict(
    flow: Flow[Any, Any],
    kind: Kind = "workflow",
    params: Mapping[str, Any] | None = None,
    *,
    config: ConfigSource = None,
) -> dict[str, Any]:
    """Like :func:`compile`, returning the manifest as plain data (Argo's field names)."""
    with _no_cyclic_gc():
        doc = to_dict(
            _lower(_check_flow(flow), kind=kind, params=params, config=config, image_fallback=None)
        )
        check_size(doc, flow.name)
        lint(doc)
    return doc


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    # A compile makes many small objects that live until it ends; the cyclic collector would
    # walk them again and again meanwhile (18-26 % of a 5,000-20,000 task compile).
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def compile_graph_dict(
    graph: FlowGraph,
    kind: Kind = "workflow",
    params: Mapping[str, Any] | None = None,
    *,
    image_fallback: str | None = None,
    flow: Flow[Any, Any] | None = None,
    config: ConfigSource = None,
    scheduled: bool = False,
) -> dict[str, Any]:
    """Lower and lint an already traced flow.

    The local engine supplies an image fallback; ``scheduled``: every run carries a
    scheduled time (see :func:`flowdsl.lower.lower`).
    """
    doc = to_dict(
        _lower(
            flow,
            kind=kind,
            params=params,
            config=config,
            image_fallback=image_fallback,
            graph=graph,
            scheduled=scheduled,
        )
    )
    check_size(doc, graph.name)
    lint(doc)
    return doc
