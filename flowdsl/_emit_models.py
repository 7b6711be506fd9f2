"""``flowdsl.to_yaml`` / ``to_json``: text for a compiled model or a plain manifest."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hera.workflows import models as m

from flowdsl import emit
from flowdsl.lower import Manifest, to_dict

__all__ = ["to_json", "to_yaml"]

Document = Manifest | Mapping[str, Any]


def _plain(documents: Document | Iterable[Document]) -> list[Mapping[str, Any]]:
    items: Iterable[Document]
    if isinstance(documents, (Mapping, m.Workflow, m.WorkflowTemplate)):
        items = [documents]
    else:
        items = documents
    return [d if isinstance(d, Mapping) else to_dict(d) for d in items]


def to_yaml(documents: Document | Iterable[Document]) -> str:
    """YAML for one manifest (a compiled model or plain data) or several (``---``-separated)."""
    docs = _plain(documents)
    return emit.to_yaml(docs[0] if len(docs) == 1 else docs)


def to_json(documents: Document | Iterable[Document]) -> str:
    """JSON for one manifest (an object) or several (an array)."""
    docs = _plain(documents)
    return emit.to_json(docs[0] if len(docs) == 1 else docs)
