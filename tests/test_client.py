"""The Argo Server client against the local Argo Server: calls, retries, idempotency, errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, Literal

import pytest
from argo_server import ArgoServer, connect, serve

from flowdsl import compile_dict, flow, task
from flowdsl.client.client import SUBMISSION_ANNOTATION, Client
from flowdsl.client.errors import (
    AuthError,
    ClientError,
    ConflictError,
    ConnectionFailed,
    NotFoundError,
    RejectedError,
    ServerError,
)
from flowdsl.client.transport import MockResponse, MockTransport, Request, TransportError

TOKEN = "Bearer s3cr3t-token-value"


@pytest.fixture
def argo_server() -> Iterator[ArgoServer]:
    yield from serve()


@task
def double(x: int) -> int:
    return 2 * x


@task
def show(y: int, mode: str) -> str:
    return f"{mode}:{y}"


@flow(image="python:3.11")
def pipeline(x: int = 2, mode: Literal["fast", "slow"] = "fast") -> str:
    return show(double(x), mode)


def manifest(**params: Any) -> dict[str, Any]:
    return compile_dict(pipeline, params=params)


@pytest.fixture
def client(argo_server: ArgoServer) -> Any:
    with Client(connect(argo_server)) as c:
        yield c


class TestCreate:
    def test_create_picks_the_name_and_stamps_it(
        self, argo_server: ArgoServer, client: Client
    ) -> None:
        """The client names the workflow itself (generateName + 5) and stamps a submission id."""
        state = client.create_workflow(manifest(x=5))
        assert state.name.startswith("pipeline-")
        assert len(state.name) == len("pipeline-") + 5
        stored = argo_server.workflow(state.name)
        assert SUBMISSION_ANNOTATION in stored["metadata"]["annotations"]
        assert "generateName" not in stored["metadata"]
        assert state.parameters == {"x": "5", "mode": "fast"}
        body = argo_server.requests[-1].body
        assert body["namespace"] == "argo"
        assert set(body) == {"namespace", "workflow"}

    def test_given_name(self, client: Client) -> None:
        """--name is used as is."""
        assert client.create_workflow(manifest(), name="my-run").name == "my-run"

    def test_manifest_is_not_modified(self, client: Client) -> None:
        """The caller's manifest stays as it was."""
        doc = manifest()
        before = repr(doc)
        client.create_workflow(doc)
        assert repr(doc) == before

    def test_server_dry_run_creates_nothing(self, argo_server: ArgoServer, client: Client) -> None:
        """serverDryRun is sent, and nothing is stored."""
        state = client.create_workflow(manifest(), server_dry_run=True)
        assert argo_server.requests[-1].body["serverDryRun"] is True
        assert argo_server.workflow_names() == []
        assert state.name.startswith("pipeline-")


