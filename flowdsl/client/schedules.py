"""Schedules and triggers on the Argo Server: create or update, suspend, resume, delete, list.

:func:`apply` creates or updates what ``compile --kind all`` emits (the WorkflowTemplate,
the CronWorkflow, the Sensor) and is idempotent: a resource whose spec, labels and
annotations already are what the flow declares is left alone (reported ``unchanged``), so
running ``schedule`` twice changes nothing the second time. An update keeps the labels and
annotations others added (Argo's ``creator`` labels), and keeps a CronWorkflow suspended if
someone suspended it on the server, unless the flow itself declares ``suspend=True``
(``schedule --resume`` resumes it).

What the Argo Server cannot do is said, not hidden:

- Sensors go through the Argo Server's Sensor API, which works only when Argo Events is
  installed in the cluster; otherwise the server answers 404 and :func:`apply` says so.
- WorkflowEventBindings can only be *listed* through the Argo Server (its API has no create
  or update): :func:`apply` reports a binding ``unchanged`` when the server holds the same
  one, else ``not applied``, with the ``kubectl apply`` that does it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from flowdsl.client.errors import ClientError, ConflictError, NotFoundError
from flowdsl.scheduling import Schedule, describe, next_times, zone_of

if TYPE_CHECKING:
    from flowdsl.client.client import Client

__all__ = ["Applied", "CronRow", "apply", "cron_rows", "delete", "render_cron_rows"]

Action = Literal["created", "updated", "unchanged", "not applied", "deleted", "not found"]
_TRIES = 3


@dataclass(frozen=True, slots=True)
class Applied:
    """What :func:`apply` (or :func:`delete`) did with one resource.

    Attributes:
        kind: ``WorkflowTemplate``, ``CronWorkflow``, ``Sensor`` or ``WorkflowEventBinding``.
        name: the resource's name.
        action: ``created``, ``updated``, ``unchanged``, ``not applied``, ``deleted`` or
            ``not found``.
        note: why, when it is worth saying (``kept suspended``, how to apply a binding).
    """

    kind: str
    name: str
    action: Action
    note: str = ""

    def line(self) -> str:
        """One line for the CLI: ``cron workflow nightly: updated (kept suspended)``."""
        noun = {
            "WorkflowTemplate": "workflow template",
            "CronWorkflow": "cron workflow",
            "Sensor": "sensor",
            "WorkflowEventBinding": "workflow event binding",
        }.get(self.kind, self.kind)
        note = f" ({self.note})" if self.note else ""
        return f"{noun} {self.name}: {self.action}{note}"


def _plain(value: Any) -> Any:
    # Compare as JSON would: the server answers JSON, the manifest may hold tuples.
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _field(doc: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = doc.get(key)
    return value if isinstance(value, Mapping) else {}


def _metadata(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    return _field(doc, "metadata")


def _same(desired: Mapping[str, Any], existing: Mapping[str, Any]) -> bool:
    if _plain(desired.get("spec")) != _plain(existing.get("spec")):
        return False
    for key in ("labels", "annotations"):
        want = _metadata(desired).get(key) or {}
        have = _metadata(existing).get(key) or {}
        if any(have.get(k) != v for k, v in want.items()):
            return False
    return True


def _merged(desired: Mapping[str, Any], existing: Mapping[str, Any]) -> dict[str, Any]:
    """``desired``, keeping the labels and annotations others put on ``existing``."""
    document = json.loads(json.dumps(desired, default=str))
    metadata = document.setdefault("metadata", {})
    for key in ("labels", "annotations"):
        merged = {**(_metadata(existing).get(key) or {}), **(metadata.get(key) or {})}
        if merged:
            metadata[key] = merged
    return document  # type: ignore[no-any-return]


def apply(
    client: Client, documents: Sequence[Mapping[str, Any]], *, flow: str | None = None
) -> list[Applied]:
    """Create or update each document on the server, in order (see the module docstring).

    Raises:
        RejectedError: Argo refused a manifest (its message says why).
        ClientError: the server has no Sensor API (Argo Events is not installed), or a
            resource kept changing under the update.
    """
    results = []
    for document in documents:
        kind = str(document.get("kind"))
        if kind == "WorkflowEventBinding":
            results.append(_binding(client, document))
        else:
            results.append(_apply_one(client, document, flow))
    return results


def _apply_one(client: Client, document: Mapping[str, Any], flow: str | None) -> Applied:
    kind = str(document.get("kind"))
    name = str(_metadata(document).get("name"))
    for attempt in range(1, _TRIES + 1):
        try:
            existing = client.get_resource(kind, name)
        except NotFoundError as exc:
            if kind == "Sensor" and not _names_resource(exc, name):
                raise _no_events(client) from None
            try:
                client.create_resource(document, flow=flow)
            except NotFoundError:
                if kind == "Sensor":
                    raise _no_events(client) from None
                raise
            except ConflictError:  # created meanwhile (or by a lost attempt): look again
                continue
            return Applied(kind, name, "created")
        desired = dict(document)
        note = ""
        if kind == "CronWorkflow":
            spec = dict(desired.get("spec") or {})
            if (existing.get("spec") or {}).get("suspend") and not spec.get("suspend"):
                spec["suspend"] = True
                desired["spec"] = spec
                note = "kept suspended; resume it with schedule --resume"
        if _same(desired, existing):
            return Applied(kind, name, "unchanged", note)
        version = str(_metadata(existing).get("resourceVersion") or "")
        try:
            client.update_resource(_merged(desired, existing), resource_version=version, flow=flow)
        except ConflictError:  # changed since we read it: read it again
            if attempt == _TRIES:
                raise
            continue
        return Applied(kind, name, "updated", note)
    raise ClientError(  # pragma: no cover - the loop returns or raises
        f"{kind} '{name}' kept changing while it was being updated",
        fix="try again",
    )


def _names_resource(exc: NotFoundError, name: str) -> bool:
    # "sensors.argoproj.io "x" not found" names the resource; a missing API does not.
    return f'"{name}"' in exc.server_message or "not found" in exc.server_message.lower()


def _no_events(client: Client) -> ClientError:
    return ClientError(
        f"the Argo Server at {client.connection.url} has no Sensor API in namespace "
        f"'{client.namespace}': Argo Events is not installed in the cluster, or the server "
        "cannot reach it",
        fix="install Argo Events (https://argoproj.github.io/argo-events/), or apply the "
        "Sensor with kubectl: python -m flowdsl compile TARGET --kind all | kubectl apply -f -",
    )


def _binding(client: Client, document: Mapping[str, Any]) -> Applied:
    name = str(_metadata(document).get("name"))
    how = (
        "the Argo Server can only list WorkflowEventBindings; apply it with kubectl: "
        "python -m flowdsl compile TARGET --kind all | kubectl apply -f -"
    )
    try:
        existing = client.list_resources("WorkflowEventBinding")
    except NotFoundError:
        return Applied("WorkflowEventBinding", name, "not applied", how)
    for item in existing:
        if _metadata(item).get("name") == name and _same(document, item):
            return Applied("WorkflowEventBinding", name, "unchanged")
    return Applied("WorkflowEventBinding", name, "not applied", how)


def delete(client: Client, documents: Sequence[Mapping[str, Any]]) -> list[Applied]:
    """Delete the CronWorkflow and Sensor among ``documents`` (the schedule and triggers).

    The WorkflowTemplate stays (``submit --from-template`` may use it); bindings are
    reported, since the Argo Server cannot delete them.
    """
    results = []
    for document in documents:
        kind = str(document.get("kind"))
        name = str(_metadata(document).get("name"))
        if kind in ("CronWorkflow", "Sensor"):
            try:
                client.delete_resource(kind, name)
            except NotFoundError:
                results.append(Applied(kind, name, "not found", "nothing to delete"))
                continue
            results.append(Applied(kind, name, "deleted"))
        elif kind == "WorkflowEventBinding":
            results.append(
                Applied(
                    kind,
                    name,
                    "not applied",
                    f"the Argo Server cannot delete it: kubectl delete workfloweventbinding "
                    f"{name} -n {client.namespace}",
                )
            )
    return results


# --------------------------------------------------------------------------------------------
# cron list
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CronRow:
    """One CronWorkflow as ``cron list`` shows it.

    Attributes:
        name: the CronWorkflow's name.
        words: its schedule in words (``At 03:00, Europe/Paris``), or its lines as written.
        last_run: ``status.lastScheduledTime``, if it ran.
        next_run: the next scheduled time (None when suspended or unreadable).
        suspended: whether it is suspended.
        zone: the zone its times are shown in.
    """

    name: str
    words: str
    last_run: dt.datetime | None
    next_run: dt.datetime | None
    suspended: bool
    zone: dt.tzinfo


def _parse_time(text: object) -> dt.datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def cron_rows(items: Sequence[Mapping[str, Any]], *, now: dt.datetime) -> list[CronRow]:
    """Rows for ``cron list`` from the server's CronWorkflows, next runs counted from ``now``."""
    from flowdsl.errors import FlowDSLError

    rows = []
    for item in items:
        spec = _field(item, "spec")
        lines = [str(line) for line in spec.get("schedules") or []]
        zone: dt.tzinfo = dt.timezone.utc
        suspended = bool(spec.get("suspend"))
        try:
            schedule = Schedule(lines, timezone=spec.get("timezone") or None)
        except FlowDSLError:  # written by hand, outside flowdsl's rules: show it as it is
            words = "; ".join(lines) or "-"
            next_run = None
        else:
            zone = zone_of(schedule)
            words = describe(schedule)
            next_run = None if suspended else next_times(schedule, 1, after=now)[0]
        status = _field(item, "status")
        rows.append(
            CronRow(
                name=str(_metadata(item).get("name") or "?"),
                words=words,
                last_run=_parse_time(status.get("lastScheduledTime")),
                next_run=next_run,
                suspended=suspended,
                zone=zone,
            )
        )
    return rows


def _ago(delta: dt.timedelta) -> str:
    seconds = int(abs(delta.total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _when(value: dt.datetime, zone: dt.tzinfo, now: dt.datetime) -> str:
    local = value.astimezone(zone)
    text = local.strftime("%Y-%m-%d %H:%M %Z")
    delta = value - now
    relative = f"in {_ago(delta)}" if delta.total_seconds() >= 0 else f"{_ago(delta)} ago"
    return f"{text} ({relative})"


def render_cron_rows(rows: Sequence[CronRow], *, now: dt.datetime) -> str:
    """The ``cron list`` table: NAME, SCHEDULE, LAST RUN, NEXT RUN."""
    table = [("NAME", "SCHEDULE", "LAST RUN", "NEXT RUN")]
    for row in rows:
        last = _when(row.last_run, row.zone, now) if row.last_run else "never"
        if row.suspended:
            upcoming = "suspended"
        elif row.next_run is None:
            upcoming = "-"
        else:
            upcoming = _when(row.next_run, row.zone, now)
        table.append((row.name, row.words, last, upcoming))
    widths = [max(len(line[i]) for line in table) for i in range(3)]
    return "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line[:3], widths, strict=True))
        + "  "
        + line[3]
        + "\n"
        for line in table
    )
