"""The local engine's Argo semantics, each against a hand-written manifest in data/manifests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from flowdsl.local import LocalRun, NodeRecord, run_manifest

MANIFESTS = Path(__file__).parent / "data" / "manifests"


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((MANIFESTS / name).read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def run(name: str, tmp_path: Path, **kwargs: Any) -> LocalRun:
    kwargs.setdefault("progress", "off")
    return run_manifest(load(name), runs_root=tmp_path / "runs", **kwargs)


def phases(result: LocalRun) -> dict[str, str]:
    return {node.display_name: node.phase for node in result.nodes if node.parent is not None}


def node(result: LocalRun, display: str) -> NodeRecord:
    return result.node(display)


class TestDependencies:
    def test_diamond_runs_in_dependency_order(self, tmp_path: Path) -> None:
        """dependencies: [...] starts a task only after all it names have finished."""
        result = run("diamond.yaml", tmp_path)
        assert result.status == "Succeeded"
        a, b, c, d = (node(result, n) for n in "abcd")
        assert a.finished_at is not None
        assert b.started_at is not None
        assert b.started_at >= a.finished_at
        assert c.started_at is not None
        assert c.started_at >= a.finished_at
        assert d.started_at is not None
        assert b.finished_at is not None
        assert c.finished_at is not None
        assert d.started_at >= max(b.finished_at, c.finished_at)

    def test_target(self, tmp_path: Path) -> None:
        """dag.target runs the named tasks and their dependencies only."""
        result = run("target.yaml", tmp_path)
        assert result.status == "Succeeded"
        assert phases(result) == {"a": "Succeeded", "b": "Succeeded"}

    def test_node_names_follow_argo(self, tmp_path: Path) -> None:
        """A DAG task's node is <dag node>.<task>; the root node is the workflow's name."""
        result = run("diamond.yaml", tmp_path)
        assert result.name.startswith("diamond-")
        assert len(result.name) == len("diamond-") + 5
        root = result.nodes[0]
        assert root.name == result.name
        assert root.type == "DAG"
        assert node(result, "b").name == f"{result.name}.b"


class TestSubstitution:
    def test_every_dag_scope(self, tmp_path: Path) -> None:
        """inputs, workflow.parameters/name/labels, tasks.X.outputs.*, input defaults."""
        result = run("diamond.yaml", tmp_path)
        assert node(result, "a").result == f"hello from {result.name}"
        assert node(result, "b").outputs == {"out": f"b saw 'hello from {result.name}'!"}
        assert node(result, "c").outputs == {"out": "c got 2 (data)!"}
        assert dict(result.outputs) == {
            "joined": f"b saw 'hello from {result.name}'! + c got 2 (data)!",
            "b-status": "Succeeded",
        }

    def test_parameters_override_the_manifest(self, tmp_path: Path) -> None:
        """A run's parameters replace the manifest's values, everywhere they are used."""
        result = run("diamond.yaml", tmp_path, parameters={"greeting": "bonjour", "count": "7"})
        assert result.parameters == {"greeting": "bonjour", "count": "7"}
        assert node(result, "a").result == f"bonjour from {result.name}"
        assert node(result, "c").outputs["out"] == "c got 7 (data)!"

    def test_inputs_are_recorded(self, tmp_path: Path) -> None:
        """A node records its input values after substitution, defaults included."""
        result = run("diamond.yaml", tmp_path)
        assert node(result, "c").inputs == {"text": "c got 2 (data)", "suffix": "!"}


class TestDepends:
    def test_result_expressions(self, tmp_path: Path) -> None:
        """Task.Result terms, '!', '||', and a bare name (Succeeded || Skipped || Daemoned)."""
        result = run("depends.yaml", tmp_path)
        assert phases(result) == {
            "a": "Failed",
            "handler": "Succeeded",
            "on-failure": "Succeeded",
            "on-success": "Omitted",
            "after-omitted": "Succeeded",
            "plain": "Omitted",
            "not-ok": "Succeeded",
        }
        assert node(result, "plain").message == "omitted: depends condition not met"

    def test_an_unhandled_failure_fails_the_dag(self, tmp_path: Path) -> None:
        """An omitted target inherits its branch's failure, so the DAG fails."""
        result = run("depends.yaml", tmp_path)
        assert result.status == "Failed"
        assert result.message == "task 'a' failed"
        assert [n.display_name for n in result.failed_nodes()] == ["a"]

    def test_succeeded_or_failed_absorbs_a_failure(self, tmp_path: Path) -> None:
        """A target depending on 'a.Succeeded || a.Failed' that succeeds makes the DAG succeed."""
        result = run("depends-handled.yaml", tmp_path)
        assert phases(result) == {"a": "Failed", "cleanup": "Succeeded"}
        assert result.status == "Succeeded"
        assert result.message == ""

    def test_long_chain_of_omitted_tasks(self, tmp_path: Path) -> None:
        """A failure at the head of a 1,500-task chain omits the rest without recursing."""
        tasks = [{"name": "t0", "template": "fail"}]
        tasks += [
            {"name": f"t{i}", "template": "fail", "depends": f"t{i - 1}"} for i in range(1, 1500)
        ]
        manifest = {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "metadata": {"name": "chain"},
            "spec": {
                "entrypoint": "main",
                "templates": [
                    {"name": "main", "dag": {"tasks": tasks}},
                    {"name": "fail", "container": {"image": "a", "command": ["false"]}},
                ],
            },
        }
        result = run_manifest(manifest, runs_root=tmp_path, progress="off")
        assert result.message == "task 't0' failed"
        assert sum(n.phase == "Omitted" for n in result.nodes) == 1499

    def test_continue_on(self, tmp_path: Path) -> None:
        """continueOn.failed lets dependents run and forgives a failed target."""
        result = run("continue-on.yaml", tmp_path)
        assert phases(result) == {
            "tolerated": "Failed",
            "after-tolerated": "Succeeded",
            "tolerated-leaf": "Failed",
            "fatal": "Failed",
            "after-fatal": "Omitted",
        }
        assert result.status == "Failed"
        assert result.message == "task 'fatal' failed"


