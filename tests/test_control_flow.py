"""Control flow: map and fan-in, when/otherwise, sub-flows, fused groups, failure paths.

Every construct is checked three ways: the manifest (Argo's schema and flowdsl's lint),
its shape, and a local run of the compiled manifest whose result equals what calling the
functions directly gives.
"""

from __future__ import annotations

import enum
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import flowdsl
from flowdsl import (
    Failure,
    RunStatus,
    compile_dict,
    flow,
    fused,
    otherwise,
    task,
    unmapped,
    when,
)
from flowdsl.errors import TraceError

from argo_oracle import assert_valid_argo
from conftest import ROOT

sys.path.insert(0, str(ROOT / "examples"))


@dataclass
class Score:
    name: str
    value: float


class Mode(enum.Enum):
    FULL = "full"
    QUICK = "quick"


@task
def square(x: int) -> int:
    return x * x


@task
def scale(x: int, factor: int) -> int:
    return x * factor


@task
def total(values: list[int]) -> int:
    return sum(values)


@task
def numbers(n: int) -> list[int]:
    return list(range(n))


@task
def score(name: str, weight: float) -> Score:
    return Score(name, round(len(name) * weight, 3))


@task
def best(scores: list[Score]) -> Score:
    return max(scores, key=lambda s: s.value)


@task
def label(text: str) -> str:
    return f"<{text}>"


@task
def join(parts: list[str]) -> str:
    return ",".join(parts)


@task
def fail(message: str) -> int:
    raise RuntimeError(message)


@task
def note(text: str) -> None:
    print(text)


def templates(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in doc["spec"]["templates"]}


def dag_tasks(doc: dict[str, Any], template: str | None = None) -> dict[str, dict[str, Any]]:
    name = template or doc["spec"]["entrypoint"]
    return {t["name"]: t for t in templates(doc)[name]["dag"]["tasks"]}


def run(f: flowdsl.Flow[Any, Any], tmp_path: Path, **params: Any) -> flowdsl.FlowRun:
    result = flowdsl.run(f, params=params, progress="off", run_dir=tmp_path / "run")
    assert result.status == "Succeeded", result.local.message
    return result


@dataclass
class Note:
    text: str
    size: int


class TestResults:
    def test_text_keeps_its_own_trailing_newline(self, tmp_path: Path) -> None:
        """A result is stdout, from which Argo (and the local engine) trims one newline: the
        one the runtime adds, not the value's own."""

        @task
        def text() -> str:
            return "line\n"

        @task
        def echo(value: str) -> list[str]:
            return [value, value]

        @flow(image="img")
        def kept() -> list[str]:
            return echo(text())

        assert run(kept, tmp_path).result == ["line\n", "line\n"]

    def test_a_field_keeps_its_own_trailing_newline(self, tmp_path: Path) -> None:
        """A field output is a file, from which Argo also trims one newline."""

        @task
        def note() -> Note:
            return Note("two\nlines\n", 2)

        @task
        def echo(value: str) -> str:
            return value

        @flow(image="img")
        def kept() -> str:
            return echo(note().text)

        assert run(kept, tmp_path).result == "two\nlines\n"


