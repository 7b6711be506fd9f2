"""flowdsl._events: event triggers as an Argo Events Sensor, webhooks as WorkflowEventBindings."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from flowdsl import flow, task
from flowdsl._events import compile_triggers
from flowdsl.errors import CompileError
from flowdsl.scheduling import EventTrigger, ScheduledTime, WebhookTrigger
from flowdsl.schema import binding_schema_errors, schema_errors, sensor_schema_errors

from argo_oracle import assert_valid_argo


@task
def train(key: str, lr: float, seen_at: ScheduledTime) -> float:
    return lr


@flow(image="python:3.11")
def learn(key: str, run_at: ScheduledTime, lr: float = 0.01) -> float:
    return train(key, lr, run_at)


def sensor(*triggers: EventTrigger) -> dict[str, Any]:
    docs = compile_triggers(learn.with_options(triggers=list(triggers)))
    assert len(docs) == 1
    assert sensor_schema_errors(docs[0]) == []
    return docs[0]


class TestSensor:
    """EventTrigger -> one Sensor per flow that submits the flow's WorkflowTemplate."""

    def test_dependency_and_trigger(self) -> None:
        """The event, its filters, and a submit of the template with mapped parameters."""
        doc = sensor(
            EventTrigger(
                "minio",
                "new-object",
                params={"key": "Records.0.s3.object.key", "lr": "rate"},
                filters={"eventName": "s3:ObjectCreated:Put"},
            )
        )
        assert doc["apiVersion"] == "argoproj.io/v1alpha1"
        assert doc["kind"] == "Sensor"
        assert doc["metadata"] == {"name": "learn", "labels": {"flowdsl/flow": "learn"}}
        (dependency,) = doc["spec"]["dependencies"]
        assert dependency == {
            "name": "minio_new_object",
            "eventName": "new-object",
            "eventSourceName": "minio",
            "filters": {
                "data": [
                    {
                        "path": "eventName",
                        "type": "string",
                        "value": ["^s3:ObjectCreated:Put$"],
                    }
                ]
            },
        }
        (trigger,) = doc["spec"]["triggers"]
        template = trigger["template"]
        assert (template["name"], template["conditions"]) == ("minio_new_object",) * 2
        workflow = template["argoWorkflow"]
        assert workflow["operation"] == "submit"
        assert workflow["parameters"] == [
            {
                "dest": "spec.arguments.parameters.0.value",
                "src": {"dataKey": "Records.0.s3.object.key", "dependencyName": "minio_new_object"},
            },
            {
                "dest": "spec.arguments.parameters.1.value",
                "src": {"dataKey": "rate", "dependencyName": "minio_new_object", "value": "0.01"},
            },
        ]
        resource = workflow["source"]["resource"]
        assert resource["spec"] == {
            "workflowTemplateRef": {"name": "learn"},
            "arguments": {
                "parameters": [{"name": "key", "value": ""}, {"name": "lr", "value": "0.01"}]
            },
        }
        assert resource["metadata"]["labels"] == {
            "flowdsl/flow": "learn",
            "flowdsl/trigger": "minio_new_object",
        }
        assert_valid_argo(resource)

    def test_filter_kinds(self) -> None:
        """Strings match exactly (anchored, escaped), numbers and booleans as such."""
        doc = sensor(
            EventTrigger(
                "hooks",
                "push",
                params={"key": "ref"},
                filters={"ref": ["main", "v1.0"], "size": 3, "ok": True},
            )
        )
        data = doc["spec"]["dependencies"][0]["filters"]["data"]
        assert data == [
            {"path": "ref", "type": "string", "value": ["^main$", "^v1\\.0$"]},
            {"path": "size", "type": "number", "value": ["3"]},
            {"path": "ok", "type": "bool", "value": ["true"]},
        ]

    def test_each_event_fires_its_own_run(self) -> None:
        """Several events: one dependency and one trigger each, with its own condition."""
        doc = sensor(
            EventTrigger("minio", "new-object", params={"key": "a"}),
            EventTrigger("webhook", "retrain", params={"key": "b"}, name="manual"),
        )
        names = [d["name"] for d in doc["spec"]["dependencies"]]
        conditions = [t["template"]["conditions"] for t in doc["spec"]["triggers"]]
        assert names == conditions == ["minio_new_object", "manual"]

    def test_service_account(self) -> None:
        """The Sensor pod's account; two different accounts cannot share one Sensor."""
        doc = sensor(EventTrigger("minio", "a", params={"key": "k"}, service_account="events-sa"))
        assert doc["spec"]["template"] == {"serviceAccountName": "events-sa"}
        with pytest.raises(CompileError, match="event triggers name different service accounts"):
            compile_triggers(
                learn.with_options(
                    triggers=[
                        EventTrigger("a", "b", params={"key": "k"}, service_account="one"),
                        EventTrigger("c", "d", params={"key": "k"}, service_account="two"),
                    ]
                )
            )

    def test_strict_schema_rejects_unknown_fields(self) -> None:
        """The Sensor check is strict, like ``argo lint``'s."""
        doc = copy.deepcopy(sensor(EventTrigger("minio", "a", params={"key": "k"})))
        doc["spec"]["dependencies"][0]["eventSource"] = "typo"
        assert sensor_schema_errors(doc) == [
            "$.spec.dependencies[0].eventSource: unknown field 'eventSource'"
        ]
        assert sensor_schema_errors({"kind": "Workflow"}) == [
            '$.kind: expected one of Sensor, got "Workflow"'
        ]

    def test_unmapped_required_parameter(self) -> None:
        """Checked again at compile time (the decorator may run before parameters exist)."""
        bare = learn.with_options(triggers=[])
        bare.flow_options = type(bare.flow_options)(
            image="python:3.11", triggers=(EventTrigger("minio", "a"),)
        )
        with pytest.raises(CompileError, match=r"parameter 'key'.*does not map a payload key"):
            compile_triggers(bare)


