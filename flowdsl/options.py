"""Execution option values: resources, secrets, tolerations, retries, volumes, caching.

Every value a user gives to ``@task``, ``@flow``, ``task.options(...)`` or the project
configuration is checked here, once, when it is built: each class is a frozen, slotted
dataclass whose ``__post_init__`` raises :class:`~flowdsl.errors.OptionError` with a valid
form to write instead. The ``check_*`` functions check the plain-Python forms (mappings of
environment variables, labels, durations ...) the same way, and :func:`check_option` checks
any option by name.

Messages say *what* is wrong (``problem``) and *what to write* (``fix``) but never *where*:
the tracer and the configuration loader add the task, flow and location by re-raising with
those fields.

This module imports only the standard library and :mod:`flowdsl.errors`: it is imported
whenever a user's module is.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, TypeAlias, get_args

from flowdsl.errors import OptionError

__all__ = [
    "ACCESS_MODES",
    "DEFAULT_GPU_VENDOR",
    "FLOW_OPTIONS",
    "OPTIONS",
    "POD_GC_STRATEGIES",
    "PULL_POLICIES",
    "RETRY_POLICIES",
    "TASK_OPTIONS",
    "AccessMode",
    "Backoff",
    "Cache",
    "ConfigMapKey",
    "PodGC",
    "PullPolicy",
    "Resources",
    "Retry",
    "RetryPolicy",
    "Secret",
    "Toleration",
    "Volume",
    "VolumeKind",
    "check_affinity",
    "check_annotations",
    "check_duration",
    "check_env",
    "check_labels",
    "check_mounts",
    "check_option",
    "check_secrets",
    "go_duration",
    "quantity",
]

PodGC: TypeAlias = Literal[
    "OnPodCompletion", "OnPodSuccess", "OnWorkflowCompletion", "OnWorkflowSuccess"
]
PullPolicy: TypeAlias = Literal["Always", "IfNotPresent", "Never"]
RetryPolicy: TypeAlias = Literal["Always", "OnFailure", "OnError", "OnTransientError"]
TolerationOperator: TypeAlias = Literal["Equal", "Exists"]
TaintEffect: TypeAlias = Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]
AccessMode: TypeAlias = Literal[
    "ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"
]
VolumeKind: TypeAlias = Literal["pvc", "claim", "empty_dir", "secret", "config_map"]

POD_GC_STRATEGIES: tuple[str, ...] = get_args(PodGC)
PULL_POLICIES: tuple[str, ...] = get_args(PullPolicy)
RETRY_POLICIES: tuple[str, ...] = get_args(RetryPolicy)
ACCESS_MODES: tuple[str, ...] = get_args(AccessMode)
_OPERATORS: tuple[str, ...] = get_args(TolerationOperator)
_EFFECTS: tuple[str, ...] = get_args(TaintEffect)
_VOLUME_KINDS: tuple[str, ...] = get_args(VolumeKind)
_MEDIA = ("Memory", "HugePages")

#: The extended resource a GPU is requested as, unless ``Resources.gpu_vendor`` says otherwise.
DEFAULT_GPU_VENDOR = "nvidia.com/gpu"


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _nearest(given: str, valid: Sequence[str]) -> str | None:
    """The valid choice closest to ``given`` (case-insensitively), if any is close."""
    lowered = {choice.lower(): choice for choice in valid}
    close = difflib.get_close_matches(given.lower(), list(lowered), n=1, cutoff=0.5)
    return lowered[close[0]] if close else None


def _choice(value: object, valid: Sequence[str], *, what: str) -> str:
    """``value`` if it is one of ``valid``, else an error listing them, nearest first."""
    if isinstance(value, str) and value in valid:
        return value
    listed = ", ".join(valid)
    if isinstance(value, str):
        near = _nearest(value, valid)
        hint = f"did you mean '{near}'? " if near else ""
        raise OptionError(
            f"{what} {value!r} is not one of {listed}", fix=f"{hint}write one of {listed}"
        )
    raise OptionError(
        f"{what} must be one of {listed} (got {value!r} of type {type(value).__name__})",
        fix=f"write one of {listed} as a string",
    )


def _type_name(value: object) -> str:
    return type(value).__name__


# RFC 1123 names as Kubernetes checks them.
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_C_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")


def _dns_suggestion(text: str, limit: int) -> str:
    """A lowercase DNS-1123 form of ``text`` to show in a fix (may be empty)."""
    fixed = re.sub(r"[^a-z0-9.-]+", "-", text.lower()).strip("-.")
    return fixed[:limit].strip("-.")


def _subdomain(value: object, *, what: str) -> str:
    """``value`` if it is a DNS-1123 subdomain (an object name: Secret, ConfigMap, PVC)."""
    if not isinstance(value, str):
        raise OptionError(
            f"{what} must be a string (got {value!r} of type {_type_name(value)})",
            fix="write the name of the Kubernetes object, e.g. 'deploy-credentials'",
        )
    if len(value) <= 253 and _DNS_SUBDOMAIN.fullmatch(value):
        return value
    suggestion = _dns_suggestion(value, 253)
    fix = (
        f"write e.g. {suggestion!r}"
        if suggestion and suggestion != value
        else "use lowercase letters, digits, '-' and '.'"
    )
    raise OptionError(
        f"{what} {value!r} is not a valid Kubernetes object name (lowercase letters, digits, "
        "'-' and '.', starting and ending with a letter or digit, at most 253 characters)",
        fix=fix,
    )


def _label(value: object, *, what: str) -> str:
    """``value`` if it is a DNS-1123 label (a volume name)."""
    if not isinstance(value, str):
        raise OptionError(
            f"{what} must be a string (got {value!r} of type {_type_name(value)})",
            fix="write a name such as 'data'",
        )
    if len(value) <= 63 and _DNS_LABEL.fullmatch(value):
        return value
    suggestion = _dns_suggestion(value, 63).replace(".", "-")
    fix = (
        f"write e.g. {suggestion!r}"
        if suggestion and suggestion != value
        else "use lowercase letters, digits and '-'"
    )
    raise OptionError(
        f"{what} {value!r} is not a DNS-1123 label (lowercase letters, digits and '-', "
        "starting and ending with a letter or digit, at most 63 characters)",
        fix=fix,
    )


def _key(value: object, *, what: str, example: str) -> str:
    """``value`` if it is a key of a Secret or ConfigMap."""
    if not isinstance(value, str) or not value:
        raise OptionError(
            f"{what} must be a non-empty string (got {value!r})",
            fix=f"write the key inside the object, e.g. {example!r}",
        )
    if len(value) > 253 or not _CONFIG_KEY.fullmatch(value):
        raise OptionError(
            f"{what} {value!r} is not a valid key (letters, digits, '-', '_' and '.', at most "
            "253 characters)",
            fix=f"write the key inside the object, e.g. {example!r}",
        )
    return value


# --------------------------------------------------------------------------------------------
# Quantities
# --------------------------------------------------------------------------------------------

# Kubernetes' grammar (k8s.io/apimachinery resource.Quantity): a signed decimal number, then a
# binary suffix, a decimal suffix or a decimal exponent.
_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?"
)
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"m": -1, "": 0, "k": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}
# What people write for bytes that Kubernetes does not accept: "2GB", "2gb", "2GiB", "2g".
_BYTE_UNIT = re.compile(
    r"(?P<number>[0-9]+(?:\.[0-9]+)?)\s*(?P<letter>[kKmMgGtTpPeE])(?P<i>[iI]?)[bB]?(?:ytes?)?"
)
_QUANTITY_FORMS = (
    "a number with an optional suffix: m k M G T P E (decimal), Ki Mi Gi Ti Pi Ei (binary) or "
    "an exponent (1e3)"
)


def _quantity_value(text: str) -> Decimal:
    """The value of a quantity ``text`` already known to match :data:`_QUANTITY`."""
    match = _QUANTITY.fullmatch(text)
    assert match is not None  # callers match first: never a user's mistake
    number = Decimal(match["number"])
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        return number * (Decimal(1024) ** _BINARY[suffix])
    if suffix in _DECIMAL:
        return number * (Decimal(1000) ** _DECIMAL[suffix])
    return number * (Decimal(10) ** int(suffix[1:]))


def _byte_fix(text: str) -> str | None:
    """The fix for a byte size written with a unit Kubernetes does not know, e.g. ``2GB``."""
    match = _BYTE_UNIT.fullmatch(text.strip())
    if match is None:
        return None
    number, letter = match["number"], match["letter"].upper()
    decimal_letter = "k" if letter == "K" else letter
    power = {"K": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}[letter]
    return (
        f"write '{number}{letter}i' (binary, {number} x 1024^{power} bytes) or "
        f"'{number}{decimal_letter}' (decimal)"
    )


def quantity(value: str | int | float, *, option: str, of_bytes: bool | None = None) -> str:
    """Check a Kubernetes quantity (``"500m"``, ``"2"``, ``"8Gi"``, ``"1e3"``) and return its text.

    Args:
        value: the quantity as text, or a number (``2``, ``0.5``).
        option: the option's name, for messages (``cpu``, ``memory`` ...).
        of_bytes: whether the quantity counts bytes; then ``"512m"`` (thousandths of a byte,
            valid for Kubernetes but never meant) is an error that shows ``"512Mi"``. By
            default, options whose name holds ``memory``, ``storage`` or ``size`` count bytes.

    Returns:
        The canonical text: stripped of surrounding spaces; a number written in decimal.

    Raises:
        OptionError: the value is not a quantity, or is negative.
    """
    if of_bytes is None:
        of_bytes = any(word in option for word in ("memory", "storage", "size"))
    example = "'512Mi' or '8Gi'" if of_bytes else "'500m' or '2'"
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise OptionError(
            f"option '{option}' must be a Kubernetes quantity (got {value!r} of type "
            f"{_type_name(value)})",
            fix=f"write e.g. {option}={example.split(' or ', maxsplit=1)[0]}",
        )
    if isinstance(value, float):
        if not math.isfinite(value):
            raise OptionError(
                f"option '{option}' must be a finite quantity (got {value!r})",
                fix=f"write e.g. {example}",
            )
        text = format(Decimal(repr(value)).normalize(), "f")
    else:
        text = str(value).strip()
    if _QUANTITY.fullmatch(text) is None:
        fix = (_byte_fix(text) if of_bytes else None) or f"write {_QUANTITY_FORMS}, e.g. {example}"
        raise OptionError(f"option '{option}': {value!r} is not a Kubernetes quantity", fix=fix)
    amount = _quantity_value(text)
    if amount < 0:
        raise OptionError(
            f"option '{option}': {value!r} is negative", fix=f"write a quantity such as {example}"
        )
    if of_bytes and text.endswith("m"):
        number = text[:-1]
        raise OptionError(
            f"option '{option}': {value!r} means {number} thousandths of a byte ('m' is milli)",
            fix=f"write '{number}Mi' (binary, {number} x 1024^2 bytes) or '{number}M' (decimal)",
        )
    return text


# --------------------------------------------------------------------------------------------
# Durations
# --------------------------------------------------------------------------------------------

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_DURATION_UNITS = {"ms": Decimal("0.001"), "s": Decimal(1), "m": Decimal(60), "h": Decimal(3600)}
_DURATION_UNITS["d"] = Decimal(86400)


def _duration_seconds(text: str) -> Decimal | None:
    """Seconds in ``"1h30m"``-style text, or None when it is not one."""
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum((Decimal(n) * _DURATION_UNITS[u] for n, u in parts), Decimal(0))


def check_duration(value: object, *, option: str, **where: str | None) -> int:
    """Seconds in a duration given as ``"2h"``, ``"1h30m"``, ``"90s"`` or a number of seconds.

    The one parser of readable durations in flowdsl (step and workflow timeouts, schedules).
    Units: ``ms``, ``s``, ``m``, ``h``, ``d``; parts add up (``"1h30m"``).

    Args:
        value: the duration.
        option: the option's name, for messages.
        **where: ``flow``, ``task``, ``parameter``, ``location`` for the error, when the
            caller knows them.

    Raises:
        OptionError: the value is not a duration of a whole number of seconds, at least 1.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise OptionError(
            f"option '{option}' must be a duration (got {value!r} of type {_type_name(value)})",
            fix=f'write e.g. {option}="2h", "30m", "1h30m" or a number of seconds',
            **where,
        )
    if isinstance(value, str):
        parsed = _duration_seconds(value.strip())
        if parsed is None:
            raise OptionError(
                f"option '{option}' is not a duration: {value!r} (expected a number followed "
                "by a unit of ms, s, m, h or d, e.g. '1h30m')",
                fix=f'write e.g. {option}="2h"',
                **where,
            )
        seconds = float(parsed)
    else:
        seconds = float(value)
    if not seconds >= 1 or seconds != int(seconds):
        raise OptionError(
            f"option '{option}' must be a whole number of seconds, at least 1 (got {value!r})",
            fix=f'write e.g. {option}="30s"',
            **where,
        )
    return int(seconds)


