"""The tracer: records the calls a flow body makes into IR calls; fused groups."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typing_extensions as te

from flowdsl import types as codecs
from flowdsl.artifacts import ArtifactKind, artifact_kind
from flowdsl.dsl._common import _caller_location, _short, _task_options, _type_mismatch
from flowdsl.dsl._context import _require_tracer
from flowdsl.dsl._refs import (
    Cond,
    Ref,
    _fits,
    _list_element,
    _NoOutputRef,
    _Unmapped,
)
from flowdsl.dsl._task import Task
from flowdsl.errors import (
    DefinitionError,
    FlowDSLError,
    TraceError,
)
from flowdsl.ir import (
    NO_DEFAULT,
    AllOf,
    AnyOf,
    Call,
    Compare,
    Condition,
    Const,
    FlowGraph,
    FlowInput,
    IsTrue,
    Loop,
    NodeOutput,
    Not,
    Operand,
    Output,
    TaskDef,
    TaskOptions,
    TaskParam,
    Value,
    WorkflowVar,
    condition_repr,
    condition_values,
    list_of,
    options_repr,
    type_repr,
)
from flowdsl.names import Namespace, dns_name

if TYPE_CHECKING:
    from flowdsl.dsl._flow import Flow


# --------------------------------------------------------------------------------------------
# The tracer
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _CallBuilder:
    id: str
    task: TaskDef | FlowGraph
    options: TaskOptions
    args: tuple[tuple[str, Value], ...]
    after: dict[str, None]  # an ordered set: ids of calls ordered before this one
    location: str
    loop: Loop | None
    condition: Condition | None
    group: _Group | None = None


@dataclass(slots=True)
class _Group:
    """A ``with fused(...)`` block being traced."""

    id: str
    name: str
    options: TaskOptions | None  # given on fused(...), else taken from the first call
    location: str
    depth: int  # how many when(...) blocks enclose it
    members: list[_CallBuilder]


@dataclass(frozen=True, slots=True)
class _Callee:
    """What a call binds to: a task or a sub-flow, seen the same way."""

    name: str
    fn: Callable[..., Any]
    params: tuple[TaskParam, ...]  # by exposed name
    python_names: tuple[str, ...]
    returns: Any
    outputs: tuple[Output, ...]
    target: TaskDef | FlowGraph
    options: TaskOptions


class _Tracer:
    """Records the calls a flow body makes. One per trace; never shared between threads."""

    def __init__(
        self, flow_name: str, subflows: dict[int, FlowGraph], stack: tuple[str, ...]
    ) -> None:
        self.flow_name = flow_name
        self.calls: list[_CallBuilder] = []
        self._by_id: dict[str, _CallBuilder] = {}
        self._ids = Namespace()
        self._conditions: list[Condition] = []
        # The condition of the `when` block that closed last at each depth, with the number
        # of calls recorded at that moment (otherwise() must follow it directly).
        self._closed_when: dict[int, tuple[Condition, int]] = {}
        self.subflows = subflows  # sub-flows traced once per root trace, by id(Flow)
        self.stack = stack  # names of the flows being traced, outermost first
        self.group: _Group | None = None
        self.groups: list[_Group] = []
        self._position: dict[str, int] = {}  # recording order of each call
        self._forward_edges = False  # an .after() edge points to a later call

    def outputs_of(self, call_id: str) -> tuple[Output, ...]:
        return self._by_id[call_id].task.outputs

    def condition_of(self, call_id: str) -> Condition | None:
        return self._by_id[call_id].condition

    def add_order(self, node: str, before: str, label: str) -> None:
        builder = self._by_id[node]
        if before == node:
            raise TraceError(
                f"{label}.after() names the same call",
                fix="pass a reference to another call",
                flow=self.flow_name,
                location=_caller_location(),
            )
        # Every data edge points to an earlier call, so while every .after() edge does too
        # no cycle is possible and the (linear) reachability walk can be skipped; it is
        # needed once an edge points forward in recording order.
        forward = self._position[before] > self._position[node]
        if (forward or self._forward_edges) and self._reaches(before, node):
            raise TraceError(
                f"{label}.after() would make a cycle: {before} already runs after {node}",
                fix="order calls in the direction the data flows",
                flow=self.flow_name,
                location=_caller_location(),
            )
        self._forward_edges = self._forward_edges or forward
        builder.after[before] = None

    def _reaches(self, start: str, target: str) -> bool:
        """Whether ``start`` depends, directly or not, on ``target``."""
        stack, seen = [start], set()
        while stack:
            current = stack.pop()
            if current == target:
                return True
            if current in seen:
                continue
            seen.add(current)
            builder = self._by_id[current]
            stack.extend(v.node for _, v in builder.args if isinstance(v, NodeOutput))
            stack.extend(builder.after)
            if builder.loop is not None:
                stack.extend(v.node for _, v in builder.loop.mapped if isinstance(v, NodeOutput))
            if builder.condition is not None:
                values = condition_values(builder.condition)
                stack.extend(v.node for v in values if isinstance(v, NodeOutput))
        return False

    # -- conditions -------------------------------------------------------------------------

    @contextlib.contextmanager
    def conditional(self, condition: Condition, construct: str) -> Iterator[None]:
        depth = len(self._conditions)
        location = _caller_location()
        recorded = len(self.calls)
        self._conditions.append(condition)
        try:
            yield
        finally:
            self._conditions.pop()
        if len(self.calls) == recorded:
            raise TraceError(
                f"{construct} block records no task call",
                fix="call at least one task inside the block, or remove it",
                flow=self.flow_name,
                location=location,
            )
        if construct == "when(...)":
            self._closed_when[depth] = (condition, len(self.calls))
        else:
            self._closed_when.pop(depth, None)

    @contextlib.contextmanager
    def fused_group(self, name: str, options: TaskOptions | None, location: str) -> Iterator[None]:
        if self.group is not None:
            raise TraceError(
                f"fused({name!r}) is inside fused({self.group.name!r}); groups do not nest",
                fix="merge the blocks into one fused group",
                flow=self.flow_name,
                location=location,
            )
        group = _Group(self._ids.claim(name), name, options, location, len(self._conditions), [])
        self.group = group
        try:
            yield
        finally:
            self.group = None
        if not group.members:
            raise TraceError(
                f"fused({name!r}) block records no task call",
                fix="call the tasks to fuse inside the block, or remove it",
                flow=self.flow_name,
                location=location,
            )
        self.groups.append(group)

    def last_when(self) -> Condition:
        depth = len(self._conditions)
        closed = self._closed_when.get(depth)
        if closed is None or closed[1] != len(self.calls):
            raise TraceError(
                "otherwise() must come right after a 'with when(...):' block",
                fix="put 'with otherwise():' directly after the when block it completes",
                flow=self.flow_name,
                location=_caller_location(),
            )
        return closed[0]

    def _current_condition(self) -> Condition | None:
        if not self._conditions:
            return None
        if len(self._conditions) == 1:
            return self._conditions[0]
        return AllOf(tuple(self._conditions))

    # -- calls ------------------------------------------------------------------------------

    def _callee(self, target: Task[Any, Any] | Flow[Any, Any], location: str) -> _Callee:
        if isinstance(target, Task):
            d = target.definition
            return _Callee(
                d.name,
                d.fn,
                d.params,
                tuple(p.name for p in d.params),
                d.returns,
                d.outputs,
                d,
                target._call_options or d.options,
            )
        graph = self.subflows.get(id(target))
        if graph is None:
            if target.name in self.stack:
                raise TraceError(
                    f"flow '{target.name}' calls itself (through {' -> '.join(self.stack)})",
                    fix="flows cannot recurse: the graph must be finite",
                    flow=self.flow_name,
                    location=location,
                )
            graph = target._trace(self.subflows, self.stack)
            self.subflows[id(target)] = graph
        params = tuple(TaskParam(p.name, p.annotation, p.default) for p in graph.params)
        return _Callee(
            graph.name,
            target.__wrapped__,
            params,
            tuple(p.python_name for p in graph.params),
            graph.returns,
            graph.outputs,
            graph,
            TaskOptions(),
        )

    def record(
        self,
        target: Task[Any, Any] | Flow[Any, Any],
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        location: str,
        *,
        mapped: bool = False,
    ) -> Ref:
        callee = self._callee(target, location)
        where = {"flow": self.flow_name, "task": callee.name, "location": location}
        uses_artifacts = any(o.artifact for o in callee.outputs) or any(
            artifact_kind(p.annotation) for p in callee.params
        )
        if uses_artifacts and (mapped or self.group is not None):
            construct = "map(...)" if mapped else f"fused({self.group.name!r})"  # type: ignore[union-attr]
            raise TraceError(
                f"{construct} with a task that takes or returns artifacts is not supported "
                "(Argo does not join a loop's artifacts; a fused group passes values in memory "
                "and exports parameters)",
                fix="call the task on its own, or pass ordinary values",
                **where,
            )
        try:
            bound = _signature(callee.fn).bind(*args, **kwargs)
        except TypeError as exc:
            expected = ", ".join(
                python + ("" if p.default is NO_DEFAULT else "=...")
                for python, p in zip(callee.python_names, callee.params, strict=True)
            )
            raise TraceError(
                f"bad call: {exc}",
                fix=f"call it as {callee.name}({expected})",
                **where,
            ) from None
        whole: list[tuple[str, Value]] = []
        each: list[tuple[str, Value]] = []
        for python, param in zip(callee.python_names, callee.params, strict=True):
            if python not in bound.arguments:
                continue
            arg = bound.arguments[python]
            if mapped and self._is_mapped(param, arg, where):
                each.append((param.name, self._mapped_value(param, arg, where)))
            else:
                if isinstance(arg, _Unmapped):
                    arg = arg.value
                whole.append((param.name, self._value(param, arg, where)))
        loop = None
        if mapped:
            loop = self._loop(each, callee, where)
        group = self.group
        if group is not None:
            self._check_member(group, callee, mapped, where)
        call_id = self._ids.claim(callee.name)
        builder = _CallBuilder(
            call_id,
            callee.target,
            callee.options,
            tuple(whole),
            {},
            location,
            loop,
            self._current_condition(),
            group,
        )
        if group is not None:
            group.members.append(builder)
        self._position[call_id] = len(self.calls)
        self.calls.append(builder)
        self._by_id[call_id] = builder
        label = f"{callee.name}(...)" if call_id == callee.name else f"{call_id}(...)"
        if mapped:
            label = f"{callee.name}.map(...)" if call_id == callee.name else f"{call_id}.map(...)"
        if callee.returns is None:
            return _NoOutputRef(self, NodeOutput(call_id, ""), None, label)
        if mapped:
            return Ref(
                self,
                NodeOutput(call_id, "return"),
                list_of(callee.returns),
                label,
                element=callee.returns,
            )
        return Ref(self, NodeOutput(call_id, "return"), callee.returns, label)

    def _check_member(
        self, group: _Group, callee: _Callee, mapped: bool, where: Mapping[str, str]
    ) -> None:
        """A call inside ``fused(...)``: one plain task call, with the group's pod options."""
        fix_out = f"call it outside the fused({group.name!r}) block"
        if mapped:
            raise TraceError(
                f"map(...) inside fused({group.name!r}): a map fans out to one pod per item, "
                "a fused group is one pod",
                fix=f"{fix_out}, or loop inside a task",
                **where,
            )
        if isinstance(callee.target, FlowGraph):
            raise TraceError(
                f"sub-flow '{callee.name}' inside fused({group.name!r}): a sub-flow is a DAG of "
                "pods, a fused group is one pod",
                fix=fix_out,
                **where,
            )
        if len(self._conditions) != group.depth:
            raise TraceError(
                f"when(...) inside fused({group.name!r}): the group runs as one step, so a "
                "condition applies to all of it",
                fix=f"put 'with when(...):' around the whole fused({group.name!r}) block",
                **where,
            )
        wanted = group.options or (group.members[0].options if group.members else None)
        pod_options = callee.options.pod_options()
        if wanted is not None and pod_options != wanted.pod_options():
            raise TraceError(
                f"its options ({_options_text(pod_options)}) differ from the fused "
                f"({group.name!r}) group's ({_options_text(wanted)}); the group runs in one pod "
                "with one set of resources",
                fix=f"give the options once on fused({group.name!r}, ...), or {fix_out}",
                **where,
            )

    def _loop(
        self, each: list[tuple[str, Value]], callee: _Callee, where: Mapping[str, str]
    ) -> Loop:
        if not each:
            raise TraceError(
                "map(...) has nothing to map over: no argument is a list of its parameter's type",
                fix=f"pass a list for at least one parameter, or call {callee.name}(...) directly",
                **where,
            )
        lengths = {name: len(value.value) for name, value in each if isinstance(value, Const)}
        empty = [name for name, count in lengths.items() if count == 0]
        if empty:
            # Argo skips a loop over nothing, and what reads its outputs then cannot run.
            raise TraceError(
                f"map(...) over an empty list ({', '.join(empty)}): there is nothing to run",
                fix="pass at least one item; the list is known when the flow is traced, so "
                f"an 'if' in the flow body can leave out {callee.name}.map(...)",
                **where,
            )
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{name}: {count}" for name, count in lengths.items())
            raise TraceError(
                f"map(...) zips lists of different lengths ({shown})",
                fix="pass lists of equal length (items are paired by position)",
                **where,
            )
        if len(each) > 1 and any(not isinstance(v, Const) for _, v in each):
            raise TraceError(
                "map(...) over several lists that are only known when the workflow runs is "
                "not supported (Argo loops over one list)",
                fix="return a list of records (e.g. list[dict] or a list of dataclasses) from "
                "one task and map a single parameter over it",
                **where,
            )
        return Loop(tuple(each), callee.options.parallelism)

    def _is_mapped(self, param: TaskParam, arg: Any, where: Mapping[str, str]) -> bool:
        if isinstance(arg, _Unmapped):
            return False
        if isinstance(arg, Ref):
            element = _list_element(arg._annotation)
            if _fits(arg._annotation, param.annotation) or element is None:
                return False
            if _fits(element, param.annotation):
                return True
            raise TraceError(
                f"map(...): {arg._label} is of type {type_repr(arg._annotation)}, neither "
                f"{type_repr(param.annotation)} nor a list of them",
                fix=f"map over a list[{type_repr(param.annotation)}], or wrap a whole value in "
                "unmapped(...)",
                parameter=param.name,
                **where,
            )
        codec = codecs.codec_for(param.annotation)
        try:
            codec.validate(arg)
            return False
        except FlowDSLError:
            pass
        if isinstance(arg, (list, tuple)):
            return True
        raise TraceError(
            f"map(...): {arg!r} is neither of type {codec.type_name} nor a list of them",
            fix=f"pass a list of {codec.type_name} to map over, or a single value",
            parameter=param.name,
            **where,
        )

    def _mapped_value(self, param: TaskParam, arg: Any, where: Mapping[str, str]) -> Value:
        if isinstance(arg, Ref):
            return self._value(TaskParam(param.name, arg._annotation), arg, where)
        codec = codecs.codec_for(param.annotation)
        for index, item in enumerate(arg):
            _reject_nested_refs(item, param.name, where)
            try:
                codec.validate(item)
            except FlowDSLError as exc:
                raise TraceError(
                    f"map(...): item {index} of the list: {exc.problem}",
                    fix=f"every item must be of type {codec.type_name}",
                    parameter=param.name,
                    **where,
                ) from None
        return Const(list(arg))

    def _check_artifact_argument(
        self,
        param: TaskParam,
        arg: Any,
        wanted: ArtifactKind | None,
        given: ArtifactKind | None,
        where: Mapping[str, str],
    ) -> None:
        """An artifact parameter takes an artifact output of the same kind, and only that."""
        label = arg._label if isinstance(arg, Ref) else repr(arg)
        if wanted is None:
            raise TraceError(
                f"{label} is an artifact ({type_repr(arg._annotation)}), but the parameter is "
                f"an Argo parameter of type {type_repr(param.annotation)}",
                fix="type the parameter as the artifact (bytes, Path or Artifact[T]), or have "
                "the producing task return an ordinary value",
                parameter=param.name,
                **where,
            )
        if not isinstance(arg, Ref):
            raise TraceError(
                f"the artifact parameter is given a constant ({_short(arg)}); artifacts are "
                "files that tasks produce",
                fix="pass the output of a task that returns "
                f"{type_repr(param.annotation)}, or a path/URL string to an ordinary parameter",
                parameter=param.name,
                **where,
            )
        if given != wanted and not (
            given is not None
            and given.kind == wanted.kind == "value"
            and _type_mismatch(given.inner, wanted.inner) is None
        ):
            raise TraceError(
                f"expected {type_repr(param.annotation)}, got {arg._label} of type "
                f"{type_repr(arg._annotation)}",
                fix="pass an artifact of the same kind (bytes, Path or Artifact[T])",
                parameter=param.name,
                **where,
            )

    def _value(self, param: TaskParam, arg: Any, where: Mapping[str, str]) -> Value:
        if isinstance(arg, _NoOutputRef):
            raise TraceError(
                f"{arg._label} returns nothing (-> None), so it cannot be passed as an argument",
                fix=f"use .after({arg._label.removesuffix('(...)')}) to order calls without data",
                parameter=param.name,
                **where,
            )
        if isinstance(arg, Cond):
            raise TraceError(
                f"a condition ({condition_repr(arg._condition)}) cannot be passed as a value",
                fix="use it with 'with when(...):', or compute the bool in a task",
                parameter=param.name,
                **where,
            )
        wanted, given = artifact_kind(param.annotation), None
        if isinstance(arg, Ref):
            given = artifact_kind(arg._annotation)
        if wanted is not None or given is not None:
            self._check_artifact_argument(param, arg, wanted, given, where)
        if isinstance(arg, Ref):
            if arg._tracer is not self:
                raise TraceError(
                    "a reference from another flow's trace was passed",
                    fix="pass values of the flow being traced (a sub-flow receives them as "
                    "its parameters)",
                    parameter=param.name,
                    **where,
                )
            mismatch = _type_mismatch(arg._annotation, param.annotation)
            if mismatch:
                raise TraceError(
                    f"expected {type_repr(param.annotation)}, got {arg._label} of type "
                    f"{type_repr(arg._annotation)}",
                    fix=mismatch,
                    parameter=param.name,
                    **where,
                )
            assert arg._value is not None  # only _NoOutputRef has no value
            return arg._value
        from flowdsl.dsl._flow import Flow  # the flow module builds on this one

        if isinstance(arg, (Task, Flow)):
            raise TraceError(
                f"got the {type(arg).__name__.lower()} {arg.name!r} itself, not its result",
                fix=f"call it: {arg.name}(...)",
                parameter=param.name,
                **where,
            )
        _reject_nested_refs(arg, param.name, where)
        codec = codecs.codec_for(param.annotation)
        try:
            codec.validate(arg)
        except FlowDSLError as exc:
            raise TraceError(
                exc.problem,
                fix=f"pass a value of type {codec.type_name}",
                parameter=param.name,
                **where,
            ) from None
        return Const(arg)

    # -- the graph --------------------------------------------------------------------------

    def build(self, flow_obj: Flow[Any, Any], result: Any) -> FlowGraph:
        graph_result = self._result(flow_obj, result)
        calls = [
            Call(b.id, b.task, b.options, b.args, tuple(b.after), b.location, b.loop, b.condition)
            for b in self.calls
        ]
        for group in self.groups:
            calls, graph_result = _collapse(self, flow_obj, group, calls, graph_result)
        produced = dict(codecs.output_parameters(flow_obj.returns))
        outputs = tuple(Output(name, produced[name]) for name, _ in graph_result)
        return FlowGraph(
            name=flow_obj.name,
            qualname=f"{flow_obj.__wrapped__.__module__}.{flow_obj.__wrapped__.__qualname__}",
            params=flow_obj.params,
            calls=tuple(calls),
            returns=flow_obj.returns,
            result=graph_result,
            options=flow_obj.flow_options,
            description=flow_obj.description,
            location=flow_obj.location,
            outputs=outputs,
            on_exit=self._exit_call(flow_obj),
        )

    def _result(self, definition: Flow[Any, Any], result: Any) -> tuple[tuple[str, Value], ...]:
        returns = definition.returns
        where = {"flow": self.flow_name, "location": definition.location}
        if returns is None:
            if result is not None and not isinstance(result, _NoOutputRef):
                raise TraceError(
                    f"the flow is annotated '-> None' but returns {result!r}",
                    fix="annotate the flow's return type",
                    **where,
                )
            return ()
        if not isinstance(result, Ref) or isinstance(result, _NoOutputRef):
            got = "nothing" if result is None else repr(result)
            raise TraceError(
                f"a flow returns the output of a task call (expected {type_repr(returns)}, got "
                f"{got})",
                fix="return a value produced by a task, or annotate the flow '-> None'",
                **where,
            )
        value = result._value
        if not isinstance(value, NodeOutput):
            raise TraceError(
                f"the flow returns {result._label}, a flow parameter; a flow returns the output "
                "of a task call",
                fix="return a value produced by a task",
                **where,
            )
        if self.condition_of(value.node) is not None:
            raise TraceError(
                f"the flow returns {result._label}, which runs only under a when(...) condition "
                "and may be skipped",
                fix="return a value computed outside the when block",
                **where,
            )
        mismatch = _type_mismatch(result._annotation, returns)
        if mismatch:
            raise TraceError(
                f"the flow is annotated '-> {type_repr(returns)}' but returns {result._label} "
                f"of type {type_repr(result._annotation)}",
                fix=mismatch,
                **where,
            )
        outputs: list[tuple[str, Value]] = []
        produced = {o.name for o in self.outputs_of(value.node)}
        for name, _ in codecs.output_parameters(returns):
            if name == "return":
                outputs.append((name, value))
            elif value.output == "return" and result._element is None and name in produced:
                outputs.append((name, NodeOutput(value.node, name)))
        return tuple(outputs)

    def _exit_call(self, flow_obj: Flow[Any, Any]) -> Call | None:
        handler = flow_obj.on_exit
        if handler is None:
            return None
        definition = handler.definition
        exposed = {p.python_name: p.name for p in flow_obj.params}
        args: list[tuple[str, Value]] = []
        for param in definition.params:
            if param.annotation == codecs.RunStatus:
                args.append((param.name, WorkflowVar("status")))
            elif param.annotation == list[codecs.Failure]:
                args.append((param.name, WorkflowVar("failures")))
            elif param.name in exposed:
                args.append((param.name, FlowInput(exposed[param.name])))
            elif param.default is NO_DEFAULT:
                raise DefinitionError(
                    f"the exit handler '{definition.name}' has a parameter '{param.name}' that "
                    "flowdsl cannot fill",
                    fix="annotate it flowdsl.RunStatus (the run's status) or "
                    "list[flowdsl.Failure] (its failed nodes), name it after a flow parameter, "
                    "or give it a default",
                    flow=self.flow_name,
                    parameter=param.name,
                    location=definition.location,
                )
        return Call(
            f"{self.flow_name}-exit",
            definition,
            handler._call_options or definition.options,
            tuple(args),
            (),
            definition.location,
        )


