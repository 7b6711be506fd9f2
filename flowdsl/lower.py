"""Lowering: :class:`flowdsl.ir.FlowGraph` -> Hera's generated Argo models.

One plain function per kind of thing emitted, composing ``hera.workflows.models`` directly
(never Hera's builder classes, which are two orders of magnitude slower and quadratic in
the number of tasks).

The shape of what is emitted (see docs/manifests.md):

- ``spec.arguments.parameters``: one per flow parameter, with the default as ``value``, an
  ``enum`` for ``bool``/``Literal``/``Enum`` hints and a description that ends with the type.
- one DAG template named after the flow: one task per call, arguments from
  ``{{workflow.parameters.x}}``, constants, ``{{tasks.t.outputs.result}}`` (a task's return
  value) and ``{{tasks.t.outputs.parameters.p}}`` (a field, or a sub-flow's return);
  ``depends`` from data flow and ``.after()``; its outputs are the flow's result. Loops are
  ``withItems``, ``withSequence`` (consecutive ints) or ``withParam``.
- one leaf template per task definition and options (not per call): inputs are the task's
  parameters (a Python default becomes the input's ``default``); the return value is the
  pod's stdout (NOTE: [The result is stdout] in ``flowdsl/runtime/_main.py``), fields and
  artifacts are read from the files the runtime writes under :data:`OUTPUTS_DIR`. The
  container runs ``python -m flowdsl.runtime``: by import (``module:qualname NAME=VALUE
  ...``, a container template) or by value (a script template whose ``source`` is the
  cloudpickle payload, and whose path Argo appends after ``--payload``).
- ``spec.templateDefaults``: the container fields every leaf template shares, written once
  (:func:`hoist_template_defaults`).

Output is deterministic: the same flow gives the same manifest, byte for byte.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import sys
import sysconfig
from collections.abc import Mapping
from typing import Any, Literal, TypeAlias

from hera.workflows import models as m

from flowdsl import types as codecs
from flowdsl._lower_options import (
    BUILTIN_TASK,
    BUILTIN_WORKFLOW,
    Layers,
    container_fields,
    template_fields,
    workflow_fields,
)
from flowdsl.artifacts import artifact_kind
from flowdsl.context import ENV as CONTEXT_ENV
from flowdsl.errors import CompileError, FlowDSLError, ParameterError
from flowdsl.ir import (
    NO_DEFAULT,
    AllOf,
    Call,
    Compare,
    Condition,
    Const,
    FlowGraph,
    FlowInput,
    IsTrue,
    NodeOutput,
    Not,
    Operand,
    TaskDef,
    TaskOptions,
    Value,
    WorkflowOptions,
    WorkflowVar,
)
from flowdsl.names import Namespace
from flowdsl.scheduling import SCHEDULED_TIME_CRON

__all__ = [
    "API_VERSION",
    "FLOW_LABEL",
    "OUTPUTS_DIR",
    "RUNTIME_COMMAND",
    "Kind",
    "hoist_template_defaults",
    "lower",
    "to_dict",
]

API_VERSION = "argoproj.io/v1alpha1"
#: Where the runtime writes output parameters in the container, one file per output.
OUTPUTS_DIR = "/tmp/flowdsl/outputs"
#: Where Argo places input artifacts in the container, one file (or directory) per input.
INPUTS_DIR = "/tmp/flowdsl/inputs"
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
    layers: Layers | None = None,
    scheduled: bool = False,
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
        layers: the project configuration's precedence levels (profiles, defaults).
        scheduled: every run will carry a scheduled time (a CronWorkflow's, a backfill's):
            pods also get ``FLOWDSL_SCHEDULED_TIME`` from ``{{workflow.scheduledTime}}``,
            which Argo leaves undefined in other runs.

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
    lowering = _Lowering(graph, image_fallback, layers or Layers(), scheduled=scheduled)
    dag = lowering.dag(graph, graph.name, nested=False)
    on_exit = lowering.exit_handler(graph) if graph.on_exit is not None else None
    workflow = lowering.workflow
    templates = [dag, *lowering.emitted]
    spec = m.WorkflowSpec(
        entrypoint=graph.name,
        arguments=_workflow_arguments(graph, kind, arguments or {}),
        on_exit=on_exit,
        templates=templates,
        template_defaults=hoist_template_defaults(templates),
        **workflow_fields(workflow, lowering.claims, graph.name),
    )
    labels = {**dict(workflow.labels or ()), FLOW_LABEL: graph.name}
    annotations = dict(workflow.annotations or ())
    if graph.description:
        annotations[DESCRIPTION_ANNOTATION] = graph.description
    if kind == "workflow":
        metadata = m.ObjectMeta(
            generate_name=f"{graph.name}-", labels=labels, annotations=annotations or None
        )
        return m.Workflow(api_version=API_VERSION, kind="Workflow", metadata=metadata, spec=spec)
    metadata = m.ObjectMeta(name=graph.name, labels=labels, annotations=annotations or None)
    return m.WorkflowTemplate(
        api_version=API_VERSION, kind="WorkflowTemplate", metadata=metadata, spec=spec
    )


def hoist_template_defaults(templates: list[m.Template]) -> m.Template | None:
    """Move what every leaf template of a kind shares into one ``spec.templateDefaults``.

    For the container templates, and apart for the script templates (a ``container``
    default never reaches a script template, see NOTE: [Template defaults] in
    ``flowdsl/_template_defaults.py``), when there are at least two: ``command``,
    ``imagePullPolicy`` and ``resources`` when all of them have the same value, and each
    ``env`` or ``volumeMounts`` entry that all of them have, the same (an ``env`` value
    that refers to another variable, ``$(NAME)``, stays, since the merge puts defaults
    first). The templates lose those fields (they are changed in place); Argo merges them
    back before it runs each template, so every pod gets exactly what it had. Only
    container fields move: a template-level default (``activeDeadlineSeconds``,
    ``retryStrategy``) would also reach the DAG templates.

    The schema requires an ``image`` in a container (and a ``source`` in a script), so the
    defaults carry the first template's; every template keeps its own, which wins.

    Returns:
        The ``templateDefaults``, or ``None`` when nothing is shared.
    """
    containers = [t.container for t in templates if t.container is not None]
    scripts = [t.script for t in templates if t.script is not None]
    container = _hoist(containers)
    script = _hoist(scripts)
    if container is None and script is None:
        return None
    return m.Template(
        container=None
        if container is None
        else m.Container(image=containers[0].image, **container),
        script=None
        if script is None
        else m.ScriptTemplate(image=scripts[0].image, source="", **script),
    )


_HOISTED_FIELDS = ("command", "image_pull_policy", "resources")
_HOISTED_LISTS = (("env", "name"), ("volume_mounts", "mount_path"))


def _hoist(bodies: list[Any]) -> dict[str, Any] | None:
    """The fields all ``bodies`` (containers or scripts) share, removed from each of them."""
    if len(bodies) < 2:
        return None
    first, others = bodies[0], bodies[1:]
    shared: dict[str, Any] = {}
    for field in _HOISTED_FIELDS:
        value = getattr(first, field)
        if value is not None and all(_same(getattr(body, field), value) for body in others):
            shared[field] = value
    for field, key in _HOISTED_LISTS:
        # Each body's entries by merge key, so that each candidate costs one lookup a body.
        indexes = [_by_key(getattr(body, field), key) for body in others]
        entries = [
            entry
            for entry in getattr(first, field) or []
            if not (isinstance(getattr(entry, "value", None), str) and "$(" in entry.value)
            and all(_only_entry(index, getattr(entry, key), entry) for index in indexes)
        ]
        if entries:
            shared[field] = entries
    if not shared:
        return None
    for body in bodies:
        for field in _HOISTED_FIELDS:
            if field in shared:
                setattr(body, field, None)
        for field, key in _HOISTED_LISTS:
            if field in shared:
                moved = {getattr(entry, key) for entry in shared[field]}
                kept = [e for e in getattr(body, field) if getattr(e, key) not in moved]
                setattr(body, field, kept or None)
    return shared


def _by_key(entries: list[Any] | None, key: str) -> dict[Any, list[Any]]:
    index: dict[Any, list[Any]] = {}
    for entry in entries or []:
        index.setdefault(getattr(entry, key), []).append(entry)
    return index


def _only_entry(index: dict[Any, list[Any]], key: Any, entry: Any) -> bool:
    """Whether ``entry`` is in the index, and the only one there with its merge key."""
    found = index.get(key)
    return found is not None and len(found) == 1 and _same(found[0], entry)


def _same(a: Any, b: Any) -> bool:
    """Equality of two of Hera's models, field by field.

    Pydantic's ``==`` checks more and costs a few microseconds a call, paid thousands of
    times a compile.
    """
    if a is b:
        return True
    return type(a) is type(b) and getattr(a, "__dict__", a) == getattr(b, "__dict__", b)


def to_dict(model: Manifest) -> dict[str, Any]:
    """The manifest as plain data, in Argo's field names, ``name`` first in every object."""
    doc: dict[str, Any] = _name_first(
        model.model_dump(by_alias=True, exclude_none=True, mode="json")
    )
    return doc


