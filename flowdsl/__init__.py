"""flowdsl: typed Python decorators that compile to native Argo Workflows.

Decorate functions with :func:`task` and :func:`flow`; ``flowdsl.compile(flow)`` gives the
Argo manifest (a Hera model), ``python -m flowdsl compile file.py`` prints it as YAML.

Importing this package is cheap on purpose: it runs whenever a user's module is imported,
and in every pod (``python -m flowdsl.runtime`` imports the package first). So every public
name is loaded on first use (PEP 562): the decorators when a user module asks for them,
:func:`compile`, :func:`to_yaml` and :func:`to_json` (which import Hera and PyYAML) only
when called. The error classes are light and load eagerly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowdsl._version import __version__
from flowdsl.errors import (
    AnnotationError,
    CodecError,
    CompileError,
    DefinitionError,
    FlowDSLError,
    FlowDSLWarning,
    InvalidNameError,
    LintError,
    ManifestSizeWarning,
    OptionError,
    ParameterError,
    PayloadError,
    RunError,
    TargetError,
    TraceError,
)

if TYPE_CHECKING:
    from flowdsl._compile import compile, compile_dict
    from flowdsl._emit_models import to_json, to_yaml
    from flowdsl._run import FlowRun, run
    from flowdsl.client import submit
    from flowdsl.context import RunContext, current
    from flowdsl.dsl import (
        Cond,
        Flow,
        Param,
        Ref,
        Task,
        flow,
        fused,
        otherwise,
        task,
        unmapped,
        when,
    )
    from flowdsl.options import (
        Backoff,
        Cache,
        ConfigMapKey,
        Resources,
        Retry,
        Secret,
        Toleration,
        Volume,
    )
    from flowdsl.scheduling import (
        EventTrigger,
        Schedule,
        ScheduledTime,
        WebhookTrigger,
        schedule,
    )
    from flowdsl.types import Failure, RunStatus

__all__ = [
    "AnnotationError",
    "Backoff",
    "Cache",
    "CodecError",
    "CompileError",
    "Cond",
    "ConfigMapKey",
    "DefinitionError",
    "EventTrigger",
    "Failure",
    "Flow",
    "FlowDSLError",
    "FlowDSLWarning",
    "FlowRun",
    "InvalidNameError",
    "LintError",
    "ManifestSizeWarning",
    "OptionError",
    "Param",
    "ParameterError",
    "PayloadError",
    "Ref",
    "Resources",
    "Retry",
    "RunContext",
    "RunError",
    "RunStatus",
    "Schedule",
    "ScheduledTime",
    "Secret",
    "TargetError",
    "Task",
    "Toleration",
    "TraceError",
    "Volume",
    "WebhookTrigger",
    "__version__",
    "compile",
    "compile_dict",
    "current",
    "flow",
    "fused",
    "otherwise",
    "run",
    "schedule",
    "submit",
    "task",
    "to_json",
    "to_yaml",
    "unmapped",
    "when",
]

# Loaded on first attribute access (PEP 562).
_LAZY = {
    "Flow": ("flowdsl.dsl", "Flow"),
    "Param": ("flowdsl.dsl", "Param"),
    "Ref": ("flowdsl.dsl", "Ref"),
    "Task": ("flowdsl.dsl", "Task"),
    "flow": ("flowdsl.dsl", "flow"),
    "when": ("flowdsl.dsl", "when"),
    "fused": ("flowdsl.dsl", "fused"),
    "otherwise": ("flowdsl.dsl", "otherwise"),
    "unmapped": ("flowdsl.dsl", "unmapped"),
    "Cond": ("flowdsl.dsl", "Cond"),
    "RunStatus": ("flowdsl.types", "RunStatus"),
    "Backoff": ("flowdsl.options", "Backoff"),
    "Cache": ("flowdsl.options", "Cache"),
    "ConfigMapKey": ("flowdsl.options", "ConfigMapKey"),
    "Resources": ("flowdsl.options", "Resources"),
    "Retry": ("flowdsl.options", "Retry"),
    "Secret": ("flowdsl.options", "Secret"),
    "Toleration": ("flowdsl.options", "Toleration"),
    "Volume": ("flowdsl.options", "Volume"),
    "Failure": ("flowdsl.types", "Failure"),
    "run": ("flowdsl._run", "run"),
    "current": ("flowdsl.context", "current"),
    "Schedule": ("flowdsl.scheduling", "Schedule"),
    "ScheduledTime": ("flowdsl.scheduling", "ScheduledTime"),
    "EventTrigger": ("flowdsl.scheduling", "EventTrigger"),
    "WebhookTrigger": ("flowdsl.scheduling", "WebhookTrigger"),
    "schedule": ("flowdsl.scheduling", "schedule"),
    "RunContext": ("flowdsl.context", "RunContext"),
    "submit": ("flowdsl.client", "submit"),
    "FlowRun": ("flowdsl._run", "FlowRun"),
    "task": ("flowdsl.dsl", "task"),
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
