"""The ``run``, ``runs`` and ``graph`` commands of ``python -m flowdsl``.

:func:`register` adds them to the CLI's sub-parsers; each handler imports its work when it
runs, so ``python -m flowdsl --help`` stays fast.

- ``run TARGET [-p name=value ...] [--at TIME]``: run a manifest file (``.yaml``/``.yml``/``.json``)
  or a flow (``file.py[:flow]``, compiled first by :func:`flowdsl.cli.load_manifest`)
  on this machine. Exit status 0 when the run succeeds, 1 when it fails, 130 when stopped
  with Ctrl-C. The entrypoint's outputs are printed on stdout, one ``name: value`` a line.
  ``--cache-dir`` is where memoized outputs are kept (default: ``cache`` beside the runs
  directory), ``--env-file`` the ``.env`` file Secret and ConfigMap values may come from.
- ``runs``: the recent runs under ``.flowdsl/runs`` (``--runs-dir``), newest first.
- ``graph TARGET --format mermaid|dot|png|svg``: a picture of the manifest's graph; png
  and svg need Graphviz's ``dot`` program.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flowdsl.errors import ParameterError, TargetError

__all__ = ["MANIFEST_SUFFIXES", "parse_pairs", "read_manifest_file", "register"]

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
_RUNNABLE_KINDS = ("Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow")


def read_manifest_file(path: str) -> dict[str, Any]:
    """Load a manifest from a YAML or JSON file.

    A multi-document YAML file must hold exactly one Workflow, WorkflowTemplate,
    ClusterWorkflowTemplate or CronWorkflow.

    Raises:
        TargetError: the file cannot be read, does not parse, or holds no (or several)
            workflow documents.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise TargetError(
            f"cannot read {path}: {exc.strerror or exc}", fix="check the path", location=path
        ) from None
    documents: list[Any]
    if path.endswith(".json"):
        try:
            documents = [json.loads(text)]
        except ValueError as exc:
            raise TargetError(
                f"{path} is not valid JSON: {exc}", fix="fix the file", location=path
            ) from None
    else:
        import yaml

        try:
            documents = [doc for doc in yaml.load_all(text, Loader=_loader()) if doc is not None]
        except yaml.YAMLError as exc:
            raise TargetError(
                f"{path} is not valid YAML: {exc}", fix="fix the file", location=path
            ) from None
    workflows = [
        doc
        for doc in documents
        if isinstance(doc, dict) and str(doc.get("kind", "Workflow")) in _RUNNABLE_KINDS
    ]
    if len(workflows) != 1:
        found = "no" if not workflows else str(len(workflows))
        raise TargetError(
            f"{path} holds {found} workflow documents (expected exactly one Workflow, "
            "WorkflowTemplate, ClusterWorkflowTemplate or CronWorkflow)",
            fix="pass a file with one workflow",
            location=path,
        )
    return workflows[0]


