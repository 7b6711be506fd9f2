"""Lowering a flow's triggers: an Argo Events ``Sensor``, Argo's ``WorkflowEventBinding``.

Both submit the flow's WorkflowTemplate (``compile --kind all`` emits it first; ``schedule``
creates or updates it), so a triggered run is the template's run with some parameters
taken from the event.

The Sensor (one per flow, named after it) has, for each :class:`~flowdsl.EventTrigger`, a
dependency (event source, event name, data filters) and an ``argoWorkflow`` trigger whose
``conditions`` name that dependency alone, so each event starts its own run. The trigger's
source is a Workflow with ``workflowTemplateRef``; its ``parameters`` copy payload keys
(``dataKey``, gjson paths) into ``spec.arguments.parameters.<i>.value``, with the flow
parameter's default (if any) as the value used when the key is missing.

A :class:`~flowdsl.WebhookTrigger` becomes a WorkflowEventBinding: events posted to the Argo
Server at ``/api/v1/events/<namespace>/<discriminator>`` whose selector matches submit the
template, each mapped parameter read with ``valueFrom.event: payload.<key>``.

Built with Hera's models (``hera.events.models`` for the Sensor, ``hera.workflows.models``
for the binding). Hera's ``K8SResource`` cannot hold a structured object (it is a string
field), so the Sensor's embedded Workflow is placed in the dumped data.

Loaded lazily: it imports Hera.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hera.events import models as em
from hera.events.models.io.k8s.apimachinery.pkg.apis.meta.v1 import ObjectMeta as EventsMeta
from hera.workflows import models as m

from flowdsl import types as codecs
from flowdsl.errors import CompileError
from flowdsl.lint import lint
from flowdsl.lower import API_VERSION, FLOW_LABEL, to_dict
from flowdsl.scheduling import EventTrigger, WebhookTrigger, check_flow, webhook_name

if TYPE_CHECKING:
    from flowdsl.dsl import Flow
    from flowdsl.ir import FlowParam

__all__ = ["TRIGGER_LABEL", "binding_of", "compile_triggers", "sensor_of"]

#: Label on a triggered run: which trigger (the Sensor dependency) started it.
TRIGGER_LABEL = "flowdsl/trigger"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def compile_triggers(flow: Flow[Any, Any]) -> list[dict[str, Any]]:
    """The Sensor (if the flow has event triggers) and WorkflowEventBindings, as plain data.

    Raises:
        CompileError: a trigger maps a parameter the flow does not have, leaves a required
            one unmapped, or two triggers clash.
    """
    triggers = flow.flow_options.triggers
    check_flow(None, triggers, flow.name, flow.params, location=flow.location)
    documents: list[dict[str, Any]] = []
    events = [t for t in triggers if isinstance(t, EventTrigger)]
    if events:
        documents.append(sensor_of(flow.name, flow.params, events))
    for trigger in triggers:
        if isinstance(trigger, WebhookTrigger):
            documents.append(binding_of(flow.name, flow.params, trigger))
    return documents


def _default_text(param: FlowParam) -> str | None:
    if param.required:
        return None
    return codecs.codec_for(param.annotation).encode(param.default)


def _mapped(params: Sequence[FlowParam], mapping: Any) -> list[tuple[FlowParam, str]]:
    """``(parameter, payload key)`` pairs in the flow's parameter order."""
    by_name = {p.name: p for p in params}
    by_python = {p.python_name: p for p in params}
    chosen: dict[str, str] = {}
    for name, key in mapping.items():
        param = by_name.get(name) or by_python[name]  # check_flow ran: the name exists
        chosen[param.name] = key
    return [(p, chosen[p.name]) for p in params if p.name in chosen]


def _filter(path: str, values: Sequence[Any]) -> em.DataFilter:
    first = values[0]
    if isinstance(first, bool):
        kind, texts = "bool", ["true" if v else "false" for v in values]
    elif isinstance(first, int | float):
        kind, texts = "number", [repr(v) for v in values]
    else:
        # Argo Events reads a string filter as an unanchored regular expression; anchor and
        # escape it so that the value given is the value matched.
        kind, texts = "string", [f"^{re.escape(str(v))}$" for v in values]
    return em.DataFilter(path=path, type=kind, value=texts)