class TestLoops:
    def test_aggregated_outputs(self, tmp_path: Path) -> None:
        """A looped task's outputs become JSON lists: text for scalars, objects kept as JSON."""
        result = run("loops.yaml", tmp_path)
        assert result.status == "Succeeded"
        assert result.outputs["squares"] == '["1","4","9"]'
        assert result.outputs["records"] == (
            '[{"who":"ada","year":1815},{"who":"alan","year":1912}]'
        )
        assert result.outputs["all-params"] == '[{"sq":"1"},{"sq":"4"},{"sq":"9"}]'
        assert result.outputs["sequence"] == '["25","36"]'

    def test_loop_node_records_the_lists(self, tmp_path: Path) -> None:
        """The TaskGroup node's outputs are the aggregated lists a later task receives."""
        result = run("loops.yaml", tmp_path)
        assert node(result, "scalars").outputs == {"sq": '["1","4","9"]'}
        assert node(result, "objects").outputs == {
            "rec": '[{"who":"ada","year":1815},{"who":"alan","year":1912}]'
        }

    def test_with_param_and_results(self, tmp_path: Path) -> None:
        """withParam iterates a task's JSON output; outputs.result aggregates to a list."""
        result = run("loops.yaml", tmp_path)
        assert [n.result for n in result.nodes if n.display_name.startswith("from-param(")] == [
            "xx",
            "yy",
        ]
        assert result.outputs["fan-in"].endswith(' ["xx","yy"]')

    def test_item_node_names(self, tmp_path: Path) -> None:
        """Items are named task(index:value); objects list their sorted keys."""
        result = run("loops.yaml", tmp_path)
        names = [n.display_name for n in result.nodes]
        assert "scalars(0:1)" in names
        assert "objects(1:name:alan,year:1912)" in names
        assert "sequence(0:5)" in names
        group = node(result, "scalars")
        assert group.type == "TaskGroup"
        assert [
            result_node.display_name
            for result_node in result.nodes
            if result_node.parent == group.id
        ] == [
            "scalars(0:1)",
            "scalars(1:2)",
            "scalars(2:3)",
        ]

    def test_empty_with_param_is_skipped(self, tmp_path: Path) -> None:
        """withParam over [] skips the task (Argo: 'Skipped, empty params')."""
        result = run("loops.yaml", tmp_path)
        empty = node(result, "empty")
        assert (empty.phase, empty.message) == ("Skipped", "Skipped, empty params")

    def test_with_param_not_a_list(self, tmp_path: Path) -> None:
        """A withParam value that is not a JSON list errors the task, naming it."""
        result = run("withparam-bad.yaml", tmp_path)
        consume = node(result, "consume")
        assert consume.phase == "Error"
        assert consume.message == (
            "task 'withparam-bad.consume': withParam value could not be parsed as a JSON list: "
            '{"not": "a list"} (got a JSON object)'
        )
        assert result.status == "Error"
        assert result.message == "task 'consume' error"


