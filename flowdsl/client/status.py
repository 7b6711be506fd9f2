"""What the server says about a workflow, as frozen records.

:class:`WorkflowState`, :class:`NodeState` and :class:`LogEntry`.
They are read from the server's JSON rather than parsed into Hera's ``Workflow`` model on
purpose: Hera's models follow one Argo version, and a status from a newer server (a new
field, a changed type) must not stop ``watch`` or ``wait`` half way. The full answer stays
available as ``raw``, and :meth:`WorkflowState.model` parses it into Hera's model on demand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hera.workflows import models as m

__all__ = [
    "DONE_PHASES",
    "FAILED_PHASES",
    "LogEntry",
    "NodeState",
    "WorkflowState",
    "parse_time",
    "pod_name",
]

#: Workflow phases after which nothing changes any more.
DONE_PHASES = frozenset({"Succeeded", "Failed", "Error"})
#: Node and workflow phases that are failures.
FAILED_PHASES = frozenset({"Failed", "Error"})
#: Node types that run a pod (and so have logs).
POD_NODE_TYPES = frozenset({"Pod", "ContainerSet", "HTTP", "Plugin"})
_POD_NAME_ANNOTATION = "workflows.argoproj.io/pod-name-format"
_MAX_POD_PREFIX = 253 - 10 - 1  # Kubernetes name limit, minus the hash and its dash


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 time from the server (``2024-01-01T00:00:00Z``), or None."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Python 3.10 reads at most microseconds; Kubernetes may send nanoseconds.
    head, dot, rest = text.partition(".")
    if dot:
        digits = rest[: len(rest) - len(rest.lstrip("0123456789"))]
        zone = rest[len(digits) :]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _freeze(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


def _parameters(io: Any) -> dict[str, str]:
    """``{name: value}`` of an ``inputs``/``outputs``/``arguments`` object."""
    found: dict[str, str] = {}
    if not isinstance(io, Mapping):
        return found
    for param in io.get("parameters") or []:
        if isinstance(param, Mapping) and isinstance(param.get("name"), str):
            value = param.get("value")
            found[param["name"]] = "" if value is None else str(value)
    return found


def pod_name(workflow: str, node_name: str, template: str, node_id: str, version: str) -> str:
    """The pod of a node, named as Argo names it (``workflow/util/pod_name.go``).

    ``v1``: the node ID; ``v2`` (the default): ``<workflow>-<template>-<fnv32a(node name)>``,
    the prefix cut to fit Kubernetes' 253 characters; the root node's pod is the workflow's
    name.
    """
    if version == "v1":
        return node_id
    if workflow == node_name:
        return workflow
    prefix = f"{workflow}-{template}" if template else workflow
    prefix = prefix[:_MAX_POD_PREFIX]
    return f"{prefix}-{_fnv32a(node_name.encode())}"


def _fnv32a(data: bytes) -> int:
    value = 0x811C9DC5
    for byte in data:
        value ^= byte
        value = (value * 0x01000193) & 0xFFFFFFFF
    return value


@dataclass(frozen=True, slots=True)
class NodeState:
    """One node of a workflow's status (a task, a retry, a loop item, a DAG ...).

    Attributes:
        id: the node ID (key of ``status.nodes``).
        name: the full node name (``wf.train(0:resnet)``).
        display_name: the short name (``train(0:resnet)``, the task's name for a task).
        type: ``Pod``, ``DAG``, ``Steps``, ``Retry``, ``TaskGroup``, ``Skipped`` ...
        phase: ``Pending``, ``Running``, ``Succeeded``, ``Failed``, ``Error``, ``Skipped``,
            ``Omitted``.
        template_name: the template the node ran.
        message: why the node is in its phase (empty if the server gave none).
        started_at: when it started, if it did.
        finished_at: when it finished, if it did.
        children: IDs of its child nodes.
        inputs: its input parameters, ``{name: value}``.
        outputs: its output parameters, ``{name: value}``.
        pod_name: the name of its pod, for nodes that run one (else empty).
    """

    id: str
    name: str
    display_name: str
    type: str
    phase: str
    template_name: str = ""
    message: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    children: tuple[str, ...] = ()
    inputs: Mapping[str, str] = field(default_factory=lambda: _freeze({}))
    outputs: Mapping[str, str] = field(default_factory=lambda: _freeze({}))
    pod_name: str = ""

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish, if both are known."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True, slots=True)
class WorkflowState:
    """A workflow as the server last reported it.

    Attributes:
        name: ``metadata.name``.
        namespace: ``metadata.namespace``.
        uid: ``metadata.uid``.
        resource_version: ``metadata.resourceVersion`` (changes on every update).
        phase: ``Pending`` (also while the controller has not seen it), ``Running``,
            ``Succeeded``, ``Failed`` or ``Error``.
        message: why the workflow is in its phase (empty if the server gave none).
        created_at: ``metadata.creationTimestamp``.
        started_at: ``status.startedAt``.
        finished_at: ``status.finishedAt``.
        progress: ``status.progress`` (``3/5``), possibly empty.
        parameters: the workflow's parameters, ``{name: value}`` (``spec.arguments``).
        labels: ``metadata.labels``.
        annotations: ``metadata.annotations``.
        nodes: every node, ordered by start time then name.
        raw: the server's JSON, as received.
    """

    name: str
    namespace: str
    uid: str
    resource_version: str
    phase: str
    message: str
    created_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    progress: str
    parameters: Mapping[str, str]
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    nodes: tuple[NodeState, ...]
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> WorkflowState:
        """Read a Workflow object as the Argo Server returns it."""
        metadata = obj.get("metadata") or {}
        status = obj.get("status") or {}
        spec = obj.get("spec") or {}
        name = str(metadata.get("name") or "")
        annotations = {str(k): str(v) for k, v in (metadata.get("annotations") or {}).items()}
        version = annotations.get(_POD_NAME_ANNOTATION, "v2")
        nodes = []
        for node_id, node in (status.get("nodes") or {}).items():
            if not isinstance(node, Mapping):
                continue
            node_type = str(node.get("type") or "")
            node_name = str(node.get("name") or node_id)
            template = str(node.get("templateName") or "")
            if not template and isinstance(node.get("templateRef"), Mapping):
                template = str(node["templateRef"].get("template") or "")
            nodes.append(
                NodeState(
                    id=str(node_id),
                    name=node_name,
                    display_name=str(node.get("displayName") or node_name),
                    type=node_type,
                    phase=str(node.get("phase") or "Pending"),
                    template_name=template,
                    message=str(node.get("message") or ""),
                    started_at=parse_time(node.get("startedAt")),
                    finished_at=parse_time(node.get("finishedAt")),
                    children=tuple(str(c) for c in node.get("children") or ()),
                    inputs=_freeze(_parameters(node.get("inputs"))),
                    outputs=_freeze(_parameters(node.get("outputs"))),
                    pod_name=(
                        pod_name(name, node_name, template, str(node_id), version)
                        if node_type in POD_NODE_TYPES
                        else ""
                    ),
                )
            )
        far = datetime.max.replace(tzinfo=None)
        nodes.sort(
            key=lambda n: ((n.started_at.replace(tzinfo=None) if n.started_at else far), n.name)
        )
        return cls(
            name=name,
            namespace=str(metadata.get("namespace") or ""),
            uid=str(metadata.get("uid") or ""),
            resource_version=str(metadata.get("resourceVersion") or ""),
            phase=str(status.get("phase") or "Pending"),
            message=str(status.get("message") or ""),
            created_at=parse_time(metadata.get("creationTimestamp")),
            started_at=parse_time(status.get("startedAt")),
            finished_at=parse_time(status.get("finishedAt")),
            progress=str(status.get("progress") or ""),
            parameters=_freeze(_parameters(spec.get("arguments"))),
            labels=_freeze({str(k): str(v) for k, v in (metadata.get("labels") or {}).items()}),
            annotations=_freeze(annotations),
            nodes=tuple(nodes),
            raw=MappingProxyType(dict(obj)),
        )

    @property
    def done(self) -> bool:
        """Whether the workflow has finished (Succeeded, Failed or Error)."""
        return self.phase in DONE_PHASES

    @property
    def ok(self) -> bool:
        """Whether the workflow succeeded."""
        return self.phase == "Succeeded"

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish, if both are known."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def node(self, name: str) -> NodeState:
        """The node whose display name (first), full name or ID is ``name``.

        Raises:
            KeyError: no node has that name.
        """
        for attr in ("display_name", "name", "id"):
            for node in self.nodes:
                if getattr(node, attr) == name:
                    return node
        raise KeyError(name)

    def failed_nodes(self) -> tuple[NodeState, ...]:
        """The nodes where a failure started: failed or errored, with no failed child.

        A DAG fails because a task in it failed; this returns the task (the root cause),
        not every enclosing node. For a retried task, the last attempt.
        """
        by_id = {node.id: node for node in self.nodes}
        found = []
        for node in self.nodes:
            if node.phase not in FAILED_PHASES:
                continue
            if any(
                by_id[child].phase in FAILED_PHASES for child in node.children if child in by_id
            ):
                continue
            found.append(node)
        return tuple(found)

    def task_nodes(self, task: str) -> tuple[NodeState, ...]:
        """The nodes that ran pods for the task ``task`` (by display name), in start order.

        A task that was retried or mapped has one such node per attempt or item; they are
        found below the node that carries the task's name.
        """
        by_id = {node.id: node for node in self.nodes}
        roots = [node for node in self.nodes if node.display_name == task]
        found: dict[str, NodeState] = {}
        stack = list(reversed(roots))
        while stack:
            node = stack.pop()
            if node.id in found:
                continue
            if node.pod_name:
                found[node.id] = node
            stack.extend(by_id[c] for c in reversed(node.children) if c in by_id)
        return tuple(n for n in self.nodes if n.id in found)

    def pods(self) -> dict[str, NodeState]:
        """``{pod name: node}`` for every node that runs a pod."""
        return {node.pod_name: node for node in self.nodes if node.pod_name}

    def model(self) -> m.Workflow:
        """The server's answer parsed into Hera's ``Workflow`` model.

        Raises:
            pydantic.ValidationError: the answer does not fit Hera's model (a server newer
                than Hera's models).
        """
        from hera.workflows import models as m

        return m.Workflow.model_validate(dict(self.raw))


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of a pod's log.

    Attributes:
        pod_name: the pod that wrote it.
        content: the line, without its timestamp.
        timestamp: when the container wrote it, if the server said.
    """

    pod_name: str
    content: str
    timestamp: datetime | None = None
