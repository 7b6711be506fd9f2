"""Schedules and event triggers of a flow: declaring them, checking them, reading them.

What a user writes::

    from flowdsl import Schedule, ScheduledTime, EventTrigger, flow

    @flow(image="ghcr.io/acme/ml:1.4",
          schedule=Schedule(["0 3 * * *", "30 12 * * 6"], timezone="Europe/Paris",
                            concurrency="Forbid"))
    def nightly(run_at: ScheduledTime, source: str = "s3://bucket/raw.csv") -> float: ...

    @flow(triggers=[EventTrigger("minio", "new-object", params={"key": "Records.0.s3.object.key"})])
    def retrain(key: str, lr: float = 0.01) -> float: ...

A schedule is checked here, when it is declared, with Argo's own rules rather than a looser
library's (robfig/cron's ``ParseStandard``, which the Argo controller uses): exactly five
fields or a descriptor (``@daily``, ``@every 1h30m``), minutes 0-59, hours 0-23, days 1-31,
months 1-12 (or ``jan``-``dec``), weekdays 0-6 (or ``sun``-``sat``; 7 is an error in Argo),
no seconds field; the time zone is an IANA name; the CronWorkflow name (the flow's) has at
most 52 characters; every flow parameter has a default, except the scheduled time.

NOTE: [Scheduled time]
A flow parameter declared ``run_at: ScheduledTime`` (a ``datetime``) receives the time the
run was scheduled for. In Argo, the cron controller stamps each run it creates with the
annotation ``workflows.argoproj.io/scheduled-time`` (RFC 3339), which the workflow
controller exposes as ``{{workflow.scheduledTime}}``. Argo resolves global variables in
``spec.arguments`` and, since ``workflow.parameters.X`` keeps the raw text of an argument,
again in each template's input values ("globals could be referenced in the inputs",
``SubstituteParams``) -- so an argument whose value is a global-variable tag reaches every
task resolved. The parameter's value is therefore:

- in a CronWorkflow: ``{{workflow.scheduledTime}}`` (the scheduled instant, in the
  schedule's time zone);
- in a Workflow or WorkflowTemplate (manual and event-driven runs):
  ``{{workflow.creationTimestamp}}``, i.e. "now" (set by Kubernetes on every run, so it is
  never left unresolved, which ``{{workflow.scheduledTime}}`` would be outside cron runs);
- in a backfill: the chosen time, as a literal value (and the run carries the same
  annotation as a cron run, so ``{{workflow.scheduledTime}}`` agrees);
- in a local run: "now", or ``run --at TIME``; the local engine resolves both variables
  the same way.

This module imports only the standard library and :mod:`flowdsl.errors` (``croniter`` is
loaded when next-run times are computed): ``@flow(schedule=...)`` runs at import time of a
user's module, and in every pod.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import heapq
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal, NewType, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flowdsl.errors import CompileError, FlowDSLError, OptionError

if TYPE_CHECKING:
    from flowdsl.dsl import Flow
    from flowdsl.ir import FlowParam

__all__ = [
    "CRON_NAME_LIMIT",
    "SCHEDULED_TIME_ANNOTATION",
    "SCHEDULED_TIME_CRON",
    "SCHEDULED_TIME_DEFAULT",
    "Concurrency",
    "EventTrigger",
    "Schedule",
    "ScheduledTime",
    "Trigger",
    "WebhookTrigger",
    "as_schedule",
    "as_triggers",
    "check_flow",
    "describe",
    "is_scheduled_time",
    "next_times",
    "parse_time",
    "schedule",
    "times_between",
    "zone_of",
]

#: A flow parameter of this type receives the run's scheduled time (see the module's NOTE).
ScheduledTime = NewType("ScheduledTime", dt.datetime)

#: Argo's limit on a CronWorkflow's name: its runs are named ``<name>-<unix time>`` (63).
CRON_NAME_LIMIT: Final = 52
#: The annotation Argo's cron controller puts on each run: its scheduled time, RFC 3339.
SCHEDULED_TIME_ANNOTATION: Final = "workflows.argoproj.io/scheduled-time"
#: The value of a ScheduledTime parameter in a Workflow or WorkflowTemplate: "now".
SCHEDULED_TIME_DEFAULT: Final = "{{workflow.creationTimestamp}}"
#: Its value in a CronWorkflow: the time the run was scheduled for.
SCHEDULED_TIME_CRON: Final = "{{workflow.scheduledTime}}"

Concurrency: TypeAlias = Literal["Allow", "Forbid", "Replace"]
_CONCURRENCY: Final = ("Allow", "Forbid", "Replace")
_BY_POLICY: Final[Mapping[str, Concurrency]] = {
    "Allow": "Allow",
    "Forbid": "Forbid",
    "Replace": "Replace",
}

# robfig/cron's descriptors, as the five-field lines they stand for.
_DESCRIPTORS: Final = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS: Final = (
    "jan",
    "feb",
    "mar",
    "apr",
    "may",
    "jun",
    "jul",
    "aug",
    "sep",
    "oct",
    "nov",
    "dec",
)
_WEEKDAYS: Final = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_MONTH_NAMES: Final = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_DAY_NAMES: Final = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
# (name, minimum, maximum, names) of the five fields, in order.
_FIELDS: Final = (
    ("minute", 0, 59, None),
    ("hour", 0, 23, None),
    ("day-of-month", 1, 31, None),
    ("month", 1, 12, {m: i + 1 for i, m in enumerate(_MONTHS)}),
    ("day-of-week", 0, 6, {d: i for i, d in enumerate(_WEEKDAYS)}),
)
_FIELD_LIST: Final = "minute hour day-of-month month day-of-week"
_EXAMPLE_CRON: Final = "'0 3 * * *'"
_EXAMPLE: Final = f"{_EXAMPLE_CRON} (every day at 03:00)"
_GO_INT: Final = re.compile(r"[+-]?[0-9]+")
# Go's time.ParseDuration: a sequence of decimal numbers, each with a unit.
_GO_DURATION: Final = re.compile(r"(?:[0-9]*(?:\.[0-9]*)?(?:ns|us|µs|μs|ms|s|m|h))+")
_DURATION_PART: Final = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS: Final = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_NAME: Final = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_PATH: Final = re.compile(r"[^\s]+")


# --------------------------------------------------------------------------------------------
# Schedule
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, init=False)
class Schedule:
    """When a flow runs on its own: one or more cron lines and how the runs behave.

    It lowers to an Argo ``CronWorkflow`` (``schedules``, ``timezone``,
    ``concurrencyPolicy``, ``startingDeadlineSeconds``, history limits, ``suspend``,
    ``stopStrategy``).

    Args:
        cron: a cron line (``"0 3 * * *"``, ``"@daily"``, ``"@every 1h30m"``) or a list of
            them; the flow runs at every time any of them names.
        timezone: the IANA time zone the lines are read in (``"Europe/Paris"``); default:
            the Argo controller's own (usually UTC).
        concurrency: what a run does when the previous one is still running: ``"Allow"``
            (run anyway), ``"Forbid"`` (skip this run) or ``"Replace"`` (stop the old run).
        starting_deadline: how late a missed run may still start (seconds, a
            ``timedelta``, or a duration such as ``"10m"``); default: no limit.
        history: how many finished runs Argo keeps, ``(successful, failed)``; default
            Argo's ``(3, 1)``.
        suspend: declare the schedule suspended (no runs until resumed).
        stop_after_failures: stop scheduling once this many runs have failed.

    Raises:
        OptionError: a value breaks Argo's rules; the message names the field and shows a
            valid form.
    """

    crons: tuple[str, ...]
    timezone: str | None
    concurrency: Concurrency
    starting_deadline: int | None
    history: tuple[int, int] | None
    suspend: bool
    stop_after_failures: int | None

    def __init__(
        self,
        cron: str | Sequence[str],
        *,
        timezone: str | None = None,
        concurrency: Concurrency = "Allow",
        starting_deadline: int | float | dt.timedelta | str | None = None,
        history: tuple[int, int] | None = None,
        suspend: bool = False,
        stop_after_failures: int | None = None,
    ) -> None:
        set_ = object.__setattr__  # frozen: fields are set once, here
        set_(self, "crons", _crons(cron))
        set_(self, "timezone", _timezone(timezone))
        set_(self, "concurrency", _concurrency(concurrency))
        set_(self, "starting_deadline", _deadline(starting_deadline))
        set_(self, "history", _history(history))
        if not isinstance(suspend, bool):
            raise _option("suspend", f"must be True or False (got {suspend!r})", "suspend=True")
        set_(self, "suspend", suspend)
        set_(self, "stop_after_failures", _stop_after(stop_after_failures))

    def replace(self, **changes: Any) -> Schedule:
        """A copy with some fields changed (``cron=`` for the lines), checked again."""
        values: dict[str, Any] = {
            "cron": self.crons,
            "timezone": self.timezone,
            "concurrency": self.concurrency,
            "starting_deadline": self.starting_deadline,
            "history": self.history,
            "suspend": self.suspend,
            "stop_after_failures": self.stop_after_failures,
        }
        unknown = set(changes) - set(values)
        if unknown:
            raise OptionError(
                f"Schedule has no field(s) {', '.join(sorted(unknown))}",
                fix=f"use one of: {', '.join(values)}",
            )
        values.update(changes)
        cron = values.pop("cron")
        return Schedule(cron, **values)

    @property
    def words(self) -> str:
        """The schedule in words, e.g. ``"At 03:00, Europe/Paris"`` (see :func:`describe`)."""
        return describe(self)


def _option(field: str, problem: str, example: str | None = None) -> OptionError:
    fix = f"write e.g. Schedule(..., {example})" if example else None
    return OptionError(problem, fix=fix, parameter=field)


def _crons(value: object) -> tuple[str, ...]:
    items: list[object]
    if isinstance(value, str):
        items = [value]
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        items = list(value)
    else:
        raise OptionError(
            f"a schedule is a cron line or a list of them (got {value!r})",
            fix=f"write e.g. Schedule({_EXAMPLE_CRON})",
            parameter="schedule",
        )
    if not items:
        raise OptionError(
            "the list of cron lines is empty",
            fix=f"give at least one, e.g. {_EXAMPLE}",
            parameter="schedule",
        )
    crons: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise OptionError(
                f"a cron line must be a string (got {item!r})",
                fix=f"write e.g. {_EXAMPLE}",
                parameter="schedule",
            )
        text = " ".join(item.split())
        problem = cron_problem(text)
        if problem is not None:
            raise OptionError(problem[0], fix=problem[1], parameter="schedule")
        if text in crons:
            raise OptionError(
                f"cron line {text!r} is listed twice", fix="list it once", parameter="schedule"
            )
        crons.append(text)
    return tuple(crons)


def _timezone(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _option(
            "timezone",
            f"must be an IANA time zone name (got {value!r})",
            "timezone='Europe/Paris'",
        )
    if not _is_zone(value):
        import zoneinfo

        close = difflib.get_close_matches(value, sorted(zoneinfo.available_timezones()), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise OptionError(
            f"{value!r} is not an IANA time zone name",
            fix=f"{hint}use a name of the tz database, e.g. timezone='Europe/Paris', 'UTC' "
            "or 'America/New_York'",
            parameter="timezone",
        )
    return value


def _is_zone(name: str) -> bool:
    # Go's time.LoadLocation reads the same database; "Local" means the controller's zone,
    # which is not a portable choice, so only real names pass.
    if name in ("Local", "localtime") or name.startswith("/"):
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _concurrency(value: object) -> Concurrency:
    if isinstance(value, str) and value in _BY_POLICY:
        return _BY_POLICY[value]
    close = [c for c in _CONCURRENCY if isinstance(value, str) and c.lower() == value.lower()]
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise OptionError(
        f"must be 'Allow', 'Forbid' or 'Replace' (got {value!r})",
        fix=f"{hint}'Forbid' skips a run while the previous one runs, 'Replace' stops the "
        "previous one, 'Allow' runs both",
        parameter="concurrency",
    )


def _deadline(value: object) -> int | None:
    if value is None:
        return None
    seconds: float
    if isinstance(value, bool):
        seconds = -1.0
    elif isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, str):
        parsed = go_duration(value)
        seconds = -1.0 if parsed is None else parsed
    else:
        seconds = -1.0
    if seconds < 0 or seconds != int(seconds):
        raise OptionError(
            f"must be a whole number of seconds, 0 or more (got {value!r})",
            fix="write e.g. starting_deadline=600, starting_deadline='10m' or "
            "starting_deadline=timedelta(minutes=10)",
            parameter="starting_deadline",
        )
    return int(seconds)


def _history(value: object) -> tuple[int, int] | None:
    if value is None:
        return None
    if (
        isinstance(value, tuple | list)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
    ):
        return (int(value[0]), int(value[1]))
    raise _option(
        "history",
        "must be (successful, failed): how many finished runs of each kind to keep, each 0 "
        f"or more (got {value!r})",
        "history=(3, 1)",
    )


def _stop_after(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise _option(
        "stop_after_failures",
        f"must be a whole number, 1 or more (got {value!r})",
        "stop_after_failures=3",
    )


# --------------------------------------------------------------------------------------------
# Argo's cron rules
# --------------------------------------------------------------------------------------------


def go_duration(text: str) -> float | None:
    """Seconds of a Go duration (``"1h30m"``, ``"90s"``), or None when it is not one."""
    text = text.strip()
    if not text or not _GO_DURATION.fullmatch(text):
        return None
    total = 0.0
    for number, unit in _DURATION_PART.findall(text):
        if number in ("", "."):
            return None
        total += float(number) * _UNIT_SECONDS[unit]
    return total


def cron_problem(text: str) -> tuple[str, str] | None:
    """Why Argo rejects the cron line ``text``, as ``(problem, fix)``; None when it is valid.

    The rules are robfig/cron's ``ParseStandard`` (what Argo's controller uses), without the
    inline ``CRON_TZ=`` prefix (a :class:`Schedule` has ``timezone=`` for that).
    """
    spec = text.strip()
    if not spec:
        return "the cron line is empty", f"write e.g. {_EXAMPLE}"
    if spec.startswith(("TZ=", "CRON_TZ=")):
        zone, _, rest = spec.partition(" ")
        return (
            f"cron line {spec!r} sets its time zone inline ({zone!r})",
            f"write Schedule({rest.strip()!r}, timezone={zone.partition('=')[2]!r})",
        )
    if spec.startswith("@"):
        return _descriptor_problem(spec)
    fields = spec.split()
    if len(fields) in (6, 7):
        valid = " ".join(fields[1:6])
        return (
            f"cron line {spec!r} has {len(fields)} fields; Argo's cron has exactly 5 "
            f"({_FIELD_LIST}) and no seconds field",
            f"drop the seconds: {valid!r}",
        )
    if len(fields) != 5:
        return (
            f"cron line {spec!r} has {len(fields)} field{'s' if len(fields) != 1 else ''} "
            f"(expected 5: {_FIELD_LIST})",
            f"write e.g. {_EXAMPLE}",
        )
    for index, (text_field, (name, low, high, names)) in enumerate(
        zip(fields, _FIELDS, strict=True)
    ):
        for part in text_field.split(","):
            reason = _range_problem(part, low, high, names)
            if reason is None:
                continue
            fixed = list(fields)
            fix = _field_fix(name, low, high)
            if name == "day-of-week" and re.fullmatch(r"(.*\b)?7(\b.*)?", text_field):
                fixed[index] = re.sub(r"\b7\b", "0", text_field)
                return (
                    f"cron line {spec!r}: day-of-week {text_field!r} is out of range 0-6 "
                    "(Argo numbers Sunday 0, not 7)",
                    f"write {' '.join(fixed)!r} for Sunday",
                )
            return f"cron line {spec!r}: {name} {text_field!r}: {reason}", fix
    return None


def _descriptor_problem(spec: str) -> tuple[str, str] | None:
    if spec in _DESCRIPTORS:
        return None
    if spec.startswith("@every"):
        duration = spec[len("@every") :].strip()
        if not duration:
            return (
                f"cron line {spec!r} has no duration",
                "write e.g. '@every 90s', '@every 15m' or '@every 1h30m'",
            )
        seconds = go_duration(duration)
        if seconds is None:
            no_unit = re.fullmatch(r"[0-9.]+", duration) is not None
            problem = (
                f"{duration!r} has no unit" if no_unit else f"{duration!r} is not a Go duration"
            )
            example = f"'@every {duration}s', " if no_unit else ""
            return (
                f"cron line {spec!r}: {problem} (a duration needs a unit: s, m or h)",
                f"write e.g. {example}'@every 15m' or '@every 1h30m'",
            )
        if seconds <= 0:
            return f"cron line {spec!r}: the interval must be positive", "write e.g. '@every 15m'"
        return None
    known = ", ".join(_DESCRIPTORS)
    return (
        f"cron line {spec!r} is not a known descriptor",
        f"use one of {known}, or '@every <duration>' such as '@every 1h30m'",
    )


def _range_problem(part: str, low: int, high: int, names: Mapping[str, int] | None) -> str | None:
    if not part:
        return "an empty list item"
    range_text, slash, step_text = part.partition("/")
    if "/" in step_text:
        return f"too many slashes in {part!r}"
    bounds = range_text.split("-")
    if bounds[0] in ("*", "?"):
        if len(bounds) > 1:
            return f"{part!r} is not a range"
        start, end = low, high
    else:
        if len(bounds) > 2:
            return f"too many hyphens in {part!r}"
        values: list[int] = []
        for bound in bounds:
            value = _value(bound, names)
            if value is None:
                kind = "a number or a name" if names else "a number"
                return f"{bound!r} is not {kind}"
            values.append(value)
        start = values[0]
        end = values[1] if len(values) == 2 else start
    if slash:
        if not _GO_INT.fullmatch(step_text) or int(step_text) <= 0:
            return f"the step of {part!r} must be a whole number, 1 or more"
        if len(bounds) == 1 and bounds[0] not in ("*", "?"):
            end = high  # `N/step` means `N-max/step`
    if start < low or end > high:
        shown = start if start < low else end
        return f"{shown} is out of range {low}-{high}"
    if start > end:
        return f"the range {part!r} starts after it ends"
    return None


def _value(text: str, names: Mapping[str, int] | None) -> int | None:
    if names is not None and text.lower() in names:
        return names[text.lower()]
    if not _GO_INT.fullmatch(text):
        return None
    value = int(text)
    return value if value >= 0 else None


def _field_fix(name: str, low: int, high: int) -> str:
    extra = ""
    if name == "month":
        extra = " or jan-dec"
    elif name == "day-of-week":
        extra = " or sun-sat"
    return f"write the {name} as a number from {low} to {high}{extra}, e.g. {_EXAMPLE}"


# --------------------------------------------------------------------------------------------
# Triggers
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class EventTrigger:
    """Run the flow when an Argo Events event arrives (lowers to a ``Sensor``).

    The Sensor submits the flow's WorkflowTemplate, with parameters taken from the event.

    Attributes:
        source: the EventSource's name (e.g. ``"minio"``).
        event: the event's name in that EventSource (e.g. ``"new-object"``).
        params: flow parameter -> payload key (a gjson path into the event's data, e.g.
            ``"notification.0.s3.object.key"``). Values arrive as text and are decoded by
            the parameter's type; unmapped parameters keep their defaults.
        filters: payload key -> accepted value(s): the event starts a run only when every
            key has one of its values (strings are regular expressions in Argo Events,
            numbers and booleans compare as such).
        name: the dependency's and trigger's name in the Sensor (default: from source
            and event).
        service_account: the Sensor pod's service account (it needs RBAC to submit
            workflows; default: the namespace's default account).
    """

    source: str
    event: str
    params: Mapping[str, str] = dataclasses.field(default_factory=dict)
    filters: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    name: str | None = None
    service_account: str | None = None

    def __post_init__(self) -> None:
        for field in ("source", "event"):
            value = getattr(self, field)
            if not isinstance(value, str) or not _NAME.fullmatch(value):
                raise OptionError(
                    f"EventTrigger {field} must be a Kubernetes-style name (lowercase letters, "
                    f"digits and '-'), got {value!r}",
                    fix='write e.g. EventTrigger("minio", "new-object", ...)',
                    parameter=field,
                )
        object.__setattr__(self, "params", _mapping(self.params, "params"))
        object.__setattr__(self, "filters", _filters(self.filters))
        if self.name is not None and not (
            isinstance(self.name, str) and re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", self.name)
        ):
            raise OptionError(
                f"EventTrigger name must be letters, digits and '_' (got {self.name!r}); "
                "Argo Events reads it in trigger conditions",
                fix="write e.g. name='new_object'",
                parameter="name",
            )
        if self.service_account is not None and not (
            isinstance(self.service_account, str) and _NAME.fullmatch(self.service_account)
        ):
            raise OptionError(
                f"service_account must be a Kubernetes name (got {self.service_account!r})",
                fix="write e.g. service_account='argo-events-sa'",
                parameter="service_account",
            )

    @property
    def key(self) -> str:
        """The dependency name in the Sensor: ``name``, else ``<source>_<event>``."""
        return self.name or re.sub(r"[^A-Za-z0-9_]", "_", f"{self.source}_{self.event}")

    def describe(self) -> str:
        """``event 'minio/new-object'``, for messages."""
        return f"event '{self.source}/{self.event}'"


@dataclasses.dataclass(frozen=True, slots=True)
class WebhookTrigger:
    """Run the flow when an event is posted to the Argo Server (a ``WorkflowEventBinding``).

    Events are posted to ``/api/v1/events/<namespace>/<discriminator>`` with a JSON payload;
    the binding submits the flow's WorkflowTemplate.

    Attributes:
        params: flow parameter -> payload key (a dotted path, e.g. ``"object.key"``),
            read with Argo's expression ``payload.object.key``.
        discriminator: the last segment of the event URL (default: the flow's name).
        selector: an extra condition on the event (an expr-lang expression over
            ``payload``, ``metadata`` and ``discriminator``), e.g. ``'payload.kind == "csv"'``.
        name: the WorkflowEventBinding's name (default: the flow's name, then
            ``<flow>-<discriminator>``).
    """

    params: Mapping[str, str] = dataclasses.field(default_factory=dict)
    discriminator: str | None = None
    selector: str | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _mapping(self.params, "params"))
        for path in self.params.values():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*", path):
                raise OptionError(
                    f"webhook payload key {path!r} is not a dotted path of names",
                    fix="write e.g. params={'key': 'object.key'}",
                    parameter="params",
                )
        for field in ("discriminator", "name"):
            value = getattr(self, field)
            if value is not None and not (isinstance(value, str) and _NAME.fullmatch(value)):
                raise OptionError(
                    f"WebhookTrigger {field} must be a Kubernetes-style name (lowercase "
                    f"letters, digits and '-'), got {value!r}",
                    fix=f"write e.g. {field}='new-data'",
                    parameter=field,
                )
        if self.selector is not None and (
            not isinstance(self.selector, str) or not self.selector.strip()
        ):
            raise OptionError(
                f"selector must be an expression (got {self.selector!r})",
                fix="write e.g. selector='payload.kind == \"csv\"'",
                parameter="selector",
            )

    def describe(self) -> str:
        """``webhook 'name'``, for messages."""
        return f"webhook '{self.discriminator or self.name or '<flow>'}'"


Trigger: TypeAlias = EventTrigger | WebhookTrigger


def _mapping(value: object, field: str) -> Mapping[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and k and isinstance(v, str) and _PATH.fullmatch(v)
        for k, v in value.items()
    ):
        raise OptionError(
            f"{field} must map flow parameter names to payload keys, both non-empty strings "
            f"(got {value!r})",
            fix="write e.g. params={'key': 'notification.0.s3.object.key'}",
            parameter=field,
        )
    return dict(value)


def _filters(value: object) -> Mapping[str, tuple[str | int | float | bool, ...]]:
    scalar = (str, int, float, bool)
    if isinstance(value, Mapping):
        found: dict[str, tuple[str | int | float | bool, ...]] = {}
        for key, accepted in value.items():
            items = (
                tuple(accepted)
                if isinstance(accepted, list | tuple | set | frozenset)
                else (accepted,)
            )
            kinds = {bool if isinstance(v, bool) else float if isinstance(v, int | float)
                     else str for v in items}  # fmt: skip
            if (
                isinstance(key, str)
                and key
                and items
                and all(isinstance(v, scalar) for v in items)
                and len(kinds) == 1
            ):
                found[key] = items
                continue
            raise OptionError(
                f"filter {key!r} must accept one value or a list of values of one kind "
                f"(strings, numbers or booleans), got {accepted!r}",
                fix="write e.g. filters={'eventName': 's3:ObjectCreated:Put'}",
                parameter="filters",
            )
        return found
    raise OptionError(
        f"filters must map payload keys to accepted values (got {value!r})",
        fix="write e.g. filters={'eventName': 's3:ObjectCreated:Put'}",
        parameter="filters",
    )


# --------------------------------------------------------------------------------------------
# Attaching to a flow (called by flowdsl.dsl) and checks against the flow
# --------------------------------------------------------------------------------------------


def is_scheduled_time(annotation: object) -> bool:
    """Whether a (bare) parameter hint is :data:`ScheduledTime`."""
    return annotation is ScheduledTime


def _flow_params(flow: Flow[Any, Any]) -> tuple[FlowParam, ...] | None:
    # Flow.__init__ may ask for the schedule before it has read its parameters; those
    # checks then run at compile time (check_flow), which every manifest goes through.
    try:
        return flow.params
    except AttributeError:
        return None


def _located(exc: FlowDSLError, flow: Flow[Any, Any]) -> FlowDSLError:
    return type(exc)(
        exc.problem,
        fix=exc.fix,
        flow=flow.name,
        task=exc.task,
        parameter=exc.parameter,
        location=flow.location,
    )


def as_schedule(value: object, flow: Flow[Any, Any]) -> Schedule:
    """The :class:`Schedule` of ``@flow(schedule=value)``, checked against the flow.

    Raises:
        OptionError: the value is not a schedule, breaks Argo's rules, the flow's name is
            too long for a CronWorkflow, or a parameter has no default.
    """
    try:
        if isinstance(value, Schedule):
            result = value
        elif isinstance(value, str) or (
            isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
        ):
            result = Schedule(value)
        else:
            raise OptionError(
                "option 'schedule' must be a cron line, a list of them, or a flowdsl.Schedule "
                f"(got {value!r})",
                fix=f"write e.g. schedule={_EXAMPLE_CRON} or "
                "schedule=Schedule('0 3 * * *', timezone='Europe/Paris')",
            )
    except OptionError as exc:
        raise _located(exc, flow) from None
    check_flow(result, (), flow.name, _flow_params(flow), location=flow.location, error=OptionError)
    return result


def as_triggers(values: object, flow: Flow[Any, Any]) -> tuple[Trigger, ...]:
    """The triggers of ``@flow(triggers=[...])``, checked against the flow.

    Raises:
        OptionError: an item is not a trigger, two triggers clash, or a mapping names a
            parameter the flow does not have (or leaves a required one without a value).
    """
    if isinstance(values, EventTrigger | WebhookTrigger):
        values = [values]
    if not isinstance(values, Sequence) or isinstance(values, str):
        raise OptionError(
            f"option 'triggers' must be a list of triggers (got {values!r})",
            fix='write e.g. triggers=[EventTrigger("minio", "new-object")]',
            flow=flow.name,
            location=flow.location,
        )
    for item in values:
        if not isinstance(item, EventTrigger | WebhookTrigger):
            raise OptionError(
                "option 'triggers' takes flowdsl.EventTrigger and flowdsl.WebhookTrigger "
                f"values (got {item!r})",
                fix='write e.g. triggers=[EventTrigger("minio", "new-object")]',
                flow=flow.name,
                location=flow.location,
            )
    triggers = tuple(values)
    check_flow(None, triggers, flow.name, _flow_params(flow), location=flow.location,
               error=OptionError)  # fmt: skip
    return triggers


def check_flow(
    schedule: Schedule | None,
    triggers: Sequence[Trigger],
    name: str,
    params: Sequence[FlowParam] | None,
    *,
    location: str | None = None,
    error: type[FlowDSLError] = CompileError,
) -> None:
    """Check a schedule and triggers against the flow they belong to.

    Args:
        schedule: the flow's schedule, if any.
        triggers: the flow's triggers.
        name: the flow's Argo name.
        params: the flow's parameters; ``None`` when not known yet (checked later).
        location: ``file:line`` of the flow, for messages.
        error: the error class to raise (``OptionError`` at declaration, ``CompileError``
            when compiling).

    Raises:
        FlowDSLError: of class ``error``, for the first problem found.
    """
    if schedule is not None and len(name) > CRON_NAME_LIMIT:
        raise error(
            f"the CronWorkflow name {name!r} is {len(name)} characters long, over Argo's limit "
            f"of {CRON_NAME_LIMIT} (a run is named '<name>-<10-digit time>', which must fit "
            "in 63)",
            fix=f"give the flow a name of at most {CRON_NAME_LIMIT} characters: @flow(name='...')",
            flow=name,
            location=location,
        )
    if params is None:
        return
    if schedule is not None:
        for param in params:
            if param.required and not is_scheduled_time(param.annotation):
                raise error(
                    "has no default, but a scheduled run has nobody to give it a value",
                    fix=f"give it a default ({param.python_name}: ... = ...), or, if it is "
                    f"the run's time, declare it as {param.python_name}: flowdsl.ScheduledTime",
                    flow=name,
                    parameter=param.name,
                    location=location,
                )
    by_name = {p.name: p for p in params}
    by_python = {p.python_name: p for p in params}
    keys: set[str] = set()
    bindings: set[str] = set()
    for trigger in triggers:
        label = trigger.describe()
        if isinstance(trigger, EventTrigger):
            if trigger.key in keys:
                raise error(
                    f"two event triggers are both named {trigger.key!r} in the Sensor",
                    fix="give one of them another name=...",
                    flow=name,
                    location=location,
                )
            keys.add(trigger.key)
        else:
            binding = webhook_name(trigger, name)
            if binding in bindings:
                raise error(
                    f"two webhook triggers both make the WorkflowEventBinding {binding!r}",
                    fix="give them different discriminator=... (or name=...)",
                    flow=name,
                    location=location,
                )
            bindings.add(binding)
        mapped: set[str] = set()
        for param_name, key in trigger.params.items():
            target = by_name.get(param_name) or by_python.get(param_name)
            if target is None:
                known = sorted({*by_name, *by_python})
                close = difflib.get_close_matches(param_name, known, n=1)
                hint = f"did you mean '{close[0]}'? " if close else ""
                raise error(
                    f"{label} maps payload key {key!r} to parameter {param_name!r}, which the "
                    f"flow does not have (parameters: {', '.join(known) or 'none'})",
                    fix=f"{hint}map payload keys to the flow's parameters, e.g. "
                    f"params={{'{known[0] if known else 'name'}': {key!r}}}",
                    flow=name,
                    parameter=param_name,
                    location=location,
                )
            mapped.add(target.name)
        for param in params:
            if (
                param.required
                and param.name not in mapped
                and not is_scheduled_time(param.annotation)
            ):
                raise error(
                    f"has no default and {label} does not map a payload key to it, so a "
                    "triggered run would have no value for it",
                    fix=f"map it (params={{'{param.name}': '<payload key>'}}) or give it a default",
                    flow=name,
                    parameter=param.name,
                    location=location,
                )


def webhook_name(trigger: WebhookTrigger, flow_name: str) -> str:
    """The WorkflowEventBinding's name: ``name``, else the flow's, with the discriminator."""
    if trigger.name:
        return trigger.name
    if trigger.discriminator and trigger.discriminator != flow_name:
        return f"{flow_name}-{trigger.discriminator}"
    return flow_name


def schedule(
    flow: Flow[Any, Any],
    cron_or_schedule: str | Sequence[str] | Schedule | None = None,
    **options: Any,
) -> Flow[Any, Any]:
    """A copy of ``flow`` with a schedule, e.g. one per environment.

    ``schedule(nightly, "0 3 * * *", timezone="Europe/Paris")`` sets a schedule;
    ``schedule(nightly, suspend=True)`` changes fields of the flow's own schedule;
    ``schedule(nightly, Schedule(...))`` replaces it. The flow itself is not changed.

    Args:
        flow: a ``@flow``.
        cron_or_schedule: cron line(s) or a :class:`Schedule`; None keeps the flow's
            schedule and changes the fields in ``options``.
        **options: :class:`Schedule` fields (``timezone=``, ``concurrency=`` ...).

    Raises:
        OptionError: the schedule is invalid, or there is nothing to change.
    """
    from flowdsl.dsl import Flow

    if not isinstance(flow, Flow):
        raise OptionError(
            f"flowdsl.schedule takes a @flow (got {flow!r})",
            fix="pass the flow, e.g. flowdsl.schedule(nightly, '0 3 * * *')",
        )
    current = flow.flow_options.schedule
    try:
        if isinstance(cron_or_schedule, Schedule):
            new = cron_or_schedule.replace(**options) if options else cron_or_schedule
        elif cron_or_schedule is not None:
            new = Schedule(cron_or_schedule, **options)
        elif current is not None and options:
            new = current.replace(**options)
        else:
            raise OptionError(
                "there is no schedule to set"
                + (" (the flow has none to change)" if options else ""),
                fix="pass cron line(s) or a Schedule, e.g. "
                "flowdsl.schedule(flow, '0 3 * * *', timezone='Europe/Paris')",
            )
    except OptionError as exc:
        raise _located(exc, flow) from None
    return flow.with_options(schedule=new)


# --------------------------------------------------------------------------------------------
# Reading a schedule: words, next times
# --------------------------------------------------------------------------------------------


def describe(schedule: Schedule) -> str:
    """The schedule in words: ``"At 03:00, Europe/Paris"``.

    Rendered forms: every minute, every N minutes, every hour, every N hours, at given
    minutes past every hour, at given times of day, qualified by weekdays (``on Monday``,
    ``from Monday to Friday``), days of the month (``on day 1 of the month``) and months
    (``on 1 January``, ``in January``); the descriptors (``@daily`` ...) and ``@every``.
    Any other line is shown as written (``cron '5 4 1-10/2 * *'``).
    """
    parts = [_describe_line(line) for line in schedule.crons]
    text = parts[0] + "".join(f" and {_lower_first(p)}" for p in parts[1:])
    return f"{text}, {schedule.timezone}" if schedule.timezone else text


def _lower_first(text: str) -> str:
    if text.startswith(("At ", "Every ", "On ")):
        return text[0].lower() + text[1:]
    return text


def _describe_line(line: str) -> str:
    if line.startswith("@every"):
        return f"Every {line[len('@every') :].strip()}"
    expanded = _DESCRIPTORS.get(line, line)
    words = _describe_fields(expanded.split())
    return words if words is not None else f"cron '{line}'"


def _numbers(text: str, names: Mapping[str, int] | None = None) -> list[int] | None:
    """The values of a field that is a plain list of numbers (or names), else None."""
    found = []
    for part in text.split(","):
        value = _value(part, names)
        if value is None:
            return None
        found.append(value)
    return sorted(set(found))


def _step(text: str) -> int | None:
    match = re.fullmatch(r"\*/([0-9]+)", text)
    return int(match.group(1)) if match else None


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _describe_fields(fields: list[str]) -> str | None:
    minute, hour, dom, month, dow = fields
    star = ("*", "?")
    days = _describe_days(dom, month, dow)
    if days is None:
        return None
    suffix = f" {days}" if days else ""
    if minute in star and hour in star:
        return f"Every minute{suffix}"
    step = _step(minute)
    if step is not None and hour in star:
        return f"Every {step} minutes{suffix}"
    minutes = _numbers(minute)
    if minutes is None:
        return None
    if hour in star:
        if minutes == [0]:
            return f"Every hour{suffix}"
        past = _join([str(m) for m in minutes])
        return f"At minute {past} past every hour{suffix}"
    hour_step = _step(hour)
    if hour_step is not None:
        at = "" if minutes == [0] else f", at minute {_join([str(m) for m in minutes])}"
        return f"Every {hour_step} hours{at}{suffix}"
    hours = _numbers(hour)
    if hours is None:
        return None
    times = [f"{h:02d}:{m:02d}" for h in hours for m in minutes]
    return f"At {_join(times)}{suffix}"


def _describe_days(dom: str, month: str, dow: str) -> str | None:
    star = ("*", "?")
    weekdays = {d: i for i, d in enumerate(_WEEKDAYS)}
    months = {m: i + 1 for i, m in enumerate(_MONTHS)}
    if dom in star and month in star and dow in star:
        return ""
    if dom in star and month in star:
        match = re.fullmatch(r"([a-z0-9]+)-([a-z0-9]+)", dow.lower())
        if match:
            first, last = _value(match.group(1), weekdays), _value(match.group(2), weekdays)
            if first is None or last is None or first >= last:
                return None
            return f"from {_DAY_NAMES[first]} to {_DAY_NAMES[last]}"
        values = _numbers(dow.lower(), weekdays)
        if values is None:
            return None
        return "on " + _join([_DAY_NAMES[v] for v in values])
    if dow not in star:
        return None
    month_values = None if month in star else _numbers(month.lower(), months)
    if month not in star and month_values is None:
        return None
    if dom in star:
        if month_values is None:
            return None
        return "in " + _join([_MONTH_NAMES[v - 1] for v in month_values])
    day_values = _numbers(dom)
    if day_values is None:
        return None
    if month_values is None:
        noun = "day" if len(day_values) == 1 else "days"
        return f"on {noun} {_join([str(d) for d in day_values])} of the month"
    return "on " + _join([f"{d} {_MONTH_NAMES[m - 1]}" for m in month_values for d in day_values])


def zone_of(schedule: Schedule) -> dt.tzinfo:
    """The time zone a schedule's lines are read in (UTC when it names none)."""
    return ZoneInfo(schedule.timezone) if schedule.timezone else dt.timezone.utc


