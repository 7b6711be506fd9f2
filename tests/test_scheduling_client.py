"""flowdsl.client.schedules and the Client's resource calls, against the local Argo Server."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from argo_server import ArgoServer, connect, serve

from flowdsl import flow, task
from flowdsl._cron import compile_documents
from flowdsl.client.client import Client
from flowdsl.client.errors import ClientError, NotFoundError, RejectedError
from flowdsl.client.schedules import Applied, apply, cron_rows, delete, render_cron_rows
from flowdsl.scheduling import EventTrigger, Schedule, ScheduledTime, WebhookTrigger, schedule

NOW = dt.datetime(2026, 1, 2, 1, 0, tzinfo=dt.timezone.utc)


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


triggered = nightly.with_options(
    triggers=[
        EventTrigger("minio", "new-object", params={"source": "Records.0.s3.object.key"}),
        WebhookTrigger(params={"source": "object.key"}),
    ]
)


def actions(results: list[Applied]) -> list[tuple[str, str]]:
    return [(r.kind, r.action) for r in results]


class TestApply:
    """Create or update, idempotently."""

    def test_create_then_unchanged(self, argo_server: ArgoServer, client: Client) -> None:
        """The second apply changes nothing on the server (no update is sent)."""
        docs = compile_documents(nightly)
        assert actions(apply(client, docs)) == [
            ("WorkflowTemplate", "created"),
            ("CronWorkflow", "created"),
        ]
        stored = client.get_resource("CronWorkflow", "nightly")
        assert stored["spec"] == docs[1]["spec"]
        version = stored["metadata"]["resourceVersion"]
        assert actions(apply(client, docs)) == [
            ("WorkflowTemplate", "unchanged"),
            ("CronWorkflow", "unchanged"),
        ]
        assert argo_server.updates == []
        assert client.get_resource("CronWorkflow", "nightly")["metadata"]["resourceVersion"] == (
            version
        )

    def test_a_change_is_an_update_that_keeps_others_labels(
        self, argo_server: ArgoServer, client: Client
    ) -> None:
        """A new schedule updates the CronWorkflow; the server's creator label stays."""
        apply(client, compile_documents(nightly))
        changed = compile_documents(schedule(nightly, "0 4 * * *", timezone="UTC"))
        results = apply(client, changed)
        assert actions(results) == [
            ("WorkflowTemplate", "unchanged"),
            ("CronWorkflow", "updated"),
        ]
        assert results[1].line() == "cron workflow nightly: updated"
        stored = client.get_resource("CronWorkflow", "nightly")
        assert stored["spec"]["schedules"] == ["0 4 * * *"]
        assert stored["metadata"]["labels"] == {
            "flowdsl/flow": "nightly",
            "workflows.argoproj.io/creator": "system",
        }
        assert argo_server.updates == [("crons", "nightly")]

    def test_a_suspended_cron_stays_suspended(self, client: Client) -> None:
        """Suspended on the server: an unchanged flow leaves it so, and says it."""
        docs = compile_documents(nightly)
        apply(client, docs)
        client.suspend_cron_workflow("nightly")
        (_, cron) = apply(client, docs)
        assert cron == Applied(
            "CronWorkflow",
            "nightly",
            "unchanged",
            "kept suspended; resume it with schedule --resume",
        )
        client.resume_cron_workflow("nightly")
        assert not client.get_resource("CronWorkflow", "nightly")["spec"]["suspend"]

    def test_sensor_and_binding(self, argo_server: ArgoServer, client: Client) -> None:
        """The Sensor goes through the Sensor API; a binding can only be reported."""
        results = apply(client, compile_documents(triggered))
        assert actions(results) == [
            ("WorkflowTemplate", "created"),
            ("CronWorkflow", "created"),
            ("Sensor", "created"),
            ("WorkflowEventBinding", "not applied"),
        ]
        assert "the Argo Server can only list WorkflowEventBindings" in results[3].note
        again = apply(client, compile_documents(triggered))
        assert [a for _, a in actions(again)] == ["unchanged"] * 3 + ["not applied"]

    def test_a_binding_already_there_is_unchanged(
        self, argo_server: ArgoServer, client: Client
    ) -> None:
        """When kubectl applied the same binding, it is reported unchanged."""
        docs = compile_documents(triggered)
        binding = docs[3]
        argo_server.state.bindings[("argo", "nightly")] = {
            **binding,
            "metadata": {**binding["metadata"], "namespace": "argo"},
        }
        assert apply(client, docs)[3].action == "unchanged"

    def test_no_argo_events(self, argo_server: ArgoServer, client: Client) -> None:
        """Without Argo Events the Sensor API answers 404: said, with the kubectl way."""
        argo_server.events_missing = True
        with pytest.raises(ClientError) as info:
            apply(client, compile_documents(triggered))
        assert "has no Sensor API in namespace 'argo': Argo Events is not installed" in str(
            info.value
        )
        assert info.value.fix is not None
        assert "kubectl apply -f -" in info.value.fix

    def test_rejected(self, argo_server: ArgoServer, client: Client) -> None:
        """Argo's refusal is raised with its message."""
        argo_server.fail(400, "spec.schedules[0]: bad", method="POST", path="cron-workflows")
        with pytest.raises(RejectedError, match=r"spec\.schedules\[0\]: bad"):
            apply(client, compile_documents(nightly)[1:])


