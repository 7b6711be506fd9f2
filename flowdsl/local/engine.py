"""The scheduler: runs a workflow spec's templates as Argo's controller would.

NOTE: [Scheduler] One thread (the caller's) owns all state. It takes callbacks from a
queue, one at a time: a node finished, a process ended, a timer fired. Processes run in a
pool of worker threads that only wait for them and post the outcome back, so nothing
needs a lock except that queue. Completions are always posted, never called directly,
which keeps the stack flat however long a chain of tasks is.

Semantics follow Argo's ``workflow/controller`` (``dag.go``, ``steps.go``, ``operator.go``):

- a template runs with its inputs resolved from the caller's arguments, else the input's
  ``value``/``default`` (``inputs.parameters.X was not supplied`` otherwise), and every
  string substituted with the global and input scopes;
- a DAG task starts when every task its ``depends`` names is fulfilled; a false
  ``depends`` makes it Omitted; its fields are then substituted with the outputs of the
  tasks it refers to, its loop (``withItems``, ``withParam``, ``withSequence``) expanded,
  and each item's ``when`` evaluated (false: Skipped);
- a looped task is a TaskGroup node whose phase is Failed/Error if any item failed, and
  whose outputs are aggregated into JSON lists (``tasks.X.outputs.parameters.P``);
- a DAG's phase is decided from its target tasks (``dag.target``, else the tasks nothing
  depends on): a skipped or omitted target takes the phase of its branch, preferring a
  failure, so a failure nobody handles fails the DAG, and a task that runs on
  ``A.Failed`` and succeeds absorbs it; ``continueOn`` on a target forgives it;
- a steps template runs its groups in order, the steps of a group in parallel; a step that
  fails without ``continueOn`` fails the group and stops the template;
- ``retryStrategy`` re-runs a leaf's command, deciding as Argo's ``processNodeRetries``
  does, in its order: with a ``backoff``, past ``maxDuration`` since the first attempt
  started ("Max duration limit exceeded"), or when the next wait would end past it
  ("Backoff would exceed max duration limit"), it stops (a backoff needs a ``duration``:
  "no base duration specified for retryStrategy"); then ``retryPolicy`` (default
  ``OnFailure``, or ``Always`` when an ``expression`` is given) must accept the phase:
  ``Always`` Failed and Error, ``OnFailure`` Failed, ``OnError`` Error, ``OnTransientError``
  a failure whose message matches the ``TRANSIENT_ERROR_PATTERN`` regular expression of
  the environment (the controller's setting; nothing else is transient locally); then
  ``limit`` ("No more retries left"), then ``expression`` ("retryStrategy.expression
  evaluated to false"). Each retry waits ``duration * factor^(n-1)`` capped by ``cap``, and
  runs with a deadline of what is left of ``maxDuration`` (Argo's execution deadline);
- ``activeDeadlineSeconds`` and ``timeout`` limit one attempt of a leaf (Argo accepts them
  on leaf templates only); ``spec.activeDeadlineSeconds`` limits the run (the exit handler
  still runs);
- ``memoize``: a node whose key is in the cache within ``maxAge`` does not run; it
  succeeds with the cached outputs (:mod:`flowdsl.local.cache`); a succeeded memoized
  node is saved there;
- artifacts pass through the run directory (:mod:`flowdsl.local.artifacts`): a leaf's
  input artifacts are copied to their paths before its command runs, its output artifacts
  kept when it exits 0 and referable as ``tasks.X.outputs.artifacts.NAME``; a ``from`` that
  does not resolve errors the node (``Unable to resolve: ...``) unless it is optional;
- ``env`` values from Secrets and ConfigMaps, ``envFrom`` and volumes are provided as
  :mod:`flowdsl.local.sources` and :mod:`flowdsl.local.volumes` say; secret values are
  masked in every record the engine writes;
- ``spec.parallelism`` caps the processes running at once (and so does ``max_parallel``,
  by default this machine's cores); a DAG or steps template's ``parallelism`` caps its
  running children;
- ``spec.onExit`` runs after the entrypoint with ``workflow.status`` and
  ``workflow.failures``; a failing exit handler fails a run that had succeeded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import heapq
import itertools
import json
import os
import queue
import re
import secrets
import signal
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from flowdsl.local import record as rec
from flowdsl.local.artifacts import copy_artifact
from flowdsl.local.cache import CachedOutputs, CacheError, MemoCache
from flowdsl.local.expr import (
    DependsExpr,
    ExpressionError,
    TaskResults,
    evaluate_when,
    task_depends,
)
from flowdsl.local.manifest import LEAF_KINDS, Spec, template_kind
from flowdsl.local.model import (
    COMPLETED,
    FAILED_OR_ERROR,
    FULFILLED,
    Attempt,
    LocalRun,
    Memoization,
    NodeRecord,
)
from flowdsl.local.process import Launch, Outcome, ProcessHandle, prepare
from flowdsl.local.sources import Masker, MissingValue, Sources, container_env
from flowdsl.local.substitute import (
    TAG,
    nested_env,
    referenced_names,
    substitute,
    substitute_deep,
)
from flowdsl.local.values import (
    item_label,
    item_text,
    parse_duration,
    parse_int,
    parse_number,
    value_text,
)
from flowdsl.local.volumes import AttemptVolumes, attempt_volumes, claim_names, remove_private
from flowdsl.scheduling import SCHEDULED_TIME_ANNOTATION

__all__ = ["Engine", "Reporter"]

_STRFTIME_KEYS = "aAbBcdHIjmMpSUwWxXyYZz"
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


class _Terminated(KeyboardInterrupt):
    """SIGTERM during a run: handled as Ctrl-C is, so no process outlives the engine."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise _Terminated


def _on_sigterm_raise() -> Any:
    """Turn SIGTERM into :class:`_Terminated` for the run (main thread, default handler only)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return None  # someone else handles it; leave it to them
    return signal.signal(signal.SIGTERM, _raise_terminated)


def _restore_sigterm(previous: Any) -> None:
    if previous is not None:
        signal.signal(signal.SIGTERM, previous)


class _NodeError(Exception):
    """A node cannot run; the message becomes the node's (phase Error)."""


class Reporter:
    """Receives what a run does (the default reports nothing); see :mod:`flowdsl.local.progress`."""

    def start(self, name: str, run_dir: Path, notes: list[str]) -> None:
        """The run starts; ``notes`` are things the user should know once (image ignored)."""

    def node(self, node: NodeRecord, group: tuple[int, int] | None) -> None:
        """A node changed phase; ``group`` is (fulfilled, total) of its loop, if it is one."""

    def finish(self, run: LocalRun) -> None:
        """The run ended."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:40].rstrip("-") or "node"


class _Node:
    """A node while the run is going (the mutable twin of :class:`NodeRecord`)."""

    __slots__ = (
        "artifacts",
        "attempts",
        "children",
        "directory",
        "display_name",
        "exit_code",
        "finished_at",
        "group_done",
        "group_total",
        "id",
        "in_exit_handler",
        "input_artifacts",
        "inputs",
        "listeners",
        "memoization",
        "message",
        "name",
        "outputs",
        "parent",
        "phase",
        "result",
        "started_at",
        "template",
        "type",
    )

    def __init__(
        self,
        node_id: str,
        name: str,
        *,
        display_name: str,
        node_type: str,
        template: str | None,
        parent: _Node | None,
        directory: Path | None,
    ) -> None:
        self.id = node_id
        self.name = name
        self.display_name = display_name
        self.type = node_type
        self.template = template
        self.parent = parent
        self.directory = directory
        self.phase = "Pending"
        self.message = ""
        self.inputs: dict[str, str] = {}
        self.outputs: dict[str, str] = {}
        self.result: str | None = None
        self.exit_code: int | None = None
        self.attempts: list[Attempt] = []
        self.started_at: datetime | None = None
        self.finished_at: datetime | None = None
        self.children: list[_Node] = []
        self.listeners: list[Callable[[_Node], None]] = []
        self.in_exit_handler: bool = parent.in_exit_handler if parent else False
        self.group_done = 0
        self.group_total = 0
        self.memoization: Memoization | None = None
        self.artifacts: dict[str, Path] = {}
        self.input_artifacts: dict[str, Path] = {}

    @property
    def fulfilled(self) -> bool:
        return self.phase in FULFILLED

    def snapshot(self) -> NodeRecord:
        return NodeRecord(
            id=self.id,
            name=self.name,
            display_name=self.display_name,
            type=self.type,
            template=self.template,
            phase=self.phase,
            message=self.message,
            inputs=dict(self.inputs),
            outputs=dict(self.outputs),
            result=self.result,
            exit_code=self.exit_code,
            attempts=tuple(self.attempts),
            started_at=self.started_at,
            finished_at=self.finished_at,
            parent=self.parent.id if self.parent else None,
            children=tuple(child.id for child in self.children),
            directory=self.directory,
            memoization=self.memoization,
            artifacts=dict(self.artifacts),
            input_artifacts=dict(self.input_artifacts),
        )


def _masked(record: NodeRecord, masker: Masker) -> NodeRecord:
    """``record`` with every text it holds masked (a no-op while there is nothing to mask)."""
    if not masker:
        return record
    mask = masker.mask
    return dataclasses.replace(
        record,
        message=mask(record.message),
        inputs={k: mask(v) for k, v in record.inputs.items()},
        outputs={k: mask(v) for k, v in record.outputs.items()},
        result=None if record.result is None else mask(record.result),
        attempts=tuple(
            dataclasses.replace(attempt, message=mask(attempt.message))
            for attempt in record.attempts
        ),
    )


class _Boundary:
    """A template's ``parallelism``: how many of its children may be active at once."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.active = 0
        self.waiting: deque[Callable[[], None]] = deque()

    def submit(self, start: Callable[[], None]) -> None:
        if self.limit is None or self.active < self.limit:
            self.active += 1
            start()
        else:
            self.waiting.append(start)

    def release(self) -> None:
        self.active -= 1
        while self.waiting and (self.limit is None or self.active < self.limit):
            self.active += 1
            self.waiting.popleft()()


