"""Strict check of Argo manifests against Argo's own JSON schema.

The schema is Argo Workflows' ``api/jsonschema/schema.json`` (v4.1, shipped unchanged as
package data in ``flowdsl/data/argo/``, see the NOTICE there). As published it is looser
than what Argo really accepts in some places and stricter in others, so it is adapted in
memory, once, to match ``argo lint --strict`` (the default of ``argo lint`` and
``argo submit``):

- Unknown fields are rejected everywhere: every object definition that lists its
  ``properties`` gets ``additionalProperties: false``; Go structs without fields
  (``NoneStrategy``, ``ZipStrategy``, ``SuppliedValueFrom``, ...) reject every key. Maps
  (``labels``, ``annotations``, ``nodeSelector``, ...) keep their own
  ``additionalProperties`` schema, and ``Plugin`` (an object with one free-form key) and
  ``FieldsV1`` (raw JSON) stay open.
- Scalars are widened to what Kubernetes and Argo decode: ``IntOrString`` (retry limits,
  ``activeDeadlineSeconds``, ``withSequence`` bounds, probe ports) accepts a string or an
  integer, ``Quantity`` (resource requests and limits) a string or a number, and Argo's
  ``AnyString`` fields (``Parameter.value``/``default``/``description``/``enum[]``,
  ``ValueFrom.default``) a string, a number or a boolean.

The definition is picked from ``kind`` (one of :data:`KINDS`), and ``apiVersion`` must be
:data:`API_VERSION`. This is a schema check only: name rules, references, ``{{...}}`` scopes,
DAG cycles and cron syntax are checked by :mod:`flowdsl.lint`.

``jsonschema`` is imported only when the first manifest is checked; the validators are built
once per process and cached, since a test run checks hundreds of manifests.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

__all__ = [
    "API_VERSION",
    "KINDS",
    "binding_schema_errors",
    "schema_errors",
    "sensor_schema_errors",
]

API_VERSION: Final = "argoproj.io/v1alpha1"
"""The only ``apiVersion`` of Argo Workflows resources."""

KINDS: Final = ("Workflow", "WorkflowTemplate", "CronWorkflow", "ClusterWorkflowTemplate")
"""The resource kinds :func:`schema_errors` knows."""

_PREFIX: Final = "io.argoproj.workflow.v1alpha1."
_INT_OR_STRING: Final = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_QUANTITY: Final = "io.k8s.apimachinery.pkg.api.resource.Quantity"
# Go type `AnyString`: Argo unmarshals a JSON string, number or boolean into a string.
_ANY_STRING_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    _PREFIX + "Parameter": ("default", "value", "description"),
    _PREFIX + "ValueFrom": ("default",),
}
_ANY_STRING_TYPES: Final = ["string", "number", "boolean"]
# Objects without `properties` that are free-form on the Go side (everything else without
# properties is an empty Go struct, which strict decoding closes to every key).
_OPEN_OBJECTS: Final = frozenset(
    {_PREFIX + "Plugin", "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1"}
)
_EVENTS_PREFIX: Final = "io.argoproj.events.v1alpha1."
# Free-form objects of the Argo Events schema: the resource a trigger creates, raw JSON.
_EVENTS_OPEN_OBJECTS: Final = frozenset(
    {
        _EVENTS_PREFIX + "K8SResource",
        "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
        "io.k8s.apimachinery.pkg.runtime.RawExtension",
        "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
    }
)
_SHORT_LIMIT: Final = 60
_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def schema_errors(doc: Mapping[str, Any]) -> list[str]:
    """Check one manifest against Argo's JSON schema in strict mode.

    Args:
        doc: the manifest as a plain mapping (camelCase keys, as in YAML), e.g. the result of
            ``yaml.safe_load``; tuples count as arrays and any mapping as an object.

    Returns:
        One ``"<path>: <message>"`` line per error, e.g.
        ``"$.spec.templates[0].foo: unknown field 'foo'"``, sorted by path (list indices in
        numeric order) then message; empty when the manifest is valid. The same manifest
        always gives the same list.
    """
    return _errors(doc, KINDS, _validator)


def sensor_schema_errors(doc: Mapping[str, Any]) -> list[str]:
    """Check an Argo Events ``Sensor`` against Argo Events' JSON schema in strict mode.

    The schema is Argo Events' ``api/jsonschema/schema.json`` (shipped as package data in
    ``flowdsl/data/argo-events/``, see the NOTICE there), adapted like Argo's: unknown fields
    are rejected, except inside the free-form objects (``K8SResource``, the resource a
    trigger creates, which :mod:`flowdsl.lint` and :func:`schema_errors` check as the
    Workflow it is). Same return value as :func:`schema_errors`.
    """
    return _errors(doc, ("Sensor",), _events_validator)


def binding_schema_errors(doc: Mapping[str, Any]) -> list[str]:
    """Check a ``WorkflowEventBinding`` against Argo's JSON schema in strict mode.

    Same return value as :func:`schema_errors`.
    """
    return _errors(doc, ("WorkflowEventBinding",), _validator)


def _errors(
    doc: Mapping[str, Any], kinds: Sequence[str], validator: Callable[[str], Validator]
) -> list[str]:
    untrusted: object = doc  # the local engine passes whatever a YAML file held
    if not isinstance(untrusted, Mapping):
        return [f"$: expected an object (a mapping), got {_json_type(untrusted)}"]
    kind = doc.get("kind")
    if not isinstance(kind, str) or kind not in kinds:
        known = ", ".join(kinds)
        return [f"$.kind: expected one of {known}, got {_short(kind)}"]
    found: dict[tuple[tuple[tuple[int, int, str], ...], str], str] = {}
    if doc.get("apiVersion") != API_VERSION:
        message = f"expected {_short(API_VERSION)}, got {_short(doc.get('apiVersion'))}"
        found[_sort_key(["apiVersion"], message)] = f"$.apiVersion: {message}"
    for error in validator(kind).iter_errors(doc):
        if error.validator == "const" and list(error.absolute_path) == ["apiVersion"]:
            continue  # reported above, also when apiVersion is missing
        for path, message in _describe(error):
            found[_sort_key(path, message)] = f"{_json_path(path)}: {message}"
    return [found[key] for key in sorted(found)]


@functools.cache
def _definitions() -> dict[str, Any]:
    """Load the shipped schema's definitions, adapted to Argo's strict decoding."""
    text = resources.files("flowdsl").joinpath("data/argo/schema.json").read_text("utf-8")
    definitions: dict[str, Any] = json.loads(text)["definitions"]
    _widen(definitions)
    _close(definitions)
    return definitions


def _widen(definitions: dict[str, Any]) -> None:
    definitions[_INT_OR_STRING] = {"type": ["string", "integer"]}
    definitions[_QUANTITY] = {**definitions[_QUANTITY], "type": ["string", "number"]}
    for name, fields in _ANY_STRING_FIELDS.items():
        properties = definitions[name]["properties"]
        for field in fields:
            properties[field] = {**properties[field], "type": _ANY_STRING_TYPES}
    enum = definitions[_PREFIX + "Parameter"]["properties"]["enum"]
    enum["items"] = {**enum["items"], "type": _ANY_STRING_TYPES}


def _close(definitions: dict[str, Any]) -> None:
    # The definitions hold no inline object schemas with their own properties (all nesting
    # goes through $ref), so closing the top-level definitions closes every object.
    for name, definition in definitions.items():
        if "additionalProperties" in definition or definition.get("type") != "object":
            continue
        if "properties" in definition or name not in _OPEN_OBJECTS:
            definition["additionalProperties"] = False


@functools.cache
def _events_definitions() -> dict[str, Any]:
    """Argo Events' schema definitions, closed to unknown fields like Argo's."""
    text = resources.files("flowdsl").joinpath("data/argo-events/schema.json").read_text("utf-8")
    definitions: dict[str, Any] = json.loads(text)["definitions"]
    for name, definition in definitions.items():
        if "additionalProperties" in definition or definition.get("type") != "object":
            continue
        if "properties" in definition or name not in _EVENTS_OPEN_OBJECTS:
            definition["additionalProperties"] = False
    return definitions


@functools.cache
def _events_validator(kind: str) -> Validator:
    return _build_validator(_events_definitions(), f"{_EVENTS_PREFIX}{kind}")


@functools.cache
def _validator(kind: str) -> Validator:
    return _build_validator(_definitions(), f"{_PREFIX}{kind}")


def _build_validator(definitions: dict[str, Any], ref: str) -> Validator:
    import jsonschema

    # Manifests built in Python may hold tuples or read-only mappings: accept them as the
    # arrays and objects they will be once dumped.
    base = jsonschema.Draft202012Validator
    checker = base.TYPE_CHECKER.redefine_many(
        {
            "object": lambda _checker, instance: isinstance(instance, Mapping),
            "array": lambda _checker, instance: isinstance(instance, list | tuple),
        }
    )
    # types-jsonschema leaves `extend` untyped.
    cls = jsonschema.validators.extend(base, type_checker=checker)  # type: ignore[no-untyped-call]
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "definitions": definitions,
        "$ref": f"#/definitions/{ref}",
    }
    validator: Validator = cls(schema)
    return validator


def _describe(error: ValidationError) -> Iterable[tuple[list[str | int], str]]:
    """Turn one jsonschema error into ``(path, message)`` pairs in flowdsl's words."""
    path: list[str | int] = list(error.absolute_path)
    instance = error.instance
    if error.validator == "additionalProperties" and isinstance(instance, Mapping):
        known = error.schema.get("properties", {}) if isinstance(error.schema, Mapping) else {}
        for key in instance:
            if key not in known:
                yield [*path, str(key)], f"unknown field {_quote(key)}"
    elif error.validator == "required" and isinstance(instance, Mapping):
        required = error.validator_value if isinstance(error.validator_value, list) else []
        for key in required:
            if key not in instance:
                yield [*path, key], f"missing required field {_quote(key)}"
    elif error.validator == "type":
        want = error.validator_value
        wanted = " or ".join(want) if isinstance(want, list) else str(want)
        yield path, f"expected {wanted}, got {_json_type(instance)} {_short(instance)}"
    elif error.validator == "const":
        yield path, f"expected {_short(error.validator_value)}, got {_short(instance)}"
    elif error.validator == "enum":
        yield path, f"expected one of {_short(error.validator_value)}, got {_short(instance)}"
    else:
        yield path, error.message


def _json_path(parts: Sequence[str | int]) -> str:
    out = ["$"]
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _IDENTIFIER.fullmatch(part):
            out.append(f".{part}")
        else:
            # Map keys such as `app.kubernetes.io/name` cannot be written with dots.
            out.append(f"[{json.dumps(part)}]")
    return "".join(out)


def _sort_key(
    parts: Sequence[str | int], message: str
) -> tuple[tuple[tuple[int, int, str], ...], str]:
    # Indices sort as numbers ([2] before [10]) and before keys at the same depth.
    return (
        tuple((0, part, "") if isinstance(part, int) else (1, 0, part) for part in parts),
        message,
    )


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


def _quote(key: object) -> str:
    return f"'{key}'"


def _short(value: object) -> str:
    try:
        text = json.dumps(value, sort_keys=True, default=repr)
    except (TypeError, ValueError):  # keys of mixed types cannot be sorted
        text = repr(value)
    if len(text) <= _SHORT_LIMIT:
        return text
    return text[: _SHORT_LIMIT - 3] + "..."