@functools.cache
def _signature(fn: Callable[..., Any]) -> inspect.Signature:
    """A function's signature, computed once (a flow may call one task thousands of times)."""
    return inspect.signature(fn)


def _options_text(options: TaskOptions) -> str:
    return options_repr(options).replace(" ", ", ") or "defaults"


@contextlib.contextmanager
def fused(name: str, **options: Any) -> Iterator[None]:
    """Run the task calls inside the block in one pod, in order, passing values in memory.

    Only the values used outside the block become output parameters. Use it for chains of
    small steps that would otherwise pay a pod each. ``options`` (``image``, ``retries``,
    ``timeout``, ``continue_on_failure``) apply to the group's pod; calls inside must not ask
    for other ones.

    Raises:
        TraceError: outside a flow; around no task; around a map, a sub-flow, a when(...),
            or a call with other options; when the group's calls depend on something computed
            outside the group from an earlier call of the group.
    """
    tracer = _require_tracer(f"fused({name!r})")
    location = _caller_location()
    base_name = dns_name(name, kind="task", explicit=True, location=location)
    group_options = (
        _task_options(TaskOptions(), options, task=base_name, location=location)
        if options
        else None
    )
    with tracer.fused_group(base_name, group_options, location):
        yield


#: The TypedDicts of fused groups' outputs, made once per module, name and fields.
_OUTPUT_TYPES: dict[tuple[str, str, tuple[tuple[str, Any], ...]], Any] = {}


