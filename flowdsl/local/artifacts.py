"""Artifacts, locally: files and directories handed between nodes through the run directory.

On a cluster, Argo's wait container uploads each output artifact to the artifact repository
and the next pod's init container downloads it to its input path. Locally the run directory
is the repository:

- an output artifact's ``path`` is re-rooted like an output parameter's (NOTE: [Paths] in
  :mod:`flowdsl.local.process`); when the command exits 0, the file or directory found
  there is copied to ``<run dir>/artifacts/<node id>/<name>`` (a directory is copied as a
  tree where Argo would tar it) and becomes ``tasks.X.outputs.artifacts.NAME`` (or
  ``steps.X...``). Nothing there fails the node (phase ``Error``, Argo's "failed to save
  outputs") unless the artifact is ``optional``;
- an input artifact is copied to its re-rooted ``path`` before the command starts. Its
  source is the caller's argument (``from`` or ``fromExpression``, substituted like any
  field, or ``raw``), else the input's own ``raw``; ``raw.data`` is first written to
  ``<run dir>/artifacts/raw/<node id>/<name>``. ``subPath`` picks a path inside a directory
  artifact, ``mode`` sets the permissions of the files placed;
- a DAG or steps template's ``outputs.artifacts[].from`` hands up a task's or step's
  artifact (the same stored path, not a copy); ``globalName`` publishes an output artifact as
  ``workflow.outputs.artifacts.NAME``.

In a scope, an artifact's value is the absolute path of its stored copy, and a ``from``
must substitute to one of the run's stored artifacts. One that stays unresolved (the task
was skipped, omitted or failed, or its optional output was not produced) errors the node
with Argo's ``Unable to resolve: {{...}}`` unless the argument is ``optional``; an input
left with no source errors it with ``inputs.artifacts.NAME was not supplied`` unless the
input is ``optional``.

Not done locally (a cluster's concern, see :mod:`flowdsl.local.manifest`): ``archive``,
``archiveLogs``, ``artifactGC``, ``recurseMode`` and ``spec.artifactRepositoryRef`` are
ignored; an explicit location (:data:`LOCATIONS`: ``s3``, ``gcs``, ...) refuses the run, as
does a reference to a looped task's or step's artifact from outside the loop (Argo does
not aggregate a loop's artifacts).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "LOCATIONS",
    "ArtifactIn",
    "ArtifactOut",
    "copy_artifact",
    "place_inputs",
    "store_outputs",
]

#: The keys of an artifact that name a place in a repository or a server (Argo's
#: ArtifactLocation minus ``raw``): none of them can be reached from a local run.
LOCATIONS = ("s3", "gcs", "azure", "http", "git", "hdfs", "oss", "artifactory", "plugin")


@dataclass(frozen=True, slots=True)
class ArtifactIn:
    """One input artifact of an attempt.

    Attributes:
        name: the input artifact's name.
        declared: its path as the template declares it (for messages).
        path: where it is placed locally (the re-rooted path).
        source: the stored artifact (file or directory) to copy there.
        mode: the permissions of the files placed (``mode``), if given.
    """

    name: str
    declared: str
    path: Path
    source: Path
    mode: int | None = None


@dataclass(frozen=True, slots=True)
class ArtifactOut:
    """One output artifact of an attempt.

    Attributes:
        name: the output artifact's name.
        declared: its path as the template declares it (for messages).
        path: where the command writes it locally (the re-rooted path).
        optional: whether a missing file is fine (``optional: true``).
        store: where it is kept in the run directory when the command succeeds.
    """

    name: str
    declared: str
    path: Path
    optional: bool
    store: Path


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def copy_artifact(source: Path, target: Path) -> None:
    """Copy a file or a directory tree to ``target``, replacing whatever is there.

    Symbolic links inside a directory are copied as links (as a tar archive keeps them).

    Raises:
        OSError: the source cannot be read or the target written.
    """
    _remove(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, symlinks=True)
    else:
        shutil.copyfile(source, target)
        shutil.copymode(source, target)


def _chmod(path: Path, mode: int) -> None:
    if path.is_dir():
        for root, _, files in os.walk(path):
            for name in files:
                Path(root, name).chmod(mode & 0o777)
    else:
        path.chmod(mode & 0o777)


def place_inputs(inputs: Sequence[ArtifactIn]) -> str | None:
    """Copy an attempt's input artifacts to their paths; the first problem, if any."""
    for artifact in inputs:
        try:
            copy_artifact(artifact.source, artifact.path)
            if artifact.mode is not None and artifact.mode > 0:
                _chmod(artifact.path, artifact.mode)
        except OSError as exc:
            return (
                f"cannot place input artifact '{artifact.name}' at {artifact.declared} "
                f"(locally {artifact.path}): {exc.strerror or exc}"
            )
    return None


def store_outputs(outputs: Sequence[ArtifactOut]) -> tuple[dict[str, Path], list[str], str | None]:
    """Keep an attempt's output artifacts in the run directory.

    Returns:
        The stored artifacts by name, the names of the non-optional ones the command did
        not write, and the first copy problem, if any.
    """
    stored: dict[str, Path] = {}
    missing: list[str] = []
    for artifact in outputs:
        if not artifact.path.exists():
            if not artifact.optional:
                missing.append(artifact.name)
            continue
        try:
            copy_artifact(artifact.path, artifact.store)
        except OSError as exc:
            return (
                stored,
                missing,
                f"failed to save outputs: output artifact '{artifact.name}' at "
                f"{artifact.declared} (locally {artifact.path}): {exc.strerror or exc}",
            )
        stored[artifact.name] = artifact.store
    return stored, missing, None