def _name_first(value: Any) -> Any:
    # Hera's models list fields alphabetically; Kubernetes convention (and readers) expect
    # `name` first, which makes compiled YAML far easier to scan and diff. The dump is ours,
    # so it is reordered in place: only dicts whose first key is not already `name` change.
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "name" in item and next(iter(item)) != "name":
                rest = [(k, v) for k, v in item.items() if k != "name"]
                name = item["name"]
                item.clear()
                item["name"] = name
                item.update(rest)
            stack.extend(v for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, (dict, list)))
    return value


# --------------------------------------------------------------------------------------------
# Workflow parameters
# --------------------------------------------------------------------------------------------


def _workflow_arguments(
    graph: FlowGraph, kind: Kind, given: Mapping[str, Any]
) -> m.Arguments | None:
    from flowdsl.scheduling import SCHEDULED_TIME_DEFAULT, is_scheduled_time

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
                    fix=codecs.value_fix(codec),
                    flow=graph.name,
                    parameter=param.name,
                ) from None
        elif not param.required:
            value = codec.encode(param.default)
        elif is_scheduled_time(param.annotation):
            # NOTE: [Scheduled time] in flowdsl/scheduling.py: "now" for manual runs; a
            # CronWorkflow replaces it with {{workflow.scheduledTime}}.
            value = SCHEDULED_TIME_DEFAULT
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
    # No parameters: no `arguments` at all (an empty object is noise in every manifest).
    return m.Arguments(parameters=parameters) if parameters else None


