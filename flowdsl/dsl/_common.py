"""Shared pieces of the authoring layer: Param, locations, option checking, signatures."""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import functools
import inspect
import json
import os
import re
import sys
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flowdsl import types as codecs
from flowdsl.artifacts import artifact_kind
from flowdsl.errors import (
    AnnotationError,
    DefinitionError,
    FlowDSLError,
    OptionError,
)
from flowdsl.ir import (
    TaskOptions,
    WorkflowOptions,
    type_repr,
)
from flowdsl.names import is_parameter_name


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


@functools.lru_cache(maxsize=1024)
def _display_path(path: str) -> str:
    return _relative(path, os.getcwd())


@functools.lru_cache(maxsize=1024)
def _relative(path: str, cwd: str) -> str:
    # Cached per (file, directory): otherwise computed for every task call of a trace.
    try:
        rel = os.path.relpath(path, cwd)
    except ValueError:  # another drive on Windows
        return path
    return path if rel.startswith("..") else rel


def _definition_location(fn: Callable[..., Any]) -> str:
    code = getattr(fn, "__code__", None)
    if code is None:
        return "<unknown>"
    return f"{_display_path(code.co_filename)}:{code.co_firstlineno}"


# Frames in the flowdsl package are not the user's: error locations skip them.
_FLOWDSL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@functools.lru_cache(maxsize=1024)
def _is_internal(filename: str) -> bool:
    """Whether frames of ``filename`` are flowdsl's own.

    contextlib's count too: it runs the checks of when(...) and fused(...) in ``__exit__``.
    """
    directory = os.path.dirname(os.path.abspath(filename))
    return filename == contextlib.__file__ or directory.startswith(_FLOWDSL_DIR)


def _caller_location() -> str:
    """``file:line`` of the innermost frame outside flowdsl (the user's call site)."""
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None and _is_internal(frame.f_code.co_filename):
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


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


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