def _loader() -> Any:
    """A safe YAML loader that keeps timestamps as text, as Kubernetes' YAML-to-JSON does."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return Loader


def parse_pairs(pairs: Sequence[str]) -> dict[str, str]:
    """``-p name=value`` pairs for a manifest file: text values, checked by the engine.

    Raises:
        ParameterError: a pair has no ``=``.
    """
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ParameterError(
                f"-p {pair!r} is not name=value", fix=f"write -p {pair or 'NAME'}=VALUE"
            )
        values[name] = value
    return values


def _is_manifest_file(target: str) -> bool:
    return target.endswith(MANIFEST_SUFFIXES)


def _manifest_of(
    args: argparse.Namespace, *, scheduled: bool = False
) -> tuple[dict[str, Any], dict[str, str] | None]:
    """The manifest a command works on, and the -p values still to apply to it.

    ``scheduled``: the run carries a scheduled time (``run --at``), so a flow compiled here
    gives its pods ``FLOWDSL_SCHEDULED_TIME`` as a cron run's do.
    """
    flow = getattr(args, "flow", None)
    pairs: Sequence[str] = getattr(args, "param", None) or []
    # Images are ignored locally, so a flow still under development need not name one.
    from flowdsl._run import LOCAL_IMAGE

    if flow is not None:
        from flowdsl._compile import compile_graph_dict
        from flowdsl.cli import parse_params

        params = parse_params(flow, pairs)
        doc = compile_graph_dict(
            flow.trace(),
            params=params,
            image_fallback=LOCAL_IMAGE,
            flow=flow,
            scheduled=scheduled,
            config=args.config,
        )
        return doc, None
    target: str = args.target
    if _is_manifest_file(target):
        from flowdsl.cli import refuse_config_for_manifest

        refuse_config_for_manifest(args)
        return read_manifest_file(target), parse_pairs(pairs)
    # NOTE: the seam for Python targets: the CLI compiles them (with typed -p values).
    from flowdsl.cli import load_manifest

    manifest = load_manifest(
        target, pairs, image_fallback=LOCAL_IMAGE, scheduled=scheduled, config=args.config
    )
    return manifest, None


def _print(text: str) -> None:
    """Print, tolerating a reader that went away (``flowdsl runs | head``)."""
    try:
        print(text)
    except BrokenPipeError:
        # Point stdout at nothing so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _scheduled_at(args: argparse.Namespace) -> str | None:
    """The time of ``run --at TIME`` (RFC 3339), or None without ``--at``.

    The time is also added to the ``-p`` values of the flow's ScheduledTime parameters
    (NOTE: [Scheduled time] in flowdsl/scheduling.py).
    """
    if args.at is None:
        return None
    import datetime as dt

    from flowdsl.scheduling import Schedule, is_scheduled_time, parse_time, zone_of

    flow = getattr(args, "flow", None)
    if flow is None and not _is_manifest_file(args.target):
        from flowdsl._target import load_flow

        flow = load_flow(args.target)
        args.flow = flow
    schedule = flow.flow_options.schedule if flow is not None else None
    zone: dt.tzinfo = zone_of(schedule) if isinstance(schedule, Schedule) else dt.timezone.utc
    if flow is None:  # a manifest: a CronWorkflow's own time zone, if it names one
        spec = read_manifest_file(args.target).get("spec") or {}
        if isinstance(spec, dict) and isinstance(spec.get("timezone"), str):
            zone = zone_of(Schedule("@daily", timezone=spec["timezone"]))
    when, _ = parse_time(args.at, option="--at", zone=zone)
    text = when.isoformat()
    if flow is not None:
        names = [p.name for p in flow.params if is_scheduled_time(p.annotation)]
        if not names:
            raise ParameterError(
                "--at sets the run's scheduled time, but the flow has no ScheduledTime "
                "parameter to receive it",
                fix="declare one (run_at: flowdsl.ScheduledTime), or drop --at",
                flow=flow.name,
                parameter="--at",
            )
        args.param = [*args.param, *(f"{name}={text}" for name in names)]
    return text


def _run(args: argparse.Namespace) -> int:
    from flowdsl.local import run_manifest

    scheduled = _scheduled_at(args)
    manifest, parameters = _manifest_of(args, scheduled=scheduled is not None)
    if scheduled is not None:
        # As Argo's cron controller does: the annotation gives {{workflow.scheduledTime}}.
        from flowdsl.scheduling import SCHEDULED_TIME_ANNOTATION

        metadata = manifest.setdefault("metadata", {})
        metadata["annotations"] = {
            **(metadata.get("annotations") or {}),
            SCHEDULED_TIME_ANNOTATION: scheduled,
        }
    kwargs: dict[str, Any] = {"parameters": parameters, "progress": args.progress}
    if args.max_parallel is not None:
        kwargs["max_parallel"] = args.max_parallel
    if args.run_dir is not None:
        kwargs["run_dir"] = Path(args.run_dir)
    kwargs["runs_root"] = Path(args.runs_dir)
    if args.cache_dir is not None:
        kwargs["cache_root"] = Path(args.cache_dir)
    kwargs["env_file"] = Path(args.env_file)
    run = run_manifest(manifest, **kwargs)
    for name, value in run.outputs.items():
        _print(f"{name}: {value}")
    if run.status == "Succeeded":
        return 0
    if run.status == "Stopped":
        return 130
    return 1


def _runs(args: argparse.Namespace) -> int:
    from flowdsl.local.record import list_runs

    summaries = list_runs(Path(args.runs_dir), limit=args.limit)
    if args.json:
        _print(
            json.dumps(
                [
                    {
                        "name": s.name,
                        "status": s.status,
                        "startedAt": s.started_at,
                        "duration": s.duration,
                        "nodes": s.nodes,
                        "failed": list(s.failed),
                        "runDir": str(s.run_dir),
                    }
                    for s in summaries
                ],
                indent=2,
            )
        )
        return 0
    if not summaries:
        _print(f"no runs under {args.runs_dir}")
        return 0
    rows = [("NAME", "STATUS", "STARTED", "DURATION", "NODES", "FAILED")]
    for s in summaries:
        duration = f"{s.duration:.1f}s" if isinstance(s.duration, int | float) else "-"
        started = s.started_at[:19].replace("T", " ")
        rows.append((s.name, s.status, started, duration, str(s.nodes), ", ".join(s.failed) or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    _print(
        "\n".join(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
            + "  "
            + row[-1]
            for row in rows
        )
    )
    return 0


def _graph(args: argparse.Namespace) -> int:
    from flowdsl.local.graph import render

    manifest, _ = _manifest_of(args)
    data = render(manifest, args.format)
    if args.output and args.output != "-":
        mode = "wb" if isinstance(data, bytes) else "w"
        with open(args.output, mode) as handle:
            handle.write(data)
    elif isinstance(data, bytes):
        sys.stdout.buffer.write(data)
    else:
        sys.stdout.write(data)
    return 0


def register(subparsers: Any, *, flow: Any = None) -> None:
    """Add ``run``, ``runs`` and ``graph`` to the CLI's sub-parsers.

    Args:
        subparsers: the ``argparse`` sub-parsers action of ``python -m flowdsl``.
        flow: when given (``flow.main()``), ``run`` and ``graph`` take no TARGET and work on
            this flow.
    """
    from flowdsl.cli import add_config_option

    def target(parser: argparse.ArgumentParser) -> None:
        if flow is None:
            parser.add_argument(
                "target",
                metavar="TARGET",
                help="a manifest file (.yaml, .yml, .json) or path/to/file.py[:flow]",
            )
        parser.set_defaults(flow=flow)
        add_config_option(parser)

    run = subparsers.add_parser(
        "run",
        help="run a flow or an Argo manifest on this machine",
        description="Run the compiled Argo manifest locally: each container or script "
        "template runs as a subprocess (the image is ignored), with Argo's semantics.",
    )
    target(run)
    run.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a workflow parameter value (repeatable)",
    )
    run.add_argument(
        "--progress",
        choices=["auto", "live", "plain", "off"],
        default="auto",
        help="live view, plain lines, or nothing (default: live on a terminal)",
    )
    run.add_argument(
        "--max-parallel",
        type=int,
        default=None,
        metavar="N",
        help="most processes at once (default: cores)",
    )
    run.add_argument(
        "--runs-dir", default=".flowdsl/runs", metavar="DIR", help="where runs are recorded"
    )
    run.add_argument("--run-dir", default=None, metavar="DIR", help="record this run in DIR")
    run.add_argument(
        "--at",
        default=None,
        metavar="TIME",
        help="run as if scheduled at TIME (ISO 8601, e.g. 2026-01-31T03:00; without an offset "
        "it is read in the schedule's time zone): the flow's ScheduledTime parameters and "
        "{{workflow.scheduledTime}} get it (default: now)",
    )
    run.add_argument(
        "--cache-dir",
        default=None,
        metavar="DIR",
        help="where memoized outputs are kept (default: cache beside the runs directory)",
    )
    run.add_argument(
        "--env-file",
        default=".env",
        metavar="FILE",
        help="Secret and ConfigMap values, after the environment (default: .env)",
    )
    run.set_defaults(handler=_run)

    runs = subparsers.add_parser(
        "runs",
        help="list recent local runs",
        description="List the runs recorded by `run`, newest first.",
    )
    runs.add_argument(
        "--runs-dir", default=".flowdsl/runs", metavar="DIR", help="where runs are recorded"
    )
    runs.add_argument(
        "-n", "--limit", type=int, default=20, metavar="N", help="show at most N runs (default 20)"
    )
    runs.add_argument("--json", action="store_true", help="print JSON")
    runs.set_defaults(handler=_runs)

    graph = subparsers.add_parser(
        "graph",
        help="draw a flow's or manifest's graph",
        description="Draw the tasks, fan-outs, conditions and nested flows of a manifest.",
    )
    target(graph)
    graph.add_argument("--format", choices=["mermaid", "dot", "png", "svg"], default="mermaid")
    graph.add_argument(
        "-o", "--output", default=None, metavar="FILE", help="write to FILE, not stdout"
    )
    graph.add_argument(
        "-p", "--param", action="append", default=[], metavar="NAME=VALUE", help=argparse.SUPPRESS
    )
    graph.set_defaults(handler=_graph)
