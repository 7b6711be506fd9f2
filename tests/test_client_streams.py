"""Event and log streams: parsing, reconnection, and no line or state passed on twice."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
from argo_server import ArgoServer, connect, serve

from flowdsl.client.client import Client
from flowdsl.client.errors import AuthError, ConnectionFailed, NotFoundError
from flowdsl.client.status import LogEntry
from flowdsl.client.streams import (
    LogDeduplicator,
    MalformedStream,
    StreamFailure,
    messages,
    split_timestamp,
)
from flowdsl.client.transport import MockResponse, MockTransport, Request, TransportError

WORKFLOW = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Workflow",
    "metadata": {"generateName": "hello-", "labels": {"flowdsl/flow": "hello"}},
    "spec": {
        "entrypoint": "main",
        "templates": [
            {
                "name": "main",
                "dag": {
                    "tasks": [
                        {"name": "one", "template": "leaf"},
                        {"name": "two", "template": "leaf", "depends": "one"},
                    ]
                },
            },
            {"name": "leaf", "container": {"image": "busybox", "command": ["true"]}},
        ],
    },
}


@pytest.fixture
def argo_server() -> Iterator[ArgoServer]:
    yield from serve()


@pytest.fixture
def client(argo_server: ArgoServer) -> Any:
    notices: list[str] = []
    with Client(connect(argo_server, stream=0.5), on_retry=notices.append) as c:
        c.notices = notices  # type: ignore[attr-defined]
        yield c


class TestMessages:
    def test_sse_and_bare_json(self) -> None:
        """Server-sent events and bare JSON lines both give their results; keep-alives skip."""
        lines = [
            b":",
            b'data: {"result": {"n": 1}} ',
            b"",
            b"event: message",
            b'{"result": {"n": 2}}',
        ]
        assert [dict(m) for m in messages(lines)] == [{"n": 1}, {"n": 2}]

    def test_stream_error(self) -> None:
        """An error message in the stream raises StreamFailure with the server's codes."""
        line = b'data: {"error": {"http_code": 403, "grpc_code": 7, "message": "no"}}'
        with pytest.raises(StreamFailure) as info:
            list(messages([line]))
        assert (info.value.http_code, info.value.grpc_code, info.value.message) == (403, 7, "no")

    def test_malformed(self) -> None:
        """A line that is not JSON (a proxy's page) is MalformedStream."""
        with pytest.raises(MalformedStream, match="<html>"):
            list(messages([b"<html>502</html>"]))

    def test_split_timestamp(self) -> None:
        """Kubernetes' timestamp prefix is split off; a line without one stays whole."""
        when, text = split_timestamp("2024-05-01T10:00:00.123456789Z hello world")
        assert text == "hello world"
        assert when == datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=timezone.utc)
        assert split_timestamp("plain line") == (None, "plain line")
        assert split_timestamp("") == (None, "")


class TestDeduplicator:
    def test_replay_after_reopen_is_dropped(self) -> None:
        """Lines repeated by a reopened stream are dropped; new ones (same second too) pass."""
        t0 = datetime(2024, 1, 1, 0, 0, 0, tzinfo=timezone.utc)
        t1 = datetime(2024, 1, 1, 0, 0, 1, tzinfo=timezone.utc)
        seen = LogDeduplicator()
        first = [LogEntry("a", "x", t0), LogEntry("a", "y", t1), LogEntry("b", "z", t1)]
        assert [seen.fresh(e) for e in first] == [True, True, True]
        assert seen.reopen() == int(t1.timestamp())
        replay = [LogEntry("a", "x", t0), LogEntry("a", "y", t1), LogEntry("a", "y", t1)]
        assert [seen.fresh(e) for e in replay] == [False, False, True]
        assert seen.fresh(LogEntry("b", "z", t1)) is False
        assert seen.fresh(LogEntry("c", "no time")) is True

    def test_nothing_seen(self) -> None:
        """Before any line, a reopened stream starts from the beginning."""
        assert LogDeduplicator().reopen() is None