def sensor_of(
    flow_name: str, params: Sequence[FlowParam], triggers: Sequence[EventTrigger]
) -> dict[str, Any]:
    """The Sensor for a flow's event triggers (plain data, Argo Events' field names)."""
    accounts = {t.service_account for t in triggers if t.service_account}
    if len(accounts) > 1:
        raise CompileError(
            f"event triggers name different service accounts ({', '.join(sorted(accounts))}); "
            "one Sensor runs them all, under one account",
            fix="give every EventTrigger the same service_account",
            flow=flow_name,
        )
    dependencies = []
    sensor_triggers = []
    resources = []
    for trigger in triggers:
        key = trigger.key
        data = [_filter(path, values) for path, values in trigger.filters.items()]
        dependencies.append(
            em.EventDependency(
                name=key,
                event_source_name=trigger.source,
                event_name=trigger.event,
                filters=em.EventDependencyFilter(data=data) if data else None,
            )
        )
        mapped = _mapped(params, trigger.params)
        arguments = [
            {"name": param.name, "value": _default_text(param) or ""} for param, _ in mapped
        ]
        resource: dict[str, Any] = {
            "apiVersion": API_VERSION,
            "kind": "Workflow",
            "metadata": {
                "generateName": f"{flow_name}-",
                "labels": {FLOW_LABEL: flow_name, TRIGGER_LABEL: key},
            },
            "spec": {
                "workflowTemplateRef": {"name": flow_name},
                **({"arguments": {"parameters": arguments}} if arguments else {}),
            },
        }
        lint(resource)
        resources.append(resource)
        sensor_triggers.append(
            em.Trigger(
                template=em.TriggerTemplate(
                    name=key,
                    conditions=key,
                    argo_workflow=em.ArgoWorkflowTrigger(
                        operation="submit",
                        source=em.ArtifactLocation(),
                        parameters=[
                            em.TriggerParameter(
                                src=em.TriggerParameterSource(
                                    dependency_name=key,
                                    data_key=path,
                                    value=_default_text(param),
                                ),
                                dest=f"spec.arguments.parameters.{index}.value",
                            )
                            for index, (param, path) in enumerate(mapped)
                        ]
                        or None,
                    ),
                )
            )
        )
    template = em.Template(service_account_name=accounts.pop()) if accounts else None
    sensor = em.Sensor(
        metadata=EventsMeta(name=flow_name, labels={FLOW_LABEL: flow_name}),
        spec=em.SensorSpec(dependencies=dependencies, triggers=sensor_triggers, template=template),
    )
    body = sensor.model_dump(by_alias=True, exclude_none=True, mode="json")
    for trigger_doc, resource in zip(body["spec"]["triggers"], resources, strict=True):
        trigger_doc["template"]["argoWorkflow"]["source"] = {"resource": resource}
    document: dict[str, Any] = _name_first({"apiVersion": API_VERSION, "kind": "Sensor", **body})
    return document


def _name_first(value: Any) -> Any:
    # The same key order as flowdsl.lower.to_dict gives Argo manifests: `name` first.
    if isinstance(value, dict):
        ordered = {"name": value["name"]} if "name" in value else {}
        ordered.update((k, _name_first(v)) for k, v in value.items() if k != "name")
        return ordered
    if isinstance(value, list):
        return [_name_first(v) for v in value]
    return value


def _event_expression(path: str) -> str:
    parts = ["payload"]
    for segment in path.split("."):
        parts.append(f".{segment}" if _IDENTIFIER.fullmatch(segment) else f'["{segment}"]')
    return "".join(parts)


def binding_of(
    flow_name: str, params: Sequence[FlowParam], trigger: WebhookTrigger
) -> dict[str, Any]:
    """The WorkflowEventBinding of a webhook trigger (plain data, Argo's field names)."""
    discriminator = trigger.discriminator or flow_name
    selector = f'discriminator == "{discriminator}"'
    if trigger.selector:
        selector = f"{selector} && ({trigger.selector.strip()})"
    mapped = _mapped(params, trigger.params)
    arguments = (
        m.Arguments(
            parameters=[
                m.Parameter(name=param.name, value_from=m.ValueFrom(event=_event_expression(path)))
                for param, path in mapped
            ]
        )
        if mapped
        else None
    )
    binding = m.WorkflowEventBinding(
        api_version=API_VERSION,
        kind="WorkflowEventBinding",
        metadata=m.ObjectMeta(
            name=webhook_name(trigger, flow_name), labels={FLOW_LABEL: flow_name}
        ),
        spec=m.WorkflowEventBindingSpec(
            event=m.Event(selector=selector),
            submit=m.Submit(
                workflow_template_ref=m.WorkflowTemplateRef(name=flow_name),
                metadata=m.ObjectMeta(labels={FLOW_LABEL: flow_name}),
                arguments=arguments,
            ),
        ),
    )
    return to_dict(binding)  # type: ignore[arg-type]
