"""Go durations, IntOrString, and how loop items are printed."""

from __future__ import annotations

from typing import Any

import pytest

from flowdsl.local.values import item_label, item_text, parse_duration, parse_int, value_text


class TestDurations:
    @pytest.mark.parametrize(
        ("text", "seconds"),
        [
            ("30s", 30.0),
            ("1m30s", 90.0),
            ("2h", 7200.0),
            ("250ms", 0.25),
            ("1.5s", 1.5),
            ("10", 10.0),
            (5, 5.0),
            ("100us", 0.0001),
            ("-1s", -1.0),
        ],
    )
    def test_parse(self, text: Any, seconds: float) -> None:
        """Go's time.ParseDuration forms, and bare numbers as seconds."""
        assert parse_duration(text) == pytest.approx(seconds)

    @pytest.mark.parametrize("text", ["", "1x", "s", "1s2", "abc", True])
    def test_bad(self, text: Any) -> None:
        """Anything else is a ValueError."""
        with pytest.raises(ValueError, match="expected a duration"):
            parse_duration(text)


class TestInts:
    @pytest.mark.parametrize(
        ("value", "expected"), [(3, 3), ("3", 3), (" 4 ", 4), (2.0, 2), ("-1", -1)]
    )
    def test_parse(self, value: Any, expected: int) -> None:
        """IntOrString fields accept integers and their text."""
        assert parse_int(value) == expected

    @pytest.mark.parametrize("value", ["3.5", "x", True, None])
    def test_bad(self, value: Any) -> None:
        """Anything else is a ValueError."""
        with pytest.raises(ValueError, match="expected an integer"):
            parse_int(value)


class TestItems:
    @pytest.mark.parametrize(
        ("item", "text"),
        [
            ("a", "a"),
            (3, "3"),
            (2.5, "2.5"),
            (1.0, "1"),
            (True, "true"),
            ({"a": 1, "b": [1, 2]}, '{"a":1,"b":[1,2]}'),
            (["x", 1], '["x",1]'),
        ],
    )
    def test_item_text(self, item: Any, text: str) -> None:
        """{{item}}: scalars as text, objects and lists as compact JSON."""
        assert item_text(item) == text

    @pytest.mark.parametrize(
        ("index", "item", "label"),
        [
            (0, "resnet", "(0:resnet)"),
            (2, 7, "(2:7)"),
            (1, {"year": 1912, "name": "alan"}, "(1:name:alan,year:1912)"),
            (0, ["a", "b"], "(0:[a b])"),
        ],
    )
    def test_item_label(self, index: int, item: Any, label: str) -> None:
        """Node names of loop items: (index:value), object keys sorted."""
        assert item_label(index, item) == label

    def test_value_text(self) -> None:
        """Parameter values written in YAML become Argo text."""
        assert [value_text(v) for v in ("x", 3, False, None, [1])] == ["x", "3", "false", "", "[1]"]
