"""flowdsl._cron: CronWorkflow lowering, ``compile --kind cron|all``, the scheduled time."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from flowdsl import compile_dict, flow, task
from flowdsl._cron import compile_cron, compile_cron_dict, compile_documents
from flowdsl.errors import CompileError, ParameterError
from flowdsl.scheduling import EventTrigger, Schedule, ScheduledTime, WebhookTrigger
from flowdsl.schema import binding_schema_errors, sensor_schema_errors

from argo_oracle import assert_valid_argo, templates_as_run
from conftest import ROOT


@task
def stamp(when: ScheduledTime, source: str) -> str:
    return f"{when.isoformat()}|{source}"


@flow(
    image="python:3.11",
    schedule=Schedule(
        ["0 3 * * *", "30 12 * * 6"],
        timezone="Europe/Paris",
        concurrency="Forbid",
        starting_deadline="10m",
        history=(5, 2),
        stop_after_failures=3,
    ),
)
def nightly(run_at: ScheduledTime, source: str = "s3://bucket/raw.csv") -> str:
    """Nightly stamp.

    Args:
        run_at: when the run is for.
    """
    return stamp(run_at, source)


def arguments(doc: dict[str, Any]) -> dict[str, Any]:
    spec = doc["spec"].get("workflowSpec", doc["spec"])
    return {p["name"]: p.get("value") for p in spec["arguments"]["parameters"]}


class TestCronWorkflow:
    """The CronWorkflow of a scheduled flow."""

    def test_fields_of_the_schedule(self) -> None:
        """Every Schedule field lands in Argo v4's CronWorkflowSpec."""
        doc = compile_cron_dict(nightly)
        assert_valid_argo(doc)
        spec = doc["spec"]
        assert doc["kind"] == "CronWorkflow"
        assert doc["metadata"]["name"] == "nightly"
        assert spec["schedules"] == ["0 3 * * *", "30 12 * * 6"]
        assert spec["timezone"] == "Europe/Paris"
        assert spec["concurrencyPolicy"] == "Forbid"
        assert spec["startingDeadlineSeconds"] == 600
        assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (5, 2)
        assert spec["stopStrategy"] == {"expression": "cronworkflow.failed >= 3"}
        assert "suspend" not in spec

    def test_runs_are_tied_to_the_flow(self) -> None:
        """workflowMetadata labels every run with flowdsl/flow, like a submitted run."""
        doc = compile_cron_dict(nightly)
        assert doc["metadata"]["labels"] == {"flowdsl/flow": "nightly"}
        assert doc["spec"]["workflowMetadata"]["labels"] == {"flowdsl/flow": "nightly"}

    def test_the_spec_is_the_workflows(self) -> None:
        """Same templates and entrypoint as the compiled Workflow, and the scheduled time."""
        workflow = templates_as_run(compile_dict(nightly))
        cron = compile_cron_dict(nightly)
        assert cron["spec"]["workflowSpec"]["entrypoint"] == "nightly"
        for name, template in templates_as_run(cron).items():
            body = template.get("script")
            if body is not None:
                extra = body["env"].pop()
                assert extra == {
                    "name": "FLOWDSL_SCHEDULED_TIME",
                    "value": "{{workflow.scheduledTime}}",
                }
            assert template == workflow[name]

    def test_scheduled_time_parameter(self) -> None:
        """{{workflow.scheduledTime}} in the CronWorkflow; the run's creation time elsewhere."""
        assert arguments(compile_cron_dict(nightly))["run_at"] == "{{workflow.scheduledTime}}"
        assert arguments(compile_dict(nightly))["run_at"] == "{{workflow.creationTimestamp}}"
        template = compile_dict(nightly, kind="template")
        assert arguments(template)["run_at"] == "{{workflow.creationTimestamp}}"
        assert_valid_argo(template)

    def test_pods_get_the_scheduled_time(self) -> None:
        """flowdsl.current().scheduled_time: the CronWorkflow's pods get the time; a plain
        Workflow's do not (Argo leaves {{workflow.scheduledTime}} undefined there)."""
        cron = compile_cron_dict(nightly)
        assert_valid_argo(cron)
        env = {e["name"]: e["value"] for e in templates_as_run(cron)["stamp"]["script"]["env"]}
        assert env["FLOWDSL_SCHEDULED_TIME"] == "{{workflow.scheduledTime}}"
        plain = templates_as_run(compile_dict(nightly))["stamp"]["script"]["env"]
        assert "FLOWDSL_SCHEDULED_TIME" not in {e["name"] for e in plain}

    def test_given_values_stay(self) -> None:
        """A value given for a parameter (even the scheduled time) is used as is."""
        import datetime as dt

        when = dt.datetime(2026, 1, 1, 3, tzinfo=dt.timezone.utc)
        doc = compile_cron_dict(nightly, {"source": "s3://other", "run_at": when})
        assert arguments(doc) == {
            "run_at": "2026-01-01T03:00:00+00:00",
            "source": "s3://other",
        }
        with pytest.raises(ParameterError, match="the flow has no parameter 'nope'"):
            compile_cron(nightly, {"nope": 1})

    def test_suspend_declared(self) -> None:
        """suspend=True is written; False is Argo's default and left out."""
        from flowdsl.scheduling import schedule

        doc = compile_cron_dict(schedule(nightly, suspend=True))
        assert doc["spec"]["suspend"] is True

    def test_deterministic(self) -> None:
        """The same flow gives the same bytes."""
        from flowdsl.emit import to_yaml

        assert to_yaml(compile_documents(nightly)) == to_yaml(compile_documents(nightly))

    def test_no_schedule(self) -> None:
        """A flow without a schedule has no CronWorkflow."""

        @flow(image="python:3.11")
        def plain(source: str = "x") -> str:
            return stamp(source=source, when=None)  # type: ignore[arg-type]

        with pytest.raises(CompileError) as info:
            compile_cron(plain)
        assert info.value.problem == "the flow has no schedule, so it has no CronWorkflow"

    def test_other_kinds_are_refused(self) -> None:
        """compile_documents knows 'cron' and 'all'."""
        with pytest.raises(CompileError, match="unknown document kind 'both'"):
            compile_documents(nightly, "both")  # type: ignore[arg-type]


