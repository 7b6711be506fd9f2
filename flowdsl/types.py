r"""The codec registry: how a Python type hint becomes an Argo parameter and its text.

Argo parameters are strings. Each supported type hint gets one :class:`Codec` (built once,
cached) that knows the Argo shape of the parameter (plain, or an ``enum`` of allowed texts)
and turns values into text and back. The same codecs run at compile time (defaults, enums),
in the CLI (``-p name=value`` is checked before anything is submitted) and inside the pod
(inputs are decoded, outputs encoded), so this module imports only the standard library,
``typing_extensions`` and :mod:`flowdsl.errors`. attrs classes are recognised by their
``__attrs_attrs__`` attribute and pydantic models only when pydantic is already imported (a
hint naming a pydantic model means the user's module imported it).

Encodings (the text of a top-level parameter):

=============================================  ==============  ================================
Python type                                    Argo parameter  text
=============================================  ==============  ================================
``str``                                        plain           as is
``int``, ``float``                             plain           decimal (``repr`` for float;
                                                               ``nan``/``inf`` allowed here)
``bool``                                       enum            ``true`` / ``false``
``Literal[...]``, ``enum.Enum``                enum            the value as text
``datetime``, ``date``                         plain           ISO 8601 (``Z`` accepted; a
                                                               zone becomes its UTC offset)
``list``, ``dict``, ``tuple``, ``set``,        plain           compact JSON
``frozenset``, dataclass, attrs class,
``NamedTuple``, ``TypedDict``, pydantic model
``Optional[T]``                                as ``T``        ``null`` for None (see below)
``bytes``, ``pathlib.Path``                    artifact        none: not a parameter
=============================================  ==============  ================================

Inside JSON every element uses its JSON form: str -> string, int/float -> number (finite
only), bool -> true/false, datetime/date -> ISO string, Enum/Literal -> the value, structured
classes -> object keyed by field name (NamedTuple too), tuple/set -> array (sets sorted by
their JSON text, so that the output is deterministic), None -> null. ``dict`` keys must be
``str``, ``int``, an ``Enum`` or a ``Literal``; they are written as their parameter text.

``Optional[T]`` writes None as ``null``. So that ``null`` stays distinct from a text that
happens to read ``null`` (``Optional[str]``), a text of ``T`` that is exactly ``null`` or
starts with ``"`` is written as a JSON string (``"null"``, ``"\"quoted\""``); decoding
reverses this. Other texts are written unchanged.

Lookup order of :func:`codec_for` (the first step that matches wins):

1. string / ``ForwardRef`` hints: rejected (resolve them with ``typing.get_type_hints``);
2. ``Annotated[T, ...]``: stripped, metadata ignored; ``NewType``: its supertype;
3. ``Optional[T]`` / ``T | None``; any other union is rejected;
4. ``Literal[...]`` (``None`` among the values makes it Optional);
5. ``enum.Enum`` subclasses (before ``int``/``str``, so ``IntEnum`` and ``StrEnum`` stay enums);
6. generic origins: ``list[T]``, ``dict[K, V]``, ``tuple[A, B]``, ``tuple[T, ...]``,
   ``set[T]``, ``frozenset[T]``;
7. exact types: ``str``, ``int``, ``float``, ``bool``, ``datetime``, ``date``, bare ``list``,
   ``dict``, ``tuple`` (any JSON value of that shape), ``bytes``, ``pathlib.Path``;
8. structured classes: dataclass, attrs class, ``NamedTuple``, ``TypedDict``, pydantic model;
9. MRO: subclasses of ``pathlib.PurePath`` are artifacts like ``Path``. Subclasses of the
   scalar types are deliberately not matched: decoding would silently return the base type;
10. anything else raises :class:`~flowdsl.errors.AnnotationError` naming the type and what
    is supported.

Self-referencing structured classes (a ``Tree`` with ``children: list[Tree]``) work: the
inner reference is resolved lazily once the outer codec is built.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import datetime as dt
import enum
import json
import math
import pathlib
import re
import sys
import types
import typing
from collections.abc import Callable, Iterator
from typing import Any, Final

import typing_extensions as te

from flowdsl.errors import AnnotationError, CodecError

__all__ = [
    "Codec",
    "Failure",
    "RunStatus",
    "codec_for",
    "comparison_kind",
    "decode_fan_in",
    "field_value",
    "output_parameters",
    "output_values",
    "structured_fields",
    "value_fix",
]

#: The status an exit handler receives (Argo's ``{{workflow.status}}``).
RunStatus = typing.Literal["Succeeded", "Failed", "Error"]


class Failure(te.TypedDict, total=False):
    """One failed node, as an exit handler receives it (Argo's ``{{workflow.failures}}``).

    The keys are Argo's own (camelCase): the JSON is passed through unchanged.
    """

    displayName: str
    message: str
    templateName: str
    phase: str
    podName: str
    finishedAt: str


def comparison_kind(annotation: Any) -> str | None:
    """How Argo's ``when`` compares values of this type: ``number``, ``string``, ``bool``.

    ``None`` for types a condition cannot compare (containers, structured values, dates,
    Optional, mixed Literals).
    """
    if annotation is bool:
        return "bool"
    if annotation in (int, float):
        return "number"
    if annotation is str:
        return "string"
    if typing.get_origin(annotation) is typing.Literal:
        kinds = {comparison_kind(type(v)) for v in typing.get_args(annotation)}
        return kinds.pop() if len(kinds) == 1 else None
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        kinds = {comparison_kind(type(m.value)) for m in annotation}
        return kinds.pop() if len(kinds) == 1 else None
    return None


def value_fix(codec: Codec) -> str:
    """The fix shown when a value does not fit a parameter: its type, and its enum if any."""
    allowed = f" (one of: {', '.join(codec.enum)})" if codec.enum else ""
    return f"pass a value of type {codec.type_name}{allowed}"


def decode_fan_in(codec: Codec, text: str) -> Any:
    """Decode ``text`` with ``codec``, also accepting Argo's aggregate of scalar loop outputs.

    NOTE: [Fan-in]
    Argo joins the outputs of a loop's items into one JSON list. For an output parameter
    (``aggregatedJsonValueList`` in its controller), when every output parses as a JSON
    object or array the list holds them as JSON, otherwise it holds each output's *text* as a
    string (``["1", "2"]`` for two int outputs). For ``outputs.result``, which is how a task's
    return value travels (``processAggregateNodeOutputs``), each item on its own is a JSON
    object if it parses as one and its text otherwise, so lists mix objects and strings (a
    ``list[int]`` result is the string ``"[1,2]"``). So a ``list[T]`` parameter fed by a map
    can receive its items as texts or objects; when strict decoding fails on such a list,
    each text, or each object written back as JSON, is decoded as a ``T`` parameter would be.
    The fallback only runs after a failure, and re-raises the original error if the items do
    not decode either.
    """
    try:
        return codec.decode(text)
    except CodecError as original:
        annotation = codec.annotation
        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
        if origin is not list or len(args) != 1:
            raise
        try:
            items = json.loads(text)
        except ValueError:
            raise original from None
        if not isinstance(items, list) or not all(isinstance(i, str | dict) for i in items):
            raise
        element = codec_for(args[0])
        try:
            return [
                element.decode(item if isinstance(item, str) else json.dumps(item))
                for item in items
            ]
        except CodecError:
            raise original from None


SUPPORTED: Final = (
    "str, int, float, bool, Literal, Enum, datetime, date, list, dict, tuple, dataclass, "
    "attrs class, NamedTuple, TypedDict, pydantic model, Optional"
)
_NULL: Final = "null"
_PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT_TEXT = re.compile(r"[-+]?[0-9]+")
_FLOAT_TEXT = re.compile(
    r"[-+]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|nan|inf|infinity)",
    re.IGNORECASE,
)
_SHOW_MAX = 80


# --------------------------------------------------------------------------- helpers


def _show(value: Any) -> str:
    """``repr`` of a value for an error message, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= _SHOW_MAX else text[: _SHOW_MAX - 3] + "..."


def _at(path: str) -> str:
    return f" at {path}" if path else ""


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _wrong_value(expected: str, path: str, value: Any) -> CodecError:
    """A Python (or decoded JSON) value is not of the expected type."""
    return CodecError(
        f"expected {expected}{_at(path)}, got {_show(value)} of type {type(value).__name__}"
    )


def _wrong_text(expected: str, text: str, fix: str) -> CodecError:
    """A parameter text does not parse as the expected type."""
    return CodecError(f"expected {expected}, got {_show(text)}", fix=fix)


def _dumps(obj: Any) -> str:
    # Compact and deterministic; allow_nan=False is a backstop: to_json already rejects them.
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _loads(text: str, expected: str) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:  # JSONDecodeError is a ValueError
        raise CodecError(
            f"expected {expected} as JSON, got {_show(text)} ({exc})",
            fix="write the value as JSON",
        ) from None


def describe(annotation: Any) -> str:
    """A readable name of any type hint, supported or not (used in messages).

    Args:
        annotation: a type hint.

    Returns:
        e.g. ``int``, ``list[dict]``, ``int | str``, ``Literal['a', 'b']``, ``Any``.
    """
    if annotation is None or annotation is type(None):
        return "None"
    if annotation is Ellipsis:
        return "..."
    if isinstance(annotation, list):  # the parameters of Callable[[A, B], R]
        return f"[{', '.join(describe(arg) for arg in annotation)}]"
    if isinstance(annotation, str):
        return annotation
    if isinstance(annotation, typing.ForwardRef):
        return annotation.__forward_arg__
    origin = te.get_origin(annotation)
    args = te.get_args(annotation)
    if origin is te.Annotated:
        return describe(args[0])
    if origin is typing.Union or origin is types.UnionType:
        return " | ".join(describe(arg) for arg in args)
    if origin is te.Literal:
        return f"Literal[{', '.join(_show_literal(arg) for arg in args)}]"
    if origin is not None:
        base = getattr(origin, "__name__", None) or describe(origin)
        if origin is tuple and not args and annotation is not typing.Tuple:  # noqa: UP006
            return "tuple[()]"
        if not args:
            return str(base)
        shown = ", ".join(describe(arg) for arg in args)
        return f"{base}[{shown}]"
    if annotation is typing.Any:
        return "Any"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "").replace("typing_extensions.", "")


