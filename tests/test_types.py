"""Tests for flowdsl.types, the codec registry."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import math
import pathlib
import re
import subprocess
import sys
import typing
from typing import Annotated, Any, Literal, NamedTuple, Optional, TypedDict, TypeVar

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typing_extensions import NotRequired

from flowdsl.errors import AnnotationError, CodecError
from flowdsl.types import (
    Codec,
    codec_for,
    field_value,
    output_parameters,
    output_values,
    structured_fields,
)

SUPPORTED = (
    "(use one of: str, int, float, bool, Literal, Enum, datetime, date, list, dict, tuple, "
    "dataclass, attrs class, NamedTuple, TypedDict, pydantic model, Optional)"
)


# ----------------------------------------------------------------------------- sample types


@dataclasses.dataclass
class Metrics:
    model: str
    accuracy: float


@dataclasses.dataclass(frozen=True)
class Run:
    name: str
    metrics: list[Metrics]
    tags: dict[str, int] = dataclasses.field(default_factory=dict)
    best: Optional[Metrics] = None  # noqa: UP045 - the spelling under test


@dataclasses.dataclass
class Tree:
    label: str
    children: list[Tree] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Husband:
    name: str
    spouse: Wife | None


@dataclasses.dataclass
class Wife:
    name: str
    spouse: Husband | None


@dataclasses.dataclass
class Positive:
    n: int

    def __post_init__(self) -> None:
        if self.n <= 0:
            raise ValueError("n must be positive")


@dataclasses.dataclass
class Empty:
    pass


@dataclasses.dataclass
class Hidden:
    a: int
    b: int = dataclasses.field(init=False, default=0)


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Point(NamedTuple):
    x: int
    y: int = 0


class Row(TypedDict):
    id: int
    note: NotRequired[str]


Weird = TypedDict("Weird", {"ok": int, "bad-name": int, "return": int})


@attrs.define
class Job:
    _secret: int
    steps: list[str]
    retries: int = 0


@attrs.frozen
class Pair:
    left: Metrics
    right: Optional[Metrics] = None  # noqa: UP045


class Plain:
    """A class that is none of the structured kinds."""

    def __init__(self, x: int) -> None:
        self.x = x


T = TypeVar("T")
UserId = typing.NewType("UserId", int)


def error(exc: pytest.ExceptionInfo[BaseException]) -> str:
    return str(exc.value)


def roundtrip(annotation: Any, value: Any) -> Any:
    codec = codec_for(annotation)
    text = codec.encode(value)
    assert isinstance(text, str)
    return codec.decode(text)


# ----------------------------------------------------------------------------- scalars


class TestScalars:
    @given(st.integers())
    def test_int_roundtrip(self, value: int) -> None:
        """Any int survives encode/decode and is written as plain decimal."""
        assert codec_for(int).encode(value) == str(value)
        assert roundtrip(int, value) == value

    @given(st.floats())
    def test_float_roundtrip(self, value: float) -> None:
        """Any float, nan and inf included, survives as a top-level parameter (repr text)."""
        back = roundtrip(float, value)
        assert type(back) is float
        assert (math.isnan(value) and math.isnan(back)) or back == value
        assert codec_for(float).encode(value) == repr(value)

    @given(st.text())
    def test_str_roundtrip(self, value: str) -> None:
        """A str is written as is, whatever it contains."""
        assert codec_for(str).encode(value) == value
        assert roundtrip(str, value) == value

    def test_bool(self) -> None:
        """bool is an Argo enum of true/false."""
        codec = codec_for(bool)
        assert codec.enum == ("true", "false")
        assert codec.encode(True) == "true"
        assert codec.encode(False) == "false"
        assert codec.decode("true") is True
        assert codec.decode("false") is False

    def test_int_accepted_for_float(self) -> None:
        """An int is a valid float value (and an int text a valid float text)."""
        codec = codec_for(float)
        codec.validate(3)
        assert codec.encode(3) == "3.0"
        assert codec.decode("3") == 3.0
        assert codec.to_json(3) == 3.0
        assert codec.from_json(3) == 3.0

    def test_float_texts(self) -> None:
        """Decimal and exponent texts parse; nan and inf are accepted at top level."""
        codec = codec_for(float)
        assert codec.decode("1e3") == 1000.0
        assert codec.decode("-.5") == -0.5
        assert codec.decode("inf") == math.inf
        assert math.isnan(codec.decode("nan"))

    def test_int_subclass_values_are_plain(self) -> None:
        """An IntEnum member given for an int is written as its number."""
        assert codec_for(int).encode(Level.HIGH) == "2"
        assert type(codec_for(int).to_json(Level.HIGH)) is int

    def test_str_enum_member_for_str(self) -> None:
        """A str-mixin Enum member given for a str is written as its plain text."""

        class Mode(str, enum.Enum):
            FAST = "fast"

        assert codec_for(str).encode(Mode.FAST) == "fast"

    @pytest.mark.parametrize(
        ("annotation", "text", "message"),
        [
            (int, "abc", "expected int, got 'abc'; write a whole number such as 42"),
            (int, "3.0", "expected int, got '3.0'; write a whole number such as 42"),
            (int, " 3", "expected int, got ' 3'; write a whole number such as 42"),
            (int, "1_000", "expected int, got '1_000'; write a whole number such as 42"),
            (int, "", "expected int, got ''; write a whole number such as 42"),
            (int, "3\n", "expected int, got '3\\n'; write a whole number such as 42"),
            (float, "0.5\n", "expected float, got '0.5\\n'; write a decimal number such as 0.5"),
            (float, "abc", "expected float, got 'abc'; write a decimal number such as 0.5"),
            (float, "1,5", "expected float, got '1,5'; write a decimal number such as 0.5"),
            (bool, "yes", "expected bool, got 'yes'; write true or false"),
            (bool, "True", "expected bool, got 'True'; write true or false"),
        ],
    )
    def test_bad_texts(self, annotation: Any, text: str, message: str) -> None:
        """A text that does not parse gives expected-versus-got and the fix."""
        with pytest.raises(CodecError) as exc:
            codec_for(annotation).decode(text)
        assert error(exc) == message

    @pytest.mark.parametrize(
        ("annotation", "value", "message"),
        [
            (int, "3", "expected int, got '3' of type str"),
            (int, True, "expected int, got True of type bool"),
            (int, 3.0, "expected int, got 3.0 of type float"),
            (float, "0.5", "expected float, got '0.5' of type str"),
            (float, False, "expected float, got False of type bool"),
            (str, 3, "expected str, got 3 of type int"),
            (bool, 1, "expected bool, got 1 of type int"),
        ],
    )
    def test_wrong_values(self, annotation: Any, value: Any, message: str) -> None:
        """validate, encode and to_json all reject a value of the wrong type."""
        codec = codec_for(annotation)
        for method in (codec.validate, codec.encode, codec.to_json):
            with pytest.raises(CodecError) as exc:
                method(value)
            assert error(exc) == message

    def test_decode_needs_text(self) -> None:
        """decode refuses anything but a str."""
        with pytest.raises(CodecError) as exc:
            codec_for(int).decode(3)  # type: ignore[arg-type]
        assert error(exc) == "expected the text of a int parameter, got 3 of type int"


# ----------------------------------------------------------------------------- enums


class TestChoices:
    def test_literal(self) -> None:
        """Literal values become the Argo enum in declaration order."""
        codec = codec_for(Literal["resnet", "vit"])
        assert codec.enum == ("resnet", "vit")
        assert codec.type_name == "Literal['resnet', 'vit']"
        assert codec.encode("vit") == "vit"
        assert codec.decode("resnet") == "resnet"

    def test_mixed_literal(self) -> None:
        """int, bool and Enum members in a Literal are written as their text."""
        codec = codec_for(Literal[1, True, "a", Color.GREEN])
        assert codec.enum == ("1", "true", "a", "green")
        for value in (1, True, "a", Color.GREEN):
            assert roundtrip(Literal[1, True, "a", Color.GREEN], value) is value or (
                roundtrip(Literal[1, True, "a", Color.GREEN], value) == value
            )
        assert codec.decode("1") == 1
        assert type(codec.decode("1")) is int
        assert codec.decode("true") is True
        assert codec.to_json(Color.GREEN) == "green"
        assert codec.from_json("green") is Color.GREEN

    def test_literal_type_strict(self) -> None:
        """True is not Literal[1] even though True == 1."""
        with pytest.raises(CodecError) as exc:
            codec_for(Literal[1]).validate(True)
        assert error(exc) == "expected Literal[1], got True of type bool"
        with pytest.raises(CodecError) as exc:
            codec_for(Literal["a", "b"]).encode("c")
        assert error(exc) == "expected Literal['a', 'b'], got 'c' of type str"

    def test_enum(self) -> None:
        """An Enum is an Argo enum of its member values; decode gives the member."""
        codec = codec_for(Color)
        assert codec.enum == ("red", "green")
        assert codec.type_name == "Color"
        assert codec.encode(Color.RED) == "red"
        assert codec.decode("green") is Color.GREEN
        assert codec.to_json(Color.RED) == "red"

    def test_int_enum(self) -> None:
        """An IntEnum stays an enum (not an int) and is written as its number."""
        codec = codec_for(Level)
        assert codec.enum == ("1", "2")
        assert codec.decode("2") is Level.HIGH
        assert codec.from_json(1) is Level.LOW
        assert codec.to_json(Level.LOW) == 1

    def test_enum_rejects_raw_value(self) -> None:
        """The raw value of a member is not a member."""
        with pytest.raises(CodecError) as exc:
            codec_for(Color).validate("red")
        assert error(exc) == "expected Color, got 'red' of type str"

    def test_bad_choice_texts(self) -> None:
        """A text outside the enum names the allowed texts."""
        with pytest.raises(CodecError) as exc:
            codec_for(Color).decode("pink")
        assert error(exc) == "expected Color, got 'pink'; use one of: 'red', 'green'"
        with pytest.raises(CodecError) as exc:
            codec_for(Literal["a", "b"]).decode("c")
        assert error(exc) == "expected Literal['a', 'b'], got 'c'; use one of: 'a', 'b'"
        with pytest.raises(CodecError) as exc:
            codec_for(list[Color]).from_json(["red", "blue"])
        assert error(exc) == "expected Color at [1], got 'blue'; use one of: 'red', 'green'"

    def test_same_text_twice(self) -> None:
        """Two values with the same text cannot be told apart: refused."""
        with pytest.raises(AnnotationError) as exc:
            codec_for(Literal[1, "1"])
        assert error(exc) == (
            "Literal[1, '1'] has two values with the same text '1': 1 and '1'; "
            "use values whose texts differ"
        )

    def test_bad_enum_values(self) -> None:
        """Enum members must have str or int values."""

        class Shape(enum.Enum):
            BOX = (1, 2)

        with pytest.raises(AnnotationError) as exc:
            codec_for(Shape)
        assert error(exc) == (
            "Enum 'Shape' member BOX has value (1, 2) of type tuple, which cannot be a "
            "parameter; give the members str or int values"
        )

    def test_empty_enum(self) -> None:
        """An Enum without members offers nothing to choose."""

        class Nothing(enum.Enum):
            pass

        with pytest.raises(AnnotationError) as exc:
            codec_for(Nothing)
        assert error(exc) == "type 'Nothing' has no values; declare at least one value"

    def test_bad_literal_value(self) -> None:
        """A float Literal value is refused."""
        with pytest.raises(AnnotationError) as exc:
            codec_for(Literal[1.5])
        assert error(exc) == (
            "Literal value 1.5 is not supported; use str, int or bool values, or Enum members "
            "with str or int values"
        )

    def test_literal_with_none(self) -> None:
        """Literal['a', None] is Optional[Literal['a']]."""
        codec = codec_for(Literal["a", None])
        assert codec.optional
        assert codec.enum == ("a", "null")
        assert codec.decode("null") is None
        assert codec.decode("a") == "a"


# ----------------------------------------------------------------------------- dates


class TestDates:
    @given(st.datetimes(timezones=st.none() | st.timezones()))
    def test_datetime_roundtrip(self, value: dt.datetime) -> None:
        """A datetime, naive or aware, survives with its wall time and UTC offset.

        A named zone comes back as a fixed offset (ISO 8601 has no zone names), so compare
        the texts: ``==`` between zones is False for an ambiguous wall time (PEP 495).
        """
        back = roundtrip(dt.datetime, value)
        assert back.isoformat() == value.isoformat()
        assert back.utcoffset() == value.utcoffset()

    @given(st.dates())
    def test_date_roundtrip(self, value: dt.date) -> None:
        """A date survives as ISO 8601."""
        assert codec_for(dt.date).encode(value) == value.isoformat()
        assert roundtrip(dt.date, value) == value

    def test_z_suffix(self) -> None:
        """A trailing Z means UTC and the time zone is kept."""
        value = codec_for(dt.datetime).decode("2024-05-01T12:00:00Z")
        assert value == dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone.utc)
        assert value.tzinfo is not None

    def test_json_form(self) -> None:
        """Inside JSON a datetime is its ISO string."""
        codec = codec_for(dict[str, dt.datetime])
        value = {"at": dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.timezone.utc)}
        assert codec.encode(value) == '{"at":"2024-05-01T12:30:00+00:00"}'
        assert codec.decode(codec.encode(value)) == value

    def test_datetime_is_not_a_date(self) -> None:
        """A datetime given for a date is refused: it would lose its time."""
        with pytest.raises(CodecError) as exc:
            codec_for(dt.date).validate(dt.datetime(2024, 1, 1))
        assert error(exc) == (
            "expected date, got datetime.datetime(2024, 1, 1, 0, 0) of type datetime"
        )

    def test_bad_texts(self) -> None:
        """A text that is not ISO 8601 names the format to use."""
        with pytest.raises(CodecError) as exc:
            codec_for(dt.datetime).decode("yesterday")
        assert error(exc) == (
            "expected datetime, got 'yesterday'; write an ISO 8601 date-time such as "
            "2024-05-01T12:00:00+00:00"
        )
        with pytest.raises(CodecError) as exc:
            codec_for(dt.date).decode("01/05/2024")
        assert error(exc) == (
            "expected date, got '01/05/2024'; write an ISO 8601 date such as 2024-05-01"
        )
        with pytest.raises(CodecError) as exc:
            codec_for(list[dt.date]).decode('["x"]')
        assert error(exc) == "expected date (an ISO 8601 string) at [0], got 'x' of type str"


# ----------------------------------------------------------------------------- JSON


finite = st.floats(allow_nan=False, allow_infinity=False)
json_scalars = st.none() | st.booleans() | st.integers() | finite | st.text()
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=10,
)
metrics = st.builds(
    Metrics, st.text(), st.floats(allow_nan=False, allow_infinity=False) | st.integers(-9, 9)
)
runs = st.builds(
    Run,
    st.text(),
    st.lists(metrics, max_size=3),
    st.dictionaries(st.text(), st.integers(), max_size=3),
    st.none() | metrics,
)


class TestJson:
    @given(st.lists(st.integers()))
    def test_list_of_int(self, value: list[int]) -> None:
        """list[int] is a JSON array of numbers."""
        assert roundtrip(list[int], value) == value

    @given(st.dictionaries(st.text(), st.lists(st.floats(allow_nan=False, allow_infinity=False))))
    def test_dict_of_lists(self, value: dict[str, list[float]]) -> None:
        """dict[str, list[float]] round-trips."""
        assert roundtrip(dict[str, list[float]], value) == value

    @given(st.lists(json_values))
    def test_bare_list(self, value: list[Any]) -> None:
        """A bare list takes any JSON array."""
        assert roundtrip(list, value) == value

    @given(st.dictionaries(st.text(), json_values))
    def test_bare_dict(self, value: dict[str, Any]) -> None:
        """A bare dict takes any JSON object."""
        assert roundtrip(dict, value) == value
        assert roundtrip(list[dict], [value]) == [value]  # type: ignore[type-arg]

    @given(runs)
    def test_nested_dataclasses(self, value: Run) -> None:
        """Dataclasses nest in lists, dicts and Optional, and come back equal."""
        back = roundtrip(Run, value)
        assert back == value
        assert all(type(m) is Metrics for m in back.metrics)

    @given(st.lists(metrics))
    def test_list_of_dataclasses(self, value: list[Metrics]) -> None:
        """list[Metrics] round-trips (int accuracies come back as floats, equal)."""
        assert roundtrip(list[Metrics], value) == value

    def test_compact_and_ordered(self) -> None:
        """JSON is compact, keeps declaration order, and does not escape non-ASCII."""
        run = Run("é", [Metrics("m", 0.5)], {"b": 1, "a": 2})
        assert codec_for(Run).encode(run) == (
            '{"name":"é","metrics":[{"model":"m","accuracy":0.5}],"tags":{"b":1,"a":2},"best":null}'
        )

    def test_defaults_fill_missing_fields(self) -> None:
        """A field with a default may be absent from the JSON."""
        assert codec_for(Run).decode('{"name":"n","metrics":[]}') == Run("n", [])

    def test_tuples(self) -> None:
        """Fixed, variadic, empty and bare tuples are JSON arrays and come back as tuples."""
        assert codec_for(tuple[int, str]).encode((1, "a")) == '[1,"a"]'
        assert roundtrip(tuple[int, str], (1, "a")) == (1, "a")
        assert roundtrip(tuple[int, ...], (1, 2, 3)) == (1, 2, 3)
        assert roundtrip(tuple[()], ()) == ()
        assert roundtrip(tuple, (1, "a", None)) == (1, "a", None)
        assert codec_for(tuple[int, ...]).type_name == "tuple[int, ...]"
        assert codec_for(tuple[()]).type_name == "tuple[()]"

    def test_tuple_length(self) -> None:
        """A fixed tuple of the wrong length is refused."""
        with pytest.raises(CodecError) as exc:
            codec_for(tuple[int, str]).decode("[1]")
        assert error(exc) == "expected tuple[int, str] (2 items), got [1] (1 items)"

    def test_sets_are_sorted(self) -> None:
        """Sets are written sorted, so the text does not depend on hashing."""
        assert codec_for(set[str]).encode({"b", "c", "a"}) == '["a","b","c"]'
        assert roundtrip(frozenset[int], frozenset({3, 1})) == frozenset({1, 3})
        assert type(roundtrip(frozenset[int], frozenset({3}))) is frozenset

    def test_dict_keys(self) -> None:
        """int and Enum keys are written as their parameter text."""
        assert codec_for(dict[int, str]).encode({1: "a"}) == '{"1":"a"}'
        assert roundtrip(dict[int, str], {1: "a", -2: "b"}) == {1: "a", -2: "b"}
        assert roundtrip(dict[Color, int], {Color.RED: 1}) == {Color.RED: 1}
        assert roundtrip(dict[Literal["x", "y"], int], {"y": 1}) == {"y": 1}

    def test_bad_dict_keys(self) -> None:
        """A key of the wrong type is refused, in a value and in a text."""
        with pytest.raises(CodecError) as exc:
            codec_for(dict[int, str]).validate({"a": "b"})
        assert error(exc) == "expected int key, got 'a' of type str"
        with pytest.raises(CodecError) as exc:
            codec_for(dict[int, str]).decode('{"a":"b"}')
        assert error(exc) == "expected int key, got 'a' of type str"
        with pytest.raises(CodecError) as exc:
            codec_for(dict).validate({1: "b"})
        assert error(exc) == "expected a str key, got 1 of type int"

    def test_unsupported_dict_key_type(self) -> None:
        """float keys are refused at definition time."""
        with pytest.raises(AnnotationError) as exc:
            codec_for(dict[float, int])
        assert error(exc) == (
            "dict keys of type 'float' are not supported (use str, int, Enum or Literal keys); "
            "use str keys"
        )

    def test_non_finite_floats(self) -> None:
        """NaN and infinity cannot be written in JSON, nor read from it."""
        with pytest.raises(CodecError) as exc:
            codec_for(list[Metrics]).encode([Metrics("a", math.nan)])
        assert error(exc) == (
            "expected a finite float at [0].accuracy, got nan; JSON has no NaN or infinity; "
            "use Optional[float] and None for a missing value"
        )
        with pytest.raises(CodecError) as exc:
            codec_for(list).encode([math.inf])
        assert error(exc) == (
            "expected a finite float at [0], got inf; JSON has no NaN or infinity; use None "
            "for a missing value"
        )
        with pytest.raises(CodecError) as exc:
            codec_for(list[float]).decode("[NaN]")
        assert error(exc) == (
            "expected list[float] as JSON, got '[NaN]' (NaN is not valid JSON); "
            "write the value as JSON"
        )

    def test_bad_json(self) -> None:
        """Malformed JSON and JSON of the wrong shape say what was expected where."""
        with pytest.raises(CodecError) as exc:
            codec_for(list[int]).decode("[1,")
        assert error(exc) == (
            "expected list[int] as JSON, got '[1,' (Expecting value: line 1 column 4 (char 3)); "
            "write the value as JSON"
        )
        with pytest.raises(CodecError) as exc:
            codec_for(list[int]).decode('[1,"2"]')
        assert error(exc) == "expected int at [1], got '2' of type str"
        with pytest.raises(CodecError) as exc:
            codec_for(dict[str, list[int]]).decode('{"a":[true]}')
        assert error(exc) == "expected int at ['a'][0], got True of type bool"
        with pytest.raises(CodecError) as exc:
            codec_for(list[int]).decode('{"a":1}')
        assert error(exc) == "expected list[int], got {'a': 1} of type dict"
        with pytest.raises(CodecError) as exc:
            codec_for(Run).decode('{"name":"n","metrics":[{"model":"m","accuracy":"high"}]}')
        assert error(exc) == "expected float at metrics[0].accuracy, got 'high' of type str"

    def test_wrong_container_values(self) -> None:
        """A tuple is not a list, and a non-JSON object is not a JSON value."""
        with pytest.raises(CodecError) as exc:
            codec_for(list[int]).validate((1, 2))
        assert error(exc) == "expected list[int], got (1, 2) of type tuple"
        with pytest.raises(CodecError) as exc:
            codec_for(list).validate([object])
        assert error(exc) == (
            "expected a JSON value (str, int, float, bool, None, list, dict) at [0], "
            "got <class 'object'> of type type"
        )

    def test_long_values_are_cut(self) -> None:
        """A long value is shortened in the message."""
        with pytest.raises(CodecError) as exc:
            codec_for(int).decode("x" * 200)
        assert error(exc) == f"expected int, got '{'x' * 76}...; write a whole number such as 42"

    def test_set_needs_item_type(self) -> None:
        """A bare set has no JSON shape to check."""
        with pytest.raises(AnnotationError) as exc:
            codec_for(set)
        assert error(exc) == (
            "type 'set' needs its element type; write set[str] (or the element type you need)"
        )


# ----------------------------------------------------------------------------- Optional


class TestOptional:
    @pytest.mark.parametrize(
        ("value", "text"),
        [
            (None, "null"),
            ("null", '"null"'),
            ('"quoted"', '"\\"quoted\\""'),
            ('"', '"\\""'),
            ("plain", "plain"),
            ("", ""),
            ("nullish", "nullish"),
            ('a"b', 'a"b'),
        ],
    )
    def test_optional_str(self, value: str | None, text: str) -> None:
        """None is null; a str reading null or starting with a quote is JSON-quoted."""
        codec = codec_for(Optional[str])  # noqa: UP045
        assert codec.encode(value) == text
        assert codec.decode(text) == value

    @given(st.none() | st.text())
    def test_optional_str_roundtrip(self, value: str | None) -> None:
        """Every str and None survive, and stay distinct."""
        assert roundtrip(str | None, value) == value

    def test_record(self) -> None:
        """An Optional codec is marked optional and named Optional[T]."""
        codec = codec_for(int | None)
        assert codec.optional
        assert codec.type_name == "Optional[int]"
        assert codec.enum is None
        assert not codec_for(int).optional

    def test_optional_enum(self) -> None:
        """The enum of an Optional choice gains null (escaped if a value reads null)."""
        assert codec_for(Optional[bool]).enum == ("true", "false", "null")  # noqa: UP045
        codec = codec_for(Literal["a", "null"] | None)
        assert codec.enum == ("a", '"null"', "null")
        assert codec.decode('"null"') == "null"
        assert codec.decode("null") is None

    def test_optional_containers(self) -> None:
        """Optional[list[int]] is JSON or null; inside JSON None is null."""
        assert codec_for(Optional[list[int]]).encode([1]) == "[1]"  # noqa: UP045
        assert roundtrip(Optional[list[int]], None) is None  # noqa: UP045
        assert codec_for(list[int | None]).encode([1, None]) == "[1,null]"
        assert codec_for(list[str | None]).decode('["null",null]') == ["null", None]

    def test_optional_validates_inner(self) -> None:
        """A non-None value must still be of the inner type."""
        with pytest.raises(CodecError) as exc:
            codec_for(int | None).validate("3")
        assert error(exc) == "expected int, got '3' of type str"

    def test_bad_quoted_text(self) -> None:
        """A text starting with a quote must be a whole JSON string."""
        with pytest.raises(CodecError) as exc:
            codec_for(str | None).decode('"abc')
        assert error(exc) == (
            "expected Optional[str], got '\"abc'; a text starting with '\"' is read as a JSON "
            'string; write "\\"abc" for this text as is'
        )


# ----------------------------------------------------------------------------- structured


class TestStructured:
    def test_dataclass_errors(self) -> None:
        """Missing and unknown fields, and a constructor that refuses, are CodecErrors."""
        with pytest.raises(CodecError) as exc:
            codec_for(Metrics).decode('{"model":"a"}')
        assert error(exc) == "expected Metrics, got {'model': 'a'} (missing field 'accuracy')"
        with pytest.raises(CodecError) as exc:
            codec_for(Metrics).decode('{"model":"a","accuracy":1,"x":2}')
        assert error(exc) == (
            "expected Metrics, got {'model': 'a', 'accuracy': 1, 'x': 2} (unknown field 'x')"
        )
        with pytest.raises(CodecError) as exc:
            codec_for(Positive).decode('{"n":0}')
        assert error(exc) == "cannot build Positive from {'n': 0}: n must be positive"
        with pytest.raises(CodecError) as exc:
            codec_for(Metrics).validate({"model": "a", "accuracy": 1.0})
        assert error(exc) == ("expected Metrics, got {'model': 'a', 'accuracy': 1.0} of type dict")

    def test_empty_and_init_false(self) -> None:
        """A dataclass without fields is {}; fields the constructor does not take are left out."""
        assert codec_for(Empty).encode(Empty()) == "{}"
        assert roundtrip(Empty, Empty()) == Empty()
        assert codec_for(Hidden).encode(Hidden(1)) == '{"a":1}'
        assert structured_fields(Hidden) == (("a", int),)

    def test_recursive(self) -> None:
        """A class that refers to itself works."""
        tree = Tree("a", [Tree("b", [Tree("c")])])
        assert codec_for(Tree).encode(tree) == (
            '{"label":"a","children":[{"label":"b","children":[{"label":"c","children":[]}]}]}'
        )
        assert roundtrip(Tree, tree) == tree
        assert structured_fields(Tree) == (("label", str), ("children", list[Tree]))

    def test_mutual_recursion(self) -> None:
        """Two classes that refer to each other work, Optional included."""
        value = Husband("h", Wife("w", Husband("h2", None)))
        assert roundtrip(Husband, value) == value
        assert codec_for(Wife).encode(Wife("w", None)) == '{"name":"w","spouse":null}'

    def test_attrs(self) -> None:
        """attrs classes use field names in JSON and aliases to construct."""
        job = Job(1, ["a"], retries=2)
        assert codec_for(Job).encode(job) == '{"_secret":1,"steps":["a"],"retries":2}'
        assert roundtrip(Job, job) == job
        assert roundtrip(Pair, Pair(Metrics("m", 1.0))) == Pair(Metrics("m", 1.0))
        assert structured_fields(Job) == (("_secret", int), ("steps", list[str]), ("retries", int))

    def test_namedtuple(self) -> None:
        """A NamedTuple is a JSON object of its fields, and comes back as itself."""
        assert codec_for(Point).encode(Point(1, 2)) == '{"x":1,"y":2}'
        back = codec_for(Point).decode('{"x":1}')
        assert back == Point(1, 0)
        assert type(back) is Point

    def test_typeddict(self) -> None:
        """A TypedDict is a plain dict; NotRequired keys may be absent."""
        codec = codec_for(Row)
        assert codec.encode({"id": 1}) == '{"id":1}'
        assert codec.encode({"id": 1, "note": "n"}) == '{"id":1,"note":"n"}'
        assert codec.decode('{"id":1}') == {"id": 1}
        with pytest.raises(CodecError) as exc:
            codec.validate({"note": "n"})
        assert error(exc) == "expected Row, got {'note': 'n'} (missing field 'id')"
        with pytest.raises(CodecError) as exc:
            codec.validate({"id": 1, "extra": 2})
        assert error(exc) == "expected Row, got {'id': 1, 'extra': 2} (unknown field 'extra')"

    def test_pydantic(self) -> None:
        """A pydantic model is a JSON object of its fields, built back through validation."""
        import pydantic

        class Model(pydantic.BaseModel):
            name: str
            scores: list[float] = []
            best: Optional[Metrics] = None  # noqa: UP045

        model = Model(name="a", scores=[1.0], best=Metrics("m", 0.5))
        codec = codec_for(Model)
        assert codec.encode(model) == (
            '{"name":"a","scores":[1.0],"best":{"model":"m","accuracy":0.5}}'
        )
        assert codec.decode(codec.encode(model)) == model
        assert codec.decode('{"name":"b"}') == Model(name="b")
        assert structured_fields(Model) == (
            ("name", str),
            ("scores", list[float]),
            ("best", Optional[Metrics]),  # noqa: UP045
        )
        assert output_parameters(Model) == (
            ("return", Model),
            ("name", str),
            ("scores", list[float]),
            ("best", Optional[Metrics]),  # noqa: UP045
        )
        assert output_values(Model, model) == {
            "return": '{"name":"a","scores":[1.0],"best":{"model":"m","accuracy":0.5}}',
            "name": "a",
            "scores": "[1.0]",
            "best": '{"model":"m","accuracy":0.5}',
        }

    def test_unresolvable_hints(self) -> None:
        """A field naming an undefined type is an AnnotationError."""

        @dataclasses.dataclass
        class Broken:
            x: Undefined  # type: ignore[name-defined]  # noqa: F821

        with pytest.raises(AnnotationError) as exc:
            codec_for(Broken)
        assert error(exc) == (
            "cannot resolve the type hints of 'Broken': name 'Undefined' is not defined; "
            "define every type its fields name at module level"
        )

    def test_unsupported_field(self) -> None:
        """An unsupported field type fails the whole class at definition time."""

        @dataclasses.dataclass
        class HasAny:
            x: Any

        with pytest.raises(AnnotationError) as exc:
            codec_for(HasAny)
        assert error(exc) == (
            f"type 'Any' is not supported {SUPPORTED}; name the concrete type "
            "(dict for any JSON object)"
        )


# ----------------------------------------------------------------------------- artifacts


class TestArtifacts:
    @pytest.mark.parametrize(
        ("annotation", "value"), [(bytes, b"x"), (pathlib.Path, pathlib.Path("a"))]
    )
    def test_artifacts(self, annotation: Any, value: Any) -> None:
        """bytes and Path have codecs marked as artifacts, which refuse to be parameters."""
        codec = codec_for(annotation)
        assert codec.is_artifact
        codec.validate(value)
        message = (
            f"{codec.type_name} values are Argo artifacts and are not supported as parameters; "
            "pass them as files (artifacts), or use a parameter type such as str"
        )
        for call in (
            lambda: codec.encode(value),
            lambda: codec.decode("x"),
            lambda: codec.to_json(value),
            lambda: codec.from_json("x"),
        ):
            with pytest.raises(CodecError) as exc:
                call()
            assert error(exc) == message

    def test_path_subclasses(self) -> None:
        """Concrete path classes are artifacts too (MRO step)."""
        assert codec_for(pathlib.PosixPath).is_artifact

    def test_artifact_validate(self) -> None:
        """validate still checks the artifact's Python type."""
        with pytest.raises(CodecError) as exc:
            codec_for(bytes).validate("x")
        assert error(exc) == "expected bytes, got 'x' of type str"

    def test_no_artifacts_inside_json(self) -> None:
        """An artifact type cannot sit inside a container or a structured class."""
        with pytest.raises(AnnotationError) as exc:
            codec_for(list[bytes])
        assert error(exc) == (
            "type 'list[bytes]' is not supported: bytes is an Argo artifact and cannot be "
            "written inside JSON; return the artifact on its own, or store a path or URL (str) "
            "instead"
        )


