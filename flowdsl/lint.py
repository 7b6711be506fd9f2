"""Argo's semantic rules, checked on every manifest flowdsl emits.

The JSON schema (:mod:`flowdsl.schema`) checks shapes and types; the rules below are the ones
Argo enforces in Go (``workflow/validate/validate.go``, the cron parser, Kubernetes name
validation) when a manifest is linted, created or submitted. A manifest flowdsl emits must
break none of them: :func:`lint` raises :class:`~flowdsl.errors.LintError` (a flowdsl bug) for
the first problem, :func:`problems` lists them all (the local engine uses it to refuse a
manifest file with every reason at once).

Rules, by id (:attr:`LintProblem.rule`)::

    kind                   kind is Workflow, WorkflowTemplate, ClusterWorkflowTemplate or
                           CronWorkflow
    resource-name          metadata.name / generateName: DNS-1123, at most 63 characters
                           (52 for a CronWorkflow), dots only in (Cluster)WorkflowTemplate names
    field-name             template, DAG task and step names: ^[a-zA-Z0-9][-a-zA-Z0-9]*$, <= 128
    parameter-name         parameter and artifact names: ^[-a-zA-Z0-9_]+$
    duplicate-name         names are unique: templates, tasks of a DAG, steps of a steps
                           template, parameters and artifacts of each list
    entrypoint             a Workflow or CronWorkflow has an entrypoint (or a workflowTemplateRef),
                           and an entrypoint names a template of the manifest
    workflow-template-ref  a spec with a workflowTemplateRef defines no templates
    template-ref           every template reference (DAG task, step, hook, onExit) exists;
                           a task or step has exactly one of template / templateRef / inline
    template-type          a template has exactly one type (container, script, dag, steps,
                           resource, suspend, containerSet, data, http, plugin)
    template-field         activeDeadlineSeconds and timeout only on leaf templates, parallelism
                           only on dag and steps templates, timeout is a duration
    retry-policy           retryStrategy.retryPolicy is Always, OnFailure, OnError or
                           OnTransientError
    dag-empty              a DAG has at least one task
    dependency-ref         `dependencies` and `depends` name tasks of the same DAG
    depends-syntax         a `depends` expression parses (task, task.Result, &&, ||, !,
                           parentheses), its results are known, and .AnySucceeded/.AllFailed
                           name looped tasks
    depends-mixed          one DAG does not mix `depends` and `dependencies`
    depends-continue-on    a DAG that uses `depends` has no `continueOn`
    task-name-digit        a task name does not start with a digit where dependencies are parsed
    dag-cycle              the DAG has no dependency cycle (the cycle is reported)
    hook-expression        every lifecycle hook other than `exit` has an expression
    unclosed-tag           every `{{` has its `}}` (a lone `}}`, as in JSON values, is no tag)
    unresolved-tag         every `{{...}}` variable resolves in its scope (workflow globals,
                           template inputs/outputs, tasks/steps outputs, item, retries, ...)
    item-outside-loop      `{{item}}` is used only in a task or step with withItems, withParam or
                           withSequence
    missing-dependency     a DAG task refers to `tasks.X` only when it depends on X (directly or
                           transitively); otherwise Argo cannot resolve the value
    loop-exclusive         at most one of withItems / withParam / withSequence; withSequence has
                           count or end, not both
    enum-value             an enum is not empty and contains the parameter's value and default
    argument-value         a task or step argument parameter has a value or a valueFrom
    missing-argument       a task, step or hook supplies every required input (no value, no
                           default) of the template it calls; the entrypoint's and onExit's come
                           from spec.arguments
    unknown-argument       a task, step or hook passes only arguments its template declares
    output-value           an output parameter has exactly one of value / valueFrom, valueFrom has
                           exactly one source, of the kind the template type supports
    object-size            the manifest as compact JSON is at most 1 MiB (etcd's object limit)
    cron-schedule          a CronWorkflow has schedules, each a 5-field cron line or a
                           descriptor (robfig/cron's ParseStandard, with an optional CRON_TZ=)
    cron-concurrency       concurrencyPolicy is Allow, Forbid or Replace
    cron-timezone          timezone is an IANA time zone name
    cron-deadline          startingDeadlineSeconds is not negative

Paths are written from the manifest root without a leading ``$``, e.g.
``spec.templates[1].dag.tasks[0].arguments.parameters[2].value``; a problem of the whole
manifest (its size) has the path ``(root)``. Every check is linear in the
size of the manifest (20,000-task DAGs are linted in well under a second), with one exception
kept cheap in practice: a ``tasks.X`` reference to an indirect ancestor walks the ancestors of
that one task, once.

This module imports only the standard library and :mod:`flowdsl.errors`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flowdsl import errors
from flowdsl._template_defaults import merge_template_defaults

__all__ = ["MAX_OBJECT_BYTES", "LintProblem", "lint", "problems"]

MAX_OBJECT_BYTES: Final = 1024 * 1024
"""The largest manifest (compact JSON, UTF-8) that Argo can store (etcd's object limit)."""


@dataclass(frozen=True, slots=True)
class LintProblem:
    """One broken rule in a manifest.

    Attributes:
        rule: the rule's id, e.g. ``"template-ref"`` (listed in the module docstring).
        path: where, from the manifest root, e.g. ``"spec.templates[0].dag.tasks[2]"``.
        message: what is wrong, with the expected and the actual value.
    """

    rule: str
    path: str
    message: str


def problems(manifest: Mapping[str, Any]) -> list[LintProblem]:
    """Check a manifest against Argo's semantic rules.

    Args:
        manifest: a Workflow, WorkflowTemplate, ClusterWorkflowTemplate or CronWorkflow as a
            plain mapping, exactly as dumped to YAML (camelCase keys). Parts with the wrong
            shape (the schema's business) are skipped, never crash the lint.

    Returns:
        Every problem found, in manifest order (deterministic); empty when the manifest is
        valid.
    """
    linter = _Linter(manifest)
    linter.run()
    return linter.found


def lint(manifest: Mapping[str, Any]) -> None:
    """Raise for the first rule a manifest breaks.

    Args:
        manifest: the manifest, as for :func:`problems`.

    Raises:
        flowdsl.errors.LintError: with the problem's message, ``rule`` and ``path``.
    """
    found = problems(manifest)
    if found:
        first = found[0]
        raise errors.LintError(first.message, rule=first.rule, path=first.path)


# --------------------------------------------------------------------------------------------
# Constants (Argo's own, with the Go source they come from)
# --------------------------------------------------------------------------------------------

_KINDS: Final = ("Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow")
# validate.go maxCharsInObjectName / maxCharsInCronWorkflowName: a CronWorkflow's runs are
# named `<name>-<unix time>`, which must still fit 63 characters.
_NAME_LIMITS: Final = {
    "Workflow": 63,
    "WorkflowTemplate": 63,
    "ClusterWorkflowTemplate": 63,
    "CronWorkflow": 52,
}
_SUBDOMAIN_KINDS: Final = frozenset({"WorkflowTemplate", "ClusterWorkflowTemplate"})
# Kubernetes appends 5 random characters to a generateName.
_GENERATED_SUFFIX: Final = 5
_DNS_LABEL: Final = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN: Final = re.compile(
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
)
_FIELD_NAME: Final = re.compile(r"[a-zA-Z0-9][-a-zA-Z0-9]*")
_FIELD_NAME_MAX: Final = 128
_PARAM_NAME: Final = re.compile(r"[-a-zA-Z0-9_]+")

_TEMPLATE_TYPES: Final = (
    "container",
    "script",
    "dag",
    "steps",
    "resource",
    "suspend",
    "containerSet",
    "data",
    "http",
    "plugin",
)
_LEAF_TYPES: Final = frozenset(_TEMPLATE_TYPES) - {"dag", "steps"}
# Template.IsPodType: these run a pod, so {{pod.name}} exists.
_POD_TYPES: Final = frozenset({"container", "script", "containerSet", "resource", "data"})
# Template.HasOutput: these produce outputs.result and exitCode.
_RESULT_TYPES: Final = frozenset({"container", "script", "containerSet", "data", "http", "plugin"})
_RETRY_POLICIES: Final = ("Always", "OnFailure", "OnError", "OnTransientError")
_TASK_RESULTS: Final = frozenset(
    {
        "Succeeded",
        "Failed",
        "Errored",
        "Skipped",
        "Omitted",
        "Daemoned",
        "AnySucceeded",
        "AllFailed",
    }
)
_ITEM_RESULTS: Final = frozenset({"AnySucceeded", "AllFailed"})
_OUTPUT_SOURCES: Final = ("path", "jqFilter", "jsonPath", "parameter", "expression", "supplied")
# validateArgumentsValues: an argument's valueFrom may only read these.
_ARGUMENT_SOURCES: Final = ("configMapKeyRef", "event", "supplied")
_CONCURRENCY: Final = ("Allow", "Forbid", "Replace")
_LOOP_FIELDS: Final = ("withItems", "withParam", "withSequence")
_NODE_FIELDS: Final = frozenset({"id", "startedAt", "finishedAt", "hostNodeName", "status"})
_LAST_RETRY: Final = frozenset(
    {"lastRetry.exitCode", "lastRetry.status", "lastRetry.duration", "lastRetry.message"}
)
_METRIC_VARIABLES: Final = frozenset({"status", "duration", "exitCode"})
_WORKFLOW_VARIABLES: Final = frozenset(
    {
        "workflow.name",
        "workflow.namespace",
        "workflow.uid",
        "workflow.status",
        "workflow.failures",
        "workflow.mainEntrypoint",
        "workflow.serviceAccountName",
        "workflow.labels",
        "workflow.labels.json",
        "workflow.annotations",
        "workflow.annotations.json",
    }
)
# Variables with free suffixes (`.RFC3339`, `.Y`, ...): validate.go accepts them by prefix.
_WORKFLOW_PREFIXES: Final = (
    "workflow.creationTimestamp",
    "workflow.scheduledTime",
    "workflow.duration",
)


_GO_INT: Final = re.compile(r"[+-]?[0-9]+")  # what Go's strconv.Atoi accepts
_DEPENDS_TOKEN: Final = re.compile(
    r"\s*(?:(?P<op>&&|\|\||!|\(|\))|(?P<name>[a-zA-Z0-9][-a-zA-Z0-9]*)(?:\.(?P<result>[a-zA-Z]+))?)"
)
_EXPR_REFERENCE: Final = re.compile(
    r"(?<![\w.])(?P<root>tasks|steps|inputs\.parameters|workflow\.parameters)"
    r"(?:\.(?P<dotted>[A-Za-z_][A-Za-z0-9_]*)|\[\s*['\"](?P<quoted>[^'\"]+)['\"]\s*\])"
)
_LIST_LIMIT: Final = 10
_ROOT: Final = "(root)"
_CYCLE_SHOWN: Final = 12


# --------------------------------------------------------------------------------------------
# Tolerant accessors: lint must never crash on a manifest the schema would reject
# --------------------------------------------------------------------------------------------

_EMPTY: Final[Mapping[str, Any]] = {}


def _map(value: object) -> Mapping[str, Any]:
    # Manifests are plain dicts: test the exact type before the (slower) ABC check.
    if type(value) is dict or isinstance(value, Mapping):
        return value
    return _EMPTY


def _list(value: object) -> Sequence[Any]:
    return value if isinstance(value, list | tuple) else ()


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _text(value: object) -> str | None:
    """The string Argo's AnyString holds for a value (numbers and booleans as written)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value)


#: Where a value sits below the root of a walk: (the parent's link, key or index), or None.
_Link = tuple[Any, str | int] | None


def _link_path(root: str, link: _Link) -> str:
    """The path of a value from its chain of links: ``root.key[2].other``."""
    parts: list[str] = []
    while link is not None:
        link, key = link
        parts.append(f"[{key}]" if type(key) is int else f".{key}")
    return root + "".join(reversed(parts))


def _names(names: Iterable[str]) -> str:
    """Quoted, sorted, at most ``_LIST_LIMIT`` names: ``'a', 'b'``."""
    ordered = [repr(n) for n in sorted(names)]
    if not ordered:
        return "none"
    if len(ordered) > _LIST_LIMIT:
        return ", ".join(ordered[:_LIST_LIMIT]) + f", ... ({len(ordered)} in all)"
    return ", ".join(ordered)


# --------------------------------------------------------------------------------------------
# What the rules need to know about templates, tasks and scopes
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Template:
    """What other parts of the manifest may refer to in one template."""

    name: str
    path: str
    kind: str | None  # the template type (e.g. "container"); None when not exactly one
    inputs: dict[str, Mapping[str, Any]]
    input_artifacts: frozenset[str]
    outputs: frozenset[str]
    output_artifacts: frozenset[str]
    required: tuple[str, ...]  # input parameters with no value and no default
    daemon: bool
    retry: bool


@dataclass(slots=True)
class _Node:
    """A DAG task or a step, as seen from the tags of its siblings."""

    name: str
    template: _Template | None  # None: defined elsewhere (templateRef) or inline
    looped: bool


@dataclass(slots=True)
class _Loop:
    """Which `item` variables a looped task or step defines."""

    any_key: bool = False  # withParam: items are only known at run time
    scalar: bool = False
    keys: set[str] = field(default_factory=set)
    lists: bool = False


@dataclass(slots=True)
class _Dag:
    """The tasks of one DAG, their dependencies and (lazily) their ancestors."""

    template: str
    names: list[str]
    nodes: dict[str, _Node]
    index: dict[str, int]
    deps: list[list[int]]
    dep_sets: list[set[int]]
    ancestors: dict[int, set[int]] = field(default_factory=dict)

    def add_edge(self, task: int, dependency: int) -> None:
        """Record that ``task`` depends on ``dependency``."""
        if dependency not in self.dep_sets[task]:
            self.dep_sets[task].add(dependency)
            self.deps[task].append(dependency)

    def is_ancestor(self, task: int, other: int) -> bool:
        """Whether task ``other`` must finish before ``task`` runs."""
        if (
            other in self.dep_sets[task]
        ):  # the common case (flowdsl adds a direct edge per data reference)
            return True
        seen = self.ancestors.get(task)
        if seen is None:
            seen = set()
            stack = list(self.deps[task])
            while stack:
                current = stack.pop()
                if current in seen:
                    continue
                seen.add(current)
                stack.extend(self.deps[current])
            self.ancestors[task] = seen
        return other in seen


@dataclass(slots=True)
class _Scope:
    """Where a `{{...}}` tag is written, hence which variables it may use."""

    template: _Template | None = None
    loop: _Loop | None = None
    dag: _Dag | None = None
    task: int | None = None  # index of the DAG task the tag belongs to; None: template level
    steps: dict[str, _Node] | None = None  # steps visible from here
    self_name: str | None = None  # inside a task's or step's hooks: it may refer to itself
    metrics: bool = False


@dataclass(slots=True)
class _Globals:
    """The `workflow.*` variables of one manifest."""

    exact: set[str]
    parameters: frozenset[str]
    labels: frozenset[str]
    annotations: frozenset[str]
    outputs: frozenset[str]  # globalNames of output parameters
    output_artifacts: frozenset[str]
    any_output_parameter: bool  # a globalName is itself a {{...}}: any name may exist
    any_output_artifact: bool


# --------------------------------------------------------------------------------------------
# The linter
# --------------------------------------------------------------------------------------------


class _Linter:
    def __init__(self, manifest: Mapping[str, Any]) -> None:
        self.manifest = manifest
        self.found: list[LintProblem] = []
        self.templates: dict[str, _Template] = {}
        self.globals = _Globals(
            set(), frozenset(), frozenset(), frozenset(), frozenset(), frozenset(), False, False
        )

    def add(self, rule: str, path: str, message: str) -> None:
        self.found.append(LintProblem(rule, path, message))

    # ---- document ---------------------------------------------------------------------------

    def run(self) -> None:
        manifest: object = self.manifest
        if not isinstance(manifest, Mapping):
            self.add("kind", _ROOT, f"a manifest is a mapping, got {type(manifest).__name__}")
            return
        kind = manifest.get("kind")
        if kind not in _KINDS:
            self.add("kind", "kind", f"kind must be one of {', '.join(_KINDS)}, got {kind!r}")
            return
        self.check_metadata(kind, _map(manifest.get("metadata")))
        spec = _map(manifest.get("spec"))
        if kind == "CronWorkflow":
            self.check_cron(spec)
            workflow_spec = _map(spec.get("workflowSpec"))
            self.check_spec(kind, workflow_spec, "spec.workflowSpec", extra_meta=spec)
        else:
            self.check_spec(kind, spec, "spec", extra_meta=_EMPTY)
        self.check_size(manifest)

    def check_metadata(self, kind: str, metadata: Mapping[str, Any]) -> None:
        limit = _NAME_LIMITS[kind]
        pattern = _DNS_SUBDOMAIN if kind in _SUBDOMAIN_KINDS else _DNS_LABEL
        shape = (
            "lowercase letters, digits, '-' and '.'"
            if kind in _SUBDOMAIN_KINDS
            else "lowercase letters, digits and '-'"
        )
        name, generate = metadata.get("name"), metadata.get("generateName")
        if not name and not generate:
            self.add(
                "resource-name",
                "metadata",
                f"a {kind} needs metadata.name or metadata.generateName, got neither",
            )
            return
        if isinstance(name, str) and name:
            if not pattern.fullmatch(name):
                self.add(
                    "resource-name",
                    "metadata.name",
                    f"{kind} name {name!r} is not a DNS-1123 name ({shape}, "
                    "starting and ending with a letter or digit)",
                )
            if len(name) > limit:
                self.add(
                    "resource-name",
                    "metadata.name",
                    f"{kind} name {name!r} is {len(name)} characters long, "
                    f"over Argo's limit of {limit}",
                )
        if isinstance(generate, str) and generate:
            # Kubernetes checks a generateName with its trailing '-' masked.
            masked = generate[:-1] + "a" if generate.endswith("-") else generate
            if not pattern.fullmatch(masked):
                self.add(
                    "resource-name",
                    "metadata.generateName",
                    f"{kind} generateName {generate!r} is not a DNS-1123 prefix ({shape}, "
                    "starting with a letter or digit, ending with one or '-')",
                )
            if len(generate) > limit - _GENERATED_SUFFIX:
                self.add(
                    "resource-name",
                    "metadata.generateName",
                    f"{kind} generateName {generate!r} is {len(generate)} characters long; "
                    f"with the 5 characters Kubernetes appends it exceeds Argo's limit of {limit}",
                )

    def check_size(self, manifest: Mapping[str, Any]) -> None:
        text = json.dumps(manifest, separators=(",", ":"), ensure_ascii=False, default=str)
        size = len(text.encode("utf-8"))
        if size > MAX_OBJECT_BYTES:
            self.add(
                "object-size",
                _ROOT,
                f"the manifest is {size:,} bytes as compact JSON, over the "
                f"{MAX_OBJECT_BYTES:,} bytes Kubernetes can store for one object",
            )

    # ---- cron ---------------------------------------------------------------------------------

    def check_cron(self, spec: Mapping[str, Any]) -> None:
        schedules = spec.get("schedules")
        if not _list(schedules):
            got = "nothing" if schedules is None else repr(schedules)
            self.add(
                "cron-schedule",
                "spec.schedules",
                f"a CronWorkflow needs a non-empty spec.schedules list (Argo v4), got {got}",
            )
        for i, schedule in enumerate(_list(schedules)):
            reason = _cron_error(schedule) if isinstance(schedule, str) else "not a string"
            if reason:
                self.add(
                    "cron-schedule",
                    f"spec.schedules[{i}]",
                    f"cron schedule {schedule!r} is malformed: {reason}",
                )
        policy = spec.get("concurrencyPolicy")
        if policy not in (None, "", *_CONCURRENCY):
            self.add(
                "cron-concurrency",
                "spec.concurrencyPolicy",
                f"concurrencyPolicy must be one of {', '.join(_CONCURRENCY)}, got {policy!r}",
            )
        timezone = spec.get("timezone")
        if timezone not in (None, "") and not _is_timezone(timezone):
            self.add(
                "cron-timezone",
                "spec.timezone",
                f"timezone {timezone!r} is not an IANA time zone name (e.g. 'Europe/Paris')",
            )
        deadline = spec.get("startingDeadlineSeconds")
        if isinstance(deadline, int | float) and not isinstance(deadline, bool) and deadline < 0:
            self.add(
                "cron-deadline",
                "spec.startingDeadlineSeconds",
                f"startingDeadlineSeconds must be 0 or more, got {deadline}",
            )

    # ---- workflow spec ------------------------------------------------------------------------

    def check_spec(
        self, kind: str, spec: Mapping[str, Any], base: str, extra_meta: Mapping[str, Any]
    ) -> None:
        templates = _list(spec.get("templates"))
        defaults = spec.get("templateDefaults")
        if isinstance(defaults, Mapping) and defaults:
            # Check each template as the controller runs it: merged with the defaults
            # (NOTE: [Template defaults] in flowdsl/_template_defaults.py).
            templates = [
                merge_template_defaults(defaults, t) if isinstance(t, Mapping) else t
                for t in templates
            ]
        self.collect_templates(templates, base)
        self.collect_globals(spec, extra_meta)

        reference = spec.get("workflowTemplateRef")
        if reference is not None and templates:
            self.add(
                "workflow-template-ref",
                f"{base}.templates",
                "a spec with a workflowTemplateRef must not define templates "
                f"(got {len(templates)})",
            )
        entrypoint = spec.get("entrypoint")
        runs = kind in ("Workflow", "CronWorkflow")
        if not entrypoint:
            if runs and reference is None:
                self.add(
                    "entrypoint",
                    f"{base}.entrypoint",
                    f"a {kind} needs spec.entrypoint (the template to run first), got none",
                )
        elif reference is None and entrypoint not in self.templates:
            self.add(
                "entrypoint",
                f"{base}.entrypoint",
                f"entrypoint {entrypoint!r} names no template "
                f"(templates: {_names(self.templates)})",
            )
        on_exit = spec.get("onExit")
        if on_exit and reference is None and on_exit not in self.templates:
            self.add(
                "template-ref",
                f"{base}.onExit",
                f"onExit template {on_exit!r} is not defined (templates: {_names(self.templates)})",
            )

        arguments = _map(spec.get("arguments"))
        self.check_parameter_list(
            _list(arguments.get("parameters")), f"{base}.arguments.parameters"
        )
        self.check_artifact_list(_list(arguments.get("artifacts")), f"{base}.arguments.artifacts")
        if runs and reference is None:
            supplied = {_str(_map(p).get("name")) for p in _list(arguments.get("parameters"))}
            for role, name in (("entrypoint", entrypoint), ("onExit", on_exit)):
                template = self.templates.get(name) if isinstance(name, str) else None
                if template is None:
                    continue
                missing = [p for p in template.required if p not in supplied]
                if missing:
                    self.add(
                        "missing-argument",
                        f"{base}.arguments.parameters",
                        f"{role} template {template.name!r} requires input parameter(s) "
                        f"{_names(missing)}, which spec.arguments.parameters does not declare",
                    )

        self.check_hooks(spec.get("hooks"), f"{base}.hooks")
        for key, value in spec.items():
            if key in ("templates", "templateDefaults"):
                continue
            self.check_tags(value, f"{base}.{key}", _Scope(metrics=key == "metrics"))

        for i, template in enumerate(templates):
            self.check_template(_map(template), f"{base}.templates[{i}]")

    def collect_templates(self, templates: Sequence[Any], base: str) -> None:
        seen: set[str] = set()
        for i, raw in enumerate(templates):
            template = _map(raw)
            path = f"{base}.templates[{i}]"
            name = template.get("name")
            if not self.check_field_name(name, f"{path}.name", "template"):
                continue
            name = _str(name)
            if name in seen:
                self.add(
                    "duplicate-name",
                    f"{path}.name",
                    f"template name {name!r} is used by more than one template",
                )
                continue
            seen.add(name)
            self.templates[name] = _describe_template(name, template, path)

    def collect_globals(self, spec: Mapping[str, Any], extra_meta: Mapping[str, Any]) -> None:
        exact = set(_WORKFLOW_VARIABLES)
        parameters = frozenset(
            _str(_map(p).get("name"))
            for p in _list(_map(spec.get("arguments")).get("parameters"))
            if _str(_map(p).get("name"))
        )
        if parameters:
            exact.update({"workflow.parameters", "workflow.parameters.json"})
        exact.update(f"workflow.parameters.{p}" for p in parameters)
        # A run's labels and annotations come from the resource and its workflowMetadata
        # (a CronWorkflow's own spec.workflowMetadata too).
        labels: set[str] = set()
        annotations: set[str] = set()
        for source in (
            _map(self.manifest.get("metadata")),
            _map(spec.get("workflowMetadata")),
            _map(extra_meta.get("workflowMetadata")),
        ):
            labels.update(str(k) for k in _map(source.get("labels")))
            labels.update(str(k) for k in _map(source.get("labelsFrom")))
            annotations.update(str(k) for k in _map(source.get("annotations")))
        exact.update(f"workflow.labels.{k}" for k in labels)
        exact.update(f"workflow.annotations.{k}" for k in annotations)
        if "priority" in spec:
            exact.add("workflow.priority")
        exported: dict[str, set[str]] = {"parameters": set(), "artifacts": set()}
        dynamic = {"parameters": False, "artifacts": False}
        for raw in _list(spec.get("templates")):
            outputs = _map(_map(raw).get("outputs"))
            for kind, names in exported.items():
                for item in _list(outputs.get(kind)):
                    global_name = _str(_map(item).get("globalName"))
                    if "{{" in global_name:  # only known at run time
                        dynamic[kind] = True
                    elif global_name:
                        names.add(global_name)
                        exact.add(f"workflow.outputs.{kind}.{global_name}")
        self.globals = _Globals(
            exact=exact,
            parameters=parameters,
            labels=frozenset(labels),
            annotations=frozenset(annotations),
            outputs=frozenset(exported["parameters"]),
            output_artifacts=frozenset(exported["artifacts"]),
            any_output_parameter=dynamic["parameters"],
            any_output_artifact=dynamic["artifacts"],
        )

    # ---- names and parameter lists ------------------------------------------------------------

    def check_field_name(self, name: object, path: str, what: str) -> bool:
        if not isinstance(name, str) or not name:
            self.add("field-name", path, f"a {what} needs a name, got {name!r}")
            return False
        if len(name) > _FIELD_NAME_MAX:
            self.add(
                "field-name",
                path,
                f"{what} name {name!r} is {len(name)} characters long, "
                f"over Argo's limit of {_FIELD_NAME_MAX}",
            )
            return False
        if not _FIELD_NAME.fullmatch(name):
            self.add(
                "field-name",
                path,
                f"{what} name {name!r} must consist of letters, digits and '-', "
                "starting with a letter or digit",
            )
            return False
        return True

    def check_named_list(self, items: Sequence[Any], path: str, what: str) -> dict[str, int]:
        """Check parameter or artifact names; return name -> index for the valid ones."""
        index: dict[str, int] = {}
        for i, raw in enumerate(items):
            name = _map(raw).get("name")
            where = f"{path}[{i}].name"
            if not isinstance(name, str) or not name:
                self.add("parameter-name", where, f"a {what} needs a name, got {name!r}")
            elif not _PARAM_NAME.fullmatch(name):
                self.add(
                    "parameter-name",
                    where,
                    f"{what} name {name!r} must consist of letters, digits, '_' and '-'",
                )
            elif name in index:
                self.add(
                    "duplicate-name",
                    where,
                    f"{what} name {name!r} appears more than once in this list",
                )
            else:
                index[name] = i
        return index

    def check_parameter_list(self, items: Sequence[Any], path: str) -> dict[str, int]:
        index = self.check_named_list(items, path, "parameter")
        for i, raw in enumerate(items):
            self.check_enum(_map(raw), f"{path}[{i}]")
        return index

    def check_artifact_list(self, items: Sequence[Any], path: str) -> dict[str, int]:
        return self.check_named_list(items, path, "artifact")

    def check_enum(self, parameter: Mapping[str, Any], path: str) -> None:
        if "enum" not in parameter:
            return
        enum = _list(parameter.get("enum"))
        name = _str(parameter.get("name"))
        if not enum:
            self.add("enum-value", f"{path}.enum", f"parameter {name!r} has an empty enum")
            return
        allowed = {_text(v) for v in enum}
        for key in ("value", "default"):
            value = _text(parameter.get(key))
            if value is not None and "{{" not in value and value not in allowed:
                choices = ", ".join(repr(_text(v)) for v in enum)
                self.add(
                    "enum-value",
                    f"{path}.{key}",
                    f"parameter {name!r} has {key} {value!r}, which is not in its enum [{choices}]",
                )

    # ---- templates ----------------------------------------------------------------------------

    def check_template(
        self, template: Mapping[str, Any], path: str, name: str | None = None
    ) -> None:
        """Check one template; ``name`` stands in for the name of an inline template."""
        name = name if name is not None else _str(template.get("name"))
        types = [t for t in _TEMPLATE_TYPES if template.get(t) is not None]
        if len(types) != 1:
            got = ", ".join(types) if types else "none"
            self.add(
                "template-type",
                path,
                f"template {name!r} must have exactly one type "
                f"({', '.join(_TEMPLATE_TYPES)}), got {got}",
            )
        kind = types[0] if len(types) == 1 else None
        info = self.templates.get(name)
        if info is None or info.path != path:  # unnamed or duplicate: still check its insides
            info = _describe_template(name, template, path)

        inputs = _map(template.get("inputs"))
        self.check_parameter_list(_list(inputs.get("parameters")), f"{path}.inputs.parameters")
        self.check_artifact_list(_list(inputs.get("artifacts")), f"{path}.inputs.artifacts")
        outputs = _map(template.get("outputs"))
        out_path = f"{path}.outputs.parameters"
        self.check_named_list(_list(outputs.get("parameters")), out_path, "parameter")
        self.check_artifact_list(_list(outputs.get("artifacts")), f"{path}.outputs.artifacts")
        for i, raw in enumerate(_list(outputs.get("parameters"))):
            self.check_output(_map(raw), f"{out_path}[{i}]", name, kind)

        policy = _map(template.get("retryStrategy")).get("retryPolicy")
        if policy not in (None, "", *_RETRY_POLICIES):
            self.add(
                "retry-policy",
                f"{path}.retryStrategy.retryPolicy",
                f"retryPolicy must be one of {', '.join(_RETRY_POLICIES)}, got {policy!r}",
            )
        self.check_template_fields(template, path, name, kind)

        scope = _Scope(template=info)
        if kind == "dag":
            dag = self.check_dag(template, path, info)
            scope.dag = dag
        elif kind == "steps":
            scope.steps = self.check_steps(template, path, info)
        for key, value in template.items():
            if key in ("dag", "steps") and key == kind:
                continue
            metrics = key == "metrics"
            self.check_tags(
                value,
                f"{path}.{key}",
                _Scope(template=info, dag=scope.dag, steps=scope.steps, metrics=metrics),
            )

    def check_template_fields(
        self, template: Mapping[str, Any], path: str, name: str, kind: str | None
    ) -> None:
        if kind is None:
            return
        leaf = kind in _LEAF_TYPES
        if not leaf and template.get("activeDeadlineSeconds") is not None:
            self.add(
                "template-field",
                f"{path}.activeDeadlineSeconds",
                f"template {name!r} is a {kind} template; activeDeadlineSeconds is only valid "
                "on leaf templates (container, script, ...)",
            )
        if leaf and template.get("parallelism") is not None:
            self.add(
                "template-field",
                f"{path}.parallelism",
                f"template {name!r} is a {kind} template; parallelism is only valid on dag "
                "and steps templates",
            )
        timeout = template.get("timeout")
        if timeout not in (None, ""):
            if not leaf:
                self.add(
                    "template-field",
                    f"{path}.timeout",
                    f"template {name!r} is a {kind} template; timeout is only valid on leaf "
                    "templates",
                )
            elif isinstance(timeout, str) and _GO_INT.fullmatch(timeout):
                self.add(
                    "template-field",
                    f"{path}.timeout",
                    f"template {name!r} has timeout {timeout!r}, a bare number; "
                    "write a duration with a unit, e.g. '30s' or '2h'",
                )

    def check_output(
        self, parameter: Mapping[str, Any], path: str, template: str, kind: str | None
    ) -> None:
        name = _str(parameter.get("name"))
        where = f"output parameter {name!r} of template {template!r}"
        has_value = parameter.get("value") is not None
        value_from = parameter.get("valueFrom")
        if has_value and value_from is not None:
            self.add("output-value", path, f"{where} has both value and valueFrom; keep one")
            return
        if has_value:
            return
        if value_from is None:
            self.add("output-value", path, f"{where} has neither value nor valueFrom")
            return
        source = _map(value_from)
        present = [s for s in _OUTPUT_SOURCES if source.get(s) not in (None, "")]
        if len(present) != 1:
            got = ", ".join(present) if present else "none"
            self.add(
                "output-value",
                f"{path}.valueFrom",
                f"{where} needs exactly one valueFrom source "
                f"({', '.join(_OUTPUT_SOURCES)}), got {got}",
            )
            return
        allowed: tuple[str, ...]
        if kind in ("container", "script", "containerSet"):
            allowed = ("path",)
        elif kind == "resource":
            allowed = ("jqFilter", "jsonPath")
        elif kind in ("dag", "steps"):
            allowed = ("parameter", "expression")
        else:
            return
        if present[0] not in allowed and present[0] != "supplied":
            self.add(
                "output-value",
                f"{path}.valueFrom",
                f"{where} reads valueFrom.{present[0]}, which a {kind} template cannot "
                f"provide (use {' or '.join(allowed)})",
            )

    # ---- calls: DAG tasks, steps, hooks -------------------------------------------------------

    def check_call(self, call: Mapping[str, Any], path: str, label: str) -> _Template | None:
        """Check the template reference and arguments of a task, step or hook.

        Args:
            call: the task, step or hook.
            path: where it is.
            label: how messages name it, e.g. ``task 'train'``.

        Returns:
            The called template when it is in this manifest.
        """
        present = [k for k in ("template", "templateRef", "inline") if call.get(k) is not None]
        if len(present) != 1:
            got = ", ".join(present) if present else "none"
            self.add(
                "template-ref",
                path,
                f"{label} must have exactly one of template, templateRef or inline, got {got}",
            )
        target: _Template | None = None
        template_name = call.get("template")
        if template_name is not None and len(present) == 1:
            target = self.templates.get(template_name) if isinstance(template_name, str) else None
            if target is None:
                self.add(
                    "template-ref",
                    f"{path}.template",
                    f"{label} calls template {template_name!r}, which is not defined "
                    f"(templates: {_names(self.templates)})",
                )
        inline = call.get("inline")
        if isinstance(inline, Mapping) and len(present) == 1:
            self.check_template(inline, f"{path}.inline", f"{_str(call.get('name'))}/inline")

        arguments = _map(call.get("arguments"))
        params_path = f"{path}.arguments.parameters"
        parameters = _list(arguments.get("parameters"))
        given = self.check_parameter_list(parameters, params_path)
        artifacts = _list(arguments.get("artifacts"))
        given_artifacts = self.check_artifact_list(artifacts, f"{path}.arguments.artifacts")
        for i, raw in enumerate(parameters):
            self.check_argument_value(_map(raw), f"{params_path}[{i}]", label)
        if target is None:
            return None
        for param, i in given.items():
            if param not in target.inputs:
                self.add(
                    "unknown-argument",
                    f"{params_path}[{i}]",
                    f"{label} passes parameter {param!r}, which template {target.name!r} "
                    f"does not declare (inputs.parameters: {_names(target.inputs)})",
                )
        for artifact, i in given_artifacts.items():
            if artifact not in target.input_artifacts:
                self.add(
                    "unknown-argument",
                    f"{path}.arguments.artifacts[{i}]",
                    f"{label} passes artifact {artifact!r}, which template {target.name!r} "
                    f"does not declare (inputs.artifacts: {_names(target.input_artifacts)})",
                )
        missing = [p for p in target.required if p not in given]
        if missing:
            self.add(
                "missing-argument",
                path,
                f"{label} calls template {target.name!r} without its required input "
                f"parameter(s) {_names(missing)} (no value or default in the template)",
            )
        for param, i in given.items():
            declared = target.inputs.get(param)
            if declared is not None:
                self.check_argument_enum(_map(parameters[i]), declared, f"{params_path}[{i}]")
        return target

    def check_argument_value(self, argument: Mapping[str, Any], path: str, label: str) -> None:
        param = _str(argument.get("name"))
        value_from = argument.get("valueFrom")
        if argument.get("value") is None and value_from is None:
            self.add(
                "argument-value",
                path,
                f"{label} passes parameter {param!r} without a value or valueFrom",
            )
            return
        if value_from is not None:
            source = _map(value_from)
            if not any(source.get(k) not in (None, "") for k in _ARGUMENT_SOURCES) or any(
                source.get(k) not in (None, "")
                for k in ("path", "jsonPath", "parameter", "expression")
            ):
                self.add(
                    "argument-value",
                    f"{path}.valueFrom",
                    f"{label} passes parameter {param!r} with a valueFrom that an argument "
                    f"cannot use (allowed: default, {', '.join(_ARGUMENT_SOURCES)})",
                )

    def check_argument_enum(
        self, argument: Mapping[str, Any], declared: Mapping[str, Any], path: str
    ) -> None:
        enum = _list(declared.get("enum"))
        value = _text(argument.get("value"))
        if not enum or value is None or "{{" in value:
            return
        allowed = {_text(v) for v in enum}
        if value not in allowed:
            choices = ", ".join(repr(_text(v)) for v in enum)
            self.add(
                "enum-value",
                f"{path}.value",
                f"argument {_str(argument.get('name'))!r} has value {value!r}, which is not in "
                f"the template's enum [{choices}]",
            )

    def check_hooks(self, hooks: object, path: str) -> None:
        """Check lifecycle hooks (of the spec, a task or a step); their tags are checked apart."""
        for name, raw in _map(hooks).items():
            hook = _map(raw)
            if name != "exit" and not _str(hook.get("expression")):
                self.add(
                    "hook-expression",
                    f"{path}.{name}.expression",
                    f"lifecycle hook {name!r} needs an expression (only the 'exit' hook runs "
                    "without one)",
                )
            self.check_call(hook, f"{path}.{name}", f"hook {name!r}")

    def check_loop(self, call: Mapping[str, Any], path: str, label: str) -> _Loop | None:
        present = [k for k in _LOOP_FIELDS if call.get(k) not in (None, "", [], ())]
        if len(present) > 1:
            self.add(
                "loop-exclusive",
                path,
                f"{label} uses {' and '.join(present)}; only one of withItems, withParam, "
                "withSequence can be given",
            )
        sequence = call.get("withSequence")
        if (
            isinstance(sequence, Mapping)
            and sequence.get("count") is not None
            and sequence.get("end") is not None
        ):
            self.add(
                "loop-exclusive",
                f"{path}.withSequence",
                f"{label} has a withSequence with both count and end; give one",
            )
        if not present:
            return None
        loop = _Loop()
        if "withParam" in present:
            loop.any_key = True
        if "withSequence" in present:
            loop.scalar = True
        for item in _list(call.get("withItems")):
            if isinstance(item, Mapping):
                loop.keys.update(str(k) for k in item)
            elif isinstance(item, list | tuple):
                loop.lists = True
            else:
                loop.scalar = True
        return loop

    # ---- DAG ----------------------------------------------------------------------------------

    def check_dag(self, template: Mapping[str, Any], path: str, info: _Template) -> _Dag:
        dag_path = f"{path}.dag.tasks"
        tasks = [_map(t) for t in _list(_map(template.get("dag")).get("tasks"))]
        dag = _Dag(
            template=info.name,
            names=[_str(t.get("name")) for t in tasks],
            nodes={},
            index={},
            deps=[[] for _ in tasks],
            dep_sets=[set() for _ in tasks],
        )
        if not tasks:
            self.add("dag-empty", f"{path}.dag.tasks", f"DAG template {info.name!r} has no tasks")
            return dag
        for i, task in enumerate(tasks):
            name = task.get("name")
            if not self.check_field_name(name, f"{dag_path}[{i}].name", "task"):
                continue
            name = _str(name)
            if name in dag.index:
                self.add(
                    "duplicate-name",
                    f"{dag_path}[{i}].name",
                    f"task name {name!r} is used twice in DAG template {info.name!r}",
                )
                continue
            dag.index[name] = i

        using_depends = any(_str(t.get("depends")) for t in tasks)
        mixed_reported = False
        loops: list[_Loop | None] = []
        for i, task in enumerate(tasks):
            task_path = f"{dag_path}[{i}]"
            name = _str(task.get("name"))
            dependencies = _list(task.get("dependencies"))
            if (using_depends or dependencies) and name[:1].isdigit():
                self.add(
                    "task-name-digit",
                    f"{task_path}.name",
                    f"task name {name!r} starts with a digit, which Argo rejects when the DAG "
                    "uses 'depends' or the task uses 'dependencies'",
                )
            if using_depends and dependencies and not mixed_reported:
                mixed_reported = True
                self.add(
                    "depends-mixed",
                    f"{task_path}.dependencies",
                    f"DAG template {info.name!r} mixes 'depends' and 'dependencies'; "
                    "use one of them for all its tasks",
                )
            if using_depends and task.get("continueOn") is not None:
                self.add(
                    "depends-continue-on",
                    f"{task_path}.continueOn",
                    f"task {name!r} uses continueOn in a DAG that uses 'depends'; "
                    "write the condition in 'depends' instead (e.g. 'a.Succeeded || a.Failed')",
                )
            label = f"task {name!r}"
            loop = self.check_loop(task, task_path, label)
            loops.append(loop)
            target = self.check_call(task, task_path, label)
            if name in dag.index and dag.index[name] == i:
                dag.nodes[name] = _Node(name, target, loop is not None and not _sequence_only(task))
            for j, dependency in enumerate(dependencies):
                other = dag.index.get(dependency) if isinstance(dependency, str) else None
                if other is None:
                    self.add(
                        "dependency-ref",
                        f"{task_path}.dependencies[{j}]",
                        f"task {name!r} depends on {dependency!r}, which is not a task of DAG "
                        f"template {info.name!r}",
                    )
                else:
                    dag.add_edge(i, other)
            self.check_hooks(task.get("hooks"), f"{task_path}.hooks")

        # `depends` needs every task's loop flag (for .AnySucceeded), so it runs second.
        for i, task in enumerate(tasks):
            depends = task.get("depends")
            if isinstance(depends, str) and depends.strip():
                self.check_depends(
                    depends=depends,
                    path=f"{dag_path}[{i}].depends",
                    task=i,
                    tasks=tasks,
                    loops=loops,
                    dag=dag,
                )
        self.check_cycle(dag, path)

        for i, task in enumerate(tasks):
            task_path = f"{dag_path}[{i}]"
            name = _str(task.get("name"))
            scope = _Scope(template=info, loop=loops[i], dag=dag, task=i)
            for key, value in task.items():
                if key == "hooks":
                    hook_scope = _Scope(
                        template=info, loop=loops[i], dag=dag, task=i, self_name=name
                    )
                    self.check_tags(value, f"{task_path}.hooks", hook_scope)
                elif key not in ("name", "template", "depends", "dependencies", "inline"):
                    self.check_tags(value, f"{task_path}.{key}", scope)
        return dag

    def check_depends(
        self,
        *,
        depends: str,
        path: str,
        task: int,
        tasks: Sequence[Mapping[str, Any]],
        loops: Sequence[_Loop | None],
        dag: _Dag,
    ) -> None:
        name = _str(tasks[task].get("name"))
        syntax = f"task {name!r} has depends {depends!r}"
        position, depth, expect_operand = 0, 0, True
        while True:
            while position < len(depends) and depends[position].isspace():
                position += 1
            if position == len(depends):
                break
            match = _DEPENDS_TOKEN.match(depends, position)
            if match is None:
                self.add(
                    "depends-syntax",
                    path,
                    f"{syntax}: unexpected {depends[position : position + 10]!r} at "
                    f"character {position}",
                )
                return
            position = match.end()
            op, reference, result = match.group("op"), match.group("name"), match.group("result")
            if reference is not None:
                if not expect_operand:
                    self.add(
                        "depends-syntax", path, f"{syntax}: missing && or || before {reference!r}"
                    )
                    return
                expect_operand = False
                other = dag.index.get(reference)
                if other is None:
                    self.add(
                        "dependency-ref",
                        path,
                        f"task {name!r} depends on {reference!r}, which is not a task of DAG "
                        f"template {dag.template!r}",
                    )
                else:
                    dag.add_edge(task, other)
                if result is not None and result not in _TASK_RESULTS:
                    self.add(
                        "depends-syntax",
                        path,
                        f"{syntax}: {reference}.{result} is not a task result "
                        f"(use one of {', '.join(sorted(_TASK_RESULTS))})",
                    )
                elif result in _ITEM_RESULTS and other is not None and loops[other] is None:
                    self.add(
                        "depends-syntax",
                        path,
                        f"{syntax}: {reference}.{result} needs {reference!r} to loop "
                        "(withItems, withParam or withSequence), but it does not",
                    )
            elif op in ("!", "("):
                if not expect_operand:
                    self.add("depends-syntax", path, f"{syntax}: unexpected {op!r}")
                    return
                if op == "(":
                    depth += 1
            elif op == ")":
                if expect_operand or depth == 0:
                    self.add("depends-syntax", path, f"{syntax}: unexpected ')'")
                    return
                depth -= 1
            else:  # && or ||
                if expect_operand:
                    self.add("depends-syntax", path, f"{syntax}: {op!r} is missing an operand")
                    return
                expect_operand = True
        if expect_operand:
            self.add("depends-syntax", path, f"{syntax}: the expression ends without an operand")
        elif depth:
            self.add("depends-syntax", path, f"{syntax}: {depth} '(' not closed")

    def check_cycle(self, dag: _Dag, path: str) -> None:
        # Iterative depth-first search (a 20,000-task chain would overflow recursion).
        state = [0] * len(dag.names)  # 0: new, 1: on the current path, 2: done
        for start in range(len(dag.names)):
            if state[start]:
                continue
            stack: list[tuple[int, int]] = [(start, 0)]
            on_path = [start]
            state[start] = 1
            while stack:
                node, edge = stack[-1]
                deps = dag.deps[node]
                if edge == len(deps):
                    stack.pop()
                    on_path.pop()
                    state[node] = 2
                    continue
                stack[-1] = (node, edge + 1)
                nxt = deps[edge]
                if state[nxt] == 1:
                    # Reversed, the path reads in run order: each task runs before the next.
                    cycle = [dag.names[k] for k in reversed([*on_path[on_path.index(nxt) :], nxt])]
                    if len(cycle) > _CYCLE_SHOWN:
                        half = _CYCLE_SHOWN // 2
                        hidden = len(cycle) - 2 * half
                        cycle = [*cycle[:half], f"... ({hidden} more)", *cycle[-half:]]
                    names = " -> ".join(cycle)
                    self.add(
                        "dag-cycle",
                        f"{path}.dag.tasks",
                        f"DAG template {dag.template!r} has a dependency cycle: {names}",
                    )
                    return
                if state[nxt] == 0:
                    state[nxt] = 1
                    stack.append((nxt, 0))
                    on_path.append(nxt)

    # ---- steps --------------------------------------------------------------------------------

    def check_steps(
        self, template: Mapping[str, Any], path: str, info: _Template
    ) -> dict[str, _Node]:
        visible: dict[str, _Node] = {}  # steps of earlier groups
        seen: set[str] = set()
        for g, group in enumerate(_list(template.get("steps"))):
            group_nodes: dict[str, _Node] = {}
            for s, raw in enumerate(_list(group)):
                step = _map(raw)
                step_path = f"{path}.steps[{g}][{s}]"
                name = step.get("name")
                valid = self.check_field_name(name, f"{step_path}.name", "step")
                step_name = _str(name)
                if valid and step_name in seen:
                    self.add(
                        "duplicate-name",
                        f"{step_path}.name",
                        f"step name {step_name!r} is used twice in steps template {info.name!r}",
                    )
                    valid = False
                seen.add(step_name)
                label = f"step {step_name!r}"
                loop = self.check_loop(step, step_path, label)
                target = self.check_call(step, step_path, label)
                self.check_hooks(step.get("hooks"), f"{step_path}.hooks")
                scope = _Scope(template=info, loop=loop, steps=visible)
                for key, value in step.items():
                    if key == "hooks":
                        hook_scope = _Scope(
                            template=info,
                            loop=loop,
                            steps={**visible, step_name: _Node(step_name, target, False)},
                            self_name=step_name,
                        )
                        self.check_tags(value, f"{step_path}.hooks", hook_scope)
                    elif key not in ("name", "template", "inline"):
                        self.check_tags(value, f"{step_path}.{key}", scope)
                if valid:
                    looped = loop is not None and not _sequence_only(step)
                    group_nodes[step_name] = _Node(step_name, target, looped)
            visible = {**visible, **group_nodes}
        return visible

    # ---- {{...}} tags -------------------------------------------------------------------------

    def check_tags(self, value: object, path: str, scope: _Scope) -> None:
        # Iterative walk: values such as withItems can nest arbitrarily deep. Only strings
        # holding `{{` and containers are visited, in manifest order; paths are built only
        # for the strings that hold a tag, from a chain of (parent, key) links (_link_path).
        stack: list[tuple[object, _Link]] = [(value, None)]
        while stack:
            current, link = stack.pop()
            kind = type(current)
            if kind is str or isinstance(current, str):
                if "{{" in current:  # type: ignore[operator]
                    self.check_string(str(current), _link_path(path, link), scope)
                continue
            if kind is dict or (kind is not list and isinstance(current, Mapping)):
                pairs: Iterable[tuple[str | int, object]] = current.items()  # type: ignore[attr-defined]
            elif kind is list or isinstance(current, list | tuple):
                pairs = enumerate(current)  # type: ignore[arg-type]
            else:
                continue
            children: list[tuple[object, _Link]] = []
            for key, child in pairs:
                child_kind = type(child)
                if child_kind is str:
                    if "{{" in child:  # type: ignore[operator]
                        children.append((child, (link, key if type(key) is int else str(key))))
                elif (
                    child_kind is dict
                    or child_kind is list
                    or isinstance(child, str | list | tuple | Mapping)
                ):
                    children.append((child, (link, key if type(key) is int else str(key))))
            children.reverse()
            stack.extend(children)

    def check_string(self, text: str, path: str, scope: _Scope) -> None:
        reported: set[tuple[str, str]] = set()
        position = 0
        while True:
            start = text.find("{{", position)
            if start < 0:
                return
            end = text.find("}}", start + 2)
            if end < 0:
                self.add(
                    "unclosed-tag",
                    path,
                    f"'{{{{' at character {start} has no closing '}}}}': {_excerpt(text, start)}",
                )
                return
            position = end + 2
            body = text[start + 2 : end]
            if body.lstrip().startswith("="):
                found = self.resolve_expression(body.lstrip()[1:], scope)
            else:
                tag = body.strip()
                problem = self.resolve(tag, scope)
                found = [problem] if problem else []
            for rule, message in found:
                if (rule, message) not in reported:
                    reported.add((rule, message))
                    self.add(rule, path, message)

    def resolve_expression(self, expression: str, scope: _Scope) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        for match in _EXPR_REFERENCE.finditer(expression):
            name = match.group("dotted") or match.group("quoted")
            problem = self.resolve(f"{match.group('root')}.{name}", scope, expression=True)
            if problem:
                found.append(problem)
        return found

    def resolve(self, tag: str, scope: _Scope, expression: bool = False) -> tuple[str, str] | None:
        """Return ``(rule, message)`` when ``tag`` cannot be resolved in ``scope``."""
        shown = f"{{{{{tag}}}}}" if not expression else f"{tag!r} (in a {{{{=...}}}} expression)"
        root, _, rest = tag.partition(".")
        template = scope.template
        if root == "workflow":
            return self.resolve_workflow(tag, shown, expression)
        if root == "inputs" and template is not None:
            return _resolve_inputs(rest, shown, template, expression)
        if root == "outputs" and template is not None:
            return _resolve_outputs(rest, shown, template)
        if root == "item" or tag.startswith("item["):
            return _resolve_item(rest, shown, scope.loop, tag == "item")
        if root == "tasks":
            return self.resolve_node(rest, shown, scope, root="tasks", expression=expression)
        if root == "steps":
            return self.resolve_node(rest, shown, scope, root="steps", expression=expression)
        if root in ("inputs", "outputs"):
            return ("unresolved-tag", f"{shown} is only defined inside a template")
        if tag == "pod.name":
            if template is not None and template.kind in _POD_TYPES:
                return None
            return (
                "unresolved-tag",
                f"{shown} is only defined in templates that run a pod "
                "(container, script, containerSet, resource, data)",
            )
        if tag.startswith("node.name"):
            return None
        if tag == "retries" or tag in _LAST_RETRY:
            if template is not None and template.retry:
                return None
            return ("unresolved-tag", f"{shown} is only defined in a template with a retryStrategy")
        if scope.metrics and (tag in _METRIC_VARIABLES or tag.startswith("resourcesDuration.")):
            return None
        return ("unresolved-tag", f"{shown} is not a variable Argo defines here")

    def resolve_workflow(self, tag: str, shown: str, expression: bool) -> tuple[str, str] | None:
        known = self.globals
        if tag in known.exact or tag.startswith(_WORKFLOW_PREFIXES):
            return None
        if expression and tag == "workflow.parameters":
            return None
        if tag.startswith("workflow.parameters."):
            return (
                "unresolved-tag",
                f"{shown} names no workflow parameter "
                f"(spec.arguments.parameters: {_names(known.parameters)})",
            )
        for prefix, keys, what in (
            ("workflow.labels.", known.labels, "label"),
            ("workflow.annotations.", known.annotations, "annotation"),
        ):
            if tag.startswith(prefix):
                return (
                    "unresolved-tag",
                    f"{shown} names no {what} of the workflow ({what}s: {_names(keys)})",
                )
        for kind, any_name in (
            ("parameters", known.any_output_parameter),
            ("artifacts", known.any_output_artifact),
        ):
            if tag.startswith(f"workflow.outputs.{kind}."):
                if any_name:
                    return None
                exported = known.outputs if kind == "parameters" else known.output_artifacts
                return (
                    "unresolved-tag",
                    f"{shown} names no output {kind[:-1]} exported with a globalName "
                    f"(globalNames: {_names(exported)})",
                )
        return ("unresolved-tag", f"{shown} is not a workflow variable Argo defines")

    def resolve_node(
        self, rest: str, shown: str, scope: _Scope, *, root: str, expression: bool
    ) -> tuple[str, str] | None:
        name, _, field_ = rest.partition(".")
        if name == "name" and not field_:
            # {{tasks.name}} / {{steps.name}}: the current task's or step's own name.
            return None
        if root == "tasks":
            if scope.dag is None:
                return ("unresolved-tag", f"{shown} is only defined inside a DAG template")
            node = scope.dag.nodes.get(name)
            if node is None:
                return (
                    "unresolved-tag",
                    f"{shown} refers to task {name!r}, which is not a task of DAG template "
                    f"{scope.dag.template!r}",
                )
            if (
                scope.task is not None
                and name != scope.self_name
                and not scope.dag.is_ancestor(scope.task, scope.dag.index[name])
            ):
                current = scope.dag.names[scope.task]
                return (
                    "missing-dependency",
                    f"task {current!r} uses {shown} but does not depend on {name!r} "
                    "(directly or through its dependencies), so Argo cannot resolve it; "
                    f"add {name!r} to its depends",
                )
        else:
            if scope.steps is None:
                return ("unresolved-tag", f"{shown} is only defined inside a steps template")
            found = scope.steps.get(name)
            if found is None:
                return (
                    "unresolved-tag",
                    f"{shown} refers to step {name!r}, which is not a step of an earlier "
                    "step group",
                )
            node = found
        what = root[:-1]  # "task" or "step"
        if expression:
            return None  # an expression goes on with ['...'] or .field: not checked further
        if not field_:
            return ("unresolved-tag", f"{shown} names no field of {what} {name!r}")
        return _resolve_node_field(field_, shown, node, what)


# --------------------------------------------------------------------------------------------
# Helpers without state
# --------------------------------------------------------------------------------------------


def _describe_template(name: str, template: Mapping[str, Any], path: str) -> _Template:
    types = [t for t in _TEMPLATE_TYPES if template.get(t) is not None]
    inputs = _map(template.get("inputs"))
    outputs = _map(template.get("outputs"))
    parameters: dict[str, Mapping[str, Any]] = {}
    required: list[str] = []
    for raw in _list(inputs.get("parameters")):
        parameter = _map(raw)
        param = _str(parameter.get("name"))
        if not param or param in parameters:
            continue
        parameters[param] = parameter
        if all(parameter.get(k) is None for k in ("value", "default", "valueFrom")):
            required.append(param)

    def names(items: object) -> frozenset[str]:
        return frozenset(_str(_map(i).get("name")) for i in _list(items)) - {""}

    return _Template(
        name=name,
        path=path,
        kind=types[0] if len(types) == 1 else None,
        inputs=parameters,
        input_artifacts=names(inputs.get("artifacts")),
        outputs=names(outputs.get("parameters")),
        output_artifacts=names(outputs.get("artifacts")),
        required=tuple(required),
        daemon=template.get("daemon") is True,
        retry=template.get("retryStrategy") is not None,
    )


def _sequence_only(call: Mapping[str, Any]) -> bool:
    # validate.go aggregates outputs only for withItems and withParam loops.
    return call.get("withSequence") is not None and not (
        call.get("withItems") or call.get("withParam")
    )


def _resolve_inputs(
    rest: str, shown: str, template: _Template, expression: bool
) -> tuple[str, str] | None:
    kind, _, name = rest.partition(".")
    if kind == "parameters":
        if not name:
            return (
                None
                if template.inputs or expression
                else (
                    "unresolved-tag",
                    f"{shown}: template {template.name!r} has no input parameters",
                )
            )
        if name in template.inputs:
            return None
        return (
            "unresolved-tag",
            f"{shown} names no input parameter of template {template.name!r} "
            f"(inputs.parameters: {_names(template.inputs)})",
        )
    if kind == "artifacts":
        artifact, _, attribute = name.partition(".")
        if artifact in template.input_artifacts and attribute in ("", "path"):
            return None
        return (
            "unresolved-tag",
            f"{shown} names no input artifact of template {template.name!r} "
            f"(inputs.artifacts: {_names(template.input_artifacts)})",
        )
    return ("unresolved-tag", f"{shown} is not a variable Argo defines here")


def _resolve_outputs(rest: str, shown: str, template: _Template) -> tuple[str, str] | None:
    kind, _, name = rest.partition(".")
    if kind in ("result", "exitCode") and not name:
        return None
    if kind == "parameters":
        parameter, _, attribute = name.partition(".")
        if parameter in template.outputs and attribute in ("", "path"):
            return None
        return (
            "unresolved-tag",
            f"{shown} names no output parameter of template {template.name!r} "
            f"(outputs.parameters: {_names(template.outputs)})",
        )
    if kind == "artifacts":
        artifact, _, attribute = name.partition(".")
        if artifact in template.output_artifacts and attribute in ("", "path"):
            return None
        return (
            "unresolved-tag",
            f"{shown} names no output artifact of template {template.name!r} "
            f"(outputs.artifacts: {_names(template.output_artifacts)})",
        )
    return ("unresolved-tag", f"{shown} is not a variable Argo defines here")


def _resolve_item(rest: str, shown: str, loop: _Loop | None, whole: bool) -> tuple[str, str] | None:
    if loop is None:
        return (
            "item-outside-loop",
            f"{shown} is used outside a loop (no withItems, withParam or withSequence here)",
        )
    if loop.any_key:
        return None
    if whole:
        if loop.scalar:
            return None
        return (
            "unresolved-tag",
            f"{shown}: the withItems items are objects or lists; use {{{{item.<key>}}}}",
        )
    if rest in loop.keys or (loop.lists and rest.startswith("[")):
        return None
    return (
        "unresolved-tag",
        f"{shown}: no withItems item has the key {rest!r} (keys: {_names(loop.keys)})",
    )


def _resolve_node_field(field_: str, shown: str, node: _Node, what: str) -> tuple[str, str] | None:
    template = node.template
    if field_ in _NODE_FIELDS:
        return None
    if template is None:  # templateRef or inline: its outputs are not checked here
        return None
    if field_ in ("outputs.result", "outputs.exitCode", "exitCode"):
        if template.kind is None or template.kind in _RESULT_TYPES:
            return None
        return (
            "unresolved-tag",
            f"{shown}: template {template.name!r} of {what} {node.name!r} is a "
            f"{template.kind} template and has no {field_}",
        )
    if field_ == "ip":
        if template.daemon:
            return None
        return (
            "unresolved-tag",
            f"{shown}: template {template.name!r} of {what} {node.name!r} is not a daemon",
        )
    if field_ == "outputs.parameters":
        if node.looped:
            return None
        return (
            "unresolved-tag",
            f"{shown}: {what} {node.name!r} does not loop, so it has no aggregated "
            "outputs.parameters",
        )
    if field_.startswith("outputs.parameters."):
        parameter = field_[len("outputs.parameters.") :]
        if parameter in template.outputs:
            return None
        return (
            "unresolved-tag",
            f"{shown}: template {template.name!r} of {what} {node.name!r} declares no output "
            f"parameter {parameter!r} (outputs.parameters: {_names(template.outputs)})",
        )
    if field_.startswith("outputs.artifacts."):
        artifact = field_[len("outputs.artifacts.") :]
        if artifact in template.output_artifacts:
            return None
        return (
            "unresolved-tag",
            f"{shown}: template {template.name!r} of {what} {node.name!r} declares no output "
            f"artifact {artifact!r} (outputs.artifacts: {_names(template.output_artifacts)})",
        )
    return ("unresolved-tag", f"{shown} is not a variable Argo defines for {what} {node.name!r}")


def _excerpt(text: str, start: int) -> str:
    piece = text[start : start + 30]
    return repr(piece + ("..." if len(text) > start + 30 else ""))


def _is_timezone(name: object) -> bool:
    if not isinstance(name, str):
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _cron_error(schedule: str) -> str | None:
    """Why robfig/cron's ParseStandard (which Argo uses) rejects ``schedule``, or None.

    The parser is flowdsl.scheduling's (one implementation for schedules a flow declares and
    for manifests); an inline ``CRON_TZ=``/``TZ=`` prefix, which Argo accepts in a manifest,
    is checked here first.
    """
    from flowdsl.scheduling import cron_problem

    spec = schedule.strip()
    if spec.startswith(("TZ=", "CRON_TZ=")):
        zone, _, spec = spec.partition(" ")
        zone = zone.partition("=")[2]
        if not _is_timezone(zone):
            return f"{zone!r} is not an IANA time zone name"
    found = cron_problem(spec)
    return None if found is None else found[0]
