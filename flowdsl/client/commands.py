"""The Argo Server commands of ``python -m flowdsl``.

:func:`register` adds them to the CLI's sub-parsers; each handler imports its work when it
runs, so ``python -m flowdsl --help`` stays fast (``requests`` and Hera load only for a
command that talks to the server).

- ``submit TARGET [-p name=value ...] [--name NAME] [--watch | --wait] [--dry-run]
  [--server-dry-run] [--from-template [NAME]]``
- ``register TARGET``: create or update the flow's WorkflowTemplate
- ``get NAME``, ``list [--flow FLOW]``, ``watch NAME``, ``logs NAME [--follow] [--task T]``
- ``stop NAME``, ``terminate NAME``, ``retry NAME``, ``resubmit NAME``
- ``debug TARGET NAME [--task T]``: rerun a workflow (or one task) on this machine

With ``flow.main()`` the commands take no TARGET (``debug NAME``). Every command takes the
connection flags (``--server``, ``--namespace`` ...; see :mod:`flowdsl.client.config`).

Exit status: 0 on success; 1 on an error, and, with ``--wait``/``--watch``, when the
workflow did not succeed (its failing nodes are printed); 2 for a usage error; 130 when
interrupted (the workflow keeps running).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowdsl.client.client import Client
    from flowdsl.client.status import WorkflowState
    from flowdsl.dsl import Flow

__all__ = ["register"]

_MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


# --------------------------------------------------------------------------------------------
# shared pieces
# --------------------------------------------------------------------------------------------


def _connection_flags() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group(
        "connection", "override ARGO_SERVER, ARGO_NAMESPACE ... and [tool.flowdsl.argo]"
    )
    group.add_argument("--server", metavar="HOST:PORT", help="the Argo Server (ARGO_SERVER)")
    group.add_argument(
        "-n", "--namespace", metavar="NS", help="the namespace (ARGO_NAMESPACE; default: default)"
    )
    group.add_argument(
        "--token-file",
        metavar="FILE",
        help="a file holding the Authorization value, e.g. 'Bearer ...' (else ARGO_TOKEN)",
    )
    group.add_argument(
        "--secure",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="https (default) or, with --no-secure, http (ARGO_SECURE)",
    )
    group.add_argument(
        "--insecure-skip-verify",
        action="store_const",
        const=True,
        default=None,
        help="do not check the server's TLS certificate (ARGO_INSECURE_SKIP_VERIFY)",
    )
    group.add_argument(
        "--base-href", metavar="PATH", help="path prefix of the API (ARGO_BASE_HREF)"
    )
    group.add_argument(
        "--request-timeout",
        type=float,
        metavar="SECONDS",
        help="read timeout of one request (default 30)",
    )
    return parent


def _client(args: argparse.Namespace) -> Client:
    from flowdsl.client.client import Client
    from flowdsl.client.config import resolve_connection

    connection = resolve_connection(
        server=args.server,
        namespace=args.namespace,
        token_file=args.token_file,
        secure=args.secure,
        insecure_skip_verify=args.insecure_skip_verify,
        base_href=args.base_href,
        request_timeout=args.request_timeout,
    )
    return Client(connection, on_retry=_notice)


def _notice(text: str) -> None:
    print(f"flowdsl: {text}", file=sys.stderr, flush=True)


def _add_target(
    parser: argparse.ArgumentParser,
    flow: Flow[Any, Any] | None,
    *,
    optional: bool = False,
    manifests: bool = True,
) -> None:
    if flow is None:
        parser.add_argument(
            "target",
            metavar="TARGET",
            nargs="?" if optional else None,
            help="path/to/file.py[:flow] or package.module[:flow]"
            + (", or a compiled .yaml/.json manifest" if manifests else ""),
        )
    else:
        parser.set_defaults(target=None)
    parser.set_defaults(flow=flow)


def _add_params(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a flow parameter value, checked against its type before anything is sent",
    )


def _add_follow(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--watch", action="store_true", help="show the workflow's progress live until it ends"
    )
    mode.add_argument(
        "--wait",
        action="store_true",
        help="wait until it ends; exit 0 only if it succeeded, else print the failing nodes",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="with --wait/--watch: give up waiting after this long (the workflow keeps running)",
    )


def _flow(args: argparse.Namespace) -> Flow[Any, Any] | None:
    if args.flow is not None:
        return args.flow  # type: ignore[no-any-return]
    target = getattr(args, "target", None)
    if target is None or target.endswith(_MANIFEST_SUFFIXES):
        return None
    from flowdsl._target import load_flow

    return load_flow(target)


def _hint_target(args: argparse.Namespace) -> str | None:
    target = getattr(args, "target", None)
    return target if target and not target.endswith(_MANIFEST_SUFFIXES) else None


def _follow(client: Client, args: argparse.Namespace, state: WorkflowState) -> int:
    """After submit/retry/resubmit: --watch, --wait, or nothing."""
    from flowdsl.client.submission import Submission

    if not (args.watch or args.wait):
        return 0
    view = _view() if args.watch else None
    submission = Submission(client, state.name, state=state)
    try:
        final = submission.wait(args.timeout, on_change=view.update if view else None)
    finally:
        if view is not None:
            view.close()
    return _final(final, args)


def _final(state: WorkflowState, args: argparse.Namespace) -> int:
    from flowdsl.client.render import render_failures

    if state.ok:
        print(f"workflow {state.name} Succeeded")
        return 0
    sys.stdout.write(render_failures(state, hint_target=_hint_target(args)))
    return 1


def _view() -> Any:
    from flowdsl.client.render import LiveWatchView, PlainWatchView

    return LiveWatchView(sys.stdout) if sys.stdout.isatty() else PlainWatchView(sys.stdout)


def _pairs(pairs: Sequence[str]) -> dict[str, str]:
    from flowdsl.errors import ParameterError

    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise ParameterError(
                f"-p {pair!r} has no '=' (expected name=value)",
                fix=f"write -p {pair or 'NAME'}=VALUE",
            )
        values[name] = text
    return values


def _typed_texts(flow: Flow[Any, Any], pairs: Sequence[str]) -> dict[str, str]:
    """``-p`` values checked by the flow's types, as Argo text."""
    from flowdsl import types as codecs
    from flowdsl.cli import parse_params

    values = parse_params(flow, pairs)
    by_name = {p.name: p for p in flow.params}
    return {
        name: codecs.codec_for(by_name[name].annotation).encode(v) for name, v in values.items()
    }