# ----------------------------------------------------------------------------- unsupported


class TestUnsupported:
    @pytest.mark.parametrize(
        ("annotation", "name", "fix"),
        [
            (int | str, "int | str", "pick one type or use str"),
            (typing.Union[int, str, None], "int | str | None", "pick one type or use str"),  # noqa: UP007
            (Any, "Any", "name the concrete type (dict for any JSON object)"),
            (object, "object", "name the concrete type (dict for any JSON object)"),
            (T, "~T", "replace the type variable with a concrete type"),
            (
                typing.Callable[[int], int],
                "Callable[[int], int]",
                "pass data, not functions: a task receives values",
            ),
            (
                Plain,
                "Plain",
                "make 'Plain' a dataclass, attrs class, NamedTuple, TypedDict or pydantic "
                "model, or use a supported type",
            ),
            (
                None,
                "None",
                "None alone is only allowed as a return type; use Optional[T] for a value "
                "that may be missing",
            ),
            (list[int | str], "int | str", "pick one type or use str"),
        ],
    )
    def test_messages(self, annotation: Any, name: str, fix: str) -> None:
        """Every unsupported hint names the type, what is supported, and a fix."""
        with pytest.raises(AnnotationError) as exc:
            codec_for(annotation)
        assert error(exc) == f"type '{name}' is not supported {SUPPORTED}; {fix}"
        assert exc.value.fix == fix

    def test_string_hint(self) -> None:
        """A string hint must be resolved by the caller."""
        with pytest.raises(AnnotationError) as exc:
            codec_for("int")
        assert error(exc) == (
            "type hint 'int' is a string, not a type; resolve it first with "
            "typing.get_type_hints(), or define the type before use"
        )