class TestAllDocuments:
    """``--kind all``: WorkflowTemplate, CronWorkflow, Sensor, WorkflowEventBindings."""

    def test_order_and_validity(self) -> None:
        """Each document passes its schema (and Argo's rules for Argo's kinds)."""
        both = nightly.with_options(
            triggers=[
                EventTrigger("minio", "new-object", params={"source": "Records.0.s3.object.key"}),
                WebhookTrigger(params={"source": "object.key"}),
            ]
        )
        docs = compile_documents(both)
        assert [d["kind"] for d in docs] == [
            "WorkflowTemplate",
            "CronWorkflow",
            "Sensor",
            "WorkflowEventBinding",
        ]
        assert_valid_argo(docs[0])
        assert_valid_argo(docs[1])
        assert sensor_schema_errors(docs[2]) == []
        assert binding_schema_errors(docs[3]) == []

    def test_without_a_schedule(self) -> None:
        """A triggered flow without a schedule: template and Sensor."""
        triggered = nightly.with_options(
            schedule=None, triggers=[EventTrigger("minio", "new-object")]
        )
        assert [d["kind"] for d in compile_documents(triggered)] == ["WorkflowTemplate", "Sensor"]


SCRIPT = """
from flowdsl import flow, task
from flowdsl.scheduling import Schedule, ScheduledTime


@task
def stamp(when: ScheduledTime, source: str) -> str:
    return when.isoformat() + "|" + source


@flow(image="python:3.11", schedule=Schedule("0 3 * * *", timezone="Europe/Paris"))
def daily(run_at: ScheduledTime, source: str = "raw.csv") -> str:
    return stamp(run_at, source)
"""


