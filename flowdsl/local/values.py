"""Small parsers for the value forms Argo manifests use: Go durations, IntOrString, items.

Argo reads ``backoff.duration``, ``backoff.maxDuration`` and a template's ``timeout`` with
Go's ``time.ParseDuration`` (``"1m30s"``, ``"50ms"``), except that a bare number means
seconds (:func:`parse_duration`); ``memoize.maxAge`` with ``time.ParseDuration`` alone, so
``"10"`` and ``"1d"`` are errors there (:func:`parse_go_duration`); ``retryStrategy.limit``,
``backoff.factor`` and ``activeDeadlineSeconds`` are IntOrString (``3`` or ``"3"``). Loop
items are rendered the way Argo renders them with Go's ``%v`` (``{{item}}``, and node names
such as ``train(0:resnet)``).
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

__all__ = [
    "item_label",
    "item_text",
    "parse_duration",
    "parse_go_duration",
    "parse_int",
    "parse_number",
    "value_text",
]

_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(value: object) -> float:
    """Seconds in a Go duration (``"1m30s"``, ``"250ms"``) or a bare number of seconds.

    Raises:
        ValueError: the text is neither (callers turn it into a message naming the field).
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    if re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", text):
        return float(text)
    sign = 1.0
    if text[:1] and text[0] in "+-":
        sign = -1.0 if text[0] == "-" else 1.0
        text = text[1:]
    if not text:
        raise ValueError("expected a duration such as '30s' or '1m30s', got ''")
    pos = 0
    total = 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text):
        raise ValueError(f"expected a duration such as '30s' or '1m30s', got {value!r}")
    return sign * total


_GO_NUMBER = re.compile(r"(\d*)(\.\d*)?")
_GO_UNIT = re.compile(r"[^\d.]*")


def parse_go_duration(text: str) -> float:
    """Seconds in a duration as Go's ``time.ParseDuration`` reads it, and nothing more.

    A sequence of decimal numbers, each with a unit (``ns us µs ms s m h``), with an
    optional sign; ``"0"`` alone needs no unit. No day unit, no bare number of seconds.

    Raises:
        ValueError: with Go's own message (``time: unknown unit "d" in duration "1d"``).
    """
    quoted = json.dumps(text, ensure_ascii=False)
    rest = text
    negative = False
    if rest[:1] in ("+", "-"):
        negative = rest[0] == "-"
        rest = rest[1:]
    if rest == "0":
        return 0.0
    if not rest:
        raise ValueError(f"time: invalid duration {quoted}")
    total = 0.0
    while rest:
        number = _GO_NUMBER.match(rest)
        whole, fraction = (number.group(1), number.group(2)) if number else ("", None)
        if not whole and (fraction is None or fraction == "."):
            raise ValueError(f"time: invalid duration {quoted}")
        value = float((whole or "0") + (fraction or ""))
        rest = rest[number.end() if number else 0 :]
        unit_match = _GO_UNIT.match(rest)
        unit = unit_match.group(0) if unit_match else ""
        rest = rest[len(unit) :]
        if not unit:
            raise ValueError(f"time: missing unit in duration {quoted}")
        if unit not in _UNITS:
            raise ValueError(
                f"time: unknown unit {json.dumps(unit, ensure_ascii=False)} in duration {quoted}"
            )
        total += value * _UNITS[unit]
    return -total if negative else total


def parse_int(value: object) -> int:
    """An IntOrString field's integer value.

    Raises:
        ValueError: the value is not an integer.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = str(value).strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    raise ValueError(f"expected an integer, got {value!r}")


def parse_number(value: object) -> float:
    """An IntOrString field read as a number (``backoff.factor`` may be fractional).

    Raises:
        ValueError: the value is not a number.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        raise ValueError(f"expected a number, got {value!r}") from None


def value_text(value: Any) -> str:
    """The Argo text of a parameter value written in YAML (``value: 3`` is ``"3"``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        # YAML "1.0" reaches Argo as the JSON number 1.0, which Go prints as "1".
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, date):  # a YAML timestamp parsed by a loader that keeps them
        return value.isoformat()
    return json.dumps(value, separators=(",", ":"), default=str)


def item_text(item: Any) -> str:
    """What ``{{item}}`` becomes: scalars as text, objects and lists as compact JSON."""
    if isinstance(item, dict | list):
        return json.dumps(item, separators=(",", ":"), ensure_ascii=False)
    return value_text(item)


def _go_v(value: Any) -> str:
    # Go's %v: a list prints as "[a b]", a map as "map[k:v]".
    if isinstance(value, list):
        return "[" + " ".join(_go_v(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_v(v)}" for k, v in sorted(value.items())) + "]"
    return value_text(value)


def item_label(index: int, item: Any) -> str:
    """The ``(index:value)`` suffix Argo puts on a loop item's node name."""
    if isinstance(item, dict):
        text = ",".join(f"{k}:{_go_v(v)}" for k, v in sorted(item.items()))
    else:
        text = _go_v(item)
    return f"({index}:{text})"
