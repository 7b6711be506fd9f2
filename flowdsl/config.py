"""Project configuration: ``[tool.flowdsl]`` in ``pyproject.toml``, or a file given by ``--config``.

The configuration holds project-wide option defaults, named **profiles** (sets of task
options a task picks with ``@task(profile="gpu-large")``), and the ``[tool.flowdsl.argo]``
connection table the client reads::

    [tool.flowdsl]
    image = "ghcr.io/acme/ml:1.4"
    resources = { cpu = "500m", memory = "1Gi" }

    [tool.flowdsl.profiles.gpu-large]
    resources = { cpu = "8", memory = "64Gi", gpu = 2 }
    tolerations = [{ key = "nvidia.com/gpu", operator = "Exists", effect = "NoSchedule" }]

Every TOML value is turned into the same Python value the decorators take (a table under
``resources`` becomes :class:`~flowdsl.options.Resources` ...) and checked by
:func:`flowdsl.options.check_option`, so a value is valid in the file exactly when it is
valid in code. docs/options.md gives the TOML form of each option.

Every mistake is an :class:`~flowdsl.errors.OptionError` whose ``location`` is the file and
whose message names the table (``[tool.flowdsl.profiles.gpu-large.resources]``); an unknown
key names the nearest valid one.

This module imports only the standard library and flowdsl's light modules; the TOML parser
is imported when a file is read.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn, TypeVar

from flowdsl.errors import OptionError
from flowdsl.options import (
    FLOW_OPTIONS,
    OPTIONS,
    TASK_OPTIONS,
    Backoff,
    Cache,
    ConfigMapKey,
    Resources,
    Retry,
    Secret,
    Toleration,
    Volume,
    check_option,
)

__all__ = [
    "ARGO_KEYS",
    "ProjectConfig",
    "find_pyproject",
    "load_config",
    "parse_config",
    "profile",
]

#: The keys of ``[tool.flowdsl.argo]``; the same as ``flowdsl.client.config.PROJECT_KEYS``.
ARGO_KEYS = (
    "server",
    "namespace",
    "secure",
    "insecure-skip-verify",
    "base-href",
    "request-timeout",
    "stream-timeout",
    "retries",
    "retry-backoff",
)

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class ProjectConfig:
    """The project configuration, every value checked.

    Attributes:
        path: the file it was read from; None when there was none (or it had no
            ``[tool.flowdsl]`` table).
        defaults: option name -> value, the project-wide defaults, in the same Python form
            as the decorator options after :func:`flowdsl.options.check_option` (e.g.
            ``retries`` is a :class:`~flowdsl.options.Retry`, ``timeout`` seconds).
        profiles: profile name -> task options, in the same form.
        argo: the ``[tool.flowdsl.argo]`` table as written (keys checked, values are
            checked by the client).
    """

    path: Path | None = None
    defaults: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    profiles: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: _EMPTY)
    argo: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)


def find_pyproject(start: Path | None = None) -> Path | None:
    """The nearest ``pyproject.toml`` in ``start`` (default: the current directory) or above."""
    here = (start or Path.cwd()).absolute()
    for directory in (here, *here.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_config(path: str | Path | None = None, *, start: Path | None = None) -> ProjectConfig:
    """Read and check the project configuration.

    Args:
        path: a configuration file (``--config FILE``). A file with a ``tool`` table (a
            ``pyproject.toml``) must hold ``[tool.flowdsl]``; any other TOML file is the
            ``[tool.flowdsl]`` table itself (``profiles``, ``argo`` ... at its top level).
            None: the nearest ``pyproject.toml`` from ``start`` upward, if any.
        start: where to start looking when ``path`` is None (default: the current directory).

    Returns:
        The configuration; empty when no ``pyproject.toml`` is found or it has no
        ``[tool.flowdsl]`` table.

    Raises:
        OptionError: the file cannot be read or parsed, has an unknown key, or a bad value.
    """
    if path is None:
        found = find_pyproject(start)
        if found is None:
            return ProjectConfig()
        document = _read_toml(found)
        tool = document.get("tool", {})
        if not isinstance(tool, dict) or "flowdsl" not in tool:
            return ProjectConfig()
        return parse_config(tool["flowdsl"], path=found, table="tool.flowdsl")
    file = Path(path)
    document = _read_toml(file)
    if "tool" in document:
        tool = document["tool"]
        if not isinstance(tool, dict) or "flowdsl" not in tool:
            raise OptionError(
                "the configuration file has a [tool] table but no [tool.flowdsl] table",
                fix="put the settings under [tool.flowdsl], or drop the [tool] table and write "
                "them at the top level",
                location=_display(file),
            )
        return parse_config(tool["flowdsl"], path=file, table="tool.flowdsl")
    return parse_config(document, path=file, table="")


def parse_config(
    data: Mapping[str, Any], *, path: Path | None = None, table: str = "tool.flowdsl"
) -> ProjectConfig:
    """Check an already parsed ``[tool.flowdsl]`` table and build the configuration.

    Args:
        data: the table.
        path: the file it came from, for messages.
        table: the table's dotted name in that file (``""`` for the top level), for messages.

    Raises:
        OptionError: an unknown key or a bad value.
    """
    reader = _Reader(_display(path) if path is not None else None)
    section = reader.table(data, table)
    valid = (*OPTIONS, "profiles", "argo")
    defaults: dict[str, Any] = {}
    profiles: dict[str, Mapping[str, Any]] = {}
    argo: Mapping[str, Any] = _EMPTY
    for key, value in section.items():
        if key == "profiles":
            names = reader.table(value, _join(table, "profiles"))
            for name, options in names.items():
                profiles[name] = MappingProxyType(
                    reader.options(options, _join(table, "profiles", name), TASK_OPTIONS)
                )
        elif key == "argo":
            argo = MappingProxyType(reader.argo(value, _join(table, "argo")))
        elif key in TASK_OPTIONS or key in FLOW_OPTIONS:
            defaults[key] = reader.option(key, value, table)
        else:
            reader.unknown(key, table, valid)
    return ProjectConfig(
        path=path,
        defaults=MappingProxyType(defaults),
        profiles=MappingProxyType(profiles),
        argo=argo,
    )


def profile(config: ProjectConfig, name: str) -> Mapping[str, Any]:
    """The task options of the profile ``name``.

    Raises:
        OptionError: no such profile; the message lists the defined ones, nearest first.
    """
    if name in config.profiles:
        return config.profiles[name]
    where = _display(config.path) if config.path is not None else None
    defined = sorted(
        config.profiles,
        key=lambda known: (-difflib.SequenceMatcher(None, name, known).ratio(), known),
    )
    if not defined:
        raise OptionError(
            f"profile {name!r} is not defined (no profiles are)",
            fix=f"add a [tool.flowdsl.profiles.{_toml_key(name)}] table to pyproject.toml",
            location=where,
        )
    close = difflib.get_close_matches(name, defined, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise OptionError(
        f"profile {name!r} is not defined (defined: {', '.join(defined)})",
        fix=f"{hint}use one of them or add [tool.flowdsl.profiles.{_toml_key(name)}]",
        location=where,
    )


# --------------------------------------------------------------------------------------------
# Reading TOML
# --------------------------------------------------------------------------------------------


def _read_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise OptionError(
            f"cannot read the configuration file: {reason}",
            fix="check the path given to --config",
            location=_display(path),
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise OptionError(
            f"the configuration file is not valid TOML: {exc}",
            fix="fix the TOML syntax",
            location=_display(path),
        ) from None


def _display(path: Path) -> str:
    """``path`` relative to the current directory when it is below it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)
    return str(path) if rel.startswith("..") else rel


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else f'"{key}"'