def _declared_texts(args: argparse.Namespace, workflow: WorkflowState | None) -> dict[str, str]:
    """``-p`` values for retry/resubmit: typed by the flow when known, else by the workflow."""
    from flowdsl.client.submission import check_declared

    flow = args.flow
    if flow is not None:
        return _typed_texts(flow, args.param)
    values = _pairs(args.param)
    if values and workflow is not None:
        declared = ((workflow.raw.get("spec") or {}).get("arguments") or {}).get("parameters") or []
        check_declared(declared, values, owner=f"workflow '{workflow.name}'", require=False)
    return values


def _dump(data: Any, output: str) -> None:
    if output == "json":
        print(json.dumps(data, indent=2, default=str))
    else:
        import yaml

        sys.stdout.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


# --------------------------------------------------------------------------------------------
# handlers
# --------------------------------------------------------------------------------------------


def _submit(args: argparse.Namespace) -> int:
    from flowdsl.errors import TargetError

    if args.from_template is not None:
        return _submit_template(args)
    if args.target is None and args.flow is None:
        raise TargetError(
            "submit needs a TARGET (a flow or a manifest file) or --from-template NAME",
            fix="e.g. python -m flowdsl submit flows.py -p size=10",
        )
    manifest, flow_name = _submit_manifest(args)
    if args.dry_run:
        _dump(manifest, args.output if args.output in ("json", "yaml") else "yaml")
        return 0
    with _client(args) as client:
        state = client.create_workflow(
            manifest, name=args.name, server_dry_run=args.server_dry_run, flow=flow_name
        )
        return _after_submit(client, args, state)


def _submit_manifest(args: argparse.Namespace) -> tuple[dict[str, Any], str | None]:
    """The Workflow to create, with -p values checked and applied, and the flow's name."""
    flow = _flow(args)
    if flow is not None:
        from flowdsl._compile import compile_dict
        from flowdsl.cli import parse_params

        params = parse_params(flow, args.param)
        return compile_dict(flow, kind="workflow", params=params, config=args.config), flow.name
    from flowdsl.cli import refuse_config_for_manifest
    from flowdsl.client.submission import check_declared
    from flowdsl.local.commands import read_manifest_file

    refuse_config_for_manifest(args)
    manifest = read_manifest_file(args.target)
    if manifest.get("kind", "Workflow") != "Workflow":
        from flowdsl.errors import TargetError

        raise TargetError(
            f"{args.target} holds a {manifest.get('kind')}, not a Workflow",
            fix="submit a Workflow manifest, or use register / --from-template for templates",
            location=args.target,
        )
    values = _pairs(args.param)
    declared = ((manifest.get("spec") or {}).get("arguments") or {}).get("parameters") or []
    check_declared(declared, values, owner=args.target)
    for param in declared:
        if param.get("name") in values:
            param["value"] = values[param["name"]]
    return manifest, None


