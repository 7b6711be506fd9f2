"""debug: rerun a cluster workflow, or one failed task, with the local engine."""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argo_server import ArgoServer, connect, serve

from flowdsl._compile import compile_dict
from flowdsl._target import load_flow
from flowdsl.client.client import Client
from flowdsl.client.commands import register
from flowdsl.client.debug import plan_debug, run_debug, task_manifest
from flowdsl.errors import FlowDSLError

FLOWS = textwrap.dedent(
    """
    from flowdsl import flow, task

    @task
    def check(x: int) -> int:
        if x % 2:
            raise ValueError(f"odd: {x}")
        return x

    @task
    def half(y: int) -> int:
        return y // 2

    @flow(image="python:3.11")
    def halver(x: int = 4) -> int:
        return half(check(x))
    """
)


@pytest.fixture
def argo_server() -> Iterator[ArgoServer]:
    yield from serve()


@pytest.fixture
def flows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    (tmp_path / "debugflows.py").write_text(FLOWS)
    monkeypatch.chdir(tmp_path)
    yield load_flow(str(tmp_path / "debugflows.py"))
    sys.modules.pop("debugflows", None)


@pytest.fixture
def client(argo_server: ArgoServer) -> Any:
    with Client(connect(argo_server)) as c:
        yield c


class TestPlan:
    def test_whole_flow_uses_the_workflow_parameters(
        self, argo_server: ArgoServer, client: Client, flows: Any
    ) -> None:
        """Without --task the flow's parameters come from the workflow on the server."""
        name = client.submit(flows, {"x": 7}).name
        argo_server.finish_workflow(name, fail="check")
        plan = plan_debug(client, flows, name)
        assert plan.parameters == {"x": "7"}
        assert plan.node is None
        assert plan.manifest["kind"] == "WorkflowTemplate"

    def test_task_uses_the_failed_node_inputs(
        self, argo_server: ArgoServer, client: Client, flows: Any
    ) -> None:
        """With --task the failed node's inputs become the one task's arguments."""
        name = client.submit(flows, {"x": 7}).name
        argo_server.finish_workflow(name, fail="check")
        plan = plan_debug(client, flows, name, task="check")
        assert plan.node is not None
        assert plan.node.display_name == "check"
        assert plan.parameters == {"x": "7"}
        assert plan.manifest["spec"]["entrypoint"] == "check"

    def test_unknown_task(self, argo_server: ArgoServer, client: Client, flows: Any) -> None:
        """A task that ran no pod is named with the tasks that did."""
        name = client.submit(flows).name
        argo_server.finish_workflow(name)
        with pytest.raises(FlowDSLError) as info:
            plan_debug(client, flows, name, task="chek")
        assert str(info.value) == (
            f"workflow '{name}' has no task 'chek' that ran a pod (tasks that did: check, half); "
            "name one of them with --task"
        )

    def test_template_missing_here(self, flows: Any) -> None:
        """A template the local code no longer has is a clear error."""
        with pytest.raises(FlowDSLError, match="the workflow ran another version of the flow"):
            task_manifest(compile_dict(flows, kind="template"), "gone", {})


class TestRun:
    def test_rerun_task_reproduces_the_failure(
        self, argo_server: ArgoServer, client: Client, flows: Any, tmp_path: Path
    ) -> None:
        """The failed task runs locally with the cluster's inputs, and fails the same way."""
        name = client.submit(flows, {"x": 7}).name
        argo_server.finish_workflow(name, fail="check")
        run = run_debug(
            plan_debug(client, flows, name, task="check"), run_dir=tmp_path / "r", progress="off"
        )
        assert run.status == "Failed"
        assert [n.display_name for n in run.failed_nodes()] == [run.name]

    def test_rerun_whole_flow(
        self, argo_server: ArgoServer, client: Client, flows: Any, tmp_path: Path
    ) -> None:
        """The whole flow reruns with the workflow's parameters."""
        name = client.submit(flows, {"x": 8}).name
        argo_server.finish_workflow(name)
        run = run_debug(plan_debug(client, flows, name), run_dir=tmp_path / "r", progress="off")
        assert run.ok
        assert run.outputs == {"return": "4"}

    def test_command(
        self,
        argo_server: ArgoServer,
        client: Client,
        flows: Any,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """`debug TARGET NAME --task T` prints what it reruns and exits 1 when it fails."""
        name = client.submit(flows, {"x": 3}).name
        argo_server.finish_workflow(name, fail="check")
        monkeypatch.setenv("ARGO_SERVER", argo_server.address)
        monkeypatch.setenv("ARGO_SECURE", "false")
        monkeypatch.setenv("ARGO_NAMESPACE", "argo")
        parser = argparse.ArgumentParser()
        register(parser.add_subparsers(dest="command"))
        args = parser.parse_args(
            [
                "debug",
                "debugflows.py",
                name,
                "--task",
                "check",
                "--progress",
                "off",
                "--run-dir",
                "r",
            ]
        )
        assert args.handler(args) == 1
        out = capsys.readouterr().out
        assert out.startswith(
            f"rerunning task check of workflow {name} locally, with the inputs its failed node "
            "received (x=3)\n"
        )
        assert out.endswith(f"local run Failed: {tmp_path / 'r'}\n")
