"""Submitting flows and following what they do: :func:`submit` and :class:`Submission`.

Parameters are checked before anything is sent: a flow's by the types of its parameters
(unknown names, values that do not parse, values outside an enum), a manifest's or a
WorkflowTemplate's by the parameters it declares (names, enums, values that are required).
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from flowdsl.client.errors import WaitTimeout
from flowdsl.client.status import LogEntry, WorkflowState
from flowdsl.errors import FlowDSLError, ParameterError

if TYPE_CHECKING:
    from pathlib import Path

    from flowdsl.client.client import Client
    from flowdsl.dsl import Flow

__all__ = ["Submission", "check_declared", "flow_parameters", "submit", "submit_flow"]


class Submission:
    """A workflow on the Argo Server: one this client submitted, or one looked up by name.

    Args:
        client: the client to reach the server with.
        name: the workflow's name.
        flow: the flow it runs, if known (for decoding its result).
        state: the state last seen, if any.
    """

    def __init__(
        self,
        client: Client,
        name: str,
        *,
        flow: Flow[Any, Any] | None = None,
        state: WorkflowState | None = None,
    ) -> None:
        self.client = client
        self.name = name
        self.flow = flow
        self._state = state

    def __repr__(self) -> str:
        return f"<flowdsl Submission {self.name!r} namespace={self.namespace!r}>"

    @property
    def namespace(self) -> str:
        """The workflow's namespace."""
        return self.client.namespace

    @property
    def url(self) -> str:
        """The workflow's page in the Argo UI."""
        return self.client.connection.ui_url(self.name)

    @property
    def status(self) -> WorkflowState:
        """The workflow's state now (asks the server)."""
        self._state = self.client.get_workflow(self.name)
        return self._state

    @property
    def phase(self) -> str:
        """The workflow's phase now (asks the server)."""
        return self.status.phase

    @property
    def last_state(self) -> WorkflowState | None:
        """The state last seen, without asking the server."""
        return self._state

    def watch(self) -> Iterator[WorkflowState]:
        """The workflow's state now and after every change, until it finishes."""
        for state in self.client.watch_workflow(self.name):
            self._state = state
            yield state

    def wait(
        self,
        timeout: float | None = None,
        *,
        on_change: Callable[[WorkflowState], None] | None = None,
    ) -> WorkflowState:
        """Wait until the workflow finishes and return its final state.

        A workflow that fails is returned, not raised: check ``.ok`` or ``.phase``, and
        ``.failed_nodes()`` for where it failed.

        Args:
            timeout: give up after this many seconds (None: wait as long as it runs).
            on_change: called with every new state (for progress displays).

        Raises:
            WaitTimeout: ``timeout`` passed first (the workflow keeps running).
            NotFoundError: the workflow does not exist or was deleted.
            ConnectionFailed: the event stream could not be reopened.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        for state in self.client.watch_workflow(self.name, deadline=deadline):
            self._state = state
            if on_change is not None:
                on_change(state)
            if state.done:
                return state
        state = self._state or self.status
        raise WaitTimeout(
            f"workflow '{self.name}' is still {state.phase} after {timeout:g}s",
            fix=f"it keeps running; look at it with `python -m flowdsl get {self.name}`",
            name=self.name,
            phase=state.phase,
        )

    def logs(self, *, task: str | None = None, follow: bool = False) -> Iterator[LogEntry]:
        """The workflow's log lines (of one task's pods with ``task``).

        Args:
            task: only the pods of this task (its name in the flow).
            follow: keep streaming until the workflow finishes.
        """
        return workflow_logs(self.client, self.name, task=task, follow=follow)

    def stop(self, message: str | None = None) -> WorkflowState:
        """Stop the workflow (exit handlers still run)."""
        self._state = self.client.stop_workflow(self.name, message=message)
        return self._state

    def terminate(self) -> WorkflowState:
        """Terminate the workflow (running steps are killed, no exit handlers)."""
        self._state = self.client.terminate_workflow(self.name)
        return self._state

    def retry(self, *, restart_successful: bool = False) -> WorkflowState:
        """Retry the failed workflow in place, from its failed nodes."""
        self._state = self.client.retry_workflow(self.name, restart_successful=restart_successful)
        return self._state

    def resubmit(self, *, memoized: bool = False, **params: Any) -> Submission:
        """Run the workflow again as a new workflow; ``params`` override its parameters."""
        texts = _encode_for(self.flow, params) if self.flow is not None else _texts(params)
        state = self.client.resubmit_workflow(self.name, memoized=memoized, parameters=texts)
        return Submission(self.client, state.name, flow=self.flow, state=state)

    def outputs(self) -> dict[str, str]:
        """The flow's output parameters as text (``return`` is its result), once it succeeded."""
        state = self._state if self._state is not None and self._state.done else self.status
        try:
            root = state.node(state.name)
        except KeyError:
            return {}
        return dict(root.outputs)

    def result(self) -> Any:
        """The flow's return value, decoded by its return type (needs ``flow``).

        Raises:
            FlowDSLError: the flow is unknown, returns nothing, or the workflow has no result.
        """
        if self.flow is None or self.flow.returns is None:
            raise FlowDSLError(
                "this submission's flow is unknown or returns nothing",
                fix="submit with flowdsl.submit(flow, ...) to get a decodable result",
            )
        from flowdsl import types as codecs

        outputs = self.outputs()
        if "return" not in outputs:
            raise FlowDSLError(
                f"workflow '{self.name}' has no result yet (phase {self.phase})",
                fix="call wait() first; a failed workflow has no result",
                flow=self.flow.name,
            )
        # A flow returning a map's results gets Argo's aggregate (plain values as texts).
        return codecs.decode_fan_in(codecs.codec_for(self.flow.returns), outputs["return"])


