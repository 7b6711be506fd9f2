"""Lowering: :class:`flowdsl.ir.FlowGraph` -> Hera's generated Argo models.

One plain function per kind of thing emitted, composing ``hera.workflows.models`` directly
(never Hera's builder classes, which are two orders of magnitude slower and quadratic in
the number of tasks).

The shape of what is emitted (see docs/manifests.md):

- ``spec.arguments.parameters``: one per flow parameter, with the default as ``value``, an
  ``enum`` for ``bool``/``Literal``/``Enum`` hints and a description that ends with the type.
- one DAG template named after the flow: one task per call, arguments from
  ``{{workflow.parameters.x}}``, constants and ``{{tasks.t.outputs.parameters.p}}``,
  ``depends`` from data flow and ``.after()``; its outputs are the flow's result.
- one leaf template per task definition and options (not per call): inputs are the task's
  parameters (a Python default becomes the input's ``default``), outputs are read from the
  files the runtime writes under :data:`OUTPUTS_DIR`. The container runs
  ``python -m flowdsl.runtime``: by import (``--function module:qualname``, a container
  template) or by value (a script template whose ``source`` is the cloudpickle payload, and
  whose path Argo appends after ``--payload``).

Output is deterministic: the same flow gives the same manifest, byte for byte.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from collections.abc import Mapping
from typing import Any, Literal, TypeAlias

from hera.workflows import models as m

from flowdsl import types as codecs
from flowdsl.errors import CompileError, FlowDSLError, ParameterError
from flowdsl.ir import (
    NO_DEFAULT,
    Call,
    Const,
    FlowGraph,
    FlowInput,
    NodeOutput,
    TaskDef,
    TaskOptions,
    Value,
)
from flowdsl.names import Namespace

__all__ = [
    "API_VERSION",
    "FLOW_LABEL",
    "OUTPUTS_DIR",
    "RUNTIME_COMMAND",
    "Kind",
    "lower",
    "to_dict",
]

API_VERSION = "argoproj.io/v1alpha1"
#: Where the runtime writes output parameters in the container, one file per output.
OUTPUTS_DIR = "/tmp/flowdsl/outputs"
#: What every task's container runs.
RUNTIME_COMMAND = ("python", "-m", "flowdsl.runtime")
#: Label tying every Workflow to the flow it came from (for listing and cron runs).
FLOW_LABEL = "flowdsl/flow"
#: Argo UI shows this annotation under the workflow's name.
DESCRIPTION_ANNOTATION = "workflows.argoproj.io/description"

Kind: TypeAlias = Literal["workflow", "template"]
Manifest: TypeAlias = m.Workflow | m.WorkflowTemplate


def lower(
    graph: FlowGraph,
    *,
    kind: Kind = "workflow",
    arguments: Mapping[str, Any] | None = None,
    image_fallback: str | None = None,
) -> Manifest:
    """Lower a traced flow to a Hera ``Workflow`` or ``WorkflowTemplate`` model.

    Args:
        graph: the traced flow.
        kind: ``"workflow"`` (submitted directly; every parameter needs a value) or
            ``"template"`` (a WorkflowTemplate; required parameters stay open).
        arguments: values for flow parameters (Python values, by exposed name), overriding
            defaults.
        image_fallback: the image of tasks that set none (the local engine ignores images,
            so a flow under development need not have one); ``None`` makes it an error.

    Raises:
        ParameterError: an argument names no parameter or does not fit its type.
        CompileError: a Workflow lacks a required parameter; a task has no image; code
            cannot reach the pod the way the flow asks.
    """
    if kind not in ("workflow", "template"):
        raise CompileError(
            f"unknown manifest kind {kind!r} (expected 'workflow' or 'template')",
            fix="use kind='workflow' or kind='template'",
            flow=graph.name,
        )
    templates = _Templates(graph, image_fallback)
    dag = _dag_template(graph, templates)
    spec = m.WorkflowSpec(
        entrypoint=graph.name,
        arguments=_workflow_arguments(graph, kind, arguments or {}),
        templates=[dag, *templates.emitted],
    )
    annotations = {DESCRIPTION_ANNOTATION: graph.description} if graph.description else None
    if kind == "workflow":
        metadata = m.ObjectMeta(
            generate_name=f"{graph.name}-",
            labels={FLOW_LABEL: graph.name},
            annotations=annotations,
        )
        return m.Workflow(api_version=API_VERSION, kind="Workflow", metadata=metadata, spec=spec)
    metadata = m.ObjectMeta(
        name=graph.name, labels={FLOW_LABEL: graph.name}, annotations=annotations
    )
    return m.WorkflowTemplate(
        api_version=API_VERSION, kind="WorkflowTemplate", metadata=metadata, spec=spec
    )


def to_dict(model: Manifest) -> dict[str, Any]:
    """The manifest as plain data, in Argo's field names, ``name`` first in every object."""
    doc: dict[str, Any] = _name_first(
        model.model_dump(by_alias=True, exclude_none=True, mode="json")
    )
    return doc


