"""Artifacts in the local engine: files and directories handed on through the run directory.

Each feature runs a hand-written manifest from data/manifests/artifacts-*.yaml (or a small
variant of one) and checks what Argo would do, or the engine's refusal, verbatim.
"""

from __future__ import annotations

import copy
import json
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from flowdsl.errors import RunError
from flowdsl.local import LocalRun, run_manifest
from flowdsl.local.artifacts import ArtifactIn, ArtifactOut, place_inputs, store_outputs
from flowdsl.local.engine import Reporter

MANIFESTS = Path(__file__).parent / "data" / "manifests"


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((MANIFESTS / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def run(manifest: str | dict[str, Any], tmp_path: Path, **kwargs: Any) -> LocalRun:
    kwargs.setdefault("progress", "off")
    kwargs.setdefault("env_file", None)
    doc = load(manifest) if isinstance(manifest, str) else manifest
    return run_manifest(doc, runs_root=tmp_path / "runs", **kwargs)


def refused(manifest: dict[str, Any], tmp_path: Path) -> str:
    with pytest.raises(RunError) as info:
        run(manifest, tmp_path)
    return str(info.value)


def template(doc: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(t for t in doc["spec"]["templates"] if t["name"] == name)
    return found


def task(doc: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        t for t in template(doc, "main")["dag"]["tasks"] if t["name"] == name
    )
    return found


class _Notes(Reporter):
    def __init__(self) -> None:
        self.notes: list[str] = []

    def start(self, name: str, run_dir: Path, notes: list[str]) -> None:
        self.notes = list(notes)


@pytest.fixture
def notes(monkeypatch: pytest.MonkeyPatch) -> _Notes:
    """The notes a run starts with (the reporter is replaced by one that keeps them)."""
    from flowdsl.local import progress

    reporter = _Notes()
    monkeypatch.setattr(progress, "make_reporter", lambda choice, stream=None: reporter)
    return reporter


class TestDag:
    def test_file_and_directory(self, tmp_path: Path) -> None:
        """A file and a directory reach the consumer at its input paths."""
        result = run("artifacts-dag.yaml", tmp_path)
        assert result.status == "Succeeded", result.message
        use = result.node("use")
        assert use.result == "hi"  # {{inputs.artifacts.data.path}} is the declared path
        assert use.outputs == {"seen": "AB"}

    def test_stored_in_the_run_directory(self, tmp_path: Path) -> None:
        """Outputs are kept as <run dir>/artifacts/<node id>/<name>, a tree for a directory."""
        result = run("artifacts-dag.yaml", tmp_path)
        make, make_dir, use = (result.node(n) for n in ("make", "make-dir", "use"))
        stored = result.run_dir / "artifacts" / make.id / "return"
        tree = result.run_dir / "artifacts" / make_dir.id / "tree"
        assert dict(make.artifacts) == {"return": stored}
        assert dict(make_dir.artifacts) == {"tree": tree}
        assert stored.read_text() == "hi"
        assert sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*")) == [
            "a.txt",
            "sub",
            "sub/b.txt",
        ]
        assert dict(use.input_artifacts) == {"data": stored, "tree": tree}

    def test_run_record(self, tmp_path: Path) -> None:
        """run.json and node.json record the artifacts as paths."""
        result = run("artifacts-dag.yaml", tmp_path)
        make = result.node("make")
        path = str(result.run_dir / "artifacts" / make.id / "return")
        data = json.loads((result.run_dir / "run.json").read_text())
        recorded = {n["displayName"]: n for n in data["nodes"]}
        assert recorded["make"]["artifacts"] == {"return": path}
        assert recorded["use"]["inputArtifacts"]["data"] == path
        assert make.directory is not None
        assert json.loads((make.directory / "node.json").read_text())["artifacts"] == {
            "return": path
        }

    def test_artifact_repository_ref_accepted_and_noted(
        self, tmp_path: Path, notes: _Notes
    ) -> None:
        """spec.artifactRepositoryRef is ignored; the notes say so, and where artifacts go."""
        result = run("artifacts-dag.yaml", tmp_path)
        assert result.status == "Succeeded", result.message
        assert notes.notes[1:] == [
            "ignored locally (they only matter on a cluster): artifactRepositoryRef",
            f"artifacts pass through {result.run_dir / 'artifacts'} (no artifact repository is "
            "used locally; archive settings are ignored)",
        ]

    def test_skipped_producer(self, tmp_path: Path) -> None:
        """A from naming the artifact of a skipped task errors the consumer (Argo's words)."""
        doc = load("artifacts-dag.yaml")
        task(doc, "make")["when"] = "false"
        task(doc, "use")["depends"] = "(make.Succeeded || make.Skipped) && make-dir"
        result = run(doc, tmp_path)
        use = result.node("use")
        assert (use.phase, use.message) == (
            "Error",
            "inputs.artifacts.data: Unable to resolve: {{tasks.make.outputs.artifacts.return}} "
            "(no such artifact: the task or step did not succeed, did not run, or did not "
            "write this optional artifact)",
        )
        assert use.attempts == ()

    def test_retry_places_inputs_again(self, tmp_path: Path) -> None:
        """Each attempt gets a fresh copy of its inputs; the consumer's changes do not leak."""
        doc = load("artifacts-dag.yaml")
        use = template(doc, "use")
        use["retryStrategy"] = {"limit": 1}
        use["container"]["args"] = [
            "test $(cat /tmp/flowdsl/inputs/data) = hi || exit 9; "
            'echo changed > /tmp/flowdsl/inputs/data; test "$ARGO_RETRIES" = 1'
        ]
        use.pop("outputs")
        result = run(doc, tmp_path)
        assert result.status == "Succeeded", result.message
        assert [a.phase for a in result.node("use").attempts] == ["Failed", "Succeeded"]
        assert (result.node("make").artifacts["return"]).read_text() == "hi"


class TestSteps:
    def test_step_artifact(self, tmp_path: Path) -> None:
        """{{steps.X.outputs.artifacts.NAME}} hands a step's file to a later step."""
        result = run("artifacts-steps.yaml", tmp_path)
        assert result.status == "Succeeded", result.message
        use = result.node("use")
        assert use.result == "from a step"
        placed = use.attempts[0].stdout.parent / "root" / "in" / "data.txt"
        assert stat.S_IMODE(placed.stat().st_mode) == 0o600  # the input's mode


class TestNested:
    def test_sub_dag_passes_an_artifact_up(self, tmp_path: Path) -> None:
        """A DAG's outputs.artifacts from hands a task's artifact up, through two levels."""
        result = run("artifacts-nested.yaml", tmp_path)
        assert result.status == "Succeeded", result.message
        shout = result.node("shout")
        upper = result.run_dir / "artifacts" / shout.id / "upper"
        assert upper.read_text() == "HELLO"
        assert dict(result.node("inner").artifacts) == {"upper": upper}
        assert dict(result.artifacts) == {"final": upper}
        assert json.loads((result.run_dir / "run.json").read_text())["artifacts"] == {
            "final": str(upper)
        }

    def test_inputs_artifacts_and_from_expression(self, tmp_path: Path) -> None:
        """{{inputs.artifacts.X}} passes a DAG's input on; fromExpression works like from."""
        result = run("artifacts-nested.yaml", tmp_path)
        make = result.node("make")
        assert dict(result.node("inner").input_artifacts) == {"text": make.artifacts["text"]}
        assert result.node("show").result == "HELLO"

    def test_unresolved_dag_output(self, tmp_path: Path) -> None:
        """A DAG output artifact that does not resolve errors the DAG, unless optional."""
        doc = load("artifacts-nested.yaml")
        template(doc, "main")["outputs"]["artifacts"][0]["from"] = (
            "{{tasks.show.outputs.artifacts.echo}}"
        )
        template(doc, "show")["outputs"] = {
            "artifacts": [{"name": "echo", "path": "/tmp/echo", "optional": True}]
        }
        result = run(doc, tmp_path)
        assert result.status == "Error"
        assert result.message == (
            "outputs.artifacts.final: Unable to resolve: {{tasks.show.outputs.artifacts.echo}}"
        )
        template(doc, "main")["outputs"]["artifacts"][0]["optional"] = True
        result = run(doc, tmp_path)
        assert result.status == "Succeeded", result.message
        assert dict(result.artifacts) == {}


class TestRaw:
    def test_raw_default_and_argument(self, tmp_path: Path) -> None:
        """raw.data is written to the path: the input's own, or the caller's, substituted."""
        result = run("artifacts-raw.yaml", tmp_path)
        assert result.status == "Succeeded", result.message
        assert result.node("default").result == "hello world"
        assert result.node("given").result == "bonjour world"
        given = result.node("given")
        stored = result.run_dir / "artifacts" / "raw" / given.id / "message"
        assert dict(given.input_artifacts) == {"message": stored}

    def test_workflow_argument(self, tmp_path: Path) -> None:
        """spec.arguments.artifacts with raw data reach the entrypoint's inputs."""
        doc = load("artifacts-raw.yaml")
        doc["spec"]["entrypoint"] = "greet"
        doc["spec"]["arguments"]["parameters"].append({"name": "greeting", "value": "hey"})
        doc["spec"]["arguments"]["artifacts"] = [
            {"name": "message", "raw": {"data": "from {{workflow.parameters.who}}"}}
        ]
        template(doc, "greet")["inputs"]["parameters"][0]["value"] = (
            "{{workflow.parameters.greeting}}"
        )
        result = run(doc, tmp_path)
        assert result.status == "Succeeded", result.message
        assert result.node(result.name).result == "from world"


class TestOptional:
    def test_optional_output_not_written(self, tmp_path: Path) -> None:
        """An optional output that is not written is fine; an optional input stays absent."""
        result = run("artifacts-optional.yaml", tmp_path)
        assert result.status == "Succeeded", result.message
        assert dict(result.node("make").artifacts) == {}
        assert result.node("use").result == "absent"
        assert dict(result.node("use").input_artifacts) == {}

    def test_required_argument(self, tmp_path: Path) -> None:
        """A non-optional argument that does not resolve errors the node."""
        doc = load("artifacts-optional.yaml")
        del task(doc, "use")["arguments"]["artifacts"][0]["optional"]
        use = run(doc, tmp_path).node("use")
        assert (use.phase, use.message) == (
            "Error",
            "inputs.artifacts.maybe: Unable to resolve: {{tasks.make.outputs.artifacts.maybe}} "
            "(no such artifact: the task or step did not succeed, did not run, or did not "
            "write this optional artifact)",
        )

    def test_required_input(self, tmp_path: Path) -> None:
        """A non-optional input left without a source: Argo's 'was not supplied'."""
        doc = load("artifacts-optional.yaml")
        del template(doc, "use")["inputs"]["artifacts"][0]["optional"]
        use = run(doc, tmp_path).node("use")
        assert (use.phase, use.message) == ("Error", "inputs.artifacts.maybe was not supplied")


class TestMissingOutput:
    def test_message(self, tmp_path: Path) -> None:
        """A required output the command did not write errors the node, naming node and path."""
        result = run("artifacts-missing.yaml", tmp_path)
        assert result.status == "Error"
        make = result.node("make")
        local = make.attempts[0].stdout.parent / "root/tmp/flowdsl/outputs/return"
        assert (make.phase, make.message) == (
            "Error",
            "failed to save outputs: node 'artifacts-missing.make': output artifact 'return': "
            "the command wrote no file or directory at /tmp/flowdsl/outputs/return "
            f"(locally {local})",
        )
        assert dict(make.artifacts) == {}
        assert result.node("use").phase == "Omitted"


class TestMemoize:
    def test_cached_artifacts(self, tmp_path: Path) -> None:
        """A memoized node's artifacts are kept in the cache and copied out on a hit."""
        doc = load("artifacts-dag.yaml")
        template(doc, "make")["memoize"] = {
            "key": "make-v1",
            "maxAge": "1h",
            "cache": {"configMap": {"name": "artifacts-cache"}},
        }
        cache = tmp_path / "cache"
        first = run(copy.deepcopy(doc), tmp_path, cache_root=cache)
        second = run(doc, tmp_path, cache_root=cache)
        assert second.status == "Succeeded", second.message
        make = second.node("make")
        assert make.cached
        assert make.attempts == ()
        stored = second.run_dir / "artifacts" / make.id / "return"
        assert dict(make.artifacts) == {"return": stored}
        assert stored.read_text() == "hi"
        assert second.node("use").result == "hi"
        assert first.node("make").artifacts["return"] != stored

    def test_deleted_cached_artifact_is_a_miss(self, tmp_path: Path) -> None:
        """An entry whose artifact files are gone is a miss: the node runs again."""
        doc = load("artifacts-dag.yaml")
        template(doc, "make")["memoize"] = {
            "key": "make-v1",
            "maxAge": "1h",
            "cache": {"configMap": {"name": "artifacts-cache"}},
        }
        cache = tmp_path / "cache"
        run(copy.deepcopy(doc), tmp_path, cache_root=cache)
        for kept in (cache / "artifacts-cache").glob("*.artifacts/return"):
            kept.unlink()
        make = run(doc, tmp_path, cache_root=cache).node("make")
        assert not make.cached
        assert len(make.attempts) == 1

    def test_entry_without_artifacts_is_a_miss(self, tmp_path: Path) -> None:
        """An entry saved without the artifacts the template declares does not count."""
        doc = load("artifacts-dag.yaml")
        template(doc, "make")["memoize"] = {
            "key": "make-v1",
            "maxAge": "1h",
            "cache": {"configMap": {"name": "artifacts-cache"}},
        }
        cache = tmp_path / "cache"
        run(copy.deepcopy(doc), tmp_path, cache_root=cache)
        (entry,) = (cache / "artifacts-cache").glob("*.json")
        data = json.loads(entry.read_text())
        del data["outputs"]["artifacts"]
        entry.write_text(json.dumps(data))
        make = run(doc, tmp_path, cache_root=cache).node("make")
        assert make.memoization is not None
        assert (make.cached, len(make.attempts)) == (False, 1)
        assert "artifacts" in json.loads(entry.read_text())["outputs"]  # saved again


class TestRefusals:
    @pytest.mark.parametrize(
        ("where", "field"),
        [
            ("output", "s3"),
            ("input", "gcs"),
            ("argument", "http"),
        ],
    )
    def test_explicit_location(self, tmp_path: Path, where: str, field: str) -> None:
        """An artifact with a bucket or server location refuses the run, naming the field."""
        doc = load("artifacts-dag.yaml")
        location = {"key": "some/key"} if field != "http" else {"url": "https://example.com/x"}
        if where == "output":
            template(doc, "make")["outputs"]["artifacts"][0][field] = location
            prefix = "template 'make': field 'outputs.artifacts[return]"
        elif where == "input":
            template(doc, "use")["inputs"]["artifacts"][0][field] = location
            prefix = "template 'use': field 'inputs.artifacts[data]"
        else:
            task(doc, "use")["arguments"]["artifacts"][0][field] = location
            prefix = "template 'main': field 'dag.tasks[2] ('use').arguments.artifacts[data]"
        assert refused(doc, tmp_path) == (
            f"flow 'artifacts-dag': {prefix}.{field}' is not supported by the local engine (an "
            "explicit artifact location needs its bucket or server; locally artifacts pass "
            "through the run directory); remove the location so the artifact goes through the "
            "artifact repository (locally, the run directory), or run it on Argo"
        )

    def test_workflow_argument_location(self, tmp_path: Path) -> None:
        """spec.arguments.artifacts with a location is refused too."""
        doc = load("artifacts-raw.yaml")
        doc["spec"]["arguments"]["artifacts"] = [
            {"name": "message", "s3": {"key": "in/message.txt"}}
        ]
        assert refused(doc, tmp_path) == (
            "flow 'artifacts-raw': field 'spec.arguments.artifacts[message].s3' is not supported "
            "by the local engine (an explicit artifact location needs its bucket or server; "
            "locally artifacts pass through the run directory); remove the location so the "
            "artifact goes through the artifact repository (locally, the run directory), or "
            "run it on Argo"
        )

    def test_looped_artifact_outside_the_loop(self, tmp_path: Path) -> None:
        """Argo does not aggregate a loop's artifacts: a reference from outside is refused."""
        doc = load("artifacts-dag.yaml")
        task(doc, "make")["withItems"] = [1, 2]
        assert refused(doc, tmp_path) == (
            "flow 'artifacts-dag': template 'main': dag.tasks[2] ('use').arguments"
            ".artifacts[data].from ('{{tasks.make.outputs.artifacts.return}}') uses an output "
            "artifact of 'make', which loops (withItems, withParam or withSequence); Argo does "
            "not aggregate the artifacts of a loop's items, so they cannot be used outside the "
            "loop; use the artifact inside the loop (a nested DAG or steps template run for "
            "each item), or hand on a parameter instead"
        )

    def test_looped_step_artifact(self, tmp_path: Path) -> None:
        """The same holds for a looped step."""
        doc = load("artifacts-steps.yaml")
        template(doc, "main")["steps"][0][0]["withParam"] = "[1, 2]"
        assert "uses an output artifact of 'make', which loops" in refused(doc, tmp_path)

    def test_looped_task_artifacts_inside_items(self, tmp_path: Path) -> None:
        """Each item of a loop keeps its own artifacts (one node each)."""
        doc = load("artifacts-dag.yaml")
        use = task(doc, "use")
        task(doc, "make")["withItems"] = [1, 2]
        template(doc, "main")["dag"]["tasks"].remove(use)
        result = run(doc, tmp_path)
        assert result.status == "Succeeded", result.message
        items = [n for n in result.nodes if n.display_name.startswith("make(")]
        assert [n.artifacts["return"].read_text() for n in items] == ["hi", "hi"]
        assert len({n.artifacts["return"] for n in items}) == 2


class TestPlacing:
    def test_place_and_store_directory(self, tmp_path: Path) -> None:
        """Directories are copied as trees (symlinks kept); a stale target is replaced."""
        source = tmp_path / "src"
        (source / "d").mkdir(parents=True)
        (source / "d" / "f.txt").write_text("f")
        (source / "link").symlink_to("d/f.txt")
        target = tmp_path / "placed"
        target.mkdir()
        (target / "stale").write_text("old")
        assert place_inputs([ArtifactIn("x", "/x", target, source, 0o640)]) is None
        assert sorted(p.name for p in target.iterdir()) == ["d", "link"]
        assert (target / "link").is_symlink()
        assert stat.S_IMODE((target / "d" / "f.txt").stat().st_mode) == 0o640
        stored, missing, error = store_outputs(
            [
                ArtifactOut("tree", "/x", target, False, tmp_path / "store" / "tree"),
                ArtifactOut("opt", "/o", tmp_path / "none", True, tmp_path / "store" / "opt"),
                ArtifactOut("req", "/r", tmp_path / "none", False, tmp_path / "store" / "req"),
            ]
        )
        assert stored == {"tree": tmp_path / "store" / "tree"}
        assert (missing, error) == (["req"], None)
        assert (tmp_path / "store" / "tree" / "d" / "f.txt").read_text() == "f"

    def test_place_problem(self, tmp_path: Path) -> None:
        """A source that cannot be copied gives a message naming the artifact and path."""
        missing = tmp_path / "gone"
        problem = place_inputs([ArtifactIn("data", "/in/data", tmp_path / "in", missing)])
        assert problem == (
            f"cannot place input artifact 'data' at /in/data (locally {tmp_path / 'in'}): "
            "No such file or directory"
        )
