"""Argo's ``spec.templateDefaults``: how a workflow's template defaults merge into a template.

flowdsl writes the container fields every leaf template shares (the runtime command, the
pull policy, resources, the run-context variables) once, in ``spec.templateDefaults``,
instead of once per template (:func:`flowdsl.lower.hoist_template_defaults`). The lint and
the local engine read a template the way Argo's controller runs it, merged with those
defaults, through :func:`merge_template_defaults`. Standard library only.

NOTE: [Template defaults]
Argo's controller (``mergedTemplateDefaultsInto``, workflow/controller/operator.go) merges
before it substitutes a template's variables: a Kubernetes strategic merge patch of the
template onto the defaults, then ``Template.SetType`` with the template's own type. So:

- maps merge key by key, the template winning; scalars and lists without a merge key are
  the template's when it has them;
- a list whose Go field has a patch merge key merges item by item on that key: the
  defaults' items in their order (each merged with the template's item of the same key),
  then the template's other items (``env`` by ``name``, ``volumeMounts`` by ``mountPath``,
  ``volumes`` by ``name``, ...);
- ``SetType`` keeps only the template's own type among steps, dag, container, script,
  resource, data and suspend, so a ``container`` default never reaches a DAG or a script
  template (a script template needs ``script`` defaults), while every template-level
  default (``retryStrategy``, ``activeDeadlineSeconds``, ...) reaches every template,
  DAGs included. That is why flowdsl only ever writes ``container``/``script`` fields
  there.
- Variables in the defaults are substituted per template after the merge
  (``{{pod.name}}`` resolves in each pod), and Argo's validation of a template does not
  see them: flowdsl's lint checks every leaf template merged, as it will run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = ["SET_TYPES", "TEMPLATE_TYPES", "merge_template_defaults", "template_type"]

#: Template types in the order Argo's ``Template.GetType`` tests them.
TEMPLATE_TYPES: Final = (
    "container",
    "containerSet",
    "steps",
    "dag",
    "script",
    "resource",
    "data",
    "suspend",
    "http",
    "plugin",
)
#: The types ``Template.SetType`` sets (and clears the others of).
SET_TYPES: Final = frozenset({"steps", "dag", "container", "script", "resource", "data", "suspend"})

#: Patch merge keys of a container's lists (``k8s.io/api/core/v1.Container``).
_CONTAINER_KEYS: Final = {
    "env": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
    "volumeDevices": "devicePath",
}
#: Patch merge keys of a template's lists (Argo's ``Template``).
_TEMPLATE_KEYS: Final = {
    "volumes": "name",
    "tolerations": "key",
    "initContainers": "name",
    "sidecars": "name",
    "hostAliases": "ip",
}
#: Fields whose value (or list items) are containers, merged with the container keys.
_CONTAINER_FIELDS: Final = frozenset({"container", "script", "initContainers", "sidecars"})


def template_type(template: Mapping[str, Any]) -> str | None:
    """The template's type as Argo's ``GetType`` sees it, or ``None`` if it has none."""
    for kind in TEMPLATE_TYPES:
        if template.get(kind) is not None:
            return kind
    return None


def merge_template_defaults(
    defaults: Mapping[str, Any], template: Mapping[str, Any]
) -> dict[str, Any]:
    """``template`` as Argo runs it under ``spec.templateDefaults`` ``defaults``.

    Neither argument is changed. The result is new wherever the two were merged and shares
    everything else with them (a DAG's tasks are not copied): copy it before changing it.
    """
    own = template_type(template)
    merged = _merge_map(defaults, template, _TEMPLATE_KEYS)
    if own in SET_TYPES:
        for kind in SET_TYPES - {own}:
            merged.pop(kind, None)
    return merged


def _merge_map(
    defaults: Mapping[str, Any], value: Mapping[str, Any], list_keys: Mapping[str, str]
) -> dict[str, Any]:
    merged = dict(defaults)
    for key, item in value.items():
        if key not in merged:
            merged[key] = item
            continue
        keys = _CONTAINER_KEYS if key in _CONTAINER_FIELDS else {}
        base = merged[key]
        if isinstance(base, Mapping) and isinstance(item, Mapping):
            merged[key] = _merge_map(base, item, keys)
        elif isinstance(base, list) and isinstance(item, list) and key in list_keys:
            merged[key] = _merge_list(base, item, list_keys[key], keys)
        else:
            merged[key] = item
    return merged


def _merge_list(
    defaults: list[Any], value: list[Any], merge_key: str, item_keys: Mapping[str, str]
) -> list[Any]:
    merged = list(defaults)
    position = {
        item.get(merge_key): index
        for index, item in enumerate(merged)
        if isinstance(item, Mapping) and merge_key in item
    }
    for item in value:
        index = position.get(item.get(merge_key)) if isinstance(item, Mapping) else None
        if index is None:
            merged.append(item)
        else:
            merged[index] = _merge_map(merged[index], item, item_keys)
    return merged
