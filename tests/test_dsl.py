"""Tracing: @task/@flow, references, the IR, and the errors a flow author can meet."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Annotated, Literal, NamedTuple

import pytest

from flowdsl import Param, flow, task
from flowdsl.errors import (
    AnnotationError,
    DefinitionError,
    InvalidNameError,
    OptionError,
    TraceError,
)
from flowdsl.ir import NO_DEFAULT, Const, FlowInput, NodeOutput, TaskOptions
from flowdsl.options import Retry

from conftest import GOLDEN, check_golden

HERE = "tests/test_dsl.py"


def line_of(text: str) -> int:
    """The line number of the first line of this file containing ``text``."""
    with open(__file__, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if text in line:
                return number
    raise AssertionError(text)


@dataclass
class Metrics:
    model: str
    accuracy: float


class Pair(NamedTuple):
    left: int
    right: str


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@task
def extract(source: str, limit: int = 1000) -> list[dict]:
    return [{"source": source}] * min(limit, 2)


@task(retries=3, timeout="2h")
def train(rows: list[dict], model: Literal["resnet", "vit"], lr: float) -> Metrics:
    return Metrics(model, 0.5 + lr)


@task
def pick(scores: list[Metrics]) -> Metrics:
    return max(scores, key=lambda m: m.accuracy)


@task
def report(accuracy: float, model: str) -> None:
    print(model, accuracy)


@task
def split(n: int) -> tuple[int, int]:
    return n // 2, n - n // 2


@task
def pair() -> Pair:
    return Pair(1, "a")


@task
def add(a: int, b: int) -> int:
    return a + b


class TestPlainCalls:
    def test_task_outside_a_trace_is_the_function(self) -> None:
        """Unit tests call tasks directly and get real values."""
        assert extract("s3://x", limit=1) == [{"source": "s3://x"}]
        assert train([], "vit", 0.25) == Metrics("vit", 0.75)

    def test_task_keeps_the_function_identity(self) -> None:
        """help() and tools see the function's name and docstring."""
        assert train.__name__ == "train"
        assert train.__wrapped__.__name__ == "train"
        assert train.name == "train"