def _show_literal(value: Any) -> str:
    if isinstance(value, enum.Enum):
        return f"{type(value).__name__}.{value.name}"
    return repr(value)


def _unsupported(annotation: Any, fix: str = "pick one type or use str") -> AnnotationError:
    return AnnotationError(
        f"type '{describe(annotation)}' is not supported (use one of: {SUPPORTED})", fix=fix
    )


# --------------------------------------------------------------------------- implementations
#
# A Codec is a frozen record of what callers read (name, enum, flags) plus one private _Impl
# that does the work. Every _Impl method that converts also validates: to_json(value) is the
# single place where a value is checked, so validate/encode/to_json cannot disagree.


class _Impl:
    """How one kind of type converts; subclasses override what differs."""

    name: str = ""

    def validate(self, value: Any, path: str) -> None:
        self.to_json(value, path)

    def to_json(self, value: Any, path: str) -> Any:
        raise NotImplementedError

    def from_json(self, obj: Any, path: str) -> Any:
        raise NotImplementedError

    def encode(self, value: Any) -> str:
        return _dumps(self.to_json(value, ""))

    def decode(self, text: str) -> Any:
        return self.from_json(_loads(text, self.name), "")

    def fields(self) -> tuple[tuple[str, Any], ...] | None:
        return None


class _StrImpl(_Impl):
    name = "str"

    def to_json(self, value: Any, path: str) -> Any:
        if not isinstance(value, str):
            raise _wrong_value("str", path, value)
        # str.__str__ turns a str subclass (a `str, Enum` member) into its plain text.
        return str.__str__(value)

    def from_json(self, obj: Any, path: str) -> Any:
        return self.to_json(obj, path)

    def encode(self, value: Any) -> str:
        text: str = self.to_json(value, "")
        return text

    def decode(self, text: str) -> Any:
        return text


class _IntImpl(_Impl):
    name = "int"

    def to_json(self, value: Any, path: str) -> Any:
        # bool is an int subclass, but True for an int parameter is a mistake.
        if not isinstance(value, int) or isinstance(value, bool):
            raise _wrong_value("int", path, value)
        return int(value)

    def from_json(self, obj: Any, path: str) -> Any:
        return self.to_json(obj, path)

    def encode(self, value: Any) -> str:
        return str(self.to_json(value, ""))

    def decode(self, text: str) -> Any:
        if _INT_TEXT.fullmatch(text):
            try:
                return int(text)
            except ValueError:  # more digits than int() accepts
                pass
        raise _wrong_text("int", text, "write a whole number such as 42")


