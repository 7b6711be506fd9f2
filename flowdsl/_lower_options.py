"""Lowering of execution options: precedence, built-in defaults, and the Argo fields.

NOTE: [Option precedence]
For each task call the options are merged, highest first: call-site ``.options()``, the task
decorator (the tracer merged those two), the named profile, the flow (and, for a sub-flow's
tasks, the sub-flow then the outer flow), the project configuration, the built-in defaults.
Mapping options (env, secrets, node selector, labels, annotations) merge key by key,
resources field by field, everything else whole (``ir.TaskOptions.over``). Workflow options
merge the same way: flow, project configuration, built-in defaults.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hera.workflows import models as m

from flowdsl.artifacts import artifact_kind
from flowdsl.errors import CompileError, OptionError
from flowdsl.ir import TaskDef, TaskOptions, WorkflowOptions
from flowdsl.options import (
    ConfigMapKey,
    Resources,
    Retry,
    Secret,
    Volume,
    check_mounts,
)

__all__ = [
    "BUILTIN_TASK",
    "BUILTIN_WORKFLOW",
    "Layers",
    "container_fields",
    "template_fields",
    "workflow_fields",
]

#: Built-in defaults (documented in docs/options.md: keep the two in step).
BUILTIN_TASK = TaskOptions(
    image_pull_policy="IfNotPresent",
    resources=Resources(cpu="500m", memory="512Mi"),
    timeout=4 * 3600,
)
# Pods that succeeded are deleted at once; a failed pod stays until its workflow is deleted,
# so its logs can still be read (`python -m flowdsl logs`, the Argo UI) without a log archive.
BUILTIN_WORKFLOW = WorkflowOptions(pod_gc="OnPodSuccess", workflow_timeout=24 * 3600)

#: ``Cache(max_age=None)``: Argo requires a maxAge, so "never expires" is ten years.
NO_EXPIRY = "87600h"

#: The ConfigMap holding the semaphore limits of flows with ``max_concurrent`` above 1.
SEMAPHORE_CONFIG_MAP = "flowdsl-semaphores"


@dataclass(frozen=True)
class Layers:
    """The precedence levels that come from the project configuration.

    Attributes:
        profiles: named profiles (``[tool.flowdsl.profiles.NAME]``) as task options.
        tasks: the project's task defaults.
        workflow: the project's workflow options.
        source: where the configuration was read from (for messages).
    """

    profiles: Mapping[str, TaskOptions] = field(default_factory=dict)
    tasks: TaskOptions = field(default_factory=TaskOptions)
    workflow: WorkflowOptions = field(default_factory=WorkflowOptions)
    source: str | None = None

    def profile(self, name: str, *, flow: str, task: str, location: str) -> TaskOptions:
        """The profile ``name``, or a CompileError listing the defined ones."""
        found = self.profiles.get(name)
        if found is not None:
            return found
        import difflib

        defined = sorted(self.profiles)
        close = difflib.get_close_matches(name, defined, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        if self.source:
            where = f" in {self.source}"
        elif self.profiles:
            where = " in the project configuration"
        else:
            where = " (no project configuration found)"
        raise CompileError(
            f"profile {name!r} is not defined{where} (profiles: {', '.join(defined) or 'none'})",
            fix=f"{hint}define it under [tool.flowdsl.profiles.{name}] in pyproject.toml",
            flow=flow,
            task=task,
            location=location,
        )


# --------------------------------------------------------------------------------------------
# Task level
# --------------------------------------------------------------------------------------------


def container_fields(
    options: TaskOptions, context_env: list[m.EnvVar], workflow: WorkflowOptions
) -> dict[str, Any]:
    """Keyword arguments for ``m.Container`` / ``m.ScriptTemplate`` from resolved options."""
    fields: dict[str, Any] = {"image_pull_policy": options.image_pull_policy}
    resources = options.resources
    if isinstance(resources, Resources):
        fields["resources"] = m.ResourceRequirements(
            requests=resources.requests() or None,  # type: ignore[arg-type]
            limits=resources.limits() or None,  # type: ignore[arg-type]
        )
    env = list(context_env)
    for name, value in [*(options.env or ()), *(options.secrets or ())]:
        env.append(_env_var(name, value))
    fields["env"] = env or None
    mounts = [*(workflow.volumes or ()), *(options.volumes or ())]
    if mounts:
        fields["volume_mounts"] = [
            m.VolumeMount(name=v.name, mount_path=v.mount_path, read_only=v.read_only or None)
            for v in mounts
        ]
    return fields


def _env_var(name: str, value: Any) -> m.EnvVar:
    # Secrets and config map values are references: the manifest never holds their values.
    if isinstance(value, Secret):
        return m.EnvVar(
            name=name,
            value_from=m.EnvVarSource(
                secret_key_ref=m.SecretKeySelector(name=value.name, key=value.key)
            ),
        )
    if isinstance(value, ConfigMapKey):
        return m.EnvVar(
            name=name,
            value_from=m.EnvVarSource(
                config_map_key_ref=m.ConfigMapKeySelector(name=value.name, key=value.key)
            ),
        )
    return m.EnvVar(name=name, value=str(value))


def template_fields(
    options: TaskOptions, task: TaskDef, *, flow: str, workflow: WorkflowOptions
) -> dict[str, Any]:
    """Keyword arguments for the leaf ``m.Template`` from resolved options."""
    volumes = [*(workflow.volumes or ()), *(options.volumes or ())]
    try:
        check_mounts(volumes)
    except OptionError as exc:
        raise CompileError(
            exc.problem, fix=exc.fix, flow=flow, task=task.name, location=task.location
        ) from None
    own = [v for v in options.volumes or () if v.kind != "claim"]
    labels = dict(options.labels or ())
    annotations = dict(options.annotations or ())
    fields: dict[str, Any] = {
        "node_selector": dict(options.node_selector) if options.node_selector else None,
        "tolerations": [
            m.Toleration(
                key=t.key,
                operator=t.operator,
                value=t.value,
                effect=t.effect,
                toleration_seconds=t.seconds,
            )
            for t in options.tolerations
        ]
        if options.tolerations
        else None,
        "affinity": _affinity(options.affinity, flow=flow, task=task),
        "retry_strategy": _retry(options.retries),
        "active_deadline_seconds": options.timeout,
        "service_account_name": options.service_account,
        "priority_class_name": options.priority_class,
        "metadata": m.Metadata(labels=labels or None, annotations=annotations or None)
        if labels or annotations
        else None,
        "volumes": [_volume(v) for v in own] or None,
        "memoize": _memoize(options, task, flow=flow),
    }
    return fields


def _affinity(text: str | None, *, flow: str, task: TaskDef) -> m.Affinity | None:
    if text is None:
        return None
    given = json.loads(text)
    try:
        model = m.Affinity.model_validate(given)
        # The models drop fields they do not know: a misspelled field would vanish silently.
        unknown = _unknown_fields(given, model.model_dump(by_alias=True, exclude_none=True))
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(unknown)}")
        return model
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        first = str(exc).splitlines()[:3]
        raise CompileError(
            f"option 'affinity' is not a Kubernetes affinity: {' '.join(first)}",
            fix="write it as Kubernetes does, e.g. {'nodeAffinity': "
            "{'requiredDuringSchedulingIgnoredDuringExecution': {'nodeSelectorTerms': [...]}}}",
            flow=flow,
            task=task.name,
            location=task.location,
        ) from None


def _unknown_fields(given: Any, kept: Any, path: str = "") -> list[str]:
    """Paths of fields in ``given`` that the model dropped (``kept`` is its dump)."""
    if isinstance(given, dict):
        if not isinstance(kept, dict):
            return [path or "(root)"]
        found = []
        for key, value in given.items():
            where = f"{path}.{key}" if path else str(key)
            found += [where] if key not in kept else _unknown_fields(value, kept[key], where)
        return found
    if isinstance(given, list) and isinstance(kept, list):
        return [
            f
            for i, (g, k) in enumerate(zip(given, kept, strict=False))
            for f in _unknown_fields(g, k, f"{path}[{i}]")
        ]
    return []


def _retry(retries: Any) -> m.RetryStrategy | None:
    if not isinstance(retries, Retry) or retries.limit == 0:
        return None
    backoff = None
    if retries.backoff is not None:
        backoff = m.Backoff(
            duration=retries.backoff.duration,
            factor=retries.backoff.factor,  # type: ignore[arg-type]
            max_duration=retries.backoff.max_duration,
        )
    # Argo's own default policy is OnFailure: write it only when it says something else.
    policy = None if retries.policy == "OnFailure" else retries.policy
    return m.RetryStrategy(
        limit=retries.limit,  # type: ignore[arg-type]
        retry_policy=policy,
        backoff=backoff,
    )


def _volume(volume: Volume) -> m.Volume:
    if volume.kind == "pvc":
        return m.Volume(
            name=volume.name,
            persistent_volume_claim=m.PersistentVolumeClaimVolumeSource(
                claim_name=volume.source or volume.name, read_only=volume.read_only or None
            ),
        )
    if volume.kind == "empty_dir":
        return m.Volume(
            name=volume.name,
            empty_dir=m.EmptyDirVolumeSource(
                medium=volume.medium,
                size_limit=volume.size_limit,  # type: ignore[arg-type]
            ),
        )
    if volume.kind == "secret":
        return m.Volume(name=volume.name, secret=m.SecretVolumeSource(secret_name=volume.source))
    if volume.kind == "config_map":
        return m.Volume(name=volume.name, config_map=m.ConfigMapVolumeSource(name=volume.source))
    raise ValueError(f"a claim is a volumeClaimTemplate, not a volume: {volume!r}")


def _claim(volume: Volume) -> m.PersistentVolumeClaim:
    return m.PersistentVolumeClaim(
        metadata=m.ObjectMeta(name=volume.name),
        spec=m.PersistentVolumeClaimSpec(
            access_modes=[volume.access_mode],
            storage_class_name=volume.storage_class,
            resources=m.VolumeResourceRequirements(
                requests={"storage": volume.size}  # type: ignore[dict-item]
            ),
        ),
    )


def _memoize(options: TaskOptions, task: TaskDef, *, flow: str) -> m.Memoize | None:
    cache = options.cache
    if cache is None:
        return None
    # The key names the task, its code and the cache version, then hashes the inputs. Argo's
    # cache accepts only keys matching ^[a-zA-Z0-9][-a-zA-Z0-9]*$, hence '-' between parts.
    key = f"{task.name}-{_code_version(task)}-v{_key_text(cache.version)}"
    # Artifact inputs are files, not parameters: the key covers the parameter inputs.
    params = [p for p in task.params if artifact_kind(p.annotation) is None]
    if params:
        joined = " + '|' + ".join(f"inputs.parameters['{p.name}']" for p in params)
        key += f"-{{{{=sprig.sha256sum({joined})}}}}"
    return m.Memoize(
        key=key,
        # Argo requires maxAge; "no expiry" is written as ten years.
        max_age=cache.max_age or NO_EXPIRY,
        cache=m.Cache(
            config_map=m.LocalObjectReference(name=cache.config_map or f"flowdsl-cache-{flow}")
        ),
    )


def _key_text(text: str) -> str:
    return "".join(c if c.isascii() and c.isalnum() else "-" for c in text)


def _code_version(task: TaskDef) -> str:
    """A short hash of the task's source (a change of code invalidates cached results)."""
    functions = [step.task.fn for step in task.steps] if task.steps else [task.fn]  # type: ignore[union-attr]
    digest = hashlib.sha256()
    for fn in functions:
        try:
            digest.update(inspect.getsource(fn).encode())
        except (OSError, TypeError):  # no source (built in a notebook cell, or C code)
            digest.update(f"{fn.__module__}.{fn.__qualname__}".encode())
    return digest.hexdigest()[:12]


