"""Backfill: one run of a scheduled flow per scheduled time in a range, on the Argo Server.

Each run is the flow's compiled Workflow with its :data:`~flowdsl.ScheduledTime` parameters
set to the scheduled time, named like the run Argo's cron controller would have made for
that time (``<name>-<unix time>``) and annotated the same way
(``workflows.argoproj.io/scheduled-time``), so ``{{workflow.scheduledTime}}`` agrees and a
backfilled run cannot be told from a scheduled one, except by its label
``flowdsl/backfill: "true"``.

Safe to rerun: a time that already has a run of the flow (a cron run, or a run of an earlier
backfill, whatever its phase) is skipped; the deterministic name makes a second create of
the same time fail rather than duplicate (Argo answers 409), and that too counts as skipped.

The flow's concurrency policy is honoured: ``Allow`` keeps up to ``parallel`` backfilled runs
going at once; ``Forbid`` runs one at a time and also waits while any other run of the flow
(a scheduled one) is active; ``Replace`` runs one at a time as well -- replacing, that is
stopping, a run the backfill itself just started would defeat the backfill.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flowdsl.client.errors import ConflictError
from flowdsl.errors import FlowDSLError
from flowdsl.scheduling import (
    SCHEDULED_TIME_ANNOTATION,
    Schedule,
    is_scheduled_time,
    times_between,
)

if TYPE_CHECKING:
    from flowdsl.client.client import Client
    from flowdsl.client.status import WorkflowState
    from flowdsl.dsl import Flow

__all__ = ["BACKFILL_LABEL", "BackfillPlan", "BackfillResult", "plan_backfill", "run_backfill"]

#: Label on every backfilled run.
BACKFILL_LABEL = "flowdsl/backfill"
_ACTIVE = ("Pending", "Running", "")


def run_name(name: str, when: dt.datetime) -> str:
    """The name Argo's cron controller gives the run of ``name`` scheduled at ``when``."""
    return f"{name}-{int(when.timestamp())}"


@dataclass(frozen=True)
class BackfillPlan:
    """What a backfill will do.

    Attributes:
        flow: the flow's name.
        schedule: its schedule.
        times: every scheduled time in the range, in order.
        existing: scheduled time (unix seconds) -> the name of the run it already has.
        parallel: how many backfilled runs may run at once.
    """

    flow: str
    schedule: Schedule
    times: tuple[dt.datetime, ...]
    existing: Mapping[int, str]
    parallel: int

    def skipped(self, when: dt.datetime) -> str | None:
        """The run that ``when`` already has, or None."""
        return self.existing.get(int(when.timestamp()))


@dataclass
class BackfillResult:
    """What a backfill did: runs submitted (by name, with their final phase) and skipped."""

    submitted: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        """The submitted runs that did not succeed."""
        return [name for name, phase in self.submitted.items() if phase != "Succeeded"]


def _schedule_of(flow: Flow[Any, Any]) -> Schedule:
    schedule = flow.flow_options.schedule
    if not isinstance(schedule, Schedule):
        raise FlowDSLError(
            "the flow has no schedule, so there are no scheduled times to backfill",
            fix="declare one: @flow(schedule='0 3 * * *')",
            flow=flow.name,
            location=flow.location,
        )
    return schedule


def existing_runs(states: Sequence[WorkflowState], name: str) -> dict[int, str]:
    """Scheduled time (unix seconds) -> run, from the flow's runs on the server.

    A run's scheduled time is its ``workflows.argoproj.io/scheduled-time`` annotation (cron
    and backfilled runs), else the time in its name ``<name>-<unix time>``.
    """
    found: dict[int, str] = {}
    pattern = re.compile(rf"{re.escape(name)}-([0-9]{{9,11}})")
    for state in states:
        stamp = state.annotations.get(SCHEDULED_TIME_ANNOTATION)
        seconds: int | None = None
        if stamp:
            try:
                seconds = int(dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp())
            except ValueError:
                seconds = None
        if seconds is None:
            match = pattern.fullmatch(state.name)
            seconds = int(match.group(1)) if match else None
        if seconds is not None:
            found.setdefault(seconds, state.name)
    return found