def _format_go(milliseconds: int) -> str:
    """Go ``time.ParseDuration`` text for a whole number of milliseconds, e.g. ``1h30m``."""
    hours, rest = divmod(milliseconds, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    parts = [f"{n}{u}" for n, u in ((hours, "h"), (minutes, "m"), (seconds, "s"), (millis, "ms"))]
    return "".join(part for part in parts if not part.startswith("0")) or "0s"


def go_duration(value: object, *, option: str) -> str:
    """Check a duration for an Argo field parsed by Go (backoff, memoize ``maxAge``).

    Accepts what :func:`check_duration` accepts in text (``"10s"``, ``"1m30s"``, ``"2h"``,
    ``"1d"``, ``"500ms"``) and bare digits (seconds, as Argo reads them), and returns the
    Go form, which has no day unit: ``"1d"`` becomes ``"24h"``, ``"90s"`` becomes ``"1m30s"``.

    Raises:
        OptionError: the value is not a positive duration of whole milliseconds.
    """
    if not isinstance(value, str):
        raise OptionError(
            f"option '{option}' must be a duration string (got {value!r} of type "
            f"{_type_name(value)})",
            fix=f'write e.g. {option}="10s", "1m30s" or "2h"',
        )
    text = value.strip()
    seconds = Decimal(text) if text.isdigit() else _duration_seconds(text)
    if seconds is None:
        raise OptionError(
            f"option '{option}' is not a duration: {value!r} (expected a number followed by a "
            "unit of ms, s, m, h or d, e.g. '1m30s')",
            fix=f'write e.g. {option}="10s"',
        )
    millis = seconds * 1000
    if millis <= 0 or millis != millis.to_integral_value():
        raise OptionError(
            f"option '{option}' must be a positive whole number of milliseconds (got {value!r})",
            fix=f'write e.g. {option}="10s"',
        )
    return _format_go(int(millis))


# --------------------------------------------------------------------------------------------
# Resources
# --------------------------------------------------------------------------------------------

# An extended resource name: a DNS subdomain prefix, "/", then a name (e.g. nvidia.com/gpu).
_EXTENDED_RESOURCE = re.compile(
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+/"
    r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
)
_RESOURCE_NAMES = {"cpu": "cpu", "memory": "memory", "ephemeral_storage": "ephemeral-storage"}


@dataclass(frozen=True, slots=True)
class Resources:
    """CPU, memory, ephemeral storage and GPUs of a task's container.

    Example::

        @task(resources=Resources(cpu="2", memory="8Gi", memory_limit="12Gi", gpu=1))

    Quantities are Kubernetes quantities (``"500m"``, ``"2"``, ``"8Gi"``); numbers are
    accepted too (``cpu=2``, ``cpu=0.5``) and kept as text. A field left ``None`` is not set
    here: a profile, the flow, the project configuration or the built-in defaults may set it.

    Attributes:
        cpu: CPU request.
        memory: memory request.
        ephemeral_storage: ephemeral storage request.
        cpu_limit: CPU limit.
        memory_limit: memory limit.
        ephemeral_storage_limit: ephemeral storage limit.
        gpu: number of GPUs, a positive whole number. It goes to both requests and limits:
            Kubernetes requires an extended resource to have a limit, and a request equal to it.
        gpu_vendor: the extended resource name GPUs are requested as (``"amd.com/gpu"``...).
    """

    cpu: str | None = None
    memory: str | None = None
    ephemeral_storage: str | None = None
    cpu_limit: str | None = None
    memory_limit: str | None = None
    ephemeral_storage_limit: str | None = None
    gpu: int | None = None
    gpu_vendor: str = DEFAULT_GPU_VENDOR

    def __post_init__(self) -> None:
        for field in (
            "cpu",
            "memory",
            "ephemeral_storage",
            "cpu_limit",
            "memory_limit",
            "ephemeral_storage_limit",
        ):
            given = getattr(self, field)
            if given is not None:
                object.__setattr__(self, field, quantity(given, option=field))
        for field in _RESOURCE_NAMES:
            request, limit = getattr(self, field), getattr(self, f"{field}_limit")
            if (
                request is not None
                and limit is not None
                and _quantity_value(request) > _quantity_value(limit)
            ):
                raise OptionError(
                    f"option '{field}' requests {request!r}, more than its limit "
                    f"{field}_limit={limit!r} (Kubernetes rejects such a pod)",
                    fix=f"raise {field}_limit to at least {request!r} or lower {field}",
                )
        gpu = self.gpu
        if gpu is not None and (isinstance(gpu, bool) or not isinstance(gpu, int) or gpu < 1):
            raise OptionError(
                f"option 'gpu' must be a positive whole number of GPUs (got {gpu!r} of type "
                f"{_type_name(gpu)})",
                fix="write e.g. gpu=1 (GPUs are not shared between pods, so no fractions)",
            )
        vendor = self.gpu_vendor
        if not isinstance(vendor, str) or not _EXTENDED_RESOURCE.fullmatch(vendor):
            raise OptionError(
                f"option 'gpu_vendor': {vendor!r} is not an extended resource name (domain/name)",
                fix=f"write e.g. gpu_vendor='{DEFAULT_GPU_VENDOR}' or 'amd.com/gpu'",
            )

    def requests(self) -> dict[str, str]:
        """The container's ``resources.requests``, Kubernetes names as keys, GPUs included."""
        out = {
            name: getattr(self, field)
            for field, name in _RESOURCE_NAMES.items()
            if getattr(self, field) is not None
        }
        if self.gpu is not None:
            out[self.gpu_vendor] = str(self.gpu)
        return out

    def limits(self) -> dict[str, str]:
        """The container's ``resources.limits``, Kubernetes names as keys, GPUs included."""
        out = {
            name: getattr(self, f"{field}_limit")
            for field, name in _RESOURCE_NAMES.items()
            if getattr(self, f"{field}_limit") is not None
        }
        if self.gpu is not None:
            out[self.gpu_vendor] = str(self.gpu)
        return out

    def merged_over(self, base: Resources | None) -> Resources:
        """These resources over ``base``: field by field, a field set here wins.

        ``gpu`` and ``gpu_vendor`` go together (a GPU request is a count of one vendor's
        devices): both come from here when ``gpu`` is set here, else both from ``base``.

        Raises:
            OptionError: the merge requests more than a limit (e.g. ``memory`` here above
                ``memory_limit`` in ``base``).
        """
        if base is None:
            return self
        changes: dict[str, Any] = {
            field.name: getattr(self, field.name)
            for field in dataclasses.fields(self)
            if field.name not in ("gpu", "gpu_vendor") and getattr(self, field.name) is not None
        }
        if self.gpu is not None:
            changes["gpu"] = self.gpu
            changes["gpu_vendor"] = self.gpu_vendor
        return dataclasses.replace(base, **changes)


# --------------------------------------------------------------------------------------------
# Secrets and config maps
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Secret:
    """A key of a Kubernetes Secret, given to a task as an environment variable.

    ``env={"DEPLOY_TOKEN": Secret("deploy-credentials", "token")}`` becomes a ``secretKeyRef``:
    the manifest names the Secret and the key, never the value.

    Attributes:
        name: the Secret's name (a DNS-1123 subdomain).
        key: the key inside the Secret.
    """

    name: str
    key: str

    def __post_init__(self) -> None:
        _subdomain(self.name, what="Secret name")
        _key(self.key, what="Secret key", example="token")


@dataclass(frozen=True, slots=True)
class ConfigMapKey:
    """A key of a Kubernetes ConfigMap, given to a task as an environment variable.

    ``env={"REGION": ConfigMapKey("cluster-info", "region")}`` becomes a ``configMapKeyRef``.

    Attributes:
        name: the ConfigMap's name (a DNS-1123 subdomain).
        key: the key inside the ConfigMap.
    """

    name: str
    key: str

    def __post_init__(self) -> None:
        _subdomain(self.name, what="ConfigMap name")
        _key(self.key, what="ConfigMap key", example="region")


# --------------------------------------------------------------------------------------------
# Scheduling: tolerations
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Toleration:
    """A toleration of a node taint, so the task's pod may run on tainted nodes.

    Example::

        Toleration("nvidia.com/gpu", "Exists", effect="NoSchedule")

    Attributes:
        key: the taint key; ``None`` matches every key (then ``operator`` must be ``Exists``).
        operator: ``Equal`` (the taint's value must be ``value``) or ``Exists`` (any value).
        value: the taint value for ``Equal``; must be ``None`` for ``Exists``.
        effect: the taint effect matched (``NoSchedule``, ``PreferNoSchedule``,
            ``NoExecute``); ``None`` matches all.
        seconds: for ``NoExecute`` only, how long the pod stays once the taint appears
            (``tolerationSeconds``); ``None`` is forever.
    """

    key: str | None = None
    operator: TolerationOperator = "Equal"
    value: str | None = None
    effect: TaintEffect | None = None
    seconds: int | None = None

    def __post_init__(self) -> None:
        _choice(self.operator, _OPERATORS, what="toleration operator")
        if self.effect is not None:
            _choice(self.effect, _EFFECTS, what="toleration effect")
        if self.key is not None:
            if not isinstance(self.key, str) or not self.key:
                raise OptionError(
                    f"toleration key must be a non-empty string or None (got {self.key!r})",
                    fix="write the taint's key, e.g. Toleration('nvidia.com/gpu', 'Exists')",
                )
            _label_key(self.key, what="toleration key")
        elif self.operator != "Exists":
            raise OptionError(
                "a toleration without a key must use operator 'Exists' (it matches every taint)",
                fix="write Toleration(operator='Exists') or give the taint's key",
            )
        if self.value is not None:
            if not isinstance(self.value, str):
                raise OptionError(
                    f"toleration value must be a string (got {self.value!r} of type "
                    f"{_type_name(self.value)})",
                    fix=f"write value={str(self.value)!r}",
                )
            if self.operator == "Exists":
                raise OptionError(
                    f"a toleration with operator 'Exists' matches any value, so it takes no "
                    f"value (got {self.value!r})",
                    fix="drop value=..., or use operator='Equal'",
                )
        if self.seconds is not None:
            if isinstance(self.seconds, bool) or not isinstance(self.seconds, int):
                raise OptionError(
                    f"toleration seconds must be a whole number (got {self.seconds!r} of type "
                    f"{_type_name(self.seconds)})",
                    fix="write e.g. seconds=300",
                )
            if self.effect != "NoExecute":
                raise OptionError(
                    "toleration seconds apply only to effect 'NoExecute' (got effect "
                    f"{self.effect!r})",
                    fix="write effect='NoExecute', or drop seconds=...",
                )


# --------------------------------------------------------------------------------------------
# Retries
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Backoff:
    """How long Argo waits between retries: ``duration``, then ``duration * factor``, ...

    Attributes:
        duration: the first wait, e.g. ``"10s"``, ``"1m30s"``; kept in Go's duration form
            (``"1d"`` is stored as ``"24h"``), since Argo parses it with Go.
        factor: what the wait is multiplied by after each retry; a whole number >= 1, since
            Argo reads it as an integer.
        max_duration: the longest time spent retrying (Argo's ``maxDuration``), or None.
    """

    duration: str = "10s"
    factor: int = 2
    max_duration: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "duration", go_duration(self.duration, option="duration"))
        factor: object = self.factor
        if isinstance(factor, float) and factor.is_integer():
            factor = int(factor)
            object.__setattr__(self, "factor", factor)
        if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
            raise OptionError(
                f"option 'factor' must be a whole number >= 1 (got {factor!r}); Argo reads "
                "the backoff factor as an integer",
                fix="write e.g. factor=2",
            )
        if self.max_duration is not None:
            object.__setattr__(
                self, "max_duration", go_duration(self.max_duration, option="max_duration")
            )


