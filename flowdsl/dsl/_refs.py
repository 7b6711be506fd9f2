"""References to future values, the conditions built from them, when/otherwise, and map helpers."""

from __future__ import annotations

import contextlib
import inspect
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from flowdsl import types as codecs
from flowdsl.dsl._common import _UNION_ORIGINS, _caller_location
from flowdsl.dsl._context import _ACTIVE_TRACER, _require_tracer
from flowdsl.errors import (
    FlowDSLError,
    TraceError,
)
from flowdsl.ir import (
    AllOf,
    AnyOf,
    Compare,
    Condition,
    Const,
    FlowInput,
    IsTrue,
    NodeOutput,
    Not,
    Operand,
    TaskParam,
    Value,
    condition_repr,
    list_of,
    type_repr,
)

if TYPE_CHECKING:
    from flowdsl.dsl._tracer import _Tracer


# --------------------------------------------------------------------------------------------
# References
# --------------------------------------------------------------------------------------------


class Ref:
    """A reference, during tracing, to a value that exists only when the workflow runs.

    Pass it to other tasks; read a field of a structured output with ``ref.field`` (or
    ``ref[i]`` for a tuple); compare it (``ref.accuracy > 0.9``) to build a condition for
    :func:`when`; order calls without data with ``ref.after(other)``. Anything that needs the
    actual value raises :class:`TraceError`.
    """

    __slots__ = ("_annotation", "_element", "_label", "_tracer", "_value")
    # Declared so that type checkers do not route these through __getattr__.
    _tracer: _Tracer
    _value: Value | None
    _annotation: Any
    _element: Any
    _label: str

    def __init__(
        self,
        tracer: _Tracer,
        value: Value | None,
        annotation: Any,
        label: str,
        element: Any = None,
    ) -> None:
        object.__setattr__(self, "_tracer", tracer)
        object.__setattr__(self, "_value", value)
        object.__setattr__(self, "_annotation", annotation)
        object.__setattr__(self, "_label", label)
        # For the result of a map: the type of one item's output (the reference is a list).
        object.__setattr__(self, "_element", element)

    # -- what a reference can do ---------------------------------------------------------

    def after(self, *refs: Ref) -> Ref:
        """Make this call wait for the calls behind ``refs``, with no data passed.

        Returns:
            this reference, so ``extract(x).after(setup())`` reads naturally.
        """
        node = self._node_id("after")
        for ref in refs:
            if not isinstance(ref, Ref):
                self._fail(
                    f".after() takes references returned by task calls (got {ref!r})",
                    "pass the value a task call returned",
                )
            self._tracer.add_order(node, ref._node_id("after"), self._label)
        return self

    def __getattr__(self, name: str) -> Ref:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._field(name, f".{name}")

    def __getitem__(self, key: object) -> Ref:
        if isinstance(key, bool) or not isinstance(key, (int, str)):
            self._fail(
                f"{self._label}[{key!r}]: only a field name or a tuple position can be used",
                "index inside a task, which receives the real value",
            )
        if isinstance(key, int):
            fields = codecs.structured_fields(self._item_type) or ()
            if not fields or fields[0][0] != "0":
                self._fail(
                    f"{self._label}[{key}]: positions can be read only from a fixed-length "
                    f"tuple output (this is {type_repr(self._annotation)})",
                    "pass the whole value to a task and index it there",
                )
            return self._field(str(key), f"[{key}]")
        return self._field(key, f"[{key!r}]")

    def __iter__(self) -> Iterator[Ref]:
        fields = codecs.structured_fields(self._annotation) or ()
        if not (fields and fields[0][0] == "0"):  # only a fixed-length tuple output unpacks
            self._not_iterable()
        return iter([self._field(name, f"[{name}]") for name, _ in fields])

    def _not_iterable(self) -> NoReturn:
        self._fail(
            f"iterating over {self._label} needs its value, which exists only when the "
            "workflow runs",
            "fan out with task.map(...) over it, or loop inside a task",
        )

    def __repr__(self) -> str:
        return f"<flowdsl ref {self._label}: {type_repr(self._annotation)}>"

    # -- conditions -------------------------------------------------------------------------

    def __eq__(self, other: object) -> Cond:  # type: ignore[override]
        return _compare(self, "==", other)

    def __ne__(self, other: object) -> Cond:  # type: ignore[override]
        return _compare(self, "!=", other)

    def __lt__(self, other: object) -> Cond:
        return _compare(self, "<", other)

    def __le__(self, other: object) -> Cond:
        return _compare(self, "<=", other)

    def __gt__(self, other: object) -> Cond:
        return _compare(self, ">", other)

    def __ge__(self, other: object) -> Cond:
        return _compare(self, ">=", other)

    def __and__(self, other: object) -> Cond:
        return _as_condition(self) & other

    def __rand__(self, other: object) -> Cond:
        return _as_condition(other, self._tracer) & self

    def __or__(self, other: object) -> Cond:
        return _as_condition(self) | other

    def __ror__(self, other: object) -> Cond:
        return _as_condition(other, self._tracer) | self

    def __invert__(self) -> Cond:
        return ~_as_condition(self)

    def __hash__(self) -> int:
        return id(self)

    # -- what needs a real value ----------------------------------------------------------

    def __bool__(self) -> bool:
        self._fail(
            f"'if {self._label}' (or and/or/not) needs its value, which exists only when the "
            "workflow runs",
            "run tasks conditionally with 'with when(...):', or branch inside a task",
        )

    def __len__(self) -> int:
        self._fail(
            f"len({self._label}) needs its value, which exists only when the workflow runs",
            "compute the length inside a task",
        )

    def __int__(self) -> int:
        self._needs_value("int")

    def __float__(self) -> float:
        self._needs_value("float")

    def __index__(self) -> int:
        self._needs_value("an index")

    def __str__(self) -> str:
        self._needs_value("str")

    def __format__(self, spec: str) -> str:
        self._needs_value("an f-string or format()")

    def __contains__(self, item: object) -> bool:
        self._needs_value("'in'")

    def __call__(self, *args: object, **kwargs: object) -> NoReturn:
        """Refused: a reference is not callable."""
        self._fail(
            f"{self._label} is a reference to a task's output, not a function",
            "call the task itself",
        )

    def __setattr__(self, name: str, value: object) -> NoReturn:
        self._fail(
            f"cannot set {self._label}.{name}: outputs of tasks are read-only",
            "build a new value inside a task",
        )

    # -- helpers ---------------------------------------------------------------------------

    @property
    def _item_type(self) -> Any:
        return self._element if self._element is not None else self._annotation

    def _fail(self, problem: str, fix: str) -> NoReturn:
        raise TraceError(problem, fix=fix, flow=self._tracer.flow_name, location=_caller_location())

    def _needs_value(self, construct: str) -> NoReturn:
        self._fail(
            f"converting {self._label} to {construct} needs its value, which exists only when "
            "the workflow runs (a plain function called on a reference does this)",
            "pass the reference to a @task, which receives the real value",
        )

    def _node_id(self, what: str) -> str:
        if not isinstance(self._value, NodeOutput):
            self._fail(
                f"{what}: {self._label} is a flow parameter, not the result of a task call",
                "use the value returned by a task call",
            )
        return self._value.node

    def _field(self, name: str, suffix: str) -> Ref:
        label = f"{self._label}{suffix}"
        fields = dict(codecs.structured_fields(self._item_type) or ())
        if name not in fields:
            if fields:
                known = ", ".join(f for f in fields)
                problem = f"{type_repr(self._item_type)} has no field {name!r} (fields: {known})"
            else:
                problem = (
                    f"{self._label} is a {type_repr(self._annotation)}, which has no fields; "
                    f"'{label}' needs the value, which exists only when the workflow runs"
                )
            self._fail(
                problem, "read fields that the type declares, or work on the value in a task"
            )
        value = self._value
        output = name if not name.isdigit() else f"return-{name}"
        if not (isinstance(value, NodeOutput) and value.output == "return"):
            where = "a flow parameter" if isinstance(value, FlowInput) else "a field"
            self._fail(
                f"'{label}': fields can be read from the whole output of a task call, and "
                f"{self._label} is {where}",
                "pass the whole value to a task and read the field there",
            )
        produced = self._tracer.outputs_of(value.node)
        if output not in {o.name for o in produced}:
            self._fail(
                f"'{label}': field {name!r} is not an output parameter of "
                f"'{value.node}' (its name is not a valid Argo parameter name)",
                "pass the whole value to a task and read the field there",
            )
        field_type = fields[name]
        if self._element is not None:  # a field of every item: a list (fan-in)
            return Ref(
                self._tracer,
                NodeOutput(value.node, output),
                list_of(field_type),
                label,
                element=field_type,
            )
        return Ref(self._tracer, NodeOutput(value.node, output), field_type, label)


