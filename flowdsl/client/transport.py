"""The transport seam: how one HTTP request reaches the Argo Server.

:class:`flowdsl.client.Client` speaks to a :class:`Transport`, never to ``requests``
directly, so that retries, error mapping and streaming are tested without a network:
:class:`MockTransport` answers from a Python function, and the test suite's local Argo
Server (``tests/argo_server.py``) sits behind the real :class:`RequestsTransport`.

A transport sends once and reports what happened; it never retries. Failures that are not
an HTTP answer surface as :class:`TransportError` with a ``kind`` that tells the caller
whether the request may have reached the server, which decides whether it is safe to send
it again:

- ``"connect"``: no connection could be opened (refused, DNS, connect timeout): nothing
  was sent;
- ``"timeout"``: no answer (or no next byte of a stream) in time: the server may have
  acted;
- ``"dropped"``: the connection broke while waiting for or reading the answer: the server
  may have acted;
- ``"tls"``: the TLS handshake failed (a certificate that does not verify): retrying does
  not help;
- ``"invalid"``: the URL or a header cannot be sent at all.

``TransportError`` is internal: the client turns it into
:class:`~flowdsl.client.errors.ConnectionFailed` once its retries are spent.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    import requests

__all__ = [
    "MockResponse",
    "MockTransport",
    "Request",
    "RequestsTransport",
    "Response",
    "Transport",
    "TransportError",
    "TransportErrorKind",
]

TransportErrorKind = Literal["connect", "timeout", "dropped", "tls", "invalid"]


class TransportError(Exception):
    """A request got no HTTP answer, or its answer broke off (see the module docstring).

    Attributes:
        kind: what failed; decides whether the request may be sent again.
        detail: a short description, without the token.
    """

    def __init__(self, kind: TransportErrorKind, detail: str) -> None:
        self.kind = kind
        self.detail = detail
        super().__init__(f"{kind}: {detail}")


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request. Its ``repr`` shows the method and URL only (headers hold the token).

    Attributes:
        method: ``GET``, ``POST``, ``PUT`` ...
        url: the full URL, query included.
        headers: the request headers.
        body: the JSON body, encoded, or None.
        stream: the answer is a stream to be read line by line.
        fresh_connection: open a new connection rather than reuse a pooled one (for
            requests that must not be repeated: a pooled connection the server has closed
            fails only after the request was written).
    """

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    body: bytes | None = field(default=None, repr=False)
    stream: bool = False
    fresh_connection: bool = False

    def json(self) -> Any:
        """The body decoded from JSON (None without a body)."""
        return None if self.body is None else json.loads(self.body)


class Response(Protocol):
    """The answer to a request: status and headers at once, the body on demand."""

    @property
    def status(self) -> int:
        """The HTTP status code."""

    @property
    def reason(self) -> str:
        """The HTTP reason phrase (``Not Found``), possibly empty."""

    def read(self) -> bytes:
        """The whole body.

        Raises:
            TransportError: the connection broke or timed out while reading.
        """

    def iter_lines(self) -> Iterator[bytes]:
        """The body line by line, as it arrives (without line endings).

        Raises:
            TransportError: the connection broke or went silent for longer than the stream
                timeout.
        """

    def close(self) -> None:
        """Release the connection (a stream not read to its end is cut)."""


class Transport(Protocol):
    """Sends one request and returns its answer; never retries."""

    def send(self, request: Request, *, timeout: tuple[float, float]) -> Response:
        """Send ``request``; ``timeout`` is ``(connect, read)`` in seconds.

        Raises:
            TransportError: no HTTP answer arrived.
        """

    def close(self) -> None:
        """Release every connection."""


# --------------------------------------------------------------------------------------------
# requests
# --------------------------------------------------------------------------------------------


def _classify(exc: BaseException) -> TransportError:
    """A ``requests``/``urllib3`` exception as a :class:`TransportError`."""
    import requests
    import urllib3.exceptions as u3

    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 10:
        chain.append(seen)
        nested = [a for a in getattr(seen, "args", ()) if isinstance(a, BaseException)]
        reason = getattr(seen, "reason", None)
        seen = (
            reason
            if isinstance(reason, BaseException)
            else nested[0]
            if nested
            else seen.__cause__ or seen.__context__
        )
    detail = f"{type(chain[-1]).__name__}: {chain[-1]}"[:300]
    if any(isinstance(e, requests.exceptions.SSLError | u3.SSLError) for e in chain):
        return TransportError("tls", detail)
    if any(
        isinstance(e, requests.exceptions.ConnectTimeout | u3.ConnectTimeoutError) for e in chain
    ):
        return TransportError("connect", detail)
    if any(isinstance(e, u3.NewConnectionError | u3.NameResolutionError) for e in chain):
        return TransportError("connect", detail)
    if any(
        isinstance(e, requests.exceptions.ReadTimeout | u3.ReadTimeoutError | TimeoutError)
        for e in chain
    ):
        return TransportError("timeout", detail)
    if isinstance(
        exc,
        requests.exceptions.InvalidURL
        | requests.exceptions.InvalidSchema
        | requests.exceptions.MissingSchema
        | requests.exceptions.InvalidHeader,
    ):
        return TransportError("invalid", detail)
    return TransportError("dropped", detail)


