"""The local engine: run an Argo manifest on this machine, as Argo would run it.

It executes the compiled manifest (a plain dict, camelCase keys), not the Python graph, so
a flow that works locally has exercised the same templates, substitution, dependency logic
and in-pod runtime that Argo will run. Each container or script template runs as a local
subprocess (the image is ignored). See :mod:`flowdsl.local.engine` for the semantics,
:mod:`flowdsl.local.process` for how a command is run, :mod:`flowdsl.local.record` for the
run directory.

Modules::

    model       frozen results: LocalRun, NodeRecord, Attempt
    manifest    reading a manifest: its spec, refusals, parameters (before anything runs)
    expr        depends and when expressions
    exprlang    {{=...}} expressions (a subset of expr-lang)
    substitute  {{...}} substitution
    values      Go durations, IntOrString, loop items
    sources     Secret and ConfigMap values from the environment or .env; masking
    volumes     volumes as local directories
    artifacts   artifacts through the run directory
    cache       memoize: outputs kept between runs
    process     one attempt of a leaf as a subprocess
    engine      the scheduler (DAG, steps, loops, retries, deadlines, parallelism, onExit)
    record      the run directory and the runs listing
    progress    live view / plain lines
    graph       mermaid / dot pictures of a manifest
    commands    the run, runs and graph commands of the CLI
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from flowdsl.local.model import Attempt, LocalRun, Memoization, NodeRecord

__all__ = ["Attempt", "LocalRun", "Memoization", "NodeRecord", "run_manifest"]

Progress = Literal["auto", "live", "plain", "off"]


def run_manifest(
    manifest: Mapping[str, Any],
    *,
    parameters: Mapping[str, str] | None = None,
    run_dir: Path | None = None,
    runs_root: Path = Path(".flowdsl/runs"),
    progress: Progress = "auto",
    max_parallel: int | None = None,
    cache_root: Path | None = None,
    env_file: Path | None = Path(".env"),
) -> LocalRun:
    """Run an Argo manifest on this machine and return what happened.

    Args:
        manifest: a Workflow, WorkflowTemplate or CronWorkflow as loaded from YAML/JSON.
        parameters: workflow parameter values (text), overriding the manifest's.
        run_dir: where to record the run; default ``<runs_root>/<run name>``.
        runs_root: the directory of run directories.
        progress: ``"live"`` (a live view on the terminal), ``"plain"`` (timestamped lines),
            ``"off"``, or ``"auto"`` (live on a terminal, plain otherwise). Written to stderr.
        max_parallel: most processes at once; default this machine's cores (the manifest's
            ``spec.parallelism`` caps it further).
        cache_root: where ``memoize`` keeps outputs between runs; default ``cache`` beside
            ``runs_root`` (``.flowdsl/cache``). See :mod:`flowdsl.local.cache`.
        env_file: the ``.env`` file Secret and ConfigMap values may come from (after the
            environment; see :mod:`flowdsl.local.sources`); ``None`` reads none.

    Returns:
        The run. A run that fails is returned with status ``Failed`` (or ``Error``), and one
        stopped with Ctrl-C with status ``Stopped``; neither raises.

    Raises:
        RunError: the manifest cannot be run (it fails Argo's schema or rules, uses a feature
            the local engine does not support, a parameter is unknown, missing or not in its
            enum, a Secret or ConfigMap value has no local value, ``.env`` does not parse)
            - raised before anything starts.
    """
    from flowdsl.errors import RunError
    from flowdsl.local import engine as eng
    from flowdsl.local import manifest as man
    from flowdsl.local import record
    from flowdsl.local.cache import MemoCache
    from flowdsl.local.progress import make_reporter
    from flowdsl.local.sources import Masker, Sources, SourcesError, check_sources
    from flowdsl.local.volumes import check_volumes

    man.check_schema(manifest)
    spec = man.read_spec(manifest)
    man.check_lint(manifest, spec.display_name)
    values = man.resolve_parameters(spec, parameters)
    try:
        sources = Sources(env_file=env_file)
    except SourcesError as exc:
        raise RunError(
            str(exc), fix="write one NAME=value a line", flow=spec.display_name
        ) from None
    masker = Masker()
    source_notes = check_sources(spec, sources, masker, spec.display_name)
    volume_notes = check_volumes(spec, sources, masker, spec.display_name)
    if max_parallel is not None and max_parallel < 1:
        raise RunError(
            f"max_parallel must be at least 1 (got {max_parallel})",
            fix="pass a positive number, or None for this machine's cores",
            flow=spec.display_name,
        )
    if cache_root is None:
        cache_root = Path(runs_root).parent / "cache"
    name = eng.new_run_name(spec)
    # Absolute: every process runs in its own directory, and paths handed to it must hold.
    if run_dir is None:
        run_dir = record.make_run_dir(Path(runs_root).absolute(), name)
    else:
        run_dir = Path(run_dir).absolute()
        run_dir.mkdir(parents=True, exist_ok=True)
    record.write_json(run_dir / "manifest.json", dict(manifest))
    reporter = make_reporter(progress)
    engine = eng.Engine(
        spec,
        values,
        name=name,
        run_dir=run_dir,
        reporter=reporter,
        max_parallel=max_parallel or eng.default_parallelism(),
        sources=sources,
        masker=masker,
        cache=MemoCache(Path(cache_root).absolute()),
    )
    engine.notes.extend(_notes(spec))
    engine.notes.extend(source_notes)
    engine.notes.extend(volume_notes)
    if _memoized(spec):
        engine.notes.append(f"memoized outputs are kept in {cache_root} between local runs")
    if _uses_artifacts(spec):
        engine.notes.append(
            f"artifacts pass through {run_dir / 'artifacts'} (no artifact repository is used "
            "locally; archive settings are ignored)"
        )
    return engine.run()


#: Fields that only matter to a cluster: accepted, ignored locally, named once in a note.
WORKFLOW_IGNORED = frozenset(
    {
        "affinity",
        "archiveLogs",
        "artifactGC",
        "artifactRepositoryRef",
        "automountServiceAccountToken",
        "dnsConfig",
        "dnsPolicy",
        "executor",
        "hostAliases",
        "hostNetwork",
        "imagePullSecrets",
        "metrics",
        "nodeSelector",
        "podDisruptionBudget",
        "podGC",
        "podMetadata",
        "podPriorityClassName",
        "podResources",
        "podSpecPatch",
        "resourceClaims",
        "schedulerName",
        "securityContext",
        "serviceAccountName",
        "synchronization",
        "tolerations",
        "ttlStrategy",
        "volumeClaimGC",
        "workflowMetadata",
    }
)
TEMPLATE_IGNORED = frozenset(
    {
        "affinity",
        "annotations",
        "automountServiceAccountToken",
        "executor",
        "hostAliases",
        "metadata",
        "metrics",
        "nodeSelector",
        "pendingTimeout",
        "podResources",
        "podSpecPatch",
        "priorityClassName",
        "resourceClaims",
        "schedulerName",
        "securityContext",
        "serviceAccountName",
        "synchronization",
        "tolerations",
    }
)
CONTAINER_IGNORED = frozenset(
    {
        "imagePullPolicy",
        "lifecycle",
        "livenessProbe",
        "ports",
        "readinessProbe",
        "resizePolicy",
        "resources",
        "restartPolicy",
        "restartPolicyRules",
        "securityContext",
        "startupProbe",
        "stdin",
        "stdinOnce",
        "terminationMessagePath",
        "terminationMessagePolicy",
        "tty",
        "volumeDevices",
    }
)


def _memoized(spec: Any) -> bool:
    """Whether any template (inline ones included) has ``memoize``."""

    def visit(template: Mapping[str, Any]) -> bool:
        if template.get("memoize"):
            return True
        calls = list((template.get("dag") or {}).get("tasks") or [])
        for group in template.get("steps") or []:
            calls.extend(group or [])
        return any(isinstance(c.get("inline"), Mapping) and visit(c["inline"]) for c in calls)

    return any(visit(t) for t in spec.templates.values())


def _uses_artifacts(spec: Any) -> bool:
    """Whether any template, call or the workflow's arguments have artifacts."""

    def visit(template: Mapping[str, Any]) -> bool:
        if (template.get("inputs") or {}).get("artifacts") or (template.get("outputs") or {}).get(
            "artifacts"
        ):
            return True
        calls = list((template.get("dag") or {}).get("tasks") or [])
        for group in template.get("steps") or []:
            calls.extend(group or [])
        return any(
            (c.get("arguments") or {}).get("artifacts")
            or (isinstance(c.get("inline"), Mapping) and visit(c["inline"]))
            for c in calls
        )

    if (spec.spec.get("arguments") or {}).get("artifacts"):
        return True
    return any(visit(t) for t in spec.templates.values())


