"""The transport seam: the requests transport's failure kinds, and the mock transport."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from argo_server import ArgoServer, serve

from flowdsl.client.transport import (
    MockResponse,
    MockTransport,
    Request,
    RequestsTransport,
    TransportError,
)


@pytest.fixture
def argo_server() -> Iterator[ArgoServer]:
    yield from serve()


def get(url: str, *, stream: bool = False) -> Request:
    return Request("GET", url, headers={"Authorization": "Bearer s3cr3t"}, stream=stream)


class TestRequestsTransport:
    def test_refused_is_connect(self) -> None:
        """Nothing listening: kind 'connect' (nothing was sent)."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        transport = RequestsTransport()
        with pytest.raises(TransportError) as info:
            transport.send(get(f"http://127.0.0.1:{port}/"), timeout=(1, 1))
        transport.close()
        assert info.value.kind == "connect"

    def test_drop_is_dropped(self, argo_server: ArgoServer) -> None:
        """The server closes without answering: kind 'dropped' (it may have acted)."""
        argo_server.drop()
        transport = RequestsTransport()
        with pytest.raises(TransportError) as info:
            transport.send(get(argo_server.url + "api/v1/workflows/argo"), timeout=(1, 1))
        transport.close()
        assert info.value.kind == "dropped"

    def test_slow_is_timeout(self, argo_server: ArgoServer) -> None:
        """No answer within the read timeout: kind 'timeout'."""
        argo_server.slow(0.5)
        transport = RequestsTransport()
        with pytest.raises(TransportError) as info:
            transport.send(get(argo_server.url + "api/v1/workflows/argo"), timeout=(1, 0.1))
        transport.close()
        assert info.value.kind == "timeout"

    def test_answer_and_lines(self, argo_server: ArgoServer) -> None:
        """A normal answer reads whole; a stream reads line by line."""
        transport = RequestsTransport()
        response = transport.send(get(argo_server.url + "api/v1/workflows/argo"), timeout=(1, 1))
        assert response.status == 200
        assert response.reason == "OK"
        assert b'"items"' in response.read()
        response = transport.send(
            Request("GET", argo_server.url + "api/v1/workflow-events/argo", stream=True),
            timeout=(1, 0.3),
        )
        argo_server.keepalive = 5  # no keep-alive in time: the stream goes silent
        with pytest.raises(TransportError) as info:
            list(response.iter_lines())
        response.close()
        transport.close()
        assert info.value.kind == "timeout"

    def test_fresh_connection(self, argo_server: ArgoServer) -> None:
        """A request marked fresh_connection works on its own session."""
        transport = RequestsTransport()
        request = Request("GET", argo_server.url + "api/v1/workflows/argo", fresh_connection=True)
        assert transport.send(request, timeout=(1, 1)).read().startswith(b"{")
        transport.close()


class TestRequest:
    def test_repr_hides_headers_and_body(self) -> None:
        """A request's repr shows method and URL only."""
        text = repr(get("http://h/x"))
        assert "s3cr3t" not in text
        assert "http://h/x" in text

    def test_json(self) -> None:
        """json() decodes the body."""
        assert Request("POST", "u", body=b'{"a": 1}').json() == {"a": 1}
        assert Request("GET", "u").json() is None


class TestMockTransport:
    def test_records_and_answers(self) -> None:
        """The mock records requests and plays its handler's answers."""
        transport = MockTransport(lambda r: MockResponse(201, json={"ok": True}))
        response = transport.send(get("http://h/"), timeout=(1, 1))
        assert (response.status, response.read()) == (201, b'{"ok": true}')
        assert [r.url for r in transport.requests] == ["http://h/"]
        transport.close()
        assert transport.closed

    def test_lines_raise_transport_errors(self) -> None:
        """A TransportError among the lines is raised when reached."""
        response = MockResponse(lines=[b"a", TransportError("dropped", "reset")])
        lines = response.iter_lines()
        assert next(lines) == b"a"
        with pytest.raises(TransportError):
            next(lines)