# --------------------------------------------------------------------------------------------
# DAGs: the flow, its sub-flows, map wrappers, the exit handler
# --------------------------------------------------------------------------------------------


class _Lowering:
    """The templates of one manifest, each named once and emitted once.

    Leaf templates are shared by every call of the same task with the same template-level
    options and image, wherever the call is (flow or sub-flow); a sub-flow becomes one DAG
    template however often it is called.
    """

    def __init__(
        self, root: FlowGraph, image_fallback: str | None, layers: Layers, *, scheduled: bool
    ) -> None:
        self.root = root
        self.scheduled = scheduled
        self.image_fallback = image_fallback
        self.layers = layers
        self.names = Namespace(reserved=(root.name,))
        self.leaves: dict[tuple[int, TaskOptions], str] = {}
        self.flows: dict[int, str] = {id(root): root.name}
        self.emitted: list[m.Template] = []
        self.claims: list[Any] = []  # volume claim templates asked for by tasks
        self.workflow = root.options.workflow.over(layers.workflow).over(BUILTIN_WORKFLOW)
        # The flows whose task defaults apply, innermost first (a sub-flow, then its callers).
        self.scopes: list[FlowGraph] = [root]
        self._resolved: dict[tuple[TaskOptions, tuple[int, ...]], TaskOptions] = {}

    def dag(self, graph: FlowGraph, name: str, *, nested: bool) -> m.Template:
        """The DAG template of ``graph``; nested DAGs read their parameters from inputs."""
        tasks = [self.dag_task(graph, call, nested=nested) for call in graph.calls]
        outputs = None
        if graph.result:
            outputs = m.Outputs(
                parameters=[
                    m.Parameter(
                        name=out, value_from=m.ValueFrom(parameter=_reference(value, graph, nested))
                    )
                    for out, value in graph.result
                ]
            )
        inputs = None
        if nested and graph.params:
            inputs = m.Inputs(
                parameters=[
                    m.Parameter(
                        name=p.name,
                        default=None
                        if p.required
                        else codecs.codec_for(p.annotation).encode(p.default),
                    )
                    for p in graph.params
                ]
            )
        return m.Template(
            name=name,
            inputs=inputs,
            outputs=outputs,
            dag=m.DAGTemplate(tasks=tasks, fail_fast=None if graph.options.fail_fast else False),
        )

    def dag_task(self, graph: FlowGraph, call: Call, *, nested: bool) -> m.DAGTask:
        """One call as a DAG task: arguments, loop, condition, dependencies."""
        loop = call.loop
        template = self.template_for(graph, call)
        arguments = _arguments(graph, call, nested)
        loop_fields: dict[str, Any] = {}
        if loop is not None and loop.parallelism is not None:
            # Argo limits a loop's parallelism on the template that contains it: wrap the
            # loop in a DAG of its own, which receives the call's arguments as inputs.
            template = self.map_wrapper(graph, call, template, arguments)
            arguments = [m.Parameter(name=p.name, value=p.value) for p in arguments]
            arguments += _loop_list_arguments(graph, call, nested)
        elif loop is not None:
            loop_fields, item_args = _loop(graph, call, nested)
            arguments += item_args
        artifacts = _artifact_arguments(call)
        return m.DAGTask(
            name=call.id,
            template=template,
            arguments=m.Arguments(parameters=arguments or None, artifacts=artifacts or None)
            if arguments or artifacts
            else None,
            depends=_depends(graph, call),
            when=_condition(graph, call.condition, nested) if call.condition is not None else None,
            **loop_fields,
        )

    def template_for(self, graph: FlowGraph, call: Call) -> str:
        """The name of the template a call runs (emitting it the first time)."""
        target = call.task
        if isinstance(target, FlowGraph):
            name = self.flows.get(id(target))
            if name is None:
                name = self.names.claim(target.name)
                self.flows[id(target)] = name
                self.scopes.insert(0, target)
                try:
                    self.emitted.append(self.dag(target, name, nested=True))
                finally:
                    self.scopes.pop(0)
            return name
        options = self.resolve(graph, call, target)
        # Call-level options do not change the pod; only pod options split templates.
        key = (id(target), options.pod_options())
        name = self.leaves.get(key)
        if name is None:
            name = self.names.claim(target.name)
            self.leaves[key] = name
            self.claims += [v for v in options.volumes or () if v.kind == "claim"]
            self.emitted.append(
                _leaf_template(
                    graph,
                    target,
                    name=name,
                    options=options,
                    flow=self.root.name,
                    workflow=self.workflow,
                    scheduled=self.scheduled,
                )
            )
        return name

    def resolve(self, graph: FlowGraph, call: Call, task: TaskDef) -> TaskOptions:
        """The call's options merged over every lower level (see NOTE: [Option precedence])."""
        # Thousands of calls share a few option sets: merge each distinct one once.
        key = (call.options, tuple(id(scope) for scope in self.scopes))
        resolved = self._resolved.get(key)
        if resolved is None:
            resolved = self._resolve(graph, call, task)
            self._resolved[key] = resolved
        return resolved

    def _resolve(self, graph: FlowGraph, call: Call, task: TaskDef) -> TaskOptions:
        options = call.options
        if options.profile is not None:
            options = options.over(
                self.layers.profile(
                    options.profile, flow=graph.name, task=task.name, location=call.location
                )
            )
        for scope in self.scopes:
            options = options.over(scope.options.tasks)
        options = options.over(self.layers.tasks).over(BUILTIN_TASK)
        if options.image is None and self.image_fallback is not None:
            options = dataclasses.replace(options, image=self.image_fallback)
        return options

    def map_wrapper(
        self, graph: FlowGraph, call: Call, template: str, arguments: list[m.Parameter]
    ) -> str:
        """A DAG running ``call``'s loop with its parallelism; its outputs are the lists."""
        assert call.loop is not None
        name = self.names.claim(f"{call.id}-map")
        inner_args = [
            m.Parameter(name=p.name, value=f"{{{{inputs.parameters.{p.name}}}}}") for p in arguments
        ]
        loop_fields, item_args = _loop(graph, call, nested=True, lists_from_inputs=True)
        inputs = [m.Parameter(name=p.name) for p in arguments]
        inputs += [m.Parameter(name=p.name) for p in _loop_list_arguments(graph, call, nested=True)]
        outputs = [
            m.Parameter(
                name=out.name,
                value_from=m.ValueFrom(
                    # The loop inside runs the task itself, whose return is its result.
                    parameter="{{" + _output_variable(_unwrapped(call), out.name) + "}}"
                ),
            )
            for out in call.outputs
        ]
        self.emitted.append(
            m.Template(
                name=name,
                inputs=m.Inputs(parameters=inputs) if inputs else None,
                outputs=m.Outputs(parameters=outputs) if outputs else None,
                parallelism=call.loop.parallelism,
                dag=m.DAGTemplate(
                    tasks=[
                        m.DAGTask(
                            name=call.id,
                            template=template,
                            arguments=m.Arguments(parameters=inner_args + item_args),
                            **loop_fields,
                        )
                    ]
                ),
            )
        )
        return name

    def exit_handler(self, graph: FlowGraph) -> str:
        """A DAG running the flow's exit task, for ``spec.onExit``."""
        call = graph.on_exit
        assert call is not None
        name = self.names.claim(f"{graph.name}-exit")
        task = self.dag_task(graph, call, nested=False)
        self.emitted.append(m.Template(name=name, dag=m.DAGTemplate(tasks=[task])))
        return name