class TestMap:
    def test_static_list_is_with_items(self, tmp_path: Path) -> None:
        """A constant list becomes withItems; the fan-in receives the list of outputs."""

        @flow(image="img")
        def squares() -> int:
            return total(square.map([1, 3, 2]))

        doc = compile_dict(squares)
        assert_valid_argo(doc)
        task_ = dag_tasks(doc)["square"]
        assert task_["withItems"] == [1, 3, 2]  # ints as JSON numbers, other types as text
        assert task_["arguments"]["parameters"] == [{"name": "x", "value": "{{item}}"}]
        assert dag_tasks(doc)["total"]["arguments"]["parameters"] == [
            {"name": "values", "value": "{{tasks.square.outputs.result}}"}
        ]
        assert run(squares, tmp_path).result == 14

    @pytest.mark.parametrize(
        ("items", "sequence"),
        [
            (list(range(5)), {"start": "0", "end": "4"}),
            ([2, 1, 0, -1], {"start": "2", "end": "-1"}),
            ([0, 1], None),  # too short to be worth it
            ([0, 2, 4], None),  # not consecutive
        ],
    )
    def test_consecutive_ints_are_with_sequence(
        self, tmp_path: Path, items: list[int], sequence: dict[str, str] | None
    ) -> None:
        """range(n) (either way) is a withSequence: two numbers instead of n items, and the
        same values reach the task."""

        @flow(image="img")
        def squares() -> list[int]:
            return square.map(items)

        doc = compile_dict(squares)
        assert_valid_argo(doc)
        task_ = dag_tasks(doc)["square"]
        if sequence is None:
            assert task_["withItems"] == items
        else:
            assert task_["withSequence"] == sequence
            assert "withItems" not in task_
        assert run(squares, tmp_path).result == [i * i for i in items]

    def test_fan_in_too_long_for_one_argument_errors_as_in_a_pod(self, tmp_path: Path) -> None:
        """Each item is small, but the list is one value, passed as one argument: over
        Linux's 128 KiB it cannot start, locally as in a pod, and the message says why."""

        @task
        def pad(i: int) -> str:
            return str(i) * 1000

        @task
        def count(items: list[str]) -> int:
            return len(items)

        @flow(image="img")
        def wide() -> int:
            return count(pad.map(list(range(140))))

        result = flowdsl.run(wide, progress="off", run_dir=tmp_path / "run")
        assert result.status == "Error"
        message = next(n.message for n in result.local.nodes if n.display_name == "count")
        assert "Argument list too long (the argument 'items' is 303 KiB;" in message
        assert "Linux refuses one argument over 128 KiB, in a pod too" in message

    def test_runtime_list_that_is_empty_fans_in_nothing(self, tmp_path: Path) -> None:
        """Argo skips a loop over an empty list and leaves the reference to its outputs
        as written: the reader of the fan-in gets [], as in Python."""

        @task
        def none() -> list[int]:
            return []

        @flow(image="img")
        def empty() -> int:
            return total(square.map(none()))

        result = run(empty, tmp_path)
        assert result.result == 0
        node = result.tasks["square"].node
        assert (node.phase, node.message) == ("Skipped", "Skipped, empty params")
        stderr = result.tasks["total"].node.stderr
        assert stderr is not None
        assert stderr.read_text() == (
            "flowdsl.runtime: values: {{tasks.square.outputs.result}} ran no items; received []\n"
        )

    def test_empty_constant_list_is_refused(self) -> None:
        """A loop over nothing would be skipped by Argo, and its fan-in could not run."""

        @flow(image="img")
        def nothing() -> int:
            return total(square.map([]))

        with pytest.raises(TraceError) as exc:
            nothing.trace()
        assert str(exc.value).endswith(
            "map(...) over an empty list (x): there is nothing to run; pass at least one item; "
            "the list is known when the flow is traced, so an 'if' in the flow body can leave "
            "out square.map(...)"
        )

    def test_items_of_other_types_are_their_parameter_text(self, tmp_path: Path) -> None:
        """Floats, strings and zipped lists keep the codec's text; ints in a zip are numbers."""

        @task
        def label(x: float, name: str, n: int) -> str:
            return f"{name}:{x}:{n}"

        @flow(image="img")
        def labels() -> list[str]:
            return label.map([0.5, 2.0], ["a", "007"], [1, -2])

        doc = compile_dict(labels)
        assert_valid_argo(doc)
        assert dag_tasks(doc)["label"]["withItems"] == [
            {"x": "0.5", "name": "a", "n": 1},
            {"x": "2.0", "name": "007", "n": -2},
        ]
        assert run(labels, tmp_path).result == ["a:0.5:1", "007:2.0:-2"]

    def test_runtime_list_is_with_param_and_whole_arguments(self, tmp_path: Path) -> None:
        """A list-typed output becomes withParam; other arguments are passed whole."""

        @flow(image="img")
        def scaled(n: int = 4, factor: int = 3) -> int:
            return total(scale.map(numbers(n), factor))

        doc = compile_dict(scaled)
        assert_valid_argo(doc)
        task_ = dag_tasks(doc)["scale"]
        assert task_["withParam"] == "{{tasks.numbers.outputs.result}}"
        assert task_["arguments"]["parameters"] == [
            {"name": "factor", "value": "{{workflow.parameters.factor}}"},
            {"name": "x", "value": "{{item}}"},
        ]
        assert task_["depends"] == "numbers"
        assert run(scaled, tmp_path).result == sum(x * 3 for x in range(4))

    def test_list_parameter_and_zip_and_structured_items(self, tmp_path: Path) -> None:
        """Flow list parameters map with withParam; constants zip into item maps;
        structured outputs fan in as list[Score]."""

        @flow(image="img")
        def ranking(names: list[str] = ["ab", "abcd", "abc"]) -> Score:  # noqa: B006
            by_name = score.map(names, weight=unmapped(0.5))
            score.map(["x", "yy"], weight=[1.0, 2.0])
            return best(by_name)

        doc = compile_dict(ranking)
        assert_valid_argo(doc)
        tasks = dag_tasks(doc)
        assert tasks["score"]["withParam"] == "{{workflow.parameters.names}}"
        assert tasks["score-2"]["withItems"] == [
            {"name": "x", "weight": "1.0"},
            {"name": "yy", "weight": "2.0"},
        ]
        assert tasks["score-2"]["arguments"]["parameters"] == [
            {"name": "name", "value": "{{item.name}}"},
            {"name": "weight", "value": "{{item.weight}}"},
        ]
        result = run(ranking, tmp_path)
        assert result.result == Score("abcd", 2.0)
        assert result.tasks["score-2"].outputs["return"] == [Score("x", 1.0), Score("yy", 4.0)]

    def test_fields_of_a_map_are_lists(self, tmp_path: Path) -> None:
        """`scores.value` on a map result is the list of that field (list[float])."""

        @task
        def top(values: list[float]) -> float:
            return max(values)

        @flow(image="img")
        def f() -> float:
            scores = score.map(["a", "bbb"], weight=1.5)
            return top(scores.value)

        doc = compile_dict(f)
        assert dag_tasks(doc)["top"]["arguments"]["parameters"][0]["value"] == (
            "{{tasks.score.outputs.parameters.value}}"
        )
        assert run(f, tmp_path).result == 4.5

    def test_string_outputs_fan_in_exactly(self, tmp_path: Path) -> None:
        """Scalar outputs arrive as Argo's list of texts and decode by the item type."""

        @flow(image="img")
        def f() -> str:
            return join(label.map(["1", "two", "3.0"]))

        assert run(f, tmp_path).result == "<1>,<two>,<3.0>"

    def test_parallelism_wraps_the_loop(self, tmp_path: Path) -> None:
        """.options(parallelism=N) puts the loop in a DAG template with parallelism N."""

        @flow(image="img")
        def f(n: int = 5) -> int:
            return total(square.options(parallelism=2).map(numbers(n)))

        doc = compile_dict(f)
        assert_valid_argo(doc)
        wrapper = templates(doc)["square-map"]
        assert wrapper["parallelism"] == 2
        inner = wrapper["dag"]["tasks"][0]
        assert inner["withParam"] == "{{inputs.parameters.x}}"
        assert dag_tasks(doc)["square"]["template"] == "square-map"
        assert run(f, tmp_path).result == sum(x * x for x in range(5))

    def test_map_outside_a_flow_is_a_list(self) -> None:
        """Outside a trace, map() calls the function per item (unit tests)."""
        assert scale.map([1, 2], 10) == [10, 20]
        assert score.map(["a", "bb"], weight=[1.0, 2.0]) == [Score("a", 1.0), Score("bb", 4.0)]

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (
                lambda: square.map(3),
                "map(...) has nothing to map over: no argument is a list of its parameter's "
                "type; pass a list for at least one parameter, or call square(...) directly",
            ),
            (
                lambda: score.map(["a", "b"], weight=[1.0]),  # zip of unequal lengths
                "map(...) zips lists of different lengths (name: 2, weight: 1); pass lists "
                "of equal length (items are paired by position)",
            ),
            (
                lambda: square.map(["a"]),
                "parameter 'x' (tests/test_control_flow.py:LINE): map(...): item 0 of the "
                "list: expected int, got 'a' of type str; every item must be of type int",
            ),
            (
                lambda: scale.map(unmapped(1), 2),
                "map(...) has nothing to map over: no argument is a list of its parameter's "
                "type; pass a list for at least one parameter, or call scale(...) directly",
            ),
            (
                lambda: scale.map(numbers(2), numbers(3)),
                "map(...) over several lists that are only known when the workflow runs is "
                "not supported (Argo loops over one list)",
            ),
            (
                lambda: square.map(score("a", 1.0)),
                "parameter 'x' (tests/test_control_flow.py:LINE): expected int, got score(...) "
                "of type Score; pass a value of the parameter's type, or convert it inside a "
                "task",
            ),
        ],
        ids=["not-a-list", "zip-lengths", "wrong-items", "nothing", "two-runtime", "ref-type"],
    )
    def test_bad_maps(self, body, message) -> None:  # type: ignore[no-untyped-def]
        """Each bad map is a TraceError naming the flow and the task."""

        @flow(image="img")
        def f() -> None:
            body()

        with pytest.raises(TraceError) as excinfo:
            f.trace()
        text = str(excinfo.value)
        assert text.startswith("flow 'f', task '")
        assert re.sub(r":\d+\)", ":LINE)", message) in re.sub(r":\d+\)", ":LINE)", text)


