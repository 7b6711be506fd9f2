"""depends and when expressions, evaluated as Argo does."""

from __future__ import annotations

import pytest

from flowdsl.local.expr import (
    ExpressionError,
    TaskResults,
    evaluate_when,
    parse_depends,
    task_depends,
)

SUCCEEDED = TaskResults(succeeded=True)
FAILED = TaskResults(failed=True)
ERRORED = TaskResults(errored=True)
SKIPPED = TaskResults(skipped=True)
OMITTED = TaskResults(omitted=True)


class TestDependsParsing:
    def test_tasks_in_order(self) -> None:
        """The tasks an expression names, in order of first mention, without repeats."""
        expr = parse_depends("(a.Succeeded || b-2.Failed) && !a.Skipped && c")
        assert expr.tasks == ("a", "b-2", "c")

    def test_bad_result(self) -> None:
        """An unknown result is refused, naming it and the task."""
        with pytest.raises(ExpressionError) as info:
            parse_depends("a.Finished")
        assert str(info.value) == (
            "depends 'a.Finished': task result 'Finished' for task 'a' is invalid (expected one "
            "of Succeeded, Failed, Errored, Skipped, Omitted, Daemoned, AnySucceeded, AllFailed)"
        )

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("a &&", "depends 'a &&' ends too early"),
            ("(a || b", "depends '(a || b' has an unclosed '('"),
            ("a b", "depends 'a b': unexpected 'b'"),
            (
                "a & b",
                "cannot parse depends 'a & b' at '& b' (expected a task name, Task.Result, "
                "'&&', '||', '!' or parentheses)",
            ),
        ],
    )
    def test_malformed(self, text: str, message: str) -> None:
        """Malformed expressions are refused with the place that does not parse."""
        with pytest.raises(ExpressionError) as info:
            parse_depends(text)
        assert str(info.value) == message

    def test_dependencies_become_depends(self) -> None:
        """dependencies: [a, b] is 'a && b' with bare names."""
        expr = task_depends({"name": "c", "dependencies": ["a", "b"]}, {})
        assert expr is not None
        assert expr.text == "a && b"
        assert task_depends({"name": "root"}, {}) is None


class TestDependsEvaluation:
    @pytest.mark.parametrize(
        ("result", "expected"),
        [(SUCCEEDED, True), (SKIPPED, True), (FAILED, False), (ERRORED, False), (OMITTED, False)],
    )
    def test_bare_name(self, result: TaskResults, expected: bool) -> None:
        """A bare name means Succeeded || Skipped || Daemoned."""
        assert parse_depends("a").evaluate({"a": result}) is expected

    def test_continue_on_widens_a_bare_name(self) -> None:
        """continueOn.failed / .error add Failed / Errored to what a bare name accepts."""
        expr = parse_depends("a", {"a": {"failed": True}})
        assert expr.evaluate({"a": FAILED}) is True
        assert expr.evaluate({"a": ERRORED}) is False
        assert parse_depends("a", {"a": {"error": True}}).evaluate({"a": ERRORED}) is True

    def test_succeeded_or_failed(self) -> None:
        """'A.Succeeded || A.Failed' accepts both, but not an error."""
        expr = parse_depends("A.Succeeded || A.Failed")
        assert [expr.evaluate({"A": r}) for r in (SUCCEEDED, FAILED, ERRORED)] == [
            True,
            True,
            False,
        ]

    def test_precedence(self) -> None:
        """&& binds tighter than ||; ! applies to what follows."""
        expr = parse_depends("a.Failed || b.Succeeded && !c.Succeeded")
        assert expr.evaluate({"a": FAILED, "b": FAILED, "c": SUCCEEDED}) is True
        assert expr.evaluate({"a": SUCCEEDED, "b": SUCCEEDED, "c": SUCCEEDED}) is False
        assert expr.evaluate({"a": SUCCEEDED, "b": SUCCEEDED, "c": FAILED}) is True

    def test_loop_results(self) -> None:
        """AnySucceeded and AllFailed read a looped task's items."""
        results = {"fan": TaskResults(failed=True, any_succeeded=True)}
        assert parse_depends("fan.AnySucceeded").evaluate(results) is True
        assert parse_depends("fan.AllFailed").evaluate(results) is False


class TestWhen:
    @pytest.mark.parametrize(
        ("when", "expected"),
        [
            ("heads == heads", True),
            ("heads == tails", False),
            ("heads != tails", True),
            ("'hello world' == 'hello world'", True),
            ("0.93 > 0.5", True),
            ("10 > 9", True),
            ("'10' > '9'", False),
            ("5 == 5.0", True),
            ("5 == '5'", False),
            ("true", True),
            ("true && false || true", True),
            ("!(1 < 2)", False),
            ("3 >= 3 && 2 <= 1", False),
            ("1 + 2 * 3 == 7", True),
            ("-1 < 0", True),
            ("abc =~ '^a'", True),
            ("abc !~ 'z'", True),
            ("2 in (1, 2, 3)", True),
            ("x in (a, b)", False),
            ("tasks.a.outputs.result == tasks.a.outputs.result", True),
            ("[weird value] == 'weird value'", True),
            ("  ", True),
        ],
    )
    def test_evaluation(self, when: str, expected: bool) -> None:
        """govaluate semantics with bare words turned into strings."""
        assert evaluate_when(when) is expected

    @pytest.mark.parametrize(
        ("when", "message"),
        [
            (
                "a > 1",
                "Failed to evaluate 'when' expression 'a > 1': Value 'a' cannot be used with "
                "the comparator '>', it is not a number",
            ),
            (
                "1 && true",
                "Failed to evaluate 'when' expression '1 && true': Value '1' cannot be used "
                "with the logical operator '&&', it is not a bool",
            ),
            ("1 + 1", "Expected boolean evaluation for '1 + 1'. Got 2"),
            (
                "a == {b}",
                "Invalid 'when' expression 'a == {b}': Invalid token: '{' (hint: try "
                'wrapping the affected expression in quotes ("))',
            ),
            ("(a == b", "Invalid 'when' expression '(a == b': Unbalanced parenthesis"),
            ("f(x) == 1", "Invalid 'when' expression 'f(x) == 1': Undefined function f"),
        ],
    )
    def test_errors(self, when: str, message: str) -> None:
        """Errors quote the expression as Argo's messages do."""
        with pytest.raises(ExpressionError) as info:
            evaluate_when(when)
        assert str(info.value) == message

    def test_dashes_are_minus(self) -> None:
        """As in govaluate, an unquoted 'foo-bar' is a subtraction of strings (an error)."""
        with pytest.raises(ExpressionError):
            evaluate_when("foo-bar == foo-bar")
