"""Memoization between local runs: Argo's ``memoize``, with a directory for the ConfigMap.

A template with ``memoize: {key, maxAge, cache: {configMap: {name}}}`` is looked up before it
runs, as Argo's controller does (``handleMemoization``): its key is substituted like every
field of the template (inputs, globals, ``{{=sprig.sha256sum(...)}}``), then

- a key that does not match ``^[a-zA-Z0-9][-a-zA-Z0-9]*$`` errors the node with Argo's
  ``invalid cache key: <key>`` (Argo checks it before reading the ConfigMap: dots,
  underscores and slashes are refused on a cluster too);
- ``maxAge`` is read with Go's ``time.ParseDuration``, as Argo does: ``"1h"``, ``"90s"``,
  ``"1h30m"``, but neither ``"1d"`` nor a bare ``"10"``; a bad one errors the node with
  ``invalid maxAge: time: unknown unit "d" in duration "1d"``;
- an entry younger than ``maxAge`` (any entry, without ``maxAge``) is a hit: the node does
  not run, it is ``Succeeded`` with the cached outputs (parameters, result, exit code) and
  its record says ``memoizationStatus.hit``; the entry's ``lastHitTimestamp`` is updated;
- otherwise the node runs, and if it succeeds its outputs are saved under the key (a failed
  or errored node is never cached). Its output artifacts are copied beside the entry (Argo
  keeps them in the artifact repository), and a hit copies them into the run directory; an
  entry whose artifact files are gone is a miss. Retries happen inside the node: only the
  final outcome counts.

Layout (default root ``.flowdsl/cache``, beside the runs root)::

    <cache root>/<configmap name>/<sha256 of the key>.json
        {"key": ..., "nodeID": ..., "outputs": {"parameters": [{"name", "value"}],
         "result": ..., "exitCode": "0", "artifacts": [{"name", "path"}]},
         "creationTimestamp": "2026-01-02T03:04:05Z", "lastHitTimestamp": ...}
    <cache root>/<configmap name>/<sha256 of the key>.artifacts/<name>
        each output artifact (file or directory)

which is Argo's cache entry (the value of a key in the cache ConfigMap) plus the key.
Timestamps have whole seconds, as Kubernetes stores them, so an entry can look up to a
second older than it is. Deleting a file (or the directory) forgets the entries.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from flowdsl.local.artifacts import copy_artifact
from flowdsl.local.model import Memoization
from flowdsl.local.record import write_json
from flowdsl.local.values import parse_go_duration

__all__ = ["DEFAULT_CACHE_ROOT", "CacheError", "CachedOutputs", "MemoCache"]

DEFAULT_CACHE_ROOT = Path(".flowdsl/cache")
#: Argo's cacheKeyRegex (workflow/controller/cache): what a cache key may be.
_KEY = re.compile(r"[a-zA-Z0-9][-a-zA-Z0-9]*")
#: A ConfigMap name (a DNS-1123 subdomain): also safe as a directory name.
_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")
_STAMP = "%Y-%m-%dT%H:%M:%SZ"


class CacheError(Exception):
    """A memoized node cannot use its cache; the message becomes the node's (phase Error)."""


@dataclass(frozen=True, slots=True)
class CachedOutputs:
    """What a cache entry holds of a node's outputs.

    Attributes:
        parameters: output parameters by name.
        result: ``outputs.result``, if the node had one.
        exit_code: ``outputs.exitCode``, if the node had one.
        artifacts: output artifacts by name: the stored file or directory.
    """

    parameters: Mapping[str, str] = field(default_factory=dict)
    result: str | None = None
    exit_code: int | None = None
    artifacts: Mapping[str, Path] = field(default_factory=dict)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _parse_stamp(text: Any) -> datetime:
    if not isinstance(text, str):
        raise ValueError(f"expected a timestamp, got {text!r}")
    stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)