def plan_backfill(
    flow: Flow[Any, Any],
    start: dt.datetime,
    end: dt.datetime,
    *,
    existing: Mapping[int, str] | None = None,
    parallel: int = 1,
    max_runs: int = 1000,
    shown: tuple[str, str] | None = None,
) -> BackfillPlan:
    """The scheduled times of ``flow`` from ``start`` to ``end`` (both included).

    Args:
        flow: a scheduled ``@flow`` with a ScheduledTime parameter.
        start: the first time (aware; naive is read in the schedule's zone).
        end: the last time.
        existing: runs the flow already has (:func:`existing_runs`).
        parallel: how many runs at once (1 unless the concurrency policy is ``Allow``).
        max_runs: refuse a range with more times than this.
        shown: how the user wrote ``(start, end)``, for messages.

    Raises:
        FlowDSLError: no schedule, no ScheduledTime parameter, the range ends before it
            starts, ``parallel`` does not fit the concurrency policy, or too many times.
    """
    schedule = _schedule_of(flow)
    first, last = shown or (start.isoformat(), end.isoformat())
    if end < start:
        raise FlowDSLError(
            f"the backfill range ends before it starts (--to {last} is before --from {first})",
            fix=f"swap them: --from {last} --to {first}",
            flow=flow.name,
            parameter="--to",
        )
    if not any(is_scheduled_time(p.annotation) for p in flow.params):
        raise FlowDSLError(
            "the flow has no ScheduledTime parameter, so every backfilled run would be the "
            "same run",
            fix="declare the time the run is for: run_at: flowdsl.ScheduledTime",
            flow=flow.name,
        )
    if parallel < 1:
        raise FlowDSLError(
            f"--parallel must be 1 or more (got {parallel})",
            fix="write e.g. --parallel 4",
            flow=flow.name,
            parameter="--parallel",
        )
    if parallel > 1 and schedule.concurrency != "Allow":
        raise FlowDSLError(
            f"the flow's concurrency policy is {schedule.concurrency!r}, which allows one run at "
            f"a time, but --parallel {parallel} asks for more",
            fix="drop --parallel, or declare Schedule(..., concurrency='Allow')",
            flow=flow.name,
            parameter="--parallel",
        )
    times = times_between(schedule, start, end, limit=max_runs)
    if len(times) > max_runs:
        raise FlowDSLError(
            f"the range from {first} to {last} holds more than {max_runs} scheduled times",
            fix=f"backfill a shorter range, or raise --max-runs (now {max_runs})",
            flow=flow.name,
            parameter="--to",
        )
    return BackfillPlan(flow.name, schedule, tuple(times), dict(existing or {}), parallel)


def _manifests(
    flow: Flow[Any, Any], params: Mapping[str, Any], config: str | None = None
) -> Callable[[dt.datetime], dict[str, Any]]:
    """The Workflow of one scheduled time (the flow is compiled once)."""
    from flowdsl import types as codecs
    from flowdsl._compile import compile_graph_dict

    # Every run carries the scheduled-time annotation, as a cron run does (below).
    base = compile_graph_dict(
        flow.trace(), "workflow", params, flow=flow, scheduled=True, config=config
    )
    scheduled = {
        p.name: codecs.codec_for(p.annotation)
        for p in flow.params
        if is_scheduled_time(p.annotation) and p.name not in params
    }

    def manifest(when: dt.datetime) -> dict[str, Any]:
        doc = copy.deepcopy(base)
        for param in (doc["spec"].get("arguments") or {}).get("parameters") or []:
            codec = scheduled.get(param["name"])
            if codec is not None:
                param["value"] = codec.encode(when)
        metadata = doc["metadata"]
        metadata.pop("generateName", None)
        metadata["name"] = run_name(flow.name, when)
        metadata["labels"] = {**(metadata.get("labels") or {}), BACKFILL_LABEL: "true"}
        metadata["annotations"] = {
            **(metadata.get("annotations") or {}),
            SCHEDULED_TIME_ANNOTATION: when.isoformat(),
        }
        return doc

    return manifest


def show_time(when: dt.datetime) -> str:
    """``2026-01-05 03:00 CET``: a scheduled time as progress lines show it."""
    return when.strftime("%Y-%m-%d %H:%M %Z").strip()


def run_backfill(
    client: Client,
    flow: Flow[Any, Any],
    plan: BackfillPlan,
    *,
    params: Mapping[str, Any] | None = None,
    report: Callable[[str], None] = print,
    poll: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
    config: str | None = None,
) -> BackfillResult:
    """Submit the runs of ``plan`` (see the module docstring) and wait for them to finish.

    Args:
        client: the server.
        flow: the flow.
        plan: from :func:`plan_backfill`.
        params: other parameter values for every run (Python values, by Argo name).
        report: called with each progress line.
        poll: seconds between looks at running runs.
        sleep: how to wait (tests pass a fake clock).
        config: the project configuration file (default: the nearest ``pyproject.toml``).

    Returns:
        The runs submitted with their final phases, and the runs skipped.
    """
    make = _manifests(flow, dict(params or {}), config)
    result = BackfillResult()
    active: list[str] = []
    total = len(plan.times)
    width = len(str(total))
    exclusive = plan.schedule.concurrency != "Allow"

    def settle(limit: int, *, others: bool = True) -> None:
        """Wait until fewer than ``limit`` runs are active (reporting those that end)."""
        while True:
            for name in list(active):
                state = client.get_workflow(name)
                if state.done:
                    active.remove(name)
                    result.submitted[name] = state.phase
                    report(f"{' ' * (2 * width + 4)}{name} {state.phase}")
            busy = _others_active(client, flow.name, active) if exclusive and others else []
            if len(active) + len(busy) < limit:
                return
            sleep(poll)

    for index, when in enumerate(plan.times, start=1):
        prefix = f"[{index:>{width}}/{total}] {show_time(when)}"
        known = plan.skipped(when)
        if known is not None:
            result.skipped.append(known)
            report(f"{prefix}  skipped: {known} exists")
            continue
        settle(plan.parallel)
        name = run_name(flow.name, when)
        try:
            client.create_workflow(make(when), name=name, flow=flow.name)
        except ConflictError:  # created since the plan was made (a cron run, a rerun)
            result.skipped.append(name)
            report(f"{prefix}  skipped: {name} exists")
            continue
        active.append(name)
        report(f"{prefix}  submitted {name}")
    settle(1, others=False)
    return result


def _others_active(client: Client, flow: str, ours: Sequence[str]) -> list[str]:
    """Runs of the flow that are active and not the backfill's own (for Forbid)."""
    return [
        state.name
        for state in client.list_workflows(flow=flow)
        if state.name not in ours and not state.done and state.phase in _ACTIVE
    ]