@dataclass(frozen=True, slots=True)
class Retry:
    """When and how often Argo retries a failed step (``retryStrategy``).

    ``retries=3`` on a task means ``Retry(limit=3)``.

    Attributes:
        limit: retries after the first attempt (0: none).
        policy: what is retried: ``OnFailure`` (the container failed, the default),
            ``OnError`` (Argo or Kubernetes errors), ``OnTransientError``, or ``Always``.
        backoff: the wait between attempts, or None (retry at once).
    """

    limit: int
    policy: RetryPolicy = "OnFailure"
    backoff: Backoff | None = None

    def __post_init__(self) -> None:
        limit = self.limit
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise OptionError(
                f"option 'retries' must be a whole number >= 0 (got {limit!r})",
                fix="write e.g. retries=3 or Retry(limit=3)",
            )
        _choice(self.policy, RETRY_POLICIES, what="retry policy")
        if self.backoff is not None and not isinstance(self.backoff, Backoff):
            raise OptionError(
                f"retry backoff must be a Backoff (got {self.backoff!r} of type "
                f"{_type_name(self.backoff)})",
                fix="write backoff=Backoff(duration='10s', factor=2)",
            )


# --------------------------------------------------------------------------------------------
# Volumes
# --------------------------------------------------------------------------------------------