class MemoCache:
    """The local memoization cache under ``root`` (see the module docstring).

    Args:
        root: the cache directory.
        clock: the current time (UTC); a seam for tests.
    """

    def __init__(self, root: Path, clock: Callable[[], datetime] = _now) -> None:
        self.root = root
        self.clock = clock

    def path(self, cache_name: str, key: str) -> Path:
        """The file of ``key`` in the cache ``cache_name``."""
        return self.root / cache_name / f"{hashlib.sha256(key.encode()).hexdigest()}.json"

    def lookup(self, memoize: Mapping[str, Any]) -> tuple[Memoization, CachedOutputs | None]:
        """Look a (substituted) ``memoize`` up: its status, and the outputs on a hit.

        Raises:
            CacheError: the key, the cache name or ``maxAge`` is invalid, or the entry is
                not a cache entry (Argo's messages where Argo has one).
        """
        key = str(memoize.get("key") or "")
        cache = memoize.get("cache") or {}
        cache_name = str((cache.get("configMap") or {}).get("name") or "")
        if not _KEY.fullmatch(key):
            raise CacheError(f"invalid cache key: {key}")
        if not _NAME.fullmatch(cache_name):
            raise CacheError(
                f"invalid cache name {cache_name!r}: memoize.cache.configMap.name must be a "
                "ConfigMap name (lowercase letters, digits, '-' and '.')"
            )
        max_age: float | None = None
        if memoize.get("maxAge"):
            try:
                max_age = parse_go_duration(str(memoize["maxAge"]))
            except ValueError as exc:
                raise CacheError(f"invalid maxAge: {exc}") from None
        status = Memoization(hit=False, key=key, cache_name=cache_name)
        path = self.path(cache_name, key)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return status, None
        except (OSError, ValueError) as exc:
            raise CacheError(
                f"malformed cache entry {path}: {exc} (delete the file to forget it)"
            ) from None
        try:
            if not isinstance(entry, dict) or not entry.get("nodeID"):
                return status, None  # Argo's Hit(): an entry without a node is no entry
            created = _parse_stamp(entry.get("creationTimestamp"))
            outputs = _outputs(entry.get("outputs") or {})
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            raise CacheError(
                f"malformed cache entry {path}: {exc} (delete the file to forget it)"
            ) from None
        now = self.clock()
        if max_age is not None and (now - created).total_seconds() > max_age:
            return status, None
        if not all(path.exists() for path in outputs.artifacts.values()):
            return status, None  # its artifacts were deleted: as good as no entry
        entry["lastHitTimestamp"] = now.strftime(_STAMP)
        try:
            write_json(path, entry)
        except OSError as exc:
            raise CacheError(f"error updating last hit timestamp on cache: {exc}") from None
        return Memoization(hit=True, key=key, cache_name=cache_name), outputs

    def save(self, status: Memoization, node_id: str, outputs: CachedOutputs) -> None:
        """Store a succeeded node's outputs under its key.

        Raises:
            CacheError: the entry cannot be written.
        """
        stamp = self.clock().strftime(_STAMP)
        data: dict[str, Any] = {
            "parameters": [{"name": k, "value": v} for k, v in outputs.parameters.items()]
        }
        if outputs.result is not None:
            data["result"] = outputs.result
        if outputs.exit_code is not None:
            data["exitCode"] = str(outputs.exit_code)
        if outputs.artifacts:
            directory = self.path(status.cache_name, status.key).with_suffix(".artifacts")
            kept = []
            for name, source in outputs.artifacts.items():
                try:
                    copy_artifact(source, directory / name)
                except OSError as exc:
                    raise CacheError(
                        f"could not save artifact '{name}' to the cache: {exc}"
                    ) from None
                kept.append({"name": name, "path": str(directory / name)})
            data["artifacts"] = kept
        entry = {
            "key": status.key,
            "nodeID": node_id,
            "outputs": data,
            "creationTimestamp": stamp,
            "lastHitTimestamp": stamp,
        }
        try:
            write_json(self.path(status.cache_name, status.key), entry)
        except OSError as exc:
            raise CacheError(f"could not save to the cache: {exc}") from None


def _outputs(data: Mapping[str, Any]) -> CachedOutputs:
    parameters = {
        str(param["name"]): str(param.get("value") or "") for param in data.get("parameters") or []
    }
    result = data.get("result")
    exit_code = data.get("exitCode")
    artifacts = {
        str(artifact["name"]): Path(str(artifact["path"]))
        for artifact in data.get("artifacts") or []
    }
    return CachedOutputs(
        parameters=parameters,
        result=None if result is None else str(result),
        exit_code=None if exit_code in (None, "") else int(exit_code),
        artifacts=artifacts,
    )
