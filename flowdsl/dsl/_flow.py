"""``@flow``: a workflow whose body calls tasks; tracing it gives a FlowGraph."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar, overload

from typing_extensions import ParamSpec

from flowdsl.dsl._common import (
    Param,
    _caller_location,
    _check_default,
    _codec,
    _definition_location,
    _docstring_args,
    _flow_options,
    _hints,
    _return_annotation,
    _signature_params,
    _strip_annotated,
)
from flowdsl.dsl._context import _ACTIVE_TRACER, _require_tracer
from flowdsl.dsl._refs import Ref
from flowdsl.dsl._task import Task
from flowdsl.dsl._tracer import _Tracer
from flowdsl.errors import (
    DefinitionError,
    OptionError,
)
from flowdsl.ir import (
    NO_DEFAULT,
    CodeMode,
    FlowGraph,
    FlowInput,
    FlowOptions,
    FlowParam,
)
from flowdsl.names import MAX_GENERATE_NAME, dns_name, is_parameter_name

P = ParamSpec("P")
R = TypeVar("R")


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