def _mount_path(value: object) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise OptionError(
            f"volume mount path must be an absolute path (got {value!r})",
            fix="write e.g. '/data'",
        )
    parts = value.split("/")
    if ".." in parts or ":" in value or value.strip("/") == "":
        raise OptionError(
            f"volume mount path {value!r} must be an absolute path below '/', without '..' or ':'",
            fix="write e.g. '/data'",
        )
    # "/data/" and "/data" are the same mount: keep one spelling so clashes are found.
    return "/" + "/".join(part for part in parts if part)


def _default_volume_name(source: str) -> str:
    return _dns_suggestion(source, 63).replace(".", "-").strip("-")


@dataclass(frozen=True, slots=True)
class Volume:
    """A volume mounted into a task's container; build one with a classmethod.

    - :meth:`pvc`: an existing PersistentVolumeClaim;
    - :meth:`claim`: a claim created for each workflow (a ``volumeClaimTemplate``);
    - :meth:`empty_dir`: scratch space that lives as long as the pod;
    - :meth:`secret`, :meth:`config_map`: the keys of a Secret or ConfigMap as files.

    Attributes:
        kind: which of the above.
        name: the volume's name in the pod (a DNS-1123 label).
        mount_path: where it is mounted (absolute; a trailing ``/`` is dropped).
        source: the claim, Secret or ConfigMap name (``pvc``, ``secret``, ``config_map``).
        read_only: mount read-only (``pvc``; Secret and ConfigMap volumes always are).
        size: the claim's size (``claim``), a quantity.
        access_mode: the claim's access mode (``claim``).
        storage_class: the claim's storage class (``claim``), or None for the cluster's
            default.
        medium: ``"Memory"`` for a tmpfs (``empty_dir``), or None for the node's disk.
        size_limit: the most an ``empty_dir`` may hold, a quantity.
    """

    kind: VolumeKind
    name: str
    mount_path: str
    source: str | None = None
    read_only: bool = False
    size: str | None = None
    access_mode: AccessMode = "ReadWriteOnce"
    storage_class: str | None = None
    medium: str | None = None
    size_limit: str | None = None

    def __post_init__(self) -> None:
        kind = _choice(self.kind, _VOLUME_KINDS, what="volume kind")
        _label(self.name, what="volume name")
        object.__setattr__(self, "mount_path", _mount_path(self.mount_path))
        if not isinstance(self.read_only, bool):
            raise OptionError(
                f"option 'read_only' must be True or False (got {self.read_only!r})",
                fix="write read_only=True",
            )
        allowed = {
            "pvc": {"source", "read_only"},
            "claim": {"size", "access_mode", "storage_class"},
            "empty_dir": {"medium", "size_limit"},
            "secret": {"source"},
            "config_map": {"source"},
        }[kind]
        for field in ("source", "read_only", "size", "storage_class", "medium", "size_limit"):
            if field not in allowed and getattr(self, field) not in (None, False):
                raise OptionError(
                    f"a {kind} volume takes no {field} (got {getattr(self, field)!r})",
                    fix=f"build it with Volume.{kind}(...)",
                )
        if kind != "claim" and self.access_mode != "ReadWriteOnce":
            raise OptionError(
                f"a {kind} volume takes no access_mode (got {self.access_mode!r})",
                fix=f"build it with Volume.{kind}(...)",
            )
        if kind in ("pvc", "secret", "config_map"):
            what = {"pvc": "claim name", "secret": "Secret name", "config_map": "ConfigMap name"}
            _subdomain(self.source, what=what[kind])
        elif kind == "claim":
            if self.size is None:
                raise OptionError(
                    "a claim volume needs a size", fix="write e.g. Volume.claim('10Gi', '/work')"
                )
            object.__setattr__(self, "size", quantity(self.size, option="size", of_bytes=True))
            _choice(self.access_mode, ACCESS_MODES, what="volume access mode")
            if self.storage_class is not None:
                _subdomain(self.storage_class, what="storage class")
        else:
            if self.medium is not None:
                _choice(self.medium, _MEDIA, what="emptyDir medium")
            if self.size_limit is not None:
                object.__setattr__(
                    self,
                    "size_limit",
                    quantity(self.size_limit, option="size_limit", of_bytes=True),
                )

    @classmethod
    def pvc(
        cls, claim: str, mount_path: str, *, name: str | None = None, read_only: bool = False
    ) -> Volume:
        """An existing PersistentVolumeClaim ``claim`` mounted at ``mount_path``.

        Args:
            claim: the claim's name.
            mount_path: where it is mounted.
            name: the volume's name in the pod; default: derived from ``claim``.
            read_only: mount it read-only.
        """
        if name is None and isinstance(claim, str):
            name = _default_volume_name(claim)
        return cls("pvc", name or "", mount_path, source=claim, read_only=read_only)

    @classmethod
    def claim(
        cls,
        size: str,
        mount_path: str,
        *,
        name: str,
        access_mode: AccessMode = "ReadWriteOnce",
        storage_class: str | None = None,
    ) -> Volume:
        """A claim of ``size`` created for each workflow run (a ``volumeClaimTemplate``).

        Every task of the run that mounts a claim of this ``name`` shares it.

        Args:
            size: the storage requested, e.g. ``"10Gi"``.
            mount_path: where it is mounted.
            name: the claim's name in the workflow (a DNS-1123 label).
            access_mode: ``ReadWriteOnce`` (one node), ``ReadWriteMany``, ``ReadOnlyMany``
                or ``ReadWriteOncePod``.
            storage_class: the storage class, or None for the cluster's default.
        """
        return cls(
            "claim",
            name,
            mount_path,
            size=size,
            access_mode=access_mode,
            storage_class=storage_class,
        )

    @classmethod
    def empty_dir(
        cls,
        mount_path: str,
        *,
        name: str,
        medium: str | None = None,
        size_limit: str | None = None,
    ) -> Volume:
        """Scratch space at ``mount_path`` that lives as long as the pod.

        Args:
            mount_path: where it is mounted.
            name: the volume's name in the pod.
            medium: ``"Memory"`` for a tmpfs, or None for the node's disk.
            size_limit: the most it may hold, e.g. ``"1Gi"``.
        """
        return cls("empty_dir", name, mount_path, medium=medium, size_limit=size_limit)

    @classmethod
    def secret(cls, secret_name: str, mount_path: str, *, name: str | None = None) -> Volume:
        """The keys of the Secret ``secret_name`` as files under ``mount_path`` (read-only).

        Args:
            secret_name: the Secret's name.
            mount_path: the directory the files appear in.
            name: the volume's name in the pod; default: derived from ``secret_name``.
        """
        if name is None and isinstance(secret_name, str):
            name = _default_volume_name(secret_name)
        return cls("secret", name or "", mount_path, source=secret_name)

    @classmethod
    def config_map(cls, config_map: str, mount_path: str, *, name: str | None = None) -> Volume:
        """The keys of the ConfigMap ``config_map`` as files under ``mount_path`` (read-only).

        Args:
            config_map: the ConfigMap's name.
            mount_path: the directory the files appear in.
            name: the volume's name in the pod; default: derived from ``config_map``.
        """
        if name is None and isinstance(config_map, str):
            name = _default_volume_name(config_map)
        return cls("config_map", name or "", mount_path, source=config_map)