class TestDelete:
    """Deleting the schedule and triggers."""

    def test_delete(self, client: Client) -> None:
        """CronWorkflow and Sensor go, the template stays; twice: not found."""
        docs = compile_documents(triggered)
        apply(client, docs)
        assert actions(delete(client, docs)) == [
            ("CronWorkflow", "deleted"),
            ("Sensor", "deleted"),
            ("WorkflowEventBinding", "not applied"),
        ]
        assert client.get_resource("WorkflowTemplate", "nightly")["metadata"]["name"] == "nightly"
        with pytest.raises(NotFoundError):
            client.get_resource("CronWorkflow", "nightly")
        assert [r.action for r in delete(client, docs)][:2] == ["not found", "not found"]


class TestCronList:
    """Rows and the table of ``cron list``."""

    def test_rows(self, client: Client) -> None:
        """Words, last run, next run (from a fixed now), suspended."""
        apply(client, compile_documents(nightly))
        items = client.list_resources("CronWorkflow")
        items[0]["status"] = {"lastScheduledTime": "2026-01-01T02:00:00Z"}
        hand = {
            "metadata": {"name": "legacy"},
            "spec": {"schedules": ["CRON_TZ=UTC 0 1 * * *"], "suspend": True},
        }
        rows = cron_rows([*items, hand], now=NOW)
        assert [r.name for r in rows] == ["nightly", "legacy"]
        assert rows[0].words == "At 03:00, Europe/Paris"
        assert rows[0].next_run is not None
        assert rows[0].next_run.isoformat() == "2026-01-02T03:00:00+01:00"
        assert rows[1].words == "CRON_TZ=UTC 0 1 * * *"
        assert rows[1].suspended
        assert render_cron_rows(rows, now=NOW) == (
            "NAME     SCHEDULE                LAST RUN                        NEXT RUN\n"
            "nightly  At 03:00, Europe/Paris  2026-01-01 03:00 CET (23h ago)  "
            "2026-01-02 03:00 CET (in 1h)\n"
            "legacy   CRON_TZ=UTC 0 1 * * *   never                           suspended\n"
        )

    def test_list_by_label(self, client: Client) -> None:
        """The label selector reaches the server."""
        apply(client, compile_documents(nightly))
        assert [i["metadata"]["name"] for i in client.list_resources("CronWorkflow")] == ["nightly"]
        assert client.list_resources("CronWorkflow", label_selector="flowdsl/flow=other") == []


class TestClientCalls:
    """The resource calls of Client."""

    def test_update_needs_the_current_version(self, client: Client) -> None:
        """A stale resourceVersion is a conflict."""
        from flowdsl.client.errors import ConflictError

        docs: list[dict[str, Any]] = compile_documents(nightly)
        client.create_resource(docs[1])
        with pytest.raises(ConflictError):
            client.update_resource(docs[1], resource_version="1")

    def test_unknown_kind(self, client: Client) -> None:
        """Only the kinds the server has APIs for."""
        with pytest.raises(ClientError, match="the client cannot manage a Pod"):
            client.get_resource("Pod", "x")

    def test_suspend_missing(self, client: Client) -> None:
        """Suspending a CronWorkflow that does not exist names it."""
        with pytest.raises(NotFoundError, match="cron workflow 'ghost' was not found"):
            client.suspend_cron_workflow("ghost")
