"""Size guards: a warning past 512 KiB, an error past Argo's 1 MiB, naming what is large."""

from __future__ import annotations

import json
import re
import warnings
from typing import Any

import pytest

from flowdsl import flow, task
from flowdsl._size import (
    MAX_BYTES,
    WARN_BYTES,
    FlowDSLWarning,
    ManifestSize,
    ManifestSizeWarning,
    TemplateSize,
    check_size,
    measure,
)
from flowdsl.errors import CompileError
from flowdsl.lint import MAX_OBJECT_BYTES
from flowdsl.lower import lower, to_dict


@task
def echo(text: str) -> str:
    return text


def unrolled(calls: int, constant_bytes: int) -> dict[str, Any]:
    """A real flow calling ``echo`` ``calls`` times in a loop, each with a large constant."""
    constant = "x" * constant_bytes

    @flow(name="unrolled", image="python:3.11", code="import")
    def unrolled_flow() -> None:
        for _ in range(calls):
            echo(constant)

    return to_dict(lower(unrolled_flow.trace()))


def manifest(tasks: int, value_bytes: int, kind: str = "Workflow") -> dict[str, Any]:
    """A hand-built DAG of ``tasks`` tasks, each passing a ``value_bytes`` constant."""
    dag = {
        "name": "main",
        "dag": {
            "tasks": [
                {
                    "name": f"t{i}",
                    "template": "leaf",
                    "arguments": {"parameters": [{"name": "v", "value": "v" * value_bytes}]},
                }
                for i in range(tasks)
            ]
        },
    }
    leaf = {"name": "leaf", "inputs": {"parameters": [{"name": "v"}]}, "container": {"image": "a"}}
    spec = {"entrypoint": "main", "templates": [dag, leaf]}
    if kind == "CronWorkflow":
        spec = {"schedules": ["0 3 * * *"], "workflowSpec": spec}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": "m"},
        "spec": spec,
    }