def check_mounts(volumes: Sequence[Volume], *, option: str = "volumes") -> None:
    """Check that no two volumes share a mount path or a name.

    Raises:
        OptionError: a value is not a :class:`Volume`, or two volumes share a mount path or a
            name.
    """
    paths: dict[str, Volume] = {}
    names: dict[str, Volume] = {}
    for volume in volumes:
        if not isinstance(volume, Volume):
            raise OptionError(
                f"option '{option}' holds {volume!r} of type {_type_name(volume)}, not a Volume",
                fix="write e.g. Volume.pvc('data', '/data')",
            )
        if volume.mount_path in paths:
            raise OptionError(
                f"option '{option}': volumes '{paths[volume.mount_path].name}' and "
                f"'{volume.name}' are both mounted at '{volume.mount_path}'",
                fix="give each volume its own mount path",
            )
        if volume.name in names:
            raise OptionError(
                f"option '{option}': two volumes are named '{volume.name}' (mounted at "
                f"'{names[volume.name].mount_path}' and '{volume.mount_path}')",
                fix="give each volume its own name=...",
            )
        paths[volume.mount_path] = volume
        names[volume.name] = volume


# --------------------------------------------------------------------------------------------
# Caching
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cache:
    """Reuse a task's outputs from an earlier run with the same code and inputs (Argo memoize).

    ``cache=True`` means ``Cache()``.

    Attributes:
        max_age: how old a cached result may be (``"1d"``, ``"12h"``), kept in Go's form
            (``"24h"``) since Argo parses it with Go; None: cached results do not expire.
        version: part of the cache key; change it to invalidate what is cached.
        config_map: the ConfigMap Argo keeps the cache in; None lets flowdsl name it after
            the flow (``flowdsl-cache-<flow>``).
    """

    max_age: str | None = None
    version: str = "1"
    config_map: str | None = None

    def __post_init__(self) -> None:
        if self.max_age is not None:
            object.__setattr__(self, "max_age", go_duration(self.max_age, option="max_age"))
        if not isinstance(self.version, str) or not self.version:
            raise OptionError(
                f"cache version must be a non-empty string (got {self.version!r})",
                fix="write e.g. version='2'",
            )
        if self.config_map is not None:
            _subdomain(self.config_map, what="cache ConfigMap name")


