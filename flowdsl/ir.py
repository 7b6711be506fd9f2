"""The intermediate representation: frozen values that describe a traced flow.

The tracer (:mod:`flowdsl.dsl`) builds these values; the lowering (:mod:`flowdsl.lower`)
reads them. Nothing here knows about Hera, Argo's YAML or the tracer's proxies.

Node kinds are a closed set. A *value* that flows into a task argument is one of:

- :class:`Const`: a Python constant written in the flow body, already checked against the
  parameter's type;
- :class:`FlowInput`: a parameter of the flow being traced;
- :class:`NodeOutput`: an output parameter of an earlier call (``"return"`` for the whole
  returned value, or a field name for ``ref.field``).

A :class:`Call` is one call of a task in the flow body; a :class:`FlowGraph` is the whole
traced flow. Every collection is a tuple, so values are hashable and safe to share.

``FlowGraph.dump()`` renders a stable text form used by golden tests of the tracer.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

__all__ = [
    "NO_DEFAULT",
    "Call",
    "CodeMode",
    "Const",
    "FlowGraph",
    "FlowInput",
    "FlowOptions",
    "FlowParam",
    "NodeOutput",
    "Output",
    "TaskDef",
    "TaskOptions",
    "TaskParam",
    "Value",
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


@dataclass(frozen=True, slots=True)
class TaskOptions:
    """Execution options of a task, after merging decorator and call-site overrides.

    Attributes:
        image: container image; ``None`` means the flow's image.
        retries: how many times Argo retries a failed pod (``retryStrategy.limit``).
        timeout: step deadline in seconds (``activeDeadlineSeconds``).
    """

    image: str | None = None
    retries: int | None = None
    timeout: int | None = None


@dataclass(frozen=True, slots=True)
class FlowOptions:
    """Options of a flow.

    Attributes:
        image: the default container image of every task of the flow.
        code: how task code reaches the pod (see :data:`CodeMode`).
    """

    image: str | None = None
    code: CodeMode = "auto"


@dataclass(frozen=True, slots=True)
class TaskParam:
    """A parameter of a task function: name, type hint, and default (or ``NO_DEFAULT``)."""

    name: str
    annotation: Any
    default: Any = NO_DEFAULT


@dataclass(frozen=True, slots=True)
class Output:
    """An output parameter a task writes: ``return``, or one field of a structured return."""

    name: str
    annotation: Any


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


Value: TypeAlias = Const | FlowInput | NodeOutput


@dataclass(frozen=True, slots=True)
class Call:
    """One call of a task in a flow body.

    Attributes:
        id: the call's name, unique in the flow and a valid DAG task name
            (``extract``, ``extract-2`` ...).
        task: the task called.
        options: the effective options of this call (decorator merged with ``.options()``).
        args: the arguments given, by parameter name, in the task's parameter order;
            parameters left out use their default.
        after: ids of calls that must finish first although no data flows from them.
        location: ``file:line`` of the call in the flow body.
    """

    id: str
    task: TaskDef
    options: TaskOptions
    args: tuple[tuple[str, Value], ...]
    after: tuple[str, ...]
    location: str

    def upstream(self) -> tuple[str, ...]:
        """Ids of the calls this one depends on (data and ordering), sorted, without repeats."""
        ids = {value.node for _, value in self.args if isinstance(value, NodeOutput)}
        ids.update(self.after)
        return tuple(sorted(ids))


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
        options: the flow's options.
        description: the first paragraph of the flow's docstring.
        location: ``file:line`` of the definition.
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
        lines.append(f"  options: image={self.options.image!r} code={self.options.code}")
        for call in self.calls:
            args = ", ".join(f"{name}={_value_repr(value)}" for name, value in call.args)
            line = f"  %{call.id} = {call.task.name}({args})"
            if call.after:
                line += " after " + ", ".join(f"%{a}" for a in call.after)
            if call.options != TaskOptions():
                line += f"  [{_options_repr(call.options)}]"
            lines.append(line)
        if self.result:
            outs = ", ".join(f"{name}={_value_repr(value)}" for name, value in self.result)
            lines.append(f"  return {outs}")
        return "\n".join(lines) + "\n"


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
    if value.output == "return":
        return f"%{value.node}"
    return f"%{value.node}.{value.output}"


def _options_repr(options: TaskOptions) -> str:
    parts = []
    for name in ("image", "retries", "timeout"):
        value = getattr(options, name)
        if value is not None:
            parts.append(f"{name}={value!r}")
    return " ".join(parts)
