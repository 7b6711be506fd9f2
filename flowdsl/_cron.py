"""Lowering a scheduled flow to a ``CronWorkflow``, and the multi-document ``--kind all``.

The CronWorkflow is built from the flow's compiled Workflow (the same templates, parameters,
labels and project configuration), with Hera's models:

- ``metadata``: the flow's name (at most 52 characters, Argo's limit), its labels;
- ``spec.schedules`` (Argo v4's list), ``timezone``, ``concurrencyPolicy``,
  ``startingDeadlineSeconds``, ``successfulJobsHistoryLimit`` / ``failedJobsHistoryLimit``,
  ``suspend`` and ``stopStrategy`` (``cronworkflow.failed >= N``) from the
  :class:`~flowdsl.scheduling.Schedule`;
- ``spec.workflowMetadata``: the Workflow's labels (``flowdsl/flow: <name>`` ties every run
  to its flow, as for a submitted run) and annotations;
- ``spec.workflowSpec``: the Workflow's spec, where each :data:`~flowdsl.ScheduledTime`
  parameter is ``{{workflow.scheduledTime}}`` (NOTE: [Scheduled time] in
  :mod:`flowdsl.scheduling`).

Loaded lazily: it imports Hera.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from hera.workflows import models as m

from flowdsl.errors import CompileError
from flowdsl.lint import lint
from flowdsl.lower import API_VERSION, FLOW_LABEL, to_dict
from flowdsl.scheduling import (
    SCHEDULED_TIME_CRON,
    Schedule,
    check_flow,
    is_scheduled_time,
)

if TYPE_CHECKING:
    from flowdsl._compile import ConfigSource
    from flowdsl.dsl import Flow

__all__ = ["DocumentKind", "compile_cron", "compile_cron_dict", "compile_documents", "cron_of"]

DocumentKind: TypeAlias = Literal["cron", "all"]


def _schedule_of(flow: Flow[Any, Any]) -> Schedule:
    schedule = flow.flow_options.schedule
    if not isinstance(schedule, Schedule):
        raise CompileError(
            "the flow has no schedule, so it has no CronWorkflow",
            fix="declare one: @flow(schedule='0 3 * * *') or "
            "flowdsl.schedule(flow, '0 3 * * *', timezone='Europe/Paris')",
            flow=flow.name,
            location=flow.location,
        )
    return schedule


def cron_of(
    workflow: m.Workflow,
    schedule: Schedule,
    *,
    given: Mapping[str, Any] | None = None,
    scheduled: frozenset[str] = frozenset(),
) -> m.CronWorkflow:
    """The CronWorkflow that runs ``workflow``'s spec on ``schedule``.

    Args:
        workflow: the flow's compiled Workflow (Hera model; not modified).
        schedule: when it runs.
        given: parameter values the caller set explicitly (they are kept as they are).
        scheduled: the Argo names of the flow's ScheduledTime parameters.
    """
    spec = workflow.spec.model_copy(deep=True)
    if spec.arguments is not None and spec.arguments.parameters:
        for param in spec.arguments.parameters:
            if param.name in scheduled and param.name not in (given or {}):
                param.value = SCHEDULED_TIME_CRON
    source = workflow.metadata
    name = (source.generate_name or "").rstrip("-") or str(source.name)
    labels = {**(source.labels or {}), FLOW_LABEL: name}
    failures = schedule.stop_after_failures
    history = schedule.history
    return m.CronWorkflow(
        api_version=API_VERSION,
        kind="CronWorkflow",
        metadata=m.ObjectMeta(name=name, labels=labels, annotations=source.annotations),
        spec=m.CronWorkflowSpec(
            schedules=list(schedule.crons),
            timezone=schedule.timezone,
            concurrency_policy=schedule.concurrency,
            starting_deadline_seconds=schedule.starting_deadline,
            successful_jobs_history_limit=history[0] if history is not None else None,
            failed_jobs_history_limit=history[1] if history is not None else None,
            suspend=True if schedule.suspend else None,
            stop_strategy=m.StopStrategy(expression=f"cronworkflow.failed >= {failures}")
            if failures is not None
            else None,
            workflow_metadata=m.ObjectMeta(labels=labels, annotations=source.annotations),
            workflow_spec=spec,
        ),
    )


def compile_cron(
    flow: Flow[Any, Any],
    params: Mapping[str, Any] | None = None,
    *,
    config: ConfigSource = None,
) -> m.CronWorkflow:
    """Compile a scheduled flow to a Hera ``CronWorkflow`` model (linted).

    Args:
        flow: a ``@flow`` with a schedule.
        params: parameter values (Python values) that replace defaults in every run.
        config: the project configuration (as for :func:`flowdsl.compile`).

    Raises:
        CompileError: the flow has no schedule, its name is too long for a CronWorkflow,
            or a parameter has no default.
        TraceError, ParameterError: as for :func:`flowdsl.compile`.
    """
    from flowdsl._compile import compile_scheduled

    schedule = _schedule_of(flow)
    check_flow(schedule, (), flow.name, flow.params, location=flow.location)
    workflow = compile_scheduled(flow, params, config=config)
    scheduled = frozenset(p.name for p in flow.params if is_scheduled_time(p.annotation))
    cron = cron_of(workflow, schedule, given=dict(params or {}), scheduled=scheduled)
    lint(to_dict(cron))  # type: ignore[arg-type]
    return cron


def compile_cron_dict(
    flow: Flow[Any, Any],
    params: Mapping[str, Any] | None = None,
    *,
    config: ConfigSource = None,
) -> dict[str, Any]:
    """Like :func:`compile_cron`, as plain data (Argo's field names)."""
    return to_dict(compile_cron(flow, params, config=config))  # type: ignore[arg-type]


def compile_documents(
    flow: Flow[Any, Any],
    kind: DocumentKind = "all",
    params: Mapping[str, Any] | None = None,
    *,
    config: ConfigSource = None,
) -> list[dict[str, Any]]:
    """The manifests of ``compile --kind cron`` or ``--kind all``, as plain data.

    ``"cron"``: the CronWorkflow alone. ``"all"``: the WorkflowTemplate (what event triggers
    submit), then the CronWorkflow if the flow has a schedule, the Sensor if it has event
    triggers and a WorkflowEventBinding per webhook trigger -- one multi-document YAML that
    ``kubectl apply -f`` accepts whole.

    Raises:
        CompileError: ``"cron"`` for a flow without a schedule, or what the parts raise.
    """
    if kind == "cron":
        return [compile_cron_dict(flow, params, config=config)]
    if kind != "all":
        raise CompileError(
            f"unknown document kind {kind!r} (expected 'cron' or 'all')",
            fix="use 'cron' or 'all'",
            flow=flow.name,
        )
    from flowdsl._compile import compile_dict
    from flowdsl._events import compile_triggers

    options = flow.flow_options
    check_flow(options.schedule, options.triggers, flow.name, flow.params, location=flow.location)
    documents = [compile_dict(flow, "template", params, config=config)]
    if options.schedule is not None:
        documents.append(compile_cron_dict(flow, params, config=config))
    documents.extend(compile_triggers(flow))
    return documents
