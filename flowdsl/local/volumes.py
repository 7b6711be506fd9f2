"""Volumes, locally: every mount path of a container becomes a directory on this machine.

A container's ``volumeMounts`` name volumes declared by its template (``volumes``), by the
workflow (``spec.volumes``) or as claims (``spec.volumeClaimTemplates``), looked up in that
order as Argo does (``addVolumeReferences``). Each mount path is mapped to a local
directory and re-rooted in the command, args, env values, script source and
``workingDir`` like the output paths are (NOTE: [Paths] in :mod:`flowdsl.local.process`):
``/data/in.csv`` in a command under a mount of ``/data`` becomes ``<local dir>/in.csv``.
An output parameter whose ``valueFrom.path`` lies under a mount is read from the volume.

Emulated:

- ``emptyDir``: a fresh, empty directory for each attempt (a retry is a new pod),
  ``<attempt dir>/volumes/<volume>``;
- ``persistentVolumeClaim {claimName}`` and ``volumeClaimTemplates``: one directory per
  claim per run, ``<run dir>/volumes/<claim>``, shared by every node of the run, so tasks
  pass files through a shared claim as they do on a cluster (a claim does not outlive the
  run locally: each run starts with empty claims);
- ``secret`` and ``configMap``: a directory with one file per key (``items`` choose keys
  and paths; without ``items``, every key found locally), values looked up as in
  :mod:`flowdsl.local.sources`; ``defaultMode``/``items[].mode`` are applied, and a
  Secret's directory is private and deleted when the attempt ends, so no secret stays in
  the run directory;
- ``subPath``: the mount is that path inside the volume (a file, for a key of a Secret or
  ConfigMap).

Not emulated: ``readOnly`` (nothing stops a write), ``subPathExpr``, ``mountPropagation``,
size limits and ``medium: Memory``, access modes and storage classes. Any other kind of
volume (``hostPath``, ``nfs``, ``projected``, ``downwardAPI``, ``csi``, ...) that a container
mounts refuses the run before it starts, as does a mount of ``/``, a mount naming no
volume, or two mounts at one path. Volumes nobody mounts are ignored.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from flowdsl.errors import RunError
from flowdsl.local.manifest import Spec, leaf_templates
from flowdsl.local.sources import Kind, Masker, MissingValue, Sources

__all__ = [
    "EMULATED",
    "AttemptVolumes",
    "Mount",
    "attempt_volumes",
    "check_volumes",
    "claim_names",
    "remove_private",
]

#: The volume sources the local engine provides (plus volumeClaimTemplates).
EMULATED = ("emptyDir", "persistentVolumeClaim", "secret", "configMap")
_FIX = (
    "run it on Argo instead, or use an emptyDir, persistentVolumeClaim, secret or configMap volume"
)


@dataclass(frozen=True, slots=True)
class Mount:
    """One mount of an attempt.

    Attributes:
        path: the mount path in the container (absolute, normalised).
        local: the directory (or file, for a ``subPath`` key) that stands for it here.
    """

    path: str
    local: Path


@dataclass(frozen=True, slots=True)
class AttemptVolumes:
    """The volumes of one attempt.

    Attributes:
        mounts: what each mount path is locally.
        private: directories holding secrets, to delete when the attempt ends.
    """

    mounts: tuple[Mount, ...] = ()
    private: tuple[Path, ...] = ()


def claim_names(spec: Mapping[str, Any]) -> list[str]:
    """The names of a workflow spec's ``volumeClaimTemplates``."""
    return [
        str((claim.get("metadata") or {}).get("name"))
        for claim in spec.get("volumeClaimTemplates") or []
        if (claim.get("metadata") or {}).get("name")
    ]


def _source(volume: Mapping[str, Any]) -> str:
    for key in volume:
        if key != "name":
            return str(key)
    return "unknown"


def _find(
    name: str,
    template: Mapping[str, Any],
    workflow_volumes: Sequence[Mapping[str, Any]],
    claims: Sequence[str],
) -> Mapping[str, Any] | None:
    volume: Mapping[str, Any]
    for volume in [*(template.get("volumes") or []), *workflow_volumes]:
        if volume.get("name") == name:
            return volume
    if name in claims:
        return {"name": name, "persistentVolumeClaim": {"claimName": name}}
    return None


