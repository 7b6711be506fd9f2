"""flowdsl: typed Python decorators that compile to native Argo Workflows.

Decorate functions with :func:`task` and :func:`flow`; ``flowdsl.compile(flow)`` gives the
Argo manifest (a Hera model), ``python -m flowdsl compile file.py`` prints it as YAML.

Importing this package is cheap on purpose: it runs whenever a user's module is imported,
in every pod too. The decorators load eagerly (they are light); :func:`compile`,
:func:`to_yaml` and :func:`to_json` load on first use because they import Hera and PyYAML.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowdsl._version import __version__
from flowdsl.dsl import Flow, Param, Ref, Task, flow, task
from flowdsl.errors import (
    AnnotationError,
    CodecError,
    CompileError,
    DefinitionError,
    FlowDSLError,
    InvalidNameError,
    LintError,
    OptionError,
    ParameterError,
    PayloadError,
    RunError,
    TargetError,
    TraceError,
)

if TYPE_CHECKING:
    from flowdsl._compile import compile, compile_dict
    from flowdsl.emit import to_json, to_yaml

__all__ = [
    "AnnotationError",
    "CodecError",
    "CompileError",
    "DefinitionError",
    "Flow",
    "FlowDSLError",
    "InvalidNameError",
    "LintError",
    "OptionError",
    "Param",
    "ParameterError",
    "PayloadError",
    "Ref",
    "RunError",
    "TargetError",
    "Task",
    "TraceError",
    "__version__",
    "compile",
    "compile_dict",
    "flow",
    "task",
    "to_json",
    "to_yaml",
]

# Heavy entry points, loaded on first attribute access (PEP 562).
_LAZY = {
    "compile": ("flowdsl._compile", "compile"),
    "compile_dict": ("flowdsl._compile", "compile_dict"),
    "to_yaml": ("flowdsl._emit_models", "to_yaml"),
    "to_json": ("flowdsl._emit_models", "to_json"),
}


def __getattr__(name: str) -> Any:
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'flowdsl' has no attribute {name!r}") from None
    import importlib

    value = getattr(importlib.import_module(module_name), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
