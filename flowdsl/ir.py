"""The intermediate representation: frozen values that describe a traced flow.

The tracer (:mod:`flowdsl.dsl`) builds these values; the lowering (:mod:`flowdsl.lower`)
reads them. Nothing here knows about Hera, Argo's YAML or the tracer's proxies.

Node kinds are a closed set. A *value* that flows into a task argument is one of:

- :class:`Const`: a Python constant written in the flow body, already checked against the
  parameter's type;
- :class:`FlowInput`: a parameter of the flow being traced;
- :class:`NodeOutput`: an output parameter of an earlier call (``"return"`` for the whole
  returned value, or a field name for ``ref.field``);
- :class:`WorkflowVar`: the run's status or failures, given to an exit handler.

A :class:`Call` is one call of a task (or of a sub-flow) in the flow body; it may carry a
:class:`Loop` (fan-out over lists) and a condition (``when``). A condition is one of
:class:`Compare`, :class:`IsTrue`, :class:`AllOf`, :class:`AnyOf`, :class:`Not`, over
:class:`Operand` values. A :class:`FlowGraph` is the whole traced flow. Every collection is a
tuple, so values are hashable and safe to share.

``FlowGraph.dump()`` renders a stable text form used by golden tests of the tracer.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

__all__ = [
    "NO_DEFAULT",
    "AllOf",
    "AnyOf",
    "Call",
    "CodeMode",
    "Compare",
    "Condition",
    "Const",
    "FlowGraph",
    "FlowInput",
    "FlowOptions",
    "FlowParam",
    "IsTrue",
    "Loop",
    "NodeOutput",
    "Not",
    "Operand",
    "Output",
    "TaskDef",
    "TaskOptions",
    "TaskParam",
    "Value",
    "WorkflowOptions",
    "WorkflowVar",
    "condition_repr",
    "list_of",
    "options_repr",
    "type_repr",
]


class _NoDefault(enum.Enum):
    """Marks a parameter without a default (``None`` is a legitimate default)."""

    NO_DEFAULT = "NO_DEFAULT"

    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT = _NoDefault.NO_DEFAULT

#: How a task's code reaches the pod: imported from the image by ``module:function``, or
#: embedded by value (cloudpickle); ``auto`` imports code of installed packages and embeds
#: the rest (scripts, modules of a project that is not installed in the image).
CodeMode: TypeAlias = Literal["auto", "import", "value"]


#: A mapping option kept hashable: ``(("KEY", value), ...)`` in the order given.
Pairs: TypeAlias = tuple[tuple[str, Any], ...]

#: Options whose values are mappings, merged key by key across precedence levels. A node
#: selector is not among them: it is one scheduling constraint (a GPU profile's selector
#: merged with a CPU pool's default would match no node), so it is replaced whole, like
#: tolerations and affinity.
MAPPING_OPTIONS = ("env", "secrets", "labels", "annotations")


@dataclass(frozen=True, slots=True)
class TaskOptions:
    """Execution options of a task at one precedence level (``None``: not set there).

    The levels, highest first: call-site ``.options()``, the task decorator, the named
    profile, the flow, the project configuration, the built-in defaults. The tracer records
    the first two merged; lowering merges the rest (:meth:`over`). Values are the checked
    forms of :mod:`flowdsl.options` (``Resources``, ``Retry``, ``Volume``, ``Cache`` ...);
    mapping options are :data:`Pairs` and ``affinity`` is its JSON text, so that options are
    hashable and equal options share one template.
    """

    image: str | None = None
    image_pull_policy: str | None = None
    resources: Any = None
    node_selector: Pairs | None = None
    tolerations: tuple[Any, ...] | None = None
    affinity: str | None = None
    env: Pairs | None = None
    secrets: Pairs | None = None
    retries: Any = None
    timeout: int | None = None
    volumes: tuple[Any, ...] | None = None
    service_account: str | None = None
    labels: Pairs | None = None
    annotations: Pairs | None = None
    parallelism: int | None = None
    priority_class: str | None = None
    cache: Any = None
    continue_on_failure: bool | None = None
    profile: str | None = None

    def over(self, lower: TaskOptions) -> TaskOptions:
        """These options with ``lower``'s filling what is not set here.

        Mapping options merge key by key (a key set here wins); resources merge field by
        field; every other option is taken whole from the highest level that sets it.
        """
        changes: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            mine, theirs = getattr(self, name), getattr(lower, name)
            if mine is None:
                changes[name] = theirs
            elif theirs is not None and name in MAPPING_OPTIONS:
                merged = dict(theirs)
                merged.update(mine)
                changes[name] = tuple(merged.items())
            elif theirs is not None and name == "resources":
                changes[name] = mine.merged_over(theirs)
            else:
                changes[name] = mine
        return TaskOptions(**changes)

    def pod_options(self) -> TaskOptions:
        """These options without those of the call rather than of its pod.

        Map parallelism and continue-on-failure do not change the pod, so they do not split
        templates.
        """
        return dataclasses.replace(self, parallelism=None, continue_on_failure=None)


@dataclass(frozen=True, slots=True)
class WorkflowOptions:
    """Options that apply to a whole workflow (``None``: not set at this level).

    Attributes:
        labels: labels of the Workflow object (and of CronWorkflow runs).
        annotations: annotations of the Workflow object.
        parallelism: most pods of the workflow running at once.
        service_account: the service account of the workflow's pods.
        priority_class: the priority class of the workflow's pods.
        volumes: volumes mounted in every task (claims become volumeClaimTemplates).
        workflow_timeout: the workflow's deadline in seconds (``activeDeadlineSeconds``).
        pod_gc: when Argo deletes finished pods.
        max_concurrent: most runs of this flow at once (1: a mutex; more: a semaphore).
        artifact_repository: the key of a repository in the namespace's
            ``artifact-repositories`` ConfigMap (default: the namespace's default repository).
    """

    labels: Pairs | None = None
    annotations: Pairs | None = None
    parallelism: int | None = None
    service_account: str | None = None
    priority_class: str | None = None
    volumes: tuple[Any, ...] | None = None
    workflow_timeout: int | None = None
    pod_gc: str | None = None
    max_concurrent: int | None = None
    artifact_repository: str | None = None

    def over(self, lower: WorkflowOptions) -> WorkflowOptions:
        """These options with ``lower``'s filling what is not set here."""
        changes: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            mine, theirs = getattr(self, name), getattr(lower, name)
            if mine is not None and theirs is not None and name in MAPPING_OPTIONS:
                merged = dict(theirs)
                merged.update(mine)
                changes[name] = tuple(merged.items())
            else:
                changes[name] = theirs if mine is None else mine
        return WorkflowOptions(**changes)


@dataclass(frozen=True, slots=True)
class FlowOptions:
    """Options of a flow.

    Attributes:
        image: the default container image of every task of the flow.
        code: how task code reaches the pod (see :data:`CodeMode`).
        fail_fast: stop scheduling new tasks once one fails (Argo's DAG ``failFast``);
            ``False`` lets independent branches finish.
        schedule: a ``flowdsl.scheduling.Schedule`` (the flow also compiles to a
            CronWorkflow), or ``None``.
        triggers: event triggers (``flowdsl.scheduling`` / ``flowdsl.triggers`` values) that
            start the flow.
        tasks: defaults for the flow's tasks (below profiles and the tasks' own options).
        workflow: options of the whole workflow.
    """

    image: str | None = None
    code: CodeMode = "auto"
    fail_fast: bool = True
    schedule: Any = None
    triggers: tuple[Any, ...] = ()
    tasks: TaskOptions = TaskOptions()
    workflow: WorkflowOptions = WorkflowOptions()


@dataclass(frozen=True, slots=True)
class TaskParam:
    """A parameter of a task function: name, type hint, and default (or ``NO_DEFAULT``)."""

    name: str
    annotation: Any
    default: Any = NO_DEFAULT


@dataclass(frozen=True, slots=True)
class Output:
    """An output a task writes: ``return``, or one field of a structured return.

    ``artifact`` outputs are files in Argo's artifact repository (``bytes``, ``Path``,
    ``Artifact[T]``); the others are parameters.
    """

    name: str
    annotation: Any
    artifact: bool = False


@dataclass(frozen=True, slots=True, eq=False)
class TaskDef:
    """A ``@task`` definition.

    Compared by identity: two definitions are the same task only if they come from the
    same decorator application, even when their names agree.

    Attributes:
        name: the Argo name of the task (DNS-1123), from the function or ``name=``.
        fn: the plain Python function.
        module: ``fn.__module__``; with ``qualname`` it locates the function for by-import code.
        qualname: ``fn.__qualname__``.
        params: the function's parameters, in order.
        returns: the return hint (``None`` for a task that returns nothing).
        outputs: the output parameters the task writes (see ``flowdsl.types.output_parameters``).
        hints: the resolved type hints of ``fn`` (shipped with by-value payloads).
        options: options given on the decorator.
        location: ``file:line`` of the definition.
        steps: for a fused group (``with fused(...)``), the calls it runs in one pod, in
            order; its ``fn`` runs them. Empty for a plain task.
    """

    name: str
    fn: Callable[..., Any]
    module: str
    qualname: str
    params: tuple[TaskParam, ...]
    returns: Any
    outputs: tuple[Output, ...]
    hints: tuple[tuple[str, Any], ...]
    options: TaskOptions
    location: str
    steps: tuple[Call, ...] = ()


@dataclass(frozen=True, slots=True)
class Const:
    """A constant argument, already validated against the parameter's type."""

    value: Any


@dataclass(frozen=True, slots=True)
class FlowInput:
    """A reference to the flow parameter ``name`` (the name exposed to Argo)."""

    name: str


@dataclass(frozen=True, slots=True)
class NodeOutput:
    """A reference to output ``output`` of the call ``node``."""

    node: str
    output: str


@dataclass(frozen=True, slots=True)
class WorkflowVar:
    """A value Argo knows about the running workflow: ``status`` or ``failures`` (exit handlers)."""

    name: Literal["status", "failures"]


Value: TypeAlias = Const | FlowInput | NodeOutput | WorkflowVar


@dataclass(frozen=True, slots=True)
class Loop:
    """A fan-out: the call runs once per item, and its outputs become lists (fan-in).

    Attributes:
        mapped: the arguments bound per item, by parameter name; each value is a list
            (a constant list, a list-typed flow parameter, or a list-typed output). Several
            are zipped item by item.
        parallelism: how many items run at once (``None``: no limit beyond the workflow's).
    """

    mapped: tuple[tuple[str, Value], ...]
    parallelism: int | None = None


@dataclass(frozen=True, slots=True)
class Operand:
    """One side of a comparison: a value and its type (which decides how Argo compares it)."""

    value: Value
    annotation: Any


@dataclass(frozen=True, slots=True)
class Compare:
    """``left <op> right``."""

    op: Literal["==", "!=", "<", "<=", ">", ">="]
    left: Operand
    right: Operand


@dataclass(frozen=True, slots=True)
class IsTrue:
    """A ``bool`` value used as a condition."""

    operand: Operand


@dataclass(frozen=True, slots=True)
class AllOf:
    """Every part holds (``a & b``, and nested ``when`` blocks)."""

    parts: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    """At least one part holds (``a | b``)."""

    parts: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """The part does not hold (``~a``, and ``otherwise()``)."""

    part: Condition


Condition: TypeAlias = Compare | IsTrue | AllOf | AnyOf | Not


@dataclass(frozen=True, slots=True)
class Call:
    """One call of a task, or of a sub-flow, in a flow body.

    Attributes:
        id: the call's name, unique in the flow and a valid DAG task name
            (``extract``, ``extract-2`` ...).
        task: the task called, or the traced sub-flow.
        options: the effective options of this call (decorator merged with ``.options()``).
        args: the arguments passed whole, by parameter name, in parameter order;
            parameters left out (and mapped ones) are not here.
        after: ids of calls that must finish first although no data flows from them.
        location: ``file:line`` of the call in the flow body.
        loop: the fan-out, for ``task.map(...)``.
        condition: the call runs only when this holds (``with when(...)``).
    """

    id: str
    task: TaskDef | FlowGraph
    options: TaskOptions
    args: tuple[tuple[str, Value], ...]
    after: tuple[str, ...]
    location: str
    loop: Loop | None = None
    condition: Condition | None = None

    @property
    def outputs(self) -> tuple[Output, ...]:
        """The output parameters of what is called (per item, for a loop)."""
        return self.task.outputs

    @property
    def returns_result(self) -> bool:
        """Whether the call's ``return`` output is Argo's ``outputs.result`` (the pod's stdout).

        True for a task run directly (once, or looped): its runtime writes the return value
        to stdout (NOTE: [The result is stdout] in ``flowdsl/runtime/_main.py``). A sub-flow,
        or a map wrapped in a DAG for its parallelism, is a DAG template, which has no
        stdout: it hands its return up as the output parameter ``return``. A returned
        artifact is an artifact either way.
        """
        return (
            isinstance(self.task, TaskDef)
            and (self.loop is None or self.loop.parallelism is None)
            and not any(out.artifact for out in self.task.outputs if out.name == "return")
        )

    def data_upstream(self) -> tuple[str, ...]:
        """Ids of the calls whose outputs this one reads (arguments, loop lists, condition)."""
        values = [value for _, value in self.args]
        if self.loop is not None:
            values.extend(value for _, value in self.loop.mapped)
        if self.condition is not None:
            values.extend(condition_values(self.condition))
        return tuple(sorted({v.node for v in values if isinstance(v, NodeOutput)}))

    def upstream(self) -> tuple[str, ...]:
        """Ids of the calls this one depends on (data and ordering), sorted, without repeats."""
        return tuple(sorted({*self.data_upstream(), *self.after}))


def condition_values(condition: Condition) -> list[Value]:
    """Every value a condition reads, left to right."""
    if isinstance(condition, Compare):
        return [condition.left.value, condition.right.value]
    if isinstance(condition, IsTrue):
        return [condition.operand.value]
    if isinstance(condition, (AllOf, AnyOf)):
        return [v for part in condition.parts for v in condition_values(part)]
    return condition_values(condition.part)


@dataclass(frozen=True, slots=True)
class FlowParam:
    """A parameter of a flow, exposed as an Argo workflow parameter.

    Attributes:
        name: the Argo parameter name (the Python name unless ``Param(name=...)``).
        python_name: the name of the Python parameter.
        annotation: the type hint, without ``Annotated`` metadata.
        default: the default, or ``NO_DEFAULT`` for a required parameter.
        description: from ``Param(description=...)`` or the docstring's ``Args:`` section.
    """

    name: str
    python_name: str
    annotation: Any
    default: Any = NO_DEFAULT
    description: str | None = None

    @property
    def required(self) -> bool:
        """Whether a value must be supplied (there is no default)."""
        return self.default is NO_DEFAULT


@dataclass(frozen=True, slots=True)
class FlowGraph:
    """A traced flow.

    Attributes:
        name: the Argo name of the flow (DNS-1123).
        qualname: the flow function's ``module.qualname``, for messages.
        params: the flow's parameters, in declaration order.
        calls: the task calls, in the order the flow body made them (a topological order).
        returns: the flow's return hint (``None`` when it returns nothing).
        result: the outputs the flow returns, as (output name, value) pairs.
        outputs: the output parameters those become (their names and types).
        options: the flow's options.
        description: the first paragraph of the flow's docstring.
        location: ``file:line`` of the definition.
        on_exit: the call run when the workflow ends, whatever its status (Argo's onExit).
    """

    name: str
    qualname: str
    params: tuple[FlowParam, ...]
    calls: tuple[Call, ...]
    returns: Any
    result: tuple[tuple[str, Value], ...]
    options: FlowOptions
    description: str | None
    location: str
    outputs: tuple[Output, ...] = ()
    on_exit: Call | None = None
    _by_id: dict[str, Call] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {call.id: call for call in self.calls})

    def call(self, call_id: str) -> Call:
        """The call with id ``call_id``."""
        return self._by_id[call_id]

    def dump(self) -> str:
        """A stable, human-readable text form (one line per call) for golden tests."""
        params = ", ".join(_param_repr(p) for p in self.params)
        lines = [f"flow {self.name}({params}) -> {type_repr(self.returns)}"]
        options = f"  options: image={self.options.image!r} code={self.options.code}"
        if not self.options.fail_fast:
            options += " fail_fast=False"
        lines.append(options)
        for call in self.calls:
            lines.append("  " + _call_repr(call))
        if self.result:
            outs = ", ".join(f"{name}={_value_repr(value)}" for name, value in self.result)
            lines.append(f"  return {outs}")
        if self.on_exit is not None:
            lines.append("  on exit: " + _call_repr(self.on_exit))
        for call in self.calls:
            if isinstance(call.task, TaskDef) and call.task.steps:
                lines.append(f"  fused {call.task.name}:")
                lines += [f"    {_call_repr(step)}" for step in call.task.steps]
            if isinstance(call.task, FlowGraph):
                nested = call.task.dump().rstrip("\n").replace("\n", "\n  ")
                lines.append(f"  {nested}")
        return "\n".join(lines) + "\n"