def _after_submit(client: Client, args: argparse.Namespace, state: WorkflowState) -> int:
    if args.server_dry_run:
        print(f"the Argo Server accepted workflow {state.name} (server dry run: nothing created)")
        return 0
    if args.output == "name":
        print(state.name)
    elif args.output in ("json", "yaml"):
        _dump(dict(state.raw), args.output)
    else:
        print(f"submitted workflow {state.name} to namespace {state.namespace or client.namespace}")
        print(f"  {client.connection.ui_url(state.name)}")
    sys.stdout.flush()
    return _follow(client, args, state)


def _submit_template(args: argparse.Namespace) -> int:
    from flowdsl.client.submission import check_declared

    flow = _flow(args)
    template = args.from_template or (flow.name if flow is not None else None)
    if not template:
        from flowdsl.errors import TargetError

        raise TargetError(
            "--from-template needs a template NAME when no flow is given",
            fix="e.g. --from-template nightly, or give the flow's TARGET",
        )
    texts = _typed_texts(flow, args.param) if flow is not None else _pairs(args.param)
    if args.dry_run:
        _dump(
            {"resourceKind": "WorkflowTemplate", "resourceName": template, "parameters": texts},
            "yaml",
        )
        return 0
    with _client(args) as client:
        stored = client.get_template(template)
        declared = ((stored.get("spec") or {}).get("arguments") or {}).get("parameters") or []
        check_declared(declared, texts, owner=f"workflow template '{template}'")
        flow_label = ((stored.get("metadata") or {}).get("labels") or {}).get("flowdsl/flow")
        state = client.submit_template(
            template,
            parameters=texts,
            name=args.name,
            labels={"flowdsl/flow": flow_label} if flow_label else None,
            server_dry_run=args.server_dry_run,
            flow=flow.name if flow is not None else None,
        )
        return _after_submit(client, args, state)


def _register(args: argparse.Namespace) -> int:
    from flowdsl._compile import compile_dict

    flow = _flow(args)
    if flow is None:
        from flowdsl.cli import refuse_config_for_manifest
        from flowdsl.local.commands import read_manifest_file

        refuse_config_for_manifest(args)
        manifest = read_manifest_file(args.target)
        flow_name = None
    else:
        manifest = compile_dict(flow, kind="template", config=args.config)
        flow_name = flow.name
    if args.dry_run:
        _dump(manifest, "yaml")
        return 0
    with _client(args) as client:
        stored, created = client.register_template(manifest, flow=flow_name)
    name = (stored.get("metadata") or {}).get("name", "?")
    verb = "created" if created else "updated"
    print(f"{verb} workflow template {name} in namespace {client.namespace}")
    return 0


def _get(args: argparse.Namespace) -> int:
    from flowdsl.client.render import render_workflow

    with _client(args) as client:
        state = client.get_workflow(args.name)
        if args.output in ("json", "yaml"):
            _dump(dict(state.raw), args.output)
        else:
            sys.stdout.write(render_workflow(state, url=client.connection.ui_url(state.name)))
    return 0


def _list(args: argparse.Namespace) -> int:
    from flowdsl.client.client import FLOW_LABEL
    from flowdsl.client.render import render_list

    flow_name = args.flow_name
    if flow_name is None and args.flow is not None and not args.all:
        flow_name = args.flow.name
    with _client(args) as client:
        states = client.list_workflows(
            flow=flow_name, label_selector=args.selector, limit=args.limit
        )
        if args.output in ("json", "yaml"):
            _dump([dict(s.raw) for s in states], args.output)
        elif args.output == "name":
            for state in states:
                print(state.name)
        elif not states:
            where = f" of flow {flow_name}" if flow_name else ""
            print(f"no workflows{where} in namespace {client.namespace}")
        else:
            sys.stdout.write(render_list(states, flow_label=FLOW_LABEL))
    return 0


def _watch(args: argparse.Namespace) -> int:
    from flowdsl.client.submission import Submission

    with _client(args) as client:
        view = _view()
        try:
            final = Submission(client, args.name).wait(args.timeout, on_change=view.update)
        finally:
            view.close()
        return _final(final, args)


