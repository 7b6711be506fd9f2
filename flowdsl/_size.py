"""Size guards: a manifest must fit in one Kubernetes object.

Argo stores a Workflow (and a WorkflowTemplate, a CronWorkflow) as one object in etcd, which
refuses objects past 1 MiB; the API server then rejects the submission with an error that
does not say which part is too big. Long before that, a manifest of hundreds of kilobytes
makes every ``kubectl get`` and every controller reconciliation slow. A flow reaches those
sizes in one way: calls unrolled by a Python loop in the flow body, each one a DAG task
written out in full (or a large constant passed as an argument).

:func:`check_size` measures the manifest as Kubernetes stores it (compact JSON, UTF-8) and

- warns (:class:`ManifestSizeWarning`) past :data:`WARN_BYTES` (512 KiB, half the limit);
- raises :class:`~flowdsl.errors.CompileError` past :data:`MAX_BYTES` (1 MiB),

naming the largest templates (and, in a DAG, its largest task) and suggesting what shrinks
them: ``task.map(...)``, one DAG task that Argo expands when the workflow runs, or a
sub-flow, one template however often it is called.

The measure is one ``json.dumps`` of the manifest (milliseconds for a 5,000-task DAG); the
per-template breakdown is computed only past the warning threshold. Standard library only.
"""

from __future__ import annotations

import json
import os
import sys
import types
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from flowdsl.errors import CompileError, FlowDSLWarning, ManifestSizeWarning

__all__ = [
    "MAX_BYTES",
    "WARN_BYTES",
    "FlowDSLWarning",
    "ManifestSize",
    "ManifestSizeWarning",
    "TemplateSize",
    "check_size",
    "measure",
]

#: Past this size (compact JSON, UTF-8) a manifest cannot be stored: etcd's object limit,
#: the same figure as ``flowdsl.lint.MAX_OBJECT_BYTES``.
MAX_BYTES: Final = 1024 * 1024
#: Past this size compiling warns: half the limit, while there is still room to change course.
WARN_BYTES: Final = 512 * 1024
#: How many templates a message names.
_SHOWN: Final = 3

_FIX: Final = (
    "call a task over a list with task.map(...) (one DAG task that Argo expands when the "
    "workflow runs) instead of calling it in a Python loop, or move a repeated group of "
    "calls into a @flow called as a sub-flow (one template however often it is called); "
    "pass large data as a task's output, not as a constant"
)


@dataclass(frozen=True, slots=True)
class TemplateSize:
    """The size of one template of a manifest.

    Attributes:
        name: the template's name.
        bytes: its size as compact JSON (UTF-8).
        tasks: how many DAG tasks (or steps) it holds; 0 for a leaf template.
        largest_task: the name of its largest DAG task or step, when it has any.
        largest_task_bytes: that task's size as compact JSON (UTF-8); 0 when there is none.
    """

    name: str
    bytes: int
    tasks: int = 0
    largest_task: str | None = None
    largest_task_bytes: int = 0


@dataclass(frozen=True, slots=True)
class ManifestSize:
    """The size of a manifest and, when asked for, of its templates.

    Attributes:
        bytes: the whole manifest as compact JSON (UTF-8), as Kubernetes stores it.
        templates: every template, largest first (ties by name); empty when not measured.
    """

    bytes: int
    templates: tuple[TemplateSize, ...] = ()


def _json_bytes(value: Any) -> int:
    # Kubernetes stores the object as compact JSON; non-ASCII text is counted as UTF-8.
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    return len(text.encode("utf-8"))


def _templates(doc: Mapping[str, Any]) -> Sequence[Any]:
    spec = doc.get("spec")
    if not isinstance(spec, Mapping):
        return ()
    if doc.get("kind") == "CronWorkflow":
        spec = spec.get("workflowSpec")
        if not isinstance(spec, Mapping):
            return ()
    templates = spec.get("templates")
    return templates if isinstance(templates, list) else ()


def _children(template: Mapping[str, Any]) -> list[Any]:
    """A template's DAG tasks, or its steps (every parallel group flattened)."""
    dag = template.get("dag")
    if isinstance(dag, Mapping) and isinstance(dag.get("tasks"), list):
        return list(dag["tasks"])
    steps = template.get("steps")
    if isinstance(steps, list):
        return [step for group in steps if isinstance(group, list) for step in group]
    return []


def _template_size(template: Any) -> TemplateSize:
    if not isinstance(template, Mapping):
        return TemplateSize(name="?", bytes=_json_bytes(template))
    children = _children(template)
    largest, largest_bytes = None, 0
    for child in children:
        size = _json_bytes(child)
        if size > largest_bytes:
            name = child.get("name") if isinstance(child, Mapping) else None
            largest, largest_bytes = str(name) if name is not None else "?", size
    return TemplateSize(
        name=str(template.get("name", "?")),
        bytes=_json_bytes(template),
        tasks=len(children),
        largest_task=largest,
        largest_task_bytes=largest_bytes,
    )


def measure(doc: Mapping[str, Any], *, templates: bool = False) -> ManifestSize:
    """The size of a manifest as Kubernetes stores it (compact JSON, UTF-8).

    Args:
        doc: the manifest as plain data (``flowdsl.compile_dict``'s result).
        templates: also measure each template (a second pass over the manifest).

    Returns:
        The total, and the templates largest first when asked for.
    """
    total = _json_bytes(doc)
    return ManifestSize(total, _template_sizes(doc) if templates else ())


def _template_sizes(doc: Mapping[str, Any]) -> tuple[TemplateSize, ...]:
    sizes = (_template_size(t) for t in _templates(doc))
    return tuple(sorted(sizes, key=lambda t: (-t.bytes, t.name)))


def _describe(size: ManifestSize) -> str:
    parts = []
    for template in size.templates[:_SHOWN]:
        text = f"'{template.name}' {template.bytes:,} bytes"
        if template.tasks:
            noun = "task" if template.tasks == 1 else "tasks"
            text += f" ({template.tasks:,} {noun}, the largest '{template.largest_task}' "
            text += f"{template.largest_task_bytes:,} bytes)"
        parts.append(text)
    return "; the largest templates: " + ", ".join(parts) if parts else ""


def _stacklevel() -> int:
    """The warning's stack level: the first frame outside flowdsl (the user's call)."""
    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    frame: types.FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame = frame.f_back
        level += 1
    return level


def check_size(doc: Mapping[str, Any], flow_name: str) -> None:
    """Warn when a manifest passes 512 KiB, refuse it past Argo's 1 MiB.

    Args:
        doc: the manifest as plain data, as it will be submitted.
        flow_name: the flow it was compiled from (the message's "where").

    Raises:
        CompileError: the manifest is larger than :data:`MAX_BYTES`; the message names the
            largest templates and what to do.

    Warns:
        ManifestSizeWarning: the manifest is larger than :data:`WARN_BYTES`.
    """
    total = _json_bytes(doc)
    if total <= WARN_BYTES:
        return
    size = ManifestSize(total, _template_sizes(doc))
    if total > MAX_BYTES:
        raise CompileError(
            f"the manifest is {total:,} bytes as compact JSON, over the {MAX_BYTES:,} bytes "
            f"(1 MiB) Argo can store in one object{_describe(size)}",
            fix=_FIX,
            flow=flow_name,
        )
    message = (
        f"flow '{flow_name}': the manifest is {total:,} bytes as compact JSON, past half of "
        f"the {MAX_BYTES:,} bytes (1 MiB) Argo can store in one object{_describe(size)}; "
        f"{_FIX}"
    )
    warnings.warn(message, ManifestSizeWarning, stacklevel=_stacklevel())
