"""flowdsl.client.backfill: one run per scheduled time, against the local Argo Server."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from argo_server import ArgoServer, connect, serve

from flowdsl import flow, task
from flowdsl.client.backfill import existing_runs, plan_backfill, run_backfill, run_name
from flowdsl.client.client import Client
from flowdsl.errors import FlowDSLError
from flowdsl.scheduling import Schedule, ScheduledTime, schedule

from argo_oracle import assert_valid_argo, templates_as_run

PARIS = ZoneInfo("Europe/Paris")
JAN_1 = dt.datetime(2026, 1, 1, tzinfo=PARIS)
JAN_3_END = dt.datetime(2026, 1, 3, 23, 59, tzinfo=PARIS)


@pytest.fixture
def argo_server() -> Iterator[ArgoServer]:
    yield from serve()


@pytest.fixture
def client(argo_server: ArgoServer) -> Iterator[Client]:
    with Client(connect(argo_server)) as c:
        yield c


@task
def stamp(when: ScheduledTime, source: str) -> str:
    return f"{when.isoformat()}|{source}"


@flow(
    image="python:3.11",
    schedule=Schedule("0 3 * * *", timezone="Europe/Paris", concurrency="Forbid"),
)
def nightly(run_at: ScheduledTime, source: str = "s3://raw") -> str:
    return stamp(run_at, source)


class Controller:
    """Stands in for Argo's controller and the clock: each wait finishes one active run."""

    def __init__(self, server: ArgoServer) -> None:
        self.server = server
        self.waits = 0
        self.most_active = 0

    def active(self) -> list[str]:
        return [
            name
            for name in self.server.workflow_names()
            if (self.server.workflow(name).get("status") or {}).get("phase")
            not in ("Succeeded", "Failed", "Error")
        ]

    def sleep(self, seconds: float) -> None:
        self.waits += 1
        running = self.active()
        if running:
            self.server.finish_workflow(running[0], fail="stamp" if "fail" in running[0] else None)

    def watch(self, client: Client) -> None:
        """Record how many runs are active whenever the backfill creates one."""
        create = client.create_workflow

        def counted(*args: Any, **kwargs: Any) -> Any:
            state = create(*args, **kwargs)
            self.most_active = max(self.most_active, len(self.active()))
            return state

        client.create_workflow = counted  # type: ignore[method-assign]


class TestPlan:
    """plan_backfill: the times, and what is refused."""

    def test_times_in_the_range(self) -> None:
        """Both ends included, in the schedule's zone."""
        plan = plan_backfill(nightly, JAN_1, JAN_3_END)
        assert [t.isoformat() for t in plan.times] == [
            "2026-01-01T03:00:00+01:00",
            "2026-01-02T03:00:00+01:00",
            "2026-01-03T03:00:00+01:00",
        ]

    def test_end_before_start(self) -> None:
        """The message names both ends and shows them the right way round."""
        with pytest.raises(FlowDSLError) as info:
            plan_backfill(nightly, JAN_3_END, JAN_1, shown=("2026-01-31", "2026-01-01"))
        assert str(info.value) == (
            "flow 'nightly', parameter '--to': the backfill range ends before it starts "
            "(--to 2026-01-01 is before --from 2026-01-31); swap them: --from 2026-01-01 "
            "--to 2026-01-31"
        )

    def test_parallel_against_forbid(self) -> None:
        """Forbid (and Replace) allow one run at a time."""
        with pytest.raises(FlowDSLError, match="concurrency policy is 'Forbid'"):
            plan_backfill(nightly, JAN_1, JAN_3_END, parallel=2)
        allowed = schedule(nightly, concurrency="Allow")
        assert plan_backfill(allowed, JAN_1, JAN_3_END, parallel=2).parallel == 2

    def test_too_many_times(self) -> None:
        """A range larger than max_runs is refused."""
        with pytest.raises(FlowDSLError, match="holds more than 2 scheduled times"):
            plan_backfill(nightly, JAN_1, JAN_3_END, max_runs=2)

    def test_needs_a_scheduled_time_parameter(self) -> None:
        """Without one, every run would be the same."""

        @flow(image="python:3.11", schedule="@daily")
        def plain(source: str = "x") -> str:
            return stamp(source=source, when=None)  # type: ignore[arg-type]

        with pytest.raises(FlowDSLError, match="no ScheduledTime parameter"):
            plan_backfill(plain, JAN_1, JAN_3_END)

    def test_existing_runs_by_annotation_or_name(
        self, argo_server: ArgoServer, client: Client
    ) -> None:
        """Cron runs carry the scheduled-time annotation; names carry the unix time."""
        argo_server.put_workflow(
            {
                "metadata": {
                    "name": "nightly-abcde",
                    "labels": {"flowdsl/flow": "nightly"},
                    "annotations": {
                        "workflows.argoproj.io/scheduled-time": "2026-01-02T03:00:00+01:00"
                    },
                },
                "spec": {},
            }
        )
        argo_server.put_workflow(
            {"metadata": {"name": "nightly-1767232800", "labels": {"flowdsl/flow": "nightly"}},
             "spec": {}}
        )  # fmt: skip
        found = existing_runs(client.list_workflows(flow="nightly"), "nightly")
        assert found == {1767319200: "nightly-abcde", 1767232800: "nightly-1767232800"}