# ----------------------------------------------------------------------------- the record


class TestCodecRecord:
    @pytest.mark.parametrize(
        ("annotation", "name"),
        [
            (int, "int"),
            (list[dict], "list[dict]"),  # type: ignore[type-arg]
            (dict[str, list[float]], "dict[str, list[float]]"),
            (Literal["a", "b"], "Literal['a', 'b']"),
            (Metrics, "Metrics"),
            (Optional[int], "Optional[int]"),  # noqa: UP045
            (Optional[list[Metrics]], "Optional[list[Metrics]]"),  # noqa: UP045
            (typing.List[int], "list[int]"),  # noqa: UP006
            (list, "list"),
            (set[int], "set[int]"),
        ],
    )
    def test_type_names(self, annotation: Any, name: str) -> None:
        """type_name is readable."""
        assert codec_for(annotation).type_name == name

    def test_cached(self) -> None:
        """One codec per annotation."""
        assert codec_for(list[int]) is codec_for(list[int])
        assert codec_for(Literal[1]) is not codec_for(Literal[True])

    def test_literal_order_kept(self) -> None:
        """Literals equal as sets keep their own declaration order."""
        assert codec_for(Literal["a", "b"]).enum == ("a", "b")
        assert codec_for(Literal["b", "a"]).enum == ("b", "a")
        assert codec_for(list[Literal["b", "a"]]).type_name == "list[Literal['b', 'a']]"
        assert codec_for(Literal["a", "b"]) != codec_for(Literal["b", "a"])

    def test_annotated_stripped(self) -> None:
        """Annotated metadata is ignored, even unhashable metadata."""
        codec = codec_for(Annotated[int, {"doc": "x"}])
        assert codec.annotation is int
        assert codec_for(list[Annotated[float, "lr"]]).encode([1]) == "[1.0]"

    def test_newtype(self) -> None:
        """A NewType is its supertype."""
        assert codec_for(UserId).annotation is int

    def test_frozen(self) -> None:
        """A Codec cannot be changed."""
        codec = codec_for(int)
        with pytest.raises(dataclasses.FrozenInstanceError):
            codec.type_name = "x"  # type: ignore[misc]
        assert isinstance(codec, Codec)
        assert codec == codec_for(int)