def _call_repr(call: Call) -> str:
    args = [f"{name}={_value_repr(value)}" for name, value in call.args]
    if call.loop is not None:
        args += [f"{name}=each({_value_repr(value)})" for name, value in call.loop.mapped]
    kind = "flow " if isinstance(call.task, FlowGraph) else ""
    if isinstance(call.task, TaskDef) and call.task.steps:
        kind = "fused "
    line = f"%{call.id} = {kind}{call.task.name}({', '.join(args)})"
    if call.condition is not None:
        line += f" when {condition_repr(call.condition)}"
    if call.after:
        line += " after " + ", ".join(f"%{a}" for a in call.after)
    if call.options != TaskOptions():
        line += f"  [{options_repr(call.options)}]"
    return line


def condition_repr(condition: Condition) -> str:
    """A readable rendering of a condition (``%pick.accuracy > 0.95 & $mode == 'full'``)."""
    if isinstance(condition, Compare):
        left, right = _value_repr(condition.left.value), _value_repr(condition.right.value)
        return f"{left} {condition.op} {right}"
    if isinstance(condition, IsTrue):
        return _value_repr(condition.operand.value)
    if isinstance(condition, Not):
        return f"~({condition_repr(condition.part)})"
    joiner = " & " if isinstance(condition, AllOf) else " | "
    return "(" + joiner.join(condition_repr(p) for p in condition.parts) + ")"