def _outputs_type(module: str, name: str, annotations: dict[str, Any]) -> Any:
    """The TypedDict a fused group returns, the same class object every time the flow is traced.

    A class travels by value in the group's payload, and its pickled form carries an id
    derived from its name and a serial that counts *other* classes of that name already
    seen (flowdsl/payload.py): a new, equal class per trace would make every compile of the
    same flow differ.
    """
    try:
        key = (module, name, tuple(annotations.items()))
        hash(key)
    except TypeError:  # an annotation that cannot be hashed: a class of its own
        key = None
    if key is not None and key in _OUTPUT_TYPES:
        return _OUTPUT_TYPES[key]
    made: Any = te.TypedDict(name, annotations)  # type: ignore[misc]  # made at trace time
    made.__module__ = module
    if key is not None:
        _OUTPUT_TYPES[key] = made
    return made


def _export_name(node: str, output: str) -> str:
    base = node.replace("-", "_")
    return base if output == "return" else f"{base}_{output.replace('-', '_')}"


def _collapse(
    tracer: _Tracer,
    flow_obj: Flow[Any, Any],
    group: _Group,
    calls: list[Call],
    result: tuple[tuple[str, Value], ...],
) -> tuple[list[Call], tuple[tuple[str, Value], ...]]:
    """Replace the calls of ``group`` by one call of a synthesised :class:`FusedSteps` task."""
    from flowdsl._fused import Export, FusedSteps, Source, Step

    members = {b.id for b in group.members}
    where = {"flow": tracer.flow_name, "location": group.location}
    by_id = {c.id: c for c in calls}
    # Inputs: each distinct outside value the members read, named after where it comes from.
    inputs: dict[Value, tuple[str, Any]] = {}
    steps = []
    external_after: list[str] = []
    for builder in group.members:
        call = by_id[builder.id]
        params = {p.name: p for p in call.task.params}
        args = []
        for name, value in call.args:
            if isinstance(value, NodeOutput) and value.node in members:
                args.append((name, Source("step", value.node, output=value.output)))
            elif isinstance(value, Const):
                args.append((name, Source("const", value=value.value)))
            else:
                if value not in inputs:
                    label = (
                        value.name
                        if isinstance(value, FlowInput)
                        else _export_name(value.node, value.output)  # type: ignore[union-attr]
                    )
                    inputs[value] = (label, params[name].annotation)
                args.append((name, Source("input", inputs[value][0])))
        external_after += [a for a in call.after if a not in members]
        steps.append(Step(call.id, call.task.fn, tuple(args)))  # type: ignore[union-attr]

    # A member reading (or waiting for) an outside call that itself needs an earlier member
    # would make the group depend on itself.
    outside_upstream = {
        u for b in group.members for u in by_id[b.id].upstream() if u not in members
    }
    stack, seen = list(outside_upstream), set()
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        for upstream in by_id[current].upstream():
            if upstream in members:
                raise TraceError(
                    f"fused({group.name!r}): its calls need '{current}', which is computed "
                    f"outside the group from '{upstream}', a call inside the group",
                    fix=f"move '{current}' into the fused block, or end the group before it",
                    **where,
                )
            stack.append(upstream)

    # Exports: every member output read outside the group, in first-use order.
    exports: dict[tuple[str, str], str] = {}

    def export(value: Value) -> Value:
        if isinstance(value, NodeOutput) and value.node in members:
            key = (value.node, value.output)
            name = exports.setdefault(key, _export_name(*key))
            return NodeOutput(group.id, name)
        return value

    rewritten: list[Call] = []
    first = True
    for call in calls:
        if call.id in members:
            if first:
                rewritten.append(call)  # placeholder, replaced below
                first = False
            continue
        rewritten.append(_rewrite(call, export, members, group.id))
    new_result = tuple((name, export(value)) for name, value in result)

    annotations = {}
    for (node, output), name in exports.items():
        produced = {o.name: o.annotation for o in by_id[node].task.outputs}
        annotations[name] = produced[output]
    outputs_type = _outputs_type(
        flow_obj.__wrapped__.__module__, f"{group.name.replace('-', '_')}_outputs", annotations
    )
    signature = inspect.Signature(
        [
            inspect.Parameter(label, inspect.Parameter.KEYWORD_ONLY, annotation=annotation)
            for label, annotation in inputs.values()
        ],
        return_annotation=outputs_type if exports else None,
    )
    runner = FusedSteps(
        group.name,
        by_id[group.members[0].id].task.fn.__module__,  # type: ignore[union-attr]
        tuple(steps),
        tuple(Export(name, node, output) for (node, output), name in exports.items()),
        signature,
    )
    returns = outputs_type if exports else None
    hints: dict[str, Any] = dict(inputs.values())
    hints["return"] = returns if returns is not None else type(None)
    definition = TaskDef(
        name=group.name,
        fn=runner,
        module=runner.__module__,
        qualname=runner.__qualname__,
        params=tuple(TaskParam(label, annotation) for label, annotation in inputs.values()),
        returns=returns,
        outputs=tuple(Output(n, t) for n, t in codecs.output_parameters(returns)),
        hints=tuple(hints.items()),
        options=group.options or by_id[group.members[0].id].options,
        location=group.location,
        steps=tuple(by_id[b.id] for b in group.members),
    )
    group_call = Call(
        group.id,
        definition,
        definition.options,
        tuple((label, value) for value, (label, _) in inputs.items()),
        tuple(dict.fromkeys(a for a in external_after)),
        group.location,
        None,
        by_id[group.members[0].id].condition,
    )
    index = next(i for i, c in enumerate(rewritten) if c.id in members)
    rewritten[index] = group_call
    return rewritten, new_result