def _node_scope(prefix: str, node: _Node) -> dict[str, str]:
    """What ``tasks.X.*`` / ``steps.X.*`` give for a finished node (Argo's buildLocalScope)."""
    scope = {f"{prefix}.id": node.id, f"{prefix}.status": node.phase}
    if node.started_at is not None:
        scope[f"{prefix}.startedAt"] = node.started_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    if node.finished_at is not None:
        scope[f"{prefix}.finishedAt"] = node.finished_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    if node.result is not None:
        scope[f"{prefix}.outputs.result"] = node.result
    if node.exit_code is not None:
        scope[f"{prefix}.outputs.exitCode"] = str(node.exit_code)
    for name, value in node.outputs.items():
        scope[f"{prefix}.outputs.parameters.{name}"] = value
    for name, path in node.artifacts.items():
        scope[f"{prefix}.outputs.artifacts.{name}"] = str(path)
    return scope


def _json_list(values: list[str]) -> str:
    """Argo's aggregatedJSONValueList: objects or lists stay JSON, anything else is text."""
    parsed: list[Any] = []
    for value in values:
        try:
            item = json.loads(value)
        except ValueError:
            break
        if not isinstance(item, dict | list):
            break
        parsed.append(item)
    else:
        return json.dumps(parsed, separators=(",", ":"), ensure_ascii=False)
    return json.dumps(values, separators=(",", ":"), ensure_ascii=False)


def _aggregate_scope(prefix: str, children: list[_Node]) -> dict[str, str]:
    """The outputs of a loop's items as JSON lists (Argo's processAggregateNodeOutputs)."""
    params: list[dict[str, str]] = []
    by_name: dict[str, list[str]] = {}
    results: list[Any] = []
    for child in children:
        if child.outputs:
            params.append(dict(child.outputs))
            for name, value in child.outputs.items():
                by_name.setdefault(name, []).append(value)
        if child.result is not None:
            try:
                parsed = json.loads(child.result)
            except ValueError:
                parsed = None
            results.append(parsed if isinstance(parsed, dict) else child.result)
    scope = {
        f"{prefix}.outputs.parameters": json.dumps(
            params, separators=(",", ":"), ensure_ascii=False
        )
    }
    if results:
        scope[f"{prefix}.outputs.result"] = json.dumps(
            results, separators=(",", ":"), ensure_ascii=False
        )
    for name, values in by_name.items():
        scope[f"{prefix}.outputs.parameters.{name}"] = _json_list(values)
    return scope