# --------------------------------------------------------------------------------------------
# Workflow level
# --------------------------------------------------------------------------------------------


def workflow_fields(
    workflow: WorkflowOptions, claims: Sequence[Volume], flow: str
) -> dict[str, Any]:
    """Keyword arguments for ``m.WorkflowSpec`` from resolved workflow options."""
    shared = [v for v in workflow.volumes or () if v.kind != "claim"]
    all_claims = {
        v.name: v for v in [*(v for v in workflow.volumes or () if v.kind == "claim"), *claims]
    }
    synchronization = None
    if workflow.max_concurrent == 1:
        synchronization = m.Synchronization(mutexes=[m.Mutex(name=flow)])
    elif workflow.max_concurrent is not None:
        # Argo reads a semaphore's limit from a ConfigMap: the docs say to create
        # `flowdsl-semaphores` with the key <flow> set to the limit.
        synchronization = m.Synchronization(
            semaphores=[
                m.SemaphoreRef(
                    config_map_key_ref=m.ConfigMapKeySelector(name=SEMAPHORE_CONFIG_MAP, key=flow)
                )
            ]
        )
    return {
        "parallelism": workflow.parallelism,
        "service_account_name": workflow.service_account,
        "pod_priority_class_name": workflow.priority_class,
        "active_deadline_seconds": workflow.workflow_timeout,
        "pod_gc": m.PodGC(strategy=workflow.pod_gc) if workflow.pod_gc else None,
        "volumes": [_volume(v) for v in shared] or None,
        "volume_claim_templates": [_claim(v) for v in all_claims.values()] or None,
        "synchronization": synchronization,
        # Argo's convention: repositories are keys of the `artifact-repositories` ConfigMap.
        "artifact_repository_ref": m.ArtifactRepositoryRef(
            config_map="artifact-repositories", key=workflow.artifact_repository
        )
        if workflow.artifact_repository
        else None,
    }