def _param_annotation(call: Call, name: str) -> Any:
    target = call.task
    params = target.params
    return next(p.annotation for p in params if p.name == name)


def _artifact_arguments(call: Call) -> list[m.Artifact]:
    """Artifacts a call passes on: outputs of earlier calls, by reference (``from``)."""
    if isinstance(call.task, FlowGraph):
        return []
    files = {p.name for p in call.task.params if artifact_kind(p.annotation) is not None}
    return [
        m.Artifact(name=name, from_=f"{{{{tasks.{value.node}.outputs.artifacts.{value.output}}}}}")
        for name, value in call.args
        if name in files and isinstance(value, NodeOutput)
    ]


def _arguments(graph: FlowGraph, call: Call, nested: bool) -> list[m.Parameter]:
    files = (
        set()
        if isinstance(call.task, FlowGraph)
        else {p.name for p in call.task.params if artifact_kind(p.annotation) is not None}
    )
    parameters = []
    for name, value in call.args:
        if name in files:
            continue  # passed as an artifact (see _artifact_arguments)
        if isinstance(value, Const):
            text = codecs.codec_for(_param_annotation(call, name)).encode(value.value)
        else:
            text = _reference(value, graph, nested)
        parameters.append(m.Parameter(name=name, value=text))
    return parameters


