"""The work of ``python -m flowdsl.runtime``: load, decode, call, encode, write.

Kept apart from the package's ``__init__`` so that the module docstring there describes the
contract and this file the mechanics. Imports are few and late on purpose: a pod pays for
every one of them, and ``--help`` should not pay for the codecs.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flowdsl.errors import (
    AnnotationError,
    CodecError,
    FlowDSLError,
    ParameterError,
    PayloadError,
    TargetError,
)

__all__ = ["main"]

_PROG = "python -m flowdsl.runtime"
#: Where output files go without --outputs (the path compiled manifests read them from).
DEFAULT_OUTPUTS = "/tmp/flowdsl/outputs"
_SHOW_MAX = 200
_MISMATCH_FIX = "the workflow does not match this image's code; compile it again and resubmit"


class _UserCodeFailed(Exception):
    """The user's code raised; its traceback has already been printed."""


@dataclass(frozen=True, slots=True)
class _Param:
    """One named parameter of the task function.

    Attributes:
        name: the parameter name.
        positional_only: it must be passed by position (``def f(a, /)``).
        has_default: the function gives it a default.
        default: that default (None when there is none).
    """

    name: str
    positional_only: bool
    has_default: bool
    default: Any = None


def main(argv: Sequence[str] | None = None) -> int:
    """Run one task as its pod does, and return the exit status.

    Args:
        argv: the arguments after ``python -m flowdsl.runtime`` (default: ``sys.argv[1:]``).

    Returns:
        0 on success, 1 if the user's code raised, 2 if the command line, the code, the
        inputs or the return value are wrong (one message on stderr says which).
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        # Positionals are NAME=VALUE inputs, and MODULE:QUALNAME (no '=') the function.
        named = [item for item in args.inputs if "=" not in item]
        if named:
            if len(named) > 1 or args.function is not None:
                parser.error(f"one function only, got {', '.join(map(repr, named))}")
            args.function = named[0]
        if (args.function is None) == (args.payload is None):
            parser.error("give exactly one of MODULE:QUALNAME (or --function) and --payload")
        inputs = _split_inputs(parser, [i for i in args.inputs if "=" in i] + args.input)
    except SystemExit as exit_:  # --help, or a usage error argparse has already printed
        return exit_.code if isinstance(exit_.code, int) else 2
    stdout = _StdoutForResult()
    try:
        if args.function is not None:
            fn, hints, name = _import_function(args.function)
        else:
            fn, hints, name = _load_payload(args.payload)
        if name is not None:  # for flowdsl.current().task; a variable the pod sets wins
            os.environ.setdefault("FLOWDSL_TASK", name)
        task = getattr(fn, "__qualname__", None) or repr(fn)
        call_args, call_kwargs = _decode_inputs(fn, hints, inputs, task)
        value = _call(fn, call_args, call_kwargs)
        directory = args.outputs or DEFAULT_OUTPUTS
        outputs = _encode_outputs(hints, value, task, directory)
        result = outputs.get("return")
        # Given --outputs, the return value is also written to the file `return`: manifests
        # compiled by flowdsl 0.1 read it there (and always passed --outputs), so their
        # registered templates and cron workflows keep running on images with this runtime.
        if args.outputs is None:
            outputs.pop("return", None)
        _write_outputs(directory, outputs, task)
        stdout.write_result(result)
    except _UserCodeFailed:
        return 1
    except FlowDSLError as err:
        _error(str(err))
        return 2
    finally:
        stdout.close()
    return 0


class _StdoutForResult:
    """Keep the process's standard output for the task's result alone.

    NOTE: [The result is stdout]
    A task's return value is Argo's ``outputs.result``: the executor keeps the main
    container's standard output (one trailing newline trimmed) when a later task refers to
    it, so the manifest declares no output parameter, file or ``valueFrom`` for it, and
    callers write ``{{tasks.X.outputs.result}}``, as Hera does. For that to hold, nothing
    else may reach it. From the start of :func:`main` to the end of the process, file
    descriptor 1 is a duplicate of descriptor 2: ``print``, logging to stdout, C
    extensions, child processes, and what libraries print at exit (``atexit`` handlers,
    threads still running) all go to stderr, which Argo's log view shows too. The encoded
    return value alone is written to the original stdout, kept aside, followed by one
    newline: Argo's executor trims exactly one trailing newline from stdout
    (``CaptureScriptResult``), so a ``str`` that itself ends with a newline keeps it.

    So :func:`main` is meant to be the whole process (``python -m flowdsl.runtime``, or a
    local attempt forked from the fork server), which is how pods and the local engine run it.
    """

    def __init__(self) -> None:
        sys.stdout.flush()
        self._saved: int | None = os.dup(1)
        os.dup2(2, 1)

    def write_result(self, text: str | None) -> None:
        """Write the result (``None``: the task returns nothing) to the original stdout."""
        if text is None or self._saved is None:
            return
        sys.stdout.flush()  # what the task printed first, on stderr
        data = (text + "\n").encode("utf-8")  # the newline Argo trims (see above)
        while data:
            data = data[os.write(self._saved, data) :]

    def close(self) -> None:
        """Let go of the original stdout (descriptor 1 stays on stderr)."""
        if self._saved is not None:
            os.close(self._saved)
            self._saved = None


# --------------------------------------------------------------------------- command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=_PROG,
        description=(
            "Run one flowdsl task inside its container: decode the inputs, call the "
            "function, write its outputs. Exit 0 on success, 1 if the task raised, 2 if "
            "the command, inputs or return value do not match the task's code."
        ),
    )
    parser.add_argument(
        "--function",
        metavar="MODULE:QUALNAME",
        help="import the task function from a module installed in the image",
    )
    parser.add_argument(
        "--payload",
        metavar="PATH",
        help="load the task function from a by-value payload file (a script template's source)",
    )
    parser.add_argument(
        "inputs",
        metavar="MODULE:QUALNAME | NAME=VALUE",
        nargs="*",
        help="the task function to import from the image (as --function), then each "
        "argument as its Argo parameter text (VALUE may be empty)",
    )
    parser.add_argument(
        "--input",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        help="the same, as an option (repeatable)",
    )
    parser.add_argument(
        "--outputs",
        metavar="DIR",
        default=None,
        help="directory that receives one file per field output and the returned artifact "
        f"(default: {DEFAULT_OUTPUTS}); the return value is written to stdout, and, when this "
        "flag is given, also to the file 'return' (what older manifests read)",
    )
    return parser


def _split_inputs(parser: argparse.ArgumentParser, raw: Sequence[str]) -> dict[str, str]:
    inputs: dict[str, str] = {}
    for item in raw:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"an input must be NAME=VALUE, got {item!r}")
        if name in inputs:
            parser.error(f"input {name!r} is given twice")
        inputs[name] = value
    return inputs


def _error(message: str) -> None:
    sys.stderr.write(f"flowdsl.runtime: error: {message}\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------- the function


def _import_function(spec: str) -> tuple[Callable[..., Any], dict[str, Any], str | None]:
    """Import ``module:qualname``, unwrap a flowdsl task, resolve its type hints.

    Returns:
        The function, its hints, and the flowdsl task's name (None for a plain function).
    """
    import importlib

    module_name, sep, qualname = spec.partition(":")
    if not sep or not module_name or not qualname:
        raise TargetError(
            f"--function expects MODULE:QUALNAME, got {spec!r}",
            fix="e.g. --function acme.pipeline:extract",
        )
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        missing = err.name or ""
        if module_name == missing or module_name.startswith(f"{missing}."):
            raise TargetError(
                f"module {module_name!r} is not importable in this image ({err})",
                fix="install the project in the image, or compile with code='value' so the "
                "function travels in the workflow",
            ) from None
        _print_user_traceback(err)
        raise _UserCodeFailed from None
    except Exception as err:
        _print_user_traceback(err)
        raise _UserCodeFailed from None
    for part in qualname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise TargetError(
                f"module {module_name!r} has no {qualname!r} (no attribute {part!r})",
                fix="a task must be a module-level function of the image's code; compile "
                "the workflow again against this image, or with code='value'",
            ) from None
    name = getattr(obj, "name", None) if _is_flowdsl(obj) else None
    fn = _unwrap(obj)
    if not callable(fn):
        raise TargetError(
            f"{spec!r} is a {type(fn).__name__}, not a function",
            fix="point --function at the task function",
        )
    try:
        import typing

        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as err:
        raise AnnotationError(
            f"the type hints cannot be resolved ({type(err).__name__}: {err})",
            fix="import every name used in the annotations at module level",
            task=getattr(fn, "__qualname__", qualname),
        ) from None
    return fn, hints, name if isinstance(name, str) else None


def _unwrap(obj: Any) -> Any:
    """The plain function of a flowdsl ``@task`` wrapper; any other object unchanged.

    Only flowdsl's own wrappers are unwrapped: a user decorator that sets ``__wrapped__``
    (``functools.wraps``) must keep its behaviour.
    """
    while _is_flowdsl(obj) and hasattr(obj, "__wrapped__"):
        obj = obj.__wrapped__
    return obj


def _is_flowdsl(obj: Any) -> bool:
    return type(obj).__module__.partition(".")[0] == "flowdsl"


def _load_payload(path: str) -> tuple[Callable[..., Any], dict[str, Any], str | None]:
    from flowdsl.payload import load, task_name

    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except (OSError, UnicodeDecodeError) as err:
        raise PayloadError(
            f"the payload file cannot be read ({type(err).__name__}: {err})",
            fix="--payload must be the last flag, so that Argo appends the script's path",
        ) from None
    fn, hints = load(text)
    return fn, hints, task_name(text)


# --------------------------------------------------------------------------- inputs


def _signature(fn: Callable[..., Any]) -> list[_Param]:
    """The named parameters of fn, from its code object when it has one (no inspect)."""
    code = getattr(fn, "__code__", None)
    # Methods, decorated functions (``functools.wraps``: the signature is the wrapped
    # function's) and explicit signatures need inspect's rules.
    if code is None or any(
        hasattr(fn, attr) for attr in ("__self__", "__wrapped__", "__signature__")
    ):
        return _slow_signature(fn)
    names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    defaults = fn.__defaults__ or ()
    kwdefaults = fn.__kwdefaults__ or {}
    first_default = code.co_argcount - len(defaults)
    params = []
    for index, name in enumerate(names):
        if index < code.co_argcount:
            has_default = index >= first_default
            default = defaults[index - first_default] if has_default else None
        else:
            has_default = name in kwdefaults
            default = kwdefaults.get(name)
        params.append(_Param(name, index < code.co_posonlyargcount, has_default, default))
    return params


def _slow_signature(fn: Callable[..., Any]) -> list[_Param]:
    import inspect

    params = []
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        has_default = param.default is not param.empty
        params.append(
            _Param(
                param.name,
                param.kind is param.POSITIONAL_ONLY,
                has_default,
                param.default if has_default else None,
            )
        )
    return params


def _decode_inputs(
    fn: Callable[..., Any], hints: Mapping[str, Any], inputs: Mapping[str, str], task: str
) -> tuple[list[Any], dict[str, Any]]:
    """Decode every input with its parameter's codec; positional-only ones go by position."""
    from flowdsl.artifacts import artifact_kind
    from flowdsl.types import codec_for, decode_fan_in

    params = _signature(fn)
    known = {param.name for param in params}
    for name in inputs:
        if name not in known:
            listed = ", ".join(param.name for param in params) or "none"
            raise ParameterError(
                f"unknown input (the task's parameters are: {listed})",
                fix=_MISMATCH_FIX,
                task=task,
                parameter=name,
            )
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for param in params:
        if param.name not in inputs:
            if not param.has_default:
                raise ParameterError(
                    "missing input: the parameter has no default and no "
                    f"--input {param.name}=... was given",
                    fix=_MISMATCH_FIX,
                    task=task,
                    parameter=param.name,
                )
            if param.positional_only:
                args.append(param.default)
            continue
        if param.name not in hints:
            raise AnnotationError(
                "the parameter has no type hint, so its input cannot be decoded",
                fix="annotate every task parameter",
                task=task,
                parameter=param.name,
            )
        artifact = artifact_kind(hints[param.name])
        if artifact is not None:
            value = _read_artifact(artifact, inputs[param.name], task, param.name)
            if param.positional_only:
                args.append(value)
            else:
                kwargs[param.name] = value
            continue
        text = _normalise_failures(hints[param.name], inputs[param.name])
        text = _normalise_empty_loop(hints[param.name], text, param.name)
        try:
            codec = codec_for(hints[param.name])
        except AnnotationError as err:
            raise AnnotationError(
                err.problem, fix=err.fix, task=task, parameter=param.name
            ) from None
        try:
            value = decode_fan_in(codec, text)
        except CodecError as err:
            problem = f"expected {codec.type_name}, got {_show(text)}"
            if not _says_only(err.problem, codec.type_name, text):
                problem = f"{problem}: {err.problem}"
            raise ParameterError(problem, fix=err.fix, task=task, parameter=param.name) from None
        if param.positional_only:
            args.append(value)
        else:
            kwargs[param.name] = value
    return args, kwargs