class TestTracing:
    def test_data_flow_becomes_dependencies(self) -> None:
        """A task using another's output depends on it; independent calls do not."""

        @flow(image="img")
        def pipeline(source: str = "s3://raw") -> Metrics:
            rows = extract(source)
            a = train(rows, "resnet", 0.1)
            b = train(rows, model="vit", lr=0.2)
            report(b.accuracy, b.model)
            return a

        graph = pipeline.trace()
        assert [c.id for c in graph.calls] == ["extract", "train", "train-2", "report"]
        assert graph.call("train").upstream() == ("extract",)
        assert graph.call("train-2").args == (
            ("rows", NodeOutput("extract", "return")),
            ("model", Const("vit")),
            ("lr", Const(0.2)),
        )
        assert graph.call("extract").args == (("source", FlowInput("source")),)

    def test_ir_dump_golden(self) -> None:
        """The IR text dump of a representative flow is stable."""

        @flow(image="ghcr.io/acme/ml:1.4")
        def nightly(
            source: str = "s3://bucket/raw.csv",
            lr: Annotated[float, Param(description="learning rate")] = 0.01,
            mode: Literal["full", "incremental"] = "incremental",
        ) -> Metrics:
            rows = extract(source, limit=10)
            metrics = train.options(retries=5)(rows, "resnet", lr)
            report(metrics.accuracy, metrics.model).after(rows)
            return metrics

        check_golden(GOLDEN / "ir" / "nightly.txt", nightly.trace().dump())

    def test_field_access_reads_named_outputs(self) -> None:
        """``ref.field`` refers to the output parameter of that field."""

        @flow(image="img")
        def f() -> None:
            m = train([], "vit", 0.1)
            report(m.accuracy, m.model)

        call = f.trace().call("report")
        assert call.args == (
            ("accuracy", NodeOutput("train", "accuracy")),
            ("model", NodeOutput("train", "model")),
        )

    def test_tuple_outputs_unpack_and_index(self) -> None:
        """A fixed-length tuple output unpacks into per-position references."""

        @flow(image="img")
        def f(n: int = 3) -> int:
            low, _high = split(n)
            return add(low, split(n)[1])

        graph = f.trace()
        assert graph.call("add").args == (
            ("a", NodeOutput("split", "return-0")),
            ("b", NodeOutput("split-2", "return-1")),
        )
        assert graph.result == (("return", NodeOutput("add", "return")),)

    def test_named_tuple_fields(self) -> None:
        """NamedTuple fields are outputs named after the fields."""

        @flow(image="img")
        def f() -> int:
            p = pair()
            return add(p.left, 1)

        assert f.trace().call("add").args[0] == ("a", NodeOutput("pair", "left"))

    def test_after_adds_ordering_without_data(self) -> None:
        """``.after()`` adds an edge and is recorded once."""

        @flow(image="img")
        def f() -> None:
            first = report(1.0, "a")
            report(2.0, "b").after(first, first)

        graph = f.trace()
        assert graph.call("report-2").after == ("report",)
        assert graph.call("report-2").upstream() == ("report",)

    def test_options_make_a_call_variant(self) -> None:
        """``.options()`` overrides decorator options for one call only."""

        @flow(image="img")
        def f() -> None:
            m = train([], "vit", 0.1)
            train.options(retries=0, image="gpu:1")([], "vit", 0.2)
            report(m.accuracy, "x")

        graph = f.trace()
        assert graph.call("train").options == TaskOptions(retries=Retry(3), timeout=7200)
        assert graph.call("train-2").options == TaskOptions(
            image="gpu:1", retries=Retry(0), timeout=7200
        )

    def test_flow_params_from_hints_docstring_and_param(self) -> None:
        """Descriptions come from Param(...) first, then the docstring's Args section."""

        @flow(image="img")
        def f(
            a: str,
            b: Annotated[int, Param(description="from Param", name="b-count")] = 2,
            c: Color | None = None,
        ) -> None:
            """Summary line.

            Args:
                a: from the docstring,
                    continued here.
                b: ignored, Param wins.
            """
            report(1.0, a)

        params = f.params
        assert [(p.name, p.python_name) for p in params] == [
            ("a", "a"),
            ("b-count", "b"),
            ("c", "c"),
        ]
        assert params[0].description == "from the docstring, continued here."
        assert params[0].default is NO_DEFAULT
        assert params[0].required
        assert params[1].description == "from Param"
        assert params[2].default is None
        assert not params[2].required
        assert f.trace().description == "Summary line."