class _NoOutputRef(Ref):
    """The result of calling a task that returns nothing: usable only with ``.after()``."""

    __slots__ = ()


def _refuse_operator(symbol: str) -> Callable[..., NoReturn]:
    def refuse(self: Ref, *_: object) -> NoReturn:
        self._fail(
            f"'{symbol}' on {self._label} needs its value, which exists only when the "
            "workflow runs",
            "compute with the value inside a task, which receives the real value",
        )

    return refuse


# Arithmetic would otherwise fail with Python's own TypeError, which does not say what to
# do. `&`, `|` and `~` build conditions instead (see Cond).
for _name, _symbol in {
    "add": "+",
    "sub": "-",
    "mul": "*",
    "matmul": "@",
    "truediv": "/",
    "floordiv": "//",
    "mod": "%",
    "pow": "**",
    "lshift": "<<",
    "rshift": ">>",
    "xor": "^",
}.items():
    setattr(Ref, f"__{_name}__", _refuse_operator(_symbol))
    setattr(Ref, f"__r{_name}__", _refuse_operator(_symbol))
for _name, _symbol in {"neg": "-", "pos": "+", "abs": "abs()", "round": "round()"}.items():
    setattr(Ref, f"__{_name}__", _refuse_operator(_symbol))


# --------------------------------------------------------------------------------------------
# Conditions
# --------------------------------------------------------------------------------------------