def ignored_fields(spec: Any) -> list[str]:
    """The cluster-only fields a workflow spec uses, sorted (what the engine ignores)."""
    from flowdsl.local.manifest import leaf_templates

    found = {field for field in WORKFLOW_IGNORED if spec.spec.get(field)}
    for template in spec.templates.values():
        found.update(field for field in TEMPLATE_IGNORED if template.get(field))
    for _, template, kind in leaf_templates(spec):
        found.update(field for field in TEMPLATE_IGNORED if template.get(field))
        body = template[kind]
        found.update(field for field in CONTAINER_IGNORED if body.get(field))
    return sorted(found)


def _notes(spec: Any) -> list[str]:
    """What the user should know once: images and cluster-only fields are ignored."""
    images: set[str] = set()
    for template in spec.templates.values():
        for kind in ("container", "script"):
            body = template.get(kind)
            if isinstance(body, Mapping) and body.get("image"):
                images.add(str(body["image"]))
    notes = []
    if images:
        shown = ", ".join(sorted(images)[:3]) + (" ..." if len(images) > 3 else "")
        notes.append(
            f"images are ignored locally ({shown}): commands run on this machine, "
            "python with this interpreter"
        )
    ignored = ignored_fields(spec)
    if ignored:
        notes.append(f"ignored locally (they only matter on a cluster): {', '.join(ignored)}")
    return notes