def _logs(args: argparse.Namespace) -> int:
    from flowdsl.client.submission import workflow_logs

    with _client(args) as client:
        names: dict[str, str] = {}
        state = client.get_workflow(args.name)
        entries = workflow_logs(
            client, args.name, task=args.task, follow=args.follow, grep=args.grep
        )
        for entry in entries:
            if entry.pod_name not in names:
                pods = state.pods()
                if entry.pod_name not in pods:
                    state = client.get_workflow(args.name)
                    pods = state.pods()
                node = pods.get(entry.pod_name)
                names[entry.pod_name] = node.display_name if node else entry.pod_name
            stamp = ""
            if args.timestamps and entry.timestamp is not None:
                stamp = entry.timestamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ") + " "
            print(f"{names[entry.pod_name]}: {stamp}{entry.content}", flush=args.follow)
    return 0


def _action(kind: str) -> Any:
    def handler(args: argparse.Namespace) -> int:
        with _client(args) as client:
            if kind == "stop":
                state = client.stop_workflow(args.name, message=args.message)
                print(f"workflow {state.name} stopped")
            elif kind == "terminate":
                state = client.terminate_workflow(args.name)
                print(f"workflow {state.name} terminated")
            elif kind == "retry":
                current = (
                    client.get_workflow(args.name) if args.param and args.flow is None else None
                )
                state = client.retry_workflow(
                    args.name,
                    restart_successful=args.restart_successful,
                    node_field_selector=args.node_field_selector,
                    parameters=_declared_texts(args, current),
                )
                print(f"workflow {state.name} retried")
                return _follow(client, args, state)
            else:
                current = (
                    client.get_workflow(args.name) if args.param and args.flow is None else None
                )
                state = client.resubmit_workflow(
                    args.name, memoized=args.memoized, parameters=_declared_texts(args, current)
                )
                print(f"resubmitted workflow {args.name} as {state.name}")
                return _follow(client, args, state)
        return 0

    return handler


def _debug(args: argparse.Namespace) -> int:
    from flowdsl.client.debug import plan_debug, run_debug

    flow = _flow(args)
    if flow is None:
        from flowdsl.errors import TargetError

        raise TargetError(
            "debug reruns a flow from its Python code; a manifest file cannot be debugged",
            fix="give the flow's TARGET (file.py[:flow])",
            location=args.target,
        )
    with _client(args) as client:
        plan = plan_debug(client, flow, args.name, task=args.task, config=args.config)
    shown = ", ".join(f"{k}={v}" for k, v in plan.parameters.items()) or "no parameters"
    if plan.node is None:
        print(f"rerunning workflow {args.name} locally ({shown})", flush=True)
    else:
        print(
            f"rerunning task {plan.node.display_name} of workflow {args.name} locally, "
            f"with the inputs its {plan.node.phase.lower()} node received ({shown})",
            flush=True,
        )
        for other in plan.other_failures:
            shown_name = other.display_name
            print(f"  (also failed: {shown_name}; rerun it with --task '{shown_name}')")
    run = run_debug(
        plan, run_dir=Path(args.run_dir) if args.run_dir else None, progress=args.progress
    )
    for name, value in run.outputs.items():
        print(f"{name}: {value}")
    print(f"local run {run.status}: {run.run_dir}")
    return 0 if run.ok else 1


# --------------------------------------------------------------------------------------------
# registration
# --------------------------------------------------------------------------------------------


