"""The scheduling commands of ``python -m flowdsl``: schedule, cron list, next, backfill.

- ``schedule TARGET``: create or update the flow's CronWorkflow, and for event triggers its
  WorkflowTemplate and Sensor, on the Argo Server (idempotent: a second run reports every
  resource ``unchanged``); ``--suspend``, ``--resume``, ``--delete``; ``--dry-run`` prints
  what would be applied.
- ``cron list``: the namespace's CronWorkflows: name, schedule in words, last and next run.
- ``next TARGET [-n 5] [--after TIME]``: the flow's next run times, offline.
- ``backfill TARGET --from DATE --to DATE [--parallel N] [--dry-run]``: one run per
  scheduled time in the range (see :mod:`flowdsl.client.backfill`).

:func:`register` adds them to the CLI; every handler imports its work when it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowdsl.dsl import Flow
    from flowdsl.scheduling import Schedule

__all__ = ["register"]


def _flow(args: argparse.Namespace) -> Flow[Any, Any]:
    if args.flow is not None:
        return args.flow  # type: ignore[no-any-return]
    from flowdsl._target import load_flow

    return load_flow(args.target)


def _schedule(flow: Flow[Any, Any]) -> Schedule:
    from flowdsl.errors import FlowDSLError
    from flowdsl.scheduling import Schedule

    schedule = flow.flow_options.schedule
    if not isinstance(schedule, Schedule):
        raise FlowDSLError(
            "the flow has no schedule",
            fix="declare one: @flow(schedule='0 3 * * *') or "
            "@flow(schedule=Schedule('0 3 * * *', timezone='Europe/Paris'))",
            flow=flow.name,
            location=flow.location,
        )
    return schedule


def _print(text: str) -> None:
    print(text, flush=True)


# --------------------------------------------------------------------------------------------
# handlers
# --------------------------------------------------------------------------------------------


def _schedule_cmd(args: argparse.Namespace) -> int:
    from flowdsl._cron import compile_documents
    from flowdsl.cli import parse_params
    from flowdsl.client.commands import _client
    from flowdsl.errors import FlowDSLError

    flow = _flow(args)
    options = flow.flow_options
    if options.schedule is None and not options.triggers:
        raise FlowDSLError(
            "the flow has no schedule and no triggers: there is nothing to schedule",
            fix="declare @flow(schedule='0 3 * * *') or @flow(triggers=[...]); to run it "
            "once, use submit",
            flow=flow.name,
            location=flow.location,
        )
    if (args.suspend or args.resume) and options.schedule is None:
        _schedule(flow)  # raises: only a CronWorkflow can be suspended
    documents = compile_documents(flow, "all", parse_params(flow, args.param), config=args.config)
    if args.dry_run:
        from flowdsl.emit import to_yaml

        sys.stdout.write(to_yaml(documents))
        return 0
    with _client(args) as client:
        if args.suspend or args.resume:
            if args.suspend:
                client.suspend_cron_workflow(flow.name)
            else:
                client.resume_cron_workflow(flow.name)
            verb = "suspended" if args.suspend else "resumed"
            _print(f"cron workflow {flow.name}: {verb} in namespace {client.namespace}")
            return 0
        if args.delete:
            from flowdsl.client.schedules import delete

            results = delete(client, documents)
        else:
            from flowdsl.client.schedules import apply

            results = apply(client, documents, flow=flow.name)
        for result in results:
            _print(result.line())
        if options.schedule is not None and not args.delete:
            _print(f"  {options.schedule.words}")
    return 0


def _cron_list(args: argparse.Namespace) -> int:
    import datetime as dt

    from flowdsl.client.commands import _client
    from flowdsl.client.schedules import cron_rows, render_cron_rows

    now = dt.datetime.now(dt.timezone.utc)
    with _client(args) as client:
        items = client.list_resources("CronWorkflow", label_selector=args.selector)
        if not items:
            _print(f"no cron workflows in namespace {client.namespace}")
            return 0
        sys.stdout.write(render_cron_rows(cron_rows(items, now=now), now=now))
    return 0


def _next(args: argparse.Namespace) -> int:
    import datetime as dt

    from flowdsl.scheduling import next_times, parse_time, zone_of

    flow = _flow(args)
    schedule = _schedule(flow)
    zone = zone_of(schedule)
    after = (
        parse_time(args.after, option="--after", zone=zone)[0]
        if args.after
        else dt.datetime.now(zone)
    )
    note = "" if schedule.timezone else " (no timezone: Argo uses its controller's, UTC assumed)"
    _print(f"{flow.name}: {schedule.words}{note}")
    for when in next_times(schedule, args.count, after=after):
        _print(f"  {when.strftime('%Y-%m-%d %H:%M %Z (%a)')}")
    if any(line.startswith("@every") for line in schedule.crons):
        _print("  (@every counts from when Argo's controller added the schedule; here from now)")
    return 0


def _backfill(args: argparse.Namespace) -> int:
    from flowdsl.cli import parse_params
    from flowdsl.client.backfill import existing_runs, plan_backfill, run_backfill, show_time
    from flowdsl.scheduling import parse_time, zone_of

    flow = _flow(args)
    schedule = _schedule(flow)
    zone = zone_of(schedule)
    start, _ = parse_time(args.start, option="--from", zone=zone)
    end, date_only = parse_time(args.end, option="--to", zone=zone)
    if date_only:  # a date alone means the whole day
        import datetime as dt

        end = end + dt.timedelta(days=1) - dt.timedelta(microseconds=1)
    params = parse_params(flow, args.param)
    shown = (args.start, args.end)
    plan = plan_backfill(
        flow, start, end, parallel=args.parallel, max_runs=args.max_runs, shown=shown
    )
    policy = schedule.concurrency
    mode = f"up to {plan.parallel} at once" if policy == "Allow" else "one run at a time"
    if not plan.times:
        _print(f"backfill {flow.name}: no scheduled time from {args.start} to {args.end}")
        return 0
    from flowdsl.client.commands import _client
    from flowdsl.client.errors import ConnectionConfigError

    try:
        client = _client(args)
    except ConnectionConfigError:
        if not args.dry_run:
            raise
        client = None
        _print("(no Argo Server configured: runs that already exist are not shown)")
    with contextlib.ExitStack() as stack:
        if client is not None:
            stack.enter_context(client)
            existing = existing_runs(client.list_workflows(flow=flow.name), flow.name)
            plan = plan_backfill(
                flow,
                start,
                end,
                existing=existing,
                parallel=args.parallel,
                max_runs=args.max_runs,
                shown=shown,
            )
        first, last = show_time(plan.times[0]), show_time(plan.times[-1])
        _print(
            f"backfill {flow.name}: {len(plan.times)} scheduled times from {first} to {last} "
            f"(concurrency {policy}: {mode})"
        )
        if args.dry_run or client is None:
            for index, when in enumerate(plan.times, start=1):
                known = plan.skipped(when)
                action = f"skip: {known} exists" if known else "submit"
                _print(f"[{index}/{len(plan.times)}] {show_time(when)}  {action}")
            return 0
        result = run_backfill(
            client, flow, plan, params=params, report=_print, poll=args.poll, config=args.config
        )
    failed = result.failed
    _print(
        f"backfill {flow.name}: {len(result.submitted)} submitted"
        f" ({len(result.submitted) - len(failed)} succeeded, {len(failed)} did not), "
        f"{len(result.skipped)} skipped (already had a run)"
    )
    return 1 if failed else 0


# --------------------------------------------------------------------------------------------
# registration
# --------------------------------------------------------------------------------------------


def _target(parser: argparse.ArgumentParser, flow: Flow[Any, Any] | None) -> None:
    if flow is None:
        parser.add_argument(
            "target", metavar="TARGET", help="path/to/file.py[:flow] or package.module[:flow]"
        )
    parser.set_defaults(flow=flow)


def _params(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a flow parameter value for every run, checked against its type (repeatable)",
    )


def register(commands: Any, *, flow: Flow[Any, Any] | None = None) -> None:
    """Add ``schedule``, ``cron``, ``next`` and ``backfill`` to the CLI's sub-parsers.

    Args:
        commands: the ``add_subparsers()`` action of the CLI's parser.
        flow: the flow of a script's ``flow.main()``; the commands then take no TARGET.
    """
    from flowdsl.cli import add_config_option
    from flowdsl.client.commands import _connection_flags

    conn = _connection_flags()

    schedule = commands.add_parser(
        "schedule",
        parents=[conn],
        help="create or update the flow's CronWorkflow (and triggers) on the Argo Server",
        description="Create the flow's CronWorkflow on the Argo Server, or update it if it "
        "changed (running it twice changes nothing the second time); for event triggers, "
        "also its WorkflowTemplate and Sensor. WorkflowEventBindings cannot be created "
        "through the Argo Server: they are reported, with the kubectl command that applies "
        "them.",
    )
    _target(schedule, flow)
    _params(schedule)
    add_config_option(schedule)
    action = schedule.add_mutually_exclusive_group()
    action.add_argument("--suspend", action="store_true", help="suspend the CronWorkflow")
    action.add_argument("--resume", action="store_true", help="resume the CronWorkflow")
    action.add_argument(
        "--delete",
        action="store_true",
        help="delete the CronWorkflow and Sensor (the WorkflowTemplate stays)",
    )
    action.add_argument("--dry-run", action="store_true", help="print the manifests; send nothing")
    schedule.set_defaults(handler=_schedule_cmd)

    cron = commands.add_parser("cron", help="cron workflows on the Argo Server")
    cron_commands = cron.add_subparsers(dest="cron_command", metavar="COMMAND", required=True)
    cron_list = cron_commands.add_parser(
        "list",
        parents=[conn],
        help="list cron workflows: schedule in words, last run, next run",
    )
    cron_list.add_argument(
        "-l", "--selector", metavar="LABELS", help="a label selector, e.g. flowdsl/flow=nightly"
    )
    cron_list.set_defaults(handler=_cron_list, flow=flow)

    next_cmd = commands.add_parser(
        "next",
        help="print the flow's next run times (offline)",
        description="Compute the next run times of the flow's schedule, in its time zone, "
        "without contacting a server.",
    )
    _target(next_cmd, flow)
    next_cmd.add_argument(
        "-n", "--count", type=int, default=5, metavar="N", help="how many (default 5)"
    )
    next_cmd.add_argument(
        "--after", metavar="TIME", help="count from TIME instead of now (ISO 8601)"
    )
    next_cmd.set_defaults(handler=_next)

    backfill = commands.add_parser(
        "backfill",
        parents=[conn],
        help="run the flow once per scheduled time in a past range",
        description="Submit one Workflow per scheduled time from --from to --to (dates "
        "include the whole day; times without an offset are read in the schedule's time "
        "zone), with the ScheduledTime parameter set, honouring the concurrency policy and "
        "skipping times that already have a run, so an interrupted backfill can be rerun.",
    )
    _target(backfill, flow)
    add_config_option(backfill)
    backfill.add_argument("--from", dest="start", required=True, metavar="DATE", help="start")
    backfill.add_argument("--to", dest="end", required=True, metavar="DATE", help="end")
    backfill.add_argument(
        "--parallel",
        type=int,
        default=1,
        metavar="N",
        help="runs at once (concurrency 'Allow' only; default 1)",
    )
    backfill.add_argument("--dry-run", action="store_true", help="print the plan; submit nothing")
    backfill.add_argument(
        "--max-runs",
        type=int,
        default=1000,
        metavar="N",
        help="refuse a range with more scheduled times (default 1000)",
    )
    backfill.add_argument(
        "--poll", type=float, default=5.0, metavar="SECONDS", help=argparse.SUPPRESS
    )
    _params(backfill)
    backfill.set_defaults(handler=_backfill)
