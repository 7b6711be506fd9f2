"""The frozen records of a local run: :class:`LocalRun`, :class:`NodeRecord`, :class:`Attempt`.

These are what :func:`flowdsl.local.run_manifest` returns and what ``run.json`` holds. They
are plain values (no reference to the engine), so they can be kept, compared and pickled.
Secret values never appear in them: the engine masks every text it records (see
:mod:`flowdsl.local.sources`).

Node phases are Argo's (``Pending``, ``Running``, ``Succeeded``, ``Failed``, ``Error``,
``Skipped``, ``Omitted``); node types too (``DAG``, ``Steps``, ``StepGroup``, ``TaskGroup``,
``Pod``, ``Skipped``). A run's status is one of ``Succeeded``, ``Failed``, ``Error`` or
``Stopped`` (Ctrl-C).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

__all__ = [
    "COMPLETED",
    "FAILED_OR_ERROR",
    "FULFILLED",
    "Attempt",
    "LocalRun",
    "Memoization",
    "NodeRecord",
    "RunStatus",
]

RunStatus = Literal["Succeeded", "Failed", "Error", "Stopped"]

#: Phases Argo calls "completed": the node ran to an end (a skipped node did not).
COMPLETED = frozenset({"Succeeded", "Failed", "Error"})
#: Phases after which a node never changes again ("fulfilled" in Argo).
FULFILLED = COMPLETED | {"Skipped", "Omitted"}
FAILED_OR_ERROR = frozenset({"Failed", "Error"})


def _frozen_map(value: Mapping[str, str] | None) -> Mapping[str, str]:
    return MappingProxyType(dict(value or {}))


def _frozen_paths(value: Mapping[str, Path] | None) -> Mapping[str, Path]:
    return MappingProxyType(dict(value or {}))


def _paths_json(value: Mapping[str, Path]) -> dict[str, str]:
    return {name: str(path) for name, path in value.items()}


@dataclass(frozen=True, slots=True)
class Attempt:
    """One execution of a leaf (container or script) node's command.

    Attributes:
        number: 0 for the first attempt, then 1, 2, ... (Argo's ``{{retries}}``).
        phase: ``Succeeded``, ``Failed`` or ``Error``.
        exit_code: the process's exit code; ``None`` when it could not be started.
        message: why it did not succeed (empty when it did).
        started_at: when the process started (UTC).
        finished_at: when it ended (UTC).
        stdout: path of the captured standard output.
        stderr: path of the captured standard error.
    """

    number: int
    phase: str
    exit_code: int | None
    message: str
    started_at: datetime
    finished_at: datetime
    stdout: Path
    stderr: Path

    @property
    def duration(self) -> float:
        """Seconds between start and end."""
        return (self.finished_at - self.started_at).total_seconds()

    def to_json(self) -> dict[str, Any]:
        """The JSON form written in the run record."""
        return {
            "number": self.number,
            "phase": self.phase,
            "exitCode": self.exit_code,
            "message": self.message,
            "startedAt": self.started_at.isoformat(),
            "finishedAt": self.finished_at.isoformat(),
            "duration": round(self.duration, 6),
            "stdout": str(self.stdout),
            "stderr": str(self.stderr),
        }


@dataclass(frozen=True, slots=True)
class Memoization:
    """A memoized node's cache lookup (Argo's ``node.memoizationStatus``).

    Attributes:
        hit: whether the outputs came from the cache (the node did not run).
        key: the cache key, after substitution.
        cache_name: the cache's ConfigMap name (a directory of the local cache).
    """

    hit: bool
    key: str
    cache_name: str

    def to_json(self) -> dict[str, Any]:
        """The JSON form written in the run record (Argo's field names)."""
        return {"hit": self.hit, "key": self.key, "cacheName": self.cache_name}


@dataclass(frozen=True, slots=True)
class NodeRecord:
    """One node of a local run, as Argo would list it in ``status.nodes``.

    Attributes:
        id: unique within the run; also the name of the node's directory under ``nodes/``.
        name: Argo's full node name, e.g. ``wf-abc.train(0:resnet)`` or ``wf-abc[0].step``.
        display_name: the short name: task or step name, ``train(0:resnet)`` for a loop item.
        type: ``DAG``, ``Steps``, ``StepGroup``, ``TaskGroup``, ``Pod`` or ``Skipped``.
        template: the template it ran, or ``None`` (step groups, skipped nodes).
        phase: Argo's node phase.
        message: why the node failed, errored, or was skipped or omitted.
        inputs: input parameter values, after substitution.
        outputs: output parameter values (text); for a loop (``TaskGroup``), each output of
            its items as the JSON list Argo aggregates (``tasks.X.outputs.parameters.P``).
        result: ``outputs.result`` (stdout, trimmed as Argo does) for leaf nodes; for a loop,
            its items' results as the JSON list Argo aggregates (``tasks.X.outputs.result``).
        exit_code: the last attempt's exit code (leaf nodes).
        attempts: every attempt of a leaf node, first to last.
        started_at: when the node started, if it did.
        finished_at: when it was fulfilled, if it was.
        parent: id of the node this one hangs under (``None`` for the root).
        children: ids of the nodes hanging under this one.
        directory: the node's directory in the run directory.
        memoization: the cache lookup of a template with ``memoize``; ``None`` otherwise.
        artifacts: output artifacts, each the path of its stored file or directory
            (``<run dir>/artifacts/<node id>/<name>``; for a DAG or steps node, the path of
            the task's artifact it hands up). See :mod:`flowdsl.local.artifacts`.
        input_artifacts: input artifacts, each the path of the stored artifact it came from.
    """

    id: str
    name: str
    display_name: str
    type: str
    template: str | None
    phase: str
    message: str = ""
    inputs: Mapping[str, str] = field(default_factory=lambda: _frozen_map(None))
    outputs: Mapping[str, str] = field(default_factory=lambda: _frozen_map(None))
    result: str | None = None
    exit_code: int | None = None
    attempts: tuple[Attempt, ...] = ()
    started_at: datetime | None = None
    finished_at: datetime | None = None
    parent: str | None = None
    children: tuple[str, ...] = ()
    directory: Path | None = None
    memoization: Memoization | None = None
    artifacts: Mapping[str, Path] = field(default_factory=lambda: _frozen_paths(None))
    input_artifacts: Mapping[str, Path] = field(default_factory=lambda: _frozen_paths(None))

    @property
    def cached(self) -> bool:
        """Whether the node's outputs came from the memoization cache (it did not run)."""
        return self.memoization is not None and self.memoization.hit

    @property
    def duration(self) -> float | None:
        """Seconds between start and end, when both are known."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def stdout(self) -> Path | None:
        """The last attempt's standard output file (leaf nodes)."""
        return self.attempts[-1].stdout if self.attempts else None

    @property
    def stderr(self) -> Path | None:
        """The last attempt's standard error file (leaf nodes)."""
        return self.attempts[-1].stderr if self.attempts else None

    def to_json(self) -> dict[str, Any]:
        """The JSON form written in ``node.json`` and ``run.json``."""
        return {
            "id": self.id,
            "name": self.name,
            "displayName": self.display_name,
            "type": self.type,
            "template": self.template,
            "phase": self.phase,
            "message": self.message,
            "inputs": dict(self.inputs),
            "outputs": dict(self.outputs),
            "result": self.result,
            "exitCode": self.exit_code,
            "attempts": [attempt.to_json() for attempt in self.attempts],
            "startedAt": self.started_at.isoformat() if self.started_at else None,
            "finishedAt": self.finished_at.isoformat() if self.finished_at else None,
            "duration": None if self.duration is None else round(self.duration, 6),
            "parent": self.parent,
            "children": list(self.children),
            "directory": str(self.directory) if self.directory else None,
            "memoizationStatus": self.memoization.to_json() if self.memoization else None,
            "artifacts": _paths_json(self.artifacts),
            "inputArtifacts": _paths_json(self.input_artifacts),
        }


@dataclass(frozen=True, slots=True)
class LocalRun:
    """The outcome of running a manifest on this machine.

    A failed run is a value, not an exception: check :attr:`status` (or
    :meth:`failed_nodes`). Output values stay text; decoding them by type is the caller's job.

    Attributes:
        name: the run's name (the workflow's ``metadata.name``, or ``generateName`` plus a
            random suffix); also ``{{workflow.name}}``.
        status: ``Succeeded``, ``Failed``, ``Error`` or ``Stopped``.
        message: why the run did not succeed (empty when it did).
        parameters: the workflow parameters the run used.
        outputs: the entrypoint template's output parameters, ``{name: text}``.
        nodes: every node, in the order they were created.
        run_dir: the run directory (``run.json``, ``nodes/<id>/...``).
        started_at: when the run started (UTC).
        finished_at: when it ended (UTC).
        artifacts: the entrypoint template's output artifacts, ``{name: stored path}``.
    """

    name: str
    status: RunStatus
    message: str
    parameters: Mapping[str, str]
    outputs: Mapping[str, str]
    nodes: tuple[NodeRecord, ...]
    run_dir: Path
    started_at: datetime
    finished_at: datetime
    artifacts: Mapping[str, Path] = field(default_factory=lambda: _frozen_paths(None))

    @property
    def duration(self) -> float:
        """Wall time of the run in seconds."""
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def ok(self) -> bool:
        """Whether the run succeeded."""
        return self.status == "Succeeded"

    def node(self, name: str) -> NodeRecord:
        """The node whose display name (first) or full name is ``name``.

        Raises:
            KeyError: no node has that name.
        """
        for node in self.nodes:
            if node.display_name == name:
                return node
        for node in self.nodes:
            if node.name == name:
                return node
        raise KeyError(name)

    def path(self, node: NodeRecord) -> str:
        """A node's name without the run's, e.g. ``region-report(2:apac).summarise``.

        Unlike the display name, it tells apart the same task inside different loop items.
        """
        prefix = f"{self.name}."
        return node.name[len(prefix) :] if node.name.startswith(prefix) else node.name

    def failed_nodes(self) -> tuple[NodeRecord, ...]:
        """The nodes where a failure started: failed or errored, with no failed child.

        A DAG fails because a task in it failed; this returns the task (the root cause),
        not every enclosing node.
        """
        by_id = {node.id: node for node in self.nodes}
        found = []
        for node in self.nodes:
            if node.phase not in FAILED_OR_ERROR:
                continue
            if any(
                by_id[child].phase in FAILED_OR_ERROR for child in node.children if child in by_id
            ):
                continue
            found.append(node)
        return tuple(found)

    def to_json(self) -> dict[str, Any]:
        """The JSON form written in ``run.json``."""
        return {
            "name": self.name,
            "status": self.status,
            "message": self.message,
            "parameters": dict(self.parameters),
            "outputs": dict(self.outputs),
            "startedAt": self.started_at.isoformat(),
            "finishedAt": self.finished_at.isoformat(),
            "duration": round(self.duration, 6),
            "runDir": str(self.run_dir),
            "artifacts": _paths_json(self.artifacts),
            "nodes": [node.to_json() for node in self.nodes],
        }