def register(commands: Any, *, flow: Flow[Any, Any] | None = None) -> None:
    """Add the Argo Server commands to the CLI's sub-parsers.

    Args:
        commands: the ``add_subparsers()`` action of the CLI's parser.
        flow: the flow of a script's ``flow.main()``; the commands then take no TARGET.
    """
    from flowdsl.cli import add_config_option

    conn = _connection_flags()

    submit = commands.add_parser(
        "submit",
        parents=[conn],
        help="submit a flow to the Argo Server",
        description="Compile a flow and create it as a Workflow on the Argo Server. "
        "Parameters are checked before anything is sent.",
    )
    _add_target(submit, flow, optional=True)
    _add_params(submit)
    add_config_option(submit)
    submit.add_argument(
        "--name", help="the workflow's name (default: the flow's name + 5 random characters)"
    )
    _add_follow(submit)
    submit.add_argument(
        "--dry-run", action="store_true", help="print what would be sent; send nothing"
    )
    submit.add_argument(
        "--server-dry-run",
        action="store_true",
        help="have the server validate the workflow without creating it",
    )
    submit.add_argument(
        "--from-template",
        nargs="?",
        const="",
        default=None,
        metavar="NAME",
        help="submit the registered WorkflowTemplate NAME (default: the flow's name)",
    )
    submit.add_argument(
        "-o",
        "--output",
        choices=["text", "name", "json", "yaml"],
        default="text",
        help="what to print",
    )
    submit.set_defaults(handler=_submit)

    register_cmd = commands.add_parser(
        "register",
        parents=[conn],
        help="create or update the flow's WorkflowTemplate",
        description="Compile a flow as a WorkflowTemplate and create it, or update it if it "
        "exists; submit it later with submit --from-template.",
    )
    _add_target(register_cmd, flow)
    add_config_option(register_cmd)
    register_cmd.add_argument(
        "--dry-run", action="store_true", help="print the template; send nothing"
    )
    register_cmd.set_defaults(handler=_register)

    get = commands.add_parser("get", parents=[conn], help="show a workflow and its steps")
    get.add_argument("name", metavar="NAME")
    get.add_argument("-o", "--output", choices=["text", "json", "yaml"], default="text")
    get.set_defaults(handler=_get, flow=flow)

    list_cmd = commands.add_parser("list", parents=[conn], help="list workflows, newest first")
    list_cmd.add_argument(
        "--flow", dest="flow_name", metavar="FLOW", help="only the runs of this flow"
    )
    if flow is not None:
        list_cmd.add_argument(
            "--all", action="store_true", help="every flow's runs, not only this one's"
        )
    list_cmd.add_argument(
        "-l", "--selector", metavar="LABELS", help="a label selector, e.g. team=ml"
    )
    list_cmd.add_argument("--limit", type=int, metavar="N", help="at most N workflows")
    list_cmd.add_argument(
        "-o", "--output", choices=["text", "name", "json", "yaml"], default="text"
    )
    list_cmd.set_defaults(handler=_list, flow=flow, all=False)

    watch = commands.add_parser(
        "watch",
        parents=[conn],
        help="follow a workflow's progress live",
        description="Show the phases of a workflow's steps as they change, from the server's "
        "event stream (reopened if it drops), until the workflow ends. Exit 0 if it succeeded.",
    )
    watch.add_argument("name", metavar="NAME")
    watch.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="stop watching after this long"
    )
    watch.set_defaults(handler=_watch, flow=flow)

    logs = commands.add_parser("logs", parents=[conn], help="print a workflow's logs")
    logs.add_argument("name", metavar="NAME")
    logs.add_argument(
        "-f", "--follow", action="store_true", help="keep printing until the workflow ends"
    )
    logs.add_argument("--task", metavar="T", help="only the pods of task T")
    logs.add_argument("--grep", metavar="TEXT", help="only lines containing TEXT")
    logs.add_argument("--timestamps", action="store_true", help="prefix each line with its time")
    logs.set_defaults(handler=_logs, flow=flow)

    stop = commands.add_parser("stop", parents=[conn], help="stop a workflow (exit handlers run)")
    stop.add_argument("name", metavar="NAME")
    stop.add_argument("--message", help="why it was stopped")
    stop.set_defaults(handler=_action("stop"), flow=flow)

    terminate = commands.add_parser(
        "terminate", parents=[conn], help="terminate a workflow (no exit handlers)"
    )
    terminate.add_argument("name", metavar="NAME")
    terminate.set_defaults(handler=_action("terminate"), flow=flow)

    retry = commands.add_parser("retry", parents=[conn], help="retry a failed workflow in place")
    retry.add_argument("name", metavar="NAME")
    retry.add_argument(
        "--restart-successful", action="store_true", help="also rerun the nodes that succeeded"
    )
    retry.add_argument("--node-field-selector", metavar="SELECTOR", help="which nodes to restart")
    _add_params(retry)
    _add_follow(retry)
    retry.set_defaults(handler=_action("retry"), flow=flow, target=None)

    resubmit = commands.add_parser(
        "resubmit", parents=[conn], help="run a workflow again as a new one"
    )
    resubmit.add_argument("name", metavar="NAME")
    resubmit.add_argument(
        "--memoized", action="store_true", help="reuse the outputs of succeeded steps"
    )
    _add_params(resubmit)
    _add_follow(resubmit)
    resubmit.set_defaults(handler=_action("resubmit"), flow=flow, target=None)

    debug = commands.add_parser(
        "debug",
        parents=[conn],
        help="rerun a cluster workflow (or one task) on this machine",
        description="Fetch a workflow's parameters from the server (with --task, the inputs "
        "of that task's failed node) and rerun the flow, or that one task, with the local "
        "engine, from the code on this machine.",
    )
    _add_target(debug, flow, manifests=False)
    add_config_option(debug)
    debug.add_argument("name", metavar="NAME", help="the workflow on the server")
    debug.add_argument(
        "--task", metavar="T", help="rerun only task T, with its failed node's inputs"
    )
    debug.add_argument("--run-dir", metavar="DIR", help="where to record the local run")
    debug.add_argument("--progress", choices=["auto", "live", "plain", "off"], default="auto")
    debug.set_defaults(handler=_debug)