def _join(table: str, *keys: str) -> str:
    parts = [table] if table else []
    return ".".join([*parts, *(_toml_key(key) for key in keys)])


def _label(table: str) -> str:
    """How a table is named in messages: ``[tool.flowdsl.resources]``."""
    return f"[{table}]" if table else "the top level"


# The TOML form of each value class: table keys -> keyword arguments.
_RESOURCE_KEYS = (
    "cpu",
    "memory",
    "ephemeral_storage",
    "cpu_limit",
    "memory_limit",
    "ephemeral_storage_limit",
    "gpu",
    "gpu_vendor",
)
_TOLERATION_KEYS = ("key", "operator", "value", "effect", "seconds")
_RETRY_KEYS = ("limit", "policy", "backoff")
_BACKOFF_KEYS = ("duration", "factor", "max_duration")
_CACHE_KEYS = ("max_age", "version", "config_map")
#: For each volume kind: the key naming its source, then the other keys it takes.
_VOLUME_KEYS: Mapping[str, tuple[str | None, tuple[str, ...]]] = {
    "pvc": ("claim", ("name", "read_only")),
    "claim": (None, ("size", "name", "access_mode", "storage_class")),
    "empty_dir": (None, ("name", "medium", "size_limit")),
    "secret": ("secret", ("name",)),
    "config_map": ("config_map", ("name",)),
}