class TestConditions:
    def test_expressions_quote_by_type(self) -> None:
        """Strings are quoted, numbers and booleans are not; & | ~ nest with parentheses."""

        @task
        def flag() -> bool:
            return True

        @flow(image="img")
        def f(mode: Mode = Mode.FULL, name: str = "x", limit: float = 0.5) -> None:
            s = score(name, limit)
            ok = flag()
            with when((s.value > limit) & (mode == Mode.FULL)):
                note("a")
            with when((s.name == "it's") | ~ok):
                note("b")
            with when(ok):
                note("c")

        doc = compile_dict(f)
        assert_valid_argo(doc)
        tasks = dag_tasks(doc)
        assert tasks["note"]["when"] == (
            "({{tasks.score.outputs.parameters.value}} > {{workflow.parameters.limit}} && "
            "'{{workflow.parameters.mode}}' == 'full')"
        )
        assert tasks["note-2"]["when"] == (
            "('{{tasks.score.outputs.parameters.name}}' == \"it's\" || "
            "!({{tasks.flag.outputs.result}} == true))"
        )
        assert tasks["note-3"]["when"] == "{{tasks.flag.outputs.result}} == true"

    def test_branches_run_locally(self, tmp_path: Path) -> None:
        """when/otherwise pick one branch at run time; a task reading a skipped task's output
        is omitted, one only ordered after it still runs."""

        @flow(image="img")
        def f(limit: float = 1.0) -> None:
            s = score("abc", 1.0)
            with when(s.value >= limit):
                high = label("high")
            with otherwise():
                low = label("low")
            join([]).after(high, low)
            label.map(["z"])  # unrelated work still runs

        doc = compile_dict(f)
        assert_valid_argo(doc)
        assert dag_tasks(doc)["label-2"]["when"].startswith("!(")
        low = run(f, tmp_path / "low", limit=3.5)  # score is len("abc") * 1.0 = 3.0
        assert low.tasks["label"].phase == "Skipped"
        assert low.tasks["label-2"].outputs["return"] == "<low>"
        assert low.tasks["join"].phase == "Succeeded"
        high = run(f, tmp_path / "high", limit=2.0)
        assert high.tasks["label"].outputs["return"] == "<high>"
        assert high.tasks["label-2"].phase == "Skipped"
        assert high.tasks["join"].phase == "Succeeded"

    def test_consumer_of_a_skipped_output_is_omitted(self, tmp_path: Path) -> None:
        """Depends on X.Succeeded when X is conditional: the consumer does not run."""

        @flow(image="img")
        def f(go: bool = False) -> None:
            with when(go):
                text = label("x")
            note(text)

        doc = compile_dict(f)
        assert dag_tasks(doc)["note"]["depends"] == "label.Succeeded"
        result = run(f, tmp_path)
        assert result.tasks["label"].phase == "Skipped"
        assert result.tasks["note"].phase == "Omitted"

    def test_nested_when_and(self) -> None:
        """Nested blocks and their conditions."""

        @flow(image="img")
        def f(a: int = 1, b: int = 2) -> None:
            with when(square(a) > 0), when(square(b) < 10):
                note("both")

        assert dag_tasks(compile_dict(f))["note"]["when"] == (
            "({{tasks.square.outputs.result}} > 0 && {{tasks.square-2.outputs.result}} < 10)"
        )

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (
                lambda: when(numbers(3) == [1]).__enter__(),
                "numbers(...) of type list[int] cannot be compared in a condition (Argo "
                "compares numbers, strings and booleans); compare a field of it, or compute a "
                "bool/number in a task and compare that",
            ),
            (
                lambda: when(label("a") > "b").__enter__(),
                "'>' orders numbers; label(...) is a str; use == or != for strings and booleans",
            ),
            (
                lambda: bool(square(2) > 1),
                "'if square(...).return > 0' ",
            ),
            (
                lambda: when(square(1)).__enter__(),
                "square(...) of type int is not a condition; compare it (==, !=, <, <=, >, >=) "
                "to build one",
            ),
            (
                lambda: otherwise().__enter__(),
                "otherwise() must come right after a 'with when(...):' block; put 'with "
                "otherwise():' directly after the when block it completes",
            ),
            (
                lambda: when(square(1) == "one").__enter__(),
                "square(...) == 'one': expected int, got 'one' of type str; compare with a "
                "value of type int",
            ),
        ],
        ids=[
            "not-comparable",
            "order-strings",
            "if-condition",
            "not-bool",
            "otherwise-alone",
            "const-type",
        ],
    )
    def test_bad_conditions(self, body, message) -> None:  # type: ignore[no-untyped-def]
        """Each is a TraceError with the flow and the fix."""

        @flow(image="img")
        def f() -> None:
            body()

        with pytest.raises(TraceError) as excinfo:
            f.trace()
        text = str(excinfo.value)
        assert text.startswith("flow 'f'")
        if message.startswith("'if"):
            assert "a condition on workflow values is known only when the workflow runs" in text
        else:
            assert message in text

    def test_when_around_no_task(self) -> None:
        """An empty when block is an error at the block's line."""

        @flow(image="img")
        def f(a: int = 1) -> None:
            with when(square(a) > 1):
                pass

        with pytest.raises(
            TraceError,
            match=r"flow 'f' \(tests/test_control_flow.py:\d+\): "
            r"when\(\.\.\.\) block records no task call; call at least one task "
            r"inside the block, or remove it",
        ):
            f.trace()

    def test_returning_a_conditional_output(self) -> None:
        """A flow cannot return what may be skipped."""

        @flow(image="img")
        def f(a: int = 1) -> int:
            with when(square(a) > 1):
                out = square(2)
            return out  # noqa: RET504 - the point: `out` is defined under a condition

        with pytest.raises(
            TraceError,
            match=r"which runs only under a when\(\.\.\.\) "
            r"condition and may be skipped",
        ):
            f.trace()