class TestWhen:
    def test_when_forms(self, tmp_path: Path) -> None:
        """Bare words compare as strings, numbers as numbers, per item too."""
        result = run("when.yaml", tmp_path)
        assert result.status == "Succeeded"
        got = phases(result)
        assert got["heads"] == "Succeeded"
        assert got["tails"] == "Skipped"
        assert got["good"] == "Succeeded"
        assert [got[f"items({i}:{i + 1})"] for i in range(4)] == [
            "Skipped",
            "Skipped",
            "Succeeded",
            "Succeeded",
        ]
        assert node(result, "tails").message == "when 'heads == tails' evaluated false"

    def test_a_skipped_dependency_lets_dependents_run(self, tmp_path: Path) -> None:
        """'depends: tails' accepts a skipped tails."""
        result = run("when.yaml", tmp_path)
        assert node(result, "after-tails").phase == "Succeeded"


class TestRetries:
    def test_retry_until_success(self, tmp_path: Path) -> None:
        """limit 3: the third attempt ({{retries}} = 2) succeeds; every attempt is recorded."""
        result = run("retry.yaml", tmp_path)
        flaky = node(result, "flaky")
        assert flaky.phase == "Succeeded"
        assert flaky.message == ""
        assert [a.phase for a in flaky.attempts] == ["Failed", "Failed", "Succeeded"]
        assert [a.number for a in flaky.attempts] == [0, 1, 2]
        assert flaky.result == "attempt 2 after 1"
        # No attempt before the first: Argo leaves lastRetry.* unresolved there.
        assert flaky.attempts[0].stdout.read_text() == "attempt 0 after {{lastRetry.exitCode}}\n"

    def test_backoff_is_honoured(self, tmp_path: Path) -> None:
        """backoff 50ms factor 2: the second retry waits at least 100ms after the second attempt."""
        flaky = node(run("retry.yaml", tmp_path), "flaky")
        first, second, third = flaky.attempts
        assert (second.started_at - first.finished_at).total_seconds() >= 0.05
        assert (third.started_at - second.finished_at).total_seconds() >= 0.1

    def test_limit_is_the_number_of_retries(self, tmp_path: Path) -> None:
        """limit 1 means two attempts in all, then the node fails."""
        hopeless = node(run("retry.yaml", tmp_path), "hopeless")
        assert hopeless.phase == "Failed"
        assert len(hopeless.attempts) == 2
        assert hopeless.message == "Error (exit code 7) (No more retries left)"
        assert hopeless.exit_code == 7

    def test_policy(self, tmp_path: Path) -> None:
        """retryPolicy OnError does not retry a command that fails (exit code 1)."""
        wrong = node(run("retry.yaml", tmp_path), "wrong-policy")
        assert wrong.phase == "Failed"
        assert len(wrong.attempts) == 1


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is not running anything.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture(scope="class")
def timed_out(tmp_path_factory: pytest.TempPathFactory) -> tuple[LocalRun, Path]:
    """One run of timeout.yaml (it takes a second) shared by the tests that read it."""
    tmp_path = tmp_path_factory.mktemp("timeout")
    pidfile = tmp_path / "pid"
    return run("timeout.yaml", tmp_path, parameters={"pidfile": str(pidfile)}), pidfile


class TestTimeouts:
    def test_template_deadlines(self, timed_out: tuple[LocalRun, Path]) -> None:
        """timeout and activeDeadlineSeconds on a template stop the step: it fails, others go on."""
        result, _ = timed_out
        assert phases(result) == {"slow": "Failed", "capped": "Failed", "quick": "Succeeded"}
        assert node(result, "slow").message == (
            "Step exceeded its deadline (activeDeadlineSeconds/timeout: 0.3s)"
        )
        assert node(result, "capped").message == (
            "Step exceeded its deadline (activeDeadlineSeconds/timeout: 1s)"
        )
        assert result.status == "Failed"

    def test_nothing_is_left_running(self, timed_out: tuple[LocalRun, Path]) -> None:
        """A process the timed-out command started in the background is stopped too."""
        _, pidfile = timed_out
        pid = int(pidfile.read_text().strip())
        assert not _alive(pid)

    def test_workflow_deadline(self, tmp_path: Path) -> None:
        """spec.activeDeadlineSeconds stops running steps, omits what follows, runs onExit."""
        result = run("deadline.yaml", tmp_path)
        assert result.status == "Failed"
        assert result.message == (
            "Step exceeded its deadline (the workflow's activeDeadlineSeconds: 1)"
        )
        assert phases(result)["long"] == "Failed"
        assert phases(result)["never"] == "Omitted"
        exit_node = node(result, "onExit")
        assert (exit_node.phase, exit_node.result) == ("Succeeded", "status=Failed")