class TestIdempotentCreate:
    def test_lost_answer_does_not_create_twice(
        self, argo_server: ArgoServer, client: Client
    ) -> None:
        """The answer to a create is lost after the server created the workflow: the retry
        meets 409, finds the workflow carrying this submission's id, and returns it."""
        argo_server.drop(method="POST", path="/workflows/argo$", after=True)
        state = client.create_workflow(manifest())
        assert argo_server.workflow_names() == [state.name]
        posts = [r for r in argo_server.requests if r.method == "POST"]
        assert len(posts) == 2
        assert posts[0].body["workflow"]["metadata"]["name"] == state.name
        assert posts[1].body["workflow"]["metadata"]["name"] == state.name

    def test_timeout_then_retry_does_not_create_twice(self, argo_server: ArgoServer) -> None:
        """A create that times out (the server acted late) is retried without a duplicate."""
        argo_server.slow(0.6, method="POST", times=1)
        with Client(connect(argo_server, read=0.3)) as c:
            state = c.create_workflow(manifest())
        assert argo_server.workflow_names() == [state.name]

    def test_5xx_is_retried(self, argo_server: ArgoServer, client: Client) -> None:
        """A 503 from the server is retried and the create succeeds once."""
        argo_server.fail(503, "upstream unavailable", method="POST", times=2)
        state = client.create_workflow(manifest())
        assert argo_server.workflow_names() == [state.name]

    def test_given_name_taken_by_another(self, argo_server: ArgoServer, client: Client) -> None:
        """A name the user chose that another workflow holds is a ConflictError."""
        client.create_workflow(manifest(), name="taken")
        with pytest.raises(ConflictError) as info:
            client.create_workflow(manifest(), name="taken")
        assert str(info.value) == (
            "workflow 'taken' already exists in namespace 'argo' (409: "
            'workflows.argoproj.io "taken" already exists); choose another --name, or leave it '
            "out to get a generated one"
        )

    def test_generated_name_collision_draws_again(
        self, argo_server: ArgoServer, client: Client
    ) -> None:
        """A generated name that happens to be taken is replaced by a new one."""
        argo_server.fail(409, 'workflows.argoproj.io "x" already exists', method="POST", times=1)
        state = client.create_workflow(manifest())
        posts = [r for r in argo_server.requests if r.method == "POST"]
        assert len(posts) == 2
        assert posts[0].body["workflow"]["metadata"]["name"] != state.name
        assert argo_server.workflow_names() == [state.name]


