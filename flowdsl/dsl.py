"""The authoring layer: ``@task``, ``@flow``, ``Param``, and the tracer.

The tracer turns a flow body into a :class:`flowdsl.ir.FlowGraph`. How tracing works (the
torch.fx idea, specialised to typed tasks): tracing a flow calls its body once with a
:class:`Ref` for each parameter. A :class:`Task` called while a trace is active records a
:class:`flowdsl.ir.Call` and returns a :class:`Ref` to the call's future output; called with no
trace active, it is the plain function, so unit tests call tasks directly. A :class:`Ref` only
forwards: attribute access on a structured output gives a reference to that field, and every
use that would need the real value (``if ref``, ``len(ref)``, ``str(ref)``, arithmetic ...)
raises :class:`flowdsl.errors.TraceError` naming what to do instead.

This module imports neither Hera nor pydantic: it runs when a user's module is imported.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import dataclasses
import difflib
import inspect
import json
import os
import re
import sys
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NoReturn, TypeVar, overload

import typing_extensions as te
from typing_extensions import ParamSpec

from flowdsl import types as codecs
from flowdsl.artifacts import ArtifactKind, artifact_kind
from flowdsl.errors import (
    AnnotationError,
    DefinitionError,
    FlowDSLError,
    OptionError,
    TraceError,
)
from flowdsl.ir import (
    NO_DEFAULT,
    AllOf,
    AnyOf,
    Call,
    CodeMode,
    Compare,
    Condition,
    Const,
    FlowGraph,
    FlowInput,
    FlowOptions,
    FlowParam,
    IsTrue,
    Loop,
    NodeOutput,
    Not,
    Operand,
    Output,
    TaskDef,
    TaskOptions,
    TaskParam,
    Value,
    WorkflowOptions,
    WorkflowVar,
    condition_repr,
    list_of,
    options_repr,
    type_repr,
)
from flowdsl.names import MAX_GENERATE_NAME, Namespace, dns_name, is_parameter_name

__all__ = [
    "Cond",
    "Flow",
    "Param",
    "Ref",
    "Task",
    "flow",
    "fused",
    "otherwise",
    "parse_duration",
    "task",
    "unmapped",
    "when",
]

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Param:
    """Metadata for a flow parameter, given through ``Annotated``.

    Example::

        def nightly(lr: Annotated[float, Param(description="learning rate")] = 0.01): ...

    Attributes:
        description: shown in the Argo UI's submit form (the type is appended).
        name: the Argo parameter name, when it should differ from the Python name.
    """

    description: str | None = None
    name: str | None = None


# --------------------------------------------------------------------------------------------
# Locations and small parsers
# --------------------------------------------------------------------------------------------


def _display_path(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path
    return path if rel.startswith("..") else rel


def _definition_location(fn: Callable[..., Any]) -> str:
    code = getattr(fn, "__code__", None)
    if code is None:
        return "<unknown>"
    return f"{_display_path(code.co_filename)}:{code.co_firstlineno}"


_FLOWDSL_DIR = os.path.dirname(os.path.abspath(__file__))


def _caller_location() -> str:
    """``file:line`` of the innermost frame outside flowdsl (the user's call site)."""
    frame: types.FrameType | None = sys._getframe(1)
    # Skip flowdsl's own frames, and contextlib's (when(...) and fused(...) are context
    # managers: their checks run inside contextlib's __exit__).
    while frame is not None and (
        os.path.dirname(os.path.abspath(frame.f_code.co_filename)).startswith(_FLOWDSL_DIR)
        or frame.f_code.co_filename == contextlib.__file__
    ):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    return f"{_display_path(frame.f_code.co_filename)}:{frame.f_lineno}"


def parse_duration(value: object, *, option: str, **where: str | None) -> int:
    """Seconds in a duration given as ``"2h"``, ``"1h30m"``, ``"90s"`` or a number of seconds.

    Raises:
        OptionError: the value is not a positive duration.
    """
    from flowdsl.options import check_duration

    return check_duration(value, option=option, **where)


#: Options of a flow that apply to the whole workflow, not to its tasks.
_WORKFLOW_OPTIONS = (
    "labels",
    "annotations",
    "parallelism",
    "service_account",
    "priority_class",
    "volumes",
    "workflow_timeout",
    "pod_gc",
    "max_concurrent",
    "artifact_repository",
)


def _freeze(name: str, value: Any) -> Any:
    """The hashable IR form of a checked option value (see ``ir.TaskOptions``)."""
    if value is None:
        return None
    if name == "affinity":
        return json.dumps(value, sort_keys=True)
    if isinstance(value, Mapping):
        return tuple(value.items())
    if isinstance(value, list):
        return tuple(value)
    return value


def _checked(name: str, value: Any, **where: str | None) -> Any:
    from flowdsl.options import check_option

    try:
        return _freeze(name, check_option(name, value))
    except OptionError as exc:
        raise OptionError(exc.problem, fix=exc.fix, **where) from None


def _task_options(
    base: TaskOptions, overrides: Mapping[str, Any], *, task: str, location: str
) -> TaskOptions:
    """``base`` with ``overrides`` applied, each override checked."""
    from flowdsl.options import TASK_OPTIONS

    changes: dict[str, Any] = {}
    for key, value in overrides.items():
        if value is None:
            continue
        if key == "profile":
            if not isinstance(value, str) or not value:
                raise OptionError(
                    f"option 'profile' must be the name of a profile (got {value!r})",
                    fix='write e.g. profile="gpu-large", defined under '
                    "[tool.flowdsl.profiles.gpu-large] in pyproject.toml",
                    task=task,
                    location=location,
                )
            changes[key] = value
            continue
        if key not in TASK_OPTIONS and key in (*_WORKFLOW_OPTIONS, "code", "fail_fast"):
            raise OptionError(
                f"option '{key}' applies to a whole workflow, not to one task",
                fix=f"set it on the flow: @flow({key}=...)",
                task=task,
                location=location,
            )
        if key not in TASK_OPTIONS:
            valid = (*TASK_OPTIONS, "profile")
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise OptionError(
                f"unknown option '{key}'",
                fix=f"{hint}valid options: {', '.join(valid)}",
                task=task,
                location=location,
            )
        changes[key] = _checked(key, value, task=task, location=location)
    return dataclasses.replace(base, **changes)


def option_layers(values: Mapping[str, Any]) -> tuple[TaskOptions, WorkflowOptions]:
    """Task and workflow options from already checked values (a profile, project defaults).

    Flow-only switches that are not options of either level (``code``, ``fail_fast``) are
    left out: the caller applies them.
    """
    tasks = {k: _freeze(k, v) for k, v in values.items() if k in TaskOptions.__dataclass_fields__}
    workflow = {
        k: _freeze(k, v)
        for k, v in values.items()
        if k in _WORKFLOW_OPTIONS and k in WorkflowOptions.__dataclass_fields__
    }
    for name in workflow:
        tasks.pop(name, None)  # e.g. labels at project level label workflows
    return TaskOptions(**tasks), WorkflowOptions(**workflow)


def _flow_options(
    options: Mapping[str, Any], *, flow: str, location: str
) -> tuple[TaskOptions, WorkflowOptions]:
    """Split a flow's options into task defaults and workflow options, each checked."""
    tasks: dict[str, Any] = {}
    workflow: dict[str, Any] = {}
    for key, value in options.items():
        if value is None:
            continue
        if key == "max_concurrent":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise OptionError(
                    f"option 'max_concurrent' must be a whole number >= 1 (got {value!r})",
                    fix="write max_concurrent=1 so that no two runs of the flow overlap",
                    flow=flow,
                    location=location,
                )
            workflow[key] = value
        elif key in _WORKFLOW_OPTIONS:
            workflow[key] = _checked(key, value, flow=flow, location=location)
        elif key == "profile":
            raise OptionError(
                "option 'profile' chooses a machine type for a task",
                fix="set it on the task: @task(profile=...) or task.options(profile=...)",
                flow=flow,
                location=location,
            )
        else:
            tasks[key] = _checked(key, value, flow=flow, location=location)
    return TaskOptions(**tasks), WorkflowOptions(**workflow)


# --------------------------------------------------------------------------------------------
# Signatures
# --------------------------------------------------------------------------------------------


def _hints(fn: Callable[..., Any], *, kind: str, name: str, location: str) -> dict[str, Any]:
    where = {"flow": name} if kind == "flow" else {"task": name}
    try:
        return typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:  # NameError for a forward reference, TypeError for bad hints
        raise AnnotationError(
            f"the type hints of {fn.__qualname__} cannot be resolved ({type(exc).__name__}: {exc})",
            fix="import every type used in the hints at module level",
            location=location,
            **where,
        ) from None


def _strip_annotated(annotation: Any) -> tuple[Any, tuple[Any, ...]]:
    if typing.get_origin(annotation) is typing.Annotated:
        return annotation.__origin__, tuple(annotation.__metadata__)
    return annotation, ()


def _codec(
    annotation: Any, *, kind: str, owner: str, parameter: str | None, location: str
) -> codecs.Codec | None:
    """The codec of a parameter or return hint; ``None`` for an artifact (a task's only).

    Raises:
        AnnotationError: the hint is not supported, or is an artifact where only text
            parameters can be (a flow's parameters and result, which Argo passes as text).
    """
    where: dict[str, Any] = {"flow": owner} if kind == "flow" else {"task": owner}
    artifact = artifact_kind(annotation)
    if artifact is not None:
        if kind == "flow":
            what = f"parameter '{parameter}'" if parameter else "the result"
            raise AnnotationError(
                f"{what} is typed {type_repr(annotation)}, an Argo artifact; a flow's "
                "parameters and result are Argo parameters (text)",
                fix="take a path or URL string and read it in a task; pass artifacts between tasks",
                parameter=parameter,
                location=location,
                **where,
            )
        if artifact.kind == "value":
            _codec(artifact.inner, kind=kind, owner=owner, parameter=parameter, location=location)
        return None
    try:
        codec = codecs.codec_for(annotation)
    except FlowDSLError as exc:
        raise AnnotationError(
            exc.problem, fix=exc.fix, parameter=parameter, location=location, **where
        ) from None
    if codec.is_artifact:  # a Path subclass the artifact table does not list
        raise AnnotationError(
            f"type '{codec.type_name}' is passed as an Argo artifact, but not one flowdsl "
            "knows how to store",
            fix="use bytes, pathlib.Path or Artifact[T]",
            parameter=parameter,
            location=location,
            **where,
        )
    return codec


def _signature_params(
    fn: Callable[..., Any], hints: Mapping[str, Any], *, kind: str, name: str, location: str
) -> list[tuple[inspect.Parameter, Any]]:
    where: dict[str, Any] = {"flow": name} if kind == "flow" else {"task": name}
    out = []
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            star = "*" if param.kind is param.VAR_POSITIONAL else "**"
            raise DefinitionError(
                f"{star}{param.name} cannot become Argo parameters (every parameter needs a "
                "name and a type)",
                fix="declare each parameter explicitly",
                parameter=param.name,
                location=location,
                **where,
            )
        if param.name not in hints:
            raise AnnotationError(
                "has no type hint (flowdsl needs one to encode the value as an Argo parameter)",
                fix=f"annotate it, e.g. '{param.name}: str'",
                parameter=param.name,
                location=location,
                **where,
            )
        if not is_parameter_name(param.name):
            raise DefinitionError(
                f"the name {param.name!r} is not a valid Argo parameter name (expected ASCII "
                "letters, digits, '_' and '-')",
                fix="rename the parameter",
                parameter=param.name,
                location=location,
                **where,
            )
        out.append((param, hints[param.name]))
    if "return" not in hints:
        raise AnnotationError(
            "has no return type hint",
            fix="annotate the return type, e.g. '-> int', or '-> None' if it returns nothing",
            location=location,
            **where,
        )
    return out


def _return_annotation(hints: Mapping[str, Any]) -> Any:
    returns = hints["return"]
    return None if returns is type(None) else returns


# --------------------------------------------------------------------------------------------
# Tasks
# --------------------------------------------------------------------------------------------


class Task(Generic[P, R]):
    """A function decorated with ``@task``.

    Called outside a flow being traced, it is the plain function. Inside a flow being
    traced, a call records a step of the flow and returns a :class:`Ref` to its output.
    """

    __slots__ = ("__dict__", "__wrapped__", "_call_options", "definition")

    def __init__(self, definition: TaskDef, call_options: TaskOptions | None = None) -> None:
        self.definition = definition
        self.__wrapped__ = definition.fn
        self._call_options = call_options
        # Look like the function to help(), inspect and documentation tools.
        for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
            setattr(self, attr, getattr(definition.fn, attr, None))

    @property
    def name(self) -> str:
        """The task's Argo name."""
        return self.definition.name

    def options(self, **overrides: Any) -> Task[P, R]:
        """The same task with per-call options, e.g. ``train.options(retries=5)(rows)``.

        Raises:
            OptionError: an option is unknown or has an invalid value.
        """
        base = self._call_options or self.definition.options
        merged = _task_options(
            base, overrides, task=self.definition.name, location=_caller_location()
        )
        return Task(self.definition, merged)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run the function, or, while a flow is being traced, record a call of it."""
        tracer = _ACTIVE_TRACER.get()
        if tracer is None:
            return self.definition.fn(*args, **kwargs)  # type: ignore[no-any-return]
        return tracer.record(  # type: ignore[return-value]
            self, args, kwargs, _caller_location()
        )

    def map(self, *args: Any, **kwargs: Any) -> Any:
        """Fan out: call the task once per item of the list arguments (zipped).

        An argument whose value is a list of the parameter's type is mapped; the others are
        passed whole to every call (force that with :func:`unmapped`). In a flow the result
        is a reference to the list of outputs (fan-in: pass it to a ``list[...]``
        parameter); outside a flow it is the list of results.

        Raises:
            TraceError: nothing to map over, a value that is neither the parameter's type
                nor a list of it, or lists of different known lengths.
        """
        tracer = _ACTIVE_TRACER.get()
        if tracer is None:
            return _map_locally(self.definition.fn, self.definition.params, args, kwargs)
        return tracer.record(self, args, kwargs, _caller_location(), mapped=True)

    def __repr__(self) -> str:
        return f"<flowdsl task {self.definition.name!r} ({self.definition.qualname})>"


def _make_task(
    fn: Callable[..., Any], name: str | None, options: Mapping[str, Any]
) -> Task[Any, Any]:
    if isinstance(fn, (Task, Flow)):
        raise DefinitionError(
            f"{fn!r} is already decorated",
            fix="apply @task or @flow once",
            location=_caller_location(),
        )
    if not inspect.isfunction(fn):
        raise DefinitionError(
            f"@task decorates functions (got {type(fn).__name__})",
            fix="put @task on a 'def'",
            location=_caller_location(),
        )
    location = _definition_location(fn)
    argo_name = dns_name(
        name if name is not None else fn.__name__,
        kind="task",
        explicit=name is not None,
        location=location,
    )
    hints = _hints(fn, kind="task", name=argo_name, location=location)
    params = []
    for param, annotation in _signature_params(
        fn, hints, kind="task", name=argo_name, location=location
    ):
        bare, _ = _strip_annotated(annotation)
        codec = _codec(bare, kind="task", owner=argo_name, parameter=param.name, location=location)
        default = NO_DEFAULT if param.default is param.empty else param.default
        if default is not NO_DEFAULT and codec is None:
            raise DefinitionError(
                "an artifact parameter cannot have a default (Argo artifacts come from files "
                "in the artifact repository)",
                fix="drop the default, or make the parameter an ordinary type",
                task=argo_name,
                parameter=param.name,
                location=location,
            )
        if default is not NO_DEFAULT and codec is not None:
            _check_default(
                codec,
                default,
                kind="task",
                owner=argo_name,
                parameter=param.name,
                location=location,
            )
        params.append(TaskParam(param.name, bare, default))
    returns, _ = _strip_annotated(_return_annotation(hints))
    if returns is not None:
        _codec(returns, kind="task", owner=argo_name, parameter=None, location=location)
    if artifact_kind(returns) is not None:
        outputs: tuple[Output, ...] = (Output("return", returns, artifact=True),)
    else:
        outputs = tuple(Output(n, t) for n, t in codecs.output_parameters(returns))
    task_options = _task_options(TaskOptions(), options, task=argo_name, location=location)
    definition = TaskDef(
        name=argo_name,
        fn=fn,
        module=fn.__module__,
        qualname=fn.__qualname__,
        params=tuple(params),
        returns=returns,
        outputs=outputs,
        hints=tuple(hints.items()),
        options=task_options,
        location=location,
    )
    return Task(definition)


def _check_default(
    codec: codecs.Codec, default: Any, *, kind: str, owner: str, parameter: str, location: str
) -> None:
    try:
        codec.validate(default)
    except FlowDSLError as exc:
        where: dict[str, Any] = {"flow": owner} if kind == "flow" else {"task": owner}
        raise DefinitionError(
            f"the default {default!r} does not fit the type hint: {exc.problem}",
            fix="change the default or the hint",
            parameter=parameter,
            location=location,
            **where,
        ) from None


@overload
def task(fn: Callable[P, R], /) -> Task[P, R]: ...


@overload
def task(*, name: str | None = None, **options: Any) -> Callable[[Callable[P, R]], Task[P, R]]: ...


def task(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    **options: Any,
) -> Task[P, R] | Callable[[Callable[P, R]], Task[P, R]]:
    """Declare a task: one step of a flow, run in its own pod.

    Use bare (``@task``) or with options (``@task(retries=3, timeout="2h")``).
    Every parameter and the return value need a type hint: they decide how values are
    encoded as Argo parameters.

    Args:
        fn: the function (when used bare).
        name: the Argo name of the task (default: the function name, ``_`` -> ``-``).
        **options: execution options (docs/options.md): ``image``, ``image_pull_policy``,
            ``resources`` (``Resources(cpu=..., memory=..., gpu=...)``), ``node_selector``,
            ``tolerations``, ``affinity``, ``env``, ``secrets`` (``Secret(name, key)``),
            ``retries`` (a limit or ``Retry(...)``), ``timeout`` (``"2h"``), ``volumes``,
            ``service_account``, ``labels``, ``annotations``, ``priority_class``, ``cache``,
            ``parallelism`` (items of a map at once), ``continue_on_failure``, and
            ``profile`` (a machine type from ``[tool.flowdsl.profiles]``).

    Raises:
        AnnotationError: a hint is missing or not supported.
        InvalidNameError: the name cannot become an Argo name.
        OptionError: an option is unknown or invalid.
    """
    if fn is not None:
        return _make_task(fn, name, options)

    def decorate(inner: Callable[P, R]) -> Task[P, R]:
        return _make_task(inner, name, options)

    return decorate


# --------------------------------------------------------------------------------------------
# References
# --------------------------------------------------------------------------------------------


class Ref:
    """A reference, during tracing, to a value that exists only when the workflow runs.

    Pass it to other tasks; read a field of a structured output with ``ref.field`` (or
    ``ref[i]`` for a tuple); compare it (``ref.accuracy > 0.9``) to build a condition for
    :func:`when`; order calls without data with ``ref.after(other)``. Anything that needs the
    actual value raises :class:`TraceError`.
    """

    __slots__ = ("_annotation", "_element", "_label", "_tracer", "_value")
    # Declared so that type checkers do not route these through __getattr__.
    _tracer: _Tracer
    _value: Value | None
    _annotation: Any
    _element: Any
    _label: str

    def __init__(
        self,
        tracer: _Tracer,
        value: Value | None,
        annotation: Any,
        label: str,
        element: Any = None,
    ) -> None:
        object.__setattr__(self, "_tracer", tracer)
        object.__setattr__(self, "_value", value)
        object.__setattr__(self, "_annotation", annotation)
        object.__setattr__(self, "_label", label)
        # For the result of a map: the type of one item's output (the reference is a list).
        object.__setattr__(self, "_element", element)

    # -- what a reference can do ---------------------------------------------------------

    def after(self, *refs: Ref) -> Ref:
        """Make this call wait for the calls behind ``refs``, with no data passed.

        Returns:
            this reference, so ``extract(x).after(setup())`` reads naturally.
        """
        node = self._node_id("after")
        for ref in refs:
            if not isinstance(ref, Ref):
                self._fail(
                    f".after() takes references returned by task calls (got {ref!r})",
                    "pass the value a task call returned",
                )
            self._tracer.add_order(node, ref._node_id("after"), self._label)
        return self

    def __getattr__(self, name: str) -> Ref:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._field(name, f".{name}")

    def __getitem__(self, key: object) -> Ref:
        if isinstance(key, bool) or not isinstance(key, (int, str)):
            self._fail(
                f"{self._label}[{key!r}]: only a field name or a tuple position can be used",
                "index inside a task, which receives the real value",
            )
        if isinstance(key, int):
            fields = codecs.structured_fields(self._item_type) or ()
            if not fields or fields[0][0] != "0":
                self._fail(
                    f"{self._label}[{key}]: positions can be read only from a fixed-length "
                    f"tuple output (this is {type_repr(self._annotation)})",
                    "pass the whole value to a task and index it there",
                )
            return self._field(str(key), f"[{key}]")
        return self._field(key, f"[{key!r}]")

    def __iter__(self) -> Iterator[Ref]:
        fields = codecs.structured_fields(self._annotation) or ()
        if not (fields and fields[0][0] == "0"):  # only a fixed-length tuple output unpacks
            self._not_iterable()
        return iter([self._field(name, f"[{name}]") for name, _ in fields])

    def _not_iterable(self) -> NoReturn:
        self._fail(
            f"iterating over {self._label} needs its value, which exists only when the "
            "workflow runs",
            "fan out with task.map(...) over it, or loop inside a task",
        )

    def __repr__(self) -> str:
        return f"<flowdsl ref {self._label}: {type_repr(self._annotation)}>"

    # -- conditions -------------------------------------------------------------------------

    def __eq__(self, other: object) -> Cond:  # type: ignore[override]
        return _compare(self, "==", other)

    def __ne__(self, other: object) -> Cond:  # type: ignore[override]
        return _compare(self, "!=", other)

    def __lt__(self, other: object) -> Cond:
        return _compare(self, "<", other)

    def __le__(self, other: object) -> Cond:
        return _compare(self, "<=", other)

    def __gt__(self, other: object) -> Cond:
        return _compare(self, ">", other)

    def __ge__(self, other: object) -> Cond:
        return _compare(self, ">=", other)

    def __and__(self, other: object) -> Cond:
        return _as_condition(self) & other

    def __rand__(self, other: object) -> Cond:
        return _as_condition(other, self._tracer) & self

    def __or__(self, other: object) -> Cond:
        return _as_condition(self) | other

    def __ror__(self, other: object) -> Cond:
        return _as_condition(other, self._tracer) | self

    def __invert__(self) -> Cond:
        return ~_as_condition(self)

    def __hash__(self) -> int:
        return id(self)

    # -- what needs a real value ----------------------------------------------------------

    def __bool__(self) -> bool:
        self._fail(
            f"'if {self._label}' (or and/or/not) needs its value, which exists only when the "
            "workflow runs",
            "run tasks conditionally with 'with when(...):', or branch inside a task",
        )

    def __len__(self) -> int:
        self._fail(
            f"len({self._label}) needs its value, which exists only when the workflow runs",
            "compute the length inside a task",
        )

    def __int__(self) -> int:
        self._needs_value("int")

    def __float__(self) -> float:
        self._needs_value("float")

    def __index__(self) -> int:
        self._needs_value("an index")

    def __str__(self) -> str:
        self._needs_value("str")

    def __format__(self, spec: str) -> str:
        self._needs_value("an f-string or format()")

    def __contains__(self, item: object) -> bool:
        self._needs_value("'in'")

    def __call__(self, *args: object, **kwargs: object) -> NoReturn:
        """Refused: a reference is not callable."""
        self._fail(
            f"{self._label} is a reference to a task's output, not a function",
            "call the task itself",
        )

    def __setattr__(self, name: str, value: object) -> NoReturn:
        self._fail(
            f"cannot set {self._label}.{name}: outputs of tasks are read-only",
            "build a new value inside a task",
        )

    # -- helpers ---------------------------------------------------------------------------

    @property
    def _item_type(self) -> Any:
        return self._element if self._element is not None else self._annotation

    def _fail(self, problem: str, fix: str) -> NoReturn:
        raise TraceError(problem, fix=fix, flow=self._tracer.flow_name, location=_caller_location())

    def _needs_value(self, construct: str) -> NoReturn:
        self._fail(
            f"converting {self._label} to {construct} needs its value, which exists only when "
            "the workflow runs (a plain function called on a reference does this)",
            "pass the reference to a @task, which receives the real value",
        )

    def _node_id(self, what: str) -> str:
        if not isinstance(self._value, NodeOutput):
            self._fail(
                f"{what}: {self._label} is a flow parameter, not the result of a task call",
                "use the value returned by a task call",
            )
        return self._value.node

    def _field(self, name: str, suffix: str) -> Ref:
        label = f"{self._label}{suffix}"
        fields = dict(codecs.structured_fields(self._item_type) or ())
        if name not in fields:
            if fields:
                known = ", ".join(f for f in fields)
                problem = f"{type_repr(self._item_type)} has no field {name!r} (fields: {known})"
            else:
                problem = (
                    f"{self._label} is a {type_repr(self._annotation)}, which has no fields; "
                    f"'{label}' needs the value, which exists only when the workflow runs"
                )
            self._fail(
                problem, "read fields that the type declares, or work on the value in a task"
            )
        value = self._value
        output = name if not name.isdigit() else f"return-{name}"
        if not (isinstance(value, NodeOutput) and value.output == "return"):
            where = "a flow parameter" if isinstance(value, FlowInput) else "a field"
            self._fail(
                f"'{label}': fields can be read from the whole output of a task call, and "
                f"{self._label} is {where}",
                "pass the whole value to a task and read the field there",
            )
        produced = self._tracer.outputs_of(value.node)
        if output not in {o.name for o in produced}:
            self._fail(
                f"'{label}': field {name!r} is not an output parameter of "
                f"'{value.node}' (its name is not a valid Argo parameter name)",
                "pass the whole value to a task and read the field there",
            )
        field_type = fields[name]
        if self._element is not None:  # a field of every item: a list (fan-in)
            return Ref(
                self._tracer,
                NodeOutput(value.node, output),
                list_of(field_type),
                label,
                element=field_type,
            )
        return Ref(self._tracer, NodeOutput(value.node, output), field_type, label)


class _NoOutputRef(Ref):
    """The result of calling a task that returns nothing: usable only with ``.after()``."""

    __slots__ = ()


def _refuse_operator(symbol: str) -> Callable[..., NoReturn]:
    def refuse(self: Ref, *_: object) -> NoReturn:
        self._fail(
            f"'{symbol}' on {self._label} needs its value, which exists only when the "
            "workflow runs",
            "compute with the value inside a task, which receives the real value",
        )

    return refuse


# Arithmetic would otherwise fail with Python's own TypeError, which does not say what to
# do. `&`, `|` and `~` build conditions instead (see Cond).
for _name, _symbol in {
    "add": "+",
    "sub": "-",
    "mul": "*",
    "matmul": "@",
    "truediv": "/",
    "floordiv": "//",
    "mod": "%",
    "pow": "**",
    "lshift": "<<",
    "rshift": ">>",
    "xor": "^",
}.items():
    setattr(Ref, f"__{_name}__", _refuse_operator(_symbol))
    setattr(Ref, f"__r{_name}__", _refuse_operator(_symbol))
for _name, _symbol in {"neg": "-", "pos": "+", "abs": "abs()", "round": "round()"}.items():
    setattr(Ref, f"__{_name}__", _refuse_operator(_symbol))


# --------------------------------------------------------------------------------------------
# Conditions
# --------------------------------------------------------------------------------------------


class Cond:
    """A condition built from references, for ``with when(cond):``.

    Combine with ``&`` (and), ``|`` (or) and ``~`` (not); Python's ``and``/``or``/``not``
    cannot be overloaded and raise :class:`TraceError`.
    """

    __slots__ = ("_condition", "_tracer")

    def __init__(self, tracer: _Tracer, condition: Condition) -> None:
        self._tracer = tracer
        self._condition = condition

    def __and__(self, other: object) -> Cond:
        right = _as_condition(other, self._tracer)._condition
        return Cond(self._tracer, AllOf((*_parts(self._condition, AllOf), *_parts(right, AllOf))))

    def __rand__(self, other: object) -> Cond:
        return _as_condition(other, self._tracer) & self

    def __or__(self, other: object) -> Cond:
        right = _as_condition(other, self._tracer)._condition
        return Cond(self._tracer, AnyOf((*_parts(self._condition, AnyOf), *_parts(right, AnyOf))))

    def __ror__(self, other: object) -> Cond:
        return _as_condition(other, self._tracer) | self

    def __invert__(self) -> Cond:
        inner = self._condition
        return Cond(self._tracer, inner.part if isinstance(inner, Not) else Not(inner))

    def __bool__(self) -> bool:
        raise TraceError(
            f"'if {condition_repr(self._condition)}': a condition on workflow values is known "
            "only when the workflow runs (and/or/not need its value too)",
            fix="use 'with when(condition):' around the tasks to run, and &, |, ~ to combine",
            flow=self._tracer.flow_name,
            location=_caller_location(),
        )

    def __repr__(self) -> str:
        return f"<flowdsl condition {condition_repr(self._condition)}>"


def _parts(condition: Condition, kind: type[AllOf] | type[AnyOf]) -> tuple[Condition, ...]:
    return condition.parts if isinstance(condition, kind) else (condition,)


def _as_condition(value: object, tracer: _Tracer | None = None) -> Cond:
    if isinstance(value, Cond):
        return value
    if isinstance(value, Ref):
        if _compare_kind(value._annotation) != "bool" or value._element is not None:
            value._fail(
                f"{value._label} of type {type_repr(value._annotation)} is not a condition",
                "compare it (==, !=, <, <=, >, >=) to build one",
            )
        return Cond(value._tracer, IsTrue(_ref_operand(value)))
    active = tracer or _ACTIVE_TRACER.get()
    raise TraceError(
        f"{value!r} is not a condition (expected a comparison of workflow values, or a bool "
        "reference)",
        fix="build conditions from task outputs and flow parameters, e.g. when(m.score > 0.9)",
        flow=active.flow_name if active else None,
        location=_caller_location(),
    )


_compare_kind = codecs.comparison_kind


def _ref_operand(ref: Ref) -> Operand:
    if ref._value is None or isinstance(ref, _NoOutputRef):
        ref._fail(f"{ref._label} returns nothing to compare", "compare a task's output")
    return Operand(ref._value, ref._annotation)


def _compare(ref: Ref, op: str, other: object) -> Cond:
    kind = _compare_kind(ref._annotation)
    if kind is None or ref._element is not None:
        ref._fail(
            f"{ref._label} of type {type_repr(ref._annotation)} cannot be compared in a "
            "condition (Argo compares numbers, strings and booleans)",
            "compare a field of it, or compute a bool/number in a task and compare that",
        )
    left = _ref_operand(ref)
    if isinstance(other, Ref):
        other_kind = _compare_kind(other._annotation)
        if other_kind != kind or other._element is not None:
            ref._fail(
                f"{ref._label} ({type_repr(ref._annotation)}) and {other._label} "
                f"({type_repr(other._annotation)}) cannot be compared",
                "compare values of the same kind (numbers, strings or booleans)",
            )
        right = _ref_operand(other)
    else:
        if isinstance(other, Cond):
            ref._fail("a condition cannot be compared", "combine conditions with &, | and ~")
        codec = codecs.codec_for(ref._annotation)
        try:
            codec.validate(other)
        except FlowDSLError as exc:
            ref._fail(
                f"{ref._label} {op} {other!r}: {exc.problem}",
                f"compare with a value of type {codec.type_name}",
            )
        right = Operand(Const(other), ref._annotation)
    if op not in ("==", "!=") and kind != "number":
        ref._fail(
            f"'{op}' orders numbers; {ref._label} is a {type_repr(ref._annotation)}",
            "use == or != for strings and booleans",
        )
    return Cond(ref._tracer, Compare(op, left, right))  # type: ignore[arg-type]


@contextlib.contextmanager
def when(condition: Cond | Ref) -> Iterator[None]:
    """Run the task calls inside the block only when ``condition`` holds at run time.

    ``condition`` compares task outputs and flow parameters (``best.accuracy > 0.95``,
    ``mode == "full"``), combined with ``&``, ``|`` and ``~``; a ``bool`` reference works as
    is. Blocks nest (their conditions are and-ed). A call that *uses an output* of a skipped
    call is skipped too (Argo marks it Omitted); a call that only runs ``.after()`` it still
    runs. Follow the block with ``with otherwise():`` for the else branch.

    Raises:
        TraceError: outside a flow, on a value that is not a condition, or around no task.
    """
    tracer = _require_tracer("when(...)")
    cond = _as_condition(condition, tracer)
    with tracer.conditional(cond._condition, "when(...)"):
        yield


@contextlib.contextmanager
def otherwise() -> Iterator[None]:
    """The else branch of the ``with when(...)`` block just before it.

    Raises:
        TraceError: not directly after a ``with when(...)`` block, or around no task.
    """
    tracer = _require_tracer("otherwise()")
    previous = tracer.last_when()
    with tracer.conditional(Not(previous), "otherwise()"):
        yield


def _require_tracer(construct: str) -> _Tracer:
    tracer = _ACTIVE_TRACER.get()
    if tracer is None:
        raise TraceError(
            f"{construct} is used outside a flow being traced",
            fix=f"use {construct} inside a @flow function",
            location=_caller_location(),
        )
    return tracer


# --------------------------------------------------------------------------------------------
# Mapping
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Unmapped:
    value: Any


def unmapped(value: Any) -> Any:
    """Pass ``value`` whole to every call of a ``task.map(...)``, even if it is a list."""
    return _Unmapped(value)


def _list_element(annotation: Any) -> Any:
    """The item type of ``list[T]`` (or ``tuple[T, ...]``), else ``None``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is list and len(args) == 1:
        return args[0]
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return args[0]
    return None


def _fits(source: Any, target: Any) -> bool:
    """Whether a value of type ``source`` can be passed for ``target`` (strictly)."""
    if source == target or (source is int and target is float):
        return True
    if typing.get_origin(target) in _UNION_ORIGINS:
        return any(_fits(source, t) for t in typing.get_args(target) if t is not type(None))
    if typing.get_origin(source) is typing.Literal:
        return all(_fits(type(v), target) for v in typing.get_args(source))
    source_origin, target_origin = typing.get_origin(source), typing.get_origin(target)
    if source_origin is not None and source_origin == target_origin:
        return all(
            _fits(s, t)
            for s, t in zip(typing.get_args(source), typing.get_args(target), strict=False)
        )
    return source in (list, dict, tuple) and target_origin is source


def _map_locally(
    fn: Callable[..., Any], params: tuple[TaskParam, ...], args: tuple[Any, ...], kwargs: Any
) -> list[Any]:
    """``task.map(...)`` outside a flow: the list of results, as the workflow would compute."""
    bound = inspect.signature(fn).bind(*args, **kwargs)
    by_name = {p.name: p for p in params}
    whole: dict[str, Any] = {}
    lists: dict[str, list[Any]] = {}
    for name, value in bound.arguments.items():
        if isinstance(value, _Unmapped):
            whole[name] = value.value
            continue
        codec = codecs.codec_for(by_name[name].annotation)
        try:
            codec.validate(value)
            whole[name] = value
        except FlowDSLError:
            lists[name] = list(value)
    if not lists:
        raise TraceError("map(...) has nothing to map over", fix="pass a list for a parameter")
    lengths = {len(v) for v in lists.values()}
    if len(lengths) > 1:
        raise TraceError(
            f"map(...) zips lists of different lengths ({sorted(lengths)})",
            fix="pass lists of equal length",
        )
    count = lengths.pop()
    return [fn(**whole, **{k: v[i] for k, v in lists.items()}) for i in range(count)]


# --------------------------------------------------------------------------------------------
# The tracer
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _CallBuilder:
    id: str
    task: TaskDef | FlowGraph
    options: TaskOptions
    args: tuple[tuple[str, Value], ...]
    after: list[str]
    location: str
    loop: Loop | None
    condition: Condition | None
    group: _Group | None = None


@dataclass(slots=True)
class _Group:
    """A ``with fused(...)`` block being traced."""

    id: str
    name: str
    options: TaskOptions | None  # given on fused(...), else taken from the first call
    location: str
    depth: int  # how many when(...) blocks enclose it
    members: list[_CallBuilder]


_ACTIVE_TRACER: contextvars.ContextVar[_Tracer | None] = contextvars.ContextVar(
    "flowdsl_tracer", default=None
)


@dataclass(frozen=True, slots=True)
class _Callee:
    """What a call binds to: a task or a sub-flow, seen the same way."""

    name: str
    fn: Callable[..., Any]
    params: tuple[TaskParam, ...]  # by exposed name
    python_names: tuple[str, ...]
    returns: Any
    outputs: tuple[Output, ...]
    target: TaskDef | FlowGraph
    options: TaskOptions


class _Tracer:
    """Records the calls a flow body makes. One per trace; never shared between threads."""

    def __init__(
        self, flow_name: str, subflows: dict[int, FlowGraph], stack: tuple[str, ...]
    ) -> None:
        self.flow_name = flow_name
        self.calls: list[_CallBuilder] = []
        self._by_id: dict[str, _CallBuilder] = {}
        self._ids = Namespace()
        self._conditions: list[Condition] = []
        # The condition of the `when` block that closed last at each depth, with the number
        # of calls recorded at that moment (otherwise() must follow it directly).
        self._closed_when: dict[int, tuple[Condition, int]] = {}
        self.subflows = subflows  # sub-flows traced once per root trace, by id(Flow)
        self.stack = stack  # names of the flows being traced, outermost first
        self.group: _Group | None = None
        self.groups: list[_Group] = []

    def outputs_of(self, call_id: str) -> tuple[Output, ...]:
        return self._by_id[call_id].task.outputs

    def condition_of(self, call_id: str) -> Condition | None:
        return self._by_id[call_id].condition

    def add_order(self, node: str, before: str, label: str) -> None:
        builder = self._by_id[node]
        if before == node:
            raise TraceError(
                f"{label}.after() names the same call",
                fix="pass a reference to another call",
                flow=self.flow_name,
                location=_caller_location(),
            )
        if self._reaches(before, node):
            raise TraceError(
                f"{label}.after() would make a cycle: {before} already runs after {node}",
                fix="order calls in the direction the data flows",
                flow=self.flow_name,
                location=_caller_location(),
            )
        if before not in builder.after:
            builder.after.append(before)

    def _reaches(self, start: str, target: str) -> bool:
        """Whether ``start`` depends, directly or not, on ``target``."""
        stack, seen = [start], set()
        while stack:
            current = stack.pop()
            if current == target:
                return True
            if current in seen:
                continue
            seen.add(current)
            builder = self._by_id[current]
            stack.extend(v.node for _, v in builder.args if isinstance(v, NodeOutput))
            stack.extend(builder.after)
            if builder.loop is not None:
                stack.extend(v.node for _, v in builder.loop.mapped if isinstance(v, NodeOutput))
        return False

    # -- conditions -------------------------------------------------------------------------

    @contextlib.contextmanager
    def conditional(self, condition: Condition, construct: str) -> Iterator[None]:
        depth = len(self._conditions)
        location = _caller_location()
        recorded = len(self.calls)
        self._conditions.append(condition)
        try:
            yield
        finally:
            self._conditions.pop()
        if len(self.calls) == recorded:
            raise TraceError(
                f"{construct} block records no task call",
                fix="call at least one task inside the block, or remove it",
                flow=self.flow_name,
                location=location,
            )
        if construct == "when(...)":
            self._closed_when[depth] = (condition, len(self.calls))
        else:
            self._closed_when.pop(depth, None)

    @contextlib.contextmanager
    def fused_group(self, name: str, options: TaskOptions | None, location: str) -> Iterator[None]:
        if self.group is not None:
            raise TraceError(
                f"fused({name!r}) is inside fused({self.group.name!r}); groups do not nest",
                fix="merge the blocks into one fused group",
                flow=self.flow_name,
                location=location,
            )
        group = _Group(self._ids.claim(name), name, options, location, len(self._conditions), [])
        self.group = group
        try:
            yield
        finally:
            self.group = None
        if not group.members:
            raise TraceError(
                f"fused({name!r}) block records no task call",
                fix="call the tasks to fuse inside the block, or remove it",
                flow=self.flow_name,
                location=location,
            )
        self.groups.append(group)

    def last_when(self) -> Condition:
        depth = len(self._conditions)
        closed = self._closed_when.get(depth)
        if closed is None or closed[1] != len(self.calls):
            raise TraceError(
                "otherwise() must come right after a 'with when(...):' block",
                fix="put 'with otherwise():' directly after the when block it completes",
                flow=self.flow_name,
                location=_caller_location(),
            )
        return closed[0]

    def _current_condition(self) -> Condition | None:
        if not self._conditions:
            return None
        if len(self._conditions) == 1:
            return self._conditions[0]
        return AllOf(tuple(self._conditions))

    # -- calls ------------------------------------------------------------------------------

    def _callee(self, target: Task[Any, Any] | Flow[Any, Any], location: str) -> _Callee:
        if isinstance(target, Task):
            d = target.definition
            return _Callee(
                d.name,
                d.fn,
                d.params,
                tuple(p.name for p in d.params),
                d.returns,
                d.outputs,
                d,
                target._call_options or d.options,
            )
        graph = self.subflows.get(id(target))
        if graph is None:
            if target.name in self.stack:
                raise TraceError(
                    f"flow '{target.name}' calls itself (through {' -> '.join(self.stack)})",
                    fix="flows cannot recurse: the graph must be finite",
                    flow=self.flow_name,
                    location=location,
                )
            graph = target._trace(self.subflows, self.stack)
            self.subflows[id(target)] = graph
        params = tuple(TaskParam(p.name, p.annotation, p.default) for p in graph.params)
        return _Callee(
            graph.name,
            target.__wrapped__,
            params,
            tuple(p.python_name for p in graph.params),
            graph.returns,
            graph.outputs,
            graph,
            TaskOptions(),
        )

    def record(
        self,
        target: Task[Any, Any] | Flow[Any, Any],
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        location: str,
        *,
        mapped: bool = False,
    ) -> Ref:
        callee = self._callee(target, location)
        where = {"flow": self.flow_name, "task": callee.name, "location": location}
        uses_artifacts = any(o.artifact for o in callee.outputs) or any(
            artifact_kind(p.annotation) for p in callee.params
        )
        if uses_artifacts and (mapped or self.group is not None):
            construct = "map(...)" if mapped else f"fused({self.group.name!r})"  # type: ignore[union-attr]
            raise TraceError(
                f"{construct} with a task that takes or returns artifacts is not supported "
                "(Argo does not join a loop's artifacts; a fused group passes values in memory "
                "and exports parameters)",
                fix="call the task on its own, or pass ordinary values",
                **where,
            )
        try:
            bound = inspect.signature(callee.fn).bind(*args, **kwargs)
        except TypeError as exc:
            expected = ", ".join(
                python + ("" if p.default is NO_DEFAULT else "=...")
                for python, p in zip(callee.python_names, callee.params, strict=True)
            )
            raise TraceError(
                f"bad call: {exc}",
                fix=f"call it as {callee.name}({expected})",
                **where,
            ) from None
        whole: list[tuple[str, Value]] = []
        each: list[tuple[str, Value]] = []
        for python, param in zip(callee.python_names, callee.params, strict=True):
            if python not in bound.arguments:
                continue
            arg = bound.arguments[python]
            if mapped and self._is_mapped(param, arg, where):
                each.append((param.name, self._mapped_value(param, arg, where)))
            else:
                if isinstance(arg, _Unmapped):
                    arg = arg.value
                whole.append((param.name, self._value(param, arg, where)))
        loop = None
        if mapped:
            loop = self._loop(each, callee, where)
        group = self.group
        if group is not None:
            self._check_member(group, callee, mapped, where)
        call_id = self._ids.claim(callee.name)
        builder = _CallBuilder(
            call_id,
            callee.target,
            callee.options,
            tuple(whole),
            [],
            location,
            loop,
            self._current_condition(),
            group,
        )
        if group is not None:
            group.members.append(builder)
        self.calls.append(builder)
        self._by_id[call_id] = builder
        label = f"{callee.name}(...)" if call_id == callee.name else f"{call_id}(...)"
        if mapped:
            label = f"{callee.name}.map(...)" if call_id == callee.name else f"{call_id}.map(...)"
        if callee.returns is None:
            return _NoOutputRef(self, NodeOutput(call_id, ""), None, label)
        if mapped:
            return Ref(
                self,
                NodeOutput(call_id, "return"),
                list_of(callee.returns),
                label,
                element=callee.returns,
            )
        return Ref(self, NodeOutput(call_id, "return"), callee.returns, label)

    def _check_member(
        self, group: _Group, callee: _Callee, mapped: bool, where: Mapping[str, str]
    ) -> None:
        """A call inside ``fused(...)``: one plain task call, with the group's pod options."""
        fix_out = f"call it outside the fused({group.name!r}) block"
        if mapped:
            raise TraceError(
                f"map(...) inside fused({group.name!r}): a map fans out to one pod per item, "
                "a fused group is one pod",
                fix=f"{fix_out}, or loop inside a task",
                **where,
            )
        if isinstance(callee.target, FlowGraph):
            raise TraceError(
                f"sub-flow '{callee.name}' inside fused({group.name!r}): a sub-flow is a DAG of "
                "pods, a fused group is one pod",
                fix=fix_out,
                **where,
            )
        if len(self._conditions) != group.depth:
            raise TraceError(
                f"when(...) inside fused({group.name!r}): the group runs as one step, so a "
                "condition applies to all of it",
                fix=f"put 'with when(...):' around the whole fused({group.name!r}) block",
                **where,
            )
        wanted = group.options or (group.members[0].options if group.members else None)
        pod_options = callee.options.pod_options()
        if wanted is not None and pod_options != wanted.pod_options():
            raise TraceError(
                f"its options ({_options_text(pod_options)}) differ from the fused "
                f"({group.name!r}) group's ({_options_text(wanted)}); the group runs in one pod "
                "with one set of resources",
                fix=f"give the options once on fused({group.name!r}, ...), or {fix_out}",
                **where,
            )

    def _loop(
        self, each: list[tuple[str, Value]], callee: _Callee, where: Mapping[str, str]
    ) -> Loop:
        if not each:
            raise TraceError(
                "map(...) has nothing to map over: no argument is a list of its parameter's type",
                fix=f"pass a list for at least one parameter, or call {callee.name}(...) directly",
                **where,
            )
        lengths = {name: len(value.value) for name, value in each if isinstance(value, Const)}
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{name}: {count}" for name, count in lengths.items())
            raise TraceError(
                f"map(...) zips lists of different lengths ({shown})",
                fix="pass lists of equal length (items are paired by position)",
                **where,
            )
        if len(each) > 1 and any(not isinstance(v, Const) for _, v in each):
            raise TraceError(
                "map(...) over several lists that are only known when the workflow runs is "
                "not supported (Argo loops over one list)",
                fix="return a list of records (e.g. list[dict] or a list of dataclasses) from "
                "one task and map a single parameter over it",
                **where,
            )
        return Loop(tuple(each), callee.options.parallelism)

    def _is_mapped(self, param: TaskParam, arg: Any, where: Mapping[str, str]) -> bool:
        if isinstance(arg, _Unmapped):
            return False
        if isinstance(arg, Ref):
            element = _list_element(arg._annotation)
            if _fits(arg._annotation, param.annotation) or element is None:
                return False
            if _fits(element, param.annotation):
                return True
            raise TraceError(
                f"map(...): {arg._label} is of type {type_repr(arg._annotation)}, neither "
                f"{type_repr(param.annotation)} nor a list of them",
                fix=f"map over a list[{type_repr(param.annotation)}], or wrap a whole value in "
                "unmapped(...)",
                parameter=param.name,
                **where,
            )
        codec = codecs.codec_for(param.annotation)
        try:
            codec.validate(arg)
            return False
        except FlowDSLError:
            pass
        if isinstance(arg, (list, tuple)):
            return True
        raise TraceError(
            f"map(...): {arg!r} is neither of type {codec.type_name} nor a list of them",
            fix=f"pass a list of {codec.type_name} to map over, or a single value",
            parameter=param.name,
            **where,
        )

    def _mapped_value(self, param: TaskParam, arg: Any, where: Mapping[str, str]) -> Value:
        if isinstance(arg, Ref):
            return self._value(TaskParam(param.name, arg._annotation), arg, where)
        codec = codecs.codec_for(param.annotation)
        for index, item in enumerate(arg):
            _reject_nested_refs(item, param.name, where)
            try:
                codec.validate(item)
            except FlowDSLError as exc:
                raise TraceError(
                    f"map(...): item {index} of the list: {exc.problem}",
                    fix=f"every item must be of type {codec.type_name}",
                    parameter=param.name,
                    **where,
                ) from None
        return Const(list(arg))

    def _check_artifact_argument(
        self,
        param: TaskParam,
        arg: Any,
        wanted: ArtifactKind | None,
        given: ArtifactKind | None,
        where: Mapping[str, str],
    ) -> None:
        """An artifact parameter takes an artifact output of the same kind, and only that."""
        label = arg._label if isinstance(arg, Ref) else repr(arg)
        if wanted is None:
            raise TraceError(
                f"{label} is an artifact ({type_repr(arg._annotation)}), but the parameter is "
                f"an Argo parameter of type {type_repr(param.annotation)}",
                fix="type the parameter as the artifact (bytes, Path or Artifact[T]), or have "
                "the producing task return an ordinary value",
                parameter=param.name,
                **where,
            )
        if not isinstance(arg, Ref):
            raise TraceError(
                f"the artifact parameter is given a constant ({_short(arg)}); artifacts are "
                "files that tasks produce",
                fix="pass the output of a task that returns "
                f"{type_repr(param.annotation)}, or a path/URL string to an ordinary parameter",
                parameter=param.name,
                **where,
            )
        if given != wanted and not (
            given is not None
            and given.kind == wanted.kind == "value"
            and _type_mismatch(given.inner, wanted.inner) is None
        ):
            raise TraceError(
                f"expected {type_repr(param.annotation)}, got {arg._label} of type "
                f"{type_repr(arg._annotation)}",
                fix="pass an artifact of the same kind (bytes, Path or Artifact[T])",
                parameter=param.name,
                **where,
            )

    def _value(self, param: TaskParam, arg: Any, where: Mapping[str, str]) -> Value:
        if isinstance(arg, _NoOutputRef):
            raise TraceError(
                f"{arg._label} returns nothing (-> None), so it cannot be passed as an argument",
                fix=f"use .after({arg._label.removesuffix('(...)')}) to order calls without data",
                parameter=param.name,
                **where,
            )
        if isinstance(arg, Cond):
            raise TraceError(
                f"a condition ({condition_repr(arg._condition)}) cannot be passed as a value",
                fix="use it with 'with when(...):', or compute the bool in a task",
                parameter=param.name,
                **where,
            )
        wanted, given = artifact_kind(param.annotation), None
        if isinstance(arg, Ref):
            given = artifact_kind(arg._annotation)
        if wanted is not None or given is not None:
            self._check_artifact_argument(param, arg, wanted, given, where)
        if isinstance(arg, Ref):
            if arg._tracer is not self:
                raise TraceError(
                    "a reference from another flow's trace was passed",
                    fix="pass values of the flow being traced (a sub-flow receives them as "
                    "its parameters)",
                    parameter=param.name,
                    **where,
                )
            mismatch = _type_mismatch(arg._annotation, param.annotation)
            if mismatch:
                raise TraceError(
                    f"expected {type_repr(param.annotation)}, got {arg._label} of type "
                    f"{type_repr(arg._annotation)}",
                    fix=mismatch,
                    parameter=param.name,
                    **where,
                )
            assert arg._value is not None  # only _NoOutputRef has no value
            return arg._value
        if isinstance(arg, (Task, Flow)):
            raise TraceError(
                f"got the {type(arg).__name__.lower()} {arg.name!r} itself, not its result",
                fix=f"call it: {arg.name}(...)",
                parameter=param.name,
                **where,
            )
        _reject_nested_refs(arg, param.name, where)
        codec = codecs.codec_for(param.annotation)
        try:
            codec.validate(arg)
        except FlowDSLError as exc:
            raise TraceError(
                exc.problem,
                fix=f"pass a value of type {codec.type_name}",
                parameter=param.name,
                **where,
            ) from None
        return Const(arg)

    # -- the graph --------------------------------------------------------------------------

    def build(self, flow_obj: Flow[Any, Any], result: Any) -> FlowGraph:
        graph_result = self._result(flow_obj, result)
        calls = [
            Call(b.id, b.task, b.options, b.args, tuple(b.after), b.location, b.loop, b.condition)
            for b in self.calls
        ]
        for group in self.groups:
            calls, graph_result = _collapse(self, flow_obj, group, calls, graph_result)
        produced = dict(codecs.output_parameters(flow_obj.returns))
        outputs = tuple(Output(name, produced[name]) for name, _ in graph_result)
        return FlowGraph(
            name=flow_obj.name,
            qualname=f"{flow_obj.__wrapped__.__module__}.{flow_obj.__wrapped__.__qualname__}",
            params=flow_obj.params,
            calls=tuple(calls),
            returns=flow_obj.returns,
            result=graph_result,
            options=flow_obj.flow_options,
            description=flow_obj.description,
            location=flow_obj.location,
            outputs=outputs,
            on_exit=self._exit_call(flow_obj),
        )

    def _result(self, definition: Flow[Any, Any], result: Any) -> tuple[tuple[str, Value], ...]:
        returns = definition.returns
        where = {"flow": self.flow_name, "location": definition.location}
        if returns is None:
            if result is not None and not isinstance(result, _NoOutputRef):
                raise TraceError(
                    f"the flow is annotated '-> None' but returns {result!r}",
                    fix="annotate the flow's return type",
                    **where,
                )
            return ()
        if not isinstance(result, Ref) or isinstance(result, _NoOutputRef):
            got = "nothing" if result is None else repr(result)
            raise TraceError(
                f"a flow returns the output of a task call (expected {type_repr(returns)}, got "
                f"{got})",
                fix="return a value produced by a task, or annotate the flow '-> None'",
                **where,
            )
        value = result._value
        if not isinstance(value, NodeOutput):
            raise TraceError(
                f"the flow returns {result._label}, a flow parameter; a flow returns the output "
                "of a task call",
                fix="return a value produced by a task",
                **where,
            )
        if self.condition_of(value.node) is not None:
            raise TraceError(
                f"the flow returns {result._label}, which runs only under a when(...) condition "
                "and may be skipped",
                fix="return a value computed outside the when block",
                **where,
            )
        mismatch = _type_mismatch(result._annotation, returns)
        if mismatch:
            raise TraceError(
                f"the flow is annotated '-> {type_repr(returns)}' but returns {result._label} "
                f"of type {type_repr(result._annotation)}",
                fix=mismatch,
                **where,
            )
        outputs: list[tuple[str, Value]] = []
        produced = {o.name for o in self.outputs_of(value.node)}
        for name, _ in codecs.output_parameters(returns):
            if name == "return":
                outputs.append((name, value))
            elif value.output == "return" and result._element is None and name in produced:
                outputs.append((name, NodeOutput(value.node, name)))
        return tuple(outputs)

    def _exit_call(self, flow_obj: Flow[Any, Any]) -> Call | None:
        handler = flow_obj.on_exit
        if handler is None:
            return None
        definition = handler.definition
        exposed = {p.python_name: p.name for p in flow_obj.params}
        args: list[tuple[str, Value]] = []
        for param in definition.params:
            if param.annotation == codecs.RunStatus:
                args.append((param.name, WorkflowVar("status")))
            elif param.annotation == list[codecs.Failure]:
                args.append((param.name, WorkflowVar("failures")))
            elif param.name in exposed:
                args.append((param.name, FlowInput(exposed[param.name])))
            elif param.default is NO_DEFAULT:
                raise DefinitionError(
                    f"the exit handler '{definition.name}' has a parameter '{param.name}' that "
                    "flowdsl cannot fill",
                    fix="annotate it flowdsl.RunStatus (the run's status) or "
                    "list[flowdsl.Failure] (its failed nodes), name it after a flow parameter, "
                    "or give it a default",
                    flow=self.flow_name,
                    parameter=param.name,
                    location=definition.location,
                )
        return Call(
            f"{self.flow_name}-exit",
            definition,
            handler._call_options or definition.options,
            tuple(args),
            (),
            definition.location,
        )


def _options_text(options: TaskOptions) -> str:
    return options_repr(options).replace(" ", ", ") or "defaults"


@contextlib.contextmanager
def fused(name: str, **options: Any) -> Iterator[None]:
    """Run the task calls inside the block in one pod, in order, passing values in memory.

    Only the values used outside the block become output parameters. Use it for chains of
    small steps that would otherwise pay a pod each. ``options`` (``image``, ``retries``,
    ``timeout``, ``continue_on_failure``) apply to the group's pod; calls inside must not ask
    for other ones.

    Raises:
        TraceError: outside a flow; around no task; around a map, a sub-flow, a when(...),
            or a call with other options; when the group's calls depend on something computed
            outside the group from an earlier call of the group.
    """
    tracer = _require_tracer(f"fused({name!r})")
    location = _caller_location()
    base_name = dns_name(name, kind="task", explicit=True, location=location)
    group_options = (
        _task_options(TaskOptions(), options, task=base_name, location=location)
        if options
        else None
    )
    with tracer.fused_group(base_name, group_options, location):
        yield


def _export_name(node: str, output: str) -> str:
    base = node.replace("-", "_")
    return base if output == "return" else f"{base}_{output.replace('-', '_')}"


def _collapse(
    tracer: _Tracer,
    flow_obj: Flow[Any, Any],
    group: _Group,
    calls: list[Call],
    result: tuple[tuple[str, Value], ...],
) -> tuple[list[Call], tuple[tuple[str, Value], ...]]:
    """Replace the calls of ``group`` by one call of a synthesised :class:`FusedSteps` task."""
    from flowdsl._fused import Export, FusedSteps, Source, Step

    members = {b.id for b in group.members}
    where = {"flow": tracer.flow_name, "location": group.location}
    by_id = {c.id: c for c in calls}
    # Inputs: each distinct outside value the members read, named after where it comes from.
    inputs: dict[Value, tuple[str, Any]] = {}
    steps = []
    external_after: list[str] = []
    for builder in group.members:
        call = by_id[builder.id]
        params = {p.name: p for p in call.task.params}
        args = []
        for name, value in call.args:
            if isinstance(value, NodeOutput) and value.node in members:
                args.append((name, Source("step", value.node, output=value.output)))
            elif isinstance(value, Const):
                args.append((name, Source("const", value=value.value)))
            else:
                if value not in inputs:
                    label = (
                        value.name
                        if isinstance(value, FlowInput)
                        else _export_name(value.node, value.output)  # type: ignore[union-attr]
                    )
                    inputs[value] = (label, params[name].annotation)
                args.append((name, Source("input", inputs[value][0])))
        external_after += [a for a in call.after if a not in members]
        steps.append(Step(call.id, call.task.fn, tuple(args)))  # type: ignore[union-attr]

    # A member reading (or waiting for) an outside call that itself needs an earlier member
    # would make the group depend on itself.
    outside_upstream = {
        u for b in group.members for u in by_id[b.id].upstream() if u not in members
    }
    stack, seen = list(outside_upstream), set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        for upstream in by_id[current].upstream():
            if upstream in members:
                raise TraceError(
                    f"fused({group.name!r}): its calls need '{current}', which is computed "
                    f"outside the group from '{upstream}', a call inside the group",
                    fix=f"move '{current}' into the fused block, or end the group before it",
                    **where,
                )
            stack.append(upstream)

    # Exports: every member output read outside the group, in first-use order.
    exports: dict[tuple[str, str], str] = {}

    def export(value: Value) -> Value:
        if isinstance(value, NodeOutput) and value.node in members:
            key = (value.node, value.output)
            name = exports.setdefault(key, _export_name(*key))
            return NodeOutput(group.id, name)
        return value

    rewritten: list[Call] = []
    first = True
    for call in calls:
        if call.id in members:
            if first:
                rewritten.append(call)  # placeholder, replaced below
                first = False
            continue
        rewritten.append(_rewrite(call, export, members, group.id))
    new_result = tuple((name, export(value)) for name, value in result)

    annotations = {}
    for (node, output), name in exports.items():
        produced = {o.name: o.annotation for o in by_id[node].task.outputs}
        annotations[name] = produced[output]
    outputs_type: Any = te.TypedDict(  # type: ignore[misc]  # a class made at trace time
        f"{group.name.replace('-', '_')}_outputs", annotations
    )
    outputs_type.__module__ = flow_obj.__wrapped__.__module__
    signature = inspect.Signature(
        [
            inspect.Parameter(label, inspect.Parameter.KEYWORD_ONLY, annotation=annotation)
            for label, annotation in inputs.values()
        ],
        return_annotation=outputs_type if exports else None,
    )
    runner = FusedSteps(
        group.name,
        by_id[group.members[0].id].task.fn.__module__,  # type: ignore[union-attr]
        tuple(steps),
        tuple(Export(name, node, output) for (node, output), name in exports.items()),
        signature,
    )
    returns = outputs_type if exports else None
    hints: dict[str, Any] = dict(inputs.values())
    hints["return"] = returns if returns is not None else type(None)
    definition = TaskDef(
        name=group.name,
        fn=runner,
        module=runner.__module__,
        qualname=runner.__qualname__,
        params=tuple(TaskParam(label, annotation) for label, annotation in inputs.values()),
        returns=returns,
        outputs=tuple(Output(n, t) for n, t in codecs.output_parameters(returns)),
        hints=tuple(hints.items()),
        options=group.options or by_id[group.members[0].id].options,
        location=group.location,
        steps=tuple(by_id[b.id] for b in group.members),
    )
    group_call = Call(
        group.id,
        definition,
        definition.options,
        tuple((label, value) for value, (label, _) in inputs.items()),
        tuple(dict.fromkeys(a for a in external_after)),
        group.location,
        None,
        by_id[group.members[0].id].condition,
    )
    index = next(i for i, c in enumerate(rewritten) if c.id in members)
    rewritten[index] = group_call
    return rewritten, new_result


def _rewrite(
    call: Call, export: Callable[[Value], Value], members: set[str], group_id: str
) -> Call:
    """``call`` with references to members of a fused group pointed at the group's outputs."""
    loop = call.loop
    if loop is not None:
        loop = Loop(tuple((n, export(v)) for n, v in loop.mapped), loop.parallelism)
    condition = call.condition
    if condition is not None:
        condition = _rewrite_condition(condition, export)
    after = tuple(dict.fromkeys(group_id if a in members else a for a in call.after))
    return dataclasses.replace(
        call,
        args=tuple((n, export(v)) for n, v in call.args),
        after=after,
        loop=loop,
        condition=condition,
    )


def _rewrite_condition(condition: Condition, export: Callable[[Value], Value]) -> Condition:
    if isinstance(condition, Compare):
        return Compare(
            condition.op,
            Operand(export(condition.left.value), condition.left.annotation),
            Operand(export(condition.right.value), condition.right.annotation),
        )
    if isinstance(condition, IsTrue):
        return IsTrue(Operand(export(condition.operand.value), condition.operand.annotation))
    if isinstance(condition, Not):
        return Not(_rewrite_condition(condition.part, export))
    parts = tuple(_rewrite_condition(p, export) for p in condition.parts)
    return AllOf(parts) if isinstance(condition, AllOf) else AnyOf(parts)


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _reject_nested_refs(value: Any, parameter: str, where: Mapping[str, str]) -> None:
    """A reference inside a list or dict constant cannot be encoded at compile time."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Ref):
            raise TraceError(
                f"{item._label} is nested inside a {type(value).__name__} constant; Argo "
                "passes each argument as one parameter",
                fix="pass the reference as an argument of its own, or build the collection "
                "inside a task",
                parameter=parameter,
                **where,
            )
        if isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())


_SCALARS = (str, int, float, bool)
_UNION_ORIGINS = (typing.Union, types.UnionType)


def _type_mismatch(source: Any, target: Any) -> str | None:
    """A fix to show when a value of type ``source`` cannot feed a parameter of ``target``.

    Deliberately lenient: only clear mismatches (different scalar types, a scalar for a
    container, different container kinds) are reported; finer checks are left to the
    runtime's decoding, which names the parameter too.
    """
    if source == target:
        return None
    target_args = typing.get_args(target)
    if typing.get_origin(target) in _UNION_ORIGINS and type(None) in target_args:
        others = [a for a in target_args if a is not type(None)]
        return _type_mismatch(source, others[0]) if len(others) == 1 else None
    if typing.get_origin(source) is typing.Literal:
        kinds = {type(v) for v in typing.get_args(source)}
        source = kinds.pop() if len(kinds) == 1 else source
    if typing.get_origin(target) is typing.Literal:
        return None  # checked against the enum when the value is decoded
    if source is int and target is float:
        return None
    source_kind = typing.get_origin(source) or source
    target_kind = typing.get_origin(target) or target
    if source_kind in _SCALARS or target_kind in _SCALARS:
        if source_kind != target_kind:
            return "pass a value of the parameter's type, or convert it inside a task"
        return None
    if (
        isinstance(source_kind, type)
        and isinstance(target_kind, type)
        and source_kind in (list, dict, tuple)
        and target_kind in (list, dict, tuple)
        and source_kind is not target_kind
    ):
        return "pass a value of the parameter's type, or convert it inside a task"
    return None


# --------------------------------------------------------------------------------------------
# Flows
# --------------------------------------------------------------------------------------------


_ARGS_HEADER = re.compile(r"^(\s*)(Args|Arguments|Parameters):\s*$")
_ARG_LINE = re.compile(r"^(\s*)(\*{0,2}\w+)\s*(\([^)]*\))?\s*:\s*(.*)$")


def _docstring_args(doc: str | None) -> tuple[str | None, dict[str, str]]:
    """The first paragraph and the Google-style ``Args:`` descriptions of a docstring."""
    if not doc:
        return None, {}
    text = inspect.cleandoc(doc)
    summary = text.split("\n\n", 1)[0].strip().replace("\n", " ") or None
    args: dict[str, str] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        header = _ARGS_HEADER.match(lines[i])
        i += 1
        if not header:
            continue
        section_indent = len(header.group(1))
        current: str | None = None
        entry_indent = None
        while i < len(lines):
            line = lines[i]
            if line.strip() and len(line) - len(line.lstrip()) <= section_indent:
                break  # the next section
            match = _ARG_LINE.match(line)
            indent = len(line) - len(line.lstrip())
            if match and (entry_indent is None or indent == entry_indent):
                entry_indent = indent
                current = match.group(2).lstrip("*")
                args[current] = match.group(4).strip()
            elif current is not None and line.strip():
                args[current] = f"{args[current]} {line.strip()}".strip()
            i += 1
    return summary, args


class Flow(Generic[P, R]):
    """A function decorated with ``@flow``: a workflow whose steps are task calls.

    ``flowdsl.compile(flow)`` traces it into an Argo manifest; calling it with arguments runs
    it on this machine through the local engine; ``flow.main()`` gives a script the CLI.
    Called inside another flow, it becomes a nested DAG (``flow.map(...)`` fans it out).
    """

    __slots__ = (
        "__dict__",
        "__wrapped__",
        "_params",
        "description",
        "flow_options",
        "location",
        "name",
        "on_exit",
        "returns",
    )

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None,
        image: str | None,
        code: CodeMode,
        on_exit: Task[Any, Any] | None = None,
        fail_fast: bool = True,
        schedule: Any = None,
        triggers: Sequence[Any] = (),
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.__wrapped__ = fn
        for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
            setattr(self, attr, getattr(fn, attr, None))
        self.location = _definition_location(fn)
        self.name = dns_name(
            name if name is not None else fn.__name__,
            kind="flow",
            explicit=name is not None,
            max_length=MAX_GENERATE_NAME,
            location=self.location,
        )
        if image is not None and (not isinstance(image, str) or not image.strip()):
            raise OptionError(
                f"option 'image' must be a non-empty string (got {image!r})",
                fix='write e.g. image="ghcr.io/acme/pipeline:1.0"',
                flow=self.name,
                location=self.location,
            )
        if code not in ("auto", "import", "value"):
            raise OptionError(
                f"option 'code' must be 'auto', 'import' or 'value' (got {code!r})",
                fix="use code='import' when the image contains your project, 'value' to embed "
                "task code in the manifest",
                flow=self.name,
                location=self.location,
            )
        if on_exit is not None and not isinstance(on_exit, Task):
            raise OptionError(
                f"option 'on_exit' must be a @task (got {on_exit!r})",
                fix="pass a task, e.g. @flow(on_exit=notify)",
                flow=self.name,
                location=self.location,
            )
        if not isinstance(fail_fast, bool):
            raise OptionError(
                f"option 'fail_fast' must be True or False (got {fail_fast!r})",
                fix="write fail_fast=False to let independent branches finish after a failure",
                flow=self.name,
                location=self.location,
            )
        self.on_exit = on_exit
        tasks, workflow = _flow_options(options or {}, flow=self.name, location=self.location)
        if image is not None:
            tasks = dataclasses.replace(tasks, image=image)
        self.flow_options = FlowOptions(
            image=image, code=code, fail_fast=fail_fast, tasks=tasks, workflow=workflow
        )
        self.description, arg_docs = _docstring_args(fn.__doc__)
        hints = _hints(fn, kind="flow", name=self.name, location=self.location)
        self._params = self._flow_params(fn, hints, arg_docs)
        # After the parameters: a schedule needs defaults for all of them, and triggers map
        # event payloads onto them.
        if schedule is not None or triggers:
            self.flow_options = self._scheduling(schedule, triggers)
        returns, _ = _strip_annotated(_return_annotation(hints))
        if returns is not None:
            _codec(returns, kind="flow", owner=self.name, parameter=None, location=self.location)
        self.returns = returns

    def _flow_params(
        self, fn: Callable[..., Any], hints: Mapping[str, Any], arg_docs: Mapping[str, str]
    ) -> tuple[FlowParam, ...]:
        params: list[FlowParam] = []
        seen: dict[str, str] = {}
        for param, annotation in _signature_params(
            fn, hints, kind="flow", name=self.name, location=self.location
        ):
            bare, metadata = _strip_annotated(annotation)
            meta = next((m for m in metadata if isinstance(m, Param)), Param())
            exposed = meta.name or param.name
            if not is_parameter_name(exposed):
                raise DefinitionError(
                    f"Param(name={exposed!r}) is not a valid Argo parameter name (expected "
                    "letters, digits, '_' and '-')",
                    fix="choose another name",
                    flow=self.name,
                    parameter=param.name,
                    location=self.location,
                )
            if exposed in seen:
                raise DefinitionError(
                    f"parameters '{seen[exposed]}' and '{param.name}' are both exposed to Argo "
                    f"as {exposed!r}",
                    fix="give one of them another Param(name=...)",
                    flow=self.name,
                    parameter=param.name,
                    location=self.location,
                )
            seen[exposed] = param.name
            codec = _codec(
                bare, kind="flow", owner=self.name, parameter=param.name, location=self.location
            )
            default = NO_DEFAULT if param.default is param.empty else param.default
            assert codec is not None  # _codec refuses artifacts for flows
            if default is not NO_DEFAULT:
                _check_default(
                    codec,
                    default,
                    kind="flow",
                    owner=self.name,
                    parameter=param.name,
                    location=self.location,
                )
            description = meta.description or arg_docs.get(param.name)
            params.append(FlowParam(exposed, param.name, bare, default, description))
        return tuple(params)

    @property
    def params(self) -> tuple[FlowParam, ...]:
        """The flow's parameters, as exposed to Argo."""
        return self._params

    def _scheduling(self, schedule: Any, triggers: Sequence[Any]) -> FlowOptions:
        """The flow's options with a schedule and triggers, checked by flowdsl.scheduling."""
        from flowdsl.scheduling import as_schedule, as_triggers

        return dataclasses.replace(
            self.flow_options,
            schedule=None if schedule is None else as_schedule(schedule, self),
            triggers=as_triggers(triggers, self),
        )

    def with_options(self, **changes: Any) -> Flow[P, R]:
        """A copy of this flow with other flow options (``schedule=...``, ``image=...``).

        The copy is the same flow (same body, parameters and name) configured differently,
        e.g. a schedule per environment: ``flowdsl.schedule(nightly, "0 3 * * *")``.
        """
        clone = copy.copy(self)
        schedule = changes.pop("schedule", self.flow_options.schedule)
        triggers = changes.pop("triggers", self.flow_options.triggers)
        unknown = set(changes) - {"image", "code", "fail_fast"}
        if unknown:
            raise OptionError(
                f"unknown flow option(s): {', '.join(sorted(unknown))}",
                fix="valid options: image, code, fail_fast, schedule, triggers",
                flow=self.name,
                location=self.location,
            )
        clone.flow_options = dataclasses.replace(self.flow_options, **changes)
        if schedule is not None or triggers:
            clone.flow_options = clone._scheduling(schedule, triggers)
        else:
            clone.flow_options = dataclasses.replace(clone.flow_options, schedule=None, triggers=())
        return clone

    def trace(self) -> FlowGraph:
        """Trace the flow body into its graph (no task runs).

        Raises:
            TraceError: the body used a reference where a real value is needed, or called a
                task wrongly.
        """
        return self._trace({}, ())

    def _trace(self, subflows: dict[int, FlowGraph], stack: tuple[str, ...]) -> FlowGraph:
        tracer = _Tracer(self.name, subflows, (*stack, self.name))
        refs = {
            p.python_name: Ref(tracer, FlowInput(p.name), p.annotation, p.python_name)
            for p in self._params
        }
        token = _ACTIVE_TRACER.set(tracer)
        try:
            body: Callable[..., Any] = self.__wrapped__
            result = body(**refs)
        finally:
            _ACTIVE_TRACER.reset(token)
        return tracer.build(self, result)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Run the flow locally; inside another flow being traced, record it as a sub-flow."""
        tracer = _ACTIVE_TRACER.get()
        if tracer is not None:
            return tracer.record(self, args, kwargs, _caller_location())  # type: ignore[return-value]
        from flowdsl._run import call_locally

        return call_locally(self, args, kwargs)  # type: ignore[no-any-return]

    def map(self, *args: Any, **kwargs: Any) -> Any:
        """Fan out a sub-flow inside a flow being traced, like :meth:`Task.map`.

        Raises:
            TraceError: outside a flow being traced, or as :meth:`Task.map` does.
        """
        tracer = _require_tracer(f"{self.name}.map(...)")
        return tracer.record(self, args, kwargs, _caller_location(), mapped=True)

    def main(self, argv: list[str] | None = None) -> None:
        """The command line for a script: ``compile``, ``run`` ... with this flow as target."""
        from flowdsl.cli import main

        main(argv, flow=self)

    def __repr__(self) -> str:
        return f"<flowdsl flow {self.name!r} ({self.__wrapped__.__qualname__})>"


@overload
def flow(fn: Callable[P, R], /) -> Flow[P, R]: ...


@overload
def flow(
    *,
    name: str | None = None,
    image: str | None = None,
    code: CodeMode = "auto",
    on_exit: Task[Any, Any] | None = None,
    fail_fast: bool = True,
    schedule: Any = None,
    triggers: Sequence[Any] = (),
    **options: Any,
) -> Callable[[Callable[P, R]], Flow[P, R]]: ...


def flow(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    image: str | None = None,
    code: CodeMode = "auto",
    on_exit: Task[Any, Any] | None = None,
    fail_fast: bool = True,
    schedule: Any = None,
    triggers: Sequence[Any] = (),
    **options: Any,
) -> Flow[P, R] | Callable[[Callable[P, R]], Flow[P, R]]:
    """Declare a flow: a workflow whose body calls tasks.

    The flow's parameters become Argo workflow parameters (a typed form in the Argo UI):
    their hints give the encoding and enums, defaults become values, and descriptions come
    from ``Annotated[T, Param(description=...)]`` or the docstring's ``Args:`` section.

    Args:
        fn: the function (when used bare).
        name: the Argo name (default: the function name, ``_`` -> ``-``).
        image: the container image every task runs in, unless a task sets its own. It must
            contain flowdsl and what the tasks import.
        code: how task code reaches the pod: ``"import"`` (the image contains the project),
            ``"value"`` (embedded in the manifest with cloudpickle), or ``"auto"``: import
            for installed packages, by value for scripts and uninstalled modules.
        on_exit: a task run when the workflow ends, whatever its status (Argo's onExit). Its
            parameters may take the run's status (``flowdsl.RunStatus``), its failed nodes
            (``list[flowdsl.Failure]``), and flow parameters by name.
        fail_fast: stop starting new tasks once one fails (default); ``False`` lets
            independent branches run to the end.
        schedule: a cron string or a ``flowdsl.Schedule``: the flow also compiles to a
            CronWorkflow (see docs/scheduling.md).
        triggers: event triggers that start the flow (Argo Events Sensors).
        **options: defaults for every task of the flow (the task options of ``@task``,
            below profiles and the tasks' own), and workflow options: ``labels``,
            ``annotations``, ``parallelism``, ``service_account``, ``priority_class``,
            ``volumes`` (mounted in every task), ``workflow_timeout``, ``pod_gc``,
            ``max_concurrent`` (1: no two runs overlap). See docs/options.md.

    Raises:
        AnnotationError: a hint is missing or not supported.
        DefinitionError: two parameters are exposed under one name, a default does not fit.
        InvalidNameError: the name cannot become an Argo name.
    """
    options = {
        "name": name,
        "image": image,
        "code": code,
        "on_exit": on_exit,
        "fail_fast": fail_fast,
        "schedule": schedule,
        "triggers": triggers,
        "options": options,
    }
    if fn is not None:
        return Flow(fn, **options)

    def decorate(inner: Callable[P, R]) -> Flow[P, R]:
        return Flow(inner, **options)

    return decorate