def check_volumes(spec: Spec, sources: Sources, masker: Masker, flow_name: str) -> list[str]:
    """Refuse mounts the engine cannot provide, before anything runs.

    Also looks up the values of Secret and ConfigMap volumes whose names are known before
    the run (telling ``masker`` about the secret ones).

    Returns:
        A note for the run's output when some container mounts a volume, else nothing.

    Raises:
        RunError: a mount names no volume, a volume of a kind that is not emulated, ``/``,
            a path mounted twice, ``subPathExpr``, or a Secret or ConfigMap value is missing.
    """
    workflow_volumes = list(spec.spec.get("volumes") or [])
    claims = claim_names(spec.spec)
    mounted = False
    for name, template, kind in leaf_templates(spec):
        body = template[kind]
        seen: dict[str, str] = {}
        for index, mount in enumerate(body.get("volumeMounts") or []):
            mounted = True
            where = f"template '{name}': {kind}.volumeMounts[{index}]"
            volume_name = str(mount.get("name"))
            path = str(mount.get("mountPath") or "")
            if "{{" not in path:
                normal = str(PurePosixPath(path))
                if not path.startswith("/") or normal == "/":
                    raise RunError(
                        f"{where}: mount path {path!r} cannot be emulated (it must be an "
                        "absolute path below '/')",
                        fix="mount the volume at a directory such as /data",
                        flow=flow_name,
                    )
                if normal in seen:
                    raise RunError(
                        f"{where}: volumes '{seen[normal]}' and '{volume_name}' are both mounted "
                        f"at {normal}",
                        fix="give each volume its own mount path",
                        flow=flow_name,
                    )
                seen[normal] = volume_name
            if mount.get("subPathExpr"):
                raise RunError(
                    f"{where}: field 'subPathExpr' is not supported by the local engine",
                    fix="use subPath",
                    flow=flow_name,
                )
            if "{{" in volume_name:
                continue
            volume = _find(volume_name, template, workflow_volumes, claims)
            if volume is None:
                raise RunError(
                    f"{where}: volume '{volume_name}' not found in the template's volumes, "
                    "spec.volumes or spec.volumeClaimTemplates",
                    fix="declare the volume or fix the name",
                    flow=flow_name,
                )
            source = _source(volume)
            if source not in EMULATED:
                raise RunError(
                    f"template '{name}': volume '{volume_name}' is a {source} volume, which the "
                    f"local engine does not emulate (it emulates {', '.join(EMULATED)} and "
                    "volumeClaimTemplates)",
                    fix=_FIX,
                    flow=flow_name,
                )
            if source in ("secret", "configMap") and "{{" not in str(volume[source]):
                try:
                    _object_files(volume_name, source, volume[source], sources, masker)
                except MissingValue as exc:
                    raise RunError(
                        f"template '{name}': {exc.problem}", fix=exc.fix, flow=flow_name
                    ) from None
                except ValueError as exc:
                    raise RunError(
                        f"template '{name}': {exc}", fix="fix the volume's items", flow=flow_name
                    ) from None
    if not mounted:
        return []
    return [
        "volumes are local directories: claims under <run dir>/volumes/ shared by the run, "
        "emptyDir fresh per attempt, Secrets and ConfigMaps as files (readOnly not enforced)"
    ]


def _object_files(
    volume_name: str,
    source: str,
    ref: Mapping[str, Any],
    sources: Sources,
    masker: Masker,
) -> dict[str, tuple[str, int | None]]:
    """The files of a Secret or ConfigMap volume: relative path -> (text, mode)."""
    kind: Kind = "Secret" if source == "secret" else "ConfigMap"
    name = str(ref.get("secretName") if source == "secret" else ref.get("name") or "")
    optional = bool(ref.get("optional"))
    what = f"volume '{volume_name}'"
    files: dict[str, tuple[str, int | None]] = {}
    items = ref.get("items") or []
    if items:
        for item in items:
            key = str(item.get("key"))
            relative = PurePosixPath(str(item.get("path") or key))
            if relative.is_absolute() or ".." in relative.parts:
                raise ValueError(
                    f"{what}: items path {str(relative)!r} must be relative, without '..'"
                )
            found = sources.lookup(name, key)
            if found is None:
                if optional:
                    continue
                raise sources.missing_key(what, kind, name, key)
            files[str(item.get("path") or key)] = (found.value, item.get("mode"))
            if kind == "Secret":
                masker.add(found.value)
        return files
    whole = sources.whole(name)
    if not whole and not optional:
        raise sources.missing_object(what, kind, name)
    for key, found in whole.items():
        files[key] = (found.value, None)
        if kind == "Secret":
            masker.add(found.value)
    return files


