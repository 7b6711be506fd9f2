"""Where the Argo Server is and how to talk to it: :class:`Connection`.

Settings come from four places; the first that sets a value wins:

1. command-line flags (``--server``, ``--namespace``, ``--token-file``, ``--secure`` /
   ``--no-secure``, ``--insecure-skip-verify``, ``--base-href``, ``--request-timeout``), or
   the keyword arguments of :func:`resolve_connection`;
2. the environment variables of the ``argo`` CLI: ``ARGO_SERVER`` (``host:port``),
   ``ARGO_SECURE`` (https unless ``false``), ``ARGO_INSECURE_SKIP_VERIFY``,
   ``ARGO_BASE_HREF``, ``ARGO_TOKEN`` (sent as given, e.g. ``Bearer ...``),
   ``ARGO_NAMESPACE``;
3. the project configuration, the ``[tool.flowdsl.argo]`` table of the nearest
   ``pyproject.toml`` (``server``, ``namespace``, ``secure``, ``insecure-skip-verify``,
   ``base-href``, ``request-timeout``, and the tuning keys ``stream-timeout``, ``retries``,
   ``retry-backoff``). It never holds the token: a ``token`` key there is an error, since
   pyproject.toml is committed;
4. defaults: https, TLS verification on, namespace ``default``.

This module imports only the standard library: the CLI resolves the connection before it
pays for ``requests``.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowdsl.client.errors import ConnectionConfigError

__all__ = [
    "DEFAULT_NAMESPACE",
    "PROJECT_KEYS",
    "Connection",
    "RetryPolicy",
    "Timeouts",
    "project_settings",
    "resolve_connection",
]

DEFAULT_NAMESPACE = "default"
#: The keys the ``[tool.flowdsl.argo]`` table may hold.
PROJECT_KEYS = (
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
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


@dataclass(frozen=True, slots=True)
class Timeouts:
    """How long to wait, in seconds.

    Attributes:
        connect: to open a connection.
        read: for the answer to a request (between two bytes of it).
        stream: of silence on an event or log stream before it counts as dropped and is
            reopened. The Argo Server sends a keep-alive every 15 s on the streams this
            client opens, so the default leaves room for four of them.
    """

    connect: float = 10.0
    read: float = 30.0
    stream: float = 60.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How failed requests are tried again.

    A request is retried when the connection fails or times out, or the server answers
    429 or 5xx; a request that is not safe to repeat only when the connection could not
    be opened (nothing reached the server). The wait before attempt ``n`` (from 1) is
    ``min(backoff * 2 ** (n - 1), max_backoff)``, with up to 25% random jitter.

    Attributes:
        attempts: how many times a request is sent at most (1: no retry).
        backoff: the first wait, in seconds.
        max_backoff: the longest wait, in seconds.
    """

    attempts: int = 4
    backoff: float = 0.5
    max_backoff: float = 8.0

    def delay(self, attempt: int) -> float:
        """The wait before retry number ``attempt`` (1 for the first retry), no jitter."""
        return float(min(self.backoff * 2 ** max(attempt - 1, 0), self.max_backoff))


@dataclass(frozen=True, slots=True)
class Connection:
    """How to reach one Argo Server. The token is never shown (not even in ``repr``).

    Attributes:
        url: the server's base URL, ending with ``/`` (``https://argo.example:2746/`` or,
            with a base href, ``https://example.com/argo/``).
        namespace: the namespace workflows are submitted to and looked up in.
        token: the ``Authorization`` header value, sent as given (``Bearer ...``), or None.
        verify: whether the server's TLS certificate is checked.
        timeouts: connect, read and stream timeouts.
        retry: the retry policy.
        sources: where each setting came from (``"--server"``, ``"ARGO_SERVER"``,
            ``"pyproject.toml"``, ``"default"``), for messages.
    """

    url: str
    namespace: str = DEFAULT_NAMESPACE
    token: str | None = field(default=None, repr=False)
    verify: bool = True
    timeouts: Timeouts = Timeouts()
    retry: RetryPolicy = RetryPolicy()
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.url.endswith("/"):
            object.__setattr__(self, "url", self.url + "/")

    @property
    def has_token(self) -> bool:
        """Whether a token is sent."""
        return bool(self.token)

    def ui_url(self, name: str) -> str:
        """The Argo UI page of the workflow ``name``."""
        return f"{self.url}workflows/{self.namespace}/{name}"

    def replace(self, **changes: Any) -> Connection:
        """A copy with some fields changed (e.g. ``namespace=...``)."""
        return dataclasses.replace(self, **changes)