def _loop(
    graph: FlowGraph, call: Call, nested: bool, *, lists_from_inputs: bool = False
) -> tuple[dict[str, Any], list[m.Parameter]]:
    """The loop field of the call's DAG task, and the arguments that read the item.

    The field is ``withItems`` or ``withSequence`` (constant lists) or ``withParam``.
    """
    assert call.loop is not None
    mapped = call.loop.mapped
    if all(isinstance(value, Const) for _, value in mapped):
        encoded = {
            name: [_item(_param_annotation(call, name), v) for v in value.value]
            for name, value in mapped
            if isinstance(value, Const)
        }
        count = len(next(iter(encoded.values())))
        if len(mapped) == 1:
            ((name, items),) = encoded.items()
            arguments = [m.Parameter(name=name, value="{{item}}")]
            sequence = _sequence(items)
            if sequence is not None:
                return {"with_sequence": sequence}, arguments
            return {"with_items": list(items)}, arguments
        rows = [{name: texts[i] for name, texts in encoded.items()} for i in range(count)]
        return {"with_items": rows}, [
            m.Parameter(name=n, value=f"{{{{item.{n}}}}}") for n in encoded
        ]
    ((name, value),) = mapped  # the tracer allows one runtime list (Argo loops over one list)
    source = (
        f"{{{{inputs.parameters.{name}}}}}"
        if lists_from_inputs
        else _reference(value, graph, nested)
    )
    return {"with_param": source}, [m.Parameter(name=name, value="{{item}}")]


