"""The run directory: what a local run leaves behind, and the ``runs`` listing.

Layout (default root ``.flowdsl/runs``)::

    <runs root>/<run name>/
        run.json                 the summary: name, status, message, parameters, outputs,
                                 start, end, duration, and every node (as in node.json)
        manifest.json            the manifest that ran
        nodes/<node id>/         for each node that ran a process (container or script)
            node.json            the node: name, type, template, phase, message, inputs,
                                 outputs, artifacts, result, exit code, attempts, timings (every
                                 node, these included, is also in run.json)
            attempt-<n>/         one per attempt of a container/script node
                stdout.log       its standard output
                stderr.log       its standard error
                script           a script template's source, as run
                root/...         the re-rooted absolute paths (see flowdsl.local.process)
                volumes/<name>/  its emptyDir and ConfigMap volumes
        volumes/<claim>/         each persistent volume claim of the run, shared by its nodes
                                 (see flowdsl.local.volumes)
        artifacts/<node id>/<name>   each output artifact a node stored (a file or a
                                 directory; see flowdsl.local.artifacts)
        artifacts/raw/<node id>/<name>   the ``raw.data`` of a node's input artifact

Memoized outputs live outside the run directories, in the cache (``.flowdsl/cache``, see
:mod:`flowdsl.local.cache`). Secret values are masked in everything written here, and
Secret volumes are never written here (see :mod:`flowdsl.local.sources`).

``run.json`` is written when the run starts (status ``Running``) and again when it ends,
so an interrupted engine still leaves a record. JSON is written atomically (a temporary
file, then a rename).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from flowdsl.local.model import LocalRun, NodeRecord

__all__ = [
    "DEFAULT_RUNS_ROOT",
    "RunSummary",
    "list_runs",
    "make_run_dir",
    "write_json",
    "write_node",
    "write_run",
    "write_run_start",
]

DEFAULT_RUNS_ROOT = Path(".flowdsl/runs")


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically (parents created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            # default=str: a YAML manifest may hold dates (``created: 2024-01-01``).
            json.dump(data, handle, indent=2, ensure_ascii=False, default=str)
            handle.write("\n")
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def make_run_dir(runs_root: Path, name: str) -> Path:
    """A new, empty run directory ``<runs_root>/<name>`` (``-2``, ``-3``... if taken)."""
    runs_root.mkdir(parents=True, exist_ok=True)
    candidate = runs_root / name
    counter = 1
    while True:
        try:
            candidate.mkdir()
        except FileExistsError:
            counter += 1
            candidate = runs_root / f"{name}-{counter}"
            continue
        return candidate


def write_node(node: NodeRecord) -> None:
    """Write a node's ``node.json`` into its directory (nodes that ran a process have one).

    A plain write, not an atomic one: it is small, written once, and ``run.json`` holds
    the same record in any case.
    """
    if node.directory is None:
        return
    if not node.directory.is_dir():  # a node that errored before its first attempt
        node.directory.mkdir(parents=True)
    (node.directory / "node.json").write_text(
        json.dumps(node.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def write_run_start(
    run_dir: Path, name: str, parameters: Mapping[str, str], started_at: datetime
) -> None:
    """The first ``run.json``: the run has started."""
    write_json(
        run_dir / "run.json",
        {
            "name": name,
            "status": "Running",
            "message": "",
            "parameters": dict(parameters),
            "outputs": {},
            "startedAt": started_at.isoformat(),
            "finishedAt": None,
            "duration": None,
            "runDir": str(run_dir),
            "nodes": [],
        },
    )


def write_run(run: LocalRun) -> None:
    """The final ``run.json``."""
    write_json(run.run_dir / "run.json", run.to_json())


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One line of ``python -m flowdsl runs``.

    Attributes:
        name: the run's name.
        status: ``Running`` (or interrupted), ``Succeeded``, ``Failed``, ``Error``, ``Stopped``.
        started_at: ISO 8601 start time.
        duration: seconds, when finished.
        nodes: number of nodes.
        failed: the nodes where a failure started (names without the run's).
        run_dir: the run directory.
    """

    name: str
    status: str
    started_at: str
    duration: float | None
    nodes: int
    failed: tuple[str, ...]
    run_dir: Path


def _failed(name: str, nodes: list[dict[str, Any]]) -> tuple[str, ...]:
    by_id = {node.get("id"): node for node in nodes}
    bad = {"Failed", "Error"}
    names = []
    for node in nodes:
        if node.get("phase") not in bad:
            continue
        if any(by_id.get(child, {}).get("phase") in bad for child in node.get("children") or []):
            continue
        full = str(node.get("name") or node.get("displayName"))
        names.append(full[len(name) + 1 :] if full.startswith(f"{name}.") else full)
    return tuple(names)


def list_runs(runs_root: Path = DEFAULT_RUNS_ROOT, limit: int | None = None) -> list[RunSummary]:
    """The runs recorded under ``runs_root``, most recent first.

    Directories without a readable ``run.json`` are skipped.
    """
    if not runs_root.is_dir():
        return []
    summaries = []
    for entry in runs_root.iterdir():
        path = entry / "run.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        nodes = data.get("nodes") or []
        summaries.append(
            RunSummary(
                name=str(data.get("name") or entry.name),
                status=str(data.get("status") or "?"),
                started_at=str(data.get("startedAt") or ""),
                duration=data.get("duration"),
                nodes=len(nodes),
                failed=_failed(str(data.get("name") or entry.name), nodes),
                run_dir=entry,
            )
        )
    summaries.sort(key=lambda s: s.started_at, reverse=True)
    return summaries[:limit] if limit is not None else summaries
