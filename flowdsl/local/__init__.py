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

from flowdsl.local.model import Attempt, LocalRun, NodeRecord

__all__ = ["Attempt", "LocalRun", "NodeRecord", "run_manifest"]

Progress = Literal["auto", "live", "plain", "off"]


def run_manifest(
    manifest: Mapping[str, Any],
    *,
    parameters: Mapping[str, str] | None = None,
    run_dir: Path | None = None,
    runs_root: Path = Path(".flowdsl/runs"),
    progress: Progress = "auto",
    max_parallel: int | None = None,
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

    Returns:
        The run. A run that fails is returned with status ``Failed`` (or ``Error``), and one
        stopped with Ctrl-C with status ``Stopped``; neither raises.

    Raises:
        RunError: the manifest cannot be run (it fails Argo's schema or rules, uses a feature
            the local engine does not support, a parameter is unknown, missing or not in its
            enum) - raised before anything starts.
    """
    from flowdsl.errors import RunError
    from flowdsl.local import engine as eng
    from flowdsl.local import manifest as man
    from flowdsl.local import record
    from flowdsl.local.progress import make_reporter

    man.check_schema(manifest)
    spec = man.read_spec(manifest)
    man.check_lint(manifest, spec.display_name)
    values = man.resolve_parameters(spec, parameters)
    if max_parallel is not None and max_parallel < 1:
        raise RunError(
            f"max_parallel must be at least 1 (got {max_parallel})",
            fix="pass a positive number, or None for this machine's cores",
            flow=spec.display_name,
        )
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
    )
    engine.notes.extend(_notes(spec))
    return engine.run()


def _notes(spec: Any) -> list[str]:
    """What the user should know once: images are ignored, secrets come from the environment."""
    images: set[str] = set()
    secret_vars: list[str] = []
    ignored: set[str] = set()
    if spec.spec.get("volumes") or spec.spec.get("volumeClaimTemplates"):
        ignored.add("volumes")
    if spec.spec.get("synchronization"):
        ignored.add("synchronization")
    for template in spec.templates.values():
        for field in ("memoize", "synchronization", "volumes"):
            if template.get(field):
                ignored.add(field)
        for kind in ("container", "script"):
            body = template.get(kind)
            if not isinstance(body, Mapping):
                continue
            if body.get("image"):
                images.add(str(body["image"]))
            if body.get("volumeMounts"):
                ignored.add("volumes")
            for variable in body.get("env") or []:
                if (
                    variable.get("valueFrom") is not None
                    and variable.get("name") not in secret_vars
                ):
                    secret_vars.append(str(variable.get("name")))
    notes = []
    if images:
        shown = ", ".join(sorted(images)[:3]) + (" ..." if len(images) > 3 else "")
        notes.append(
            f"images are ignored locally ({shown}): commands run on this machine, "
            "python with this interpreter"
        )
    if ignored:
        notes.append(
            f"ignored locally: {', '.join(sorted(ignored))} (volumes are not mounted, every "
            "node runs, a local run is alone)"
        )
    if secret_vars:
        notes.append(
            "environment variables from Secrets or ConfigMaps come from your own environment "
            f"locally: {', '.join(secret_vars)}"
        )
    return notes