def _max_overlap(nodes: list[NodeRecord]) -> int:
    events = []
    for n in nodes:
        for attempt in n.attempts:
            events.append((attempt.started_at, 1))
            events.append((attempt.finished_at, -1))
    events.sort(key=lambda e: (e[0], e[1]))
    current = peak = 0
    for _, delta in events:
        current += delta
        peak = max(peak, current)
    return peak


class TestParallelism:
    def test_workflow_parallelism(self, tmp_path: Path) -> None:
        """spec.parallelism 2: never more than two processes at once."""
        result = run("parallelism.yaml", tmp_path, max_parallel=8)
        pods = [n for n in result.nodes if n.type == "Pod"]
        assert len(pods) == 7
        assert _max_overlap(pods) <= 2

    def test_template_parallelism(self, tmp_path: Path) -> None:
        """A DAG's parallelism 1 runs its tasks one after the other."""
        result = run("parallelism.yaml", tmp_path, max_parallel=8)
        narrow = node(result, "narrow")
        children = [n for n in result.nodes if n.parent == narrow.id]
        assert [n.display_name for n in children]
        assert _max_overlap(children) == 1

    def test_max_parallel(self, tmp_path: Path) -> None:
        """max_parallel=1 runs one process at a time whatever the manifest allows."""
        result = run("loops.yaml", tmp_path, max_parallel=1)
        assert _max_overlap([n for n in result.nodes if n.type == "Pod"]) == 1


class TestNested:
    def test_nested_dag(self, tmp_path: Path) -> None:
        """A DAG template called by a task runs as a nested DAG with its own inputs and outputs."""
        result = run("nested.yaml", tmp_path)
        assert result.status == "Succeeded"
        assert result.outputs["total"] == '3|3|["1|1","2|2"]'
        one = node(result, "one")
        assert one.type == "DAG"
        assert one.outputs == {"doubled": "3|3"}
        names = [n.name for n in result.nodes]
        assert f"{result.name}.one.double" in names
        assert f"{result.name}.many(1:2).double" in names


class TestExitHandler:
    def test_exit_handler_sees_status_and_failures(self, tmp_path: Path) -> None:
        """onExit runs after a failure with workflow.status and workflow.failures."""
        result = run("exit-handler.yaml", tmp_path)
        assert result.status == "Failed"
        seen = node(result, "onExit").outputs["seen"]
        status, failures = seen.split(" ", 1)
        assert status == "Failed"
        parsed = json.loads(failures)
        assert [(f["displayName"], f["phase"], f["message"]) for f in parsed] == [
            ("broken", "Failed", "Error (exit code 4)")
        ]

    def test_failing_exit_handler_fails_the_run(self, tmp_path: Path) -> None:
        """A run whose entrypoint succeeded fails when its exit handler fails."""
        result = run("exit-fails.yaml", tmp_path)
        assert result.nodes[0].phase == "Succeeded"
        assert result.status == "Failed"
        assert result.message == "Error (exit code 2)"


class TestGlobalOutputs:
    def test_global_name(self, tmp_path: Path) -> None:
        """An output with globalName is readable later as workflow.outputs.parameters.X."""
        result = run("global-outputs.yaml", tmp_path)
        assert node(result, "read").result == "release=1.2.3"


class TestTaskExitHandler:
    def test_task_on_exit(self, tmp_path: Path) -> None:
        """A task's onExit runs after it; its dependents start after the handler ends."""
        result = run("task-exit.yaml", tmp_path)
        assert result.status == "Succeeded"
        handler = node(result, "work.onExit")
        assert (handler.phase, handler.result) == ("Succeeded", "tidying")
        assert handler.name == f"{result.name}.work.onExit"
        after = node(result, "next")
        assert after.started_at is not None
        assert handler.finished_at is not None
        assert after.started_at >= handler.finished_at