@flow
def double_all(values: list[int], factor: int = 2) -> int:
    """A sub-flow: scale every value, then add them up."""
    return total(scale.map(values, factor))


class TestSubFlows:
    def test_sub_flow_is_a_dag_template(self, tmp_path: Path) -> None:
        """A sub-flow call becomes a DAG task running the sub-flow's template, with inputs."""

        @flow(image="img")
        def outer(n: int = 3) -> int:
            first = double_all(numbers(n))
            return double_all(numbers(first), factor=10)

        doc = compile_dict(outer)
        assert_valid_argo(doc)
        sub = templates(doc)["double-all"]
        assert sub["inputs"] == {
            "parameters": [{"name": "values"}, {"name": "factor", "default": "2"}]
        }
        assert sub["dag"]["tasks"][0]["withParam"] == "{{inputs.parameters.values}}"
        assert sub["outputs"]["parameters"][0]["valueFrom"]["parameter"] == (
            "{{tasks.total.outputs.result}}"
        )
        tasks = dag_tasks(doc)
        assert tasks["double-all"]["template"] == "double-all"
        assert tasks["double-all-2"]["template"] == "double-all"
        first = 2 * (0 + 1 + 2)
        assert run(outer, tmp_path).result == 10 * sum(range(first))

    def test_mapped_sub_flow_three_levels(self, tmp_path: Path) -> None:
        """examples/nested_map.py: a map over a sub-flow with parallel maps inside."""
        import nested_map

        doc = compile_dict(nested_map.nested_map)
        assert_valid_argo(doc)
        result = run(nested_map.nested_map, tmp_path, regions=["eu", "us"], shards=3)
        expected = {}
        for region in ["eu", "us"]:
            shards = nested_map.list_shards(region, 3)
            sizes = [nested_map.measure(s) for s in shards]
            words = [nested_map.count_words(s) for s in shards]
            report = nested_map.summarise_region(region, sizes, words)
            expected[region] = report.total_size
        assert result.result == expected


