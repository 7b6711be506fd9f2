"""``python -m flowdsl``: the command line.

The CLI is thin: each command parses its arguments and imports its work inside the handler,
so ``python -m flowdsl --help`` stays fast and a command pays only for what it uses.
``flow.main()`` gives a script the same commands with the flow as an implicit TARGET.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from flowdsl.errors import FlowDSLError, ParameterError, TargetError

if TYPE_CHECKING:
    from flowdsl.dsl import Flow

__all__ = ["load_manifest", "main", "parse_params"]

Handler = Callable[[argparse.Namespace], int]


def parse_params(flow: Flow[Any, Any], pairs: Sequence[str]) -> dict[str, Any]:
    """Decode ``-p name=value`` pairs into Python values by each parameter's type.

    Raises:
        ParameterError: a pair has no ``=``, names no parameter, or does not parse.
    """
    from flowdsl import types as codecs

    by_name = {p.name: p for p in flow.params}
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep:
            raise ParameterError(
                f"-p {pair!r} has no '=' (expected name=value)",
                fix=f"write -p {pair}=VALUE",
                flow=flow.name,
            )
        param = by_name.get(name)
        if param is None:
            close = difflib.get_close_matches(name, list(by_name), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ParameterError(
                f"the flow has no parameter {name!r} (parameters: {', '.join(by_name) or 'none'})",
                fix=f"{hint}check the name",
                flow=flow.name,
                parameter=name,
            )
        codec = codecs.codec_for(param.annotation)
        try:
            values[name] = codec.decode(text)
        except FlowDSLError as exc:
            raise ParameterError(
                exc.problem,
                fix=codecs.value_fix(codec),
                flow=flow.name,
                parameter=name,
            ) from None
    return values


def load_manifest(
    target: str,
    params: Sequence[str] = (),
    kind: str = "workflow",
    *,
    image_fallback: str | None = None,
    scheduled: bool = False,
    config: str | None = None,
) -> dict[str, Any]:
    """A manifest from a TARGET: a YAML/JSON manifest file, or a flow compiled on the spot.

    ``image_fallback`` is the image of tasks that name none (for local runs, which ignore it);
    ``scheduled``: the run will carry a scheduled time (``run --at``); ``config``: the project
    configuration file (default: the nearest ``pyproject.toml``).
    """
    if target.endswith((".yaml", ".yml", ".json")):
        from flowdsl.local.commands import read_manifest_file

        return read_manifest_file(target)
    from flowdsl._compile import compile_graph_dict
    from flowdsl._target import load_flow
    from flowdsl.lower import Kind

    flow = load_flow(target)
    manifest_kind: Kind = "template" if kind == "template" else "workflow"
    return compile_graph_dict(
        flow.trace(),
        kind=manifest_kind,
        params=parse_params(flow, params),
        image_fallback=image_fallback,
        flow=flow,
        scheduled=scheduled,
        config=config,
    )


# --------------------------------------------------------------------------------------------
# compile
# --------------------------------------------------------------------------------------------


def _compile(args: argparse.Namespace) -> int:
    from flowdsl._compile import compile_dict
    from flowdsl.emit import to_json, to_yaml

    flow = _flow_of(args)
    params = parse_params(flow, args.param)
    doc: Any
    if args.kind in ("cron", "all"):
        from flowdsl._cron import compile_documents

        docs = compile_documents(flow, args.kind, params, config=args.config)
        doc = docs[0] if len(docs) == 1 else docs
    else:
        doc = compile_dict(flow, kind=args.kind, params=params, config=args.config)
    text = to_json(doc) if args.format == "json" else to_yaml(doc)
    if args.output and args.output != "-":
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    return 0


def _init(args: argparse.Namespace) -> int:
    from pathlib import Path

    from flowdsl._init_project import init_project

    lines: list[str] = []
    init_project(Path(args.directory), out=lines)
    print("\n".join(lines))
    return 0


def _flow_of(args: argparse.Namespace) -> Flow[Any, Any]:
    if args.flow is not None:
        return args.flow  # type: ignore[no-any-return]
    from flowdsl._target import load_flow

    return load_flow(args.target)


def _add_target(parser: argparse.ArgumentParser, flow: Flow[Any, Any] | None) -> None:
    if flow is None:
        parser.add_argument(
            "target",
            metavar="TARGET",
            help="path/to/file.py[:flow] or package.module[:flow]",
        )
    parser.set_defaults(flow=flow)


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """``--config FILE``: the project configuration for a flow compiled by the command."""
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="project configuration to use instead of the nearest pyproject.toml's "
        "[tool.flowdsl] (a pyproject.toml, or a TOML file with a [tool.flowdsl] table)",
    )


def refuse_config_for_manifest(args: argparse.Namespace) -> None:
    """A manifest file is already compiled: ``--config`` cannot change it."""
    if getattr(args, "config", None) is not None:
        raise TargetError(
            f"--config {args.config} applies to a flow compiled by this command, but "
            f"{args.target} is a manifest compiled already",
            fix="give the flow's file as TARGET, or compile the manifest again with "
            "python -m flowdsl compile --config FILE",
            location=args.target,
        )


def _add_params(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a flow parameter value, checked against its type (repeatable)",
    )


def build_parser(flow: Flow[Any, Any] | None = None) -> argparse.ArgumentParser:
    """The argument parser; with ``flow``, commands take no TARGET (``flow.main()``)."""
    prog = "python -m flowdsl" if flow is None else None
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Compile, run and inspect flowdsl flows as Argo Workflows.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    compile_cmd = commands.add_parser(
        "compile",
        help="print the Argo manifest of a flow",
        description="Trace a flow, "
        "lower it to an Argo manifest, check it against Argo's rules and print it.",
    )
    _add_target(compile_cmd, flow)
    compile_cmd.add_argument("-o", "--output", metavar="FILE", help="write to FILE, not stdout")
    compile_cmd.add_argument(
        "--kind",
        choices=["workflow", "template", "cron", "all"],
        default="workflow",
        help="Workflow (default), WorkflowTemplate, CronWorkflow (a scheduled flow), or all: "
        "the WorkflowTemplate and the flow's CronWorkflow, Sensor and WorkflowEventBindings "
        "as one multi-document YAML",
    )
    compile_cmd.add_argument("--format", choices=["yaml", "json"], default="yaml")
    add_config_option(compile_cmd)
    _add_params(compile_cmd)
    compile_cmd.set_defaults(handler=_compile)

    init_cmd = commands.add_parser(
        "init",
        help="write a starter [tool.flowdsl], a Dockerfile and a .dockerignore",
        description="Get a project onto a cluster: a starter [tool.flowdsl] section in "
        "pyproject.toml, a Dockerfile (this Python version, the project and flowdsl "
        "installed) and a .dockerignore. Existing files are never overwritten.",
    )
    init_cmd.add_argument("directory", nargs="?", default=".", help="the project (default: .)")
    init_cmd.set_defaults(handler=_init)

    # Each command module registers its sub-commands; their handlers import their work.
    from flowdsl.client.commands import register as register_client
    from flowdsl.local.commands import register as register_local
    from flowdsl.scheduling_commands import register as register_scheduling

    register_local(commands, flow=flow)
    register_client(commands, flow=flow)
    register_scheduling(commands, flow=flow)
    return parser


def main(argv: Sequence[str] | None = None, *, flow: Flow[Any, Any] | None = None) -> None:
    """Run the command line and exit with its status."""
    parser = build_parser(flow)
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        code = handler(args)
    except FlowDSLError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)