def _iter_line(line: str, start: dt.datetime, anchor: dt.datetime) -> Iterator[dt.datetime]:
    """The times of one line strictly after ``start`` (an aware datetime, in the zone).

    An ``@every`` line has no times of its own: robfig counts from the moment the schedule
    was added (rounding an interval below a second up to a second); here from ``anchor``.
    """
    if line.startswith("@every"):
        seconds = go_duration(line[len("@every") :]) or 1.0
        step = dt.timedelta(seconds=max(seconds, 1.0))
        current = anchor
        while current <= start:
            current = current + step
        while True:
            yield current
            current = current + step
    from croniter import croniter

    fields = _DESCRIPTORS.get(line, line).replace("?", "*").split()
    # robfig: when day-of-month or day-of-week starts with '*' (or '?'), a day must match
    # both; when both are restricted, either one. croniter's day_or=False is the former.
    day_or = not (fields[2].startswith("*") or fields[4].startswith("*"))
    times = croniter(" ".join(fields), start, day_or=day_or)
    while True:
        value = times.get_next(dt.datetime)
        yield value


def _merged(schedule: Schedule, start: dt.datetime, anchor: dt.datetime) -> Iterator[dt.datetime]:
    """Every time of the schedule strictly after ``start``, in order, once each."""
    iterators = [_iter_line(line, start, anchor) for line in schedule.crons]
    heap = [(next(it), i) for i, it in enumerate(iterators)]
    heapq.heapify(heap)
    last: dt.datetime | None = None
    while heap:
        value, index = heapq.heappop(heap)
        heapq.heappush(heap, (next(iterators[index]), index))
        if last is None or value != last:
            last = value
            yield value