def resolve_connection(
    *,
    server: str | None = None,
    namespace: str | None = None,
    token_file: str | None = None,
    secure: bool | None = None,
    insecure_skip_verify: bool | None = None,
    base_href: str | None = None,
    request_timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    project_dir: str | Path | None = None,
    retry: RetryPolicy | None = None,
    timeouts: Timeouts | None = None,
) -> Connection:
    """Combine flags, environment and project configuration into a :class:`Connection`.

    Args:
        server: ``host:port`` (or a full ``https://host:port`` URL), like ``ARGO_SERVER``.
        namespace: like ``ARGO_NAMESPACE``.
        token_file: a file holding the ``Authorization`` value; overrides ``ARGO_TOKEN``.
        secure: https (True) or http (False), like ``ARGO_SECURE``.
        insecure_skip_verify: True skips TLS verification, like ``ARGO_INSECURE_SKIP_VERIFY``.
        base_href: a path prefix in front of ``/api/v1``, like ``ARGO_BASE_HREF``.
        request_timeout: the read timeout of one request, in seconds.
        env: the environment (default ``os.environ``).
        project_dir: where to start looking for ``pyproject.toml`` (default: the current
            directory, then its parents).
        retry: the retry policy (default :class:`RetryPolicy()`).
        timeouts: the timeouts (default :class:`Timeouts()`); ``request_timeout`` overrides
            their ``read`` value.

    Raises:
        ConnectionConfigError: no server is configured, or a setting is invalid.
    """
    environ = os.environ if env is None else env
    project, project_file = project_settings(project_dir)
    sources: dict[str, str] = {}

    def pick(name: str, flag: str, flag_value: Any, env_name: str | None, key: str) -> Any:
        if flag_value is not None:
            sources[name] = flag
            return flag_value
        env_value = environ.get(env_name) if env_name else None
        if env_name and env_value:
            sources[name] = env_name
            return env_value
        if key in project:
            sources[name] = str(project_file)
            return project[key]
        return None

    raw_server = pick("server", "--server", server, "ARGO_SERVER", "server")
    if raw_server is None:
        raise ConnectionConfigError(
            "no Argo Server is configured",
            fix="set ARGO_SERVER=host:port (e.g. localhost:2746), pass --server, or add "
            "server = '...' under [tool.flowdsl.argo] in pyproject.toml",
        )
    server_text = _text(raw_server, "server", sources["server"]).strip()
    is_secure = _boolean(
        pick("secure", "--secure", secure, "ARGO_SECURE", "secure"), "secure", sources, True
    )
    skip_verify = _boolean(
        pick(
            "insecure-skip-verify",
            "--insecure-skip-verify",
            insecure_skip_verify,
            "ARGO_INSECURE_SKIP_VERIFY",
            "insecure-skip-verify",
        ),
        "insecure-skip-verify",
        sources,
        False,
    )
    href = pick("base-href", "--base-href", base_href, "ARGO_BASE_HREF", "base-href")
    href_text = "" if href is None else _text(href, "base-href", sources["base-href"])
    url = _base_url(server_text, is_secure, href_text, sources["server"])
    ns = pick("namespace", "--namespace", namespace, "ARGO_NAMESPACE", "namespace")
    if ns is None:
        sources["namespace"] = "default"
        ns = DEFAULT_NAMESPACE
    ns = _text(ns, "namespace", sources["namespace"]).strip()
    if not ns:
        raise ConnectionConfigError(
            f"the namespace from {sources['namespace']} is empty",
            fix="name a namespace, e.g. --namespace argo",
        )
    token = _token(token_file, environ, sources)
    chosen = timeouts or Timeouts()
    timeout = pick("request-timeout", "--request-timeout", request_timeout, None, "request-timeout")
    if timeout is not None:
        chosen = dataclasses.replace(
            chosen, read=_seconds(timeout, "request-timeout", sources["request-timeout"])
        )
    if timeouts is None and "stream-timeout" in project:
        sources["stream-timeout"] = str(project_file)
        stream = _seconds(project["stream-timeout"], "stream-timeout", str(project_file))
        chosen = dataclasses.replace(chosen, stream=stream)
    policy = retry or RetryPolicy()
    if retry is None and "retries" in project:
        attempts = project["retries"]
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0:
            raise ConnectionConfigError(
                f"retries from {project_file} must be a whole number >= 0 (got {attempts!r})",
                fix="use e.g. retries = 3",
            )
        policy = dataclasses.replace(policy, attempts=attempts + 1)
    if retry is None and "retry-backoff" in project:
        backoff = _seconds(project["retry-backoff"], "retry-backoff", str(project_file))
        policy = dataclasses.replace(policy, backoff=backoff)
    return Connection(
        url=url,
        namespace=ns,
        token=token,
        verify=not skip_verify,
        timeouts=chosen,
        retry=policy,
        sources=sources,
    )


