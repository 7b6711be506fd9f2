"""Values that travel as Argo artifacts (files in the artifact repository), not parameters.

Argo parameters are small strings kept in the workflow's status; large or binary data goes
through the cluster's artifact repository as files. A task parameter or return value of one
of these types is an artifact:

=====================  ===========================================================
``bytes``              the file's bytes
``pathlib.Path``       a file or a directory (the task receives a path to it; a task
                       returning a Path hands over that file or directory)
``Artifact[T]``        a value of type ``T`` (any parameter type: ``list[dict]``, a
                       dataclass ...), written to the file in its parameter text form
=====================  ===========================================================

In the pod, the runtime reads input artifacts from the paths Argo placed them at and writes
output artifacts where Argo collects them (:func:`read`, :func:`write`). Standard library and
:mod:`flowdsl.types` only: this runs in every pod.
"""

from __future__ import annotations

import pathlib
import shutil
import typing
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

__all__ = ["Artifact", "ArtifactKind", "artifact_kind", "read", "write"]

T = TypeVar("T")


class Artifact(Generic[T]):
    """Marks a value of type ``T`` that travels as a file (an Argo artifact).

    Use it in type hints only: ``def train(rows: Artifact[list[dict]]) -> Artifact[Model]``.
    The function receives and returns plain ``T`` values; flowdsl writes and reads the file.
    """

    def __init__(self) -> None:
        raise TypeError("Artifact[T] is a type hint; the task receives and returns plain T")


@dataclass(frozen=True, slots=True)
class ArtifactKind:
    """How a hinted value is stored in its artifact file.

    Attributes:
        kind: ``bytes`` (raw bytes), ``path`` (a file or directory), or ``value`` (``inner``
            encoded as its parameter text).
        inner: for ``value``, the type of the value.
    """

    kind: Literal["bytes", "path", "value"]
    inner: Any = None


def artifact_kind(annotation: Any) -> ArtifactKind | None:
    """The artifact kind of a type hint, or ``None`` when it is an ordinary parameter type."""
    if annotation is bytes:
        return ArtifactKind("bytes")
    if isinstance(annotation, type) and issubclass(annotation, pathlib.PurePath):
        return ArtifactKind("path")
    if typing.get_origin(annotation) is Artifact:
        (inner,) = typing.get_args(annotation)
        return ArtifactKind("value", inner)
    return None


def write(kind: ArtifactKind, value: Any, path: pathlib.Path) -> None:
    """Write ``value`` as the artifact file (or directory) at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind.kind == "bytes":
        if not isinstance(value, (bytes, bytearray)):
            raise TypeError(f"expected bytes, got {type(value).__name__}")
        path.write_bytes(bytes(value))
    elif kind.kind == "path":
        source = pathlib.Path(value)
        if source.is_dir():
            shutil.copytree(source, path, dirs_exist_ok=True)
        elif source.is_file():
            shutil.copyfile(source, path)
        else:
            raise FileNotFoundError(f"the returned path {str(source)!r} does not exist")
    else:
        from flowdsl.types import codec_for

        path.write_text(codec_for(kind.inner).encode(value), encoding="utf-8")


def read(kind: ArtifactKind, path: pathlib.Path) -> Any:
    """The value of the artifact Argo placed at ``path``."""
    if kind.kind == "bytes":
        return path.read_bytes()
    if kind.kind == "path":
        return path
    from flowdsl.types import codec_for

    return codec_for(kind.inner).decode(path.read_text(encoding="utf-8"))