def next_times(schedule: Schedule, count: int, *, after: dt.datetime) -> list[dt.datetime]:
    """The next ``count`` run times of a schedule strictly after ``after``.

    Args:
        schedule: the schedule.
        count: how many.
        after: an aware datetime (a naive one is read in the schedule's time zone).

    Returns:
        Aware datetimes in the schedule's time zone. ``@every`` lines count from ``after``
        (Argo counts from when its controller added the schedule).
    """
    zone = zone_of(schedule)
    start = after.replace(tzinfo=zone) if after.tzinfo is None else after.astimezone(zone)
    found: list[dt.datetime] = []
    for value in _merged(schedule, start, start):
        if len(found) >= count:
            break
        found.append(value)
    return found


def times_between(
    schedule: Schedule, start: dt.datetime, end: dt.datetime, *, limit: int
) -> list[dt.datetime]:
    """The run times of a schedule from ``start`` to ``end``, both included.

    Args:
        schedule: the schedule.
        start: an aware datetime (naive: read in the schedule's time zone).
        end: likewise; not before ``start``.
        limit: stop after this many times (the caller refuses larger ranges).

    Returns:
        At most ``limit + 1`` times, so that a caller can tell the range was larger.
    """
    zone = zone_of(schedule)
    first = start.replace(tzinfo=zone) if start.tzinfo is None else start.astimezone(zone)
    last = end.replace(tzinfo=zone) if end.tzinfo is None else end.astimezone(zone)
    found: list[dt.datetime] = []
    # Strictly after one microsecond earlier: ``start`` itself is included when it matches.
    for value in _merged(schedule, first - dt.timedelta(microseconds=1), first):
        if value > last or len(found) > limit:
            break
        found.append(value)
    return found


def parse_time(text: str, *, option: str, zone: dt.tzinfo) -> tuple[dt.datetime, bool]:
    """A time given on the command line: ISO 8601, a date alone, or ``now``.

    Args:
        text: e.g. ``2026-01-31``, ``2026-01-31T03:00``, ``2026-01-31T03:00+01:00``, ``now``.
        option: the option's name (``--at``), for messages.
        zone: the zone of a time written without an offset (the schedule's).

    Returns:
        The aware datetime, and whether ``text`` was a date alone (midnight).

    Raises:
        FlowDSLError: the text is not a date or a date-time.
    """
    cleaned = text.strip()
    if cleaned.lower() == "now":
        return dt.datetime.now(zone).replace(microsecond=0), False
    iso = cleaned[:-1] + "+00:00" if cleaned.endswith(("Z", "z")) else cleaned
    date_only = re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", iso) is not None
    try:
        value = dt.datetime.fromisoformat(iso)
    except ValueError:
        raise FlowDSLError(
            f"{text!r} is not a date or a date-time",
            fix=f"write e.g. {option} 2026-01-31 or {option} 2026-01-31T03:00 (ISO 8601; an "
            "offset such as +01:00 is optional)",
            parameter=option,
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value, date_only
