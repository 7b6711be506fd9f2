"""Fused task groups: several task calls run in one pod, passing values in memory.

``with fused("prep"):`` makes the tracer collapse the calls in the block into one task
whose function is a :class:`FusedSteps`: it runs the calls in order, feeding each the
group's inputs, constants, or earlier results, and returns a dict of the values used
outside the group. Its signature (the group's inputs) and its return type (a ``TypedDict``
of those values) are ordinary type hints, so the compiler, the in-pod runtime and by-value
payloads treat the group as any other task.

Imported in the pod (the payload refers to :class:`FusedSteps` by reference): standard
library and :mod:`flowdsl.types` only.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flowdsl.types import field_value

__all__ = ["Export", "FusedSteps", "Source", "Step"]


@dataclass(frozen=True, slots=True)
class Source:
    """Where an argument of a step comes from.

    Attributes:
        kind: ``input`` (a group input), ``const`` (a constant), or ``step`` (an earlier
            step's result).
        name: the input name, or the step id.
        value: the constant, for ``const``.
        output: for ``step``: ``return`` (the whole result) or a field name
            (``return-N`` for a tuple position).
    """

    kind: str
    name: str = ""
    value: Any = None
    output: str = "return"


@dataclass(frozen=True, slots=True)
class Step:
    """One call of the group: the plain function, and its arguments by parameter name."""

    id: str
    fn: Callable[..., Any]
    args: tuple[tuple[str, Source], ...]


@dataclass(frozen=True, slots=True)
class Export:
    """A value the group returns (the output parameter ``name``)."""

    name: str
    step: str
    output: str


def _read(results: Mapping[str, Any], step: str, output: str) -> Any:
    whole = results[step]
    if output == "return":
        return whole
    return field_value(whole, output.removeprefix("return-"))


class FusedSteps:
    """Runs the steps of a fused group in order; called with the group's inputs by name."""

    def __init__(
        self,
        name: str,
        module: str,
        steps: tuple[Step, ...],
        exports: tuple[Export, ...],
        signature: inspect.Signature,
    ) -> None:
        self.name = name
        self.steps = steps
        self.exports = exports
        # inspect.signature() and the runtime read the group's inputs from here.
        self.__signature__ = signature
        # Payloads register this module for by-value pickling: the user's code, not flowdsl.
        self.__module__ = module
        self.__qualname__ = f"fused[{name}]"
        self.__name__ = self.__qualname__

    def __call__(self, **inputs: Any) -> dict[str, Any]:
        results: dict[str, Any] = {}
        for step in self.steps:
            kwargs = {}
            for param, source in step.args:
                if source.kind == "input":
                    kwargs[param] = inputs[source.name]
                elif source.kind == "const":
                    kwargs[param] = source.value
                else:
                    kwargs[param] = _read(results, source.name, source.output)
            results[step.id] = step.fn(**kwargs)
        return {e.name: _read(results, e.step, e.output) for e in self.exports}

    def __repr__(self) -> str:
        return f"<fused group {self.name!r}: {', '.join(s.id for s in self.steps)}>"