# ----------------------------------------------------------------------------- fields and outputs


class TestStructuredFields:
    @pytest.mark.parametrize(
        ("annotation", "fields"),
        [
            (Metrics, (("model", str), ("accuracy", float))),
            (Point, (("x", int), ("y", int))),
            (Row, (("id", int), ("note", str | None))),
            (Pair, (("left", Metrics), ("right", Optional[Metrics]))),  # noqa: UP045
            (tuple[int, Metrics], (("0", int), ("1", Metrics))),
            (tuple[int, ...], None),
            (Optional[Metrics], None),  # noqa: UP045
            (list[Metrics], None),
            (int, None),
        ],
    )
    def test_fields(self, annotation: Any, fields: Any) -> None:
        """Structured types and fixed tuples list their fields; others have none."""
        assert structured_fields(annotation) == fields

    def test_annotated_fields_kept(self) -> None:
        """Field hints are returned as written, Annotated included."""

        @dataclasses.dataclass
        class WithDoc:
            lr: Annotated[float, "learning rate"]

        assert structured_fields(WithDoc) == (("lr", Annotated[float, "learning rate"]),)

    def test_field_value(self) -> None:
        """field_value reads attributes, dict keys and tuple positions."""
        assert field_value(Metrics("m", 0.5), "accuracy") == 0.5
        assert field_value(Point(1, 2), "y") == 2
        assert field_value({"id": 1}, "id") == 1
        assert field_value({"id": 1}, "note") is None
        assert field_value((1, "a"), "1") == "a"
        with pytest.raises(CodecError) as exc:
            field_value(Metrics("m", 0.5), "loss")
        assert error(exc) == (
            "value Metrics(model='m', accuracy=0.5) of type Metrics has no field 'loss'"
        )