class TestWatch:
    def test_follows_until_done(self, argo_server: ArgoServer, client: Client) -> None:
        """watch yields the current state, then each change, and stops when done."""
        name = client.create_workflow(WORKFLOW).name
        watch = client.watch_workflow(name)
        assert next(watch).phase == "Pending"
        argo_server.start_workflow(name)
        running = next(watch)
        assert running.phase == "Running"
        assert running.node("one").phase == "Running"
        argo_server.finish_workflow(name)
        assert next(watch).phase == "Succeeded"
        assert list(watch) == []
        streams = [r for r in argo_server.requests if "workflow-events" in r.path]
        assert streams[0].query == {"listOptions.fieldSelector": [f"metadata.name={name}"]}
        assert streams[0].headers["Accept"] == "text/event-stream"

    def test_finished_workflow_needs_no_stream(
        self, argo_server: ArgoServer, client: Client
    ) -> None:
        """A finished workflow is yielded once, without opening a stream."""
        name = client.create_workflow(WORKFLOW).name
        argo_server.finish_workflow(name)
        assert [s.phase for s in client.watch_workflow(name)] == ["Succeeded"]
        assert not any("workflow-events" in r.path for r in argo_server.requests)

    def test_reconnects_when_the_stream_drops(
        self, argo_server: ArgoServer, client: Client
    ) -> None:
        """A dropped stream is reopened; the state it repeats is not yielded again."""
        name = client.create_workflow(WORKFLOW).name
        watch = client.watch_workflow(name)
        next(watch)
        argo_server.break_stream(path="workflow-events", after=1)
        argo_server.start_workflow(name)
        assert next(watch).phase == "Running"
        argo_server.finish_workflow(name)
        assert [s.phase for s in watch] == ["Succeeded"]
        assert len([r for r in argo_server.requests if "workflow-events" in r.path]) == 2
        assert client.notices[0].startswith(  # type: ignore[attr-defined]
            f"the event stream of workflow '{name}' broke off ("
        )

    def test_reconnects_when_the_stream_goes_silent(
        self, argo_server: ArgoServer, client: Client
    ) -> None:
        """A stream with no data and no keep-alive for the stream timeout is reopened."""
        name = client.create_workflow(WORKFLOW).name
        argo_server.start_workflow(name)
        argo_server.break_stream(path="workflow-events", after=1, stall=True)
        watch = client.watch_workflow(name)
        assert next(watch).phase == "Running"
        timer = threading.Timer(0.1, argo_server.finish_workflow, args=(name,))
        timer.start()
        try:
            assert [s.phase for s in watch] == ["Succeeded"]
        finally:
            timer.join()
        assert "no answer in time" in client.notices[0]  # type: ignore[attr-defined]

    def test_gives_up_after_repeated_failures(
        self, argo_server: ArgoServer, client: Client
    ) -> None:
        """A stream that keeps dropping without an event ends in ConnectionFailed."""
        name = client.create_workflow(WORKFLOW).name
        argo_server.break_stream(path="workflow-events", after=0, times=10)
        watch = client.watch_workflow(name)
        next(watch)
        with pytest.raises(ConnectionFailed) as info:
            next(watch)
        assert re.fullmatch(
            rf"the event stream of workflow '{name}' at {re.escape(argo_server.url)} failed 3 "
            r"times in a row \(last: the connection broke \(.*\)\); check that the Argo Server "
            r"is up and reachable, then run the command again; the workflow itself is not affected",
            str(info.value),
        )

    def test_deleted_while_watched(self, argo_server: ArgoServer, client: Client) -> None:
        """A workflow deleted under watch is NotFoundError saying so."""
        name = client.create_workflow(WORKFLOW).name
        watch = client.watch_workflow(name)
        next(watch)
        argo_server.start_workflow(name)
        next(watch)
        argo_server.delete_workflow(name)
        with pytest.raises(
            NotFoundError, match=f"workflow '{name}' was deleted from namespace 'argo'"
        ):
            next(watch)

    def test_missing_workflow(self, client: Client) -> None:
        """Watching a workflow that does not exist fails at once."""
        with pytest.raises(NotFoundError):
            next(client.watch_workflow("nope"))

    def test_deadline(self, argo_server: ArgoServer, client: Client) -> None:
        """With a deadline, the iteration ends early instead of waiting for the end."""
        import time

        name = client.create_workflow(WORKFLOW).name
        argo_server.start_workflow(name)
        states = list(client.watch_workflow(name, deadline=time.monotonic() + 0.2))
        assert [s.phase for s in states] == ["Running"]

    def test_error_inside_the_stream(self, argo_server: ArgoServer) -> None:
        """A 403 reported inside the stream is raised as AuthError, not retried."""
        obj = {
            "metadata": {"name": "wf", "resourceVersion": "1"},
            "spec": {},
            "status": {"phase": "Running"},
        }
        error = {"error": {"http_code": 403, "grpc_code": 7, "message": "forbidden here"}}

        def handler(request: Request) -> MockResponse:
            if "workflow-events" in request.url:
                return MockResponse(200, lines=[b"data: " + json.dumps(error).encode()])
            return MockResponse(200, json=obj)

        with Client(connect(argo_server), transport=MockTransport(handler)) as c:
            watch = c.watch_workflow("wf")
            next(watch)
            with pytest.raises(AuthError, match="forbidden here"):
                next(watch)

    def test_transport_errors_mid_stream(self, argo_server: ArgoServer) -> None:
        """A stream that breaks mid-way (TransportError) is reopened."""
        running = {
            "metadata": {"name": "wf", "resourceVersion": "1"},
            "spec": {},
            "status": {"phase": "Running"},
        }
        done = {
            "metadata": {"name": "wf", "resourceVersion": "2"},
            "spec": {},
            "status": {"phase": "Failed"},
        }
        event = {"result": {"type": "MODIFIED", "object": done}}
        streams: list[int] = []

        def handler(request: Request) -> MockResponse:
            if "workflow-events" not in request.url:
                return MockResponse(200, json=running)
            streams.append(1)
            if len(streams) == 1:
                return MockResponse(200, lines=[b":", TransportError("dropped", "reset")])
            return MockResponse(200, lines=[b"data: " + json.dumps(event).encode()])

        with Client(
            connect(argo_server), transport=MockTransport(handler), sleep=lambda s: None
        ) as c:
            assert [s.phase for s in c.watch_workflow("wf")] == ["Running", "Failed"]
        assert len(streams) == 2


