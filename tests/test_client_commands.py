"""The CLI's Argo Server commands: every command, its output, messages and exit codes."""

from __future__ import annotations

import argparse
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from argo_server import ArgoServer, serve

from flowdsl.client.commands import register
from flowdsl.errors import FlowDSLError

FLOWS = textwrap.dedent(
    """
    from typing import Literal
    from flowdsl import flow, task

    @task
    def double(x: int) -> int:
        return 2 * x

    @task
    def show(y: int, mode: str) -> str:
        return f"{mode}:{y}"

    @flow(image="python:3.11")
    def pipeline(x: int = 2, mode: Literal["fast", "slow"] = "fast") -> str:
        return show(double(x), mode)
    """
)


@pytest.fixture
def argo_server() -> Iterator[ArgoServer]:
    yield from serve()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argo_server: ArgoServer) -> Path:
    """A project directory with flows.py, fast retries, and ARGO_* pointing at the server."""
    (tmp_path / "flows.py").write_text(FLOWS)
    (tmp_path / "pyproject.toml").write_text(
        "[tool.flowdsl.argo]\nretries = 2\nretry-backoff = 0.01\nstream-timeout = 1\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARGO_SERVER", argo_server.address)
    monkeypatch.setenv("ARGO_SECURE", "false")
    monkeypatch.setenv("ARGO_NAMESPACE", "argo")
    monkeypatch.delenv("ARGO_TOKEN", raising=False)
    monkeypatch.delenv("ARGO_BASE_HREF", raising=False)
    return tmp_path


def run(argv: list[str], flow: Any = None) -> int:
    """What `python -m flowdsl ...` does with these commands (cli.main's error handling)."""
    parser = argparse.ArgumentParser(prog="flowdsl")
    commands = parser.add_subparsers(dest="command", required=True)
    register(commands, flow=flow)
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except FlowDSLError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def submit(server: ArgoServer) -> str:
    before = set(server.workflow_names())
    assert run(["submit", "flows.py", "-o", "name"]) == 0
    (name,) = set(server.workflow_names()) - before
    return name


