"""Reading a manifest before a local run: its spec, what cannot run here, its parameters.

Everything in this module happens BEFORE any process starts, so a manifest that cannot be
run is refused whole (never half-run) with a :class:`flowdsl.errors.RunError` naming the
template and the field.

Supported: Workflow, WorkflowTemplate, ClusterWorkflowTemplate (their ``spec``) and
CronWorkflow (its ``spec.workflowSpec``); ``container``, ``script``, ``dag`` and ``steps``
templates; ``spec.templateDefaults`` (merged into each template as Argo's controller does,
see NOTE: [Template defaults] in ``flowdsl/_template_defaults.py``).

Refused (there is no cluster to do them): an artifact with an explicit location (``s3``,
``gcs``, ``azure``, ``http``, ``git``, ... on an input, output or argument artifact),
``archiveLocation``, a reference to a looped task's or step's output artifact (Argo does
not aggregate them), ``resource``, ``suspend``, ``containerSet``,
``data``, ``http`` and ``plugin`` templates, ``sidecars``, ``initContainers``, daemon
templates, ``templateRef`` / ``workflowTemplateRef`` (templates that live in the cluster),
lifecycle ``hooks``, a ``retryStrategy`` on a dag or steps template (retries apply to
container and script templates), and parameter values read from a ConfigMap or supplied
by a person.

Emulated elsewhere, and refused there when they cannot be: artifacts
(:mod:`flowdsl.local.artifacts`: through the run directory; ``fromExpression`` is read
here as a ``from`` of one ``{{=...}}`` expression), ``memoize``
(:mod:`flowdsl.local.cache`), Secret and ConfigMap values (:mod:`flowdsl.local.sources`:
a missing one refuses the run), volumes and mounts (:mod:`flowdsl.local.volumes`: a kind
of volume it does not emulate refuses the run).

Ignored, because they do not change what a run computes (the image included; a note at
the start of the run names those the manifest uses, see
:data:`flowdsl.local.WORKFLOW_IGNORED` and its siblings): resources, image pull policy,
node selectors, tolerations, affinity, priority classes, security contexts, service
accounts, pod GC, pod and template metadata (labels, annotations) and patches, probes,
metrics, synchronization (a local run is alone: mutexes and semaphores are never
contended), and ``spec.artifactRepositoryRef`` and ``spec.artifactGC`` (the run directory
is the artifact repository).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from flowdsl._template_defaults import merge_template_defaults
from flowdsl.errors import RunError
from flowdsl.local.artifacts import LOCATIONS
from flowdsl.local.expr import ExpressionError, task_depends
from flowdsl.local.substitute import referenced_names
from flowdsl.local.values import value_text

__all__ = [
    "LEAF_KINDS",
    "TEMPLATE_KINDS",
    "Spec",
    "check_lint",
    "check_schema",
    "leaf_templates",
    "read_spec",
    "resolve_parameters",
    "template_kind",
]

#: Every template type Argo knows, in the order Argo checks them.
TEMPLATE_KINDS = (
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
LEAF_KINDS = frozenset({"container", "script"})
_RUNNABLE = frozenset({"container", "script", "dag", "steps"})
_WORKFLOW_KINDS = ("Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate", "CronWorkflow")
_FIX = "run it on Argo instead, or remove the field"


@dataclass(frozen=True, slots=True)
class Spec:
    """A manifest's workflow spec, ready to run.

    Attributes:
        kind: the manifest's kind.
        name: ``metadata.name``, or ``None``.
        generate_name: ``metadata.generateName``, or ``None``.
        labels: ``metadata.labels``.
        annotations: ``metadata.annotations``.
        spec: the workflow spec (a deep copy; the caller's manifest is never modified).
        templates: templates by name, ``templateDefaults`` merged in.
        entrypoint: the entrypoint template's name.
    """

    kind: str
    name: str | None
    generate_name: str | None
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    spec: Mapping[str, Any]
    templates: Mapping[str, Mapping[str, Any]]
    entrypoint: str

    @property
    def display_name(self) -> str:
        """A name for messages: the name, or the generateName without its dash."""
        return self.name or (self.generate_name or "workflow").rstrip("-")


def template_kind(template: Mapping[str, Any]) -> str | None:
    """The template's type (``"container"``, ``"dag"``, ...), or ``None`` if it has none."""
    for kind in TEMPLATE_KINDS:
        if template.get(kind) is not None:
            return kind
    return None


def leaf_templates(spec: Spec) -> Iterator[tuple[str, Mapping[str, Any], str]]:
    """(name, template, kind) of every container and script template, inline ones included."""

    def visit(
        name: str, template: Mapping[str, Any]
    ) -> Iterator[tuple[str, Mapping[str, Any], str]]:
        kind = template_kind(template)
        if kind in LEAF_KINDS:
            yield name, template, str(kind)
        calls: list[Mapping[str, Any]] = list((template.get("dag") or {}).get("tasks") or [])
        for group in template.get("steps") or []:
            calls.extend(group or [])
        for call in calls:
            if isinstance(call.get("inline"), Mapping):
                yield from visit(f"{name}/{call.get('name')}", call["inline"])

    for name, template in spec.templates.items():
        yield from visit(name, template)


def read_spec(manifest: Mapping[str, Any]) -> Spec:
    """The runnable spec of a manifest, with the structural checks a run needs.

    Raises:
        RunError: the kind cannot run, the entrypoint or a referenced template is missing,
            a template has no type or an unsupported one, a field cannot be honoured
            locally, a ``depends`` does not parse, or a DAG has a cycle.
    """
    if not isinstance(manifest, Mapping):
        raise RunError(
            f"a manifest must be a mapping (got {type(manifest).__name__})",
            fix="pass the manifest as loaded from YAML or JSON",
        )
    kind = str(manifest.get("kind") or "Workflow")
    if kind not in _WORKFLOW_KINDS:
        raise RunError(
            f"a {kind} cannot run locally (expected one of: {', '.join(_WORKFLOW_KINDS)})",
            fix="run a Workflow, WorkflowTemplate or CronWorkflow manifest",
        )
    metadata = manifest.get("metadata") or {}
    raw_spec = manifest.get("spec") or {}
    if kind == "CronWorkflow":
        raw_spec = raw_spec.get("workflowSpec") or {}
    spec = copy.deepcopy(dict(raw_spec))
    name = metadata.get("name")
    generate_name = metadata.get("generateName")
    flow_name = str(name or (generate_name or "workflow").rstrip("-"))

    for field, why in (
        ("workflowTemplateRef", "it runs a template stored in the cluster"),
        ("hooks", "lifecycle hooks are not supported locally"),
        ("suspend", "suspending a workflow needs a person to resume it"),
    ):
        if spec.get(field):
            raise RunError(
                f"field 'spec.{field}' is not supported by the local engine ({why})",
                fix=_FIX,
                flow=flow_name,
            )
    for param in (spec.get("arguments") or {}).get("parameters") or []:
        if param.get("valueFrom"):
            raise RunError(
                f"field 'spec.arguments.parameters[{param.get('name')}].valueFrom' is not "
                "supported by the local engine (values from a ConfigMap or a person)",
                fix="give the parameter a value, or pass -p NAME=VALUE",
                flow=flow_name,
            )
    for artifact in (spec.get("arguments") or {}).get("artifacts") or []:
        location = _location(artifact)
        if location:
            raise RunError(
                f"field 'spec.arguments.artifacts[{artifact.get('name')}].{location}' is not "
                f"supported by the local engine ({_LOCATION_WHY})",
                fix=_LOCATION_FIX,
                flow=flow_name,
            )

    defaults = spec.get("templateDefaults") or {}
    templates: dict[str, dict[str, Any]] = {}
    for index, template in enumerate(spec.get("templates") or []):
        template_name = template.get("name")
        if not template_name:
            raise RunError(
                f"spec.templates[{index}] has no name",
                fix="give every template a name",
                flow=flow_name,
            )
        templates[str(template_name)] = copy.deepcopy(
            merge_template_defaults(defaults, template) if defaults else dict(template)
        )
        _from_expressions(templates[str(template_name)])

    entrypoint = spec.get("entrypoint")
    if not entrypoint:
        raise RunError(
            "the manifest has no spec.entrypoint",
            fix="set spec.entrypoint to the template to run",
            flow=flow_name,
        )
    result = Spec(
        kind=kind,
        name=str(name) if name else None,
        generate_name=str(generate_name) if generate_name else None,
        labels=dict(metadata.get("labels") or {}),
        annotations=dict(metadata.get("annotations") or {}),
        spec=spec,
        templates=templates,
        entrypoint=str(entrypoint),
    )
    _check_references(result, flow_name)
    for template_name, template in templates.items():
        _check_template(template_name, template, flow_name)
    return result


def _need_template(spec: Spec, name: Any, where: str, flow_name: str) -> None:
    if name not in spec.templates:
        known = ", ".join(sorted(spec.templates)) or "none"
        raise RunError(
            f"{where} names template '{name}', which the manifest does not define "
            f"(templates: {known})",
            fix="define the template or fix the name",
            flow=flow_name,
        )


def _check_references(spec: Spec, flow_name: str) -> None:
    _need_template(spec, spec.entrypoint, "spec.entrypoint", flow_name)
    on_exit = spec.spec.get("onExit")
    if on_exit:
        _need_template(spec, on_exit, "spec.onExit", flow_name)
    for template_name, template in spec.templates.items():
        for where, call in _calls(template_name, template):
            if call.get("templateRef"):
                raise RunError(
                    f"template '{template_name}': field '{where}.templateRef' is not supported "
                    "by the local engine (it refers to a template stored in the cluster)",
                    fix="copy the template into spec.templates and refer to it by name",
                    flow=flow_name,
                )
            if call.get("inline") is not None:
                continue
            if not call.get("template"):
                raise RunError(
                    f"template '{template_name}': {where} names no template",
                    fix="set its 'template' field",
                    flow=flow_name,
                )
            _need_template(
                spec, call["template"], f"template '{template_name}': {where}", flow_name
            )
            if call.get("onExit"):
                _need_template(
                    spec, call["onExit"], f"template '{template_name}': {where}.onExit", flow_name
                )


def _calls(
    template_name: str, template: Mapping[str, Any]
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    dag = template.get("dag")
    if isinstance(dag, Mapping):
        for index, task in enumerate(dag.get("tasks") or []):
            yield f"dag.tasks[{index}] ('{task.get('name')}')", task
    steps = template.get("steps")
    if isinstance(steps, list):
        for group_index, group in enumerate(steps):
            for index, step in enumerate(group or []):
                yield f"steps[{group_index}][{index}] ('{step.get('name')}')", step


def _refuse(template_name: str, field: str, why: str, flow_name: str) -> RunError:
    return RunError(
        f"template '{template_name}': field '{field}' is not supported by the local engine ({why})",
        fix=_FIX,
        flow=flow_name,
    )


def _check_template(name: str, template: Mapping[str, Any], flow_name: str) -> None:
    kind = template_kind(template)
    if kind is None:
        raise RunError(
            f"template '{name}' has no type (expected one of: container, script, dag, steps)",
            fix="give the template a container, script, dag or steps",
            flow=flow_name,
        )
    if kind not in _RUNNABLE:
        why = {
            "resource": "resource templates act on a Kubernetes cluster",
            "suspend": "suspend templates wait for a person or a duration on the cluster",
            "containerSet": "container sets are not supported locally",
            "data": "data templates read from an artifact repository",
            "http": "http templates run in the Argo agent",
            "plugin": "executor plugins run in the cluster",
        }[kind]
        raise _refuse(name, kind, why, flow_name)
    for field, why in (
        ("sidecars", "sidecars run beside the main container in a pod"),
        ("initContainers", "init containers run in a pod"),
        ("daemon", "daemon templates keep running beside the workflow"),
        ("archiveLocation", "artifact repositories are not available locally"),
        ("hooks", "lifecycle hooks are not supported locally"),
    ):
        if template.get(field):
            raise _refuse(name, field, why, flow_name)
    for side in ("inputs", "outputs"):
        for artifact in (template.get(side) or {}).get("artifacts") or []:
            _refuse_location(name, f"{side}.artifacts", artifact, flow_name)
    for param in (template.get("inputs") or {}).get("parameters") or []:
        if (param.get("valueFrom") or {}).get("configMapKeyRef"):
            raise _refuse(
                name,
                f"inputs.parameters[{param.get('name')}].valueFrom.configMapKeyRef",
                "ConfigMaps live in the cluster",
                flow_name,
            )
    for param in (template.get("outputs") or {}).get("parameters") or []:
        source = param.get("valueFrom") or {}
        for field in ("jsonPath", "jqFilter", "event", "supplied", "configMapKeyRef"):
            if field in source:
                raise _refuse(
                    name,
                    f"outputs.parameters[{param.get('name')}].valueFrom.{field}",
                    "the value comes from the cluster or a person",
                    flow_name,
                )
    if kind in ("dag", "steps") and template.get("retryStrategy"):
        raise _refuse(
            name,
            "retryStrategy",
            f"retrying a whole {kind} template is not supported locally; put the "
            "retryStrategy on its container or script templates",
            flow_name,
        )
    if kind in LEAF_KINDS:
        body = template[kind]
        if not body.get("command"):
            raise RunError(
                f"template '{name}': {kind}.command is empty (locally there is no image whose "
                "entrypoint could run)",
                fix=f"set {kind}.command, e.g. [python] or [sh, -c]",
                flow=flow_name,
            )
    continue_on = {}
    for where, call in _calls(name, template):
        for field in ("hooks",):
            if call.get(field):
                raise _refuse(
                    name, f"{where}.{field}", "lifecycle hooks are not supported locally", flow_name
                )
        for artifact in (call.get("arguments") or {}).get("artifacts") or []:
            _refuse_location(name, f"{where}.arguments.artifacts", artifact, flow_name)
        for param in (call.get("arguments") or {}).get("parameters") or []:
            if param.get("valueFrom"):
                raise _refuse(
                    name,
                    f"{where}.arguments.parameters[{param.get('name')}].valueFrom",
                    "the value comes from the cluster or a person",
                    flow_name,
                )
        if call.get("inline") is not None:
            _check_template(f"{name}/{call.get('name')}", call["inline"], flow_name)
        continue_on[str(call.get("name"))] = call.get("continueOn") or {}
    dag = template.get("dag")
    if isinstance(dag, Mapping):
        _check_dag(name, dag, continue_on, flow_name)
    _check_loop_artifacts(name, template, flow_name)


_LOCATION_WHY = (
    "an explicit artifact location needs its bucket or server; locally artifacts pass "
    "through the run directory"
)
_LOCATION_FIX = (
    "remove the location so the artifact goes through the artifact repository (locally, "
    "the run directory), or run it on Argo"
)
_LOOPS = ("withItems", "withParam", "withSequence")


def _location(artifact: Mapping[str, Any]) -> str | None:
    """The explicit location key an artifact has (``s3``, ``gcs``, ...), if any."""
    return next((key for key in LOCATIONS if artifact.get(key) is not None), None)


def _refuse_location(
    template_name: str, where: str, artifact: Mapping[str, Any], flow_name: str
) -> None:
    location = _location(artifact)
    if location:
        raise RunError(
            f"template '{template_name}': field '{where}[{artifact.get('name')}].{location}' "
            f"is not supported by the local engine ({_LOCATION_WHY})",
            fix=_LOCATION_FIX,
            flow=flow_name,
        )


def _from_expressions(template: dict[str, Any]) -> None:
    """Read every ``fromExpression`` of a template as ``from: "{{=EXPR}}"`` (in place).

    Both are substituted the same way (an artifact's value in a scope is its stored path),
    so the engine knows only ``from``.
    """
    artifacts = list((template.get("outputs") or {}).get("artifacts") or [])
    for _, call in _calls("", template):
        artifacts.extend((call.get("arguments") or {}).get("artifacts") or [])
        if isinstance(call.get("inline"), dict):
            _from_expressions(call["inline"])
    for artifact in artifacts:
        if isinstance(artifact, dict) and artifact.get("from") is None:
            expression = artifact.get("fromExpression")
            if expression:
                artifact["from"] = "{{=" + str(expression) + "}}"


def _check_loop_artifacts(name: str, template: Mapping[str, Any], flow_name: str) -> None:
    """Refuse a reference to a looped task's or step's artifacts (Argo aggregates none)."""
    prefix = "tasks" if template.get("dag") is not None else "steps"
    calls = list(_calls(name, template))
    looped = {
        str(call.get("name")) for _, call in calls if any(call.get(k) is not None for k in _LOOPS)
    }
    if not looped:
        return
    users = [
        (f"{where}.arguments.artifacts[{a.get('name')}].from", a)
        for where, call in calls
        for a in (call.get("arguments") or {}).get("artifacts") or []
    ]
    users += [
        (f"outputs.artifacts[{a.get('name')}].from", a)
        for a in (template.get("outputs") or {}).get("artifacts") or []
    ]
    for where, artifact in users:
        text = str(artifact.get("from") or "")
        for target in sorted(referenced_names(text, prefix) & looped):
            quoted = re.escape(target)
            if not re.search(
                rf"{prefix}(\.{quoted}|\[\s*['\"]{quoted}['\"]\s*\])\.outputs\.artifacts", text
            ):
                continue  # e.g. {{=tasks.gen.status == ... ? ... : ...}}: not its artifacts
            raise RunError(
                f"template '{name}': {where} ({text!r}) uses an output artifact of "
                f"'{target}', which loops (withItems, withParam or withSequence); Argo does "
                "not aggregate the artifacts of a loop's items, so they cannot be used outside "
                "the loop",
                fix="use the artifact inside the loop (a nested DAG or steps template run for "
                "each item), or hand on a parameter instead",
                flow=flow_name,
            )


def _check_dag(
    name: str, dag: Mapping[str, Any], continue_on: Mapping[str, Mapping[str, Any]], flow_name: str
) -> None:
    tasks = {str(task.get("name")): task for task in dag.get("tasks") or []}
    deps: dict[str, tuple[str, ...]] = {}
    for task_name, task in tasks.items():
        try:
            parsed = task_depends(task, continue_on)
        except ExpressionError as exc:
            raise RunError(
                f"template '{name}', task '{task_name}': {exc}",
                fix="write depends as task names or Task.Result joined by &&, || and !",
                flow=flow_name,
            ) from None
        deps[task_name] = parsed.tasks if parsed else ()
        for dep in deps[task_name]:
            if dep not in tasks:
                raise RunError(
                    f"template '{name}', task '{task_name}': depends on task '{dep}', which the "
                    f"DAG does not have (tasks: {', '.join(tasks)})",
                    fix="fix the task name",
                    flow=flow_name,
                )
    # Kahn's algorithm: whatever cannot be ordered is on (or behind) a cycle.
    indegree = {task: len(set(d)) for task, d in deps.items()}
    dependents: dict[str, list[str]] = {task: [] for task in deps}
    for task, dep_list in deps.items():
        for dep in set(dep_list):
            dependents[dep].append(task)
    ready = [task for task, count in indegree.items() if count == 0]
    seen = 0
    while ready:
        task = ready.pop()
        seen += 1
        for dependent in dependents[task]:
            indegree[dependent] -= 1
            if indegree[dependent] == 0:
                ready.append(dependent)
    if seen != len(deps):
        stuck = sorted(task for task, count in indegree.items() if count > 0)
        raise RunError(
            f"template '{name}': the DAG has a cycle through tasks {', '.join(stuck)}",
            fix="remove one of the dependencies on the cycle",
            flow=flow_name,
        )


def _refuse_problems(problems: list[str], what: str, flow_name: str) -> None:
    if problems:
        shown = problems[:5]
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise RunError(
            f"the manifest fails {what}: " + "; ".join(shown) + more,
            fix="fix the manifest (Argo would reject it too)",
            flow=flow_name,
        )


def check_schema(manifest: Mapping[str, Any]) -> None:
    """Refuse a manifest that fails Argo's JSON schema in strict mode (``argo lint``).

    Raises:
        RunError: listing the first problems found.
    """
    try:
        from flowdsl.schema import schema_errors
    except ImportError:  # pragma: no cover - ships with the package
        return
    metadata = manifest.get("metadata") or {}
    flow_name = str(
        metadata.get("name") or str(metadata.get("generateName") or "workflow").rstrip("-")
    )
    _refuse_problems(list(schema_errors(manifest)), "Argo's schema", flow_name)


def check_lint(manifest: Mapping[str, Any], flow_name: str) -> None:
    """Refuse a manifest that breaks Argo's semantic rules (:func:`flowdsl.lint.problems`).

    Raises:
        RunError: listing the first problems found.
    """
    try:
        from flowdsl.lint import problems as lint_problems
    except ImportError:  # pragma: no cover - ships with the package
        return
    found = [f"[{p.rule}] {p.path}: {p.message}" for p in lint_problems(manifest)]
    _refuse_problems(found, "Argo's rules", flow_name)


def resolve_parameters(spec: Spec, given: Mapping[str, str] | None) -> dict[str, str]:
    """The workflow parameters of a run: the manifest's values overridden by ``given``.

    Raises:
        RunError: a given name is not a parameter, a parameter has no value, or a value is
            not in the parameter's enum.
    """
    given = dict(given or {})
    declared = (spec.spec.get("arguments") or {}).get("parameters") or []
    names = [str(param.get("name")) for param in declared]
    flow_name = spec.display_name
    for name in given:
        if name not in names:
            raise RunError(
                f"the workflow has no parameter '{name}' "
                f"(parameters: {', '.join(names) or 'none'})",
                fix="check the name",
                flow=flow_name,
                parameter=name,
            )
    values: dict[str, str] = {}
    for param in declared:
        name = str(param.get("name"))
        if name in given:
            value: str | None = str(given[name])
        elif param.get("value") is not None:
            value = value_text(param["value"])
        elif param.get("default") is not None:
            value = value_text(param["default"])
        else:
            value = None
        if value is None:
            raise RunError(
                "is required and has no value in the manifest",
                fix=f"pass -p {name}=VALUE",
                flow=flow_name,
                parameter=name,
            )
        enum = param.get("enum")
        if enum and value not in [value_text(option) for option in enum]:
            raise RunError(
                f"value {value!r} is not one of: {', '.join(value_text(o) for o in enum)}",
                fix="pass one of the listed values",
                flow=flow_name,
                parameter=name,
            )
        values[name] = value
    return values
