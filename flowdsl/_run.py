"""Running a flow on this machine: compile it, run the manifest, decode the typed results.

The local engine (:mod:`flowdsl.local`) runs the *compiled manifest* and knows nothing of
Python types; this module adds the flow's view on top: parameters given as Python values,
results decoded by the flow's and tasks' type hints.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from flowdsl import types as codecs
from flowdsl.errors import FlowDSLError, ParameterError, RunError
from flowdsl.ir import list_of

if TYPE_CHECKING:
    from flowdsl.dsl import Flow
    from flowdsl.ir import FlowGraph
    from flowdsl.local import LocalRun, NodeRecord

__all__ = ["FlowRun", "TaskRun", "call_locally", "run"]

Progress = Literal["auto", "live", "plain", "off"]

#: Images are ignored locally; a flow without one still runs while it is being developed.
LOCAL_IMAGE = "flowdsl-local-run"


@dataclass(frozen=True)
class TaskRun:
    """What one task call did in a local run.

    Attributes:
        name: the DAG task name (the call's id, e.g. ``train-2``).
        phase: Argo's node phase (``Succeeded``, ``Failed``, ``Skipped``, ``Omitted`` ...).
        outputs: the task's outputs decoded by its return hint (``return`` and fields);
            empty when it did not succeed.
        attempts: how many times it ran (retries included).
        duration: seconds from its first start to its last end (0 when it did not run).
        node: the engine's full record of the node (stdout/stderr paths, messages).
    """

    name: str
    phase: str
    outputs: Mapping[str, Any]
    attempts: int
    duration: float
    node: NodeRecord


@dataclass(frozen=True)
class FlowRun:
    """A local run of a flow: status, typed result, per-task outputs and timings.

    Attributes:
        flow: the flow's name.
        status: ``Succeeded``, ``Failed``, ``Error`` or ``Stopped``.
        tasks: per task call, by DAG task name.
        run_dir: the run record (per-node stdout/stderr, inputs, outputs, ``run.json``).
        duration: wall time of the run in seconds.
        local: the engine's record of the run.
    """

    flow: str
    status: str
    tasks: Mapping[str, TaskRun]
    run_dir: Path
    duration: float
    local: LocalRun
    _returns: Any = field(repr=False)

    @property
    def succeeded(self) -> bool:
        """Whether the run succeeded."""
        return self.status == "Succeeded"

    @property
    def result(self) -> Any:
        """The flow's return value, decoded by its type hint.

        Raises:
            RunError: the run did not succeed (the message names the failing tasks).
        """
        if not self.succeeded:
            raise _failure(self)
        if self._returns is None:
            return None
        text = self.local.outputs.get("return")
        if text is None:
            raise RunError(
                "the run succeeded but its entrypoint wrote no 'return' output",
                fix="this is a flowdsl bug; please report it",
                flow=self.flow,
            )
        return codecs.decode_fan_in(codecs.codec_for(self._returns), text)


def _failure(run: FlowRun) -> RunError:
    failed = run.local.failed_nodes()
    if not failed:
        return RunError(f"the run ended {run.status}", flow=run.flow, fix=f"see {run.run_dir}")
    node = failed[0]
    detail = f": {node.message}" if node.message else ""
    others = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
    return RunError(
        f"the run ended {run.status}: node '{node.display_name}' {node.phase}{detail}{others}",
        fix=f"see its stderr under {run.run_dir}",
        flow=run.flow,
    )


def run(
    flow: Flow[Any, Any],
    /,
    *,
    params: Mapping[str, Any] | None = None,
    progress: Progress = "auto",
    run_dir: Path | None = None,
    config: str | Path | None = None,
) -> FlowRun:
    """Compile ``flow`` and run its manifest on this machine with the local engine.

    Args:
        flow: a ``@flow``.
        params: values for flow parameters (Python values, by exposed name).
        progress: ``"live"``, ``"plain"``, ``"off"`` or ``"auto"`` (live on a terminal).
        run_dir: where to keep the run record (default ``.flowdsl/runs/<run name>``).
        config: the project configuration file (default: the ``pyproject.toml`` nearest to
            the flow's source).

    Returns:
        The run, failed or not (a failed run does not raise; ``run.result`` does).

    Raises:
        TraceError, ParameterError, CompileError: the flow or the values are wrong.
    """
    from flowdsl._compile import compile_graph_dict
    from flowdsl.local import run_manifest

    graph = flow.trace()
    doc = compile_graph_dict(
        graph, kind="workflow", params=params, image_fallback=LOCAL_IMAGE, flow=flow, config=config
    )
    local = run_manifest(doc, run_dir=run_dir, progress=progress)
    return FlowRun(
        flow=flow.name,
        status=local.status,
        tasks=_task_runs(graph, local),
        run_dir=local.run_dir,
        duration=local.duration,
        local=local,
        _returns=flow.returns,
    )


def _task_runs(graph: FlowGraph, local: LocalRun) -> dict[str, TaskRun]:
    # The calls of the flow are the children of the entrypoint's DAG node (the root).
    root = next((node for node in local.nodes if node.parent is None), None)
    by_name: dict[str, NodeRecord] = {
        node.display_name: node
        for node in local.nodes
        if root is not None and node.parent == root.id
    }
    by_id = {node.id: node for node in local.nodes}
    runs = {}
    for call in graph.calls:
        node = by_name.get(call.id)
        if node is None:
            continue
        outputs: dict[str, Any] = {}
        if node.phase == "Succeeded":
            for out in call.outputs:
                # A task's whole return value is its stdout (NOTE: [The result is stdout]).
                text = (
                    node.result
                    if out.name == "return" and call.returns_result
                    else node.outputs.get(out.name)
                )
                if text is not None:
                    # A map's outputs are lists of the per-item outputs (fan-in).
                    annotation = out.annotation if call.loop is None else list_of(out.annotation)
                    outputs[out.name] = _decode_output(annotation, text, call.id)
        # A map's node is a group: its items are its children, each with its own attempts.
        leaves = [by_id[child] for child in node.children if child in by_id] or [node]
        attempts = [a for leaf in leaves for a in leaf.attempts]
        runs[call.id] = TaskRun(
            name=call.id,
            phase=node.phase,
            outputs=outputs,
            attempts=len(attempts),
            duration=sum(a.duration for a in attempts),
            node=node,
        )
    return runs


def _decode_output(annotation: Any, text: str, task: str) -> Any:
    try:
        return codecs.decode_fan_in(codecs.codec_for(annotation), text)
    except FlowDSLError as exc:
        raise RunError(
            f"output could not be decoded: {exc.problem}", task=task, fix="see the run record"
        ) from None


def call_locally(flow: Flow[Any, Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    """``flow(*args, **kwargs)``: run locally and return the typed result, or raise RunError."""
    from flowdsl.scheduling import is_scheduled_time

    # A scheduled-time parameter left out means "now", as in a manual run on the cluster.
    now = datetime.now(timezone.utc)
    for param in flow.params:
        if is_scheduled_time(param.annotation) and param.python_name not in kwargs:
            positional = [p.python_name for p in flow.params].index(param.python_name)
            if positional >= len(args):
                kwargs = {**kwargs, param.python_name: now}
    try:
        bound = inspect.signature(flow.__wrapped__).bind(*args, **kwargs)
    except TypeError as exc:
        expected = ", ".join(f"{p.python_name}=..." for p in flow.params)
        raise ParameterError(
            f"bad call: {exc}",
            fix=f"call the flow with its parameters, e.g. {flow.__wrapped__.__name__}({expected})",
            flow=flow.name,
        ) from None
    exposed = {p.python_name: p.name for p in flow.params}
    params = {exposed[name]: value for name, value in bound.arguments.items()}
    result = run(flow, params=params)
    return result.result