def _sequence(items: list[str | int]) -> m.Sequence | None:
    """``withSequence`` for consecutive ints (``range(n)``, either way), else ``None``.

    Argo expands it to the texts ``"%d"`` gives, which is what the int codec writes, so the
    task receives the same values; the manifest holds two numbers instead of every item.
    """
    numbers = [item for item in items if type(item) is int]
    if len(numbers) < 3 or len(numbers) != len(items):
        return None
    step = numbers[1] - numbers[0]
    if step not in (1, -1) or any(b - a != step for a, b in itertools.pairwise(numbers)):
        return None
    return m.Sequence(
        start=m.IntOrString(root=str(numbers[0])), end=m.IntOrString(root=str(numbers[-1]))
    )


def _item(annotation: Any, value: Any) -> str | int:
    """One ``withItems`` entry: the parameter's text, or a JSON integer for an ``int``.

    Argo substitutes ``{{item}}`` with a number's text as written (``%v`` of its JSON
    number), which is what the int codec writes; ``- 7`` is also shorter than ``- '7'``.
    """
    text = codecs.codec_for(annotation).encode(value)
    if annotation is int and str(int(text)) == text:
        return int(text)
    return text


def _loop_list_arguments(graph: FlowGraph, call: Call, nested: bool) -> list[m.Parameter]:
    """For a map wrapper: the runtime list it loops over, passed in as an argument."""
    assert call.loop is not None
    return [
        m.Parameter(name=name, value=_reference(value, graph, nested))
        for name, value in call.loop.mapped
        if not isinstance(value, Const)
    ]


def _depends(graph: FlowGraph, call: Call) -> str | None:
    """Argo ``depends`` for a call.

    NOTE: [Skipped and failed upstream]
    A call that reads an output of another call needs that call to have *succeeded*. When the
    upstream call can end otherwise without failing the workflow (it sits under a ``when``,
    or has ``continue_on_failure``), the dependency is written ``X.Succeeded``: if X is
    skipped or fails, this call is not run (Argo marks it Omitted). A call that only runs
    ``.after()`` X runs once X is done, whatever happened to it (``X`` alone means
    Succeeded, Skipped or Daemoned; a continue-on-failure X adds Failed and Errored).

    Argo refuses ``continueOn`` in a DAG that uses ``depends``, and decides a DAG's phase from
    its leaf tasks (an omitted task counts as failed when its upstream failed). So
    ``continue_on_failure`` is expressed only here: a failure is tolerated when a call runs
    ``.after()`` the failed one; a call that needed its outputs is omitted, and the flow fails.
    """
    data = set(call.data_upstream())
    parts = []
    for upstream_id in call.upstream():
        upstream = graph.call(upstream_id)
        optional = upstream.condition is not None or upstream.options.continue_on_failure
        if upstream_id in data:
            parts.append(f"{upstream_id}.Succeeded" if optional else upstream_id)
        elif upstream.options.continue_on_failure:
            parts.append(
                f"({upstream_id}.Succeeded || {upstream_id}.Skipped || {upstream_id}.Failed "
                f"|| {upstream_id}.Errored)"
            )
        else:
            parts.append(upstream_id)
    return " && ".join(parts) if parts else None