# --------------------------------------------------------------------------------------------
# Mappings: env, secrets, labels, annotations, node selectors, affinity
# --------------------------------------------------------------------------------------------


def _mapping(value: object, *, option: str, example: str) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise OptionError(
            f"option '{option}' must be a mapping (got {value!r} of type {_type_name(value)})",
            fix=f"write e.g. {option}={example}",
        )
    return value


def _env_name(name: object, *, option: str) -> str:
    if not isinstance(name, str) or not _C_IDENTIFIER.fullmatch(name):
        suggestion = re.sub(r"\W", "_", name).upper() if isinstance(name, str) else ""
        if suggestion[:1].isdigit():
            suggestion = f"_{suggestion}"
        hint = f"write e.g. {suggestion!r}" if suggestion else "write e.g. 'DATA_DIR'"
        raise OptionError(
            f"option '{option}': {name!r} is not a valid environment variable name (letters, "
            "digits and '_', not starting with a digit)",
            fix=hint,
        )
    return name


def check_env(
    env: Mapping[str, object], *, option: str = "env"
) -> dict[str, str | Secret | ConfigMapKey]:
    """Check environment variables: C-identifier names, values text, Secret or ConfigMapKey.

    A plain string is allowed even under a name that sounds secret (``API_KEY``): users set
    non-secret values too. Use ``secrets=`` to have flowdsl insist on a :class:`Secret`.

    Raises:
        OptionError: a name or a value is not valid.
    """
    out: dict[str, str | Secret | ConfigMapKey] = {}
    for name, value in _mapping(env, option=option, example="{'LOG_LEVEL': 'debug'}").items():
        _env_name(name, option=option)
        if not isinstance(value, (str, Secret, ConfigMapKey)):
            text = str(value).lower() if isinstance(value, bool) else str(value)
            raise OptionError(
                f"option '{option}': {name!r} must be a string, Secret or ConfigMapKey (got "
                f"{value!r} of type {_type_name(value)})",
                fix=f"write {name!r}: {text!r}",
            )
        out[name] = value
    return out


