"""Resolve a command-line TARGET (``path/to/file.py[:flow]`` or ``package.module[:flow]``)."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from types import ModuleType
from typing import Any

from flowdsl.dsl import Flow
from flowdsl.errors import FlowDSLError, TargetError
from flowdsl.ir import FlowGraph

__all__ = ["load_flow"]


def load_flow(target: str) -> Flow[Any, Any]:
    """The flow a TARGET names.

    Raises:
        TargetError: the file or module does not exist or fails to import, holds no flow,
            holds several and the target names none, or names something that is not a flow.
    """
    spec, _, attr = _split(target)
    module = _load_file(spec, target) if _is_path(spec) else _load_module(spec, target)
    flows = {
        name: value
        for name, value in vars(module).items()
        if isinstance(value, Flow) and not name.startswith("_")
    }
    if attr:
        value = getattr(module, attr, None)
        if isinstance(value, Flow):
            return value
        if value is None:
            known = ", ".join(sorted(flows)) or "none"
            raise TargetError(
                f"{spec!r} has no attribute {attr!r} (flows there: {known})",
                fix=f"name one of its flows, e.g. {spec}:{next(iter(sorted(flows)), 'my_flow')}",
                location=target,
            )
        raise TargetError(
            f"{spec}:{attr} is a {type(value).__name__}, not a @flow",
            fix="name a function decorated with @flow",
            location=target,
        )
    # A flow imported from another module is listed there too; prefer the module's own,
    # and among those the outermost (a sub-flow is not what the file is run for).
    own = {n: f for n, f in flows.items() if f.__module__ == module.__name__} or flows
    if not own:
        raise TargetError(
            f"{spec!r} defines no @flow",
            fix="decorate a function with @flow, or point at the file that does",
            location=target,
        )
    if len(own) > 1:
        own = _outermost(own)
    if len(own) > 1:
        names = ", ".join(sorted(own))
        raise TargetError(
            f"{spec!r} defines several flows ({names}) and the target names none",
            fix=f"add the flow's name: {spec}:{sorted(own)[0]}",
            location=target,
        )
    return next(iter(own.values()))


def _outermost(flows: dict[str, Flow[Any, Any]]) -> dict[str, Flow[Any, Any]]:
    """The flows no other flow of the same module calls (sub-flows are not targets)."""
    called: set[str] = set()
    for candidate in flows.values():
        try:
            graph = candidate.trace()
        except FlowDSLError:
            continue  # reported when that flow itself is compiled
        stack = [graph]
        while stack:
            for call in stack.pop().calls:
                if isinstance(call.task, FlowGraph):
                    called.add(call.task.qualname)
                    stack.append(call.task)
    return {
        name: f
        for name, f in flows.items()
        if f"{f.__wrapped__.__module__}.{f.__wrapped__.__qualname__}" not in called
    }


def _split(target: str) -> tuple[str, str, str]:
    # Split on the last ':' only when what follows looks like a name (not C:\ on Windows).
    head, sep, tail = target.rpartition(":")
    if sep and tail.isidentifier() and head and not (len(head) == 1 and head.isalpha()):
        return head, sep, tail
    return target, "", ""


def _is_path(spec: str) -> bool:
    return spec.endswith(".py") or os.sep in spec or "/" in spec


def _load_file(path: str, target: str) -> ModuleType:
    if not os.path.isfile(path):
        raise TargetError(
            f"file {path!r} does not exist",
            fix=f"check the path (relative to the current directory {os.getcwd()!r})",
            location=target,
        )
    name = os.path.splitext(os.path.basename(path))[0]
    if not name.isidentifier():
        raise TargetError(
            f"the file name {os.path.basename(path)!r} is not a valid Python module name",
            fix="rename the file (letters, digits and '_')",
            location=target,
        )
    directory = os.path.dirname(os.path.abspath(path))
    # The script's own directory is importable, as it is when the script runs itself.
    if directory not in sys.path:
        sys.path.insert(0, directory)
    existing = sys.modules.get(name)
    if existing is not None and os.path.abspath(getattr(existing, "__file__", "") or "") == (
        os.path.abspath(path)
    ):
        return existing
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - only for non-Python files
        raise TargetError(f"cannot load {path!r} as Python", location=target)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and cloudpickle look modules up by name
    try:
        spec.loader.exec_module(module)
    except FlowDSLError:
        sys.modules.pop(name, None)
        raise
    except Exception as exc:
        sys.modules.pop(name, None)
        raise TargetError(
            f"importing {path!r} failed: {type(exc).__name__}: {exc}",
            fix="fix the error in the file (run it with python to see the traceback)",
            location=target,
        ) from exc
    return module


def _load_module(name: str, target: str) -> ModuleType:
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            raise TargetError(
                f"no file or module named {name!r}",
                fix="give a path to a .py file or an importable module name",
                location=target,
            ) from None
        raise TargetError(
            f"importing {name!r} failed: {exc}",
            fix="install the missing module",
            location=target,
        ) from exc
    except FlowDSLError:
        raise
    except Exception as exc:
        raise TargetError(
            f"importing {name!r} failed: {type(exc).__name__}: {exc}",
            fix="fix the error in the module",
            location=target,
        ) from exc
