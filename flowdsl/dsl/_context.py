"""The tracer currently recording a flow body (one per trace, per thread of control)."""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING

from flowdsl.dsl._common import _caller_location
from flowdsl.errors import TraceError

if TYPE_CHECKING:
    from flowdsl.dsl._tracer import _Tracer


def _require_tracer(construct: str) -> _Tracer:
    tracer = _ACTIVE_TRACER.get()
    if tracer is None:
        raise TraceError(
            f"{construct} is used outside a flow being traced",
            fix=f"use {construct} inside a @flow function",
            location=_caller_location(),
        )
    return tracer


_ACTIVE_TRACER: contextvars.ContextVar[_Tracer | None] = contextvars.ContextVar(
    "flowdsl_tracer", default=None
)
