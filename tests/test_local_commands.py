"""python -m flowdsl run / runs / graph on manifest files, and Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowdsl.cli import main
from flowdsl.errors import ParameterError, TargetError
from flowdsl.local.commands import parse_pairs, read_manifest_file

MANIFESTS = Path(__file__).parent / "data" / "manifests"
ROOT = Path(__file__).parent.parent


def cli(*argv: str) -> int:
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    return int(info.value.code or 0)


class TestRun:
    def test_success(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A manifest file runs; its outputs go to stdout; exit status 0."""
        code = cli(
            "run", str(MANIFESTS / "nested.yaml"), "--progress", "off", "--runs-dir", str(tmp_path)
        )
        assert code == 0
        assert capsys.readouterr().out == 'total: 3|3|["1|1","2|2"]\n'

    def test_parameters(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """-p name=value sets workflow parameters."""
        code = cli(
            "run", str(MANIFESTS / "diamond.yaml"), "-p", "count=9", "--progress", "off",
            "--runs-dir", str(tmp_path),
        )  # fmt: skip
        assert code == 0
        assert "c got 9 (data)!" in capsys.readouterr().out

    def test_failure(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A failed run exits 1 and names the failing node on stderr."""
        code = cli(
            "run",
            str(MANIFESTS / "depends.yaml"),
            "--progress",
            "plain",
            "--runs-dir",
            str(tmp_path),
        )
        assert code == 1
        assert "a (pod) failed: Error (exit code 3)" in capsys.readouterr().err

    def test_refused(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A refused manifest is an error message and exit 1, before anything runs."""
        code = cli(
            "run", str(MANIFESTS / "diamond.yaml"), "-p", "nope=1", "--runs-dir", str(tmp_path)
        )
        assert code == 1
        assert capsys.readouterr().err == (
            "error: flow 'diamond', parameter 'nope': the workflow has no parameter 'nope' "
            "(parameters: greeting, count); check the name\n"
        )
        assert not tmp_path.exists() or not any(tmp_path.iterdir())

    def test_run_dir(self, tmp_path: Path) -> None:
        """--run-dir records the run exactly there."""
        target = tmp_path / "mine"
        assert (
            cli(
                "run",
                str(MANIFESTS / "exit-fails.yaml"),
                "--progress",
                "off",
                "--run-dir",
                str(target),
            )
            == 1
        )
        assert json.loads((target / "run.json").read_text())["status"] == "Failed"


class TestRuns:
    def test_listing(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """runs lists recent runs, newest first, with the nodes that failed."""
        cli("run", str(MANIFESTS / "nested.yaml"), "--progress", "off", "--runs-dir", str(tmp_path))
        cli(
            "run", str(MANIFESTS / "depends.yaml"), "--progress", "off", "--runs-dir", str(tmp_path)
        )
        capsys.readouterr()
        assert cli("runs", "--runs-dir", str(tmp_path)) == 0
        out = capsys.readouterr().out.splitlines()
        assert out[0].split() == ["NAME", "STATUS", "STARTED", "DURATION", "NODES", "FAILED"]
        assert out[1].split()[1] == "Failed"
        assert out[1].endswith("  a")
        assert out[2].split()[1] == "Succeeded"
        assert out[2].endswith("  -")

    def test_json(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """runs --json prints the same as JSON."""
        cli("run", str(MANIFESTS / "nested.yaml"), "--progress", "off", "--runs-dir", str(tmp_path))
        capsys.readouterr()
        cli("runs", "--runs-dir", str(tmp_path), "--json")
        [entry] = json.loads(capsys.readouterr().out)
        assert entry["status"] == "Succeeded"
        assert entry["nodes"] == 9

    def test_empty(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """No runs yet is said plainly."""
        assert cli("runs", "--runs-dir", str(tmp_path / "none")) == 0
        assert capsys.readouterr().out == f"no runs under {tmp_path / 'none'}\n"


class TestGraph:
    def test_mermaid_to_stdout(self, capsys: pytest.CaptureFixture[str]) -> None:
        """graph prints Mermaid by default."""
        assert cli("graph", str(MANIFESTS / "depends-handled.yaml")) == 0
        assert capsys.readouterr().out.startswith("flowchart TD\n")

    def test_dot_to_file(self, tmp_path: Path) -> None:
        """graph --format dot -o FILE writes the file."""
        out = tmp_path / "g.dot"
        assert cli("graph", str(MANIFESTS / "loops.yaml"), "--format", "dot", "-o", str(out)) == 0
        assert out.read_text().startswith("digraph workflow {")


class TestManifestFiles:
    def test_json_and_multi_document(self, tmp_path: Path) -> None:
        """JSON files load; YAML streams pick their one workflow document."""
        doc = {"kind": "Workflow", "metadata": {"name": "x"}, "spec": {}}
        (tmp_path / "w.json").write_text(json.dumps(doc))
        assert read_manifest_file(str(tmp_path / "w.json")) == doc
        (tmp_path / "w.yaml").write_text(
            "kind: ConfigMap\n---\nkind: Workflow\nmetadata: {name: x}\nspec: {}\n"
        )
        assert read_manifest_file(str(tmp_path / "w.yaml")) == doc

    def test_errors(self, tmp_path: Path) -> None:
        """Unreadable, unparsable and workflow-less files are TargetErrors naming the file."""
        missing = str(tmp_path / "missing.yaml")
        with pytest.raises(TargetError) as info:
            read_manifest_file(missing)
        assert (
            str(info.value)
            == f"{missing}: cannot read {missing}: No such file or directory; check the path"
        )
        (tmp_path / "bad.yaml").write_text("a: [")
        with pytest.raises(TargetError, match="is not valid YAML"):
            read_manifest_file(str(tmp_path / "bad.yaml"))
        (tmp_path / "two.yaml").write_text("kind: Workflow\n---\nkind: Workflow\n")
        with pytest.raises(TargetError, match="holds 2 workflow documents"):
            read_manifest_file(str(tmp_path / "two.yaml"))

    def test_timestamps_stay_text(self, tmp_path: Path) -> None:
        """A date in YAML stays the text it was, as Kubernetes reads it."""
        (tmp_path / "w.yaml").write_text(
            "kind: Workflow\nmetadata: {name: x}\nspec: {v: 2024-01-02}\n"
        )
        assert read_manifest_file(str(tmp_path / "w.yaml"))["spec"] == {"v": "2024-01-02"}

    def test_pairs(self) -> None:
        """-p pairs split on the first '='; a pair without one is refused."""
        assert parse_pairs(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
        with pytest.raises(ParameterError) as info:
            parse_pairs(["oops"])
        assert str(info.value) == "-p 'oops' is not name=value; write -p oops=VALUE"


class TestSigterm:
    def test_sigterm_stops_everything(self, tmp_path: Path) -> None:
        """SIGTERM to the engine stops its processes too, and the run is recorded Stopped."""
        manifest = tmp_path / "wf.yaml"
        pidfile = tmp_path / "pid"
        manifest.write_text(
            "kind: Workflow\n"
            "apiVersion: argoproj.io/v1alpha1\n"
            "metadata: {name: sleepy}\n"
            "spec:\n"
            "  entrypoint: nap\n"
            "  templates:\n"
            "  - name: nap\n"
            "    container:\n"
            "      image: alpine\n"
            f"      command: [sh, -c, 'sleep 60 & echo $! > {pidfile}; wait']\n"
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "flowdsl", "run", str(manifest), "--progress", "off",
             "--runs-dir", str(tmp_path / "runs")],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not (pidfile.exists() and pidfile.read_text().strip()):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the task never started"
            time.sleep(0.02)
        proc.terminate()
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err.decode()
        record = json.loads((tmp_path / "runs" / "sleepy" / "run.json").read_text())
        assert (record["status"], record["message"]) == ("Stopped", "stopped by SIGTERM")
        assert not _alive(int(pidfile.read_text()))


class TestCtrlC:
    def test_stops_everything(self, tmp_path: Path) -> None:
        """Ctrl-C stops every process, records the run as Stopped, and exits 130."""
        manifest = tmp_path / "wf.yaml"
        pidfile = tmp_path / "pid"
        manifest.write_text(
            "apiVersion: argoproj.io/v1alpha1\n"
            "kind: Workflow\n"
            "metadata: {name: sleepy}\n"
            "spec:\n"
            "  entrypoint: main\n"
            "  templates:\n"
            "  - name: main\n"
            "    dag:\n"
            "      tasks:\n"
            "      - {name: nap, template: nap}\n"
            "      - {name: after, template: nap, depends: nap}\n"
            "  - name: nap\n"
            "    container:\n"
            "      image: alpine\n"
            f"      command: [sh, -c, 'sleep 60 & echo $! > {pidfile}; wait']\n"
        )
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "flowdsl", "run", str(manifest), "--progress", "plain",
             "--runs-dir", str(tmp_path / "runs")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not (pidfile.exists() and pidfile.read_text().strip()):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the task never started"
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err.decode()
        record = json.loads((tmp_path / "runs" / "sleepy" / "run.json").read_text())
        assert record["status"] == "Stopped"
        assert record["message"] == "stopped by the user (Ctrl-C)"
        phases = {n["displayName"]: n["phase"] for n in record["nodes"]}
        assert phases["nap"] == "Failed"
        assert "after" not in phases
        pid = int(pidfile.read_text())
        assert not _alive(pid)


def _alive(pid: int) -> bool:
    # A killed orphan may stay a zombie until PID 1 reaps it: that is not running.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
