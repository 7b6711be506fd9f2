"""YAML and JSON text for manifests: fast, and safe for Argo.

Argo and kubectl read YAML 1.1, where unquoted ``yes``, ``no``, ``on``, ``off``, ``y`` and
``n`` are booleans and ``2026-01-01`` is a date. PyYAML already quotes the long boolean
forms and dates when it writes a string; the one-letter forms it leaves bare, so they are
quoted here. Multi-line strings (payloads, scripts) are written as literal blocks (``|``) so
a compiled manifest stays readable and diffs well.

NOTE: [Two writers, one output]
The reference is PyYAML's ``CSafeDumper`` (libyaml) configured by :class:`_ManifestDumper`
and :func:`_reference_yaml`. Its Python half (the representer building a node per value)
costs about 5 microseconds a value: a third of a second for a 5,000-task manifest, more
than tracing and lowering together. :func:`to_yaml` therefore writes the common shapes
itself (:class:`_Writer`: block mappings and sequences of plain ``dict``, ``list``, ``str``,
``int``, ``bool`` and ``None``, with libyaml's rules for choosing and folding scalar styles)
and hands the whole document to the reference for anything else: other types, a string
that needs double quotes, a ``|+`` block, a long or multi-line key, an object that appears
twice (PyYAML writes an anchor). Both give the same bytes for every document the fast writer
accepts; tests/test_emit.py checks that against the reference on every example manifest
and on generated documents.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

import yaml

__all__ = ["to_json", "to_yaml"]

try:  # libyaml's emitter is several times faster; fall back only when it is not built
    _BaseDumper: type[yaml.SafeDumper] = yaml.CSafeDumper  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _BaseDumper = yaml.SafeDumper

_ONE_LETTER_BOOLEANS = frozenset({"y", "Y", "n", "N"})
_WIDTH: Final = 4096  # long expressions stay on one line
_INDENT: Final = 2


class _ManifestDumper(_BaseDumper):  # type: ignore[misc,valid-type]
    """SafeDumper that keeps key order and quotes YAML 1.1 traps."""


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data and not data.endswith(" ") and "\t" not in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    if data in _ONE_LETTER_BOOLEANS:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="'")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_ManifestDumper.add_representer(str, _represent_str)


def _reference_yaml(docs: list[Any]) -> str:
    return yaml.dump_all(
        docs,
        Dumper=_ManifestDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=_WIDTH,
    )


def to_yaml(documents: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> str:
    """One manifest, or several as a multi-document stream (``---`` between them)."""
    docs = [documents] if isinstance(documents, Mapping) else list(documents)
    try:
        return _Writer().documents(docs)
    except _Unsupported:
        return _reference_yaml(docs)


def to_json(documents: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> str:
    """One manifest as a JSON object, or several as a JSON array, indented."""
    data: Any = documents if isinstance(documents, Mapping) else list(documents)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------------------------
# The fast writer
# --------------------------------------------------------------------------------------------


class _Unsupported(Exception):
    """The document has something only the reference dumper writes (see the NOTE above)."""


# Characters libyaml writes as they are (printable, not a line break, not a BOM) with
# allow_unicode; anything else (tabs, controls, NEL, U+2028/9, astral planes) means double
# quotes, which only the reference writes.
_PRINTABLE: Final = re.compile("[\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd]*")
_PRINTABLE_LINES: Final = re.compile(
    "[\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd]*"
)
# libyaml's analysis of a one-line scalar, for the block context: what forbids the plain
# style (an indicator where it means something, a leading or trailing space).
_NOT_PLAIN: Final = re.compile(
    r"""^(?:[#,\[\]{}&*!|>'"%@`]|[?:-](?: |$)|---|\.\.\.| )|: |:$| #| $"""
)
# Kinds of rendering.
_PLAIN, _SINGLE, _LITERAL = 0, 1, 2

_RESOLVERS: Final = _ManifestDumper.yaml_implicit_resolvers


def _resolves_to_other_type(text: str) -> bool:
    """Whether plain ``text`` would be read back as something else than a string."""
    return any(regexp.match(text) for _, regexp in _RESOLVERS.get(text[:1], ()))


def _scalar(text: str) -> tuple[int, str]:
    """How a string value is written: its kind and the text to write (before folding).

    For ``_LITERAL`` the text is the block header (``|``, ``|-``, ``|2`` ...).

    Raises:
        _Unsupported: the reference would write it double-quoted, or as a ``|+`` block.
    """
    if "\n" in text:
        # _represent_str asks for a literal block; libyaml grants it unless a line ends
        # with a space, or a character needs escaping (then it writes double quotes).
        if text.endswith(" ") or " \n" in text or not _PRINTABLE_LINES.fullmatch(text):
            raise _Unsupported
        header = "|2" if text[0] in " \n" else "|"
        if not text.endswith("\n"):
            return _LITERAL, header + "-"
        if text == "\n" or text.endswith("\n\n"):
            raise _Unsupported  # `|+`, after which libyaml may end the document with `...`
        return _LITERAL, header
    if not _PRINTABLE.fullmatch(text):
        raise _Unsupported
    if (
        text
        and text not in _ONE_LETTER_BOOLEANS
        and not _NOT_PLAIN.search(text)
        and not _resolves_to_other_type(text)
    ):
        return _PLAIN, text
    return _SINGLE, "'" + text.replace("'", "''") + "'"


def _fold(text: str, column: int, indent: int, quoted: bool) -> str:
    """Libyaml's line folding of a long plain or single-quoted scalar.

    At a single space (not the first or last character of a quoted scalar) met past the
    width, the line breaks and the next one starts at the scalar's indentation.
    ``column`` is where ``text`` starts.
    """
    size = len(text)
    if column + size <= _WIDTH or " " not in text:
        return text
    parts = []
    start, line_column = 0, column
    while True:
        # The first index whose column is past the width.
        position = text.find(" ", max(start, start + _WIDTH - line_column + 1))
        while position != -1 and not (
            text[position - 1] != " "
            and position + 1 < size
            and text[position + 1] != " "
            and not (quoted and position in (0, size - 1))
        ):
            position = text.find(" ", position + 1)
        if position == -1:
            parts.append(text[start:])
            return ("\n" + " " * indent).join(parts)
        parts.append(text[start:position])
        start, line_column = position + 1, indent


class _Writer:
    """Block-style YAML, byte for byte as :func:`_reference_yaml` writes it.

    Lines are appended to ``out``; every method is called with the current line already
    holding what precedes the value (``key:`` or ``- ``), and ends it.
    """

    def __init__(self) -> None:
        self.out: list[str] = []
        self.scalars: dict[str, tuple[int, str]] = {}
        self.keys: dict[str, str] = {}
        # PyYAML writes an anchor and an alias for a list or dict met twice.
        self.seen: set[int] = set()

    def documents(self, docs: list[Any]) -> str:
        for index, doc in enumerate(docs):
            if type(doc) is not dict or not doc:
                raise _Unsupported
            if index:
                self.out.append("---\n")
            self.mapping(doc, 0, inline=False)
        return "".join(self.out)

    def key(self, key: Any) -> str:
        text = self.keys.get(key) if type(key) is str else None
        if text is None:
            if type(key) is not str or "\n" in key or len(key.encode()) > 128:
                raise _Unsupported  # not a simple key: the reference writes `? key`
            _, text = _scalar(key)
            self.keys[key] = text
        return text

    def scalar(self, value: Any, line: str, column: int, indent: int) -> None:
        """Write ``line`` followed by the scalar ``value`` starting at ``column``."""
        kind = type(value)
        out = self.out
        if kind is str:
            rendering = self.scalars.get(value)
            if rendering is None:
                rendering = self.scalars[value] = _scalar(value)
            style, text = rendering
            if style == _LITERAL:
                pad = " " * indent
                lines = value.split("\n")
                if value.endswith("\n"):
                    lines.pop()
                body = "".join(pad + part + "\n" if part else "\n" for part in lines)
                out.append(f"{line}{text}\n{body}")
                return
            if column + len(text) > _WIDTH:
                body = text[1:-1] if style == _SINGLE else text
                folded = _fold(body, column + (style == _SINGLE), indent, style == _SINGLE)
                text = f"'{folded}'" if style == _SINGLE else folded
            out.append(f"{line}{text}\n")
        elif kind is bool:
            out.append(f"{line}{'true' if value else 'false'}\n")
        elif kind is int:
            out.append(f"{line}{value}\n")
        elif value is None:
            out.append(f"{line}null\n")
        else:
            raise _Unsupported  # floats, tuples, str subclasses ...: the reference decides

    def mapping(self, mapping: dict[Any, Any], indent: int, *, inline: bool) -> None:
        """Keys at ``indent``; with ``inline``, the first key continues the current line."""
        if id(mapping) in self.seen:
            raise _Unsupported
        self.seen.add(id(mapping))
        pad = " " * indent
        out = self.out
        first = inline
        for key, value in mapping.items():
            text = self.key(key)
            line = f"{text}:" if first else f"{pad}{text}:"
            first = False
            kind = type(value)
            if kind is dict:
                if value:
                    out.append(line + "\n")
                    self.mapping(value, indent + _INDENT, inline=False)
                else:
                    out.append(line + " {}\n")
            elif kind is list:
                if value:
                    out.append(line + "\n")
                    self.sequence(value, indent, inline=False)  # indentless, as PyYAML
                else:
                    out.append(line + " []\n")
            else:
                self.scalar(value, line + " ", indent + len(text) + 2, indent + _INDENT)

    def sequence(self, items: list[Any], indent: int, *, inline: bool) -> None:
        """Items (``- ``) at ``indent``; with ``inline``, the first continues the line."""
        if id(items) in self.seen:
            raise _Unsupported
        self.seen.add(id(items))
        dash = " " * indent + "- "
        out = self.out
        first = inline
        for item in items:
            line = "- " if first else dash
            first = False
            kind = type(item)
            if kind is dict:
                if item:
                    out.append(line)
                    self.mapping(item, indent + _INDENT, inline=True)
                else:
                    out.append(line + "{}\n")
            elif kind is list:
                if item:
                    out.append(line)
                    self.sequence(item, indent + _INDENT, inline=True)
                else:
                    out.append(line + "[]\n")
            else:
                self.scalar(item, line, indent + _INDENT, indent + _INDENT)
