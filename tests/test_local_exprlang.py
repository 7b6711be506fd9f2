"""{{=...}} expressions: the expr-lang subset and Go's printing of their values."""

from __future__ import annotations

from typing import Any

import pytest

from flowdsl.local.exprlang import ExprError, evaluate, go_format

ENV: dict[str, Any] = {
    "inputs": {"parameters": {"n": "4", "xs": "[1, 2, 3]", "doc": '{"a": [1, {"b": 5}]}'}},
    "tasks": {"fetch-data": {"outputs": {"result": "hi", "parameters": {"count": "7"}}}},
    "workflow": {"parameters": {"mode": "fast"}},
    "item": "x",
}


class TestEvaluation:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("asInt(inputs.parameters.n) + 1", 5),
            ("asFloat(inputs.parameters.n) / 8", 0.5),
            ("7 / 2", 3.5),
            ("7 % 2", 1),
            ("2 ** 10", 1024.0),
            ("tasks['fetch-data'].outputs.result + '!'", "hi!"),
            ("tasks['fetch-data'].outputs.parameters.count", "7"),
            ("workflow.parameters.mode == 'fast' ? 'quick' : 'slow'", "quick"),
            ("map(fromJSON(inputs.parameters.xs), {# * 2})", [2, 4, 6]),
            ("filter(1..6, {# % 2 == 0})", [2, 4, 6]),
            ("all([1, 2], {# > 0}) and not any([1, 2], {# > 5})", True),
            ("len(inputs.parameters.xs)", 9),
            ("'x' in ['x', 'y'] && 'z' not in ['x']", True),
            ("{a: 1, 'b': [true, nil]}", {"a": 1, "b": [True, None]}),
            ("inputs.parameters?.missing ?? 'default'", "default"),
            ("jsonpath(inputs.parameters.doc, '$.a[1].b')", 5),
            ("toJson({a: 1})", '{"a":1}'),
            ("sprig.upper(item) + sprig.trim('  y ')", "Xy"),
            ("'abc' matches '^a' && 'abc' startsWith 'ab' && 'abc' endsWith 'bc'", True),
            ("[1, 2, 3][-1]", 3),
            ("'hello'[1:3]", "el"),
            ("string(3) + upper('a')", "3A"),
            ("1 == 1.0", True),
            ("'1' == 1", False),
        ],
    )
    def test_values(self, text: str, expected: Any) -> None:
        """Operators, functions, closures and member access behave as in expr-lang."""
        assert evaluate(text, ENV) == expected

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("missing.x", "unknown name missing"),
            ("1 < 'a'", "invalid operation: int < string"),
            ("asInt('x')", "asInt: cannot parse 'x' as an integer"),
            ("sprig.nosuch('x')", "sprig.nosuch is not supported by the local engine"),
            ("(1", "expected ')' at 2 in '(1'"),
            ("1 +", "unexpected None at 3 in '1 +'"),
            ("1 && true", "invalid operation: && on int (expected bool)"),
        ],
    )
    def test_errors(self, text: str, message: str) -> None:
        """Failures are ExprError with a message naming the problem."""
        with pytest.raises(ExprError) as info:
            evaluate(text, ENV)
        assert str(info.value) == message


class TestGoFormat:
    @pytest.mark.parametrize(
        ("value", "text"),
        [
            (3.0, "3"),
            (0.25, "0.25"),
            (100000.0, "100000"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (1.5e-5, "1.5e-05"),
            (-2.5, "-2.5"),
            (True, "true"),
            (None, "<nil>"),
            ([1, "a", [2]], "[1 a [2]]"),
            ({"b": 1, "a": "x"}, "map[a:x b:1]"),
            ("text", "text"),
        ],
    )
    def test_values(self, value: Any, text: str) -> None:
        """Results print as Go's %v prints them (Argo formats expression results so)."""
        assert go_format(value) == text