def _condition(graph: FlowGraph, condition: Condition, nested: bool) -> str:
    """Argo ``when`` text (govaluate, after ``{{...}}`` substitution)."""
    if isinstance(condition, Compare):
        return (
            f"{_operand(graph, condition.left, nested)} {condition.op} "
            f"{_operand(graph, condition.right, nested)}"
        )
    if isinstance(condition, IsTrue):
        return f"{_operand(graph, condition.operand, nested)} == true"
    if isinstance(condition, Not):
        return f"!({_condition(graph, condition.part, nested)})"
    joiner = " && " if isinstance(condition, AllOf) else " || "
    return "(" + joiner.join(_condition(graph, part, nested) for part in condition.parts) + ")"


def _operand(graph: FlowGraph, operand: Operand, nested: bool) -> str:
    kind = codecs.comparison_kind(operand.annotation)
    value = operand.value
    if isinstance(value, Const):
        text = codecs.codec_for(operand.annotation).encode(value.value)
        if kind != "string":
            return text  # numbers and true/false are govaluate literals as written
        if "'" not in text:
            return f"'{text}'"
        if '"' not in text:
            return f'"{text}"'
        raise CompileError(
            f"the string {text!r} in a when(...) condition holds both kinds of quote, which "
            "Argo's expression language cannot write",
            fix="compare with a string without both ' and \"",
        )
    reference = _reference(value, graph, nested)
    # Strings are quoted so that govaluate compares text; a value holding a quote cannot be
    # compared this way (Argo limitation), which enums and flow parameters rarely hit.
    return f"'{reference}'" if kind == "string" else reference


def _reference(value: Value, graph: FlowGraph, nested: bool) -> str:
    if isinstance(value, FlowInput):
        scope = "inputs" if nested else "workflow"
        return f"{{{{{scope}.parameters.{value.name}}}}}"
    if isinstance(value, NodeOutput):
        return "{{" + _output_variable(graph.call(value.node), value.output) + "}}"
    if isinstance(value, WorkflowVar):
        return f"{{{{workflow.{value.name}}}}}"
    raise TypeError(f"not a reference: {value!r}")  # Const is encoded by the caller


# --------------------------------------------------------------------------------------------
# Leaf templates
# --------------------------------------------------------------------------------------------


def _unwrapped(call: Call) -> Call:
    """``call`` as the loop inside its map wrapper runs it (no parallelism of its own)."""
    assert call.loop is not None
    return dataclasses.replace(call, loop=dataclasses.replace(call.loop, parallelism=None))


def _output_variable(call: Call, output: str) -> str:
    """The Argo variable (without braces) that holds a call's output parameter."""
    if output == "return" and call.returns_result:
        return f"tasks.{call.id}.outputs.result"
    return f"tasks.{call.id}.outputs.parameters.{output}"


