"""``debug``: rerun a workflow from the cluster on this machine, or one of its tasks.

The workflow's parameters (and, for one task, the inputs its failed node received) are
read from the Argo Server; the flow is compiled here, from the code on this machine, and
run by the local engine (:func:`flowdsl.local.run_manifest`), so a failure on the cluster
can be reproduced and stepped through with the code being fixed.

One task runs as a manifest of its own: the flow's manifest with that task's template as
the entrypoint and the node's inputs as the workflow's arguments (Argo hands a workflow's
arguments to its entrypoint's inputs, and so does the local engine).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowdsl.client.status import FAILED_PHASES, NodeState, WorkflowState
from flowdsl.errors import FlowDSLError

if TYPE_CHECKING:
    from flowdsl.client.client import Client
    from flowdsl.dsl import Flow
    from flowdsl.local import LocalRun

__all__ = ["DebugPlan", "plan_debug", "run_debug", "task_manifest"]


@dataclass(frozen=True, slots=True)
class DebugPlan:
    """What ``debug`` will run, read from the server.

    Attributes:
        workflow: the workflow on the server.
        manifest: the manifest to run locally.
        parameters: the values to run it with (text).
        node: the node whose task is rerun, or None for the whole flow.
        other_failures: other failed nodes of the same task (mapped items), not rerun.
    """

    workflow: WorkflowState
    manifest: Mapping[str, Any]
    parameters: Mapping[str, str]
    node: NodeState | None
    other_failures: tuple[NodeState, ...] = ()


def task_manifest(
    manifest: Mapping[str, Any], template: str, inputs: Mapping[str, str]
) -> dict[str, Any]:
    """``manifest`` reduced to running ``template`` with ``inputs``.

    Raises:
        FlowDSLError: the manifest has no template of that name.
    """
    doc = copy.deepcopy(dict(manifest))
    spec = doc.setdefault("spec", {})
    names = [t.get("name") for t in spec.get("templates") or []]
    if template not in names:
        raise FlowDSLError(
            f"the flow compiled here has no template {template!r} (templates: "
            f"{', '.join(str(n) for n in names)}); the workflow ran another version of the flow",
            fix="check out the code the workflow was submitted from, or rerun the whole flow "
            "(without --task)",
        )
    spec["entrypoint"] = template
    spec["arguments"] = {"parameters": [{"name": k, "value": v} for k, v in inputs.items()]}
    spec.pop("onExit", None)  # the exit handler belongs to the whole run, not to one task
    return doc


def plan_debug(
    client: Client,
    flow: Flow[Any, Any],
    name: str,
    *,
    task: str | None = None,
    config: str | None = None,
) -> DebugPlan:
    """Read what to rerun from the server and compile the flow here.

    Raises:
        NotFoundError: no such workflow.
        FlowDSLError: ``task`` ran no pod in the workflow, or the flow compiled here no
            longer has the task's template.
    """
    from flowdsl._compile import compile_dict

    state = client.get_workflow(name)
    manifest = compile_dict(flow, kind="template", config=config)
    if task is None:
        declared = {p.name for p in flow.params}
        parameters = {k: v for k, v in state.parameters.items() if k in declared}
        return DebugPlan(state, manifest, parameters, None)
    nodes = state.task_nodes(task)
    if not nodes:
        ran = sorted({n.display_name.split("(", 1)[0] for n in state.nodes if n.pod_name})
        raise FlowDSLError(
            f"workflow '{name}' has no task {task!r} that ran a pod (tasks that did: "
            f"{', '.join(ran) or 'none'})",
            fix="name one of them with --task",
        )
    failed = [n for n in nodes if n.phase in FAILED_PHASES]
    node = failed[0] if failed else nodes[-1]
    doc = task_manifest(manifest, node.template_name, node.inputs)
    return DebugPlan(state, doc, dict(node.inputs), node, tuple(failed[1:]))


def run_debug(plan: DebugPlan, *, run_dir: Path | None = None, progress: str = "auto") -> LocalRun:
    """Run a plan with the local engine (see :func:`flowdsl.local.run_manifest`)."""
    from flowdsl.local import run_manifest

    return run_manifest(
        plan.manifest,
        parameters=plan.parameters,
        run_dir=run_dir,
        progress=progress,  # type: ignore[arg-type]
    )