class TestFused:
    def test_compiles_the_same_bytes_every_time(self) -> None:
        """Tracing again makes no new output class, so the group's payload does not change."""
        import fused as example

        assert compile_dict(example.fused_prep) == compile_dict(example.fused_prep)

    def test_one_template_and_only_used_outputs(self, tmp_path: Path) -> None:
        """examples/fused.py: two steps in one pod; only the value used outside is an output."""
        import fused as example

        doc = compile_dict(example.fused_prep)
        assert_valid_argo(doc)
        assert list(templates(doc)) == ["fused-prep", "prep", "train"]
        prep = templates(doc)["prep"]
        assert [p["name"] for p in prep["inputs"]["parameters"]] == ["raw", "scale"]
        # The group's whole return is its result (stdout); its fields are files.
        assert [p["name"] for p in prep["outputs"]["parameters"]] == ["normalise"]
        assert dag_tasks(doc)["train"]["arguments"]["parameters"] == [
            {"name": "features", "value": "{{tasks.prep.outputs.parameters.normalise}}"}
        ]
        result = run(example.fused_prep, tmp_path, raw="3.5,4.0,x,5.5")
        expected = example.train(example.normalise(example.parse("3.5,4.0,x,5.5"), 1.0))
        assert result.result == expected
        assert list(result.tasks) == ["prep", "train"]

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (
                "options",
                "its options (retries=3) differ from the fused ('prep') group's (defaults); the "
                "group runs in one pod with one set of resources; give the options once on "
                "fused('prep', ...), or call it outside the fused('prep') block",
            ),
            (
                "map",
                "map(...) inside fused('prep'): a map fans out to one pod per item, a fused "
                "group is one pod",
            ),
            (
                "when",
                "when(...) inside fused('prep'): the group runs as one step, so a condition "
                "applies to all of it",
            ),
            (
                "later",
                "fused('prep'): its calls need 'square-3', which is computed outside the "
                "group from 'square', a call inside the group; move 'square-3' into the fused "
                "block, or end the group before it",
            ),
            ("empty", "fused('prep') block records no task call"),
        ],
    )
    def test_bad_groups(self, body: str, message: str) -> None:
        """Each is a TraceError naming the flow (and the task) with the fix."""

        @flow(image="img")
        def f(a: int = 2) -> None:
            with fused("prep"):
                if body == "empty":
                    continue_ = None
                    del continue_
                    return
                first = square(a)
                if body == "options":
                    square.options(retries=3)(first)
                elif body == "map":
                    square.map([1, 2])
                elif body == "when":
                    with when(first > 1):
                        note("x")
                second = square(3)
            if body == "later":
                # `later` reads the group's first call; the group's second call waits for it.
                later = square(first)
                second.after(later)

        with pytest.raises(TraceError) as excinfo:
            f.trace()
        text = str(excinfo.value)
        assert text.startswith("flow 'f'")
        assert message in text


