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

from flowdsl.dsl._common import Param, option_layers, parse_duration
from flowdsl.dsl._flow import Flow, flow
from flowdsl.dsl._refs import Cond, Ref, otherwise, unmapped, when
from flowdsl.dsl._task import Task, task
from flowdsl.dsl._tracer import fused

__all__ = [
    "Cond",
    "Flow",
    "Param",
    "Ref",
    "Task",
    "flow",
    "fused",
    "option_layers",
    "otherwise",
    "parse_duration",
    "task",
    "unmapped",
    "when",
]