def _says_only(problem: str, type_name: str, text: str) -> bool:
    """Whether a codec's problem is just "expected T, got 'text'" (maybe cut short).

    Then it adds nothing to the runtime's own sentence; otherwise it says where inside the
    value, or why, the text failed, and is kept.
    """
    prefix = f"expected {type_name}, got "
    if not problem.startswith(prefix):
        return False
    shown, full = problem[len(prefix) :], repr(text)
    return shown == full or (shown.endswith("...") and full.startswith(shown[:-3]))


def _show(text: str) -> str:
    if len(text) <= _SHOW_MAX:
        return repr(text)
    return f"{text[:_SHOW_MAX]!r}... ({len(text)} characters)"


# --------------------------------------------------------------------------- call, outputs


def _call(fn: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
    try:
        return fn(*args, **kwargs)
    except Exception as err:
        # Start the traceback at the user's function: this frame is noise for them.
        _print_user_traceback(err, skip_first=True)
        raise _UserCodeFailed from None


def _print_user_traceback(err: BaseException, *, skip_first: bool = False) -> None:
    import traceback

    sys.stdout.flush()  # keep the task's own output before the traceback in a merged log
    tb = err.__traceback__
    if skip_first and tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    traceback.print_exception(type(err), err, tb, file=sys.stderr)
    sys.stderr.flush()


def _normalise_failures(annotation: Any, text: str) -> str:
    """Argo's ``{{workflow.failures}}`` as the JSON list ``list[Failure]`` decodes.

    Argo writes the failures JSON through Go's ``strconv.Quote`` (so its quotes survive
    template substitution) and writes ``null`` when nothing failed; undo both.
    """
    from flowdsl.types import Failure

    if annotation != list[Failure]:
        return text
    import json

    stripped = text.strip()
    if stripped.startswith('"'):
        try:
            stripped = str(json.loads(stripped))
        except ValueError:
            return text
    return "[]" if stripped in ("", "null") else stripped


#: An Argo reference to a loop's outputs that Argo left as it was written.
_UNRESOLVED_LOOP_OUTPUT = re.compile(
    r"\{\{(?:tasks|steps)\.[-\w]+\.outputs\.(?:result|parameters\.[-\w]+)\}\}"
)


def _normalise_empty_loop(annotation: Any, text: str, parameter: str) -> str:
    """``[]`` for the fan-in of a map that ran no items.

    Argo skips a loop over an empty list ("Skipped, empty params") and, having no outputs
    to aggregate, leaves the reference in the next task's argument unresolved. In a flowdsl
    manifest that is the only way such a reference reaches a task (a failed or condition
    skipped map omits its readers), so a ``list[...]`` parameter receiving it gets the empty
    list that mapping over nothing gives in Python. The note on stderr says so.
    """
    import typing

    if typing.get_origin(annotation) is not list or not _UNRESOLVED_LOOP_OUTPUT.fullmatch(text):
        return text
    sys.stderr.write(f"flowdsl.runtime: {parameter}: {text} ran no items; received []\n")
    return "[]"


def _read_artifact(kind: Any, path: str, task: str, parameter: str) -> Any:
    from pathlib import Path

    from flowdsl.artifacts import read

    try:
        return read(kind, Path(path))
    except (OSError, CodecError) as err:
        problem = err.problem if isinstance(err, CodecError) else f"{type(err).__name__}: {err}"
        raise ParameterError(
            f"the input artifact at {path!r} cannot be read ({problem})",
            fix="the artifact should be the output of the task that produced it",
            task=task,
            parameter=parameter,
        ) from None


#: Largest value (result or output parameter) a task hands on. A value reaches the next task
#: as one command-line argument, ``name=value``, and Linux refuses one argument of 128 KiB or
#: more (MAX_ARG_STRLEN; Argo cannot start such a pod: "argument list too long"); 1 KiB is
#: left for the name. Argo also keeps every value in the workflow's status, one etcd object
#: of at most 1 MiB. A bigger value belongs in an artifact.
MAX_PARAMETER_BYTES = 127 * 1024


def _encode_outputs(
    hints: Mapping[str, Any], result: Any, task: str, directory: str
) -> dict[str, str]:
    from flowdsl.artifacts import artifact_kind
    from flowdsl.types import codec_for, output_values

    annotation = hints.get("return")
    artifact = artifact_kind(annotation)
    if artifact is not None:
        _write_artifact(artifact, result, os.path.join(directory, "return"), task)
        return {}
    try:
        texts = output_values(annotation, result)
        for name, text in texts.items():
            size = len(text.encode("utf-8"))
            if size > MAX_PARAMETER_BYTES:
                what = "the return value" if name == "return" else f"output '{name}'"
                raise CodecError(
                    f"{what} is {size // 1024} KiB encoded, over the "
                    f"{MAX_PARAMETER_BYTES // 1024} KiB a value can be (it reaches the next "
                    "task as one command-line argument, which Linux limits to 128 KiB, and "
                    "lives in the workflow's status, 1 MiB in all)",
                    fix="return it as an artifact: annotate the return Artifact[T] (or bytes, "
                    "or a pathlib.Path to a file)",
                    task=task,
                )
        return texts
    except AnnotationError as err:
        raise AnnotationError(f"return hint: {err.problem}", fix=err.fix, task=task) from None
    except CodecError as err:
        none = annotation is None or annotation is type(None)
        expected = "None" if none else codec_for(annotation).type_name
        raise CodecError(
            f"the return value does not match the return hint {expected}: {err.problem}",
            fix=err.fix or f"return a {expected}, or change the return hint",
            task=task,
        ) from None


def _write_artifact(kind: Any, value: Any, path: str, task: str) -> None:
    from pathlib import Path

    from flowdsl.artifacts import write

    try:
        write(kind, value, Path(path))
    except (OSError, TypeError, CodecError) as err:
        problem = err.problem if isinstance(err, CodecError) else str(err)
        raise CodecError(
            f"the returned artifact cannot be written ({problem})",
            fix="return bytes, a path to an existing file or directory, or a value of the "
            "Artifact[T] type",
            task=task,
        ) from None


def _write_outputs(directory: str, outputs: Mapping[str, str], task: str) -> None:
    """Write each output to ``directory/name`` atomically (Argo may read as soon as it sees it).

    Each file ends with one newline more than the value: Argo's executor trims exactly one
    from a parameter file (``SaveParameters``), as from stdout.
    """
    if not outputs:
        return
    try:
        os.makedirs(directory, exist_ok=True)
        for name, text in outputs.items():
            path = os.path.join(directory, name)
            # Same directory, so os.replace is a rename on one file system.
            temporary = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
            with open(temporary, "w", encoding="utf-8", newline="") as file:
                file.write(text + "\n")
            os.replace(temporary, path)
    except OSError as err:
        raise FlowDSLError(
            f"the outputs cannot be written to {directory!r} ({type(err).__name__}: {err})",
            fix="--outputs must name a writable directory",
            task=task,
        ) from None