def compact(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


class TestLimits:
    def test_limits(self) -> None:
        """The error limit is etcd's 1 MiB, the one lint enforces; the warning is at half."""
        assert MAX_BYTES == MAX_OBJECT_BYTES == 1_048_576
        assert WARN_BYTES == 524_288

    def test_warning_class(self) -> None:
        """Size warnings are FlowDSLWarnings, which are UserWarnings (filterable as either)."""
        assert issubclass(ManifestSizeWarning, FlowDSLWarning)
        assert issubclass(FlowDSLWarning, UserWarning)


class TestMeasure:
    def test_total_is_compact_json_utf8(self) -> None:
        """The total counts the manifest as Kubernetes stores it: compact JSON, UTF-8 bytes."""
        doc = manifest(3, 10)
        doc["metadata"]["annotations"] = {"note": "é"}  # two bytes in UTF-8
        assert measure(doc) == ManifestSize(compact(doc))

    def test_templates_largest_first(self) -> None:
        """Per template: its size, its task count, and its largest task."""
        doc = manifest(3, 10)
        doc["spec"]["templates"][0]["dag"]["tasks"][1]["arguments"]["parameters"][0]["value"] = (
            "w" * 50
        )
        dag, leaf = doc["spec"]["templates"]
        size = measure(doc, templates=True)
        assert size.templates == (
            TemplateSize("main", compact(dag), 3, "t1", compact(dag["dag"]["tasks"][1])),
            TemplateSize("leaf", compact(leaf)),
        )

    def test_ties_by_name(self) -> None:
        """Templates of equal size are listed by name, so messages are deterministic."""
        doc = manifest(0, 0)
        doc["spec"]["templates"] = [
            {"name": "b", "container": {"image": "a"}},
            {"name": "a", "container": {"image": "a"}},
        ]
        assert [t.name for t in measure(doc, templates=True).templates] == ["a", "b"]

    def test_cron_workflow(self) -> None:
        """A CronWorkflow's templates are under spec.workflowSpec."""
        size = measure(manifest(2, 5, kind="CronWorkflow"), templates=True)
        assert [(t.name, t.tasks) for t in size.templates] == [("main", 2), ("leaf", 0)]

    def test_steps(self) -> None:
        """A steps template counts every step of every parallel group."""
        doc = manifest(0, 0)
        doc["spec"]["templates"] = [
            {
                "name": "s",
                "steps": [[{"name": "a", "template": "x"}], [{"name": "bb", "template": "x"}]],
            }
        ]
        (template,) = measure(doc, templates=True).templates
        assert (template.tasks, template.largest_task) == (2, "bb")

    def test_malformed_parts_are_skipped(self) -> None:
        """A manifest without templates, or with a non-list, measures without crashing."""
        assert measure({"kind": "Workflow", "spec": {"templates": "no"}}, templates=True) == (
            ManifestSize(compact({"kind": "Workflow", "spec": {"templates": "no"}}))
        )
        assert measure({"kind": "CronWorkflow", "spec": {}}, templates=True).templates == ()


class TestCheckSize:
    def test_small_manifest_is_silent(self) -> None:
        """Under 512 KiB nothing happens (pytest turns any warning into an error)."""
        check_size(manifest(100, 100), "small")

    def test_exactly_at_the_warning_threshold_is_silent(self) -> None:
        """The thresholds are inclusive: 512 KiB exactly does not warn."""
        doc = manifest(1, 0)
        value = doc["spec"]["templates"][0]["dag"]["tasks"][0]["arguments"]["parameters"][0]
        value["value"] = "v" * (WARN_BYTES - compact(doc))
        assert compact(doc) == WARN_BYTES
        check_size(doc, "edge")

    def test_warning_past_half_the_limit(self) -> None:
        """Past 512 KiB: a ManifestSizeWarning naming the flow, the size and the templates."""
        doc = manifest(600, 1000)
        with pytest.warns(ManifestSizeWarning) as caught:
            check_size(doc, "big")
        (warning,) = caught
        assert str(warning.message) == (
            "flow 'big': the manifest is 652,327 bytes as compact JSON, past half of the "
            "1,048,576 bytes (1 MiB) Argo can store in one object; the largest templates: "
            "'main' 652,123 bytes (600 tasks, the largest 't100' 1,086 bytes), 'leaf' 80 "
            "bytes; call a task over a list with task.map(...) (one DAG task that Argo "
            "expands when the workflow runs) instead of calling it in a Python loop, or move "
            "a repeated group of calls into a @flow called as a sub-flow (one template "
            "however often it is called); pass large data as a task's output, not as a "
            "constant"
        )
        assert compact(doc) == 652_327

    def test_warning_points_at_the_caller(self) -> None:
        """The warning is attributed to the code that asked for the check, not to flowdsl."""
        with pytest.warns(ManifestSizeWarning) as caught:
            check_size(manifest(600, 1000), "big")
        assert caught[0].filename == __file__

    def test_error_past_the_limit(self) -> None:
        """Past 1 MiB: a CompileError with the flow, the size, the templates and the fix."""
        with pytest.raises(CompileError) as info:
            check_size(manifest(1000, 1100), "huge")
        err = info.value
        assert err.flow == "huge"
        assert str(err) == (
            "flow 'huge': the manifest is 1,187,127 bytes as compact JSON, over the "
            "1,048,576 bytes (1 MiB) Argo can store in one object; the largest templates: "
            "'main' 1,186,923 bytes (1,000 tasks, the largest 't100' 1,186 bytes), 'leaf' "
            "80 bytes; call a task over a list with task.map(...) (one DAG task that Argo "
            "expands when the workflow runs) instead of calling it in a Python loop, or move "
            "a repeated group of calls into a @flow called as a sub-flow (one template "
            "however often it is called); pass large data as a task's output, not as a "
            "constant"
        )

    def test_names_at_most_three_templates(self) -> None:
        """Only the three largest templates are named."""
        doc = manifest(600, 1000)
        doc["spec"]["templates"] += [
            {"name": f"extra-{i}", "container": {"image": "a"}} for i in range(5)
        ]
        with pytest.warns(
            ManifestSizeWarning,
            match=r"templates: 'main' .*, 'leaf' 80 bytes, "
            r"'extra-0' 44 bytes; call",
        ):
            check_size(doc, "big")


class TestUnrolledFlows:
    """Real flows: a loop of calls in the flow body is what makes manifests this large."""

    def test_five_thousand_calls_warn(self) -> None:
        """5,000 calls with a 60-byte constant: past 512 KiB, under 1 MiB."""
        doc = unrolled(5000, 60)
        assert WARN_BYTES < compact(doc) <= MAX_BYTES
        with pytest.warns(
            ManifestSizeWarning,
            match=re.escape("the largest templates: 'unrolled' ")
            + r"[\d,]+ bytes \(5,000 tasks, the largest 'echo-\d+' [\d,]+ bytes\), 'echo' ",
        ):
            check_size(doc, "unrolled")

    def test_large_constants_fail(self) -> None:
        """500 calls with a 2 KiB constant each: past 1 MiB, refused with the fix."""
        doc = unrolled(500, 2048)
        with pytest.raises(
            CompileError,
            match=r"^flow 'unrolled': the manifest is [\d,]+ bytes "
            r"as compact JSON, over the 1,048,576 bytes .*task\.map\(\.\.\.\)",
        ):
            check_size(doc, "unrolled")

    def test_map_stays_small(self) -> None:
        """The same fan-out written with map is one DAG task: far under the threshold."""

        @flow(name="mapped", image="python:3.11", code="import")
        def mapped() -> None:
            echo.map(text=[str(i) for i in range(5000)])

        doc = to_dict(lower(mapped.trace()))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            check_size(doc, "mapped")
        assert compact(doc) < WARN_BYTES