def _leaf_template(
    graph: FlowGraph,
    task: TaskDef,
    *,
    name: str,
    options: TaskOptions,
    flow: str,
    workflow: WorkflowOptions,
    scheduled: bool,
) -> m.Template:
    if options.image is None:
        raise CompileError(
            "no container image is set; Argo runs every task in a container image",
            fix='set @flow(image="registry/project:tag"), @task(image=...) or image in '
            "[tool.flowdsl]: an image with flowdsl and the packages your tasks import "
            "installed (python -m flowdsl init writes a Dockerfile)",
            flow=graph.name,
            task=task.name,
            location=task.location,
        )
    files = {p.name for p in task.params if artifact_kind(p.annotation) is not None}
    inputs = [
        m.Parameter(
            name=param.name,
            default=None
            if param.default is NO_DEFAULT
            else codecs.codec_for(param.annotation).encode(param.default),
        )
        for param in task.params
        if param.name not in files
    ]
    input_artifacts = [m.Artifact(name=name, path=f"{INPUTS_DIR}/{name}") for name in sorted(files)]
    # The whole return value is the pod's stdout, Argo's outputs.result (NOTE: [The result
    # is stdout]); only the fields of a structured return and artifacts are files.
    outputs = [
        m.Parameter(name=out.name, value_from=m.ValueFrom(path=f"{OUTPUTS_DIR}/{out.name}"))
        for out in task.outputs
        if not out.artifact and out.name != "return"
    ]
    output_artifacts = [
        m.Artifact(name=out.name, path=f"{OUTPUTS_DIR}/{out.name}")
        for out in task.outputs
        if out.artifact
    ]
    # The runtime's default directory is OUTPUTS_DIR; it is written out only when files are
    # expected, so that a local run (which re-roots the paths it finds) sees where they go.
    args = ["--outputs", OUTPUTS_DIR] if outputs or output_artifacts else []
    for param in task.params:
        # An artifact input arrives as a file: the runtime gets its path and reads it.
        value = (
            f"{INPUTS_DIR}/{param.name}"
            if param.name in files
            else f"{{{{inputs.parameters.{param.name}}}}}"
        )
        args.append(f"{param.name}={value}")  # the runtime reads NAME=VALUE arguments
    retried = options.retries is not None and options.retries.limit > 0
    pod = container_fields(options, _context_env(retried=retried, scheduled=scheduled), workflow)
    container: m.Container | None = None
    script: m.ScriptTemplate | None = None
    if _by_value(graph, task):
        from flowdsl.payload import dump

        script = m.ScriptTemplate(
            image=options.image,
            command=list(RUNTIME_COMMAND),
            args=[*args, "--payload"],
            source=dump(task.fn, dict(task.hints), task=task.name),
            **pod,
        )
    else:
        container = m.Container(
            image=options.image,
            command=list(RUNTIME_COMMAND),
            args=[f"{task.module}:{task.qualname}", *args],  # what the runtime imports
            **pod,
        )
    return m.Template(
        name=name,
        inputs=m.Inputs(parameters=inputs or None, artifacts=input_artifacts or None)
        if inputs or input_artifacts
        else None,
        outputs=m.Outputs(parameters=outputs or None, artifacts=output_artifacts or None)
        if outputs or output_artifacts
        else None,
        container=container,
        script=script,
        **template_fields(options, task, flow=flow, workflow=workflow),
    )


def _context_env(*, retried: bool, scheduled: bool) -> list[m.EnvVar]:
    """The run context every pod gets (read by ``flowdsl.current()``; see flowdsl/context.py).

    The same in every template, so it is written once, in ``spec.templateDefaults``. The
    task's name is not here: the runtime knows it from the task it loads.
    """
    values = {
        "workflow": "{{workflow.name}}",
        "workflow_uid": "{{workflow.uid}}",
        "namespace": "{{workflow.namespace}}",
        "pod": "{{pod.name}}",
    }
    if retried:  # Argo defines {{retries}} only in templates with a retryStrategy
        values["attempt"] = "{{retries}}"
    if scheduled:  # defined only in runs a CronWorkflow (or a backfill) stamped with a time
        values["scheduled_time"] = SCHEDULED_TIME_CRON
    return [m.EnvVar(name=CONTEXT_ENV[field], value=value) for field, value in values.items()]


def _by_value(graph: FlowGraph, task: TaskDef) -> bool:
    """Whether the task's code must travel in the manifest (see ``FlowOptions.code``).

    A fused group's runner is made at compile time, so it always travels by value (its
    steps' modules are pickled by reference when they are installed packages).
    """
    if task.steps:
        return True
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