class TestBinding:
    """WebhookTrigger -> a WorkflowEventBinding that submits the template."""

    def test_binding(self) -> None:
        """Selector on the discriminator, parameters from the payload."""
        (doc,) = compile_triggers(
            learn.with_options(
                triggers=[
                    WebhookTrigger(
                        params={"key": "object.key", "lr": "tuning.learning-rate"},
                        selector='payload.kind == "csv"',
                    )
                ]
            )
        )
        assert binding_schema_errors(doc) == []
        assert doc["metadata"] == {"name": "learn", "labels": {"flowdsl/flow": "learn"}}
        assert doc["spec"]["event"] == {
            "selector": 'discriminator == "learn" && (payload.kind == "csv")'
        }
        submit = doc["spec"]["submit"]
        assert submit["workflowTemplateRef"] == {"name": "learn"}
        assert submit["metadata"] == {"labels": {"flowdsl/flow": "learn"}}
        assert submit["arguments"]["parameters"] == [
            {"name": "key", "valueFrom": {"event": "payload.object.key"}},
            {"name": "lr", "valueFrom": {"event": 'payload.tuning["learning-rate"]'}},
        ]

    def test_names_from_discriminators(self) -> None:
        """Several webhooks: <flow>-<discriminator>."""
        docs = compile_triggers(
            learn.with_options(
                triggers=[
                    WebhookTrigger(params={"key": "k"}),
                    WebhookTrigger(params={"key": "k"}, discriminator="backfill"),
                ]
            )
        )
        assert [d["metadata"]["name"] for d in docs] == ["learn", "learn-backfill"]
        assert docs[1]["spec"]["event"]["selector"] == 'discriminator == "backfill"'

    def test_binding_schema_is_strict(self) -> None:
        """Unknown fields are reported; the WorkflowTemplate ref is required."""
        (doc,) = compile_triggers(
            learn.with_options(triggers=[WebhookTrigger(params={"key": "k"})])
        )
        broken = copy.deepcopy(doc)
        del broken["spec"]["submit"]["workflowTemplateRef"]
        broken["spec"]["event"]["filter"] = "x"
        assert binding_schema_errors(broken) == [
            "$.spec.event.filter: unknown field 'filter'",
            "$.spec.submit.workflowTemplateRef: missing required field 'workflowTemplateRef'",
        ]
        assert schema_errors(doc)[0].startswith("$.kind: expected one of Workflow")