def _message(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    return str(excinfo.value)


class TestReferenceMisuse:
    """Using a reference where Python needs the value names the construct to use instead."""

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (
                bool,
                "'if extract(...)' (or and/or/not) needs its value, which exists only when "
                "the workflow runs; run tasks conditionally with 'with when(...):', or "
                "branch inside a task",
            ),
            (
                list,
                "iterating over extract(...) needs its value, which exists only when the "
                "workflow runs; fan out with task.map(...) over it, or loop inside a task",
            ),
            (
                len,
                "len(extract(...)) needs its value, which exists only when the workflow "
                "runs; compute the length inside a task",
            ),
            (
                int,
                "converting extract(...) to int needs its value, which exists only when the "
                "workflow runs (a plain function called on a reference does this); pass the "
                "reference to a @task, which receives the real value",
            ),
            (
                str,
                "converting extract(...) to str needs its value, which exists only when the "
                "workflow runs (a plain function called on a reference does this); pass the "
                "reference to a @task, which receives the real value",
            ),
            (
                lambda r: f"{r}",
                "converting extract(...) to an f-string or format() needs its value, which "
                "exists only when the workflow runs (a plain function called on a reference "
                "does this); pass the reference to a @task, which receives the real value",
            ),
            (
                lambda r: r == [],
                "extract(...) of type list[dict] cannot be compared in a condition (Argo "
                "compares numbers, strings and booleans); compare a field of it, or compute a "
                "bool/number in a task and compare that",
            ),
            (
                lambda r: r.upper(),
                "extract(...) is a list[dict], which has no fields; 'extract(...).upper' "
                "needs the value, which exists only when the workflow runs; read fields that "
                "the type declares, or work on the value in a task",
            ),
        ],
        ids=["if", "for", "len", "int", "str", "fstring", "eq", "method"],
    )
    def test_value_needed(self, body, message) -> None:  # type: ignore[no-untyped-def]
        """Each construct raises TraceError with flow, file:line and the fix."""

        @flow(image="img")
        def f(source: str = "x") -> None:
            rows = extract(source)
            body(rows)  # the failing line

        with pytest.raises(TraceError) as excinfo:
            f.trace()
        # The location is the innermost user frame: here, the lambda doing the conversion.
        assert re.fullmatch(rf"flow 'f' \({HERE}:\d+\): " + re.escape(message), _message(excinfo))

    def test_plain_function_on_a_reference(self) -> None:
        """A plain helper doing arithmetic-free conversions fails at the helper's line."""

        def double(x: float) -> float:
            return float(x) * 2  # plain helper line

        @flow(image="img")
        def f() -> None:
            m = train([], "vit", 0.1)
            report(double(m.accuracy), "x")

        with pytest.raises(TraceError, match=r"converting train\(\.\.\.\)\.accuracy to float"):
            f.trace()

    def test_unknown_field(self) -> None:
        """A field the dataclass does not declare lists the fields it has."""

        @flow(image="img")
        def f() -> None:
            m = train([], "vit", 0.1)
            report(m.precision, "x")

        with pytest.raises(TraceError) as excinfo:
            f.trace()
        assert "Metrics has no field 'precision' (fields: model, accuracy)" in _message(excinfo)

    def test_passing_a_none_returning_call(self) -> None:
        """A call that returns nothing cannot feed an argument; .after() is suggested."""

        @flow(image="img")
        def f() -> None:
            done = report(1.0, "a")
            report(done, "b")  # passes a None-returning call

        with pytest.raises(TraceError) as excinfo:
            f.trace()
        line = line_of('report(done, "b")  # passes a None-returning call')
        assert _message(excinfo) == (
            f"flow 'f', task 'report', parameter 'accuracy' ({HERE}:{line}): report(...) "
            "returns nothing (-> None), so it cannot be passed as an argument; use "
            ".after(report) to order calls without data"
        )