class TestSubmit:
    def test_submit_prints_name_and_link(
        self, project: Path, argo_server: ArgoServer, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """submit compiles, creates, and prints the workflow and its UI link."""
        assert run(["submit", "flows.py", "-p", "x=5", "-p", "mode=slow"]) == 0
        (name,) = argo_server.workflow_names()
        out = capsys.readouterr().out
        assert out == (
            f"submitted workflow {name} to namespace argo\n"
            f"  {argo_server.url}workflows/argo/{name}\n"
        )
        params = argo_server.workflow(name)["spec"]["arguments"]["parameters"]
        assert {p["name"]: p["value"] for p in params} == {"x": "5", "mode": "slow"}

    @pytest.mark.parametrize(
        ("pair", "message"),
        [
            (
                "y=1",
                "error: flow 'pipeline', parameter 'y': the flow has no parameter 'y' (parameters: "
                "x, mode); check the name\n",
            ),
            ("x=abc", "error: flow 'pipeline', parameter 'x': "),
            ("mode=medium", "error: flow 'pipeline', parameter 'mode': "),
        ],
    )
    def test_parameters_checked_before_sending(
        self,
        project: Path,
        argo_server: ArgoServer,
        capsys: pytest.CaptureFixture[str],
        pair: str,
        message: str,
    ) -> None:
        """Unknown names, values of the wrong type and values outside an enum: nothing sent."""
        assert run(["submit", "flows.py", "-p", pair]) == 1
        assert capsys.readouterr().err.startswith(message)
        assert argo_server.requests == []

    def test_enum_message_lists_the_values(
        self, project: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A value outside a Literal's values names the allowed ones."""
        run(["submit", "flows.py", "-p", "mode=medium"])
        assert "fast, slow" in capsys.readouterr().err

    def test_dry_run_sends_nothing(
        self, project: Path, argo_server: ArgoServer, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--dry-run prints the Workflow and needs no server."""
        assert run(["submit", "flows.py", "--dry-run", "-p", "x=3"]) == 0
        doc = yaml.safe_load(capsys.readouterr().out)
        assert doc["kind"] == "Workflow"
        assert doc["metadata"]["generateName"] == "pipeline-"
        assert argo_server.requests == []

    def test_server_dry_run(
        self, project: Path, argo_server: ArgoServer, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--server-dry-run has the server validate, and creates nothing."""
        assert run(["submit", "flows.py", "--server-dry-run"]) == 0
        assert "server dry run: nothing created" in capsys.readouterr().out
        assert argo_server.workflow_names() == []

    def test_name(self, project: Path, argo_server: ArgoServer) -> None:
        """--name names the workflow."""
        assert run(["submit", "flows.py", "--name", "chosen", "-o", "name"]) == 0
        assert argo_server.workflow_names() == ["chosen"]

    def test_manifest_file(
        self, project: Path, argo_server: ArgoServer, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A compiled manifest can be submitted; its -p values are checked by its enums."""
        run(["submit", "flows.py", "--dry-run"])
        (project / "wf.yaml").write_text(capsys.readouterr().out)
        assert run(["submit", "wf.yaml", "-p", "mode=slow", "-o", "name"]) == 0
        (name,) = argo_server.workflow_names()
        assert capsys.readouterr().out == f"{name}\n"
        assert run(["submit", "wf.yaml", "-p", "mode=warp"]) == 1
        assert capsys.readouterr().err == (
            "error: parameter 'mode': 'warp' is not an allowed value (expected one of: fast, "
            "slow); pass one of: fast, slow\n"
        )

    def test_no_server(
        self, project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Without a server the command fails before sending, and says how to set one."""
        monkeypatch.delenv("ARGO_SERVER")
        assert run(["submit", "flows.py"]) == 1
        assert capsys.readouterr().err.startswith(
            "error: no Argo Server is configured; set ARGO_SERVER"
        )

    def test_server_unreachable_exit_code(
        self, project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A server that refuses connections: retry notices, then an error and exit 1."""
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        monkeypatch.setenv("ARGO_SERVER", f"127.0.0.1:{port}")
        assert run(["get", "wf"]) == 1
        err = capsys.readouterr().err
        assert err.count("flowdsl: GET /api/v1/workflows/argo/wf: cannot connect") == 2
        assert err.splitlines()[-1].startswith(
            f"error: GET http://127.0.0.1:{port}/api/v1/workflows/argo/wf failed after 3 attempts"
        )


class TestWait:
    def test_wait_success(
        self, project: Path, argo_server: ArgoServer, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--wait exits 0 when the workflow succeeds."""
        finisher = _finish_when_created(argo_server)
        try:
            assert run(["submit", "flows.py", "--wait"]) == 0
        finally:
            finisher.join()
        assert capsys.readouterr().out.endswith(" Succeeded\n")

    def test_wait_failure_prints_failing_nodes(
        self, project: Path, argo_server: ArgoServer, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--wait exits 1 when the workflow fails and prints where, with the next commands."""
        finisher = _finish_when_created(argo_server, fail="show")
        try:
            assert run(["submit", "flows.py", "--wait", "-p", "x=4"]) == 1
        finally:
            finisher.join()
        (name,) = argo_server.workflow_names()
        out = capsys.readouterr().out
        assert out.split("\n", 2)[2] == (
            f"workflow {name} Failed: child '{name}-{_node_hash(name, 'show')}' failed\n"
            "  ✖ show (Failed): Error (exit code 1)\n"
            "      inputs: y={{tasks.double.outputs.result}}, mode=fast\n"
            f"      logs:   python -m flowdsl logs {name} --task show\n"
            f"      debug:  python -m flowdsl debug flows.py {name} --task show\n"
        )

    def test_watch_prints_phases(
        self, project: Path, argo_server: ArgoServer, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--watch (not on a terminal) prints one line per change, then the outcome."""
        finisher = _finish_when_created(argo_server, start=True)
        try:
            assert run(["submit", "flows.py", "--watch"]) == 0
        finally:
            finisher.join()
        lines = [line.split("  ", 1)[1] for line in capsys.readouterr().out.splitlines()[2:-1]]
        name = argo_server.workflow_names()[0]
        assert lines[0] == f"workflow {name}  Pending"
        assert f"workflow {name}  Succeeded 2/2" in lines
        assert "double  Running" in lines
        assert "double  Succeeded" in lines

    def test_wait_timeout(
        self, project: Path, argo_server: ArgoServer, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--timeout stops waiting with an error; the workflow keeps running."""
        assert run(["submit", "flows.py", "--wait", "--timeout", "0.2"]) == 1
        name = argo_server.workflow_names()[0]
        assert capsys.readouterr().err == (
            f"error: workflow '{name}' is still Pending after 0.2s; it keeps running; look at it "
            f"with `python -m flowdsl get {name}`\n"
        )


def _node_hash(name: str, task: str) -> int:
    from argo_server import fnv32a

    return fnv32a(f"{name}.{task}")


def _finish_when_created(
    server: ArgoServer, *, fail: str | None = None, start: bool = False
) -> threading.Thread:
    """Finish the first workflow created on the server, from another thread."""

    def play() -> None:
        import time

        deadline = time.monotonic() + 10
        while not server.workflow_names() and time.monotonic() < deadline:
            time.sleep(0.01)
        (name,) = server.workflow_names()
        # Let the client open its event stream first, so changes arrive as events.
        while not any("workflow-events" in r.path for r in server.requests):
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)
        if start:
            server.start_workflow(name)
            time.sleep(0.05)
        server.finish_workflow(name, fail=fail)

    thread = threading.Thread(target=play)
    thread.start()
    return thread


class TestTemplates:
    def test_register_then_submit_from_template(
        self, project: Path, argo_server: ArgoServer, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """register creates, then updates; submit --from-template checks -p by type."""
        assert run(["register", "flows.py"]) == 0
        assert run(["register", "flows.py"]) == 0
        out = capsys.readouterr().out
        assert out == (
            "created workflow template pipeline in namespace argo\n"
            "updated workflow template pipeline in namespace argo\n"
        )
        assert run(["submit", "flows.py", "--from-template", "-p", "x=8", "-o", "name"]) == 0
        (name,) = argo_server.workflow_names()
        stored = argo_server.workflow(name)
        assert stored["spec"]["workflowTemplateRef"] == {"name": "pipeline"}
        assert stored["metadata"]["labels"]["flowdsl/flow"] == "pipeline"
        assert run(["submit", "flows.py", "--from-template", "-p", "x=eight"]) == 1

    def test_from_template_without_flow_checks_declared(
        self, project: Path, argo_server: ArgoServer, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Without a TARGET, -p is checked against the template's parameters on the server."""
        run(["register", "flows.py"])
        capsys.readouterr()
        assert run(["submit", "--from-template", "pipeline", "-p", "mood=x"]) == 1
        assert capsys.readouterr().err == (
            "error: parameter 'mood': workflow template 'pipeline' has no parameter 'mood' "
            "(parameters: x, mode); did you mean 'mode'? check the name\n"
        )
        assert not any(r.path.endswith("/submit") for r in argo_server.requests)

    def test_missing_template(self, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """An unknown template is a clear error."""
        assert run(["submit", "--from-template", "nope"]) == 1
        assert capsys.readouterr().err.startswith(
            "error: workflow template 'nope' was not found in namespace 'argo' (404 Not Found"
        )

    def test_submit_needs_something(
        self, project: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """submit with neither TARGET nor --from-template says what to give."""
        assert run(["submit"]) == 1
        assert "submit needs a TARGET" in capsys.readouterr().err


class TestInspect:
    def test_get(
        self, project: Path, argo_server: ArgoServer, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """get shows the summary and one row per step."""
        name = submit(argo_server)
        argo_server.finish_workflow(name, fail="show")
        capsys.readouterr()
        assert run(["get", name]) == 0
        out = capsys.readouterr().out
        assert f"Name:        {name}\n" in out
        assert "Phase:       Failed\n" in out
        assert "Parameters:  x=2, mode=fast\n" in out
        rows = out.split("\n\n", 1)[1].splitlines()
        assert rows[0].split() == ["STEP", "TYPE", "PHASE", "DURATION", "MESSAGE"]
        assert rows[2].split()[:3] == ["show", "Pod", "Failed"]
        assert rows[2].endswith("Error (exit code 1)")

    def test_get_json(
        self, project: Path, argo_server: ArgoServer, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """get -o json prints the server's object."""
        import json

        name = submit(argo_server)
        capsys.readouterr()
        assert run(["get", name, "-o", "json"]) == 0
        assert json.loads(capsys.readouterr().out)["metadata"]["name"] == name

    def test_get_missing(self, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """get of an unknown workflow: exit 1 and the not-found message."""
        assert run(["get", "nope"]) == 1
        assert capsys.readouterr().err.startswith(
            "error: workflow 'nope' was not found in namespace 'argo'"
        )

    def test_list(
        self, project: Path, argo_server: ArgoServer, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """list shows the runs, filtered by --flow."""
        name = submit(argo_server)
        capsys.readouterr()
        assert run(["list", "--flow", "pipeline"]) == 0
        rows = capsys.readouterr().out.splitlines()
        assert rows[0].split() == ["NAME", "STATUS", "AGE", "DURATION", "PROGRESS", "FLOW"]
        assert rows[1].split()[0] == name
        assert rows[1].split()[-1] == "pipeline"
        assert run(["list", "--flow", "other"]) == 0
        assert capsys.readouterr().out == "no workflows of flow other in namespace argo\n"

    def test_list_of_a_script_flow(
        self, project: Path, argo_server: ArgoServer, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """From flow.main(), list shows that flow's runs unless --all."""
        from flowdsl._target import load_flow

        submit(argo_server)
        capsys.readouterr()
        flow = load_flow("flows.py")
        assert run(["list", "-o", "name"], flow=flow) == 0
        assert capsys.readouterr().out.strip() == argo_server.workflow_names()[0]
        assert argo_server.requests[-1].query["listOptions.labelSelector"] == [
            "flowdsl/flow=pipeline"
        ]
        assert run(["list", "--all", "-o", "name"], flow=flow) == 0
        assert "listOptions.labelSelector" not in argo_server.requests[-1].query

    def test_watch(
        self, project: Path, argo_server: ArgoServer, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """watch NAME follows until the end; exit 1 when it failed."""
        name = submit(argo_server)
        finisher = _finish_when_created(argo_server, fail="double")
        try:
            assert run(["watch", name]) == 1
        finally:
            finisher.join()
        out = capsys.readouterr().out
        assert "double  Failed  Error (exit code 1)" in out
        assert "  ✖ double (Failed): Error (exit code 1)\n" in out

    def test_logs(
        self, project: Path, argo_server: ArgoServer, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """logs prints `task: line`; --task keeps one task's lines."""
        name = submit(argo_server)
        argo_server.finish_workflow(name)
        argo_server.add_log(name, argo_server.pod_of(name, "double"), "doubling")
        argo_server.add_log(name, argo_server.pod_of(name, "show"), "showing")
        capsys.readouterr()
        assert run(["logs", name]) == 0
        assert capsys.readouterr().out == "double: doubling\nshow: showing\n"
        assert run(["logs", name, "--task", "show"]) == 0
        assert capsys.readouterr().out == "show: showing\n"
        assert argo_server.requests[-1].query["podName"] == [argo_server.pod_of(name, "show")]
        assert run(["logs", name, "--task", "shw"]) == 1
        assert capsys.readouterr().err == (
            f"error: workflow '{name}' has no task 'shw' that ran a pod (tasks: double, show); "
            "did you mean 'show'? name a task of the flow\n"
        )


class TestActions:
    def test_stop_terminate(
        self, project: Path, argo_server: ArgoServer, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """stop and terminate say what they did; stopping a finished workflow is exit 1."""
        name = submit(argo_server)
        capsys.readouterr()
        assert run(["stop", name, "--message", "enough"]) == 0
        assert capsys.readouterr().out == f"workflow {name} stopped\n"
        assert run(["terminate", name]) == 1
        assert "cannot terminate workflow" in capsys.readouterr().err
        other = submit(argo_server)
        capsys.readouterr()
        assert run(["terminate", other]) == 0
        assert capsys.readouterr().out == f"workflow {other} terminated\n"

    def test_retry(
        self, project: Path, argo_server: ArgoServer, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """retry restarts a failed workflow."""
        name = submit(argo_server)
        argo_server.finish_workflow(name, fail="show")
        capsys.readouterr()
        assert run(["retry", name, "--restart-successful"]) == 0
        assert capsys.readouterr().out == f"workflow {name} retried\n"
        assert argo_server.workflow(name)["status"]["phase"] == "Running"

    def test_resubmit_with_checked_parameters(
        self, project: Path, argo_server: ArgoServer, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """resubmit -p is checked against the workflow's declared parameters."""
        name = submit(argo_server)
        capsys.readouterr()
        assert run(["resubmit", name, "-p", "mode=slow"]) == 0
        out = capsys.readouterr().out
        new = out.split(" as ")[1].strip()
        assert out == f"resubmitted workflow {name} as {new}\n"
        assert argo_server.workflow(new)["spec"]["arguments"]["parameters"][1]["value"] == "slow"
        assert run(["resubmit", name, "-p", "mode=warp"]) == 1
        assert "'warp' is not an allowed value" in capsys.readouterr().err


class TestToken:
    def test_token_never_printed(
        self,
        project: Path,
        argo_server: ArgoServer,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """With a refused token and an echoing server, neither output shows the token."""
        monkeypatch.setenv("ARGO_TOKEN", "Bearer s3cr3t-token-value")
        argo_server.fail(400, "bad header: Bearer s3cr3t-token-value", times=1)
        assert run(["stop", "wf"]) == 1
        argo_server.token = "Bearer right"
        assert run(["get", "wf"]) == 1
        captured = capsys.readouterr()
        assert "s3cr3t" not in captured.out + captured.err
        first, second = captured.err.splitlines()
        assert first == (
            "error: the Argo Server cannot stop workflow 'wf': bad header: <token>; check the "
            "state of workflow 'wf' with `python -m flowdsl get`"
        )
        assert second.endswith(
            "the token from ARGO_TOKEN was refused: check that it is current and complete, "
            "including its scheme (e.g. 'Bearer ')"
        )


class TestDebug:
    def test_debug_needs_a_flow(self, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """debug reruns Python code, so a manifest file is refused."""
        assert run(["debug", "wf.yaml", "name"]) == 1
        assert "a manifest file cannot be debugged" in capsys.readouterr().err


class TestHelp:
    def test_every_command_is_registered(self) -> None:
        """All the issue's commands are there, with TARGET or without (flow.main())."""
        parser = argparse.ArgumentParser()
        commands = parser.add_subparsers(dest="command")
        register(commands)
        assert set(commands.choices) == {
            "submit", "register", "get", "list", "watch", "logs",
            "stop", "terminate", "retry", "resubmit", "debug",
        }  # fmt: skip
        args = parser.parse_args(["debug", "flows.py", "wf-abc", "--task", "t"])
        assert (args.target, args.name, args.task) == ("flows.py", "wf-abc", "t")

    def test_wait_and_watch_exclude_each_other(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--wait and --watch together are a usage error (exit 2)."""
        with pytest.raises(SystemExit) as info:
            run(["submit", "flows.py", "--wait", "--watch"])
        assert info.value.code == 2
        assert "not allowed with argument" in capsys.readouterr().err

    def test_import_flowdsl_does_not_load_the_client(self) -> None:
        """`import flowdsl` loads neither the client nor requests."""
        import subprocess

        code = (
            "import sys, flowdsl\n"
            "print(sorted(m for m in ('flowdsl.client', 'requests') if m in sys.modules))\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert out.stdout == "[]\n"

    def test_handlers_import_lazily(self) -> None:
        """Registering the commands imports neither requests nor Hera."""
        import subprocess

        code = (
            "import argparse, sys\n"
            "from flowdsl.client.commands import register\n"
            "p = argparse.ArgumentParser(); register(p.add_subparsers())\n"
            "print(sorted(m for m in ('requests', 'hera', 'pydantic') if m in sys.modules))\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        assert out.stdout == "[]\n"