class TestCalls:
    def test_get(self, argo_server: ArgoServer, client: Client) -> None:
        """get returns the stored workflow with its nodes."""
        name = client.create_workflow(manifest()).name
        argo_server.finish_workflow(name, fail="show")
        state = client.get_workflow(name)
        assert state.phase == "Failed"
        assert state.done
        assert not state.ok
        assert [n.display_name for n in state.failed_nodes()] == ["show"]
        assert state.node("double").phase == "Succeeded"
        assert state.node("show").pod_name == argo_server.pod_of(name, "show")

    def test_get_missing(self, client: Client) -> None:
        """A missing workflow is NotFoundError with the server's message and a fix."""
        with pytest.raises(NotFoundError) as info:
            client.get_workflow("nope")
        assert str(info.value) == (
            "workflow 'nope' was not found in namespace 'argo' (404 Not Found: "
            'workflows.argoproj.io "nope" not found); check the name (python -m flowdsl list '
            "shows recent workflows) and the namespace (--namespace or ARGO_NAMESPACE)"
        )
        assert (info.value.status, info.value.code) == (404, 5)

    def test_list_pages_filters_and_sorts(self, argo_server: ArgoServer, client: Client) -> None:
        """list follows `continue` tokens, filters by flow label, newest first."""
        names = [client.create_workflow(manifest(), name=f"run-{i:03d}").name for i in range(5)]
        other = dict(manifest())
        other["metadata"]["labels"] = {"flowdsl/flow": "other"}
        client.create_workflow(other, name="other-run")
        for i, name in enumerate(names):
            wf = argo_server.workflow(name)
            wf["metadata"]["creationTimestamp"] = f"2024-01-01T00:00:0{i}Z"
            argo_server.put_workflow(wf)
        import flowdsl.client.client as module

        module._LIST_CHUNK, saved = 2, module._LIST_CHUNK
        try:
            found = client.list_workflows(flow="pipeline")
        finally:
            module._LIST_CHUNK = saved
        assert [s.name for s in found] == list(reversed(names))
        assert all(not s.nodes for s in found)
        lists = [
            r
            for r in argo_server.requests
            if r.path == "/api/v1/workflows/argo" and r.method == "GET"
        ]
        assert len(lists) == 3
        assert lists[0].query["listOptions.labelSelector"] == ["flowdsl/flow=pipeline"]
        assert client.list_workflows(flow="pipeline", limit=2)[0].name == names[-1]

    def test_stop_and_terminate(self, argo_server: ArgoServer, client: Client) -> None:
        """stop and terminate send their requests and return the updated workflow."""
        a = client.create_workflow(manifest()).name
        b = client.create_workflow(manifest()).name
        assert client.stop_workflow(a, message="enough").message == "Stopped with strategy 'Stop'"
        assert argo_server.requests[-1].body == {
            "name": a,
            "namespace": "argo",
            "message": "enough",
        }
        assert client.terminate_workflow(b).phase == "Failed"
        assert argo_server.workflow(b)["spec"]["shutdown"] == "Terminate"

    def test_stop_finished_is_rejected(self, argo_server: ArgoServer, client: Client) -> None:
        """Stopping a finished workflow shows Argo's reason."""
        name = client.create_workflow(manifest()).name
        argo_server.finish_workflow(name)
        with pytest.raises(RejectedError) as info:
            client.stop_workflow(name)
        assert str(info.value) == (
            f"the Argo Server cannot stop workflow '{name}': cannot shutdown a completed "
            f"workflow; check the state of workflow '{name}' with `python -m flowdsl get`"
        )

    def test_retry_and_resubmit(self, argo_server: ArgoServer, client: Client) -> None:
        """retry restarts in place; resubmit makes a new workflow with new parameters."""
        name = client.create_workflow(manifest()).name
        argo_server.finish_workflow(name, fail="show")
        assert client.retry_workflow(name, restart_successful=True).phase == "Running"
        assert argo_server.requests[-1].body == {
            "name": name,
            "namespace": "argo",
            "restartSuccessful": True,
        }
        new = client.resubmit_workflow(name, memoized=True, parameters={"x": "9"})
        assert new.name.startswith(name + "-")
        assert new.parameters["x"] == "9"
        assert sorted(argo_server.workflow_names()) == sorted([name, new.name])

    def test_resubmit_is_not_repeated_after_a_lost_answer(
        self, argo_server: ArgoServer, client: Client
    ) -> None:
        """resubmit creates a workflow each time, so a lost answer is reported, not retried."""
        name = client.create_workflow(manifest()).name
        argo_server.drop(method="PUT", path="/resubmit$", after=True)
        with pytest.raises(ConnectionFailed, match="the connection broke"):
            client.resubmit_workflow(name)
        assert len(argo_server.workflow_names()) == 2
        assert len([r for r in argo_server.requests if r.path.endswith("/resubmit")]) == 1

    def test_resubmit_is_retried_when_nothing_was_sent(self, argo_server: ArgoServer) -> None:
        """A refused connection means nothing reached the server: even resubmit is retried."""
        calls: list[Request] = []

        def handler(request: Request) -> MockResponse:
            calls.append(request)
            if len(calls) == 1:
                raise TransportError("connect", "ConnectionRefusedError: refused")
            return MockResponse(200, json={"metadata": {"name": "wf-new"}, "spec": {}})

        with Client(
            connect(argo_server), transport=MockTransport(handler), sleep=lambda s: None
        ) as c:
            assert c.resubmit_workflow("wf").name == "wf-new"
        assert len(calls) == 2
        assert calls[1].fresh_connection