def flowdsl(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flowdsl", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


@pytest.fixture
def daily(tmp_path: Path) -> Path:
    (tmp_path / "daily.py").write_text(textwrap.dedent(SCRIPT))
    return tmp_path


class TestCompileCommand:
    """``python -m flowdsl compile --kind cron|all``."""

    def test_kind_cron(self, daily: Path) -> None:
        """One CronWorkflow document."""
        done = flowdsl("compile", "daily.py", "--kind", "cron", cwd=daily)
        assert done.returncode == 0, done.stderr
        doc = yaml.safe_load(done.stdout)
        assert doc["kind"] == "CronWorkflow"
        assert_valid_argo(doc)

    def test_kind_all_is_multi_document(self, daily: Path) -> None:
        """WorkflowTemplate then CronWorkflow, separated by ---."""
        done = flowdsl("compile", "daily.py", "--kind", "all", "-p", "source=s3://x", cwd=daily)
        assert done.returncode == 0, done.stderr
        docs = list(yaml.safe_load_all(done.stdout))
        assert [d["kind"] for d in docs] == ["WorkflowTemplate", "CronWorkflow"]
        assert arguments(docs[1])["source"] == "s3://x"
        for doc in docs:
            assert_valid_argo(doc)

    def test_kind_all_as_json(self, daily: Path) -> None:
        """--format json gives an array of the documents."""
        done = flowdsl("compile", "daily.py", "--kind", "all", "--format", "json", cwd=daily)
        assert done.returncode == 0, done.stderr
        assert [d["kind"] for d in json.loads(done.stdout)] == ["WorkflowTemplate", "CronWorkflow"]

    def test_kind_cron_without_schedule(self, daily: Path) -> None:
        """A clear error, exit status 1."""
        (daily / "plain.py").write_text(
            "from flowdsl import flow, task\n\n@task\ndef t(x: str) -> str:\n    return x\n\n"
            "@flow(image='img')\ndef plain(x: str = 'a') -> str:\n    return t(x)\n"
        )
        done = flowdsl("compile", "plain.py", "--kind", "cron", cwd=daily)
        assert done.returncode == 1
        assert "flow 'plain'" in done.stderr
        assert "the flow has no schedule, so it has no CronWorkflow" in done.stderr


class TestLocalRun:
    """``run`` of a scheduled flow: the scheduled time is now, or ``--at``."""

    def test_now(self, daily: Path) -> None:
        """Without --at, the run's creation time (UTC, whole seconds)."""
        done = flowdsl("run", "daily.py", "--progress", "off", cwd=daily)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("return: ")
        when = done.stdout.split("return: ", 1)[1].split("|")[0]
        assert when.endswith("+00:00")

    def test_at_in_the_schedules_zone(self, daily: Path) -> None:
        """--at without an offset is read in the schedule's time zone."""
        done = flowdsl(
            "run", "daily.py", "--progress", "off", "--at", "2026-01-05T03:00", cwd=daily
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout == "return: 2026-01-05T03:00:00+01:00|raw.csv\n"

    def test_cron_manifest_gets_the_scheduled_time(self, daily: Path) -> None:
        """A CronWorkflow manifest run with --at: {{workflow.scheduledTime}} is that time."""
        compiled = flowdsl("compile", "daily.py", "--kind", "cron", "-o", "cron.yaml", cwd=daily)
        assert compiled.returncode == 0, compiled.stderr
        done = flowdsl(
            "run", "cron.yaml", "--progress", "off", "--at", "2026-07-01T03:00", cwd=daily
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout == "return: 2026-07-01T03:00:00+02:00|raw.csv\n"

    def test_current_knows_the_scheduled_time(self, daily: Path) -> None:
        """flowdsl.current().scheduled_time in a task: run --at, and the CronWorkflow's
        manifest run with --at, both give the time (a plain run gives None)."""
        (daily / "ctx.py").write_text(
            textwrap.dedent(
                """
                import flowdsl
                from flowdsl import Schedule, ScheduledTime, flow, task

                @task
                def when() -> str:
                    scheduled = flowdsl.current().scheduled_time
                    return scheduled.isoformat() if scheduled else "none"

                @flow(image="python:3.11", schedule=Schedule("0 3 * * *", timezone="UTC"))
                def ctx(run_at: ScheduledTime) -> str:
                    return when().after()
                """
            ).replace("when().after()", "when()")
        )
        at = flowdsl("run", "ctx.py", "--progress", "off", "--at", "2026-07-01T03:00Z", cwd=daily)
        assert at.returncode == 0, at.stderr
        assert at.stdout == "return: 2026-07-01T03:00:00+00:00\n"
        plain = flowdsl("run", "ctx.py", "--progress", "off", cwd=daily)
        assert plain.stdout == "return: none\n", plain.stderr
        compiled = flowdsl("compile", "ctx.py", "--kind", "cron", "-o", "cron.yaml", cwd=daily)
        assert compiled.returncode == 0, compiled.stderr
        cron = flowdsl(
            "run", "cron.yaml", "--progress", "off", "--at", "2026-07-02T03:00Z", cwd=daily
        )
        assert cron.stdout == "return: 2026-07-02T03:00:00+00:00\n", cron.stderr

    def test_at_needs_a_scheduled_time_parameter(self, daily: Path) -> None:
        """--at on a flow without ScheduledTime parameter is an error."""
        (daily / "plain.py").write_text(
            "from flowdsl import flow, task\n\n@task\ndef t(x: str) -> str:\n    return x\n\n"
            "@flow\ndef plain(x: str = 'a') -> str:\n    return t(x)\n"
        )
        done = flowdsl("run", "plain.py", "--progress", "off", "--at", "2026-01-01", cwd=daily)
        assert done.returncode == 1
        assert (
            "flow 'plain', parameter '--at': --at sets the run's scheduled time, but the flow "
            "has no ScheduledTime parameter to receive it" in done.stderr
        )