class TestCallErrors:
    def test_unknown_argument(self) -> None:
        """An unknown keyword names the task and shows the signature."""

        @flow(image="img")
        def f() -> None:
            extract("s3://x", limt=5)  # the failing call

        with pytest.raises(TraceError) as excinfo:
            f.trace()
        line = line_of('extract("s3://x", limt=5)  # the failing call')
        assert _message(excinfo) == (
            f"flow 'f', task 'extract' ({HERE}:{line}): bad call: got an unexpected keyword "
            "argument 'limt'; call it as extract(source, limit=...)"
        )

    def test_missing_argument(self) -> None:
        """A missing required argument is named."""

        @flow(image="img")
        def f() -> None:
            extract()

        with pytest.raises(TraceError, match=r"bad call: missing a required argument: 'source'"):
            f.trace()

    def test_constant_of_wrong_type(self) -> None:
        """'3' for an int is refused at trace time with expected versus got."""

        @flow(image="img")
        def f() -> None:
            extract("s3://x", limit="3")  # wrong constant

        with pytest.raises(TraceError) as excinfo:
            f.trace()
        line = line_of('extract("s3://x", limit="3")  # wrong constant')
        assert _message(excinfo) == (
            f"flow 'f', task 'extract', parameter 'limit' ({HERE}:{line}): expected int, got "
            "'3' of type str; pass a value of type int"
        )

    def test_reference_of_wrong_type(self) -> None:
        """A str-typed reference cannot feed an int parameter."""

        @flow(image="img")
        def f(name: str = "x") -> None:
            extract(name, limit=name)

        with pytest.raises(TraceError) as excinfo:
            f.trace()
        assert "parameter 'limit'" in _message(excinfo)
        assert "expected int, got name of type str" in _message(excinfo)

    def test_task_passed_uncalled(self) -> None:
        """Passing the task instead of its result says to call it."""

        @flow(image="img")
        def f() -> None:
            report(1.0, extract)  # type: ignore[arg-type]

        with pytest.raises(
            TraceError,
            match=r"got the task 'extract' itself, not its result; "
            r"call it: extract\(\.\.\.\)",
        ):
            f.trace()

    def test_reference_inside_a_constant(self) -> None:
        """A reference nested in a list cannot be encoded at compile time."""

        @flow(image="img")
        def f() -> None:
            m = train([], "vit", 0.1)
            pick([m])

        with pytest.raises(TraceError, match=r"train\(\.\.\.\) is nested inside a list"):
            f.trace()

    def test_flow_returning_a_parameter(self) -> None:
        """A flow returns task outputs, not its own parameters."""

        @flow(image="img")
        def f(x: int = 1) -> int:
            return x

        with pytest.raises(TraceError, match=r"the flow returns x, a flow parameter"):
            f.trace()

    def test_recursive_flow(self) -> None:
        """A flow calling itself is refused (the graph must be finite)."""

        @flow(image="img")
        def loop_forever(n: int = 1) -> None:
            loop_forever(n)

        with pytest.raises(
            TraceError,
            match=r"flow 'loop-forever' calls itself \(through "
            r"loop-forever\)",
        ):
            loop_forever.trace()


