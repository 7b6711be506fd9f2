"""The run context of a task: which workflow, task and attempt it is running in.

Every pod flowdsl compiles gets these environment variables (Argo fills them in, from
``spec.templateDefaults``), and local runs get them too, so ``flowdsl.current()`` works
the same on a cluster and on a laptop::

    FLOWDSL_WORKFLOW       the workflow's name         {{workflow.name}}
    FLOWDSL_WORKFLOW_UID   its uid                     {{workflow.uid}}
    FLOWDSL_NAMESPACE      its namespace               {{workflow.namespace}}
    FLOWDSL_TASK           the task's name (set by the runtime, from the task it runs)
    FLOWDSL_POD            the pod's name              {{pod.name}}
    FLOWDSL_ATTEMPT        0 for the first try, then 1, 2 ... ({{retries}}, tasks with retries)
    FLOWDSL_SCHEDULED_TIME the scheduled time     {{workflow.scheduledTime}} (CronWorkflow runs,
                                                  backfills and ``run --at`` only)

Standard library only: it runs inside every pod.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

__all__ = ["ENV", "RunContext", "current"]

#: Environment variable names, by RunContext field.
ENV = {
    "workflow": "FLOWDSL_WORKFLOW",
    "workflow_uid": "FLOWDSL_WORKFLOW_UID",
    "namespace": "FLOWDSL_NAMESPACE",
    "task": "FLOWDSL_TASK",
    "pod": "FLOWDSL_POD",
    "attempt": "FLOWDSL_ATTEMPT",
    "scheduled_time": "FLOWDSL_SCHEDULED_TIME",
}


@dataclass(frozen=True, slots=True)
class RunContext:
    """Where the current task runs.

    Attributes:
        workflow: the workflow's name; ``None`` outside a workflow (a plain function call).
        workflow_uid: the workflow's uid.
        namespace: the Kubernetes namespace (``None`` locally).
        task: the task's name.
        pod: the pod's name.
        attempt: 0 for the first try, 1 for the first retry, and so on.
        scheduled_time: the time a CronWorkflow scheduled this run, else ``None``.
    """

    workflow: str | None = None
    workflow_uid: str | None = None
    namespace: str | None = None
    task: str | None = None
    pod: str | None = None
    attempt: int = 0
    scheduled_time: datetime | None = None

    @property
    def in_workflow(self) -> bool:
        """Whether the task runs as part of a workflow (on a cluster or with the local engine)."""
        return self.workflow is not None


def current(environ: Mapping[str, str] | None = None) -> RunContext:
    """The run context of the task calling it (empty when called outside a workflow)."""
    env = os.environ if environ is None else environ

    def text(field: str) -> str | None:
        value = env.get(ENV[field], "")
        # An unresolved Argo tag (e.g. no retries on this template) is not a value.
        return value if value and not value.startswith("{{") else None

    attempt = text("attempt")
    scheduled = text("scheduled_time")
    return RunContext(
        workflow=text("workflow"),
        workflow_uid=text("workflow_uid"),
        namespace=text("namespace"),
        task=text("task"),
        pod=text("pod"),
        attempt=int(attempt) if attempt and attempt.isdigit() else 0,
        scheduled_time=_parse_time(scheduled) if scheduled else None,
    )


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
