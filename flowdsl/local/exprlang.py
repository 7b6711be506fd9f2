"""``{{=...}}`` expressions: the part of expr-lang (github.com/expr-lang/expr) Argo manifests use.

Argo evaluates expression tags, ``valueFrom.expression`` and ``retryStrategy.expression``
with expr-lang against the scope seen as nested objects (``inputs.parameters.x``,
``tasks['a-b'].outputs.result``, ``workflow.parameters.n``, ``item``, ``lastRetry``).

Supported:

- literals: integers (``42``, ``0x2a``, ``1_000``), floats (``1.5``, ``1e3``), strings
  (``"..."``, ``'...'``, raw backquoted), ``true``, ``false``, ``nil``, arrays ``[1, 2]``
  and maps ``{a: 1, "b": 2}``;
- names, member access ``a.b``, ``a?.b``, ``a['b']``, ``a[0]``, ``a[-1]``, slices ``a[1:3]``
  (a missing map key is ``nil``);
- operators, lowest first: ``? :`` (ternary), ``||``/``or``, ``&&``/``and``, comparisons
  (``== != < <= > >=``, ``in``, ``not in``, ``matches``, ``contains``, ``startsWith``,
  ``endsWith``), ``..`` (range), ``+ -``, ``* / %``, ``**``/``^``, ``??``, unary
  ``not ! - +``; ``/`` always gives a float; ``==`` compares numbers by value;
- functions: expr-lang's ``len abs int float string trim trimPrefix trimSuffix upper lower
  split join replace repeat indexOf lastIndexOf hasPrefix hasSuffix max min sum mean first
  last keys values toJSON fromJSON toBase64 fromBase64 type round floor ceil reverse uniq
  flatten concat get`` and the predicates ``map filter all any none one count find
  findIndex`` with ``{...}`` closures over ``#``; Argo's ``asInt``, ``asFloat``,
  ``jsonpath`` and ``toJson``; and ``sprig.*`` for ``trim upper lower replace toString
  default quote squote contains hasPrefix hasSuffix toJson int float64 atoi`` and the
  digests and encodings memoize keys use, ``sha1sum sha256sum sha512sum adler32sum b64enc
  b64dec`` (more raise an error). A digest is of the text's UTF-8 bytes, in lowercase hex
  (``adler32sum``: decimal), as sprig prints them.

A name that is not in the scope raises :class:`ExprError` with ``unknown name``: the
substitution keeps such a tag as written, as Argo does with ``allowUnresolved``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = ["ExprError", "evaluate", "go_format"]


class ExprError(Exception):
    """An expression does not parse or cannot be evaluated."""


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # num | str | name | op | end
    value: Any
    pos: int


_OPS = sorted(
    [
        "??", "?.", "?", ":", "..", "**", "==", "!=", "<=", ">=", "&&", "||", "<", ">", "+", "-",
        "*", "/", "%", "^", "!", "(", ")", "[", "]", "{", "}", ",", ".", "#", "|",
    ],
    key=len,
    reverse=True,
)  # fmt: skip
_NUMBER = re.compile(
    r"0[xX][0-9a-fA-F_]+|(?:\d[\d_]*)?\.\d[\d_]*(?:[eE][+-]?\d+)?|\d[\d_]*(?:[eE][+-]?\d+)?"
)
_NAME = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_ESCAPES = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "0": "\0",
    "b": "\b",
    "f": "\f",
    "v": "\v",
}


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char.isspace():
            pos += 1
            continue
        if char.isdigit() or (char == "." and pos + 1 < len(text) and text[pos + 1].isdigit()):
            match = _NUMBER.match(text, pos)
            if match is None:  # pragma: no cover - the first character is a digit
                raise ExprError(f"bad number at {pos}")
            raw = match.group(0).replace("_", "")
            if raw.lower().startswith("0x"):
                value: Any = int(raw, 16)
            elif any(c in raw for c in ".eE"):
                value = float(raw)
            else:
                value = int(raw)
            # "1..3" is a range, not the float "1." followed by ".3".
            tokens.append(_Tok("num", value, pos))
            pos = match.end()
            continue
        if char in "\"'":
            end = pos + 1
            out: list[str] = []
            while end < len(text) and text[end] != char:
                if text[end] == "\\" and end + 1 < len(text):
                    end += 1
                    out.append(_ESCAPES.get(text[end], text[end]))
                else:
                    out.append(text[end])
                end += 1
            if end >= len(text):
                raise ExprError(f"unterminated string at {pos}")
            tokens.append(_Tok("str", "".join(out), pos))
            pos = end + 1
            continue
        if char == "`":
            end = text.find("`", pos + 1)
            if end < 0:
                raise ExprError(f"unterminated string at {pos}")
            tokens.append(_Tok("str", text[pos + 1 : end], pos))
            pos = end + 1
            continue
        match = _NAME.match(text, pos)
        if match:
            tokens.append(_Tok("name", match.group(0), pos))
            pos = match.end()
            continue
        for op in _OPS:
            if text.startswith(op, pos):
                tokens.append(_Tok("op", op, pos))
                pos += len(op)
                break
        else:
            raise ExprError(f"unexpected character {char!r} at {pos}")
    tokens.append(_Tok("end", None, len(text)))
    return tokens


_Node = Callable[[dict[str, Any]], Any]

# Binary operators: precedence, right-associative.
_BINARY: dict[str, tuple[int, bool]] = {
    "||": (10, False),
    "or": (10, False),
    "&&": (15, False),
    "and": (15, False),
    "==": (20, False),
    "!=": (20, False),
    "<": (20, False),
    ">": (20, False),
    "<=": (20, False),
    ">=": (20, False),
    "in": (20, False),
    "not in": (20, False),
    "matches": (20, False),
    "contains": (20, False),
    "startsWith": (20, False),
    "endsWith": (20, False),
    "..": (25, False),
    "+": (30, False),
    "-": (30, False),
    "*": (60, False),
    "/": (60, False),
    "%": (60, False),
    "**": (100, True),
    "^": (100, True),
    "??": (500, False),
}
_PREDICATES = frozenset(
    {
        "map",
        "filter",
        "all",
        "any",
        "none",
        "one",
        "count",
        "find",
        "findIndex",
        "findLast",
        "findLastIndex",
    }
)
_UNKNOWN = object()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _type_name(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "map"
    return "func"


def _equal(left: Any, right: Any) -> bool:
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    if type(left) is not type(right):
        return False
    return bool(left == right)


def _binary(op: str, left: Any, right: Any) -> Any:
    if op == "==":
        return _equal(left, right)
    if op == "!=":
        return not _equal(left, right)
    if op in ("<", ">", "<=", ">="):
        if not (
            (_is_number(left) and _is_number(right))
            or (isinstance(left, str) and isinstance(right, str))
        ):
            raise ExprError(f"invalid operation: {_type_name(left)} {op} {_type_name(right)}")
        return {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[op]
    if op in ("in", "not in"):
        if isinstance(right, dict):
            found = left in right
        elif isinstance(right, list):
            found = any(_equal(left, item) for item in right)
        else:
            raise ExprError(f"invalid operation: {_type_name(left)} in {_type_name(right)}")
        return found if op == "in" else not found
    if op in ("matches", "contains", "startsWith", "endsWith"):
        if not isinstance(left, str) or not isinstance(right, str):
            raise ExprError(f"invalid operation: {_type_name(left)} {op} {_type_name(right)}")
        if op == "matches":
            try:
                return re.search(right, left) is not None
            except re.error as exc:
                raise ExprError(f"bad regular expression {right!r}: {exc}") from None
        if op == "contains":
            return right in left
        return left.startswith(right) if op == "startsWith" else left.endswith(right)
    if op == "..":
        if not (isinstance(left, int) and isinstance(right, int)):
            raise ExprError(f"invalid operation: {_type_name(left)} .. {_type_name(right)}")
        return list(range(left, right + 1))
    if op == "+":
        if isinstance(left, str) and isinstance(right, str):
            return left + right
        if isinstance(left, list) and isinstance(right, list):
            return left + right
    if _is_number(left) and _is_number(right):
        if op == "+":
            return left + right
        if op == "-":
            return left - right
        if op == "*":
            return left * right
        if op == "/":
            if right == 0:
                return math.inf if left > 0 else (-math.inf if left < 0 else math.nan)
            return left / right
        if op == "%":
            if not (isinstance(left, int) and isinstance(right, int)):
                raise ExprError(f"invalid operation: {_type_name(left)} % {_type_name(right)}")
            if right == 0:
                raise ExprError("integer divide by zero")
            return int(math.fmod(left, right))
        if op in ("**", "^"):
            return float(left) ** float(right)
    raise ExprError(f"invalid operation: {_type_name(left)} {op} {_type_name(right)}")


def _truth(value: Any, op: str) -> bool:
    if not isinstance(value, bool):
        raise ExprError(f"invalid operation: {op} on {_type_name(value)} (expected bool)")
    return value


def _member(value: Any, key: Any, optional: bool) -> Any:
    if value is None:
        if optional:
            return None
        raise ExprError(f"cannot fetch {key!r} from nil")
    if isinstance(value, dict):
        return value.get(key) if isinstance(key, str) else None
    if isinstance(value, list | str):
        if not isinstance(key, int) or isinstance(key, bool):
            raise ExprError(f"cannot fetch {key!r} from {_type_name(value)}")
        index = key + len(value) if key < 0 else key
        if not 0 <= index < len(value):
            raise ExprError(f"index out of range: {key} (array length is {len(value)})")
        return value[index]
    if isinstance(value, _Namespace):
        return value.get(str(key))
    raise ExprError(f"cannot fetch {key!r} from {_type_name(value)}")


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ExprError("cannot convert bool to int")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            try:
                return int(float(value.strip()))
            except ValueError:
                raise ExprError(f"cannot convert {value!r} to int") from None
    raise ExprError(f"cannot convert {_type_name(value)} to int")


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ExprError("cannot convert bool to float")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise ExprError(f"cannot convert {value!r} to float") from None
    raise ExprError(f"cannot convert {_type_name(value)} to float")


def _as_int(value: Any) -> int:
    # Argo's asInt: a string holding an integer, or a number.
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise ExprError(f"asInt: cannot parse {value!r} as an integer") from None
    return _to_int(value)


def _jsonpath(document: Any, path: str) -> Any:
    data = json.loads(document) if isinstance(document, str) else document
    if not path.startswith("$"):
        raise ExprError(f"jsonpath {path!r} must start with '$'")
    results = [data]
    for match in re.finditer(
        r"\.([A-Za-z0-9_\-]+)|\[\s*'([^']*)'\s*\]|\[\s*\"([^\"]*)\"\s*\]|\[(-?\d+)\]|\[\*\]|\.\*",
        path[1:],
    ):
        key = match.group(1) or match.group(2) or match.group(3)
        next_results: list[Any] = []
        for item in results:
            if key is not None:
                if isinstance(item, dict) and key in item:
                    next_results.append(item[key])
            elif match.group(4) is not None:
                index = int(match.group(4))
                if isinstance(item, list) and -len(item) <= index < len(item):
                    next_results.append(item[index])
            elif isinstance(item, list):
                next_results.extend(item)
            elif isinstance(item, dict):
                next_results.extend(item.values())
        results = next_results
    wildcard = "*" in path
    if wildcard:
        return results
    if not results:
        raise ExprError(f"jsonpath {path!r} found nothing")
    return results[0]


def _round(value: Any) -> float:
    number = _to_float(value)
    return float(math.floor(number + 0.5)) if number >= 0 else float(-math.floor(-number + 0.5))


def _uniq(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if not any(_equal(item, seen) for seen in out):
            out.append(item)
    return out


def _flatten(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        out.extend(_flatten(item) if isinstance(item, list) else [item])
    return out


def _json_dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _go_float(value: float) -> str:
    """Go's ``%v`` of a float64.

    The shortest digits, in %e form when the exponent is below -4 or at least 6
    (``1e+06``, ``1.5e-05``), else plain (``0.25``, ``100000``).
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    sign_, digit_tuple, exponent = Decimal(repr(value)).as_tuple()
    digits = "".join(str(d) for d in digit_tuple).lstrip("0")
    stripped = digits.rstrip("0")
    exponent = int(exponent) + len(digits) - len(stripped)
    digits = stripped or "0"
    exp = len(digits) + exponent - 1
    sign = "-" if sign_ else ""
    if exp < -4 or exp >= 6:
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{body}e{'+' if exp >= 0 else '-'}{abs(exp):02d}"
    point = len(digits) + exponent
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def go_format(value: Any) -> str:
    """``value`` printed as Go's ``%v`` prints what expr-lang returns."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, list):
        return "[" + " ".join(go_format(item) for item in value) + "]"
    if isinstance(value, dict):
        return (
            "map["
            + " ".join(
                f"{go_format(k)}:{go_format(v)}"
                for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
            )
            + "]"
        )
    return str(value)


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": len,
    "abs": abs,
    "int": _to_int,
    "float": _to_float,
    "string": go_format,
    "trim": lambda s, chars=None: s.strip(chars),
    "trimPrefix": lambda s, p: s[len(p) :] if s.startswith(p) else s,
    "trimSuffix": lambda s, p: s[: -len(p)] if p and s.endswith(p) else s,
    "upper": lambda s: s.upper(),
    "lower": lambda s: s.lower(),
    "split": lambda s, sep, n=-1: s.split(sep, n - 1) if n > 0 else s.split(sep),
    "join": lambda items, sep="": sep.join(go_format(i) for i in items),
    "replace": lambda s, old, new: s.replace(old, new),
    "repeat": lambda s, n: s * n,
    "indexOf": lambda s, sub: s.find(sub),
    "lastIndexOf": lambda s, sub: s.rfind(sub),
    "hasPrefix": lambda s, p: s.startswith(p),
    "hasSuffix": lambda s, p: s.endswith(p),
    "max": lambda *a: max(a[0] if len(a) == 1 and isinstance(a[0], list) else a),
    "min": lambda *a: min(a[0] if len(a) == 1 and isinstance(a[0], list) else a),
    "sum": sum,
    "mean": lambda items: sum(items) / len(items) if items else 0.0,
    "first": lambda items: items[0] if items else None,
    "last": lambda items: items[-1] if items else None,
    "keys": lambda m: list(m.keys()),
    "values": lambda m: list(m.values()),
    "toJSON": lambda v: json.dumps(v, indent=2, ensure_ascii=False),
    "fromJSON": json.loads,
    "toBase64": lambda s: base64.b64encode(s.encode()).decode(),
    "fromBase64": lambda s: base64.b64decode(s).decode(),
    "type": _type_name,
    "round": _round,
    "floor": lambda v: float(math.floor(_to_float(v))),
    "ceil": lambda v: float(math.ceil(_to_float(v))),
    "reverse": lambda items: list(reversed(items)),
    "uniq": _uniq,
    "flatten": _flatten,
    "concat": lambda *lists: [x for lst in lists for x in lst],
    "get": lambda v, k: (
        _member(v, k, True)
        if isinstance(v, dict) or v is None
        else (v[k] if isinstance(k, int) and -len(v) <= k < len(v) else None)
    ),
    # Argo's additions.
    "asInt": _as_int,
    "asFloat": _to_float,
    "jsonpath": _jsonpath,
    "toJson": _json_dump,
}


def _text_arg(name: str, value: Any) -> str:
    # sprig's digests take a Go string: expr-lang refuses anything else before the call.
    if not isinstance(value, str):
        raise ExprError(f"sprig.{name} needs a string (got {_type_name(value)})")
    return value


def _digest(name: str, algorithm: str) -> Callable[[Any], str]:
    def digest(value: Any) -> str:
        return hashlib.new(algorithm, _text_arg(name, value).encode("utf-8")).hexdigest()

    return digest


def _b64dec(value: Any) -> str:
    try:
        return base64.b64decode(_text_arg("b64dec", value), validate=True).decode(
            "utf-8", errors="replace"
        )
    except ValueError as exc:
        # sprig returns the decoding error's text as the value rather than failing.
        return str(exc)


class _Namespace:
    """``sprig``: a few of sprig's functions (the ones manifests use for text)."""

    functions: Mapping[str, Callable[..., Any]] = {
        "trim": lambda s: s.strip(),
        "upper": lambda s: s.upper(),
        "lower": lambda s: s.lower(),
        "replace": lambda old, new, s: s.replace(old, new),
        "toString": go_format,
        "default": lambda d, v=None: d if v in (None, "", [], {}, 0, False) else v,
        "quote": lambda s: json.dumps(go_format(s)),
        "squote": lambda s: f"'{go_format(s)}'",
        "contains": lambda sub, s: sub in s,
        "hasPrefix": lambda p, s: s.startswith(p),
        "hasSuffix": lambda p, s: s.endswith(p),
        "toJson": _json_dump,
        "int": _to_int,
        "float64": _to_float,
        "atoi": _as_int,
        "sha1sum": _digest("sha1sum", "sha1"),
        "sha256sum": _digest("sha256sum", "sha256"),
        "sha512sum": _digest("sha512sum", "sha512"),
        "adler32sum": lambda s: str(zlib.adler32(_text_arg("adler32sum", s).encode("utf-8"))),
        "b64enc": lambda s: base64.b64encode(_text_arg("b64enc", s).encode("utf-8")).decode(),
        "b64dec": _b64dec,
    }

    def get(self, name: str) -> Any:
        function = self.functions.get(name)
        if function is None:
            raise ExprError(f"sprig.{name} is not supported by the local engine")
        return function


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self, offset: int = 0) -> _Tok:
        return self.tokens[min(self.pos + offset, len(self.tokens) - 1)]

    def take(self) -> _Tok:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def is_op(self, value: str) -> bool:
        token = self.peek()
        return token.kind == "op" and token.value == value

    def expect(self, value: str) -> None:
        token = self.take()
        if not (token.kind == "op" and token.value == value):
            raise ExprError(f"expected {value!r} at {token.pos} in {self.text!r}")

    def parse(self) -> _Node:
        node = self.ternary()
        if self.peek().kind != "end":
            token = self.peek()
            raise ExprError(f"unexpected {token.value!r} at {token.pos} in {self.text!r}")
        return node

    def ternary(self) -> _Node:
        condition = self.binary(0)
        if self.is_op("?"):
            self.take()
            yes = self.ternary()
            self.expect(":")
            no = self.ternary()
            return lambda env: yes(env) if _truth(condition(env), "?:") else no(env)
        return condition

    def binary_op(self) -> str | None:
        token = self.peek()
        if token.kind == "op" and token.value in _BINARY:
            return str(token.value)
        if token.kind == "name":
            if token.value == "not" and self.peek(1).kind == "name" and self.peek(1).value == "in":
                return "not in"
            if token.value in _BINARY:
                return str(token.value)
        return None

    def binary(self, min_precedence: int) -> _Node:
        left = self.unary()
        while True:
            op = self.binary_op()
            if op is None:
                return left
            precedence, right_assoc = _BINARY[op]
            if precedence < min_precedence:
                return left
            self.take()
            if op == "not in":
                self.take()
            right = self.binary(precedence if right_assoc else precedence + 1)
            left = self._combine(op, left, right)

    @staticmethod
    def _combine(op: str, left: _Node, right: _Node) -> _Node:
        if op in ("||", "or"):
            return lambda env: _truth(left(env), op) or _truth(right(env), op)
        if op in ("&&", "and"):
            return lambda env: _truth(left(env), op) and _truth(right(env), op)
        if op == "??":

            def coalesce(env: dict[str, Any]) -> Any:
                try:
                    value = left(env)
                except ExprError:
                    value = None
                return right(env) if value is None else value

            return coalesce
        return lambda env: _binary(op, left(env), right(env))

    def unary(self) -> _Node:
        token = self.peek()
        if (token.kind == "op" and token.value in ("!", "-", "+")) or (
            token.kind == "name" and token.value == "not"
        ):
            self.take()
            operand = self.unary() if token.value != "not" else self.binary(_BINARY["=="][0])
            if token.value in ("!", "not"):
                return lambda env: not _truth(operand(env), "!")

            def sign(env: dict[str, Any]) -> Any:
                value = operand(env)
                if not _is_number(value):
                    raise ExprError(f"invalid operation: {token.value}{_type_name(value)}")
                return -value if token.value == "-" else value

            return sign
        return self.postfix(self.primary())

    def postfix(self, node: _Node) -> _Node:
        while True:
            if self.is_op(".") or self.is_op("?."):
                optional = self.take().value == "?."
                name = self.take()
                if name.kind != "name":
                    raise ExprError(f"expected a name after '.' at {name.pos} in {self.text!r}")
                node = self._member_node(node, _constant(name.value), optional)
            elif self.is_op("["):
                self.take()
                if self.is_op(":"):
                    start: _Node | None = None
                else:
                    start = self.ternary()
                if self.is_op(":"):
                    self.take()
                    end = None if self.is_op("]") else self.ternary()
                    self.expect("]")
                    node = self._slice_node(node, start, end)
                else:
                    self.expect("]")
                    if start is None:
                        raise ExprError(f"empty index at {self.peek().pos} in {self.text!r}")
                    node = self._member_node(node, start, False)
            elif self.is_op("("):
                self.take()
                args: list[_Node] = []
                while not self.is_op(")"):
                    args.append(self.ternary())
                    if not self.is_op(")"):
                        self.expect(",")
                self.take()
                node = self._call_value(node, args)
            else:
                return node

    @staticmethod
    def _call_value(target: _Node, args: list[_Node]) -> _Node:
        def call(env: dict[str, Any]) -> Any:
            function = target(env)
            if not callable(function):
                raise ExprError(f"cannot call {_type_name(function)}")
            try:
                return function(*(arg(env) for arg in args))
            except ExprError:
                raise
            except Exception as exc:
                raise ExprError(f"call failed: {exc}") from None

        return call

    def _member_node(self, target: _Node, key: _Node, optional: bool) -> _Node:
        def member(env: dict[str, Any]) -> Any:
            value = target(env)
            if callable(value) and not isinstance(value, _Namespace):
                raise ExprError("cannot fetch a field from a function")
            return _member(value, key(env), optional)

        return member

    @staticmethod
    def _slice_node(target: _Node, start: _Node | None, end: _Node | None) -> _Node:
        def sliced(env: dict[str, Any]) -> Any:
            value = target(env)
            if not isinstance(value, list | str):
                raise ExprError(f"cannot slice {_type_name(value)}")
            low = _to_int(start(env)) if start else 0
            high = _to_int(end(env)) if end else len(value)
            return value[low:high]

        return sliced

    def primary(self) -> _Node:
        token = self.take()
        if token.kind in ("num", "str"):
            value = token.value
            return lambda env: value
        if token.kind == "op" and token.value == "(":
            inner = self.ternary()
            self.expect(")")
            return inner
        if token.kind == "op" and token.value == "[":
            items: list[_Node] = []
            while not self.is_op("]"):
                items.append(self.ternary())
                if not self.is_op("]"):
                    self.expect(",")
            self.take()
            return lambda env: [item(env) for item in items]
        if token.kind == "op" and token.value == "{":
            pairs: list[tuple[_Node, _Node]] = []
            while not self.is_op("}"):
                key_token = self.take()
                if key_token.kind in ("name", "str", "num"):
                    key_value = key_token.value

                    def fixed_key(env: dict[str, Any], k: Any = key_value) -> Any:
                        return k

                    key: _Node = fixed_key
                elif key_token.kind == "op" and key_token.value == "(":
                    key = self.ternary()
                    self.expect(")")
                else:
                    raise ExprError(f"bad map key at {key_token.pos} in {self.text!r}")
                self.expect(":")
                pairs.append((key, self.ternary()))
                if not self.is_op("}"):
                    self.expect(",")
            self.take()
            return lambda env: {k(env): v(env) for k, v in pairs}
        if token.kind == "op" and token.value == "#":
            return lambda env: env["#"] if "#" in env else _raise("# used outside a closure")
        if token.kind == "name":
            name = token.value
            if name in ("true", "false"):
                value = name == "true"
                return lambda env: value
            if name == "nil":
                return lambda env: None
            if self.is_op("("):
                return self.call(name)
            return lambda env: _lookup(env, name)
        raise ExprError(f"unexpected {token.value!r} at {token.pos} in {self.text!r}")

    def call(self, name: str) -> _Node:
        self.expect("(")
        if name in _PREDICATES:
            collection = self.ternary()
            self.expect(",")
            self.expect("{")
            body = self.ternary()
            self.expect("}")
            self.expect(")")
            return self._predicate(name, collection, body)
        args: list[_Node] = []
        while not self.is_op(")"):
            args.append(self.ternary())
            if not self.is_op(")"):
                self.expect(",")
        self.take()
        function = _FUNCTIONS.get(name)

        def apply(env: dict[str, Any]) -> Any:
            target = function
            if target is None:
                value = env.get(name, _UNKNOWN)
                if value is _UNKNOWN:
                    raise ExprError(f"unknown name {name}")
                if not callable(value):
                    raise ExprError(f"{name} is not a function")
                target = value
            try:
                return target(*(arg(env) for arg in args))
            except ExprError:
                raise
            except Exception as exc:
                raise ExprError(f"{name}(): {exc}") from None

        return apply

    @staticmethod
    def _predicate(name: str, collection: _Node, body: _Node) -> _Node:
        def run(env: dict[str, Any]) -> Any:
            items = collection(env)
            if not isinstance(items, list):
                raise ExprError(f"{name}() needs an array, got {_type_name(items)}")
            results = [body({**env, "#": item}) for item in items]
            if name == "map":
                return results
            flags = [_truth(r, name) for r in results]
            if name == "filter":
                return [item for item, keep in zip(items, flags, strict=True) if keep]
            if name == "all":
                return all(flags)
            if name == "any":
                return any(flags)
            if name == "none":
                return not any(flags)
            if name == "one":
                return flags.count(True) == 1
            if name == "count":
                return flags.count(True)
            indices = [i for i, keep in enumerate(flags) if keep]
            if name == "find":
                return items[indices[0]] if indices else None
            if name == "findIndex":
                return indices[0] if indices else -1
            if name == "findLast":
                return items[indices[-1]] if indices else None
            return indices[-1] if indices else -1

        return run


def _constant(value: Any) -> _Node:
    return lambda env: value


def _raise(message: str) -> Any:
    raise ExprError(message)


def _lookup(env: dict[str, Any], name: str) -> Any:
    if name in env:
        return env[name]
    if name == "sprig":
        return _Namespace()
    if name in _FUNCTIONS:
        return _FUNCTIONS[name]
    raise ExprError(f"unknown name {name}")


def evaluate(text: str, env: Mapping[str, Any]) -> Any:
    """Evaluate an expression against ``env`` (names to values, nested objects allowed).

    Raises:
        ExprError: the expression does not parse, names something ``env`` lacks, or fails.
    """
    return _Parser(text).parse()(dict(env))
