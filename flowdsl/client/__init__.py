"""The Argo Server client: submit flows, follow them, fetch their logs, rerun them locally.

``flowdsl.submit(flow, **params)`` (which is :func:`submit`) is the short way; a
:class:`Client` gives every operation and every setting::

    from flowdsl.client import Client, resolve_connection

    with Client(resolve_connection(namespace="ml")) as client:
        run = client.submit(nightly, {"mode": "full"})
        state = run.wait()
        if not state.ok:
            print(state.failed_nodes())

Modules::

    config      Connection, Timeouts, RetryPolicy; resolve_connection (flags, ARGO_*, pyproject)
    errors      ClientError and its subclasses (AuthError, NotFoundError ...)
    transport   the seam: Transport, RequestsTransport, MockTransport
    client      Client: REST calls with timeouts, retries, idempotent create, streams
    streams     reading event and log streams; log de-duplication across reconnections
    status      WorkflowState, NodeState, LogEntry (frozen records read from the server)
    submission  submit, Submission (wait, status, logs, result ...), parameter checks
    render      text views for the CLI (get, list, watch, failures)
    debug       rerun a cluster workflow or one task with the local engine
    commands    the CLI commands (submit, register, get, list, watch, logs, stop ...)

Importing this package is light (no ``requests``, no Hera): names load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from flowdsl.client.errors import (
    AuthError,
    ClientError,
    ConflictError,
    ConnectionConfigError,
    ConnectionFailed,
    NotFoundError,
    RejectedError,
    ServerError,
    WaitTimeout,
)

if TYPE_CHECKING:
    from flowdsl.client.client import Client
    from flowdsl.client.config import Connection, RetryPolicy, Timeouts, resolve_connection
    from flowdsl.client.status import LogEntry, NodeState, WorkflowState
    from flowdsl.client.submission import Submission, submit
    from flowdsl.client.transport import MockResponse, MockTransport, Transport

__all__ = [
    "AuthError",
    "Client",
    "ClientError",
    "ConflictError",
    "Connection",
    "ConnectionConfigError",
    "ConnectionFailed",
    "LogEntry",
    "MockResponse",
    "MockTransport",
    "NodeState",
    "NotFoundError",
    "RejectedError",
    "RetryPolicy",
    "ServerError",
    "Submission",
    "Timeouts",
    "Transport",
    "WaitTimeout",
    "WorkflowState",
    "resolve_connection",
    "submit",
]

_LAZY = {
    "Client": "flowdsl.client.client",
    "Connection": "flowdsl.client.config",
    "RetryPolicy": "flowdsl.client.config",
    "Timeouts": "flowdsl.client.config",
    "resolve_connection": "flowdsl.client.config",
    "LogEntry": "flowdsl.client.status",
    "NodeState": "flowdsl.client.status",
    "WorkflowState": "flowdsl.client.status",
    "Submission": "flowdsl.client.submission",
    "submit": "flowdsl.client.submission",
    "MockResponse": "flowdsl.client.transport",
    "MockTransport": "flowdsl.client.transport",
    "Transport": "flowdsl.client.transport",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flowdsl.client' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
