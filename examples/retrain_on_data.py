"""Event-driven retraining: a new object in the bucket starts a training run.

An Argo Events Sensor listens to the ``minio`` EventSource's ``new-object`` event and
submits the flow's WorkflowTemplate with the object's key as the typed ``key`` parameter;
events posted to the Argo Server (``/api/v1/events/<namespace>/retrain-on-data``) do the
same through a WorkflowEventBinding.

python examples/retrain_on_data.py compile --kind all   # WorkflowTemplate, Sensor, binding
python examples/retrain_on_data.py run -p key=datasets/2026-01-05.csv
python examples/retrain_on_data.py schedule              # template and Sensor on the server
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from flowdsl import Param, flow, task
from flowdsl.scheduling import EventTrigger, ScheduledTime, WebhookTrigger


@dataclass
class Report:
    """What a retraining run did."""

    key: str
    started: str
    rows: int
    learning_rate: float


@task
def load(bucket: str, key: str) -> list[str]:
    """Read the new object's rows (a stand-in: its name, split into parts)."""
    return [bucket, *key.split("/")]


@task
def retrain(rows: list[str], learning_rate: float, key: str, started: ScheduledTime) -> Report:
    """Retrain on the new rows."""
    return Report(key=key, started=started.isoformat(), rows=len(rows), learning_rate=learning_rate)


@flow(
    image="ghcr.io/acme/flowdsl-examples:0.1",
    triggers=[
        EventTrigger(
            "minio",
            "new-object",
            params={"key": "notification.0.s3.object.key"},
            filters={"notification.0.eventName": "s3:ObjectCreated:Put"},
            service_account="argo-events-sa",
        ),
        WebhookTrigger(params={"key": "key", "learning_rate": "lr"}),
    ],
)
def retrain_on_data(
    run_at: ScheduledTime,
    # Filled from the event in triggered runs; the default is for a run by hand.
    key: Annotated[str, Param(description="the new object's key in the bucket")] = (
        "incoming/sample.csv"
    ),
    bucket: str = "acme-data",
    learning_rate: float = 0.01,
) -> Report:
    """Retrain the model on each new data file.

    Args:
        run_at: when the run started (the event's arrival).
        bucket: the bucket the EventSource watches.
    """
    return retrain(load(bucket, key), learning_rate, key, run_at)


if __name__ == "__main__":
    retrain_on_data.main()