class TestTemplates:
    def test_register_creates_then_updates(self, argo_server: ArgoServer, client: Client) -> None:
        """register creates the WorkflowTemplate, then updates it with the current version."""
        doc = compile_dict(pipeline, kind="template")
        stored, created = client.register_template(doc)
        assert created
        assert stored["metadata"]["name"] == "pipeline"
        stored2, created2 = client.register_template(doc)
        assert not created2
        assert stored2["metadata"]["resourceVersion"] != stored["metadata"]["resourceVersion"]
        put = argo_server.requests[-1]
        assert put.method == "PUT"
        assert (
            put.body["template"]["metadata"]["resourceVersion"]
            == stored["metadata"]["resourceVersion"]
        )

    def test_register_retries_a_concurrent_update(
        self, argo_server: ArgoServer, client: Client
    ) -> None:
        """An update that meets 'the object has been modified' reads the template again."""
        doc = compile_dict(pipeline, kind="template")
        client.register_template(doc)
        argo_server.fail(409, "the object has been modified", method="PUT", times=1, code=10)
        _, created = client.register_template(doc)
        assert not created
        assert len([r for r in argo_server.requests if r.method == "PUT"]) == 2

    def test_submit_from_template(self, argo_server: ArgoServer, client: Client) -> None:
        """A workflow from a template gets the chosen name, parameters and labels."""
        client.register_template(compile_dict(pipeline, kind="template"))
        state = client.submit_template(
            "pipeline", parameters={"x": "7"}, labels={"flowdsl/flow": "pipeline"}
        )
        assert state.name.startswith("pipeline-")
        stored = argo_server.workflow(state.name)
        assert stored["spec"]["workflowTemplateRef"] == {"name": "pipeline"}
        assert stored["metadata"]["labels"]["flowdsl/flow"] == "pipeline"
        assert argo_server.requests[-1].body["submitOptions"]["parameters"] == ["x=7"]

    def test_submit_from_template_lost_answer(
        self, argo_server: ArgoServer, client: Client
    ) -> None:
        """Submitting from a template is idempotent too."""
        client.register_template(compile_dict(pipeline, kind="template"))
        argo_server.drop(method="POST", path="/submit$", after=True)
        state = client.submit_template("pipeline")
        assert argo_server.workflow_names() == [state.name]

    def test_missing_template(self, client: Client) -> None:
        """Submitting an unknown template is NotFoundError naming it."""
        with pytest.raises(
            NotFoundError,
            match=r"^workflow template 'nope' was not found in namespace 'argo' \(404",
        ):
            client.submit_template("nope")