_SECRET_FIX = "write Secret('deploy-credentials', 'token'): the name and key of a Kubernetes Secret"


def check_secrets(secrets: Mapping[str, object], *, option: str = "secrets") -> dict[str, Secret]:
    """Check secret environment variables: every value must be a :class:`Secret`.

    Raises:
        OptionError: a name is not valid, or a value is not a Secret; a plain string is
            refused without echoing it (only its length is shown).
    """
    out: dict[str, Secret] = {}
    example = "{'DEPLOY_TOKEN': Secret('deploy-credentials', 'token')}"
    for name, value in _mapping(secrets, option=option, example=example).items():
        _env_name(name, option=option)
        if isinstance(value, str):
            raise OptionError(
                f"option '{option}': {name!r} is given a plain string of {len(value)} "
                "characters (a secret must not be written into the manifest)",
                fix=_SECRET_FIX,
            )
        if not isinstance(value, Secret):
            raise OptionError(
                f"option '{option}': {name!r} must be a Secret (got a value of type "
                f"{_type_name(value)})",
                fix=_SECRET_FIX,
            )
        out[name] = value
    return out


def _label_key(key: object, *, what: str) -> str:
    """``key`` if it is a Kubernetes label/annotation key: ``[prefix/]name``."""
    if isinstance(key, str):
        prefix, slash, name = key.rpartition("/")
        if (
            len(name) <= 63
            and _LABEL_NAME.fullmatch(name)
            and (not slash or (len(prefix) <= 253 and _DNS_SUBDOMAIN.fullmatch(prefix)))
        ):
            return key
    raise OptionError(
        f"{what} {key!r} is not a valid Kubernetes key (an optional DNS prefix and '/', then "
        "at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or "
        "digit)",
        fix="write e.g. 'team' or 'example.com/team'",
    )


def check_labels(labels: Mapping[str, object], *, option: str) -> dict[str, str]:
    """Check Kubernetes labels (or a node selector): ``[prefix/]name`` keys, short values.

    Raises:
        OptionError: a key or a value does not follow Kubernetes' label syntax.
    """
    out: dict[str, str] = {}
    for key, value in _mapping(labels, option=option, example="{'team': 'ml'}").items():
        _label_key(key, what=f"option '{option}': key")
        if not isinstance(value, str):
            raise OptionError(
                f"option '{option}': the value of {key!r} must be a string (got {value!r} of "
                f"type {_type_name(value)})",
                fix=f"write {key!r}: {_label_text(value)!r}",
            )
        if value and (len(value) > 63 or not _LABEL_NAME.fullmatch(value)):
            raise OptionError(
                f"option '{option}': the value {value!r} of {key!r} is not a valid label value "
                "(at most 63 letters, digits, '-', '_' or '.', starting and ending with a "
                "letter or digit)",
                fix=f"write e.g. {key!r}: {_label_text(value)!r}",
            )
        out[key] = value
    return out


def _label_text(value: object) -> str:
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return re.sub(r"[^-A-Za-z0-9_.]+", "-", text)[:63].strip("-_.") or "value"


def check_annotations(
    annotations: Mapping[str, object], *, option: str = "annotations"
) -> dict[str, str]:
    """Check Kubernetes annotations: label-style keys, any text as values.

    Raises:
        OptionError: a key is not valid, or a value is not a string.
    """
    out: dict[str, str] = {}
    example = "{'owner': 'data-team'}"
    for key, value in _mapping(annotations, option=option, example=example).items():
        _label_key(key, what=f"option '{option}': key")
        if not isinstance(value, str):
            raise OptionError(
                f"option '{option}': the value of {key!r} must be a string (got {value!r} of "
                f"type {_type_name(value)})",
                fix=f"write {key!r}: {str(value)!r}",
            )
        out[key] = value
    return out


_AFFINITY_KEYS = ("nodeAffinity", "podAffinity", "podAntiAffinity")


