"""The two small expression languages of DAG and steps templates, evaluated as Argo does.

``depends`` (DAG tasks)
    Boolean logic over task results: ``A && (B.Failed || !C.Succeeded)``. A bare task name
    ``A`` means ``(A.Succeeded || A.Skipped || A.Daemoned)``, plus ``|| A.Errored`` and
    ``|| A.Failed`` when task ``A`` has ``continueOn.error`` / ``continueOn.failed``
    (Argo's ``expandDependency``). ``dependencies: [A, B]`` is ``A && B`` in that form. The
    results are ``Succeeded``, ``Failed``, ``Errored``, ``Skipped``, ``Omitted``,
    ``Daemoned``, and for a looped task ``AnySucceeded`` / ``AllFailed``. Argo evaluates the
    expression once every task it names is fulfilled; ``false`` marks the task Omitted.

``when`` (after ``{{...}}`` substitution)
    A govaluate expression, with Argo's twist: every bare word (govaluate's "variable") is
    turned into a string, so ``heads == heads`` and ``{{tasks.flip.outputs.result}} ==
    heads`` work without quotes. Numbers are float64, ``==`` compares type and value (so
    ``5 == '5'`` is false), ``<``/``>`` need two numbers or two strings, ``&&``/``||``/``!``
    need booleans, ``=~``/``!~`` match a regular expression, ``in`` tests membership in a
    ``(a, b)`` list, ``? :`` and ``??`` are the ternaries. The result must be a boolean.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

__all__ = [
    "TASK_RESULTS",
    "DependsExpr",
    "ExpressionError",
    "TaskResults",
    "evaluate_when",
    "parse_depends",
    "task_depends",
]

TASK_RESULTS = (
    "Succeeded",
    "Failed",
    "Errored",
    "Skipped",
    "Omitted",
    "Daemoned",
    "AnySucceeded",
    "AllFailed",
)


class ExpressionError(Exception):
    """An expression cannot be parsed or evaluated; the engine adds the node to the message."""


# --------------------------------------------------------------------------------------------
# depends
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaskResults:
    """What a ``depends`` expression can ask about one finished task."""

    succeeded: bool = False
    failed: bool = False
    errored: bool = False
    skipped: bool = False
    omitted: bool = False
    daemoned: bool = False
    any_succeeded: bool = False
    all_failed: bool = False

    def get(self, result: str) -> bool:
        """The value of ``Task.<result>``."""
        return {
            "Succeeded": self.succeeded,
            "Failed": self.failed,
            "Errored": self.errored,
            "Skipped": self.skipped,
            "Omitted": self.omitted,
            "Daemoned": self.daemoned,
            "AnySucceeded": self.any_succeeded,
            "AllFailed": self.all_failed,
        }[result]


# A node of a parsed depends expression: ("atom", task, result) | ("not", x) | ("and"|"or", a, b)
_DepNode: TypeAlias = tuple[Any, ...]

_DEP_TOKEN = re.compile(
    r"\s*(?:(?P<op>&&|\|\||!|\(|\))|(?P<name>[a-zA-Z0-9][-a-zA-Z0-9_]*)(?:\.(?P<result>[A-Za-z]+))?)"
)


@dataclass(frozen=True, slots=True)
class DependsExpr:
    """A parsed ``depends`` expression.

    Attributes:
        text: the expression as written (after expanding ``dependencies``).
        tasks: the task names it mentions, in order of first mention.
        tree: the parse tree.
    """

    text: str
    tasks: tuple[str, ...]
    tree: _DepNode

    def evaluate(self, results: Mapping[str, TaskResults]) -> bool:
        """Evaluate with the results of every task in :attr:`tasks`."""
        return _eval_dep(self.tree, results)


def _eval_dep(node: _DepNode, results: Mapping[str, TaskResults]) -> bool:
    kind = node[0]
    if kind == "atom":
        return results[node[1]].get(node[2])
    if kind == "not":
        return not _eval_dep(node[1], results)
    if kind == "and":
        return _eval_dep(node[1], results) and _eval_dep(node[2], results)
    return _eval_dep(node[1], results) or _eval_dep(node[2], results)


def parse_depends(
    text: str, continue_on: Mapping[str, Mapping[str, Any]] | None = None
) -> DependsExpr:
    """Parse a ``depends`` expression, expanding bare task names as Argo does.

    Args:
        text: the expression.
        continue_on: ``continueOn`` of each task of the DAG (by name), which widens what a
            bare name accepts.

    Raises:
        ExpressionError: the expression is malformed or names an unknown result.
    """
    continue_on = continue_on or {}
    tokens: list[tuple[str, str, str | None]] = []
    pos = 0
    stripped = text.rstrip()
    while pos < len(stripped):
        match = _DEP_TOKEN.match(stripped, pos)
        if match is None or match.end() == pos:
            raise ExpressionError(
                f"cannot parse depends {text!r} at {stripped[pos:].lstrip()!r} "
                "(expected a task name, "
                "Task.Result, '&&', '||', '!' or parentheses)"
            )
        if match.group("op"):
            tokens.append(("op", match.group("op"), None))
        else:
            result = match.group("result")
            if result is not None and result not in TASK_RESULTS:
                raise ExpressionError(
                    f"depends {text!r}: task result '{result}' for task "
                    f"'{match.group('name')}' is invalid (expected one of "
                    f"{', '.join(TASK_RESULTS)})"
                )
            tokens.append(("name", match.group("name"), result))
        pos = match.end()
    if not tokens:
        raise ExpressionError("depends is empty")

    mentioned: list[str] = []
    index = 0

    def peek() -> tuple[str, str, str | None] | None:
        return tokens[index] if index < len(tokens) else None

    def take() -> tuple[str, str, str | None]:
        nonlocal index
        token = tokens[index]
        index += 1
        return token

    def bare(name: str) -> _DepNode:
        accepted = ["Succeeded", "Skipped", "Daemoned"]
        flags = continue_on.get(name) or {}
        if flags.get("error"):
            accepted.append("Errored")
        if flags.get("failed"):
            accepted.append("Failed")
        tree: _DepNode = ("atom", name, accepted[0])
        for result in accepted[1:]:
            tree = ("or", tree, ("atom", name, result))
        return tree

    def primary() -> _DepNode:
        token = peek()
        if token is None:
            raise ExpressionError(f"depends {text!r} ends too early")
        if token == ("op", "!", None):
            take()
            return ("not", primary())
        if token == ("op", "(", None):
            take()
            inner = disjunction()
            if peek() != ("op", ")", None):
                raise ExpressionError(f"depends {text!r} has an unclosed '('")
            take()
            return inner
        if token[0] == "name":
            take()
            if token[1] not in mentioned:
                mentioned.append(token[1])
            return bare(token[1]) if token[2] is None else ("atom", token[1], token[2])
        raise ExpressionError(f"depends {text!r}: unexpected {token[1]!r}")

    def conjunction() -> _DepNode:
        left = primary()
        while peek() == ("op", "&&", None):
            take()
            left = ("and", left, primary())
        return left

    def disjunction() -> _DepNode:
        left = conjunction()
        while peek() == ("op", "||", None):
            take()
            left = ("or", left, conjunction())
        return left

    tree = disjunction()
    if index != len(tokens):
        raise ExpressionError(f"depends {text!r}: unexpected {tokens[index][1]!r}")
    return DependsExpr(text=text, tasks=tuple(mentioned), tree=tree)


def task_depends(
    task: Mapping[str, Any], continue_on: Mapping[str, Mapping[str, Any]]
) -> DependsExpr | None:
    """The parsed ``depends`` of a DAG task (``dependencies`` turned into ``depends``).

    Returns ``None`` for a task with neither (a root task).

    Raises:
        ExpressionError: the expression is malformed.
    """
    depends = task.get("depends")
    if depends:
        return parse_depends(str(depends), continue_on)
    dependencies = task.get("dependencies") or []
    if not dependencies:
        return None
    return parse_depends(" && ".join(str(d) for d in dependencies), continue_on)


# --------------------------------------------------------------------------------------------
# when (govaluate)
# --------------------------------------------------------------------------------------------

_Value: TypeAlias = Any  # float | str | bool | None | list


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # "num" | "str" | "bool" | "op" | "(" | ")" | ","
    value: Any


_OPERATORS = (
    "**",
    "==",
    "!=",
    ">=",
    "<=",
    "=~",
    "!~",
    "&&",
    "||",
    "??",
    "<<",
    ">>",
    ">",
    "<",
    "+",
    "-",
    "*",
    "/",
    "%",
    "&",
    "|",
    "^",
    "!",
    "~",
    "?",
    ":",
)


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    n = len(text)
    while pos < n:
        char = text[pos]
        if char.isspace():
            pos += 1
            continue
        if char.isdigit():
            end = pos
            while end < n and (text[end].isdigit() or text[end] == "."):
                end += 1
            literal = text[pos:end]
            try:
                tokens.append(_Tok("num", float(literal)))
            except ValueError:
                raise ExpressionError(f"Unable to parse numeric value '{literal}'") from None
            pos = end
            continue
        if char in "'\"":
            end = pos + 1
            chars: list[str] = []
            while end < n and text[end] != char:
                if text[end] == "\\" and end + 1 < n:
                    end += 1
                chars.append(text[end])
                end += 1
            if end >= n:
                raise ExpressionError("Unclosed string literal")
            tokens.append(_Tok("str", "".join(chars)))
            pos = end + 1
            continue
        if char == "[":
            end = text.find("]", pos)
            if end < 0:
                raise ExpressionError("Unclosed parameter bracket")
            # A bracketed govaluate variable; Argo turns every variable into a string.
            tokens.append(_Tok("str", text[pos + 1 : end]))
            pos = end + 1
            continue
        if char.isalpha() or char == "_":
            end = pos
            while end < n and (text[end].isalnum() or text[end] in "_."):
                end += 1
            word = text[pos:end]
            if word in ("true", "false"):
                tokens.append(_Tok("bool", word == "true"))
            elif word == "in":
                tokens.append(_Tok("op", "in"))
            elif end < n and text[end] == "(":
                raise ExpressionError(f"Undefined function {word}")
            else:
                tokens.append(_Tok("str", word))
            pos = end
            continue
        if char in "(),":
            tokens.append(_Tok(char, char))
            pos += 1
            continue
        for op in _OPERATORS:
            if text.startswith(op, pos):
                tokens.append(_Tok("op", op))
                pos += len(op)
                break
        else:
            raise ExpressionError(f"Invalid token: '{char}'")
    return tokens


def _show(value: _Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, list):
        return "[" + " ".join(_show(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    return str(value)


def _need_number(value: _Value, op: str) -> float:
    if isinstance(value, float) and not isinstance(value, bool):
        return value
    raise ExpressionError(
        f"Value '{_show(value)}' cannot be used with the modifier '{op}', it is not a number"
    )


def _need_bool(value: _Value, op: str) -> bool:
    if isinstance(value, bool):
        return value
    raise ExpressionError(
        f"Value '{_show(value)}' cannot be used with the logical operator '{op}', it is not a bool"
    )


def _compare(op: str, left: _Value, right: _Value) -> bool:
    if op == "==":
        return type(left) is type(right) and left == right
    if op == "!=":
        return not (type(left) is type(right) and left == right)
    if op in ("=~", "!~"):
        if not isinstance(left, str) or not isinstance(right, str):
            raise ExpressionError(
                f"Value '{_show(left if not isinstance(left, str) else right)}' cannot be used "
                f"with the comparator '{op}', it is not a string"
            )
        try:
            found = re.search(right, left) is not None
        except re.error as exc:
            raise ExpressionError(f"Unable to compile regexp pattern '{right}': {exc}") from None
        return found if op == "=~" else not found
    if op == "in":
        if not isinstance(right, list):
            raise ExpressionError(
                f"Value '{_show(right)}' cannot be used with the comparator 'in', "
                "it is not an array"
            )
        return any(type(left) is type(v) and left == v for v in right)
    both_numbers = isinstance(left, float) and isinstance(right, float)
    both_strings = isinstance(left, str) and isinstance(right, str)
    if not (both_numbers or both_strings):
        # govaluate's type check covers both sides and names the left one.
        raise ExpressionError(
            f"Value '{_show(left)}' cannot be used with the comparator '{op}', it is not a number"
        )
    if op == ">":
        return bool(left > right)
    if op == ">=":
        return bool(left >= right)
    if op == "<":
        return bool(left < right)
    return bool(left <= right)


def _arith(op: str, left: _Value, right: _Value) -> _Value:
    if op == "+":
        if isinstance(left, str) or isinstance(right, str):
            return _show(left) + _show(right)
        return _need_number(left, op) + _need_number(right, op)
    a = _need_number(left, op)
    b = _need_number(right, op)
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        if b == 0:
            return math.inf if a > 0 else (-math.inf if a < 0 else math.nan)
        return a / b
    if op == "%":
        return math.fmod(a, b)
    if op == "**":
        return a**b
    ia, ib = int(a), int(b)
    if op == "&":
        return float(ia & ib)
    if op == "|":
        return float(ia | ib)
    if op == "^":
        return float(ia ^ ib)
    if op == "<<":
        return float(ia << ib)
    return float(ia >> ib)


class _WhenParser:
    """Precedence climbing over govaluate's operator tiers (lowest first)."""

    _TIERS: Sequence[frozenset[str]] = (
        frozenset({"?", ":", "??"}),
        frozenset({"||"}),
        frozenset({"&&"}),
        frozenset({"==", "!=", ">", ">=", "<", "<=", "=~", "!~", "in"}),
        frozenset({"&", "|", "^"}),
        frozenset({"<<", ">>"}),
        frozenset({"+", "-"}),
        frozenset({"*", "/", "%"}),
        frozenset({"**"}),
    )

    def __init__(self, tokens: list[_Tok]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> _Tok | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> _Tok:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def parse(self) -> Callable[[], _Value]:
        if not self.tokens:
            raise ExpressionError("Unexpected end of expression")
        expr = self.separated()
        if self.peek() is not None:
            raise ExpressionError(f"Unexpected token '{_show(self.take().value)}'")
        return expr

    def separated(self) -> Callable[[], _Value]:
        first = self.tier(0)
        if self.peek() is None or self.peek().kind != ",":  # type: ignore[union-attr]
            return first
        parts = [first]
        while self.peek() is not None and self.peek().kind == ",":  # type: ignore[union-attr]
            self.take()
            parts.append(self.tier(0))
        return lambda: [part() for part in parts]

    def tier(self, level: int) -> Callable[[], _Value]:
        if level == len(self._TIERS):
            return self.unary()
        left = self.tier(level + 1)
        ops = self._TIERS[level]
        while (token := self.peek()) is not None and token.kind == "op" and token.value in ops:
            op = self.take().value
            right = self.tier(level + 1)
            left = self._combine(op, left, right)
        return left

    @staticmethod
    def _combine(
        op: str, left: Callable[[], _Value], right: Callable[[], _Value]
    ) -> Callable[[], _Value]:
        if op == "&&":
            return lambda: _need_bool(left(), op) and _need_bool(right(), op)
        if op == "||":
            return lambda: _need_bool(left(), op) or _need_bool(right(), op)
        if op == "??":

            def coalesce() -> _Value:
                value = left()
                return right() if value is None else value

            return coalesce
        if op == "?":

            def ternary() -> _Value:
                return right() if _need_bool(left(), op) else None

            return ternary
        if op == ":":

            def otherwise() -> _Value:
                value = left()
                return right() if value is None else value

            return otherwise
        if op in ("==", "!=", ">", ">=", "<", "<=", "=~", "!~", "in"):
            return lambda: _compare(op, left(), right())
        return lambda: _arith(op, left(), right())

    def unary(self) -> Callable[[], _Value]:
        token = self.peek()
        if token is None:
            raise ExpressionError("Unexpected end of expression")
        if token.kind == "op" and token.value in ("!", "-", "~"):
            op = self.take().value
            operand = self.unary()
            if op == "!":
                return lambda: not _need_bool(operand(), op)
            if op == "-":
                return lambda: -_need_number(operand(), op)
            return lambda: float(~int(_need_number(operand(), op)))
        return self.primary()

    def primary(self) -> Callable[[], _Value]:
        token = self.take() if self.peek() is not None else None
        if token is None:
            raise ExpressionError("Unexpected end of expression")
        if token.kind in ("num", "str", "bool"):
            value = token.value
            return lambda: value
        if token.kind == "(":
            inner = self.separated()
            closing = self.peek()
            if closing is None or closing.kind != ")":
                raise ExpressionError("Unbalanced parenthesis")
            self.take()
            return inner
        raise ExpressionError(f"Unexpected token '{_show(token.value)}'")


def evaluate_when(when: str) -> bool:
    """Evaluate an already substituted ``when`` expression as Argo's ``shouldExecute`` does.

    An empty expression is true.

    Raises:
        ExpressionError: the expression does not parse, fails to evaluate, or is not boolean;
            the message quotes the expression.
    """
    if not when.strip():
        return True
    try:
        tokens = _tokenize(when)
    except ExpressionError as exc:
        hint = (
            ' (hint: try wrapping the affected expression in quotes ("))'
            if "Invalid token" in str(exc)
            else ""
        )
        raise ExpressionError(f"Invalid 'when' expression '{when}': {exc}{hint}") from None
    try:
        expression = _WhenParser(tokens).parse()
    except ExpressionError as exc:
        raise ExpressionError(f"Invalid 'when' expression '{when}': {exc}") from None
    try:
        result = expression()
    except ExpressionError as exc:
        raise ExpressionError(f"Failed to evaluate 'when' expression '{when}': {exc}") from None
    if not isinstance(result, bool):
        raise ExpressionError(f"Expected boolean evaluation for '{when}'. Got {_show(result)}")
    return result