class _FloatImpl(_Impl):
    name = "float"

    def _check(self, value: Any, path: str) -> float:
        # An int is accepted where a float is expected (PEP 484's numeric tower).
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise _wrong_value("float", path, value)
        try:
            return float(value)
        except OverflowError:
            raise _wrong_value("float", path, value) from None

    def validate(self, value: Any, path: str) -> None:
        # A top-level parameter may be nan or inf (its text is repr); only JSON forbids them.
        self._check(value, path)

    def to_json(self, value: Any, path: str) -> Any:
        number = self._check(value, path)
        if not math.isfinite(number):
            raise CodecError(
                f"expected a finite float{_at(path)}, got {number!r}",
                fix="JSON has no NaN or infinity; use Optional[float] and None for a missing value",
            )
        return number

    def from_json(self, obj: Any, path: str) -> Any:
        return self.to_json(obj, path)

    def encode(self, value: Any) -> str:
        return repr(self._check(value, ""))

    def decode(self, text: str) -> Any:
        if _FLOAT_TEXT.fullmatch(text):
            return float(text)
        raise _wrong_text("float", text, "write a decimal number such as 0.5")


class _BoolImpl(_Impl):
    name = "bool"

    def to_json(self, value: Any, path: str) -> Any:
        if not isinstance(value, bool):
            raise _wrong_value("bool", path, value)
        return value

    def from_json(self, obj: Any, path: str) -> Any:
        return self.to_json(obj, path)

    def encode(self, value: Any) -> str:
        return "true" if self.to_json(value, "") else "false"

    def decode(self, text: str) -> Any:
        if text == "true":
            return True
        if text == "false":
            return False
        raise _wrong_text("bool", text, "write true or false")


class _IsoImpl(_Impl):
    """Dates and times: an ISO 8601 string, in JSON and as parameter text alike."""

    def from_json(self, obj: Any, path: str) -> Any:
        what = f"{self.name} (an ISO 8601 string)"
        if not isinstance(obj, str):
            raise _wrong_value(what, path, obj)
        try:
            return self._parse(obj)
        except CodecError:
            raise _wrong_value(what, path, obj) from None

    def encode(self, value: Any) -> str:
        text: str = self.to_json(value, "")
        return text

    def decode(self, text: str) -> Any:
        return self._parse(text)

    @staticmethod
    def _parse(text: str) -> Any:
        raise NotImplementedError


class _DateTimeImpl(_IsoImpl):
    name = "datetime"

    def to_json(self, value: Any, path: str) -> Any:
        if not isinstance(value, dt.datetime):
            raise _wrong_value("datetime", path, value)
        return value.isoformat()

    @staticmethod
    def _parse(text: str) -> dt.datetime:
        # Python 3.10's fromisoformat does not read a trailing Z; Argo and most tools write it.
        iso = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
        try:
            return dt.datetime.fromisoformat(iso)
        except ValueError:
            raise _wrong_text(
                "datetime",
                text,
                "write an ISO 8601 date-time such as 2024-05-01T12:00:00+00:00",
            ) from None


class _DateImpl(_IsoImpl):
    name = "date"

    def to_json(self, value: Any, path: str) -> Any:
        # datetime is a date subclass; passing one where a date is declared loses the time.
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            raise _wrong_value("date", path, value)
        return value.isoformat()

    @staticmethod
    def _parse(text: str) -> dt.date:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise _wrong_text("date", text, "write an ISO 8601 date such as 2024-05-01") from None


class _ChoiceImpl(_Impl):
    """``Literal[...]`` and ``enum.Enum``: a closed set of values, each with one text."""

    def __init__(self, name: str, values: tuple[Any, ...], enum_cls: type[enum.Enum] | None):
        self.name = name
        self.values = values
        self.enum_cls = enum_cls
        self.texts = tuple(_choice_text(v) for v in values)
        self.by_text = dict(zip(self.texts, values, strict=True))
        self.jsons = tuple(_choice_json(v) for v in values)

    def _index(self, value: Any, path: str) -> int:
        for i, candidate in enumerate(self.values):
            if isinstance(candidate, enum.Enum):
                if value is candidate:
                    return i
            # Compare types too: True == 1, but True is not Literal[1].
            elif type(value) is type(candidate) and value == candidate:
                return i
        raise _wrong_value(self.name, path, value)

    def to_json(self, value: Any, path: str) -> Any:
        return self.jsons[self._index(value, path)]

    def from_json(self, obj: Any, path: str) -> Any:
        for candidate, json_form in zip(self.values, self.jsons, strict=True):
            if type(obj) is type(json_form) and obj == json_form:
                return candidate
        raise CodecError(
            f"expected {self.name}{_at(path)}, got {_show(obj)}",
            fix=f"use one of: {self._choices()}",
        )

    def encode(self, value: Any) -> str:
        return self.texts[self._index(value, "")]

    def decode(self, text: str) -> Any:
        if text in self.by_text:
            return self.by_text[text]
        raise _wrong_text(self.name, text, f"use one of: {self._choices()}")

    def _choices(self) -> str:
        return ", ".join(repr(t) for t in self.texts)