def check_affinity(affinity: Mapping[str, object], *, option: str = "affinity") -> dict[str, Any]:
    """Check a Kubernetes affinity, given in its manifest form (``{"nodeAffinity": {...}}``).

    Only the top-level keys are checked here; the manifest's schema check sees the rest.

    Raises:
        OptionError: not a mapping, or an unknown top-level key.
    """
    example = "{'nodeAffinity': {...}}"
    out: dict[str, Any] = {}
    for key, value in _mapping(affinity, option=option, example=example).items():
        if key not in _AFFINITY_KEYS:
            near = _nearest(str(key), _AFFINITY_KEYS)
            hint = f"did you mean '{near}'? " if near else ""
            raise OptionError(
                f"option '{option}' has an unknown key {key!r} (expected "
                f"{', '.join(_AFFINITY_KEYS)})",
                fix=f"{hint}write the Kubernetes affinity in its manifest form",
            )
        if not isinstance(value, Mapping):
            raise OptionError(
                f"option '{option}': {key!r} must be a mapping (got {_type_name(value)})",
                fix="write the Kubernetes affinity in its manifest form",
            )
        out[key] = value
    return out


# --------------------------------------------------------------------------------------------
# Every option by name
# --------------------------------------------------------------------------------------------


def _image(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value):
        raise OptionError(
            f"option 'image' must be a non-empty string without spaces (got {value!r})",
            fix='write e.g. image="ghcr.io/acme/pipeline:1.0"',
        )
    return value


def _resources(value: object) -> Resources:
    if isinstance(value, Resources):
        return value
    raise OptionError(
        f"option 'resources' must be a Resources (got {value!r} of type {_type_name(value)})",
        fix='write e.g. resources=Resources(cpu="2", memory="8Gi")',
    )


def _tolerations(value: object) -> tuple[Toleration, ...]:
    items = (value,) if isinstance(value, Toleration) else value
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Sequence):
        items = (value,)
    for item in items:
        if not isinstance(item, Toleration):
            raise OptionError(
                f"option 'tolerations' must be a list of Toleration (got {item!r} of type "
                f"{_type_name(item)})",
                fix="write e.g. tolerations=[Toleration('nvidia.com/gpu', 'Exists')]",
            )
    return tuple(items)


def _retries(value: object) -> Retry:
    if isinstance(value, Retry):
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise OptionError(
            f"option 'retries' must be a whole number >= 0 or a Retry (got {value!r})",
            fix="write e.g. retries=3 or retries=Retry(3, backoff=Backoff('10s'))",
        )
    return Retry(value)


def _volumes(value: object) -> tuple[Volume, ...]:
    items = (value,) if isinstance(value, Volume) else value
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Sequence):
        items = (value,)
    volumes = tuple(items)
    check_mounts(volumes)
    return volumes


def _cache(value: object) -> Cache | None:
    if value is True:
        return Cache()
    if value is False:
        return None
    if isinstance(value, Cache):
        return value
    raise OptionError(
        f"option 'cache' must be True, False or a Cache (got {value!r} of type "
        f"{_type_name(value)})",
        fix="write cache=True or cache=Cache(max_age='1d')",
    )


def _positive(option: str, what: str) -> Callable[[object], int]:
    def check(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise OptionError(
                f"option '{option}' must be a whole number >= 1 (got {value!r})",
                fix=f"write e.g. {option}=4 ({what})",
            )
        return value

    return check


def _flag(option: str) -> Callable[[object], bool]:
    def check(value: object) -> bool:
        if not isinstance(value, bool):
            raise OptionError(
                f"option '{option}' must be True or False (got {value!r})",
                fix=f"write {option}=True",
            )
        return value

    return check


def _object_name(option: str) -> Callable[[object], str]:
    return lambda value: _subdomain(value, what=f"option '{option}':")


def _one_of(option: str, valid: Sequence[str]) -> Callable[[object], str]:
    return lambda value: _choice(value, valid, what=f"option '{option}':")


_CODE_MODES = ("auto", "import", "value")

#: Options a task (``@task``, ``.options()``, a profile) may set, with their checkers.
TASK_OPTIONS: Mapping[str, Callable[[Any], Any]] = {
    "image": _image,
    "image_pull_policy": _one_of("image_pull_policy", PULL_POLICIES),
    "resources": _resources,
    "node_selector": lambda value: check_labels(value, option="node_selector"),
    "tolerations": _tolerations,
    "affinity": check_affinity,
    "env": check_env,
    "secrets": check_secrets,
    "retries": _retries,
    "timeout": lambda value: check_duration(value, option="timeout"),
    "volumes": _volumes,
    "service_account": _object_name("service_account"),
    "labels": lambda value: check_labels(value, option="labels"),
    "annotations": check_annotations,
    "parallelism": _positive("parallelism", "how many run at once"),
    "priority_class": _object_name("priority_class"),
    "cache": _cache,
    "continue_on_failure": _flag("continue_on_failure"),
}

#: Options only a flow (``@flow``, the project defaults) may set, with their checkers.
FLOW_OPTIONS: Mapping[str, Callable[[Any], Any]] = {
    "workflow_timeout": lambda value: check_duration(value, option="workflow_timeout"),
    "pod_gc": _one_of("pod_gc", POD_GC_STRATEGIES),
    "artifact_repository": _object_name("artifact_repository"),
    "code": _one_of("code", _CODE_MODES),
    "fail_fast": _flag("fail_fast"),
}

#: Every option name, task options first.
OPTIONS: tuple[str, ...] = (*TASK_OPTIONS, *FLOW_OPTIONS)


def check_option(name: str, value: object) -> Any:
    """Check the value of the option ``name`` in its Python form and return it normalised.

    Normalised forms: ``retries`` an int becomes a :class:`Retry`; ``cache`` ``True``
    becomes :class:`Cache()` and ``False`` None; ``timeout`` and ``workflow_timeout``
    become seconds; ``tolerations`` and ``volumes`` become tuples; mappings become dicts.

    Raises:
        OptionError: the option is unknown (the nearest name is suggested) or its value is
            not valid.
    """
    checker = TASK_OPTIONS.get(name) or FLOW_OPTIONS.get(name)
    if checker is None:
        close = difflib.get_close_matches(name, OPTIONS, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise OptionError(
            f"unknown option '{name}'", fix=f"{hint}valid options: {', '.join(OPTIONS)}"
        )
    return checker(value)