class TestRun:
    """run_backfill against the server."""

    def test_submits_one_run_per_time_then_reruns_safely(
        self, argo_server: ArgoServer, client: Client
    ) -> None:
        """Named and annotated like cron runs, the time as parameter; a rerun skips all."""
        controller = Controller(argo_server)
        controller.watch(client)
        lines: list[str] = []
        plan = plan_backfill(nightly, JAN_1, JAN_3_END)
        result = run_backfill(
            client, nightly, plan, report=lines.append, poll=0, sleep=controller.sleep
        )
        names = [run_name("nightly", t) for t in plan.times]
        assert names == ["nightly-1767232800", "nightly-1767319200", "nightly-1767405600"]
        assert result.submitted == dict.fromkeys(names, "Succeeded")
        wf = argo_server.workflow(names[1])
        assert_valid_argo({k: v for k, v in wf.items() if k != "status"} | {"metadata": {
            k: v for k, v in wf["metadata"].items()
            if k not in ("uid", "creationTimestamp", "resourceVersion", "namespace")
        }})  # fmt: skip
        params = {p["name"]: p["value"] for p in wf["spec"]["arguments"]["parameters"]}
        assert params == {"run_at": "2026-01-02T03:00:00+01:00", "source": "s3://raw"}
        assert wf["metadata"]["annotations"]["workflows.argoproj.io/scheduled-time"] == (
            "2026-01-02T03:00:00+01:00"
        )
        assert wf["metadata"]["labels"]["flowdsl/backfill"] == "true"
        # Its pods get the time too (flowdsl.current().scheduled_time), as a cron run's do.
        env = [
            e for t in templates_as_run(wf).values() for e in (t.get("script") or {}).get("env", [])
        ]
        assert {"name": "FLOWDSL_SCHEDULED_TIME", "value": "{{workflow.scheduledTime}}"} in env
        assert lines[0] == "[1/3] 2026-01-01 03:00 CET  submitted nightly-1767232800"
        assert lines[1] == "      nightly-1767232800 Succeeded"
        # Forbid: never two runs at once.
        assert controller.most_active == 1

        existing = existing_runs(client.list_workflows(flow="nightly"), "nightly")
        again = run_backfill(
            client,
            nightly,
            plan_backfill(nightly, JAN_1, JAN_3_END, existing=existing),
            report=lines.append,
            poll=0,
            sleep=controller.sleep,
        )
        assert again.submitted == {}
        assert again.skipped == names
        assert lines[-1] == "[3/3] 2026-01-03 03:00 CET  skipped: nightly-1767405600 exists"

    def test_forbid_waits_for_a_scheduled_run(
        self, argo_server: ArgoServer, client: Client
    ) -> None:
        """A cron run of the flow that is still running delays the backfill's first run."""
        argo_server.put_workflow(
            {"metadata": {"name": "nightly-cron-run", "labels": {"flowdsl/flow": "nightly"}},
             "spec": {}, "status": {"phase": "Running"}}
        )  # fmt: skip
        controller = Controller(argo_server)
        controller.watch(client)
        plan = plan_backfill(nightly, JAN_1, dt.datetime(2026, 1, 1, 23, tzinfo=PARIS))
        run_backfill(client, nightly, plan, report=lambda _: None, poll=0, sleep=controller.sleep)
        assert controller.most_active == 1
        assert (argo_server.workflow("nightly-cron-run").get("status") or {}).get("phase") == (
            "Succeeded"
        )

    def test_allow_runs_in_parallel(self, argo_server: ArgoServer, client: Client) -> None:
        """Allow with parallel 2: two at once, not more."""
        allowed = schedule(nightly, concurrency="Allow")
        controller = Controller(argo_server)
        controller.watch(client)
        plan = plan_backfill(allowed, JAN_1, dt.datetime(2026, 1, 5, tzinfo=PARIS), parallel=2)
        result = run_backfill(
            client, allowed, plan, report=lambda _: None, poll=0, sleep=controller.sleep
        )
        assert len(result.submitted) == 4
        assert controller.most_active == 2

    def test_a_run_created_meanwhile_is_skipped(
        self, argo_server: ArgoServer, client: Client
    ) -> None:
        """A 409 for the deterministic name counts as 'already has a run'."""
        plan = plan_backfill(nightly, JAN_1, dt.datetime(2026, 1, 1, 23, tzinfo=PARIS))
        argo_server.put_workflow({"metadata": {"name": "nightly-1767232800"}, "spec": {}})
        lines: list[str] = []
        result = run_backfill(
            client, nightly, plan, report=lines.append, poll=0, sleep=lambda _: None
        )
        assert result.skipped == ["nightly-1767232800"]
        assert lines == ["[1/1] 2026-01-01 03:00 CET  skipped: nightly-1767232800 exists"]

    def test_failures_are_reported(self, argo_server: ArgoServer, client: Client) -> None:
        """A run that fails is in result.failed."""
        failing = nightly.with_options()
        controller = Controller(argo_server)
        plan = plan_backfill(failing, JAN_1, dt.datetime(2026, 1, 1, 23, tzinfo=PARIS))

        def sleep(seconds: float) -> None:
            for name in controller.active():
                argo_server.finish_workflow(name, fail="stamp")

        result = run_backfill(client, failing, plan, report=lambda _: None, poll=0, sleep=sleep)
        assert result.failed == ["nightly-1767232800"]