def _rewrite(
    call: Call, export: Callable[[Value], Value], members: set[str], group_id: str
) -> Call:
    """``call`` with references to members of a fused group pointed at the group's outputs."""
    loop = call.loop
    if loop is not None:
        loop = Loop(tuple((n, export(v)) for n, v in loop.mapped), loop.parallelism)
    condition = call.condition
    if condition is not None:
        condition = _rewrite_condition(condition, export)
    after = tuple(dict.fromkeys(group_id if a in members else a for a in call.after))
    return dataclasses.replace(
        call,
        args=tuple((n, export(v)) for n, v in call.args),
        after=after,
        loop=loop,
        condition=condition,
    )


def _rewrite_condition(condition: Condition, export: Callable[[Value], Value]) -> Condition:
    if isinstance(condition, Compare):
        return Compare(
            condition.op,
            Operand(export(condition.left.value), condition.left.annotation),
            Operand(export(condition.right.value), condition.right.annotation),
        )
    if isinstance(condition, IsTrue):
        return IsTrue(Operand(export(condition.operand.value), condition.operand.annotation))
    if isinstance(condition, Not):
        return Not(_rewrite_condition(condition.part, export))
    parts = tuple(_rewrite_condition(p, export) for p in condition.parts)
    return AllOf(parts) if isinstance(condition, AllOf) else AnyOf(parts)


def _reject_nested_refs(value: Any, parameter: str, where: Mapping[str, str]) -> None:
    """A reference inside a list or dict constant cannot be encoded at compile time."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Ref):
            raise TraceError(
                f"{item._label} is nested inside a {type(value).__name__} constant; Argo "
                "passes each argument as one parameter",
                fix="pass the reference as an argument of its own, or build the collection "
                "inside a task",
                parameter=parameter,
                **where,
            )
        if isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