class Cond:
    """A condition built from references, for ``with when(cond):``.

    Combine with ``&`` (and), ``|`` (or) and ``~`` (not); Python's ``and``/``or``/``not``
    cannot be overloaded and raise :class:`TraceError`.
    """

    __slots__ = ("_condition", "_tracer")

    def __init__(self, tracer: _Tracer, condition: Condition) -> None:
        self._tracer = tracer
        self._condition = condition

    def __and__(self, other: object) -> Cond:
        right = _as_condition(other, self._tracer)._condition
        return Cond(self._tracer, AllOf((*_parts(self._condition, AllOf), *_parts(right, AllOf))))

    def __rand__(self, other: object) -> Cond:
        return _as_condition(other, self._tracer) & self

    def __or__(self, other: object) -> Cond:
        right = _as_condition(other, self._tracer)._condition
        return Cond(self._tracer, AnyOf((*_parts(self._condition, AnyOf), *_parts(right, AnyOf))))

    def __ror__(self, other: object) -> Cond:
        return _as_condition(other, self._tracer) | self

    def __invert__(self) -> Cond:
        inner = self._condition
        return Cond(self._tracer, inner.part if isinstance(inner, Not) else Not(inner))

    def __bool__(self) -> bool:
        raise TraceError(
            f"'if {condition_repr(self._condition)}': a condition on workflow values is known "
            "only when the workflow runs (and/or/not need its value too)",
            fix="use 'with when(condition):' around the tasks to run, and &, |, ~ to combine",
            flow=self._tracer.flow_name,
            location=_caller_location(),
        )

    def __repr__(self) -> str:
        return f"<flowdsl condition {condition_repr(self._condition)}>"


def _parts(condition: Condition, kind: type[AllOf] | type[AnyOf]) -> tuple[Condition, ...]:
    return condition.parts if isinstance(condition, kind) else (condition,)


def _as_condition(value: object, tracer: _Tracer | None = None) -> Cond:
    if isinstance(value, Cond):
        return value
    if isinstance(value, Ref):
        if _compare_kind(value._annotation) != "bool" or value._element is not None:
            value._fail(
                f"{value._label} of type {type_repr(value._annotation)} is not a condition",
                "compare it (==, !=, <, <=, >, >=) to build one",
            )
        return Cond(value._tracer, IsTrue(_ref_operand(value)))
    active = tracer or _ACTIVE_TRACER.get()
    raise TraceError(
        f"{value!r} is not a condition (expected a comparison of workflow values, or a bool "
        "reference)",
        fix="build conditions from task outputs and flow parameters, e.g. when(m.score > 0.9)",
        flow=active.flow_name if active else None,
        location=_caller_location(),
    )


_compare_kind = codecs.comparison_kind


def _ref_operand(ref: Ref) -> Operand:
    if ref._value is None or isinstance(ref, _NoOutputRef):
        ref._fail(f"{ref._label} returns nothing to compare", "compare a task's output")
    return Operand(ref._value, ref._annotation)