class TestDefinitionErrors:
    def test_missing_parameter_annotation(self) -> None:
        """A parameter without a hint is named, with the fix."""
        with pytest.raises(AnnotationError) as excinfo:

            @task
            def bad(x, y: int) -> int:  # type: ignore[no-untyped-def]
                return y

        line = line_of("def bad(x, y: int) -> int:")
        assert _message(excinfo) == (
            f"task 'bad', parameter 'x' ({HERE}:{line - 1}): has no type hint (flowdsl needs "
            "one to encode the value as an Argo parameter); annotate it, e.g. 'x: str'"
        )

    def test_missing_return_annotation(self) -> None:
        """A task without a return hint is told to add one (or -> None)."""
        with pytest.raises(
            AnnotationError,
            match=r"task 'bad' .*has no return type hint; "
            r"annotate the return type, e.g. '-> int', or '-> None'",
        ):

            @task
            def bad(x: int):  # type: ignore[no-untyped-def]
                return x

    def test_unsupported_annotation(self) -> None:
        """A union is refused with the list of supported types."""
        with pytest.raises(AnnotationError) as excinfo:

            @flow(image="img")
            def nightly(limit: int | str = 1) -> None:
                report(1.0, "a")

        message = _message(excinfo)
        assert message.startswith("flow 'nightly', parameter 'limit' (tests/test_dsl.py:")
        assert "type 'int | str' is not supported (use one of: str, int, float, bool" in message
        assert message.endswith("pick one type or use str")

    def test_invalid_explicit_name(self) -> None:
        """An explicit name must already be valid: flowdsl shows a valid one."""
        with pytest.raises(InvalidNameError) as excinfo:

            @task(name="Load_Data!")
            def load() -> None: ...

        assert "name 'Load_Data!' is not a valid Argo name" in _message(excinfo)
        assert _message(excinfo).endswith("use name='load-data'")

    def test_derived_names(self) -> None:
        """Function names map to DNS-1123 labels."""

        @task
        def Load_Raw_Data() -> None: ...

        assert Load_Raw_Data.name == "load-raw-data"

    def test_non_ascii_name(self) -> None:
        """A name with characters Argo cannot hold asks for name=..."""
        with pytest.raises(
            InvalidNameError,
            match=r"give the task an Argo name with "
            r"@task\(name='...'\)",
        ):

            @task
            def données() -> None: ...

    def test_flow_name_too_long(self) -> None:
        """Flow names leave room for the generated suffix."""
        with pytest.raises(InvalidNameError, match=r"is 63 characters long \(at most 57"):

            @flow
            def a_flow_name_that_is_far_too_long_for_argo_to_accept_as_a_prefix() -> None: ...

    def test_colliding_parameters(self) -> None:
        """Two parameters exposed under one Argo name collide."""
        with pytest.raises(DefinitionError) as excinfo:

            @flow(image="img")
            def f(a: int = 1, b: Annotated[int, Param(name="a")] = 2) -> None: ...

        assert "parameters 'a' and 'b' are both exposed to Argo as 'a'" in _message(excinfo)
        assert _message(excinfo).endswith("give one of them another Param(name=...)")

    def test_default_of_wrong_type(self) -> None:
        """A default that does not fit its hint is refused at decoration."""
        with pytest.raises(
            DefinitionError,
            match=r"parameter 'n' .*the default '3' does not "
            r"fit the type hint",
        ):

            @task
            def t(n: int = "3") -> None: ...  # type: ignore[assignment]

    def test_unknown_option(self) -> None:
        """An unknown option suggests the nearest valid one."""
        with pytest.raises(OptionError) as excinfo:

            @task(retry=3)  # type: ignore[call-overload]
            def t() -> None: ...

        assert re.search(
            r"task 't' \(tests/test_dsl.py:\d+\): unknown option 'retry'; did you mean "
            r"'retries'\? valid options: image, image_pull_policy, resources, node_selector, "
            r"tolerations, affinity, env, secrets, retries, timeout, volumes, service_account, "
            r"labels, annotations, parallelism, priority_class, cache, continue_on_failure, "
            r"profile$",
            _message(excinfo),
        )

    @pytest.mark.parametrize(
        ("value", "problem"),
        [
            ("2 hours", "option 'timeout' is not a duration: '2 hours'"),
            (0, "option 'timeout' must be a whole number of seconds, at least 1 (got 0)"),
            ([1], "option 'timeout' must be a duration (got [1] of type list)"),
        ],
    )
    def test_bad_timeout(self, value: object, problem: str) -> None:
        """Durations are checked with a valid form shown."""
        with pytest.raises(OptionError, match=re.escape(problem)):
            train.options(timeout=value)

    def test_durations(self) -> None:
        """Readable durations become seconds."""
        assert train.options(timeout="1h30m").options().__wrapped__ is train.__wrapped__
        from flowdsl.dsl import parse_duration

        assert parse_duration("1h30m", option="timeout") == 5400
        assert parse_duration("90s", option="timeout") == 90
        assert parse_duration(45, option="timeout") == 45

    def test_var_args_refused(self) -> None:
        """*args cannot become named parameters."""
        with pytest.raises(DefinitionError, match=r"\*args cannot become Argo parameters"):

            @task
            def t(*args: int) -> None: ...

    def test_decorating_twice(self) -> None:
        """@task on a task is a clear error."""
        with pytest.raises(DefinitionError, match="is already decorated"):
            task(extract)  # type: ignore[arg-type]


class TestOperators:
    @pytest.mark.parametrize(
        ("body", "symbol"),
        [
            (lambda r: r * 2, "*"),
            (lambda r: 1 + r, "+"),
            (lambda r: -r, "-"),
            (lambda r: r / 3, "/"),
            (round, "round()"),
        ],
        ids=["mul", "radd", "neg", "div", "round"],
    )
    def test_arithmetic_needs_a_value(self, body, symbol) -> None:  # type: ignore[no-untyped-def]
        """Operators on references say to compute inside a task, not Python's TypeError."""

        @flow(image="img")
        def f() -> None:
            m = train([], "vit", 0.1)
            body(m.accuracy)

        with pytest.raises(TraceError) as excinfo:
            f.trace()
        assert _message(excinfo).endswith(
            f"'{symbol}' on train(...).accuracy needs its value, which exists only when the "
            "workflow runs; compute with the value inside a task, which receives the real value"
        )