class Engine:
    """Runs one workflow spec; create one per run and call :meth:`run`."""

    def __init__(
        self,
        spec: Spec,
        parameters: Mapping[str, str],
        *,
        name: str,
        run_dir: Path,
        reporter: Reporter,
        max_parallel: int,
        sources: Sources | None = None,
        masker: Masker | None = None,
        cache: MemoCache | None = None,
    ) -> None:
        """Prepare a run; nothing starts before :meth:`run`.

        Args:
            spec: the workflow spec.
            parameters: the workflow parameter values.
            name: the run's name.
            run_dir: the run directory (absolute).
            reporter: told about every change.
            max_parallel: most processes at once.
            sources: where Secret and ConfigMap values come from (default: the environment
                and ``.env``).
            masker: the secret values to mask (the pre-run checks have filled it).
            cache: the memoization cache (default: ``.flowdsl/cache``).
        """
        self.spec = spec
        self.parameters = dict(parameters)
        self.name = name
        self.run_dir = run_dir
        self.reporter = reporter
        workflow_limit = spec.spec.get("parallelism")
        self.pod_limit = max(1, max_parallel)
        if workflow_limit is not None:
            self.pod_limit = min(self.pod_limit, max(1, parse_int(workflow_limit)))
        self.events: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self.timers: list[tuple[float, int, Callable[[], None]]] = []
        self.timer_ids = itertools.count()
        self.nodes: list[_Node] = []
        self.node_count = itertools.count()
        self.pod_queue: deque[tuple[_Node, ProcessHandle, Callable[[Outcome], None]]] = deque()
        self.running: set[ProcessHandle] = set()
        from flowdsl.local.forkserver import ForkServer, enabled

        self.forkserver = ForkServer() if enabled() else None
        self.pool = ThreadPoolExecutor(
            max_workers=self.pod_limit, thread_name_prefix="flowdsl-node"
        )
        self.finished = False
        self.entry_finished = False
        self.stopping = False
        self.workflow_halt: str | None = None
        self.started_at = _now()
        self.global_scope = self._global_scope()
        self.sources = sources if sources is not None else Sources()
        self.masker = masker if masker is not None else Masker()
        self.cache = cache if cache is not None else MemoCache(Path(".flowdsl/cache"))
        # Workflow-level volumes see the global scope (a claim named after a parameter).
        self.workflow_volumes: list[dict[str, Any]] = substitute_deep(
            list(spec.spec.get("volumes") or []), self.global_scope
        )
        self.claims = claim_names(spec.spec)
        self.private_dirs: set[Path] = set()
        #: Every artifact stored in this run (as text): what a ``from`` may resolve to.
        self.stored_artifacts: set[str] = set()
        self.notes: list[str] = []
        self.status = "Succeeded"
        self.message = ""

    # ---------------------------------------------------------------- plumbing

    def _global_scope(self) -> dict[str, str]:
        created = self.started_at
        scope = {
            "workflow.name": self.name,
            "workflow.namespace": "default",
            "workflow.uid": str(uuid.uuid4()),
            "workflow.mainEntrypoint": self.spec.entrypoint,
            "workflow.serviceAccountName": str(
                self.spec.spec.get("serviceAccountName") or "default"
            ),
            "workflow.creationTimestamp": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "workflow.parameters": json.dumps(
                [{"name": k, "value": v} for k, v in self.parameters.items()],
                separators=(",", ":"),
            ),
            "workflow.priority": str(self.spec.spec.get("priority") or 0),
        }
        # Argo sets {{workflow.scheduledTime}} from the annotation its cron controller puts
        # on each run; a CronWorkflow run here is scheduled "now" (or by `run --at`).
        scheduled = self.spec.annotations.get(SCHEDULED_TIME_ANNOTATION)
        if scheduled is None and self.spec.kind == "CronWorkflow":
            scheduled = scope["workflow.creationTimestamp"]
        if scheduled is not None:
            scope["workflow.scheduledTime"] = str(scheduled)
        for key in _STRFTIME_KEYS:
            scope[f"workflow.creationTimestamp.{key}"] = created.strftime(f"%{key}")
        scope["workflow.creationTimestamp.s"] = str(int(created.timestamp()))
        for name, value in self.parameters.items():
            scope[f"workflow.parameters.{name}"] = value
        for name, value in self.spec.labels.items():
            scope[f"workflow.labels.{name}"] = str(value)
        for name, value in self.spec.annotations.items():
            scope[f"workflow.annotations.{name}"] = str(value)
        return scope

    def arguments(self) -> dict[str, Any]:
        """The workflow's arguments as the run resolved them (what the entrypoint receives)."""
        arguments: dict[str, Any] = {
            "parameters": [{"name": k, "value": v} for k, v in self.parameters.items()]
        }
        artifacts = (self.spec.spec.get("arguments") or {}).get("artifacts")
        if artifacts:
            arguments["artifacts"] = substitute_deep(list(artifacts), self.global_scope)
        return arguments

    def post(self, callback: Callable[[], None]) -> None:
        """Queue a callback for the scheduler thread (any thread may call this)."""
        self.events.put(callback)

    def at(self, delay: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the scheduler thread after ``delay`` seconds."""
        heapq.heappush(
            self.timers, (time.monotonic() + max(0.0, delay), next(self.timer_ids), callback)
        )

    def new_node(
        self,
        name: str,
        display_name: str,
        node_type: str,
        template: str | None,
        parent: _Node | None,
    ) -> _Node:
        """Create a node (and its id, ``NNNN-slug``) under ``parent``."""
        index = next(self.node_count)
        node_id = f"{index:04d}-{_slug(display_name)}"
        node = _Node(
            node_id,
            name,
            display_name=display_name,
            node_type=node_type,
            template=template,
            parent=parent,
            # Only nodes that run a process get a directory (their attempts live there).
            directory=self.run_dir / "nodes" / node_id if node_type == "Pod" else None,
        )
        if parent is not None:
            parent.children.append(node)
        self.nodes.append(node)
        return node

    def report(self, node: _Node) -> None:
        """Tell the reporter about the node's current state."""
        group = (node.group_done, node.group_total) if node.type == "TaskGroup" else None
        self.reporter.node(self.record(node), group)

    def record(self, node: _Node) -> NodeRecord:
        """The node's record as the run keeps it: secret values masked."""
        return _masked(node.snapshot(), self.masker)

    def set_running(self, node: _Node) -> None:
        """Mark a node running (and started, the first time)."""
        if node.started_at is None:
            node.started_at = _now()
        node.phase = "Running"
        self.report(node)

    def finish(self, node: _Node, phase: str, message: str = "") -> None:
        """Fulfil a node and tell whoever waits for it (later, through the queue)."""
        if node.fulfilled:
            return
        memo = node.memoization
        if phase == "Succeeded" and memo is not None and not memo.hit:
            # Argo saves a memoized node's outputs when it succeeds, never when it fails.
            try:
                self.cache.save(
                    memo,
                    node.id,
                    CachedOutputs(
                        dict(node.outputs), node.result, node.exit_code, dict(node.artifacts)
                    ),
                )
            except CacheError as exc:
                phase, message = "Error", str(exc)
        node.phase = phase
        if message:
            node.message = message
        node.finished_at = _now()
        if node.started_at is None:
            node.started_at = node.finished_at
        rec.write_node(self.record(node))
        self.report(node)
        listeners, node.listeners = node.listeners, []
        if self.stopping:
            return  # Ctrl-C: record what ended, start nothing new
        for listener in listeners:
            self.post(lambda listener=listener: listener(node))  # type: ignore[misc]

    def skipped(self, name: str, display: str, parent: _Node, phase: str, message: str) -> _Node:
        """A node that does not run: Skipped, Omitted, or Error before it could start."""
        node = self.new_node(name, display, "Skipped", None, parent)
        self.finish(node, phase, message)
        return node

    # ---------------------------------------------------------------- templates

    def template(self, ref: Any) -> tuple[str | None, Mapping[str, Any]]:
        """The template a call names (by name), or an inline one (name ``None``)."""
        if isinstance(ref, Mapping):
            return None, ref
        return str(ref), self.spec.templates[str(ref)]

    def execute(
        self,
        *,
        name: str,
        display: str,
        call: Mapping[str, Any],
        parent: _Node | None,
        on_done: Callable[[_Node], None],
        exit_handler: bool = False,
        extra_scope: Mapping[str, str] | None = None,
    ) -> _Node:
        """Run the template a task or step names, with the call's arguments.

        ``extra_scope`` adds names to the template's substitution scope (an exit handler's
        ``tasks.X.status``).
        """
        ref = call.get("inline") if call.get("inline") is not None else call.get("template")
        template_name, template = self.template(ref)
        kind = template_kind(template) or "container"
        node_type = {"dag": "DAG", "steps": "Steps"}.get(kind, "Pod")
        node = self.new_node(name, display, node_type, template_name or f"{display}-inline", parent)
        node.in_exit_handler = node.in_exit_handler or exit_handler
        node.listeners.append(on_done)
        args = {
            str(p.get("name")): value_text(p.get("value"))
            for p in (call.get("arguments") or {}).get("parameters") or []
            if p.get("value") is not None
        }
        artifact_args = {
            str(a.get("name")): a for a in (call.get("arguments") or {}).get("artifacts") or []
        }
        try:
            processed = self.process_args(node, template, args, extra_scope, artifact_args)
        except _NodeError as exc:
            self.finish(node, "Error", str(exc))
            return node
        if processed.get("memoize") and self.from_cache(node, processed):
            return node
        if kind in LEAF_KINDS:
            _Leaf(self, node, processed, kind).start()
        elif kind == "dag":
            _Dag(self, node, processed).start()
        else:
            _Steps(self, node, processed).start()
        return node

    def process_args(
        self,
        node: _Node,
        template: Mapping[str, Any],
        args: Mapping[str, str],
        extra_scope: Mapping[str, str] | None = None,
        artifact_args: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Resolve the inputs and substitute globals and inputs through the template.

        Input artifacts are resolved to stored artifacts (``raw`` data is stored first) and
        recorded in ``node.input_artifacts``; the template sees ``inputs.artifacts.X`` (the
        stored path, for a DAG or steps template to hand on) and ``inputs.artifacts.X.path``
        / ``outputs.artifacts.X.path`` (the declared paths).
        """
        inputs: dict[str, str] = {}
        for param in (template.get("inputs") or {}).get("parameters") or []:
            pname = str(param.get("name"))
            if pname in args:
                value: str | None = args[pname]
            elif param.get("value") is not None:
                value = value_text(param["value"])
            elif param.get("default") is not None:
                value = value_text(param["default"])
            else:
                value = None
            if value is None:
                raise _NodeError(f"inputs.parameters.{pname} was not supplied")
            # Input values may refer to globals (a default of {{workflow.parameters.x}}).
            # An input's enum is not checked: Argo checks enums only of workflow arguments.
            inputs[pname] = substitute(value, self.global_scope)
        node.inputs = inputs
        scope = dict(self.global_scope)
        scope.update(extra_scope or {})
        for pname, value in inputs.items():
            scope[f"inputs.parameters.{pname}"] = value
        scope["inputs.parameters"] = json.dumps(
            [{"name": k, "value": v} for k, v in inputs.items()], separators=(",", ":")
        )
        scope["node.name"] = node.name
        self.resolve_input_artifacts(node, template, artifact_args or {}, scope)
        for name, path in node.input_artifacts.items():
            scope[f"inputs.artifacts.{name}"] = str(path)
        for side in ("inputs", "outputs"):
            for artifact in (template.get(side) or {}).get("artifacts") or []:
                if artifact.get("path"):
                    scope[f"{side}.artifacts.{artifact.get('name')}.path"] = substitute(
                        str(artifact["path"]), scope
                    )
        processed: dict[str, Any] = substitute_deep(dict(template), scope)
        return processed

    def resolve_input_artifacts(
        self,
        node: _Node,
        template: Mapping[str, Any],
        given: Mapping[str, Mapping[str, Any]],
        scope: Mapping[str, str],
    ) -> None:
        """Resolve a template's input artifacts into ``node.input_artifacts`` (Argo's order).

        Raises:
            _NodeError: an argument does not resolve (``Unable to resolve``), names no
                artifact, or a required input has no source (``was not supplied``).
        """
        for artifact in (template.get("inputs") or {}).get("artifacts") or []:
            name = str(artifact.get("name"))
            argument = given.get(name)
            source = None if argument is None else self.artifact_source(node, name, argument)
            if source is None and (artifact.get("raw") or {}).get("data") is not None:
                raw = substitute(str(artifact["raw"]["data"]), scope)
                source = self.store_raw(node, name, raw)
            if source is None:
                if artifact.get("optional"):
                    continue
                raise _NodeError(f"inputs.artifacts.{name} was not supplied")
            sub_path = str((argument or {}).get("subPath") or artifact.get("subPath") or "")
            if sub_path:
                source = source.joinpath(*PurePosixPath(sub_path).parts)
                if not source.exists():
                    raise _NodeError(
                        f"inputs.artifacts.{name}: subPath {sub_path!r} does not exist in the "
                        "artifact"
                    )
            node.input_artifacts[name] = source

    def artifact_source(self, node: _Node, name: str, argument: Mapping[str, Any]) -> Path | None:
        """The stored artifact an argument gives, ``None`` for none (an optional one)."""
        if (argument.get("raw") or {}).get("data") is not None:
            return self.store_raw(node, name, str(argument["raw"]["data"]))
        text = argument.get("from")
        if text is None:
            return None
        text = str(text)
        if text in self.stored_artifacts:
            return Path(text)
        if TAG.search(text):
            if argument.get("optional"):
                return None
            raise _NodeError(
                f"inputs.artifacts.{name}: Unable to resolve: {text} (no such artifact: the "
                "task or step did not succeed, did not run, or did not write this optional "
                "artifact)"
            )
        raise _NodeError(
            f"inputs.artifacts.{name}: from {text!r} is not an artifact of this run (expected "
            "a reference such as {{tasks.X.outputs.artifacts.NAME}})"
        )

    def store_raw(self, node: _Node, name: str, data: str) -> Path:
        """Store ``raw.data`` of an input artifact as an artifact of the run."""
        path = self.run_dir / "artifacts" / "raw" / node.id / name
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(data, encoding="utf-8")
        except OSError as exc:
            raise _NodeError(f"inputs.artifacts.{name}: cannot store its raw data: {exc}") from None
        self.stored_artifacts.add(str(path))
        return path

    def keep_artifacts(self, node: _Node, template: Mapping[str, Any]) -> None:
        """Make a node's stored output artifacts referable (and global, with ``globalName``)."""
        for path in node.artifacts.values():
            self.stored_artifacts.add(str(path))
        for artifact in (template.get("outputs") or {}).get("artifacts") or []:
            name = str(artifact.get("name"))
            if artifact.get("globalName") and name in node.artifacts:
                key = f"workflow.outputs.artifacts.{artifact['globalName']}"
                self.global_scope[key] = str(node.artifacts[name])

    def from_cache(self, node: _Node, template: Mapping[str, Any]) -> bool:
        """Look a memoized node up; on a hit (or a cache error) finish it and say so."""
        try:
            status, cached = self.cache.lookup(template["memoize"])
        except CacheError as exc:
            self.finish(node, "Error", str(exc))
            return True
        node.memoization = status
        if cached is None:
            return False
        declared = (template.get("outputs") or {}).get("artifacts") or []
        if any(
            not a.get("optional") and str(a.get("name")) not in cached.artifacts for a in declared
        ):
            # An entry without the artifacts the template now makes: a miss, run it.
            node.memoization = dataclasses.replace(status, hit=False)
            return False
        node.outputs = dict(cached.parameters)
        node.result = cached.result
        node.exit_code = cached.exit_code
        for name, path in cached.artifacts.items():
            # A copy in the run directory: the run stays whole if the cache is cleared.
            target = self.run_dir / "artifacts" / node.id / name
            try:
                copy_artifact(path, target)
            except OSError as exc:
                self.finish(node, "Error", f"cannot copy artifact '{name}' from the cache: {exc}")
                return True
            node.artifacts[name] = target
        self.keep_artifacts(node, template)
        for param in (template.get("outputs") or {}).get("parameters") or []:
            if str(param.get("name")) in node.outputs:
                self.export_global(param, node.outputs[str(param.get("name"))])
        self.finish(node, "Succeeded")
        return True

    def volumes_for(
        self, template: Mapping[str, Any], kind: str, attempt_dir: Path
    ) -> AttemptVolumes:
        """Create the directories of one attempt's volumes (see :mod:`flowdsl.local.volumes`)."""
        volumes = attempt_volumes(
            template,
            kind,
            workflow_volumes=self.workflow_volumes,
            claims=self.claims,
            run_dir=self.run_dir,
            attempt_dir=attempt_dir,
            sources=self.sources,
            masker=self.masker,
        )
        self.private_dirs.update(volumes.private)
        return volumes

    def release_private(self, directories: tuple[Path, ...]) -> None:
        """Delete an attempt's secret directories."""
        remove_private(directories)
        self.private_dirs.difference_update(directories)

    def then_exit_handler(
        self, call: Mapping[str, Any], prefix: str, done: Callable[[_Node], None]
    ) -> Callable[[_Node], None]:
        """Wrap ``done`` so a task's or step's own ``onExit`` runs first (dependents wait).

        The exit handler's own phase does not change the task's (a simplification of Argo,
        where it also counts in the DAG's branch).
        """
        on_exit = call.get("onExit")
        if not on_exit:
            return done

        def finished(node: _Node) -> None:
            if node.phase not in COMPLETED:
                done(node)
                return
            self.execute(
                name=f"{node.name}.onExit",
                display=f"{node.display_name}.onExit",
                call={"template": on_exit, "arguments": self.arguments()},
                parent=node.parent,
                on_done=lambda _exit: done(node),
                extra_scope={f"{prefix}.status": node.phase},
            )

        return finished

    def template_outputs(
        self, node: _Node, template: Mapping[str, Any], scope: Mapping[str, str]
    ) -> None:
        """Fill a DAG/steps node's outputs from its tasks' scope (getTemplateOutputsFromScope)."""
        full = {**self.global_scope, **scope}
        for param in (template.get("outputs") or {}).get("parameters") or []:
            pname = str(param.get("name"))
            source = param.get("valueFrom") or {}
            default = source.get("default")
            if source.get("parameter") is not None or source.get("expression") is not None:
                text = str(source.get("parameter") or "")
                if source.get("expression") is not None:
                    text = "{{=" + str(source["expression"]) + "}}"
                value = substitute(text, full)
                if TAG.search(value):
                    if default is None:
                        raise _NodeError(f"Unable to resolve: {text}")
                    value = value_text(default)
            elif param.get("value") is not None:
                value = substitute(value_text(param["value"]), full)
            else:
                continue
            node.outputs[pname] = value
            self.export_global(param, value)
        for artifact in (template.get("outputs") or {}).get("artifacts") or []:
            if artifact.get("from") is None:
                continue
            text = str(artifact["from"])
            value = substitute(text, full)
            if value in self.stored_artifacts:
                node.artifacts[str(artifact.get("name"))] = Path(value)
            elif artifact.get("optional"):
                continue
            elif TAG.search(value):
                raise _NodeError(
                    f"outputs.artifacts.{artifact.get('name')}: Unable to resolve: {text}"
                )
            else:
                raise _NodeError(
                    f"outputs.artifacts.{artifact.get('name')}: from {value!r} is not an "
                    "artifact of this run"
                )
        self.keep_artifacts(node, template)

    def export_global(self, param: Mapping[str, Any], value: str) -> None:
        """Publish an output with ``globalName`` as ``workflow.outputs.parameters.X``."""
        if param.get("globalName"):
            self.global_scope[f"workflow.outputs.parameters.{param['globalName']}"] = value

    # ---------------------------------------------------------------- pods

    def request_pod(
        self, node: _Node, launch: Launch, on_outcome: Callable[[Outcome], None]
    ) -> None:
        """Queue one attempt of a leaf; it starts when a process slot is free."""
        self.pod_queue.append(
            (node, ProcessHandle(launch, owner=node, forkserver=self.forkserver), on_outcome)
        )
        self.dispatch()

    def dispatch(self) -> None:
        """Start queued processes while the parallelism limits allow."""
        while self.pod_queue and len(self.running) < self.pod_limit:
            node, handle, on_outcome = self.pod_queue.popleft()
            halt = self.leaf_halt(node)
            if halt is not None:
                now = _now()
                outcome = Outcome(started_at=now, finished_at=now, stopped=True)
                self.post(lambda o=outcome, cb=on_outcome: cb(o))  # type: ignore[misc]
                continue
            self.running.add(handle)
            self.set_running(node)
            self.pool.submit(self._work, handle, on_outcome)

    def _work(self, handle: ProcessHandle, on_outcome: Callable[[Outcome], None]) -> None:
        try:
            outcome = handle.run()
        except Exception as exc:  # a worker must always answer, or the run would hang
            now = _now()
            outcome = Outcome(
                started_at=now, finished_at=now, spawn_error=f"internal error: {exc!r}"
            )

        def done() -> None:
            self.running.discard(handle)
            on_outcome(outcome)
            self.dispatch()

        self.post(done)

    def leaf_halt(self, node: _Node) -> str | None:
        """Why a leaf of ``node`` must not run any more, if it must not."""
        if self.stopping:
            return "stopped"
        if self.workflow_halt is not None and not node.in_exit_handler:
            return self.workflow_halt
        return None

    def stop_all(self) -> None:
        """Stop every running process except the exit handler's (the workflow deadline)."""
        for handle in list(self.running):
            owner: _Node | None = handle.owner
            if owner is None or not owner.in_exit_handler:
                handle.stop()

    # ---------------------------------------------------------------- the run

    def run(self) -> LocalRun:
        """Run the entrypoint (then the exit handler) and return the finished record."""
        rec.write_run_start(self.run_dir, self.name, self.parameters, self.started_at)
        self.reporter.start(self.name, self.run_dir, self.notes)
        deadline = self.spec.spec.get("activeDeadlineSeconds")
        if deadline is not None:
            seconds = parse_int(deadline)
            self.at(seconds, lambda: self._workflow_deadline(seconds))

        def entry_done(node: _Node) -> None:
            self.entry_finished = True
            self.status = node.phase if node.phase in FAILED_OR_ERROR else "Succeeded"
            self.message = self.message or node.message
            if self.workflow_halt is not None:
                self.status = "Failed"
                self.message = self.workflow_halt
            on_exit = self.spec.spec.get("onExit")
            if on_exit and not self.stopping:
                self._run_exit_handler(str(on_exit))
            else:
                self.finished = True

        root = self.execute(
            name=self.name,
            display=self.name,
            call={
                "template": self.spec.entrypoint,
                "arguments": self.arguments(),
            },
            parent=None,
            on_done=entry_done,
        )
        previous = _on_sigterm_raise()
        try:
            self._loop()
        except KeyboardInterrupt as exc:
            self._stop("stopped by SIGTERM" if isinstance(exc, _Terminated) else None)
        except BaseException:
            # A bug in the engine must not leave processes running behind it.
            self.stopping = True
            for handle in list(self.running):
                handle.stop()
            raise
        finally:
            self.pool.shutdown(wait=True)
            if self.forkserver is not None:
                self.forkserver.close()
            _restore_sigterm(previous)
            # Whatever an interrupted attempt left: secrets never outlive the run.
            remove_private(tuple(self.private_dirs))
        return self._result(root)

    def _run_exit_handler(self, template: str) -> None:
        self.global_scope["workflow.status"] = self.status
        self.global_scope["workflow.duration"] = f"{(_now() - self.started_at).total_seconds():.6f}"
        failures = [
            {
                "displayName": n.display_name,
                "message": n.message,
                "templateName": n.template or "",
                "phase": n.phase,
                "podName": n.name,
                "finishedAt": n.finished_at.strftime("%Y-%m-%dT%H:%M:%SZ") if n.finished_at else "",
            }
            for n in self.nodes
            if n.phase in FAILED_OR_ERROR and n.type == "Pod"
        ]
        self.global_scope["workflow.failures"] = json.dumps(failures, separators=(",", ":"))

        def exit_done(node: _Node) -> None:
            if self.status == "Succeeded" and node.phase in FAILED_OR_ERROR:
                self.status = node.phase
                self.message = node.message or f"exit handler {node.phase.lower()}"
            self.finished = True

        self.execute(
            name=f"{self.name}.onExit",
            display="onExit",
            call={"template": template, "arguments": self.arguments()},
            parent=None,
            on_done=exit_done,
            exit_handler=True,
        )

    def _workflow_deadline(self, seconds: int) -> None:
        # Past the entrypoint only the exit handler runs, and a deadline does not stop it.
        if self.entry_finished or self.workflow_halt is not None:
            return
        self.workflow_halt = (
            f"Step exceeded its deadline (the workflow's activeDeadlineSeconds: {seconds})"
        )
        self.stop_all()

    def _loop(self) -> None:
        while not self.finished:
            if self.events.empty() and not self.timers and not self.running and not self.pod_queue:
                # Nothing is running and nothing can wake us: a bug, not a wait.
                self.status = "Error"
                self.message = "the local engine stalled (a flowdsl bug; please report it)"
                self._mark_unfinished("the local engine stalled")
                return
            timeout: float | None = None
            if self.timers:
                timeout = max(0.0, self.timers[0][0] - time.monotonic())
            try:
                callback: Callable[[], None] | None = (
                    self.events.get_nowait() if timeout == 0.0 else self.events.get(timeout=timeout)
                )
            except queue.Empty:
                callback = None
            if callback is not None:
                callback()
            now = time.monotonic()
            while self.timers and self.timers[0][0] <= now:
                _, _, fire = heapq.heappop(self.timers)
                fire()

    def _mark_unfinished(self, message: str) -> None:
        for node in self.nodes:
            if not node.fulfilled:
                node.phase = "Failed" if message == "stopped" else "Error"
                node.message = node.message or message
                node.finished_at = node.finished_at or _now()
                rec.write_node(self.record(node))

    def _stop(self, reason: str | None = None) -> None:
        """Ctrl-C (or SIGTERM): stop every process, wait for the workers, record Stopped."""
        reason = reason or "stopped by the user (Ctrl-C)"
        self.stopping = True
        self.status = "Stopped"
        self.message = reason
        while True:
            try:
                for handle in list(self.running):
                    handle.stop()
                self.pool.shutdown(wait=True)
                break
            except KeyboardInterrupt:  # a second Ctrl-C while stopping: keep stopping
                continue
        while True:
            try:
                callback = self.events.get_nowait()
            except queue.Empty:
                break
            with contextlib.suppress(Exception):
                callback()
        self._mark_unfinished("stopped")
        self.status = "Stopped"
        self.message = reason

    def _result(self, root: _Node) -> LocalRun:
        finished = _now()
        mask = self.masker.mask
        run = LocalRun(
            name=self.name,
            status=self.status,  # type: ignore[arg-type]
            message=mask(self.message) if self.status != "Succeeded" else "",
            parameters=dict(self.parameters),
            outputs={k: mask(v) for k, v in root.outputs.items()},
            nodes=tuple(self.record(node) for node in self.nodes),
            run_dir=self.run_dir,
            started_at=self.started_at,
            finished_at=finished,
            artifacts=dict(root.artifacts),
        )
        rec.write_run(run)
        self.reporter.finish(run)
        return run


# -------------------------------------------------------------------------------- leaves


class _Retry:
    """A leaf's retryStrategy, parsed once."""

    def __init__(self, strategy: Mapping[str, Any] | None) -> None:
        strategy = strategy or {}
        self.enabled = bool(strategy)
        limit = strategy.get("limit")
        self.limit = None if limit is None else parse_int(limit)
        # Argo's RetryPolicyActual: with an expression and no policy, the expression decides.
        default = "Always" if strategy.get("expression") else "OnFailure"
        self.policy = str(strategy.get("retryPolicy") or default)
        if self.policy not in ("Always", "OnFailure", "OnError", "OnTransientError"):
            raise _NodeError(
                f"retryStrategy.retryPolicy {self.policy!r} is not one of: Always, OnFailure, "
                "OnError, OnTransientError"
            )
        backoff = strategy.get("backoff") or {}
        self.backoff = bool(backoff)
        self.has_duration = bool(backoff.get("duration"))
        self.duration = parse_duration(backoff["duration"]) if backoff.get("duration") else 0.0
        self.factor = parse_number(backoff["factor"]) if backoff.get("factor") is not None else None
        self.cap = parse_duration(backoff["cap"]) if backoff.get("cap") else None
        self.max_duration = (
            parse_duration(backoff["maxDuration"]) if backoff.get("maxDuration") else None
        )
        self.expression = strategy.get("expression")

    def delay(self, attempts: int) -> float:
        wait = self.duration
        if self.factor is not None and self.factor > 0:
            wait = self.duration * self.factor ** (attempts - 1)
        if self.cap is not None:
            wait = min(wait, self.cap)
        return wait


class _Leaf:
    """A container or script node: attempts, retries, outputs."""

    def __init__(self, engine: Engine, node: _Node, template: dict[str, Any], kind: str) -> None:
        self.engine = engine
        self.node = node
        self.template = template
        self.kind = kind
        self.first_started: float | None = None
        self.last_retry: dict[str, str] = {}
        #: Per attempt: which limit its deadline is (for the timeout message).
        self.limits: dict[int, str] = {}
        #: Per attempt: its secret directories, deleted when it ends.
        self.private: dict[int, tuple[Path, ...]] = {}

    def start(self) -> None:
        try:
            strategy = self.template.get("retryStrategy") or self.engine.spec.spec.get(
                "retryStrategy"
            )
            self.retry = _Retry(strategy)
            self.deadline = self._deadline()
        except (ValueError, _NodeError) as exc:
            self.engine.finish(self.node, "Error", str(exc))
            return
        self.attempt(0)

    def _deadline(self) -> float | None:
        limits = []
        if self.template.get("activeDeadlineSeconds") is not None:
            limits.append(float(parse_int(self.template["activeDeadlineSeconds"])))
        if self.template.get("timeout"):
            limits.append(parse_duration(self.template["timeout"]))
        return min(limits) if limits else None

    def attempt(self, number: int) -> None:
        node = self.node
        attempt_scope = {
            **self.last_retry,
            "retries": str(number),
            "pod.name": node.name,
            "node.name": node.name,
        }
        template = substitute_deep(self.template, attempt_scope)
        engine = self.engine
        directory = node.directory or engine.run_dir / "nodes" / node.id
        attempt_dir = directory / f"attempt-{number}"
        deadline = self.deadline
        self.limits[number] = f"activeDeadlineSeconds/timeout: {_seconds(self.deadline)}"
        retry = self.retry
        if number > 0 and retry.max_duration is not None and self.first_started is not None:
            # Argo's execution deadline: a retry may not run past maxDuration.
            left = max(0.0, self.first_started + retry.max_duration - time.monotonic())
            if deadline is None or left < deadline:
                deadline = left
                self.limits[number] = (
                    f"retryStrategy.backoff.maxDuration: {_seconds(retry.max_duration)}"
                )
        try:
            volumes = engine.volumes_for(template, self.kind, attempt_dir)
            self.private[number] = volumes.private
            env_from, value_from, _ = container_env(
                template[self.kind], engine.sources, engine.masker
            )
            launch = prepare(
                self.kind,
                template,
                attempt_dir,
                extra_env={
                    "ARGO_NODE_ID": node.id,
                    "ARGO_POD_NAME": node.name,
                    "ARGO_TEMPLATE_NAME": node.template or "",
                    "ARGO_RETRIES": str(number),
                    "ARGO_PROGRESS_FILE": str(attempt_dir / "progress"),
                },
                deadline=deadline,
                mounts=volumes.mounts,
                env_from=env_from,
                value_from=value_from,
                masker=engine.masker,
                artifact_sources=node.input_artifacts,
                artifact_store=engine.run_dir / "artifacts" / node.id,
            )
        except (MissingValue, ValueError) as exc:
            # A Secret named only now that has no value, or a volume that cannot be made.
            self._release(number)
            engine.finish(node, "Error", str(exc))
            return
        except OSError as exc:
            self._release(number)
            engine.finish(node, "Error", f"cannot prepare the command: {exc}")
            return
        engine.request_pod(node, launch, lambda outcome: self.done(number, launch, outcome))

    def _release(self, number: int) -> None:
        self.engine.release_private(self.private.pop(number, ()))

    def done(self, number: int, launch: Launch, outcome: Outcome) -> None:
        node = self.node
        engine = self.engine
        self._release(number)
        if self.first_started is None:
            self.first_started = (
                time.monotonic() - (outcome.finished_at - outcome.started_at).total_seconds()
            )
        halt = engine.leaf_halt(node)
        if outcome.spawn_error:
            phase, message = "Error", outcome.spawn_error
        elif outcome.stopped:
            phase, message = "Failed", halt or "stopped"
        elif outcome.timed_out:
            phase = "Failed"
            message = f"Step exceeded its deadline ({self.limits.get(number, '')})"
        elif outcome.exit_code:
            phase, message = "Failed", f"Error (exit code {_exit_code(outcome.exit_code)})"
        elif outcome.missing:
            phase = "Error"
            missing = outcome.missing[0]
            spec = next(s for s in launch.outputs if s.name == missing)
            message = (
                f"output parameter '{missing}': the command wrote no file at {spec.declared} "
                f"(locally {spec.path})"
            )
        elif outcome.artifact_error:
            phase, message = "Error", outcome.artifact_error
        elif outcome.missing_artifacts:
            # Argo's wait container fails the same way ("failed to save outputs: ...").
            phase = "Error"
            name = outcome.missing_artifacts[0]
            art = next(a for a in launch.artifacts_out if a.name == name)
            message = (
                f"failed to save outputs: node '{node.name}': output artifact '{name}': the "
                f"command wrote no file or directory at {art.declared} (locally {art.path})"
            )
        else:
            phase, message = "Succeeded", ""
        node.attempts.append(
            Attempt(
                number=number,
                phase=phase,
                exit_code=None if outcome.exit_code is None else _exit_code(outcome.exit_code),
                message=message,
                started_at=outcome.started_at,
                finished_at=outcome.finished_at,
                stdout=launch.stdout,
                stderr=launch.stderr,
            )
        )
        node.exit_code = None if outcome.exit_code is None else _exit_code(outcome.exit_code)
        if phase != "Succeeded" and halt is None and not engine.stopping:
            # Argo's lastRetry.* (text, as everything in a scope): for the expression and
            # for the next attempt's substitution.
            took = (outcome.finished_at - outcome.started_at).total_seconds()
            self.last_retry = {
                "retries": str(number),
                "lastRetry.exitCode": "-1" if node.exit_code is None else str(node.exit_code),
                "lastRetry.status": phase,
                "lastRetry.duration": f"{took:g}",
                "lastRetry.message": message,
            }
            try:
                retry, why = self._should_retry(phase, number + 1, message)
            except _NodeError as exc:
                # Argo errors the node when its retryStrategy cannot be applied.
                retry, why, phase, message = False, "", "Error", str(exc)
            if retry:
                # Waiting for the backoff: Pending until the next attempt starts.
                node.message = message
                node.phase = "Pending"
                engine.report(node)
                delay = self.retry.delay(number + 1)
                engine.at(delay, lambda: self.attempt(number + 1))
                return
            if why:
                message = f"{message} ({why})" if message else why
        if phase == "Succeeded":
            node.message = ""
            node.result = outcome.result
            for param in (self.template.get("outputs") or {}).get("parameters") or []:
                pname = str(param.get("name"))
                if pname in outcome.outputs:
                    value = outcome.outputs[pname]
                elif param.get("value") is not None:
                    value = value_text(param["value"])
                else:
                    continue
                node.outputs[pname] = value
                engine.export_global(param, value)
            node.artifacts = dict(outcome.artifacts)
            engine.keep_artifacts(node, self.template)
        engine.finish(node, phase, message)

    def _should_retry(self, phase: str, attempts: int, message: str) -> tuple[bool, str]:
        """Whether to retry after ``attempts`` attempts, and if not, why (Argo's order).

        Raises:
            _NodeError: a backoff without a duration (Argo errors the node).
        """
        retry = self.retry
        if not retry.enabled:
            return False, ""
        if retry.backoff:
            elapsed: float | None = None
            if retry.max_duration is not None and self.first_started is not None:
                elapsed = time.monotonic() - self.first_started
                if elapsed > retry.max_duration:
                    return False, "Max duration limit exceeded"
            if not retry.has_duration:
                raise _NodeError("no base duration specified for retryStrategy")
            if (
                elapsed is not None
                and retry.max_duration is not None
                and elapsed + retry.delay(attempts) > retry.max_duration
            ):
                return False, "Backoff would exceed max duration limit"
        if retry.policy == "OnTransientError":
            allowed = phase in FAILED_OR_ERROR and _transient(message)
        else:
            allowed = phase in _RETRIED[retry.policy]
        if not allowed:
            return False, ""
        if retry.limit is not None and attempts > retry.limit:
            return False, "No more retries left" if retry.limit else ""
        if retry.expression:
            from flowdsl.local import exprlang

            scope = {**self.engine.global_scope, **self.last_retry}
            for name, value in self.node.inputs.items():
                scope[f"inputs.parameters.{name}"] = value
            env = nested_env(scope)
            try:
                keep_going = exprlang.evaluate(str(retry.expression), env)
            except exprlang.ExprError as exc:
                return False, f"retryStrategy.expression failed: {exc}"
            if keep_going is not True:
                return False, "retryStrategy.expression evaluated to false"
        return True, ""


#: The phases each retryPolicy retries (OnTransientError: see _transient).
_RETRIED: dict[str, frozenset[str]] = {
    "Always": FAILED_OR_ERROR,
    "OnFailure": frozenset({"Failed"}),
    "OnError": frozenset({"Error"}),
}


def _transient(message: str) -> bool:
    """Whether Argo would call a failure transient: TRANSIENT_ERROR_PATTERN matches it.

    Argo also treats some Kubernetes and network errors as transient; a local attempt never
    fails with those, so only the pattern (read when the failure happens) counts here.
    """
    pattern = os.environ.get("TRANSIENT_ERROR_PATTERN", "")
    if not pattern:
        return False
    try:
        return re.search(pattern, message) is not None
    except re.error:
        return False  # Go's regexp.MatchString error is ignored the same way


def _exit_code(code: int) -> int:
    # A process killed by a signal reports -N; a container reports 128+N.
    return 128 - code if code < 0 else code


def _seconds(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{value:g}s"


# -------------------------------------------------------------------------------- loops


def _expand(call: Mapping[str, Any]) -> list[Any] | None:
    """The items of a task's or step's loop, or ``None`` when it has none.

    Raises:
        _NodeError: ``withParam`` is not a JSON list, or ``withSequence`` is malformed.
    """
    if call.get("withItems") is not None:
        return list(call["withItems"])
    if call.get("withParam") is not None:
        raw = call["withParam"]
        if isinstance(raw, list):
            return raw
        text = str(raw)
        try:
            items = json.loads(text)
        except ValueError as exc:
            raise _NodeError(
                f"withParam value could not be parsed as a JSON list: {text.strip()}: {exc}"
            ) from None
        if not isinstance(items, list):
            raise _NodeError(
                f"withParam value could not be parsed as a JSON list: {text.strip()} "
                f"(got a JSON {type(items).__name__.replace('dict', 'object')})"
            )
        return items
    sequence = call.get("withSequence")
    if sequence is not None:
        try:
            start = parse_int(sequence.get("start", 0) or 0)
            if sequence.get("end") not in (None, ""):
                end = parse_int(sequence["end"])
            elif sequence.get("count") not in (None, ""):
                count = parse_int(sequence["count"])
                if count == 0:
                    return []
                end = start + count - 1
            else:
                raise _NodeError("withSequence has neither end nor count")
        except ValueError as exc:
            raise _NodeError(f"withSequence: {exc}") from None
        fmt = str(sequence.get("format") or "%d")
        step = 1 if start <= end else -1
        return [fmt % i for i in range(start, end + step, step)]
    return None


def _item_scope(item: Any) -> dict[str, str]:
    scope = {"item": item_text(item)}
    if isinstance(item, dict):
        for key, value in item.items():
            scope[f"item.{key}"] = item_text(value)
    return scope


class _Loop:
    """A looped task or step: a TaskGroup node with one child per item."""

    def __init__(
        self,
        engine: Engine,
        *,
        name: str,
        display: str,
        call: dict[str, Any],
        items: list[Any],
        parent: _Node,
        boundary: _Boundary,
        on_done: Callable[[_Node], None],
    ) -> None:
        self.engine = engine
        self.call = call
        self.items = items
        self.boundary = boundary
        self.group = engine.new_node(name, display, "TaskGroup", None, parent)
        self.group.listeners.append(on_done)
        self.group.group_total = len(items)
        self.pending = len(items)
        engine.set_running(self.group)

    def start(self) -> None:
        group = self.group
        for index, item in enumerate(self.items):
            label = item_label(index, item)
            expanded = substitute_deep(
                {
                    k: v
                    for k, v in self.call.items()
                    if k not in ("withItems", "withParam", "withSequence")
                },
                _item_scope(item),
            )
            child_name = f"{group.name}{label}"
            child_display = f"{group.display_name}{label}"
            when = expanded.get("when")
            try:
                run = evaluate_when(str(when)) if when else True
            except ExpressionError as exc:
                self.child_done(
                    self.engine.skipped(child_name, child_display, group, "Error", str(exc))
                )
                continue
            if not run:
                self.child_done(
                    self.engine.skipped(
                        child_name,
                        child_display,
                        group,
                        "Skipped",
                        f"when '{when}' evaluated false",
                    )
                )
                continue

            def launch(
                expanded: dict[str, Any] = expanded,
                child_name: str = child_name,
                child_display: str = child_display,
            ) -> None:
                self.engine.execute(
                    name=child_name,
                    display=child_display,
                    call=expanded,
                    parent=group,
                    on_done=self._released,
                )

            self.boundary.submit(launch)

    def _released(self, node: _Node) -> None:
        self.boundary.release()
        self.child_done(node)

    def child_done(self, node: _Node) -> None:
        self.pending -= 1
        self.group.group_done += 1
        if self.pending > 0:
            self.engine.report(self.group)
            return
        phase = "Succeeded"
        message = ""
        for child in self.group.children:
            if child.phase in FAILED_OR_ERROR:
                phase = child.phase
                message = f"child '{child.display_name}' {child.phase.lower()}"
        # Argo keeps a loop's outputs only in its scope; the record gets them too, as the
        # JSON lists a later task would receive.
        prefix = "outputs.parameters."
        for key, value in _aggregate_scope("", self.group.children).items():
            if key.startswith(f".{prefix}"):
                self.group.outputs[key[len(prefix) + 1 :]] = value
            elif key == ".outputs.result":
                self.group.result = value
        self.engine.finish(self.group, phase, message)


def _task_results(node: _Node) -> TaskResults:
    any_succeeded = False
    all_failed = False
    if node.type == "TaskGroup":
        all_failed = bool(node.children)
        for child in node.children:
            any_succeeded = any_succeeded or child.phase == "Succeeded"
            all_failed = all_failed and child.phase == "Failed"
    return TaskResults(
        succeeded=node.phase == "Succeeded",
        failed=node.phase == "Failed",
        errored=node.phase == "Error",
        skipped=node.phase == "Skipped",
        omitted=node.phase == "Omitted",
        any_succeeded=any_succeeded,
        all_failed=all_failed,
    )


def _scope_of(prefix: str, node: _Node) -> dict[str, str]:
    scope = _node_scope(prefix, node)
    if node.type == "TaskGroup":
        scope.update(_aggregate_scope(prefix, node.children))
    return scope


def _template_limit(template: Mapping[str, Any]) -> int | None:
    value = template.get("parallelism")
    return None if value is None else max(1, parse_int(value))


# -------------------------------------------------------------------------------- DAG


class _Dag:
    """A DAG template's run."""

    def __init__(self, engine: Engine, node: _Node, template: dict[str, Any]) -> None:
        self.engine = engine
        self.node = node
        self.template = template
        dag = template.get("dag") or {}
        self.tasks: dict[str, dict[str, Any]] = {
            str(t.get("name")): t for t in dag.get("tasks") or []
        }
        continue_on = {name: task.get("continueOn") or {} for name, task in self.tasks.items()}
        self.depends: dict[str, DependsExpr | None] = {
            name: task_depends(task, continue_on) for name, task in self.tasks.items()
        }
        self.dependents: dict[str, list[str]] = {name: [] for name in self.tasks}
        for name, expr in self.depends.items():
            for dep in expr.tasks if expr else ():
                if name not in self.dependents[dep]:
                    self.dependents[dep].append(name)
        target = str(dag.get("target") or "").split()
        if target:
            self.targets = target
            self.needed = self._ancestry(target)
        else:
            self.targets = sorted(name for name, deps in self.dependents.items() if not deps)
            self.needed = set(self.tasks)
        self.fail_fast = dag.get("failFast", True) is not False
        self.task_nodes: dict[str, _Node] = {}
        self.fulfilled: set[str] = set()
        self.scheduled: set[str] = set()
        self.boundary = _Boundary(_template_limit(template))

    def _ancestry(self, targets: list[str]) -> set[str]:
        seen: set[str] = set()
        stack = [t for t in targets if t in self.tasks]
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            expr = self.depends[name]
            stack.extend(expr.tasks if expr else ())
        return seen

    def start(self) -> None:
        engine = self.engine
        engine.set_running(self.node)
        roots = [name for name in self.tasks if name in self.needed and not self.depends[name]]
        if not self.needed:
            self.complete()
            return
        for name in roots:
            self.schedule(name)

    def schedule(self, name: str) -> None:
        if name in self.scheduled:
            return
        self.scheduled.add(name)
        engine = self.engine
        task = self.tasks[name]
        node_name = f"{self.node.name}.{name}"

        def done(node: _Node) -> None:
            self.task_done(name, node)

        def skip(phase: str, message: str) -> None:
            # Posted, not called: a long chain of omitted tasks must not recurse.
            node = engine.skipped(node_name, name, self.node, phase, message)
            engine.post(lambda: done(node))

        expr = self.depends[name]
        if expr is not None:
            results = {dep: _task_results(self.task_nodes[dep]) for dep in expr.tasks}
            if not expr.evaluate(results):
                skip("Omitted", "omitted: depends condition not met")
                return
        scope = dict(engine.global_scope)
        for ref in referenced_names(task, "tasks"):
            ref_node = self.task_nodes.get(ref)
            if ref_node is not None and ref_node.fulfilled:
                scope.update(_scope_of(f"tasks.{ref}", ref_node))
        resolved: dict[str, Any] = substitute_deep(task, scope)
        when = resolved.get("when")
        try:
            items = _expand(resolved)
        except _NodeError as exc:
            # Argo forgives a bad withParam when the task would be skipped anyway.
            if when and "{{" not in str(when):
                with contextlib.suppress(ExpressionError):
                    if not evaluate_when(str(when)):
                        skip("Skipped", f"when '{when}' evaluated false")
                        return
            skip("Error", f"task '{node_name}': {exc}")
            return
        if items is None:
            try:
                run = evaluate_when(str(when)) if when else True
            except ExpressionError as exc:
                skip("Error", str(exc))
                return
            if not run:
                skip("Skipped", f"when '{when}' evaluated false")
                return

            after_exit = engine.then_exit_handler(resolved, f"tasks.{name}", done)

            def released(node: _Node) -> None:
                self.boundary.release()
                after_exit(node)

            def launch() -> None:
                self.task_nodes[name] = engine.execute(
                    name=node_name, display=name, call=resolved, parent=self.node, on_done=released
                )

            self.boundary.submit(launch)
            return
        if not items:
            skip("Skipped", "Skipped, empty params")
            return
        loop = _Loop(
            engine,
            name=node_name,
            display=name,
            call=resolved,
            items=items,
            parent=self.node,
            boundary=self.boundary,
            on_done=done,
        )
        self.task_nodes[name] = loop.group
        loop.start()

    def task_done(self, name: str, node: _Node) -> None:
        self.task_nodes[name] = node
        self.fulfilled.add(name)
        for dependent in self.dependents[name]:
            if dependent not in self.needed or dependent in self.scheduled:
                continue
            expr = self.depends[dependent]
            if expr is not None and all(dep in self.fulfilled for dep in expr.tasks):
                self.schedule(dependent)
        if len(self.fulfilled) == len(self.needed):
            self.complete()

    def _branch_phases(self) -> dict[str, tuple[str, str]]:
        # Argo's assessDAGPhase: a completed node sets its branch's phase; a skipped or
        # omitted one inherits its parents', a failure winning over a success. Each phase
        # comes with the task that set it, for the message.
        branch: dict[str, tuple[str, str]] = {}
        for name in self._topological():
            node = self.task_nodes[name]
            if node.phase in COMPLETED:
                branch[name] = (node.phase, name)
                continue
            inherited = ("Succeeded", name)
            expr = self.depends[name]
            for dep in expr.tasks if expr else ():
                if dep in branch and branch[dep][0] in FAILED_OR_ERROR:
                    inherited = branch[dep]
                    break
            branch[name] = inherited
        return branch

    def _topological(self) -> list[str]:
        indegree = dict.fromkeys(self.needed, 0)
        for name in self.needed:
            expr = self.depends[name]
            indegree[name] = len({d for d in (expr.tasks if expr else ()) if d in self.needed})
        ready = [name for name, count in indegree.items() if count == 0]
        order = []
        while ready:
            name = ready.pop()
            order.append(name)
            for dependent in self.dependents[name]:
                if dependent in indegree:
                    indegree[dependent] -= 1
                    if indegree[dependent] == 0:
                        ready.append(dependent)
        return order

    def complete(self) -> None:
        engine = self.engine
        node = self.node
        branch = self._branch_phases()
        phase = "Succeeded"
        message = ""
        for target in self.targets:
            if target not in branch:
                continue
            target_phase, culprit = branch[target]
            if target_phase in FAILED_OR_ERROR:
                flags = self.tasks[target].get("continueOn") or {}
                if (target_phase == "Failed" and flags.get("failed")) or (
                    target_phase == "Error" and flags.get("error")
                ):
                    continue
                phase = target_phase
                message = f"task '{culprit}' {target_phase.lower()}"
                if self.fail_fast:
                    break
        if phase == "Succeeded":
            scope: dict[str, str] = {}
            for name, task_node in self.task_nodes.items():
                scope.update(_scope_of(f"tasks.{name}", task_node))
            try:
                engine.template_outputs(node, self.template, scope)
            except _NodeError as exc:
                engine.finish(node, "Error", str(exc))
                return
        engine.finish(node, phase, message)


# -------------------------------------------------------------------------------- steps


class _Steps:
    """A steps template's run: groups in order, the steps of a group in parallel."""

    def __init__(self, engine: Engine, node: _Node, template: dict[str, Any]) -> None:
        self.engine = engine
        self.node = node
        self.template = template
        self.groups: list[list[dict[str, Any]]] = [
            list(g or []) for g in template.get("steps") or []
        ]
        self.scope: dict[str, str] = {}
        self.boundary = _Boundary(_template_limit(template))

    def start(self) -> None:
        self.engine.set_running(self.node)
        self.run_group(0)

    def run_group(self, index: int) -> None:
        engine = self.engine
        if index == len(self.groups):
            try:
                engine.template_outputs(self.node, self.template, self.scope)
            except _NodeError as exc:
                engine.finish(self.node, "Error", str(exc))
                return
            engine.finish(self.node, "Succeeded")
            return
        group_name = f"{self.node.name}[{index}]"
        group = engine.new_node(group_name, f"[{index}]", "StepGroup", None, self.node)
        engine.set_running(group)
        steps = self.groups[index]
        done: dict[str, _Node] = {}
        pending = [len(steps)]

        def step_done(step_name: str, node: _Node) -> None:
            done[step_name] = node
            pending[0] -= 1
            if pending[0] == 0:
                self.group_done(index, group, steps, done)

        if not steps:
            self.group_done(index, group, steps, done)
            return
        for step in steps:
            self.run_step(group, step, step_done)

    def run_step(
        self, group: _Node, step: dict[str, Any], step_done: Callable[[str, _Node], None]
    ) -> None:
        engine = self.engine
        step_name = str(step.get("name"))
        node_name = f"{group.name}.{step_name}"
        scope = {**engine.global_scope, **self.scope}
        resolved: dict[str, Any] = substitute_deep(step, scope)
        try:
            items = _expand(resolved)
        except _NodeError as exc:
            step_done(
                step_name,
                engine.skipped(node_name, step_name, group, "Error", f"step '{node_name}': {exc}"),
            )
            return
        if items is None:
            when = resolved.get("when")
            try:
                run = evaluate_when(str(when)) if when else True
            except ExpressionError as exc:
                step_done(step_name, engine.skipped(node_name, step_name, group, "Error", str(exc)))
                return
            if not run:
                step_done(
                    step_name,
                    engine.skipped(
                        node_name, step_name, group, "Skipped", f"when '{when}' evaluated false"
                    ),
                )
                return

            after_exit = engine.then_exit_handler(
                resolved, f"steps.{step_name}", lambda node: step_done(step_name, node)
            )

            def released(node: _Node) -> None:
                self.boundary.release()
                after_exit(node)

            def launch() -> None:
                engine.execute(
                    name=node_name, display=step_name, call=resolved, parent=group, on_done=released
                )

            self.boundary.submit(launch)
            return
        if not items:
            step_done(
                step_name,
                engine.skipped(node_name, step_name, group, "Skipped", "Skipped, empty params"),
            )
            return
        loop = _Loop(
            engine,
            name=node_name,
            display=step_name,
            call=resolved,
            items=items,
            parent=group,
            boundary=self.boundary,
            on_done=lambda node: step_done(step_name, node),
        )
        loop.start()

    def group_done(
        self, index: int, group: _Node, steps: list[dict[str, Any]], done: Mapping[str, _Node]
    ) -> None:
        engine = self.engine
        for step in steps:
            step_name = str(step.get("name"))
            node = done[step_name]
            if node.phase in FAILED_OR_ERROR:
                flags = step.get("continueOn") or {}
                if (node.phase == "Failed" and flags.get("failed")) or (
                    node.phase == "Error" and flags.get("error")
                ):
                    continue
                message = f"child '{node.display_name}' {node.phase.lower()}"
                engine.finish(group, "Failed", message)
                engine.finish(self.node, "Failed", message)
                return
        engine.finish(group, "Succeeded")
        for step_name, node in done.items():
            self.scope.update(_scope_of(f"steps.{step_name}", node))
        engine.post(lambda: self.run_group(index + 1))


def new_run_name(spec: Spec) -> str:
    """``metadata.name``, or ``generateName`` plus five random characters (as Kubernetes)."""
    if spec.name:
        return spec.name
    prefix = spec.generate_name or "workflow-"
    return prefix + "".join(secrets.choice(_NAME_ALPHABET) for _ in range(5))


def default_parallelism() -> int:
    """This machine's usable cores."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