class TestErrors:
    def test_no_token(self, argo_server: ArgoServer) -> None:
        """401 without a token says how to give one."""
        argo_server.token = TOKEN
        with Client(connect(argo_server)) as c, pytest.raises(AuthError) as info:
            c.get_workflow("x")
        assert str(info.value) == (
            f"the Argo Server at {argo_server.url} did not accept the credentials (401 "
            "Unauthorized: token not valid. see https://argo-workflows.readthedocs.io/en/latest/"
            'faq/); no token was sent: set ARGO_TOKEN (e.g. ARGO_TOKEN="Bearer $(...)"; `argo '
            "auth token` prints one) or pass --token-file FILE"
        )

    def test_token_sent_as_given(self, argo_server: ArgoServer) -> None:
        """The token goes in the Authorization header exactly as configured."""
        argo_server.token = TOKEN
        with Client(connect(argo_server, token=TOKEN)) as c:
            c.create_workflow(manifest())
        assert argo_server.requests[-1].headers["Authorization"] == TOKEN

    def test_wrong_token_never_shown(
        self, argo_server: ArgoServer, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A refused token is reported without the token, even if the server echoes it."""
        argo_server.token = "Bearer right"
        argo_server.fail(503, f"proxy saw {TOKEN}", times=1)
        caplog.set_level(logging.DEBUG)
        notices: list[str] = []
        with Client(connect(argo_server, token=TOKEN), on_retry=notices.append) as c:
            with pytest.raises(AuthError) as info:
                c.get_workflow("x")
            text = str(info.value) + repr(info.value) + repr(c) + repr(c.connection)
        text += "".join(notices) + caplog.text
        assert "s3cr3t" not in text
        assert str(info.value).endswith(
            "the token from the configuration was refused: check that it is current and "
            "complete, including its scheme (e.g. 'Bearer ')"
        )

    def test_server_message_is_redacted(self, argo_server: ArgoServer) -> None:
        """A server message echoing the token has it replaced."""
        argo_server.fail(400, f"bad header {TOKEN}", times=1)
        with Client(connect(argo_server, token=TOKEN)) as c, pytest.raises(RejectedError) as info:
            c.create_workflow(manifest(), name="wf")
        assert "s3cr3t" not in str(info.value)
        assert "bad header <token>" in str(info.value)

    def test_forbidden(self, argo_server: ArgoServer) -> None:
        """403 says which namespace and what to do."""
        argo_server.forbidden = ("secret",)
        with (
            Client(connect(argo_server, namespace="secret")) as c,
            pytest.raises(AuthError) as info,
        ):
            c.stop_workflow("wf")
        assert str(info.value).startswith(
            "the Argo Server refused access to workflow 'wf' in namespace 'secret' (403 Forbidden: "
            'workflows.argoproj.io is forbidden: User "system:serviceaccount:argo:ci"'
        )
        assert str(info.value).endswith(
            "; use a token whose service account may stop workflows in namespace 'secret', or pick "
            "another namespace with --namespace"
        )

    def test_validation_error(self, argo_server: ArgoServer, client: Client) -> None:
        """Argo's validation message is shown as the server wrote it."""
        doc = manifest()
        doc["spec"]["entrypoint"] = "missing"
        with pytest.raises(RejectedError) as info:
            client.create_workflow(doc, name="wf", flow="pipeline")
        assert str(info.value) == (
            "flow 'pipeline': the Argo Server rejected workflow 'wf': spec.entrypoint: template "
            '"missing" is not defined in spec.templates; fix what the server\'s message names; '
            "`python -m flowdsl compile` shows the manifest that is sent"
        )

    def test_5xx_after_every_retry(self, argo_server: ArgoServer, client: Client) -> None:
        """A 500 that does not go away is a ServerError with the attempt count."""
        argo_server.fail(500, "etcd is sad", times=10)
        with pytest.raises(ServerError) as info:
            client.get_workflow("wf")
        assert str(info.value) == (
            "the Argo Server failed GET /api/v1/workflows/argo/wf with 500 Internal Server Error "
            "after 3 attempts: etcd is sad; check the Argo Server's logs (kubectl -n argo logs "
            "deploy/argo-server) and try again"
        )
        assert len(argo_server.requests) == 3

    def test_connection_refused(self) -> None:
        """No server listening: ConnectionFailed after the retries, with a fix."""
        import socket

        from flowdsl.client.config import Connection, RetryPolicy

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        conn = Connection(f"http://127.0.0.1:{port}", retry=RetryPolicy(attempts=2, backoff=0.01))
        with Client(conn) as c, pytest.raises(ConnectionFailed) as info:
            c.get_workflow("wf")
        assert info.value.attempts == 2
        assert str(info.value).startswith(
            f"GET http://127.0.0.1:{port}/api/v1/workflows/default/wf failed after 2 attempts: "
            "cannot connect ("
        )
        assert str(info.value).endswith(
            f"; check that the Argo Server runs at http://127.0.0.1:{port}/ (set by the "
            "configuration); for a local cluster: kubectl -n argo port-forward svc/argo-server "
            "2746:2746"
        )

    def test_wrong_base_href(self, argo_server: ArgoServer) -> None:
        """An answer that is not JSON points at the server address and base href."""

        def handler(request: Request) -> MockResponse:
            return MockResponse(200, body=b"<html>argo ui</html>")

        client = Client(connect(argo_server), transport=MockTransport(handler))
        with pytest.raises(ClientError, match=r"is not JSON \('<html>argo ui</html>'\); check"):
            client.get_workflow("x")


class TestOracle:
    def test_unknown_field_is_a_violation(self, argo_server: ArgoServer) -> None:
        """The local server refuses a body that does not match swagger.json (and records it)."""
        import requests

        response = requests.post(
            argo_server.url + "api/v1/workflows/argo",
            json={"namespace": "argo", "serverDryrun": True},
            timeout=5,
        )
        assert response.status_code == 400
        assert argo_server.violations == [
            "POST /api/v1/workflows/argo: body at <root>: Additional properties are not allowed "
            "('serverDryrun' was unexpected)"
        ]
        argo_server.violations.clear()

    def test_unknown_query_parameter_is_a_violation(self, argo_server: ArgoServer) -> None:
        """Query parameters must be declared by the operation."""
        import requests

        requests.get(argo_server.url + "api/v1/workflows/argo?labelSelector=x", timeout=5)
        assert argo_server.violations == [
            "GET /api/v1/workflows/argo: query parameter 'labelSelector' is not declared"
        ]
        argo_server.violations.clear()
