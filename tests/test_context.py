"""The run context: environment variables in every pod, flowdsl.current(), and `init`."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import flowdsl
from flowdsl import compile_dict, flow, task
from flowdsl.context import RunContext, current

from argo_oracle import templates_as_run

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 (tomli is a dependency there)
    import tomli as tomllib


@task(retries=1)
def where(tag: str) -> dict[str, str]:
    ctx = flowdsl.current()
    return {
        "workflow": ctx.workflow or "",
        "task": ctx.task or "",
        "attempt": str(ctx.attempt),
        "in_workflow": str(ctx.in_workflow),
        "tag": tag,
    }


@task
def plain() -> str:
    return flowdsl.current().pod or ""


@flow
def context_flow() -> dict[str, str]:
    plain()
    return where("x")


class TestRunContext:
    def test_every_pod_gets_the_context(self) -> None:
        """Argo fills the variables; {{retries}} only where the template has a retryStrategy.
        FLOWDSL_TASK is set by the runtime (test_runtime), so the manifest does not repeat it."""

        @flow(image="img")
        def f() -> None:
            plain()
            where("y")

        doc = compile_dict(f)
        # The shared variables are written once, in spec.templateDefaults.
        shared = {e["name"] for e in doc["spec"]["templateDefaults"]["script"]["env"]}
        assert "FLOWDSL_POD" in shared
        templates = templates_as_run(doc)
        env = {e["name"]: e["value"] for e in templates["where"]["script"]["env"]}
        assert env == {
            "FLOWDSL_WORKFLOW": "{{workflow.name}}",
            "FLOWDSL_WORKFLOW_UID": "{{workflow.uid}}",
            "FLOWDSL_NAMESPACE": "{{workflow.namespace}}",
            "FLOWDSL_POD": "{{pod.name}}",
            "FLOWDSL_ATTEMPT": "{{retries}}",
        }
        plain_env = {e["name"] for e in templates["plain"]["script"]["env"]}
        assert "FLOWDSL_ATTEMPT" not in plain_env

    def test_current_in_a_local_run(self, tmp_path: Path) -> None:
        """Locally the engine fills the same variables: current() sees the run."""
        run = flowdsl.run(context_flow, progress="off", run_dir=tmp_path / "r")
        assert run.status == "Succeeded"
        result = run.result
        assert result["workflow"].startswith("context-flow-")
        assert result["task"] == "where"
        assert result["attempt"] == "0"
        assert result["in_workflow"] == "True"

    def test_current_outside_a_workflow(self) -> None:
        """Called as a plain function, a task sees an empty context."""
        assert where("z")["in_workflow"] == "False"
        assert current({}) == RunContext()

    def test_parsing(self) -> None:
        """Unresolved tags are not values; times parse with a Z suffix."""
        ctx = current(
            {
                "FLOWDSL_WORKFLOW": "wf-1",
                "FLOWDSL_ATTEMPT": "{{retries}}",
                "FLOWDSL_SCHEDULED_TIME": "2026-01-02T03:00:00Z",
            }
        )
        assert ctx.workflow == "wf-1"
        assert ctx.attempt == 0
        assert ctx.scheduled_time == datetime(2026, 1, 2, 3, tzinfo=timezone.utc)


class TestInit:
    def test_init_writes_and_never_overwrites(self, tmp_path: Path) -> None:
        """A starter config, Dockerfile and .dockerignore; a second run skips them all."""
        project = tmp_path / "my_project"
        project.mkdir()
        (project / "pyproject.toml").write_text('[project]\nname = "my-project"\n')
        (project / ".dockerignore").write_text("keep me\n")
        first = subprocess.run(
            [sys.executable, "-m", "flowdsl", "init", str(project)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert f"added a [tool.flowdsl] section to {project / 'pyproject.toml'}" in first
        assert f"wrote {project / 'Dockerfile'}" in first
        assert f"skipped {project / '.dockerignore'}: it exists (never overwritten)" in first
        assert (project / ".dockerignore").read_text() == "keep me\n"
        config = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["flowdsl"]
        assert config["image"] == "registry.example.com/my-project:latest"
        assert config["profiles"]["gpu"]["resources"]["gpu"] == 1
        minor = f"{sys.version_info.major}.{sys.version_info.minor}"
        assert f"FROM python:{minor}-slim" in (project / "Dockerfile").read_text()
        second = subprocess.run(
            [sys.executable, "-m", "flowdsl", "init", str(project)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "skipped" in second
        assert "wrote" not in second