class _Reader:
    """Turns TOML values into option values; every error names the file and the table."""

    def __init__(self, location: str | None) -> None:
        self.location = location

    def fail(self, problem: str, fix: str) -> OptionError:
        return OptionError(problem, fix=fix, location=self.location)

    def table(self, value: object, table: str) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(
                f"{_label(table)} must be a table (got {value!r} of type {type(value).__name__})",
                fix=f"write it as [{table}] with keys under it" if table else "write a table",
            )
        return value

    def unknown(self, key: str, table: str, valid: tuple[str, ...]) -> NoReturn:
        close = difflib.get_close_matches(key, valid, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        resource = difflib.get_close_matches(key, _RESOURCE_KEYS, n=1)
        if key in FLOW_OPTIONS and ".profiles." in f".{table}":
            hint = f"{key!r} is a flow option, which a profile cannot set; "
        elif not close and resource and "resources" in valid:
            hint = (
                f"did you mean {resource[0]!r}? it belongs in the resources table: write "
                f"resources = {{ {resource[0]} = ... }}; "
            )
        raise self.fail(
            f"{_label(table)} has an unknown key {key!r}",
            fix=f"{hint}valid keys: {', '.join(valid)}",
        )

    def keys(self, value: object, table: str, valid: tuple[str, ...]) -> dict[str, Any]:
        """``value`` as a table whose keys are all in ``valid``."""
        data = self.table(value, table)
        for key in data:
            if key not in valid:
                self.unknown(key, table, valid)
        return dict(data)

    def checked(self, table: str, build: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """``build(*args, **kwargs)``, with the table named in front of its option error."""
        try:
            return build(*args, **kwargs)
        except OptionError as exc:
            raise self.fail(f"{_label(table)} {exc.problem}", fix=exc.fix or "") from None

    def options(
        self, value: object, table: str, valid: Mapping[str, Callable[[Any], Any]]
    ) -> dict[str, Any]:
        data = self.keys(value, table, tuple(valid))
        return {key: self.option(key, given, table) for key, given in data.items()}

    def option(self, key: str, value: object, table: str) -> Any:
        """The option ``key`` of ``table`` in its Python form, checked."""
        converted = self.convert(key, value, _join(table, key))
        return self.checked(table, check_option, key, converted)

    def convert(self, key: str, value: object, table: str) -> object:
        """The Python form of the TOML value of option ``key`` (checked later)."""
        if key == "resources":
            data = self.keys(value, table, _RESOURCE_KEYS)
            return self.checked(table, Resources, **data)
        if key == "tolerations":
            items = value if isinstance(value, list) else [value]
            return [
                self.checked(
                    f"{table}[{index}]",
                    Toleration,
                    **self.keys(item, f"{table}[{index}]", _TOLERATION_KEYS),
                )
                for index, item in enumerate(items)
            ]
        if key == "retries" and isinstance(value, dict):
            data = self.keys(value, table, _RETRY_KEYS)
            if "backoff" in data:
                backoff_table = _join(table, "backoff")
                spec = self.keys(data["backoff"], backoff_table, _BACKOFF_KEYS)
                data["backoff"] = self.checked(backoff_table, Backoff, **spec)
            if "limit" not in data:
                raise self.fail(
                    f"{_label(table)} has no limit", fix="write e.g. retries = { limit = 3 }"
                )
            return self.checked(table, Retry, **data)
        if key == "cache" and isinstance(value, dict):
            data = self.keys(value, table, _CACHE_KEYS)
            return self.checked(table, Cache, **data)
        if key in ("env", "secrets"):
            return self.env(key, value, table)
        if key == "volumes":
            items = value if isinstance(value, list) else [value]
            return [self.volume(item, f"{table}[{index}]") for index, item in enumerate(items)]
        return value

    def env(self, key: str, value: object, table: str) -> object:
        """Env values: text, ``{secret, key}`` or ``{config_map, key}`` tables."""
        if not isinstance(value, dict):
            return value  # check_env / check_secrets say what is wrong
        out: dict[str, object] = {}
        for name, given in value.items():
            where = _join(table, name)
            if not isinstance(given, dict):
                out[name] = given
                continue
            kinds = ("secret",) if key == "secrets" else ("secret", "config_map")
            source = next((kind for kind in kinds if kind in given), None)
            if source is None:
                example = "{ secret = 'deploy-credentials', key = 'token' }"
                raise self.fail(
                    f"{_label(where)} names no {' or '.join(kinds)}",
                    fix=f"write {name} = {example}",
                )
            spec = self.keys(given, where, (source, "key"))
            if "key" not in spec:
                raise self.fail(
                    f"{_label(where)} names no key",
                    fix=f"write {name} = {{ {source} = {spec[source]!r}, key = '...' }}",
                )
            ref: type[Secret | ConfigMapKey] = Secret if source == "secret" else ConfigMapKey
            out[name] = self.checked(where, ref, spec[source], spec["key"])
        return out

    def volume(self, value: object, table: str) -> Volume:
        data = self.table(value, table)
        kinds = tuple(_VOLUME_KEYS)
        kind = data.get("kind")
        if kind not in _VOLUME_KEYS:
            close = difflib.get_close_matches(kind, kinds, n=1) if isinstance(kind, str) else []
            hint = f"did you mean {close[0]!r}? " if close else ""
            got = "no kind" if kind is None else f"kind {kind!r}"
            raise self.fail(
                f"{_label(table)} has {got} (expected one of {', '.join(kinds)})",
                fix=f'{hint}write e.g. {{ kind = "pvc", claim = "data", mount_path = "/data" }}',
            )
        source, others = _VOLUME_KEYS[str(kind)]
        required: tuple[str, ...] = ("mount_path",) if source is None else (source, "mount_path")
        if kind == "claim":
            required = ("size", "mount_path", "name")
        elif kind == "empty_dir":
            required = ("mount_path", "name")
        valid = ("kind", *dict.fromkeys((*required, *others)))
        spec = self.keys(data, table, valid)
        missing = [key for key in required if key not in spec]
        if missing:
            raise self.fail(
                f"{_label(table)} (a {kind} volume) has no {' or '.join(missing)}",
                fix=f"write {', '.join(f'{key} = ...' for key in missing)}",
            )
        del spec["kind"]
        if kind == "pvc":
            claim = spec.pop("claim")
            return self.checked(table, Volume.pvc, claim, **spec)
        if kind == "claim":
            return self.checked(table, Volume.claim, **spec)
        if kind == "empty_dir":
            return self.checked(table, Volume.empty_dir, **spec)
        if kind == "secret":
            name = spec.pop("secret")
            return self.checked(table, Volume.secret, name, **spec)
        config_map = spec.pop("config_map")
        return self.checked(table, Volume.config_map, config_map, **spec)

    def argo(self, value: object, table: str) -> dict[str, Any]:
        data = self.table(value, table)
        if "token" in data:
            raise self.fail(
                f"{_label(table)} holds a token; pyproject.toml is committed, so a token there "
                "leaks",
                fix="remove it and set ARGO_TOKEN or pass --token-file instead",
            )
        return self.keys(data, table, ARGO_KEYS)
