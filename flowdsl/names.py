"""Argo names: the one place that turns Python names into valid, unique Argo names.

NOTE: [Names]
Argo accepts template and DAG task names matching ``[a-zA-Z0-9][-a-zA-Z0-9]*`` (at most 128
characters), parameter names matching ``[-a-zA-Z0-9_]+``, and object names (``metadata.name``)
that are DNS-1123: lowercase alphanumerics and ``-``, starting and ending alphanumeric,
at most 63 characters for a Workflow. flowdsl uses the strictest form everywhere a name
becomes a template, a task or an object: a lowercase DNS-1123 *label* of at most 63 characters
that does not start with a digit (Argo refuses DAG task names that start with a digit once
``depends`` is used). Python identifiers map to it by lowercasing and turning ``_`` into ``-``
(``train_model`` -> ``train-model``); a name given explicitly by the user must already be
valid: flowdsl never silently rewrites what the user wrote.

Parameter names keep the Python identifier (``learning_rate``): Argo allows ``_`` there, and
the name the user typed is the name they see in the Argo UI and pass with ``-p``.

Uniqueness is owned by :class:`Namespace`: each scope (templates of a manifest, tasks of a
DAG) asks it for names, in a deterministic order, so the same flow always yields the same
names.
"""

from __future__ import annotations

import re

from flowdsl.errors import InvalidNameError

__all__ = [
    "MAX_GENERATE_NAME",
    "MAX_NAME",
    "Namespace",
    "dns_name",
    "is_dns_name",
    "is_parameter_name",
]

#: Longest DNS-1123 label Kubernetes and Argo accept for names flowdsl makes.
MAX_NAME = 63
#: Longest flow name: the Workflow's ``generateName`` prefix leaves room for ``-`` and the
#: five random characters Kubernetes appends, so the generated name stays a valid label.
MAX_GENERATE_NAME = MAX_NAME - 6

_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_PARAMETER = re.compile(r"^[-a-zA-Z0-9_]+$")
_IDENTIFIER_ASCII = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def is_dns_name(name: str, *, max_length: int = MAX_NAME) -> bool:
    """Whether ``name`` is a lowercase DNS-1123 label that starts with a letter."""
    return len(name) <= max_length and _DNS_LABEL.match(name) is not None


def is_parameter_name(name: str) -> bool:
    """Whether ``name`` is a valid Argo parameter name (``[-a-zA-Z0-9_]+``)."""
    return _PARAMETER.match(name) is not None


def dns_name(
    python_name: str,
    *,
    kind: str,
    explicit: bool = False,
    max_length: int = MAX_NAME,
    location: str | None = None,
) -> str:
    """The Argo name for a flow or task.

    Args:
        python_name: the function name, or the name the user gave with ``name=...``.
        kind: ``"flow"`` or ``"task"``, for the error message.
        explicit: the user wrote this name; it must already be valid.
        max_length: the longest name allowed for this kind of object.
        location: ``file:line`` of the definition, for the error message.

    Raises:
        InvalidNameError: the name cannot become a valid Argo name.
    """
    where = {"flow": python_name} if kind == "flow" else {"task": python_name}
    if explicit:
        if is_dns_name(python_name, max_length=max_length):
            return python_name
        suggestion = _suggest(python_name, max_length)
        fix = (
            f"use name={suggestion!r}"
            if suggestion
            else "use a name of lowercase letters, digits and '-' that starts with a letter"
        )
        raise InvalidNameError(
            f"name {python_name!r} is not a valid Argo name (expected lowercase letters, "
            f"digits and '-', starting with a letter, at most {max_length} characters)",
            fix=fix,
            location=location,
            **where,
        )
    if not _IDENTIFIER_ASCII.match(python_name):
        raise InvalidNameError(
            f"the function name {python_name!r} has characters Argo names cannot hold "
            "(expected ASCII letters, digits and '_')",
            fix=f"give the {kind} an Argo name with @{kind}(name='...')",
            location=location,
            **where,
        )
    candidate = _suggest(python_name, max_length=10_000)
    if not candidate:
        raise InvalidNameError(
            f"the function name {python_name!r} has no letters to build an Argo name from",
            fix=f"give the {kind} an Argo name with @{kind}(name='...')",
            location=location,
            **where,
        )
    if len(candidate) > max_length:
        raise InvalidNameError(
            f"the Argo name {candidate!r} derived from {python_name!r} is {len(candidate)} "
            f"characters long (at most {max_length} allowed)",
            fix=f"give the {kind} a shorter name with @{kind}(name='...')",
            location=location,
            **where,
        )
    return candidate


def _suggest(name: str, max_length: int) -> str:
    """A best-effort valid label close to ``name`` (empty when there is nothing to keep)."""
    lowered = re.sub(r"[^a-z0-9-]+", "-", name.lower().replace("_", "-"))
    lowered = re.sub(r"-{2,}", "-", lowered).strip("-")
    lowered = lowered.lstrip("0123456789-")
    return lowered[:max_length].rstrip("-")


class Namespace:
    """Hands out unique names within one scope, deterministically.

    Invariants: every name returned is a valid DNS-1123 label of at most ``MAX_NAME``
    characters; no name is returned twice; the n-th request for the same base name always
    gets the same answer (``train``, ``train-2``, ``train-3`` ...), so manifests are
    reproducible byte for byte. Reserved names (e.g. the flow's own template name) are never
    handed out.
    """

    __slots__ = ("_counts", "_taken")

    def __init__(self, reserved: tuple[str, ...] = ()) -> None:
        self._taken: set[str] = set(reserved)
        self._counts: dict[str, int] = {}

    def claim(self, base: str) -> str:
        """A fresh name derived from ``base`` (itself a valid name)."""
        if base not in self._taken:
            self._taken.add(base)
            return base
        count = self._counts.get(base, 1)
        while True:
            count += 1
            suffix = f"-{count}"
            candidate = base[: MAX_NAME - len(suffix)].rstrip("-") + suffix
            if candidate not in self._taken:
                self._counts[base] = count
                self._taken.add(candidate)
                return candidate