class TestLogs:
    def test_all_lines(self, argo_server: ArgoServer, client: Client) -> None:
        """Logs of every pod, timestamps split off, container main, timestamps requested."""
        name = client.create_workflow(WORKFLOW).name
        argo_server.finish_workflow(name)
        one, two = argo_server.pod_of(name, "one"), argo_server.pod_of(name, "two")
        argo_server.add_log(name, one, "hello")
        argo_server.add_log(name, two, "world")
        entries = list(client.workflow_logs(name))
        assert [(e.pod_name, e.content) for e in entries] == [(one, "hello"), (two, "world")]
        assert all(e.timestamp is not None for e in entries)
        query = argo_server.requests[-1].query
        assert query["logOptions.container"] == ["main"]
        assert query["logOptions.timestamps"] == ["true"]
        assert "logOptions.follow" not in query

    def test_follow_until_done(self, argo_server: ArgoServer, client: Client) -> None:
        """--follow keeps streaming new lines and ends when the workflow ends."""
        name = client.create_workflow(WORKFLOW).name
        argo_server.start_workflow(name)
        pod = argo_server.pod_of(name, "one")
        argo_server.add_log(name, pod, "first")
        lines = client.workflow_logs(name, follow=True)
        assert next(lines).content == "first"
        argo_server.add_log(name, pod, "second")
        assert next(lines).content == "second"
        argo_server.finish_workflow(name)
        assert list(lines) == []

    def test_reconnect_repeats_nothing(self, argo_server: ArgoServer, client: Client) -> None:
        """A log stream dropped mid-way is reopened from the last second, without repeats."""
        name = client.create_workflow(WORKFLOW).name
        argo_server.start_workflow(name)
        pod = argo_server.pod_of(name, "one")
        for text in ("a", "b", "c", "d"):
            argo_server.add_log(name, pod, text)
        argo_server.break_stream(path="/log$", after=2)
        lines = client.workflow_logs(name, follow=True)
        got = [next(lines).content for _ in range(4)]
        argo_server.finish_workflow(name)
        got += [e.content for e in lines]
        assert got == ["a", "b", "c", "d"]
        reopened = [r for r in argo_server.requests if r.path.endswith("/log")][1]
        assert "logOptions.sinceTime.seconds" in reopened.query

    def test_logs_of_missing_workflow(self, client: Client) -> None:
        """Logs of an unknown workflow: NotFoundError."""
        with pytest.raises(NotFoundError, match="workflow 'nope' was not found"):
            list(client.workflow_logs("nope"))
