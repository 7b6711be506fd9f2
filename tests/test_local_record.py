"""The run directory: run.json, node.json, logs, and the runs listing."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from flowdsl.local import run_manifest
from flowdsl.local.record import list_runs, make_run_dir, write_run_start

MANIFESTS = Path(__file__).parent / "data" / "manifests"


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((MANIFESTS / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


class TestRunJson:
    def test_summary(self, tmp_path: Path) -> None:
        """run.json holds the name, status, parameters, outputs, timings and every node."""
        result = run_manifest(load("diamond.yaml"), runs_root=tmp_path, progress="off")
        data = json.loads((result.run_dir / "run.json").read_text())
        assert result.run_dir == tmp_path / result.name
        assert data["name"] == result.name
        assert data["status"] == "Succeeded"
        assert data["message"] == ""
        assert data["parameters"] == {"greeting": "hello", "count": "2"}
        assert data["outputs"] == dict(result.outputs)
        assert data["duration"] >= 0
        assert datetime.fromisoformat(data["finishedAt"]) >= datetime.fromisoformat(
            data["startedAt"]
        )
        assert [n["displayName"] for n in data["nodes"]] == [result.name, "a", "b", "c", "d"]
        assert data == result.to_json()

    def test_node_record(self, tmp_path: Path) -> None:
        """Each node has node.json with inputs, outputs, attempts, and its logs on disk."""
        result = run_manifest(load("diamond.yaml"), runs_root=tmp_path, progress="off")
        b = result.node("b")
        data = json.loads((result.run_dir / "nodes" / b.id / "node.json").read_text())
        assert data["name"] == f"{result.name}.b"
        assert data["type"] == "Pod"
        assert data["template"] == "write"
        assert data["phase"] == "Succeeded"
        assert data["inputs"] == {"text": f"b saw 'hello from {result.name}'", "suffix": "!"}
        assert data["outputs"] == {"out": f"b saw 'hello from {result.name}'!"}
        assert data["exitCode"] == 0
        [attempt] = data["attempts"]
        assert attempt["number"] == 0
        assert attempt["phase"] == "Succeeded"
        assert (
            Path(attempt["stdout"]) == result.run_dir / "nodes" / b.id / "attempt-0" / "stdout.log"
        )
        assert Path(attempt["stderr"]).exists()
        stdout = result.node("a").stdout
        assert stdout is not None
        assert stdout.read_text() == f"hello from {result.name}\n"

    def test_manifest_is_kept(self, tmp_path: Path) -> None:
        """The manifest that ran is saved beside the record."""
        manifest = load("diamond.yaml")
        result = run_manifest(manifest, runs_root=tmp_path, progress="off")
        assert json.loads((result.run_dir / "manifest.json").read_text()) == manifest

    def test_failed_run(self, tmp_path: Path) -> None:
        """A failed run records its status, message, and the failing node's attempts."""
        result = run_manifest(load("retry.yaml"), runs_root=tmp_path, progress="off")
        data = json.loads((result.run_dir / "run.json").read_text())
        assert data["status"] == "Failed"
        assert data["message"] == "task 'wrong-policy' failed"  # failFast: false, the last target
        hopeless = next(n for n in data["nodes"] if n["displayName"] == "hopeless")
        assert [a["exitCode"] for a in hopeless["attempts"]] == [7, 7]
        assert Path(hopeless["attempts"][1]["stderr"]).read_text() == "nope\n"

    def test_explicit_run_dir(self, tmp_path: Path) -> None:
        """run_dir puts the record exactly there."""
        target = tmp_path / "here"
        result = run_manifest(load("exit-fails.yaml"), run_dir=target, progress="off")
        assert result.run_dir == target
        assert (target / "run.json").exists()

    def test_started_record(self, tmp_path: Path) -> None:
        """The first run.json says Running, so an interrupted engine leaves a record."""
        write_run_start(tmp_path, "wf-1", {"a": "1"}, datetime(2026, 1, 2, tzinfo=timezone.utc))
        data = json.loads((tmp_path / "run.json").read_text())
        assert (data["status"], data["startedAt"], data["finishedAt"]) == (
            "Running",
            "2026-01-02T00:00:00+00:00",
            None,
        )


class TestRunDirs:
    def test_names_do_not_collide(self, tmp_path: Path) -> None:
        """A name already taken gets -2, -3, ..."""
        assert make_run_dir(tmp_path, "wf") == tmp_path / "wf"
        assert make_run_dir(tmp_path, "wf") == tmp_path / "wf-2"
        assert make_run_dir(tmp_path, "wf") == tmp_path / "wf-3"

    def test_fixed_name_reruns(self, tmp_path: Path) -> None:
        """A manifest with metadata.name runs twice: same workflow name, two directories."""
        first = run_manifest(load("withparam-bad.yaml"), runs_root=tmp_path, progress="off")
        second = run_manifest(load("withparam-bad.yaml"), runs_root=tmp_path, progress="off")
        assert first.name == second.name == "withparam-bad"
        assert (first.run_dir.name, second.run_dir.name) == ("withparam-bad", "withparam-bad-2")


class TestListing:
    def test_newest_first(self, tmp_path: Path) -> None:
        """list_runs gives the recorded runs newest first, with status and failed nodes."""
        ok = run_manifest(load("diamond.yaml"), runs_root=tmp_path, progress="off")
        bad = run_manifest(load("depends.yaml"), runs_root=tmp_path, progress="off")
        (tmp_path / "junk").mkdir()
        runs = list_runs(tmp_path)
        assert [r.name for r in runs] == [bad.name, ok.name]
        assert (runs[0].status, runs[0].failed, runs[0].nodes) == ("Failed", ("a",), 8)
        assert (runs[1].status, runs[1].failed) == ("Succeeded", ())
        assert list_runs(tmp_path, limit=1)[0].name == bad.name
        assert list_runs(tmp_path / "nowhere") == []