def _choice_json(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _choice_text(value: Any) -> str:
    raw = _choice_json(value)
    if isinstance(raw, bool):
        return "true" if raw else "false"
    return str(raw)


class _OptionalImpl(_Impl):
    def __init__(self, inner: Codec) -> None:
        self.inner = inner
        self.name = f"Optional[{inner.type_name}]"

    def validate(self, value: Any, path: str) -> None:
        if value is not None:
            self.inner._impl.validate(value, path)

    def to_json(self, value: Any, path: str) -> Any:
        return None if value is None else self.inner._impl.to_json(value, path)

    def from_json(self, obj: Any, path: str) -> Any:
        return None if obj is None else self.inner._impl.from_json(obj, path)

    def encode(self, value: Any) -> str:
        if value is None:
            return _NULL
        return _escape(self.inner._impl.encode(value))

    def decode(self, text: str) -> Any:
        if text == _NULL:
            return None
        if text.startswith('"'):
            try:
                unquoted = json.loads(text)
            except ValueError:
                unquoted = None
            if not isinstance(unquoted, str):
                raise _wrong_text(
                    self.name,
                    text,
                    f"a text starting with '\"' is read as a JSON string; write {_dumps(text)} "
                    "for this text as is",
                )
            text = unquoted
        return self.inner._impl.decode(text)


def _escape(text: str) -> str:
    """Quote the texts of an Optional's inner type that would read as null or as quoted."""
    return _dumps(text) if text == _NULL or text.startswith('"') else text


class _JsonImpl(_Impl):
    """Bare ``list``, ``dict``, ``tuple``: any JSON value of that shape."""

    def __init__(self, shape: type) -> None:
        self.shape = shape
        self.name = shape.__name__

    def to_json(self, value: Any, path: str) -> Any:
        if not isinstance(value, self.shape):
            raise _wrong_value(self.name, path, value)
        return _plain_json(list(value) if isinstance(value, tuple) else value, path)

    def from_json(self, obj: Any, path: str) -> Any:
        expected = dict if self.shape is dict else list
        if not isinstance(obj, expected):
            raise _wrong_value(self.name, path, obj)
        return tuple(obj) if self.shape is tuple else obj


def _plain_json(value: Any, path: str) -> Any:
    """Check that an untyped value is JSON (str/int/float/bool/None, list, dict[str, ...])."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CodecError(
                f"expected a finite float{_at(path)}, got {value!r}",
                fix="JSON has no NaN or infinity; use None for a missing value",
            )
        return value
    if isinstance(value, list):
        return [_plain_json(item, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _wrong_value(f"a str key{_at(path)}", "", key)
            out[key] = _plain_json(item, f"{path}[{key!r}]")
        return out
    raise _wrong_value("a JSON value (str, int, float, bool, None, list, dict)", path, value)


class _ListImpl(_Impl):
    def __init__(self, item: Codec) -> None:
        self.item = item
        self.name = f"list[{item.type_name}]"

    def to_json(self, value: Any, path: str) -> Any:
        if not isinstance(value, list):
            raise _wrong_value(self.name, path, value)
        impl = self.item._impl
        return [impl.to_json(item, f"{path}[{i}]") for i, item in enumerate(value)]

    def from_json(self, obj: Any, path: str) -> Any:
        if not isinstance(obj, list):
            raise _wrong_value(self.name, path, obj)
        impl = self.item._impl
        return [impl.from_json(item, f"{path}[{i}]") for i, item in enumerate(obj)]


class _SetImpl(_Impl):
    def __init__(self, shape: type, item: Codec) -> None:
        self.shape = shape
        self.item = item
        self.name = f"{shape.__name__}[{item.type_name}]"

    def to_json(self, value: Any, path: str) -> Any:
        if not isinstance(value, (set, frozenset)):
            raise _wrong_value(self.name, path, value)
        impl = self.item._impl
        items = [impl.to_json(item, f"{path}[{i}]") for i, item in enumerate(value)]
        # Set iteration order varies between runs (str hashing); sort by JSON text.
        return sorted(items, key=_dumps)

    def from_json(self, obj: Any, path: str) -> Any:
        if not isinstance(obj, list):
            raise _wrong_value(self.name, path, obj)
        impl = self.item._impl
        return self.shape(impl.from_json(item, f"{path}[{i}]") for i, item in enumerate(obj))


class _DictImpl(_Impl):
    def __init__(self, key: Codec, value: Codec) -> None:
        self.key = key
        self.value = value
        self.name = f"dict[{key.type_name}, {value.type_name}]"

    def to_json(self, value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            raise _wrong_value(self.name, path, value)
        out = {}
        for key, item in value.items():
            try:
                text = self.key._impl.encode(key)
            except CodecError:
                raise _wrong_value(f"{self.key.type_name} key", path, key) from None
            out[text] = self.value._impl.to_json(item, f"{path}[{text!r}]")
        return out

    def from_json(self, obj: Any, path: str) -> Any:
        if not isinstance(obj, dict):
            raise _wrong_value(self.name, path, obj)
        out = {}
        for text, item in obj.items():
            try:
                key = self.key._impl.decode(text)
            except CodecError:
                raise _wrong_value(f"{self.key.type_name} key", path, text) from None
            out[key] = self.value._impl.from_json(item, f"{path}[{text!r}]")
        return out


class _TupleImpl(_Impl):
    """``tuple[A, B]`` (fixed) and ``tuple[T, ...]`` (variadic, ``items`` has one codec)."""

    def __init__(self, items: tuple[Codec, ...], hints: tuple[Any, ...], variadic: bool) -> None:
        self.items = items
        self.hints = hints
        self.variadic = variadic
        if variadic:
            self.name = f"tuple[{items[0].type_name}, ...]"
        else:
            self.name = f"tuple[{', '.join(c.type_name for c in items) or '()'}]"

    def _codecs(self, value: Any, path: str) -> tuple[Codec, ...]:
        if self.variadic:
            return (self.items[0],) * len(value)
        if len(value) != len(self.items):
            raise CodecError(
                f"expected {self.name}{_at(path)} ({len(self.items)} items), "
                f"got {_show(value)} ({len(value)} items)"
            )
        return self.items

    def to_json(self, value: Any, path: str) -> Any:
        if not isinstance(value, tuple):
            raise _wrong_value(self.name, path, value)
        codecs = self._codecs(value, path)
        return [
            c._impl.to_json(v, f"{path}[{i}]")
            for i, (c, v) in enumerate(zip(codecs, value, strict=True))
        ]

    def from_json(self, obj: Any, path: str) -> Any:
        if not isinstance(obj, list):
            raise _wrong_value(self.name, path, obj)
        codecs = self._codecs(obj, path)
        return tuple(
            c._impl.from_json(v, f"{path}[{i}]")
            for i, (c, v) in enumerate(zip(codecs, obj, strict=True))
        )

    def fields(self) -> tuple[tuple[str, Any], ...] | None:
        if self.variadic:
            return None
        return tuple((str(i), hint) for i, hint in enumerate(self.hints))


@dataclasses.dataclass(frozen=True, slots=True)
class _Field:
    """One field of a structured class.

    name: the attribute (and JSON key); arg: the constructor keyword (attrs strips a leading
    underscore; pydantic may use an alias); hint: the resolved hint as written (Annotated
    kept); codec: its codec; required: must be present when decoding; may_be_absent: a
    TypedDict ``NotRequired`` key, which a value may lack.
    """

    name: str
    arg: str
    hint: Any
    codec: Codec
    required: bool
    may_be_absent: bool = False


class _StructImpl(_Impl):
    """dataclass, attrs class, NamedTuple, TypedDict and pydantic model: a JSON object."""

    def __init__(
        self,
        cls: type,
        fields: tuple[_Field, ...],
        build: Callable[[dict[str, Any]], Any],
        is_mapping: bool,
    ) -> None:
        self.cls = cls
        self.name = cls.__name__
        self.field_list = fields
        self.build = build
        self.is_mapping = is_mapping
        self.names = frozenset(f.name for f in fields)

    def to_json(self, value: Any, path: str) -> Any:
        if self.is_mapping:
            if not isinstance(value, dict):
                raise _wrong_value(self.name, path, value)
            self._check_keys(value, path)
        elif not isinstance(value, self.cls):
            raise _wrong_value(self.name, path, value)
        out = {}
        for f in self.field_list:
            if self.is_mapping:
                if f.name not in value:
                    continue
                item = value[f.name]
            else:
                item = getattr(value, f.name)
            out[f.name] = f.codec._impl.to_json(item, _child(path, f.name))
        return out

    def _check_keys(self, obj: dict[Any, Any], path: str) -> None:
        for key in obj:
            if key not in self.names:
                raise CodecError(
                    f"expected {self.name}{_at(path)}, got {_show(obj)} (unknown field {key!r})"
                )
        for f in self.field_list:
            if f.required and f.name not in obj:
                raise CodecError(
                    f"expected {self.name}{_at(path)}, got {_show(obj)} (missing field {f.name!r})"
                )

    def from_json(self, obj: Any, path: str) -> Any:
        if not isinstance(obj, dict):
            raise _wrong_value(self.name, path, obj)
        self._check_keys(obj, path)
        kwargs = {
            f.arg: f.codec._impl.from_json(obj[f.name], _child(path, f.name))
            for f in self.field_list
            if f.name in obj
        }
        if self.is_mapping:
            return kwargs
        try:
            return self.build(kwargs)
        except Exception as exc:  # the user's __post_init__ / validators reject the value
            raise CodecError(
                f"cannot build {self.name}{_at(path)} from {_show(obj)}: {exc}"
            ) from exc

    def fields(self) -> tuple[tuple[str, Any], ...] | None:
        return tuple(
            (f.name, f.hint | None if f.may_be_absent else f.hint) for f in self.field_list
        )


class _ArtifactImpl(_Impl):
    def __init__(self, name: str, check: tuple[type, ...]) -> None:
        self.name = name
        self.check = check

    def _refuse(self) -> CodecError:
        return CodecError(
            f"{self.name} values are Argo artifacts and are not supported as parameters",
            fix="pass them as files (artifacts), or use a parameter type such as str",
        )

    def validate(self, value: Any, path: str) -> None:
        if not isinstance(value, self.check):
            raise _wrong_value(self.name, path, value)

    def to_json(self, value: Any, path: str) -> Any:
        raise self._refuse()

    def from_json(self, obj: Any, path: str) -> Any:
        raise self._refuse()

    def encode(self, value: Any) -> str:
        raise self._refuse()

    def decode(self, text: str) -> Any:
        raise self._refuse()


class _DeferredImpl(_Impl):
    """A self-reference met while its class is still being built: resolved on first use."""

    def __init__(self, annotation: Any, name: str) -> None:
        self.annotation = annotation
        self.name = name

    def _target(self) -> _Impl:
        return codec_for(self.annotation)._impl

    def validate(self, value: Any, path: str) -> None:
        self._target().validate(value, path)

    def to_json(self, value: Any, path: str) -> Any:
        return self._target().to_json(value, path)

    def from_json(self, obj: Any, path: str) -> Any:
        return self._target().from_json(obj, path)

    def encode(self, value: Any) -> str:
        return self._target().encode(value)

    def decode(self, text: str) -> Any:
        return self._target().decode(text)

    def fields(self) -> tuple[tuple[str, Any], ...] | None:
        return self._target().fields()


# --------------------------------------------------------------------------- the Codec


@dataclasses.dataclass(frozen=True, slots=True, eq=False)
class Codec:
    """How values of one type hint become Argo parameter text, and back.

    Get one with :func:`codec_for`; codecs are cached, one per annotation. Every method that
    converts also validates, and raises :class:`~flowdsl.errors.CodecError` with the expected
    type and the value it got.

    Attributes:
        annotation: the type hint, with ``Annotated`` stripped.
        type_name: a readable name: ``int``, ``list[dict]``, ``Literal['a', 'b']``,
            ``Metrics``, ``Optional[int]``.
        enum: the allowed texts (Argo ``enum``) in declaration order, or None if any text of
            the type is allowed.
        is_artifact: the type travels as an Argo artifact (``bytes``, ``pathlib.Path``), not as
            a parameter; encoding and decoding raise.
        optional: the type accepts None (written ``null``).
    """

    annotation: Any
    type_name: str
    enum: tuple[str, ...] | None
    is_artifact: bool
    optional: bool
    _impl: _Impl = dataclasses.field(repr=False)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Codec):
            return NotImplemented
        # type_name too: Literal['a', 'b'] == Literal['b', 'a'], but their enums differ.
        return self.type_name == other.type_name and bool(self.annotation == other.annotation)

    def __hash__(self) -> int:
        return hash(self.type_name)

    def encode(self, value: Any) -> str:
        """Validate a value and return its parameter text.

        Args:
            value: a Python value of this codec's type.

        Returns:
            The text Argo carries for it.

        Raises:
            CodecError: the value is not of this type, or the type is an artifact.
        """
        return self._impl.encode(value)

    def decode(self, text: str) -> Any:
        """Parse a parameter text back into a Python value.

        Args:
            text: the text of an Argo parameter.

        Returns:
            The Python value, of this codec's type.

        Raises:
            CodecError: the text does not parse as this type, e.g. ``expected int, got 'abc'``.
        """
        if not isinstance(text, str):
            raise _wrong_value(f"the text of a {self.type_name} parameter", "", text)
        return self._impl.decode(text)

    def validate(self, value: Any) -> None:
        """Check that a Python value is acceptable for this type, without encoding it.

        ``True`` is not an ``int``, ``"3"`` is not an ``int``, an ``int`` is a ``float``.

        Args:
            value: the value to check.

        Raises:
            CodecError: the value is not of this type.
        """
        self._impl.validate(value, "")

    def to_json(self, value: Any) -> Any:
        """Validate a value and return its JSON form (its form inside a container).

        Args:
            value: a Python value of this codec's type.

        Returns:
            A value ``json.dumps`` accepts: str, int, float, bool, None, list or dict.

        Raises:
            CodecError: the value is not of this type (or is a non-finite float).
        """
        return self._impl.to_json(value, "")

    def from_json(self, obj: Any) -> Any:
        """Turn a JSON form (as ``json.loads`` returns it) back into a Python value.

        Args:
            obj: the JSON form.

        Returns:
            The Python value, of this codec's type.

        Raises:
            CodecError: the JSON form does not match this type.
        """
        return self._impl.from_json(obj, "")


# --------------------------------------------------------------------------- the registry

# Keyed by (annotation, repr): typing compares Literal values as a set, so
# Literal['a', 'b'] == Literal['b', 'a'] (even nested in list[...]), yet the Argo enum order
# is the declaration order.
_CACHE: dict[tuple[Any, str], Codec] = {}
# Structured classes whose codec is being built right now (for self-references).
_BUILDING: set[Any] = set()

_SCALARS: Final[dict[Any, _Impl]] = {
    str: _StrImpl(),
    int: _IntImpl(),
    float: _FloatImpl(),
    bool: _BoolImpl(),
    dt.datetime: _DateTimeImpl(),
    dt.date: _DateImpl(),
}
_TEXT_KEYS: Final = (str, int)


def _strip(annotation: Any) -> Any:
    """Remove ``Annotated`` layers and ``NewType`` wrappers (step 2 of the lookup)."""
    while True:
        if te.get_origin(annotation) is te.Annotated:
            annotation = annotation.__origin__
        elif isinstance(annotation, typing.NewType):
            annotation = annotation.__supertype__
        else:
            return annotation


def codec_for(annotation: Any) -> Codec:
    """The codec of a type hint (cached: one per annotation).

    The lookup order is described in the module docstring.

    Args:
        annotation: a resolved type hint (not a string).

    Returns:
        The codec for the hint, ``Annotated`` stripped.

    Raises:
        AnnotationError: the hint is not supported; the message names the type and lists what
            is supported (the caller adds the flow, task and parameter).
    """
    annotation = _strip(annotation)
    try:
        key = (annotation, repr(annotation))
        cached = _CACHE.get(key)
    except TypeError:  # unhashable metadata somewhere inside: build without caching
        return _build(annotation)
    if cached is not None:
        return cached
    if annotation in _BUILDING:
        return Codec(
            annotation, describe(annotation), None, False, False,
            _DeferredImpl(annotation, describe(annotation)),
        )  # fmt: skip
    codec = _build(annotation)
    _CACHE[key] = codec
    return codec


def _make(annotation: Any, impl: _Impl, enum_texts: tuple[str, ...] | None = None) -> Codec:
    return Codec(annotation, impl.name, enum_texts, False, False, impl)


def _json_child(annotation: Any, container: Any) -> Codec:
    """The codec of a type nested in a JSON container; artifacts cannot be nested."""
    codec = codec_for(annotation)
    if codec.is_artifact:
        raise AnnotationError(
            f"type '{describe(container)}' is not supported: {codec.type_name} is an Argo "
            "artifact and cannot be written inside JSON",
            fix="return the artifact on its own, or store a path or URL (str) instead",
        )
    return codec


def _build(annotation: Any) -> Codec:
    if annotation is None or annotation is type(None):
        raise _unsupported(
            annotation,
            fix="None alone is only allowed as a return type; use Optional[T] for a value "
            "that may be missing",
        )
    if isinstance(annotation, (str, typing.ForwardRef)):
        raise AnnotationError(
            f"type hint '{describe(annotation)}' is a string, not a type",
            fix="resolve it first with typing.get_type_hints(), or define the type before use",
        )
    origin = te.get_origin(annotation)
    args = te.get_args(annotation)

    # 3. unions
    if origin is typing.Union or origin is types.UnionType:
        members = [a for a in args if a is not type(None)]
        if len(members) == 1 and len(members) < len(args):
            return _optional(annotation, codec_for(members[0]))
        raise _unsupported(annotation)

    # 4. Literal
    if origin is te.Literal:
        return _literal(annotation, args)

    # 5. Enum
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return _enum(annotation)

    # 6. generic origins
    if origin is not None:
        return _generic(annotation, origin, args)

    # 7. exact types
    if annotation in _SCALARS:
        impl = _SCALARS[annotation]
        return _make(annotation, impl, ("true", "false") if annotation is bool else None)
    if annotation in (list, dict, tuple):
        return _make(annotation, _JsonImpl(annotation))
    if annotation in (set, frozenset):
        raise AnnotationError(
            f"type '{annotation.__name__}' needs its element type",
            fix=f"write {annotation.__name__}[str] (or the element type you need)",
        )
    if annotation is bytes:
        return Codec(annotation, "bytes", None, True, False, _ArtifactImpl("bytes", (bytes,)))

    # 8. structured classes
    if isinstance(annotation, type):
        struct = _structured(annotation)
        if struct is not None:
            return struct
        # 9. MRO: paths are artifacts whatever their concrete class.
        if issubclass(annotation, pathlib.PurePath):
            impl = _ArtifactImpl(annotation.__name__, (pathlib.PurePath, str))
            return Codec(annotation, annotation.__name__, None, True, False, impl)

    # 10. loud failure
    if annotation is typing.Any or annotation is object:
        raise _unsupported(annotation, fix="name the concrete type (dict for any JSON object)")
    if isinstance(annotation, typing.TypeVar):
        raise _unsupported(annotation, fix="replace the type variable with a concrete type")
    if isinstance(annotation, type):
        name = annotation.__name__
        raise _unsupported(
            annotation,
            fix=f"make '{name}' a dataclass, attrs class, NamedTuple, TypedDict or pydantic "
            "model, or use a supported type",
        )
    raise _unsupported(annotation)


def _optional(annotation: Any, inner: Codec) -> Codec:
    if inner.is_artifact:
        raise _unsupported(
            annotation, fix="artifacts cannot be Optional; use a plain bytes or Path"
        )
    impl = _OptionalImpl(inner)
    texts = None if inner.enum is None else (*(_escape(t) for t in inner.enum), _NULL)
    return Codec(annotation, impl.name, texts, False, True, impl)


def _literal(annotation: Any, values: tuple[Any, ...]) -> Codec:
    kept = tuple(v for v in values if v is not None)
    if len(kept) < len(values):
        # Literal['a', None] means Optional[Literal['a']].
        if not kept:
            raise _unsupported(annotation, fix="use Optional[T] for a value that may be None")
        return _optional(annotation, codec_for(te.Literal[kept]))
    for v in kept:
        raw = _choice_json(v)
        if not isinstance(raw, (str, int)) or (isinstance(v, enum.Enum) and isinstance(raw, bool)):
            raise AnnotationError(
                f"Literal value {_show_literal(v)} is not supported",
                fix="use str, int or bool values, or Enum members with str or int values",
            )
    name = describe(annotation)
    return _make(annotation, _choice(name, kept, None, annotation), _distinct_texts(kept, name))


def _distinct_texts(values: tuple[Any, ...], name: str) -> tuple[str, ...]:
    seen: dict[str, Any] = {}
    for v in values:
        text = _choice_text(v)
        if text in seen:
            raise AnnotationError(
                f"{name} has two values with the same text {text!r}: "
                f"{_show_literal(seen[text])} and {_show_literal(v)}",
                fix="use values whose texts differ",
            )
        seen[text] = v
    return tuple(seen)


def _choice(
    name: str, values: tuple[Any, ...], enum_cls: type[enum.Enum] | None, annotation: Any
) -> _ChoiceImpl:
    if not values:
        raise AnnotationError(
            f"type '{describe(annotation)}' has no values", fix="declare at least one value"
        )
    return _ChoiceImpl(name, values, enum_cls)


def _enum(cls: type[enum.Enum]) -> Codec:
    members = tuple(cls)
    for member in members:
        if not isinstance(member.value, (str, int)) or isinstance(member.value, bool):
            raise AnnotationError(
                f"Enum '{cls.__name__}' member {member.name} has value {_show(member.value)} "
                f"of type {type(member.value).__name__}, which cannot be a parameter",
                fix="give the members str or int values",
            )
    texts = _distinct_texts(members, cls.__name__)
    return _make(cls, _choice(cls.__name__, members, cls, cls), texts)


def _generic(annotation: Any, origin: Any, args: tuple[Any, ...]) -> Codec:
    if origin is list or origin is set or origin is frozenset:
        if not args:  # typing.List, typing.Set without arguments
            return codec_for(origin)
        item = _json_child(args[0], annotation)
        impl: _Impl = _ListImpl(item) if origin is list else _SetImpl(origin, item)
        return _make(annotation, impl)
    if origin is dict:
        if not args:
            return codec_for(dict)
        key = codec_for(args[0])
        key_ok = key.annotation in _TEXT_KEYS or isinstance(key._impl, _ChoiceImpl)
        if not key_ok:
            raise AnnotationError(
                f"dict keys of type '{key.type_name}' are not supported "
                "(use str, int, Enum or Literal keys)",
                fix="use str keys",
            )
        return _make(annotation, _DictImpl(key, _json_child(args[1], annotation)))
    if origin is tuple:
        if annotation is typing.Tuple:  # noqa: UP006 - the bare typing alias, same as tuple
            return codec_for(tuple)
        if len(args) == 2 and args[1] is Ellipsis:
            item = _json_child(args[0], annotation)
            return _make(annotation, _TupleImpl((item,), args[:1], True))
        items = tuple(_json_child(a, annotation) for a in args)
        return _make(annotation, _TupleImpl(items, args, False))
    if origin is collections.abc.Callable:
        raise _unsupported(annotation, fix="pass data, not functions: a task receives values")
    raise _unsupported(annotation)


# --------------------------------------------------------------------------- structured classes


def _is_attrs(cls: type) -> bool:
    return hasattr(cls, "__attrs_attrs__")


def _is_pydantic(cls: type) -> bool:
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and issubclass(cls, pydantic.BaseModel)


def _is_namedtuple(cls: type) -> bool:
    return issubclass(cls, tuple) and hasattr(cls, "_fields")


def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls, include_extras=True)
    except Exception as exc:  # NameError for an undefined forward reference, mostly
        raise AnnotationError(
            f"cannot resolve the type hints of '{cls.__name__}': {exc}",
            fix="define every type its fields name at module level",
        ) from exc


def _structured(cls: type) -> Codec | None:
    """Build the codec of a structured class, or None if ``cls`` is not one."""
    if not (
        dataclasses.is_dataclass(cls)
        or _is_attrs(cls)
        or _is_namedtuple(cls)
        or te.is_typeddict(cls)
        or _is_pydantic(cls)
    ):
        return None
    _BUILDING.add(cls)
    try:
        fields, build, is_mapping = _struct_fields(cls)
    finally:
        _BUILDING.discard(cls)
    return _make(cls, _StructImpl(cls, fields, build, is_mapping))


def _field(cls: type, name: str, arg: str, hint: Any, required: bool) -> _Field:
    return _Field(name, arg, hint, _json_child(hint, cls), required)


def _struct_fields(
    cls: type,
) -> tuple[tuple[_Field, ...], Callable[[dict[str, Any]], Any], bool]:
    if dataclasses.is_dataclass(cls):
        hints = _hints(cls)
        fields = tuple(
            _field(
                cls,
                f.name,
                f.name,
                hints.get(f.name, f.type),
                f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
            )
            for f in dataclasses.fields(cls)
            if f.init  # a field the constructor does not take cannot be decoded
        )
        return fields, lambda kwargs: cls(**kwargs), False

    if _is_attrs(cls):
        hints = _hints(cls)
        built = []
        for a in cls.__attrs_attrs__:  # type: ignore[attr-defined]
            if not a.init:
                continue
            hint = hints.get(a.name, a.type)
            if hint is None:
                raise AnnotationError(
                    f"field '{a.name}' of '{cls.__name__}' has no type hint",
                    fix="annotate it (x: int = attrs.field()) or pass type= to attrs.field",
                )
            arg = getattr(a, "alias", None) or a.name.lstrip("_")
            import attr  # an attrs class exists, so attrs is already imported

            built.append(_field(cls, a.name, arg, hint, a.default is attr.NOTHING))
        return tuple(built), lambda kwargs: cls(**kwargs), False

    if _is_namedtuple(cls):
        hints = _hints(cls)
        defaults = getattr(cls, "_field_defaults", {})
        fields = tuple(
            _field(cls, name, name, hints.get(name, typing.Any), name not in defaults)
            for name in cls._fields  # type: ignore[attr-defined]
        )
        return fields, lambda kwargs: cls(**kwargs), False

    if te.is_typeddict(cls):
        hints = _hints(cls)
        required_keys = getattr(cls, "__required_keys__", frozenset(hints))
        built = []
        for name, raw in hints.items():
            hint = _strip_qualifiers(raw)
            # Under `from __future__ import annotations` the class cannot see NotRequired in
            # its string hints (__required_keys__ is then wrong); the resolved hint can.
            required = _qualifier(raw, name in required_keys)
            f = _field(cls, name, name, hint, required)
            built.append(dataclasses.replace(f, may_be_absent=not required))
        return tuple(built), dict, True

    # pydantic (v2): FieldInfo.annotation is already resolved by pydantic.
    model_fields = getattr(cls, "model_fields", None)
    if not isinstance(model_fields, dict):
        raise AnnotationError(
            f"pydantic model '{cls.__name__}' has no model_fields",
            fix="use pydantic 2 (BaseModel.model_fields)",
        )
    built = []
    for name, info in model_fields.items():
        hint = info.annotation
        if hint is None or isinstance(hint, (str, typing.ForwardRef)):
            raise AnnotationError(
                f"field '{name}' of '{cls.__name__}' has an unresolved type hint",
                fix=f"call {cls.__name__}.model_rebuild() once its types are defined",
            )
        built.append(_field(cls, name, info.alias or name, hint, info.is_required()))
    return tuple(built), cls.model_validate, False  # type: ignore[attr-defined]


def _qualifier(hint: Any, default: bool) -> bool:
    """Whether a TypedDict key is required, from its ``Required``/``NotRequired`` wrapper."""
    while True:
        origin = te.get_origin(hint)
        if origin is te.Required:
            return True
        if origin is te.NotRequired:
            return False
        if origin is te.ReadOnly or origin is te.Annotated:
            hint = te.get_args(hint)[0]
        else:
            return default


def _strip_qualifiers(hint: Any) -> Any:
    """Remove ``Required``, ``NotRequired`` and ``ReadOnly`` around a TypedDict value type."""
    qualifiers = {te.Required, te.NotRequired, te.ReadOnly}
    while te.get_origin(hint) in qualifiers:
        hint = te.get_args(hint)[0]
    if te.get_origin(hint) is te.Annotated:
        inner = _strip_qualifiers(hint.__origin__)
        if inner is not hint.__origin__:
            params = (inner, *hint.__metadata__)
            return te.Annotated[params]
    return hint


# --------------------------------------------------------------------------- fields and outputs


def structured_fields(annotation: Any) -> tuple[tuple[str, Any], ...] | None:
    """The fields addressable on a reference to a value of this type.

    Args:
        annotation: a supported type hint.

    Returns:
        ``(name, hint)`` pairs in declaration order for a dataclass, attrs class, NamedTuple,
        TypedDict or pydantic model (a TypedDict ``NotRequired`` key is reported as
        ``Optional[T]``: it may be absent, and :func:`field_value` then gives None);
        ``(("0", A), ("1", B))`` for ``tuple[A, B]``; None for anything else, Optional
        included.

    Raises:
        AnnotationError: the hint is not supported.
    """
    return codec_for(annotation)._impl.fields()


def field_value(value: Any, name: str) -> Any:
    """Read the field ``name`` (as :func:`structured_fields` names it) of a value.

    Args:
        value: a value of a structured type or a fixed-length tuple.
        name: a field name, or a tuple index written as digits.

    Returns:
        The field's value (None for an absent TypedDict ``NotRequired`` key).

    Raises:
        CodecError: the value has no such field.
    """
    try:
        if isinstance(value, dict):
            return value.get(name)
        if isinstance(value, tuple) and name.isdigit():
            return value[int(name)]
        return getattr(value, name)
    except (AttributeError, IndexError):
        raise CodecError(
            f"value {_show(value)} of type {type(value).__name__} has no field {name!r}"
        ) from None


def _outputs(annotation: Any) -> Iterator[tuple[str, str | None, Any]]:
    """(output name, field name or None for the whole value, hint) for a return hint."""
    if annotation is None or annotation is type(None):
        return
    codec = codec_for(annotation)  # raises for an unsupported return hint
    yield "return", None, annotation
    fields = codec._impl.fields()
    if fields is None:
        return
    is_tuple = isinstance(codec._impl, _TupleImpl)
    for name, hint in fields:
        # Tuple outputs are always well formed; a field must be a valid Argo parameter name
        # and must not shadow the whole-value output.
        if is_tuple:
            yield f"return-{name}", name, hint
        elif name != "return" and _PARAM_NAME.fullmatch(name):
            yield name, name, hint


def output_parameters(return_annotation: Any) -> tuple[tuple[str, Any], ...]:
    """The Argo output parameters a task with this return hint writes.

    ``None`` gives none. Otherwise ``("return", T)`` comes first, then, for a structured
    type, one output per top-level field named after the field (fixed tuples:
    ``return-0``, ``return-1``, ...); fields whose names are not valid Argo parameter names
    (``^[A-Za-z_][A-Za-z0-9_]*$``) get no output of their own.

    Args:
        return_annotation: the task's return hint.

    Returns:
        ``(output name, hint)`` pairs, in the order :func:`output_values` writes them.

    Raises:
        AnnotationError: the hint is not supported.
    """
    return tuple((output, hint) for output, _, hint in _outputs(return_annotation))


def output_values(return_annotation: Any, value: Any) -> dict[str, str]:
    """Encode a task's return value as ``{output name: text}``.

    Names and order are those of :func:`output_parameters` (both are built from one list).

    Args:
        return_annotation: the task's return hint.
        value: what the task returned.

    Returns:
        The text of every output parameter.

    Raises:
        CodecError: the value does not match the hint (a task declared ``-> None`` must return
            None), or the hint is an artifact type.
    """
    outputs = list(_outputs(return_annotation))
    if not outputs and value is not None:
        raise CodecError(
            f"expected None (the return hint is None), got {_show(value)} "
            f"of type {type(value).__name__}",
            fix="return nothing, or declare the return type",
        )
    texts: dict[str, str] = {}
    for output, field, hint in outputs:
        item = value if field is None else field_value(value, field)
        texts[output] = codec_for(hint).encode(item)
    return texts