class TestFailurePaths:
    def test_exit_handler_gets_status_and_failures(self, tmp_path: Path) -> None:
        """on_exit runs after everything, with the run's status and failures, typed."""

        @task
        def report(status: RunStatus, failures: list[Failure], a: int) -> None:
            names = sorted(f.get("displayName", "") for f in failures)
            print(f"status={status} failed={names} a={a}")

        @flow(image="img", on_exit=report)
        def f(a: int = 1) -> None:
            fail.options(continue_on_failure=True)("boom")
            note("done")

        doc = compile_dict(f)
        assert_valid_argo(doc)
        assert doc["spec"]["onExit"] == "f-exit"
        exit_task = templates(doc)["f-exit"]["dag"]["tasks"][0]
        assert exit_task["arguments"]["parameters"] == [
            {"name": "status", "value": "{{workflow.status}}"},
            {"name": "failures", "value": "{{workflow.failures}}"},
            {"name": "a", "value": "{{workflow.parameters.a}}"},
        ]
        result = flowdsl.run(f, params={"a": 7}, progress="off", run_dir=tmp_path / "r")
        exit_node = next(n for n in result.local.nodes if n.display_name == "f-exit")
        assert exit_node.phase == "Succeeded"
        assert exit_node.stderr is not None  # what a task prints is on stderr
        printed = exit_node.stderr.read_text()
        assert printed.startswith("status=")
        assert "a=7" in printed

    def test_continue_on_failure(self, tmp_path: Path) -> None:
        """A failing continue-on-failure call: calls ordered .after() it run and the flow
        succeeds; a call that needs its outputs is omitted and the flow fails."""

        @flow(image="img")
        def tolerant() -> None:
            broken = fail.options(continue_on_failure=True)("boom")
            note("after").after(broken)

        @flow(image="img")
        def needs_it() -> None:
            broken = fail.options(continue_on_failure=True)("boom")
            note("after").after(broken)
            square(broken)

        doc = compile_dict(needs_it)
        assert_valid_argo(doc)
        tasks = dag_tasks(doc)
        assert "continueOn" not in tasks["fail"]  # Argo refuses continueOn with depends
        assert tasks["note"]["depends"] == (
            "(fail.Succeeded || fail.Skipped || fail.Failed || fail.Errored)"
        )
        assert tasks["square"]["depends"] == "fail.Succeeded"
        ok = flowdsl.run(tolerant, progress="off", run_dir=tmp_path / "ok")
        assert ok.status == "Succeeded"
        assert ok.tasks["fail"].phase == "Failed"
        assert ok.tasks["note"].phase == "Succeeded"
        bad = flowdsl.run(needs_it, progress="off", run_dir=tmp_path / "bad")
        assert bad.tasks["note"].phase == "Succeeded"
        assert bad.tasks["square"].phase == "Omitted"
        assert bad.status == "Failed"

    def test_fail_fast(self) -> None:
        """fail_fast=False is Argo's DAG failFast: false."""

        @flow(image="img", fail_fast=False)
        def f() -> None:
            note("a")

        assert templates(compile_dict(f))["f"]["dag"]["failFast"] is False

    def test_exit_handler_with_unfillable_parameter(self) -> None:
        """An exit task parameter flowdsl cannot fill is a DefinitionError."""

        @task
        def bad_exit(status: RunStatus, mystery: int) -> None: ...

        @flow(image="img", on_exit=bad_exit)
        def f() -> None:
            note("a")

        with pytest.raises(
            flowdsl.DefinitionError,
            match=r"the exit handler 'bad-exit' has a "
            r"parameter 'mystery' that flowdsl cannot fill",
        ):
            f.trace()

    def test_after_cycle(self) -> None:
        """.after() that would make a cycle is refused at the call."""

        @flow(image="img")
        def f() -> None:
            first = square(1)
            second = square(first)
            first.after(second)

        with pytest.raises(
            TraceError,
            match=r"square\(\.\.\.\)\.after\(\) would make a cycle: "
            r"square-2 already runs after square",
        ):
            f.trace()


class TestExamples:
    def test_ml_pipeline_deploys_or_notifies(self, tmp_path: Path) -> None:
        """examples/ml_pipeline.py: the threshold picks deploy or notify; the result is the
        ensemble of the three models trained in parallel."""
        import ml_pipeline as ex

        data = ex.preprocess("s3://acme-data/churn", 10_000)
        scores = [
            ex.train(data, m, 10) for m in ("random-forest", "gradient-boosting", "neural-net")
        ]
        expected = ex.ensemble(scores)
        low = run(ex.ml_pipeline, tmp_path / "low", threshold=0.5)
        assert low.result == expected
        assert low.tasks["deploy"].outputs["return"] == "https://staging/models/ensemble"
        assert low.tasks["notify"].phase == "Skipped"
        high = run(ex.ml_pipeline, tmp_path / "high", threshold=0.999)
        assert high.tasks["deploy"].phase == "Skipped"
        assert high.tasks["notify"].phase == "Succeeded"
        assert high.tasks["train"].attempts == 3  # one per model, none retried