class TestExpressions:
    def test_expression_tags_and_outputs(self, tmp_path: Path) -> None:
        """{{=...}} tags in arguments and valueFrom.expression are evaluated with expr-lang."""
        result = run("expressions.yaml", tmp_path)
        assert node(result, "add").result == "5"
        assert node(result, "upper").result == "V5!"
        assert result.outputs == {"sum": "50"}

    def test_retry_expression(self, tmp_path: Path) -> None:
        """retryStrategy.expression false (lastRetry.exitCode == 3) stops the retries."""
        result = run("expressions.yaml", tmp_path)
        assert len(node(result, "stop-early").attempts) == 1


class TestSteps:
    def test_steps(self, tmp_path: Path) -> None:
        """Groups run in order, steps.X outputs (looped ones as lists), when, status."""
        result = run("steps.yaml", tmp_path)
        assert result.status == "Succeeded"
        assert result.outputs == {"last": 'one+two ["a","b"] Skipped'}
        assert [n.display_name for n in result.nodes if n.type == "StepGroup"] == [
            "[0]",
            "[1]",
            "[2]",
        ]
        assert node(result, "joined").name == f"{result.name}[1].joined"
        first = node(result, "first")
        joined = node(result, "joined")
        assert joined.started_at is not None
        assert first.finished_at is not None
        assert joined.started_at >= first.finished_at

    def test_failing_step_stops_the_template(self, tmp_path: Path) -> None:
        """A failed step without continueOn fails its group; later groups never run."""
        result = run("steps-fail.yaml", tmp_path)
        assert result.status == "Failed"
        assert result.message == "child 'bad' failed"
        assert "never" not in [n.display_name for n in result.nodes]
        assert node(result, "fine").phase == "Succeeded"


class TestScripts:
    def test_runtime_shapes(self, tmp_path: Path) -> None:
        """--outputs DIR is re-rooted; a script's source path is the last argument."""
        result = run("script.yaml", tmp_path)
        assert result.status == "Succeeded"
        assert node(result, "by-import").outputs == {"return": "21"}
        assert result.outputs["return"] == "42"
        by_value = node(result, "by-value")
        attempt_dir = by_value.attempts[0].stdout.parent
        assert (attempt_dir / "script").read_text() == "lambda n: n * 2"
        assert (attempt_dir / "root" / "tmp" / "flowdsl" / "outputs" / "return").read_text() == "42"

    def test_plain_script_result(self, tmp_path: Path) -> None:
        """outputs.result of a script is its stdout without the trailing newline."""
        result = run("script.yaml", tmp_path)
        assert result.outputs["script-result"] == "running 3"


class TestOutputs:
    def test_missing_output_file(self, tmp_path: Path) -> None:
        """A declared output never written errors the node, naming the output and the path."""
        result = run("outputs-missing.yaml", tmp_path)
        forgetful = node(result, "forgetful")
        local = forgetful.attempts[0].stdout.parent / "root" / "tmp" / "result.txt"
        assert forgetful.phase == "Error"
        assert forgetful.message == (
            "output parameter 'result-file': the command wrote no file at /tmp/result.txt "
            f"(locally {local})"
        )
        assert result.status == "Error"

    def test_output_default(self, tmp_path: Path) -> None:
        """valueFrom.default stands in for a missing file."""
        result = run("outputs-missing.yaml", tmp_path)
        assert node(result, "defaulted").outputs == {"maybe": "fallback"}


class TestFailedNodes:
    @pytest.mark.parametrize(
        ("manifest", "expected"),
        [("depends.yaml", ["a"]), ("steps-fail.yaml", ["bad", "tolerated"]), ("diamond.yaml", [])],
    )
    def test_root_causes(self, tmp_path: Path, manifest: str, expected: list[str]) -> None:
        """failed_nodes() lists where failures started, not the DAGs they failed."""
        result = run(manifest, tmp_path)
        assert [n.display_name for n in result.failed_nodes()] == expected


class TestImports:
    def test_engine_imports_no_hera_pydantic_or_rich(self, tmp_path: Path) -> None:
        """A run with plain progress loads neither Hera nor pydantic nor rich."""
        code = (
            "import sys, yaml\n"
            "from flowdsl.local import run_manifest\n"
            f"doc = yaml.safe_load(open({str(MANIFESTS / 'loops.yaml')!r}))\n"
            f"run = run_manifest(doc, runs_root={str(tmp_path)!r}, progress='plain')\n"
            "assert run.status == 'Succeeded', run.status\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'hera', 'pydantic', 'rich'}))\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout == "[]\n"