def list_of(annotation: Any) -> Any:
    """``list[annotation]`` for a type only known at run time (the type of a map's result)."""
    return list[annotation]


def type_repr(annotation: Any) -> str:
    """A short, stable rendering of a type hint (``list[dict]``, ``Metrics``, ``None``)."""
    if annotation is None or annotation is type(None):
        return "None"
    if isinstance(annotation, type) and not getattr(annotation, "__args__", None):
        return annotation.__name__
    text = repr(annotation)
    return text.replace("typing.", "").replace("typing_extensions.", "")


def _param_repr(param: FlowParam) -> str:
    text = f"{param.name}: {type_repr(param.annotation)}"
    if param.python_name != param.name:
        text = f"{param.python_name} as {text}"
    if not param.required:
        text += f" = {param.default!r}"
    return text


def _value_repr(value: Value) -> str:
    if isinstance(value, Const):
        return repr(value.value)
    if isinstance(value, FlowInput):
        return f"${value.name}"
    if isinstance(value, WorkflowVar):
        return f"workflow.{value.name}"
    if value.output == "return":
        return f"%{value.node}"
    return f"%{value.node}.{value.output}"


def options_repr(options: TaskOptions) -> str:
    """The options set at this level, compactly (``retries=3 timeout=7200``)."""
    parts = []
    for name in options.__dataclass_fields__:
        value = getattr(options, name)
        if value is None:
            continue
        if name == "retries":
            value = value.limit  # Retry(limit=...), shown as its limit
        parts.append(f"{name}={value!r}")
    return " ".join(parts)