class TestOutputs:
    @pytest.mark.parametrize("annotation", [None, type(None)])
    def test_none(self, annotation: Any) -> None:
        """A task returning None writes no output."""
        assert output_parameters(annotation) == ()
        assert output_values(annotation, None) == {}

    def test_none_hint_with_a_value(self) -> None:
        """A task declared -> None must not return a value."""
        with pytest.raises(CodecError) as exc:
            output_values(None, 3)
        assert error(exc) == (
            "expected None (the return hint is None), got 3 of type int; return nothing, "
            "or declare the return type"
        )

    def test_scalar(self) -> None:
        """A plain return is one output named return."""
        assert output_parameters(int) == (("return", int),)
        assert output_values(int, 3) == {"return": "3"}
        assert output_parameters(Optional[Metrics]) == (("return", Optional[Metrics]),)  # noqa: UP045

    def test_dataclass(self) -> None:
        """A structured return adds one output per field, after return."""
        assert output_parameters(Metrics) == (
            ("return", Metrics),
            ("model", str),
            ("accuracy", float),
        )
        assert output_values(Metrics, Metrics("m", 0.5)) == {
            "return": '{"model":"m","accuracy":0.5}',
            "model": "m",
            "accuracy": "0.5",
        }

    def test_namedtuple_attrs_typeddict(self) -> None:
        """NamedTuple, attrs and TypedDict returns add their fields too."""
        assert output_parameters(Point) == (("return", Point), ("x", int), ("y", int))
        assert output_values(Point, Point(1, 2)) == {"return": '{"x":1,"y":2}', "x": "1", "y": "2"}
        assert [n for n, _ in output_parameters(Job)] == ["return", "_secret", "steps", "retries"]
        assert output_values(Job, Job(1, [])) == {
            "return": '{"_secret":1,"steps":[],"retries":0}',
            "_secret": "1",
            "steps": "[]",
            "retries": "0",
        }
        assert output_parameters(Row) == (("return", Row), ("id", int), ("note", str | None))
        assert output_values(Row, {"id": 1}) == {"return": '{"id":1}', "id": "1", "note": "null"}

    def test_tuple(self) -> None:
        """A fixed tuple return adds return-0, return-1, ..."""
        assert output_parameters(tuple[int, Metrics]) == (
            ("return", tuple[int, Metrics]),
            ("return-0", int),
            ("return-1", Metrics),
        )
        assert output_values(tuple[int, str], (1, "null")) == {
            "return": '[1,"null"]',
            "return-0": "1",
            "return-1": "null",
        }

    def test_bad_field_names(self) -> None:
        """Fields that are not Argo parameter names, or shadow return, get no output."""
        assert output_parameters(Weird) == (("return", Weird), ("ok", int))
        assert output_values(Weird, {"ok": 1, "bad-name": 2, "return": 3}) == {
            "return": '{"ok":1,"bad-name":2,"return":3}',
            "ok": "1",
        }

    @given(runs)
    def test_outputs_agree(self, value: Run) -> None:
        """output_values writes exactly the outputs output_parameters declares, decodable."""
        declared = output_parameters(Run)
        texts = output_values(Run, value)
        assert list(texts) == [name for name, _ in declared]
        for name, hint in declared:
            decoded = codec_for(hint).decode(texts[name])
            expected = value if name == "return" else getattr(value, name)
            assert decoded == expected

    def test_wrong_return_value(self) -> None:
        """A return value of the wrong type is a CodecError."""
        with pytest.raises(CodecError) as exc:
            output_values(Metrics, {"model": "m"})
        assert error(exc) == "expected Metrics, got {'model': 'm'} of type dict"

    def test_unsupported_return(self) -> None:
        """An unsupported return hint is an AnnotationError."""
        with pytest.raises(AnnotationError, match=re.escape("type 'int | str'")):
            output_parameters(int | str)


# ----------------------------------------------------------------------------- imports


class TestImports:
    def test_light(self) -> None:
        """Importing flowdsl.types loads none of pydantic, attrs, hera, yaml."""
        heavy = ("pydantic", "attrs", "attr", "hera", "yaml")
        code = (
            f"import sys, flowdsl.types; print(','.join(m for m in {heavy!r} if m in sys.modules))"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert result.stdout.strip() == ""
