"""YAML and JSON text for manifests: fast (libyaml when present) and safe for Argo.

Argo and kubectl read YAML 1.1, where unquoted ``yes``, ``no``, ``on``, ``off``, ``y`` and
``n`` are booleans and ``2026-01-01`` is a date. PyYAML already quotes the long boolean
forms and dates when it writes a string; the one-letter forms it leaves bare, so they are
quoted here. Multi-line strings (payloads, scripts) are written as literal blocks (``|``) so
a compiled manifest stays readable and diffs well.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

__all__ = ["to_json", "to_yaml"]

try:  # libyaml's emitter is several times faster; fall back only when it is not built
    _BaseDumper: type[yaml.SafeDumper] = yaml.CSafeDumper  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _BaseDumper = yaml.SafeDumper

_ONE_LETTER_BOOLEANS = frozenset({"y", "Y", "n", "N"})


class _ManifestDumper(_BaseDumper):  # type: ignore[misc,valid-type]
    """SafeDumper that keeps key order and quotes YAML 1.1 traps."""


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data and not data.endswith(" ") and "\t" not in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    if data in _ONE_LETTER_BOOLEANS:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="'")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_ManifestDumper.add_representer(str, _represent_str)


def to_yaml(documents: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> str:
    """One manifest, or several as a multi-document stream (``---`` between them)."""
    docs = [documents] if isinstance(documents, Mapping) else list(documents)
    return yaml.dump_all(
        docs,
        Dumper=_ManifestDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=4096,  # long expressions stay on one line
    )


def to_json(documents: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> str:
    """One manifest as a JSON object, or several as a JSON array, indented."""
    data: Any = documents if isinstance(documents, Mapping) else list(documents)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