def _compare(ref: Ref, op: str, other: object) -> Cond:
    kind = _compare_kind(ref._annotation)
    if kind is None or ref._element is not None:
        ref._fail(
            f"{ref._label} of type {type_repr(ref._annotation)} cannot be compared in a "
            "condition (Argo compares numbers, strings and booleans)",
            "compare a field of it, or compute a bool/number in a task and compare that",
        )
    left = _ref_operand(ref)
    if isinstance(other, Ref):
        other_kind = _compare_kind(other._annotation)
        if other_kind != kind or other._element is not None:
            ref._fail(
                f"{ref._label} ({type_repr(ref._annotation)}) and {other._label} "
                f"({type_repr(other._annotation)}) cannot be compared",
                "compare values of the same kind (numbers, strings or booleans)",
            )
        right = _ref_operand(other)
    else:
        if isinstance(other, Cond):
            ref._fail("a condition cannot be compared", "combine conditions with &, | and ~")
        codec = codecs.codec_for(ref._annotation)
        try:
            codec.validate(other)
        except FlowDSLError as exc:
            ref._fail(
                f"{ref._label} {op} {other!r}: {exc.problem}",
                f"compare with a value of type {codec.type_name}",
            )
        right = Operand(Const(other), ref._annotation)
    if op not in ("==", "!=") and kind != "number":
        ref._fail(
            f"'{op}' orders numbers; {ref._label} is a {type_repr(ref._annotation)}",
            "use == or != for strings and booleans",
        )
    return Cond(ref._tracer, Compare(op, left, right))  # type: ignore[arg-type]


@contextlib.contextmanager
def when(condition: Cond | Ref) -> Iterator[None]:
    """Run the task calls inside the block only when ``condition`` holds at run time.

    ``condition`` compares task outputs and flow parameters (``best.accuracy > 0.95``,
    ``mode == "full"``), combined with ``&``, ``|`` and ``~``; a ``bool`` reference works as
    is. Blocks nest (their conditions are and-ed). A call that *uses an output* of a skipped
    call is skipped too (Argo marks it Omitted); a call that only runs ``.after()`` it still
    runs. Follow the block with ``with otherwise():`` for the else branch.

    Raises:
        TraceError: outside a flow, on a value that is not a condition, or around no task.
    """
    tracer = _require_tracer("when(...)")
    cond = _as_condition(condition, tracer)
    with tracer.conditional(cond._condition, "when(...)"):
        yield


@contextlib.contextmanager
def otherwise() -> Iterator[None]:
    """The else branch of the ``with when(...)`` block just before it.

    Raises:
        TraceError: not directly after a ``with when(...)`` block, or around no task.
    """
    tracer = _require_tracer("otherwise()")
    previous = tracer.last_when()
    with tracer.conditional(Not(previous), "otherwise()"):
        yield


# --------------------------------------------------------------------------------------------
# Mapping
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Unmapped:
    value: Any


def unmapped(value: Any) -> Any:
    """Pass ``value`` whole to every call of a ``task.map(...)``, even if it is a list."""
    return _Unmapped(value)


def _list_element(annotation: Any) -> Any:
    """The item type of ``list[T]`` (or ``tuple[T, ...]``), else ``None``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is list and len(args) == 1:
        return args[0]
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return args[0]
    return None


def _fits(source: Any, target: Any) -> bool:
    """Whether a value of type ``source`` can be passed for ``target`` (strictly)."""
    if source == target or (source is int and target is float):
        return True
    if typing.get_origin(target) in _UNION_ORIGINS:
        return any(_fits(source, t) for t in typing.get_args(target) if t is not type(None))
    if typing.get_origin(source) is typing.Literal:
        return all(_fits(type(v), target) for v in typing.get_args(source))
    source_origin, target_origin = typing.get_origin(source), typing.get_origin(target)
    if source_origin is not None and source_origin == target_origin:
        return all(
            _fits(s, t)
            for s, t in zip(typing.get_args(source), typing.get_args(target), strict=False)
        )
    return source in (list, dict, tuple) and target_origin is source


def _map_locally(
    fn: Callable[..., Any], params: tuple[TaskParam, ...], args: tuple[Any, ...], kwargs: Any
) -> list[Any]:
    """``task.map(...)`` outside a flow: the list of results, as the workflow would compute."""
    bound = inspect.signature(fn).bind(*args, **kwargs)
    by_name = {p.name: p for p in params}
    whole: dict[str, Any] = {}
    lists: dict[str, list[Any]] = {}
    for name, value in bound.arguments.items():
        if isinstance(value, _Unmapped):
            whole[name] = value.value
            continue
        codec = codecs.codec_for(by_name[name].annotation)
        try:
            codec.validate(value)
            whole[name] = value
        except FlowDSLError:
            lists[name] = list(value)
    if not lists:
        raise TraceError("map(...) has nothing to map over", fix="pass a list for a parameter")
    lengths = {len(v) for v in lists.values()}
    if len(lengths) > 1:
        raise TraceError(
            f"map(...) zips lists of different lengths ({sorted(lengths)})",
            fix="pass lists of equal length",
        )
    count = lengths.pop()
    return [fn(**whole, **{k: v[i] for k, v in lists.items()}) for i in range(count)]
