"""The Python API: flowdsl.client.submit, Submission (wait, status, logs, result), parameters."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any, Literal

import pytest
from argo_server import ArgoServer, connect, serve

from flowdsl import flow, task
from flowdsl.client.client import Client
from flowdsl.client.errors import WaitTimeout
from flowdsl.client.submission import Submission, check_declared, flow_parameters, submit
from flowdsl.errors import FlowDSLError, ParameterError


@pytest.fixture
def argo_server() -> Iterator[ArgoServer]:
    yield from serve()


@task
def double(x: int) -> int:
    return 2 * x


@flow(image="python:3.11")
def doubler(start_value: int = 2, mode: Literal["a", "b"] = "a") -> int:
    return double(start_value)


@flow(image="python:3.11")
def doubled_all() -> list[int]:
    return double.map([1, 2, 3])


@pytest.fixture
def client(argo_server: ArgoServer) -> Any:
    with Client(connect(argo_server)) as c:
        yield c


def finish_later(server: ArgoServer, name: str, **kwargs: Any) -> threading.Thread:
    def play() -> None:
        deadline = time.monotonic() + 10
        while not any("workflow-events" in r.path for r in server.requests):
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)
        server.finish_workflow(name, **kwargs)

    thread = threading.Thread(target=play)
    thread.start()
    return thread


class TestSubmit:
    def test_submit_from_environment(
        self, argo_server: ArgoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
    ) -> None:
        """flowdsl.client.submit(flow, **params) uses ARGO_* and Python parameter names."""
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("ARGO_SERVER", argo_server.address)
        monkeypatch.setenv("ARGO_SECURE", "false")
        monkeypatch.setenv("ARGO_NAMESPACE", "argo")
        run = submit(doubler, start_value=21)
        assert isinstance(run, Submission)
        assert run.namespace == "argo"
        assert run.name.startswith("doubler-")
        assert run.url == f"{argo_server.url}workflows/argo/{run.name}"
        assert run.last_state is not None
        assert run.last_state.parameters["start_value"] == "21"
        run.client.close()

    def test_unknown_parameter_sends_nothing(self, argo_server: ArgoServer, client: Client) -> None:
        """An unknown keyword is a ParameterError before any request."""
        with pytest.raises(ParameterError) as info:
            client.submit(doubler, {"start": 1})
        assert str(info.value) == (
            "flow 'doubler', parameter 'start': the flow has no parameter 'start' (parameters: "
            "mode, start_value); did you mean 'start_value'? check the name"
        )
        assert argo_server.requests == []

    def test_wrong_type_sends_nothing(self, argo_server: ArgoServer, client: Client) -> None:
        """A value of the wrong type or outside the enum is refused before sending."""
        with pytest.raises(ParameterError):
            client.submit(doubler, {"start_value": "ten"})
        with pytest.raises(ParameterError):
            client.submit(doubler, {"mode": "c"})
        assert argo_server.requests == []


class TestSubmission:
    def test_wait_returns_the_final_state(self, argo_server: ArgoServer, client: Client) -> None:
        """wait() follows the events and returns the finished state; status asks again."""
        run = client.submit(doubler)
        finisher = finish_later(argo_server, run.name)
        seen: list[str] = []
        try:
            state = run.wait(on_change=lambda s: seen.append(s.phase))
        finally:
            finisher.join()
        assert state.ok
        assert seen == ["Pending", "Succeeded"]
        assert run.status.phase == run.phase == "Succeeded"

    def test_failed_is_returned_not_raised(self, argo_server: ArgoServer, client: Client) -> None:
        """A failed workflow is a value: .ok False and the failing node."""
        run = client.submit(doubler)
        finisher = finish_later(argo_server, run.name, fail="double")
        try:
            state = run.wait()
        finally:
            finisher.join()
        assert not state.ok
        assert [n.display_name for n in state.failed_nodes()] == ["double"]

    def test_wait_timeout(self, client: Client) -> None:
        """wait(timeout) gives up with WaitTimeout; the workflow is untouched."""
        run = client.submit(doubler)
        with pytest.raises(WaitTimeout) as info:
            run.wait(timeout=0.2)
        assert info.value.phase == "Pending"
        assert info.value.name == run.name

    def test_logs_of_a_task(self, argo_server: ArgoServer, client: Client) -> None:
        """logs(task=...) keeps the lines of that task's pods."""
        run = client.submit(doubler)
        argo_server.finish_workflow(run.name)
        argo_server.add_log(run.name, argo_server.pod_of(run.name, "double"), "doubled")
        argo_server.add_log(run.name, "some-other-pod", "noise")
        assert [e.content for e in run.logs(task="double")] == ["doubled"]
        assert [e.content for e in run.logs()] == ["doubled", "noise"]

    def test_logs_follow_of_a_task_that_starts_later(
        self, argo_server: ArgoServer, client: Client
    ) -> None:
        """A task's pod that appears while following is picked up."""
        run = client.submit(doubler)
        lines = run.logs(task="double", follow=True)
        argo_server.start_workflow(run.name)
        argo_server.add_log(run.name, argo_server.pod_of(run.name, "double"), "late")
        assert next(lines).content == "late"
        argo_server.finish_workflow(run.name)
        assert list(lines) == []

    @staticmethod
    def finished_with(argo_server: ArgoServer, name: str, value: str) -> None:
        """Finish workflow ``name`` with ``value`` as its entry node's ``return`` output."""
        argo_server.finish_workflow(name)
        wf = argo_server.workflow(name)
        wf["status"]["nodes"][name]["outputs"] = {
            "parameters": [{"name": "return", "value": value}]
        }
        argo_server.put_workflow(wf)

    def test_result(self, argo_server: ArgoServer, client: Client) -> None:
        """result() decodes the flow's return output by its type."""
        run = client.submit(doubler)
        self.finished_with(argo_server, run.name, "42")
        assert run.outputs() == {"return": "42"}
        assert run.result() == 42

    def test_result_of_a_fan_in(self, argo_server: ArgoServer, client: Client) -> None:
        """A flow returning a map's results receives Argo's aggregate of results, plain
        values as texts; result() decodes it as the local run does."""
        run = client.submit(doubled_all)
        self.finished_with(argo_server, run.name, '["2","4","6"]')
        assert run.result() == [2, 4, 6]

    def test_result_needs_the_flow(self, client: Client) -> None:
        """A handle looked up by name cannot decode a result."""
        with pytest.raises(FlowDSLError, match="flow is unknown"):
            client.submission("wf").result()

    def test_actions(self, argo_server: ArgoServer, client: Client) -> None:
        """stop, retry and resubmit (with typed parameters) act on the workflow."""
        run = client.submit(doubler)
        assert run.stop().phase == "Failed"
        assert run.retry().phase == "Running"
        again = run.resubmit(start_value=5)
        assert again.name != run.name
        assert again.status.parameters["start_value"] == "5"
        assert "Submission" in repr(again)
        with pytest.raises(ParameterError):
            run.resubmit(start_value="five")

    def test_terminate(self, client: Client) -> None:
        """terminate returns the updated state."""
        assert client.submit(doubler).terminate().message == "Stopped with strategy 'Terminate'"


class TestParameters:
    def test_python_and_argo_names(self) -> None:
        """Python names map to Argo names; Argo names are accepted too."""
        assert flow_parameters(doubler, {"start_value": 1, "mode": "b"}) == {
            "start_value": 1,
            "mode": "b",
        }

    def test_check_declared(self) -> None:
        """Manifest parameters: names, enums and required values are checked."""
        declared = [{"name": "a", "enum": ["x", "y"], "value": "x"}, {"name": "b"}]
        check_declared(declared, {"a": "y", "b": "1"}, owner="wf.yaml")
        with pytest.raises(ParameterError, match="'z' is not an allowed value"):
            check_declared(declared, {"a": "z", "b": "1"}, owner="wf.yaml")
        with pytest.raises(ParameterError) as info:
            check_declared(declared, {"a": "x"}, owner="wf.yaml")
        assert str(info.value) == (
            "parameter 'b': wf.yaml requires a value for parameter 'b' and none was given; "
            "pass -p b=VALUE"
        )
        check_declared(declared, {}, owner="wf.yaml", require=False)
