"""The errors of the Argo Server client, a branch of :class:`flowdsl.errors.FlowDSLError`.

::

    FlowDSLError
    └── ClientError                 base: talking to the Argo Server went wrong
        ├── ConnectionConfigError   the connection settings are missing or invalid (nothing sent)
        ├── ConnectionFailed        the server could not be reached, or a request or stream kept
        │                           failing, after every retry
        ├── WaitTimeout             wait() or --wait gave up before the workflow finished
        └── ServerError             the server answered with an error status
            ├── AuthError           401 or 403: no token, a wrong token, or not allowed
            ├── NotFoundError       404: no such workflow or template (or it was deleted)
            ├── ConflictError       409: the name is taken by another object
            └── RejectedError       400 or 422: Argo's validation refused the request

Every message carries the server's own message when there is one, and says what to do.
The token never appears in any of them: messages are scrubbed of it (:func:`redact`) before
they are built, since a server or a proxy may echo a request header back.
"""

from __future__ import annotations

from flowdsl.errors import FlowDSLError

__all__ = [
    "AuthError",
    "ClientError",
    "ConflictError",
    "ConnectionConfigError",
    "ConnectionFailed",
    "NotFoundError",
    "RejectedError",
    "ServerError",
    "WaitTimeout",
    "redact",
]

_REDACTED = "<token>"


def redact(text: str, secret: str | None) -> str:
    """``text`` with every occurrence of ``secret`` (and of its bare token) replaced.

    Args:
        text: any text that may be shown to a user.
        secret: the ``Authorization`` value (``Bearer abc...``), or None.
    """
    if not secret or not secret.strip():
        return text
    text = text.replace(secret, _REDACTED)
    # The bare credential after the scheme ("Bearer <credential>") too, as long as it is
    # long enough not to blank out ordinary words.
    for part in secret.split()[1:]:
        if len(part) >= 4:
            text = text.replace(part, _REDACTED)
    return text


class ClientError(FlowDSLError):
    """Base of every error of the Argo Server client."""


class ConnectionConfigError(ClientError):
    """The connection settings are missing or invalid; raised before anything is sent.

    For example: no server (neither ``--server``, ``ARGO_SERVER`` nor the project
    configuration names one), an ``ARGO_SECURE`` that is not a boolean, an unreadable
    ``--token-file``, or a token in the project configuration.
    """


class ConnectionFailed(ClientError):
    """The server could not be reached, or kept failing, after every retry.

    Attributes:
        url: the server's base URL.
        attempts: how many times the request (or the stream) was tried.
    """

    def __init__(self, problem: str, *, fix: str | None, url: str, attempts: int) -> None:
        self.url = url
        self.attempts = attempts
        super().__init__(problem, fix=fix)


class WaitTimeout(ClientError):
    """Waiting for a workflow gave up before the workflow finished (it keeps running).

    Attributes:
        name: the workflow's name.
        phase: its phase when waiting stopped.
    """

    def __init__(self, problem: str, *, fix: str | None, name: str, phase: str) -> None:
        self.name = name
        self.phase = phase
        super().__init__(problem, fix=fix)


class ServerError(ClientError):
    """The Argo Server answered a request with an error status.

    Raised as such for 5xx answers that retries did not cure and for statuses without a
    subclass; the subclasses cover the statuses a user can act on.

    Attributes:
        status: the HTTP status code.
        code: the gRPC code in Argo's error body (``5`` is NotFound ...), or None.
        server_message: the server's own message (empty when it sent none).
        method: the request's HTTP method.
        path: the request's path, without the server or the query.
    """

    def __init__(
        self,
        problem: str,
        *,
        fix: str | None,
        status: int,
        code: int | None,
        server_message: str,
        method: str,
        path: str,
        flow: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.server_message = server_message
        self.method = method
        self.path = path
        super().__init__(problem, fix=fix, flow=flow)


class AuthError(ServerError):
    """401 (no token or a token the server refuses) or 403 (the token may not do this)."""


class NotFoundError(ServerError):
    """404: the workflow or template does not exist (in this namespace), or was deleted."""


class ConflictError(ServerError):
    """409: the name is taken by an object that is not the one this client created."""


class RejectedError(ServerError):
    """400 or 422: Argo's validation refused the request (its message says why)."""