def workflow_logs(
    client: Client, name: str, *, task: str | None, follow: bool, grep: str | None = None
) -> Iterator[LogEntry]:
    """Log lines of a workflow, or of the pods of one of its tasks.

    With ``task``, pods are matched through the workflow's nodes; a pod that appears later
    (a task that had not started, a retry) is looked up when its first line arrives.

    Raises:
        FlowDSLError: ``task`` names no task of the workflow (when it has finished).
    """
    if task is None:
        yield from client.workflow_logs(name, follow=follow, grep=grep)
        return
    state = client.get_workflow(name)
    pods = {node.pod_name for node in state.task_nodes(task)}
    if not pods and state.done:
        names = sorted({n.display_name.split("(", 1)[0] for n in state.nodes if n.pod_name})
        close = difflib.get_close_matches(task, names, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise FlowDSLError(
            f"workflow '{name}' has no task {task!r} that ran a pod (tasks: "
            f"{', '.join(names) or 'none'})",
            fix=f"{hint}name a task of the flow",
        )
    only = next(iter(pods)) if len(pods) == 1 and state.done else None
    others: set[str] = set()
    for entry in client.workflow_logs(name, follow=follow, pod_name=only, grep=grep):
        if entry.pod_name not in pods and entry.pod_name not in others:
            # A pod that started after we looked: refresh the task's pods once per pod.
            pods = {node.pod_name for node in client.get_workflow(name).task_nodes(task)}
            if entry.pod_name not in pods:
                others.add(entry.pod_name)
        if entry.pod_name in pods:
            yield entry


# --------------------------------------------------------------------------------------------
# parameters
# --------------------------------------------------------------------------------------------


def flow_parameters(flow: Flow[Any, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """Python keyword values of a flow, keyed by their Argo names (Python names accepted).

    Raises:
        ParameterError: a name is no parameter of the flow.
    """
    by_python = {p.python_name: p.name for p in flow.params}
    exposed = {p.name for p in flow.params}
    values: dict[str, Any] = {}
    for key, value in params.items():
        name = by_python.get(key, key if key in exposed else None)
        if name is None:
            known = sorted({*by_python, *exposed})
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ParameterError(
                f"the flow has no parameter {key!r} (parameters: {', '.join(known) or 'none'})",
                fix=f"{hint}check the name",
                flow=flow.name,
                parameter=key,
            )
        values[name] = value
    return values


def _encode_for(flow: Flow[Any, Any], params: Mapping[str, Any]) -> dict[str, str]:
    """Argo text of Python values, checked by the flow's parameter types."""
    from flowdsl import types as codecs

    values = flow_parameters(flow, params)
    by_name = {p.name: p for p in flow.params}
    texts: dict[str, str] = {}
    for name, value in values.items():
        codec = codecs.codec_for(by_name[name].annotation)
        try:
            texts[name] = codec.encode(value)
        except FlowDSLError as exc:
            raise ParameterError(
                exc.problem,
                fix=codecs.value_fix(codec),
                flow=flow.name,
                parameter=name,
            ) from None
    return texts


def _texts(params: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): v if isinstance(v, str) else str(v) for k, v in params.items()}


def check_declared(
    declared: Sequence[Mapping[str, Any]],
    values: Mapping[str, str],
    *,
    owner: str,
    require: bool = True,
) -> None:
    """Check text values against the parameters a manifest or template declares.

    Args:
        declared: ``spec.arguments.parameters`` of the manifest or template.
        values: ``{name: text}`` given by the user.
        owner: how to name the manifest or template in messages.
        require: also check that every parameter without a value gets one.

    Raises:
        ParameterError: an unknown name, a value outside the parameter's enum, or a
            required parameter without a value.
    """
    by_name = {str(p.get("name")): p for p in declared if isinstance(p, Mapping)}
    for name, text in values.items():
        param = by_name.get(name)
        if param is None:
            close = difflib.get_close_matches(name, list(by_name), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ParameterError(
                f"{owner} has no parameter {name!r} (parameters: {', '.join(by_name) or 'none'})",
                fix=f"{hint}check the name",
                parameter=name,
            )
        enum = [str(v) for v in param.get("enum") or []]
        if enum and text not in enum:
            raise ParameterError(
                f"{text!r} is not an allowed value (expected one of: {', '.join(enum)})",
                fix=f"pass one of: {', '.join(enum)}",
                parameter=name,
            )
    if require:
        for name, param in by_name.items():
            if name not in values and param.get("value") is None and param.get("default") is None:
                raise ParameterError(
                    f"{owner} requires a value for parameter {name!r} and none was given",
                    fix=f"pass -p {name}=VALUE",
                    parameter=name,
                )


# --------------------------------------------------------------------------------------------
# submitting
# --------------------------------------------------------------------------------------------


def submit_flow(
    client: Client,
    flow: Flow[Any, Any],
    params: Mapping[str, Any] | None = None,
    *,
    name: str | None = None,
    server_dry_run: bool = False,
    config: str | Path | None = None,
) -> Submission:
    """Compile ``flow`` with ``params`` (checked by type first) and create it as a Workflow.

    Raises:
        ParameterError: a parameter is unknown, does not fit its type, or is missing.
        ClientError: the server could not be reached or refused the workflow.
    """
    from flowdsl._compile import compile_dict

    manifest = compile_dict(
        flow, kind="workflow", params=flow_parameters(flow, params or {}), config=config
    )
    state = client.create_workflow(
        manifest, name=name, server_dry_run=server_dry_run, flow=flow.name
    )
    return Submission(client, state.name, flow=flow, state=state)


def submit(flow: Flow[Any, Any], /, **params: Any) -> Submission:
    """Submit a flow to the Argo Server configured by the environment and pyproject.toml.

    Parameters are keyword arguments, as when calling the flow; they are checked against
    the flow's types before anything is sent. The server and namespace come from
    ``ARGO_SERVER``, ``ARGO_NAMESPACE`` ... (see :mod:`flowdsl.client.config`); for other
    settings use ``flowdsl.client.Client(connection).submit(flow, params)``.

    Returns:
        The submission: ``.wait()``, ``.status``, ``.logs()``, ``.result()`` ...

    Raises:
        ParameterError: a parameter is unknown, does not fit its type, or is missing.
        ConnectionConfigError: no server is configured.
        ClientError: the server could not be reached or refused the workflow.
    """
    from flowdsl.client.client import Client

    return submit_flow(Client(), flow, params)