def _name_first(value: Any) -> Any:
    # Hera's models list fields alphabetically; Kubernetes convention (and readers) expect
    # `name` first, which makes compiled YAML far easier to scan and diff.
    if isinstance(value, dict):
        if "name" in value:
            ordered = {"name": value["name"]}
            ordered.update((k, _name_first(v)) for k, v in value.items() if k != "name")
            return ordered
        return {k: _name_first(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_name_first(v) for v in value]
    return value


# --------------------------------------------------------------------------------------------
# Workflow parameters
# --------------------------------------------------------------------------------------------


def _workflow_arguments(graph: FlowGraph, kind: Kind, given: Mapping[str, Any]) -> m.Arguments:
    known = {p.name for p in graph.params}
    for name in given:
        if name not in known:
            raise ParameterError(
                f"the flow has no parameter {name!r} (parameters: "
                f"{', '.join(sorted(known)) or 'none'})",
                fix="check the name",
                flow=graph.name,
                parameter=name,
            )
    parameters = []
    for param in graph.params:
        codec = codecs.codec_for(param.annotation)
        value: str | None = None
        if param.name in given:
            try:
                value = codec.encode(given[param.name])
            except FlowDSLError as exc:
                raise ParameterError(
                    exc.problem,
                    fix=f"pass a value of type {codec.type_name}",
                    flow=graph.name,
                    parameter=param.name,
                ) from None
        elif not param.required:
            value = codec.encode(param.default)
        elif kind == "workflow":
            raise CompileError(
                f"parameter '{param.name}' has no default and no value was given; a Workflow "
                "runs as soon as it is submitted, so every parameter needs a value",
                fix=f"pass it (-p {param.name}=... or params={{'{param.name}': ...}}), give it "
                "a default, or compile --kind template (a WorkflowTemplate asks for it at "
                "submit time)",
                flow=graph.name,
                parameter=param.name,
            )
        # "learning rate (float)": the type tells the submitter how the text is read.
        text = (param.description or "").strip().rstrip(".")
        description = f"{text} ({codec.type_name})" if text else codec.type_name
        parameters.append(
            m.Parameter(
                name=param.name,
                value=value,
                enum=list(codec.enum) if codec.enum is not None else None,
                description=description,
            )
        )
    return m.Arguments(parameters=parameters or None)


# --------------------------------------------------------------------------------------------
# The flow's DAG
# --------------------------------------------------------------------------------------------


def _dag_template(graph: FlowGraph, templates: _Templates) -> m.Template:
    tasks = [_dag_task(graph, call, templates.name_for(call)) for call in graph.calls]
    outputs = None
    if graph.result:
        outputs = m.Outputs(
            parameters=[
                m.Parameter(name=name, value_from=m.ValueFrom(parameter=_reference(value)))
                for name, value in graph.result
            ]
        )
    return m.Template(name=graph.name, dag=m.DAGTemplate(tasks=tasks), outputs=outputs)


def _dag_task(graph: FlowGraph, call: Call, template: str) -> m.DAGTask:
    parameters = []
    for name, value in call.args:
        text = _reference(value) if not isinstance(value, Const) else _constant(call, name, value)
        parameters.append(m.Parameter(name=name, value=text))
    upstream = call.upstream()
    return m.DAGTask(
        name=call.id,
        template=template,
        arguments=m.Arguments(parameters=parameters) if parameters else None,
        depends=" && ".join(upstream) if upstream else None,
    )


def _constant(call: Call, name: str, value: Const) -> str:
    param = next(p for p in call.task.params if p.name == name)
    return codecs.codec_for(param.annotation).encode(value.value)


def _reference(value: Value) -> str:
    if isinstance(value, FlowInput):
        return f"{{{{workflow.parameters.{value.name}}}}}"
    if isinstance(value, NodeOutput):
        return f"{{{{tasks.{value.node}.outputs.parameters.{value.output}}}}}"
    raise TypeError(f"not a reference: {value!r}")  # Const is encoded by the caller


# --------------------------------------------------------------------------------------------
# Leaf templates
# --------------------------------------------------------------------------------------------


class _Templates:
    """Leaf templates of a flow: one per (task definition, options), named once each."""

    def __init__(self, graph: FlowGraph, image_fallback: str | None) -> None:
        self._graph = graph
        self._image_fallback = image_fallback
        self._names = Namespace(reserved=(graph.name,))
        self._by_key: dict[tuple[int, TaskOptions], str] = {}
        self.emitted: list[m.Template] = []

    def name_for(self, call: Call) -> str:
        key = (id(call.task), call.options)
        name = self._by_key.get(key)
        if name is None:
            name = self._names.claim(call.task.name)
            self._by_key[key] = name
            self.emitted.append(_leaf_template(self._graph, call, name, self._image_fallback))
        return name


def _leaf_template(
    graph: FlowGraph, call: Call, name: str, image_fallback: str | None
) -> m.Template:
    task = call.task
    image = call.options.image or graph.options.image or image_fallback
    if image is None:
        raise CompileError(
            "no container image is set; Argo runs every task in a container image",
            fix='set @flow(image="registry/project:tag") or @task(image=...): an image with '
            "flowdsl and the packages your tasks import installed",
            flow=graph.name,
            task=task.name,
            location=task.location,
        )
    inputs = [
        m.Parameter(
            name=param.name,
            default=None
            if param.default is NO_DEFAULT
            else codecs.codec_for(param.annotation).encode(param.default),
        )
        for param in task.params
    ]
    outputs = [
        m.Parameter(name=out.name, value_from=m.ValueFrom(path=f"{OUTPUTS_DIR}/{out.name}"))
        for out in task.outputs
    ]
    args = ["--outputs", OUTPUTS_DIR]
    for param in task.params:
        args += ["--input", f"{param.name}={{{{inputs.parameters.{param.name}}}}}"]
    container: m.Container | None = None
    script: m.ScriptTemplate | None = None
    if _by_value(graph, task):
        from flowdsl.payload import dump

        script = m.ScriptTemplate(
            image=image,
            command=list(RUNTIME_COMMAND),
            args=[*args, "--payload"],
            source=dump(task.fn, dict(task.hints)),
        )
    else:
        container = m.Container(
            image=image,
            command=list(RUNTIME_COMMAND),
            args=["--function", f"{task.module}:{task.qualname}", *args],
        )
    options = call.options
    return m.Template(
        name=name,
        inputs=m.Inputs(parameters=inputs) if inputs else None,
        outputs=m.Outputs(parameters=outputs) if outputs else None,
        container=container,
        script=script,
        retry_strategy=m.RetryStrategy(limit=options.retries)  # type: ignore[arg-type]
        if options.retries is not None
        else None,
        active_deadline_seconds=options.timeout,  # type: ignore[arg-type]
    )


def _by_value(graph: FlowGraph, task: TaskDef) -> bool:
    """Whether the task's code must travel in the manifest (see ``FlowOptions.code``)."""
    importable, why_not = _importable(task)
    mode = graph.options.code
    if mode == "value":
        return True
    if mode == "import":
        if not importable:
            raise CompileError(
                f"code='import' needs the task function to be importable by name, but {why_not}",
                fix="define the task at module level in a module the image contains, or use "
                "code='value' (or 'auto')",
                flow=graph.name,
                task=task.name,
                location=task.location,
            )
        return False
    return not (importable and _installed(task.module))


def _importable(task: TaskDef) -> tuple[bool, str]:
    if task.module == "__main__":
        return False, "it is defined in the script being run (__main__)"
    if "<locals>" in task.qualname:
        return False, f"it is defined inside a function ({task.qualname})"
    return True, ""


_SITE_DIRS = tuple(
    os.path.realpath(p)
    for p in {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
)


def _installed(module_name: str) -> bool:
    """Whether a module comes from an installed distribution (site-packages).

    Installed code is in the image as well (it was built with the same requirements), so it
    can be imported there; a script or a project checked out next to it may not be.
    """
    module = sys.modules.get(module_name)
    path = getattr(module, "__file__", None)
    if not path:
        return False
    real = os.path.realpath(path)
    return any(real.startswith(site + os.sep) for site in _SITE_DIRS)
