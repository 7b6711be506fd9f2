"""The command line: compile, TARGET resolution, -p checking, and flow.main()."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from argo_oracle import assert_valid_argo
from conftest import ROOT


def flowdsl(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flowdsl", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "two.py").write_text(
        textwrap.dedent(
            """
            from flowdsl import flow, task

            @task
            def hello(name: str) -> str:
                return "hi " + name

            @flow(image="img")
            def first(name: str = "a") -> str:
                return hello(name)

            @flow(image="img")
            def second(count: int = 1) -> None:
                hello("x")
            """
        )
    )
    (tmp_path / "broken.py").write_text("import no_such_module_here\n")
    (tmp_path / "empty.py").write_text("x = 1\n")
    return tmp_path


class TestCompile:
    def test_compile_example_to_yaml(self) -> None:
        """compile prints a valid Workflow."""
        result = flowdsl("compile", "examples/quickstart.py")
        assert result.returncode == 0, result.stderr
        assert_valid_argo(yaml.safe_load(result.stdout))

    def test_compile_json_template_with_params(self, tmp_path: Path) -> None:
        """--format json --kind template -p writes a WorkflowTemplate with the value."""
        out = tmp_path / "t.json"
        result = flowdsl(
            "compile",
            "examples/quickstart.py:quickstart",
            "--kind",
            "template",
            "--format",
            "json",
            "-p",
            "method=mean",
            "-p",
            "size=5",
            "-o",
            str(out),
        )
        assert result.returncode == 0, result.stderr
        doc = yaml.safe_load(out.read_text())
        assert doc["kind"] == "WorkflowTemplate"
        values = {p["name"]: p.get("value") for p in doc["spec"]["arguments"]["parameters"]}
        assert values == {"size": "5", "method": "mean", "drop_outliers": "true"}

    def test_script_main(self) -> None:
        """A script with flow.main() has the same commands with the flow implied."""
        result = subprocess.run(
            [sys.executable, "examples/parallel_branches.py", "compile", "-p", "days=3"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        doc = yaml.safe_load(result.stdout)
        assert doc["metadata"]["generateName"] == "parallel-branches-"
        assert_valid_argo(doc)

    def test_module_target(self, project: Path) -> None:
        """package.module:flow targets import from the current directory."""
        result = flowdsl("compile", "two:second", cwd=project)
        assert result.returncode == 0, result.stderr
        assert yaml.safe_load(result.stdout)["metadata"]["generateName"] == "second-"


class TestBadInput:
    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (
                ["compile", "nope.py"],
                "error: nope.py: file 'nope.py' does not exist; check the path (relative to "
                "the current directory {cwd!r})",
            ),
            (
                ["compile", "empty.py"],
                "error: empty.py: 'empty.py' defines no @flow; decorate a function with @flow, "
                "or point at the file that does",
            ),
            (
                ["compile", "two.py"],
                "error: two.py: 'two.py' defines several flows (first, second) and the target "
                "names none; add the flow's name: two.py:first",
            ),
            (
                ["compile", "two.py:third"],
                "error: two.py:third: 'two.py' has no attribute 'third' (flows there: first, "
                "second); name one of its flows, e.g. two.py:first",
            ),
            (
                ["compile", "two.py:hello"],
                "error: two.py:hello: two.py:hello is a Task, not a @flow; name a function "
                "decorated with @flow",
            ),
            (
                ["compile", "no_such_pkg.mod"],
                "error: no_such_pkg.mod: no file or module named 'no_such_pkg.mod'; give a "
                "path to a .py file or an importable module name",
            ),
            (
                ["compile", "two.py:second", "-p", "count=abc"],
                "error: flow 'second', parameter 'count': expected int, got 'abc'; pass a value "
                "of type int",
            ),
            (
                ["compile", "two.py:second", "-p", "cuont=3"],
                "error: flow 'second', parameter 'cuont': the flow has no parameter 'cuont' "
                "(parameters: count); did you mean 'count'? check the name",
            ),
            (
                ["compile", "two.py:second", "-p", "count"],
                "error: flow 'second': -p 'count' has no '=' (expected name=value); write -p "
                "count=VALUE",
            ),
        ],
        ids=[
            "missing-file",
            "no-flow",
            "several",
            "unknown-attr",
            "not-a-flow",
            "no-module",
            "bad-value",
            "unknown-param",
            "no-equals",
        ],
    )
    def test_message(self, project: Path, args: list[str], message: str) -> None:
        """Each bad TARGET or -p gives one clear line on stderr and exit status 1."""
        result = flowdsl(*args, cwd=project)
        assert result.returncode == 1
        assert result.stderr.strip() == message.format(cwd=str(project))
        assert "Traceback" not in result.stderr

    def test_import_error_in_target(self, project: Path) -> None:
        """A target that fails to import says so, without a traceback."""
        result = flowdsl("compile", "broken.py", cwd=project)
        assert result.returncode == 1
        assert result.stderr.startswith(
            "error: broken.py: importing 'broken.py' failed: ModuleNotFoundError: No module "
            "named 'no_such_module_here'"
        )
