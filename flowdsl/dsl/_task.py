"""``@task``: a function that is itself outside a flow, and a recorded step inside one."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from typing_extensions import ParamSpec

from flowdsl import types as codecs
from flowdsl.artifacts import artifact_kind
from flowdsl.dsl._common import (
    _caller_location,
    _check_default,
    _codec,
    _definition_location,
    _hints,
    _return_annotation,
    _signature_params,
    _strip_annotated,
    _task_options,
)
from flowdsl.dsl._context import _ACTIVE_TRACER
from flowdsl.dsl._refs import _map_locally
from flowdsl.errors import DefinitionError
from flowdsl.ir import (
    NO_DEFAULT,
    Output,
    TaskDef,
    TaskOptions,
    TaskParam,
)
from flowdsl.names import dns_name

if TYPE_CHECKING:
    pass

P = ParamSpec("P")
R = TypeVar("R")


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
    from flowdsl.dsl._flow import Flow  # the flow module builds on this one

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