class _RequestsResponse:
    """A :class:`Response` over a ``requests.Response``."""

    __slots__ = ("_response", "_session")

    def __init__(self, response: requests.Response, session: requests.Session | None) -> None:
        self._response = response
        self._session = session  # a one-off session, closed with the response

    @property
    def status(self) -> int:
        return int(self._response.status_code)

    @property
    def reason(self) -> str:
        return str(self._response.reason or "")

    def read(self) -> bytes:
        try:
            return bytes(self._response.content)
        except Exception as exc:
            raise _classify(exc) from None
        finally:
            self.close()

    def iter_lines(self) -> Iterator[bytes]:
        buffer = b""
        chunks = self._response.iter_content(chunk_size=None)
        while True:
            try:
                chunk = next(chunks)
            except StopIteration:
                break
            except Exception as exc:
                raise _classify(exc) from None
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                yield line.rstrip(b"\r")
        if buffer:
            yield buffer.rstrip(b"\r")

    def close(self) -> None:
        self._response.close()
        if self._session is not None:
            self._session.close()


class RequestsTransport:
    """The real transport, on a ``requests.Session``.

    The session brings a connection pool, proxies from the environment, and
    ``REQUESTS_CA_BUNDLE`` for a private certificate authority.

    Args:
        verify: check the server's TLS certificate.
    """

    def __init__(self, *, verify: bool = True) -> None:
        import requests

        self.verify = verify
        self._session = requests.Session()

    def send(self, request: Request, *, timeout: tuple[float, float]) -> Response:
        """Send ``request`` (see :meth:`Transport.send`)."""
        import requests

        session = requests.Session() if request.fresh_connection else self._session
        try:
            response = session.request(
                request.method,
                request.url,
                headers=dict(request.headers),
                data=request.body,
                timeout=timeout,
                stream=True,
                verify=self.verify,
                # A redirect would be followed with the token to wherever it points; the
                # Argo Server never redirects its API, so a redirect is reported instead.
                allow_redirects=False,
            )
        except Exception as exc:
            if session is not self._session:
                session.close()
            raise _classify(exc) from None
        return _RequestsResponse(response, session if session is not self._session else None)

    def close(self) -> None:
        """Close the connection pool."""
        self._session.close()


# --------------------------------------------------------------------------------------------
# mock
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class MockResponse:
    """A canned answer for :class:`MockTransport`.

    Args:
        status: the HTTP status.
        json: a body to encode as JSON (used when ``body`` and ``lines`` are None).
        body: the raw body.
        lines: a streamed body, one item a line; an item that is a :class:`TransportError`
            is raised when the reader gets to it (a dropped or silent stream).
        reason: the reason phrase.
    """

    status: int = 200
    json: Any = None
    body: bytes | None = None
    lines: Iterable[bytes | TransportError] | None = None
    reason: str = ""
    closed: bool = False

    def read(self) -> bytes:
        """The body (see :meth:`Response.read`)."""
        self.closed = True
        if self.body is not None:
            return self.body
        if self.lines is not None:
            return b"".join(self.iter_lines())
        return b"" if self.json is None else json.dumps(self.json).encode()

    def iter_lines(self) -> Iterator[bytes]:
        """The body line by line (see :meth:`Response.iter_lines`)."""
        source: Iterable[bytes | TransportError] = (
            self.lines if self.lines is not None else self.read().split(b"\n")
        )
        for line in source:
            if isinstance(line, TransportError):
                raise line
            yield line

    def close(self) -> None:
        """Mark the response closed."""
        self.closed = True


class MockTransport:
    """A transport that answers from a function, for tests.

    ``handler(request)`` returns a :class:`MockResponse` or raises :class:`TransportError`.

    Attributes:
        requests: every request sent, in order.
    """

    def __init__(self, handler: Callable[[Request], MockResponse]) -> None:
        self._handler = handler
        self.requests: list[Request] = []
        self.closed = False

    def send(self, request: Request, *, timeout: tuple[float, float]) -> Response:
        """Record ``request`` and return the handler's answer."""
        self.requests.append(request)
        return self._handler(request)

    def close(self) -> None:
        """Mark the transport closed."""
        self.closed = True
