"""Artifacts: bytes, Path and Artifact[T] values pass between tasks as files."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from flowdsl import compile_dict, flow, fused, task
from flowdsl.artifacts import Artifact, ArtifactKind, artifact_kind, read, write
from flowdsl.config import parse_config
from flowdsl.errors import AnnotationError, DefinitionError, TraceError
from flowdsl.lower import INPUTS_DIR, OUTPUTS_DIR

from argo_oracle import assert_valid_argo


@task
def make_rows(n: int) -> Artifact[list[dict]]:
    return [{"i": i} for i in range(n)]


@task
def to_bytes(rows: Artifact[list[dict]], sep: str = ",") -> bytes:
    return sep.join(str(r["i"]) for r in rows).encode()


@task
def count(data: bytes) -> int:
    return len(data)


@task
def to_dir(data: bytes) -> Path:
    out = Path("report")
    out.mkdir(exist_ok=True)
    (out / "data.txt").write_bytes(data)
    return out


@task
def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@flow(image="img", artifact_repository="team-bucket")
def pipeline(n: int = 4) -> int:
    rows = make_rows(n)
    data = to_bytes(rows)
    files_in(to_dir(data))
    return count(data)


def templates(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in doc["spec"]["templates"]}


class TestKinds:
    def test_kinds(self, tmp_path: Path) -> None:
        """bytes, Path and Artifact[T] write and read back their values."""
        assert artifact_kind(int) is None
        cases = [
            (ArtifactKind("bytes"), b"\x00\x01"),
            (ArtifactKind("value", list[int]), [1, 2, 3]),
        ]
        for kind, value in cases:
            write(kind, value, tmp_path / "f")
            assert read(kind, tmp_path / "f") == value
        source = tmp_path / "dir"
        (source / "sub").mkdir(parents=True)
        (source / "sub" / "x.txt").write_text("x")
        write(ArtifactKind("path"), source, tmp_path / "copy")
        assert (tmp_path / "copy" / "sub" / "x.txt").read_text() == "x"
        with pytest.raises(TypeError, match="Artifact\\[T\\] is a type hint"):
            Artifact()


class TestManifest:
    def test_shape(self) -> None:
        """Inputs and outputs are artifacts; the DAG wires them with `from`."""
        doc = compile_dict(pipeline, config=parse_config({}))
        assert_valid_argo(doc)
        t = templates(doc)
        assert t["make-rows"]["outputs"] == {
            "artifacts": [{"name": "return", "path": f"{OUTPUTS_DIR}/return"}]
        }
        assert t["to-bytes"]["inputs"] == {
            "parameters": [{"name": "sep", "default": ","}],
            "artifacts": [{"name": "rows", "path": f"{INPUTS_DIR}/rows"}],
        }
        args = t["to-bytes"]["script"]["args"]
        assert f"rows={INPUTS_DIR}/rows" in args
        dag = {task["name"]: task for task in t["pipeline"]["dag"]["tasks"]}
        assert dag["to-bytes"]["arguments"] == {
            "artifacts": [{"name": "rows", "from": "{{tasks.make-rows.outputs.artifacts.return}}"}]
        }
        assert dag["to-bytes"]["depends"] == "make-rows"
        assert doc["spec"]["artifactRepositoryRef"] == {
            "configMap": "artifact-repositories",
            "key": "team-bucket",
        }

    def test_memoize_key_hashes_parameters_only(self) -> None:
        """A cached task with an artifact input keys on its parameter inputs."""

        @task(cache=True)
        def cached(rows: Artifact[list[dict]], label: str) -> int:
            return len(rows)

        @flow(image="img")
        def f() -> int:
            return cached(make_rows(2), "x")

        key = templates(compile_dict(f, config=parse_config({})))["cached"]["memoize"]["key"]
        assert re.fullmatch(
            r"cached-[0-9a-f]{12}-v1-\{\{=sprig\.sha256sum\(inputs\.parameters\['label'\]\)\}\}",
            key,
        )


def run_template(template: dict[str, Any], inputs: dict[str, str], pod: Path) -> str:
    """Run a template's command as a pod would, with /tmp/flowdsl moved under ``pod``.

    Returns its stdout: Argo's ``outputs.result``.
    """
    body = template.get("script") or template["container"]

    def local(arg: str) -> str:
        arg = re.sub(r"\{\{inputs\.parameters\.([-\w]+)\}\}", lambda m: inputs[m.group(1)], arg)
        return arg.replace("/tmp/flowdsl", str(pod / "tmp/flowdsl"))

    args = [local(a) for a in body["args"]]
    if "script" in template:
        (pod / "script").write_text(body["source"])
        args.append(str(pod / "script"))
    result = subprocess.run(
        [sys.executable, "-m", "flowdsl.runtime", *args],
        cwd=pod,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


class TestRuntime:
    def test_pods_pass_files(self, tmp_path: Path) -> None:
        """Each template reads its input artifacts from files and writes its output artifact;
        moving the files between pods (Argo's job) gives the flow's values."""
        t = templates(compile_dict(pipeline, config=parse_config({})))
        pod = tmp_path
        run_template(t["make-rows"], {"n": "3"}, pod)
        produced = pod / "tmp/flowdsl/outputs/return"
        assert produced.read_text() == '[{"i":0},{"i":1},{"i":2}]'
        inputs = pod / "tmp/flowdsl/inputs"
        inputs.mkdir(parents=True)
        produced.rename(inputs / "rows")
        run_template(t["to-bytes"], {"sep": ";"}, pod)
        assert produced.read_bytes() == b"0;1;2"
        produced.rename(inputs / "data")
        run_template(t["to-dir"], {}, pod)
        assert (produced / "data.txt").read_bytes() == b"0;1;2"
        produced.rename(inputs / "folder")
        # A value that is not an artifact is the result: stdout, as Argo keeps it.
        assert run_template(t["files-in"], {}, pod) == '["data.txt"]\n'  # Argo trims the \\n
        assert not produced.exists()

    def test_oversized_parameter_says_use_an_artifact(self, tmp_path: Path) -> None:
        """A value over 127 KiB fails the task that returns it, with the fix."""
        module = tmp_path / "big.py"
        module.write_text("def big() -> str:\n    return 'x' * (300 * 1024)\n")
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "flowdsl.runtime",
                "--function",
                "big:big",
                "--outputs",
                str(tmp_path / "out"),
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PYTHONPATH": str(tmp_path)},
        )
        assert result.returncode == 2
        assert (
            "the return value is 300 KiB encoded, over the 127 KiB a value can be (it "
            "reaches the next task as one command-line argument, which Linux limits to "
            "128 KiB" in result.stderr
        )
        assert "annotate the return Artifact[T]" in result.stderr


class TestBadInput:
    def test_flow_parameter_artifact(self) -> None:
        """A flow's parameters are text."""
        with pytest.raises(
            AnnotationError,
            match=r"parameter 'data' is typed bytes, an Argo "
            r"artifact; a flow's parameters and result are Argo parameters",
        ):

            @flow(image="img")
            def f(data: bytes) -> None: ...

    def test_default_for_artifact(self) -> None:
        """An artifact parameter has no default."""
        with pytest.raises(DefinitionError, match="an artifact parameter cannot have a default"):

            @task
            def t(data: bytes = b"") -> None: ...

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (
                lambda: count(b"abc"),
                "the artifact parameter is given a constant (b'abc'); artifacts are files "
                "that tasks produce",
            ),
            (
                lambda: files_in(to_bytes(make_rows(1))),
                "expected Path, got to-bytes(...) of type bytes",
            ),
            (
                lambda: count.map([b"a"]),
                "map(...) with a task that takes or returns artifacts is not supported",
            ),
        ],
        ids=["constant", "kind", "map"],
    )
    def test_trace_errors(self, body, message: str) -> None:  # type: ignore[no-untyped-def]
        """Each names the flow, the task and the fix."""

        @flow(image="img")
        def f() -> None:
            body()

        with pytest.raises(TraceError) as excinfo:
            f.trace()
        assert message in str(excinfo.value)
        assert str(excinfo.value).startswith("flow 'f', task '")

    def test_artifact_into_a_parameter(self) -> None:
        """An artifact output cannot feed an ordinary parameter."""

        @task
        def needs_text(text: str) -> None: ...

        @flow(image="img")
        def f() -> None:
            needs_text(to_bytes(make_rows(1)))

        with pytest.raises(
            TraceError,
            match=r"to-bytes\(\.\.\.\) is an artifact \(bytes\), but "
            r"the parameter is an Argo parameter of type str",
        ):
            f.trace()

    def test_fused_with_artifacts(self) -> None:
        """A fused group does not take artifact tasks."""

        @flow(image="img")
        def f() -> None:
            with fused("prep"):
                make_rows(2)

        with pytest.raises(
            TraceError,
            match=r"fused\('prep'\) with a task that takes or "
            r"returns artifacts is not supported",
        ):
            f.trace()


class TestLocally:
    def test_local_run_passes_artifacts(self, tmp_path: Path, monkeypatch: Any) -> None:
        """The compiled flow runs locally, artifacts passing through the run directory, and
        gives what calling the functions gives."""
        import flowdsl

        monkeypatch.chdir(tmp_path)
        run = flowdsl.run(pipeline, params={"n": 5}, progress="off", run_dir=tmp_path / "r")
        assert run.status == "Succeeded", run.local.message
        assert run.result == count(to_bytes(make_rows(5)))
        assert run.tasks["files-in"].outputs["return"] == ["data.txt"]
        stored = run.tasks["make-rows"].node.artifacts["return"]
        assert stored.read_text() == '[{"i":0},{"i":1},{"i":2},{"i":3},{"i":4}]'
