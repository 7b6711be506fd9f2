"""The one exception tree of flowdsl.

Every mistake a user can make surfaces as a subclass of :class:`FlowDSLError`, never as a
traceback from Hera, pydantic or YAML::

    FlowDSLError                  base; carries where it happened (flow, task, parameter, file:line)
    ├── DefinitionError           a @task or @flow declaration is wrong
    │   ├── AnnotationError       a type hint is missing or not supported
    │   ├── InvalidNameError      a name cannot become a valid Argo name
    │   └── OptionError           an option has the wrong type, unit or value
    ├── TraceError                a flow body used a reference where Python needs a real value,
    │                             or called a task with unknown, missing or ill-typed arguments
    ├── ParameterError            a flow argument (-p, a call, params=) is unknown, missing,
    │                             or does not parse as the parameter's type
    ├── CodecError                a value does not encode to, or decode from, its declared type
    ├── TargetError               a CLI TARGET cannot be loaded, holds no flow, or several
    ├── CompileError              a traced flow cannot become a manifest of the requested kind
    │   └── LintError             an emitted manifest breaks one of Argo's rules (a flowdsl bug)
    ├── PayloadError              (in the pod) a by-value task payload cannot be used here
    └── RunError                  (local engine) a manifest cannot be run, or a run failed

Warnings (``warnings.warn``) have one root too::

    FlowDSLWarning                base of flowdsl's warnings (a UserWarning)
    └── ManifestSizeWarning       a compiled manifest passed half of Argo's 1 MiB limit

Messages follow one shape, so that a user can read them the same way every time::

    flow 'nightly', task 'train', parameter 'lr' (nightly.py:12): <what went wrong,
    expected versus got>; <the fix>

The location prefix is built from the structured fields, which stay available on the
exception (``err.flow``, ``err.task``, ``err.parameter``, ``err.location``) for tools and tests.
"""

from __future__ import annotations

__all__ = [
    "AnnotationError",
    "CodecError",
    "CompileError",
    "DefinitionError",
    "FlowDSLError",
    "FlowDSLWarning",
    "InvalidNameError",
    "LintError",
    "ManifestSizeWarning",
    "OptionError",
    "ParameterError",
    "PayloadError",
    "RunError",
    "TargetError",
    "TraceError",
]


class FlowDSLError(Exception):
    """Base of every error flowdsl raises for a user's mistake.

    Args:
        problem: what went wrong, with the expected and the actual value.
        fix: what the user should do instead; appended after ``; ``.
        flow: name of the flow concerned, if any.
        task: name of the task concerned, if any.
        parameter: name of the parameter (or option) concerned, if any.
        location: ``file:line`` of the user's code, when known.
    """

    def __init__(
        self,
        problem: str,
        *,
        fix: str | None = None,
        flow: str | None = None,
        task: str | None = None,
        parameter: str | None = None,
        location: str | None = None,
    ) -> None:
        self.problem = problem
        self.fix = fix
        self.flow = flow
        self.task = task
        self.parameter = parameter
        self.location = location
        super().__init__(self._render())

    @property
    def where(self) -> str:
        """The location prefix, e.g. ``flow 'etl', task 'load' (etl.py:7)``; may be empty."""
        parts = []
        if self.flow is not None:
            parts.append(f"flow '{self.flow}'")
        if self.task is not None:
            parts.append(f"task '{self.task}'")
        if self.parameter is not None:
            parts.append(f"parameter '{self.parameter}'")
        where = ", ".join(parts)
        if self.location is not None:
            where = f"{where} ({self.location})" if where else self.location
        return where

    def _render(self) -> str:
        message = f"{self.where}: {self.problem}" if self.where else self.problem
        if self.fix:
            message = f"{message}; {self.fix}"
        return message

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only fields do not survive the default Exception pickling; errors cross
        # process boundaries in the local engine, so keep them intact.
        return (_rebuild, (type(self), self.problem, self.__dict__.copy()))


def _rebuild(cls: type[FlowDSLError], problem: str, state: dict[str, object]) -> FlowDSLError:
    err = cls.__new__(cls)
    err.__dict__.update(state)
    Exception.__init__(err, err._render())
    return err


class DefinitionError(FlowDSLError):
    """A ``@task`` or ``@flow`` declaration is wrong (raised at decoration or trace time)."""


class AnnotationError(DefinitionError):
    """A parameter or return type hint is missing, or names a type flowdsl cannot encode."""


class InvalidNameError(DefinitionError):
    """A flow, task or parameter name cannot become a valid Argo (DNS-1123) name."""


class OptionError(DefinitionError):
    """An option of ``@task``, ``@flow`` or ``.options()`` has the wrong type, unit or value."""


class TraceError(FlowDSLError):
    """A flow body did something tracing cannot record.

    Raised when a reference to a future value is used where Python needs the real value
    (``if ref:``, ``for x in ref``, ``len(ref)``, ``int(ref)``, ``str(ref)``, a plain function
    called on a reference), or when a task is called with unknown, missing or ill-typed
    arguments.
    """


class ParameterError(FlowDSLError):
    """A flow argument is unknown, missing, or does not parse as its parameter's type."""


class CodecError(FlowDSLError):
    """A value does not encode to, or decode from, the Argo text form of its declared type."""


class TargetError(FlowDSLError):
    """A CLI TARGET (``file.py[:flow]`` or ``module[:flow]``) cannot be resolved to one flow."""


class CompileError(FlowDSLError):
    """A traced flow cannot be lowered to a manifest of the requested kind."""


class LintError(CompileError):
    """A manifest flowdsl produced breaks one of Argo's semantic rules.

    This is a bug in flowdsl, not in the user's flow: the lint exists so that such a
    manifest is never handed to a cluster. ``rule`` names the rule that was broken and
    ``path`` the place in the manifest (e.g. ``spec.templates[1].dag.tasks[0]``).
    """

    def __init__(self, problem: str, *, rule: str, path: str, fix: str | None = None) -> None:
        self.rule = rule
        self.path = path
        super().__init__(
            f"[{rule}] at {path}: {problem}",
            fix=fix or "this is a flowdsl bug; please report it with the flow that produced it",
        )


class PayloadError(FlowDSLError):
    """A by-value task payload cannot be loaded in this container.

    Raised by the in-pod runtime when the payload was made by another Python, cloudpickle
    or flowdsl version than the one in the image, or is unreadable.
    """


class RunError(FlowDSLError):
    """The local engine cannot run a manifest, or a local run did not succeed."""


class FlowDSLWarning(UserWarning):
    """Base of the warnings flowdsl emits (filter them with ``-W ignore::FlowDSLWarning``)."""


class ManifestSizeWarning(FlowDSLWarning):
    """A compiled manifest is over 512 KiB: half of what Argo can store in one object."""