def project_settings(start: str | Path | None = None) -> tuple[dict[str, Any], Path | None]:
    """The ``[tool.flowdsl.argo]`` table of the nearest ``pyproject.toml``, and that file.

    Raises:
        ConnectionConfigError: the file does not parse, the table holds a token, an unknown
            key, or is not a table.
    """
    path = _find_pyproject(Path(start) if start is not None else Path.cwd())
    if path is None:
        return {}, None
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConnectionConfigError(
            f"cannot read {path}: {exc}", fix="fix the file", location=str(path)
        ) from None
    table = data.get("tool", {}).get("flowdsl", {}).get("argo", {})
    if not isinstance(table, dict):
        raise ConnectionConfigError(
            f"[tool.flowdsl] argo must be a table (got {type(table).__name__})",
            fix="write the settings under a [tool.flowdsl.argo] header",
            location=str(path),
        )
    if "token" in table:
        raise ConnectionConfigError(
            "[tool.flowdsl.argo] holds a token; pyproject.toml is committed, so a token "
            "there leaks",
            fix="remove it and set ARGO_TOKEN or pass --token-file instead",
            location=str(path),
        )
    for key in table:
        if key not in PROJECT_KEYS:
            close = difflib.get_close_matches(key, PROJECT_KEYS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConnectionConfigError(
                f"[tool.flowdsl.argo] has an unknown key {key!r} (known: "
                f"{', '.join(PROJECT_KEYS)})",
                fix=f"{hint}remove or rename it",
                location=str(path),
            )
    return dict(table), path


def _find_pyproject(start: Path) -> Path | None:
    for directory in (start.absolute(), *start.absolute().parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def _text(value: Any, name: str, source: str) -> str:
    if not isinstance(value, str):
        raise ConnectionConfigError(
            f"{name} from {source} must be a string (got {value!r})",
            fix=f"write {name} as text",
        )
    return value


def _boolean(value: Any, name: str, sources: Mapping[str, str], default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ConnectionConfigError(
        f"{name} from {sources[name]} must be true or false (got {value!r})",
        fix="use true or false",
    )


def _seconds(value: Any, name: str, source: str) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if isinstance(value, bool) or not math.isfinite(seconds) or seconds <= 0:
        raise ConnectionConfigError(
            f"{name} from {source} must be a positive number of seconds (got {value!r})",
            fix="use e.g. 30",
        )
    return seconds


def _base_url(server: str, secure: bool, base_href: str, source: str) -> str:
    scheme = "https" if secure else "http"
    rest = server
    if "://" in server:
        # A full URL is accepted too; its scheme wins over ARGO_SECURE.
        scheme, _, rest = server.partition("://")
        scheme = scheme.lower()
        if scheme not in ("http", "https"):
            raise ConnectionConfigError(
                f"server {server!r} from {source} has scheme {scheme!r} (expected http or https)",
                fix="write host:port, e.g. localhost:2746",
            )
    host, slash, path = rest.partition("/")
    if not host or any(c.isspace() for c in host) or "@" in host:
        raise ConnectionConfigError(
            f"server {server!r} from {source} is not host:port",
            fix="write host:port, e.g. localhost:2746",
        )
    parts = [part for part in f"{path if slash else ''}/{base_href}".split("/") if part]
    prefix = "/" + "".join(f"{part}/" for part in parts)
    return f"{scheme}://{host}{prefix}"


def _token(
    token_file: str | None, environ: Mapping[str, str], sources: dict[str, str]
) -> str | None:
    if token_file is not None:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ConnectionConfigError(
                f"cannot read the token file {token_file!r}: {reason}",
                fix="check the path given to --token-file",
            ) from None
        if not token:
            raise ConnectionConfigError(
                f"the token file {token_file!r} is empty",
                fix="write the token (e.g. the output of `argo auth token`) into it",
            )
        sources["token"] = "--token-file"
    else:
        token = environ.get("ARGO_TOKEN", "").strip()
        if not token:
            return None
        sources["token"] = "ARGO_TOKEN"
    if any(c in token for c in "\r\n\0"):
        # Never echo the value: say only where it came from.
        raise ConnectionConfigError(
            f"the token from {sources['token']} holds a line break or NUL character",
            fix="keep the token on one line",
        )
    return token