def attempt_volumes(
    template: Mapping[str, Any],
    kind: str,
    *,
    workflow_volumes: Sequence[Mapping[str, Any]],
    claims: Sequence[str],
    run_dir: Path,
    attempt_dir: Path,
    sources: Sources,
    masker: Masker,
) -> AttemptVolumes:
    """Create the directories of one attempt's mounts (see the module docstring).

    Raises:
        MissingValue: a Secret or ConfigMap value is missing (a name known only now).
        ValueError: a mount names a volume that does not exist or cannot be emulated (a
            name known only now).
        OSError: a directory or file cannot be created.
    """
    body = template[kind]
    mounts: list[Mount] = []
    private: list[Path] = []
    made: dict[str, Path] = {}
    try:
        for mount in body.get("volumeMounts") or []:
            volume_name = str(mount.get("name"))
            volume = _find(volume_name, template, workflow_volumes, claims)
            if volume is None:
                raise ValueError(f"volume '{volume_name}' not found in workflow spec")
            source = _source(volume)
            if source not in EMULATED:
                raise ValueError(f"volume '{volume_name}' is a {source} volume: not emulated")
            base = made.get(volume_name)
            if base is None:
                base = _make(volume_name, source, volume, run_dir, attempt_dir, sources, masker)
                if source == "secret":
                    private.append(base)
                made[volume_name] = base
            local = base
            sub_path = str(mount.get("subPath") or "")
            if sub_path:
                local = base.joinpath(*PurePosixPath(sub_path).parts)
                if source in ("emptyDir", "persistentVolumeClaim"):
                    local.mkdir(parents=True, exist_ok=True)
            mounts.append(Mount(str(PurePosixPath(str(mount.get("mountPath")))), local))
    except BaseException:
        remove_private(private)
        raise
    return AttemptVolumes(tuple(mounts), tuple(private))


def _make(  # noqa: PLR0917 - a private helper of attempt_volumes, called once
    volume_name: str,
    source: str,
    volume: Mapping[str, Any],
    run_dir: Path,
    attempt_dir: Path,
    sources: Sources,
    masker: Masker,
) -> Path:
    spec = volume[source] or {}
    if source == "persistentVolumeClaim":
        claim = str(spec.get("claimName") or volume_name)
        directory = run_dir / "volumes" / claim
        directory.mkdir(parents=True, exist_ok=True)
        return directory
    if source == "emptyDir":
        directory = attempt_dir / "volumes" / volume_name
        directory.mkdir(parents=True, exist_ok=True)
        return directory
    files = _object_files(volume_name, source, spec, sources, masker)
    if source == "secret":
        # Outside the run directory, readable by this user only, gone after the attempt.
        directory = Path(tempfile.mkdtemp(prefix=f"flowdsl-secret-{volume_name}-"))
    else:
        directory = attempt_dir / "volumes" / volume_name
        directory.mkdir(parents=True, exist_ok=True)
    default_mode = spec.get("defaultMode")
    for relative, (text, mode) in files.items():
        path = directory.joinpath(*PurePosixPath(relative).parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        chosen = mode if mode is not None else default_mode
        if isinstance(chosen, int) and chosen > 0:
            path.chmod(chosen & 0o777)
    return directory


def remove_private(directories: Sequence[Path]) -> None:
    """Delete the private (secret) directories of an attempt; missing ones are fine."""
    for directory in directories:
        shutil.rmtree(directory, ignore_errors=True)
