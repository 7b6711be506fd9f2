"""The Argo Server REST client: :class:`Client`.

Written on ``requests`` (through the :mod:`~flowdsl.client.transport` seam) rather than on
Hera's ``WorkflowsService``, which has no request timeouts, no retries, no streaming (it
reads a log stream as one JSON document), no seam for tests, and asserts on its host.
Hera's generated models are reused for what they are good at: the request envelopes
(``WorkflowCreateRequest``, ``WorkflowSubmitRequest``, ``WorkflowRetryRequest`` ...) are
built from them, so every field name is Argo's. The manifest inside an envelope is passed
through unchanged rather than round-tripped through Hera's ``Workflow``, which would
silently drop any field newer than Hera's models. Answers are read into the tolerant records
of :mod:`~flowdsl.client.status`.

NOTE: [Idempotent create]
A create whose answer is lost (a dropped connection, a timeout, a 5xx from a proxy) may
have created the workflow. The client therefore never lets the server generate the name:
it picks ``<generateName><5 random characters>`` itself and stamps the workflow with a
random submission ID (annotation :data:`SUBMISSION_ANNOTATION`). A retried create that
meets 409 AlreadyExists reads the existing workflow: if it carries this submission's ID it
is the workflow the lost attempt created, and it is returned; otherwise the name was taken
by someone else (a new random name is picked, or, for a name the user chose,
:class:`ConflictError` is raised). So a retried create never creates a second workflow.
"""

from __future__ import annotations

import copy
import json
import logging
import random
import secrets
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from flowdsl._version import __version__
from flowdsl.client.config import Connection, resolve_connection
from flowdsl.client.errors import (
    AuthError,
    ClientError,
    ConflictError,
    ConnectionFailed,
    NotFoundError,
    RejectedError,
    ServerError,
    redact,
)
from flowdsl.client.status import LogEntry, WorkflowState
from flowdsl.client.streams import (
    LogDeduplicator,
    MalformedStream,
    StreamFailure,
    messages,
    split_timestamp,
)
from flowdsl.client.transport import Request, Response, Transport, TransportError

if TYPE_CHECKING:
    from pathlib import Path

    from flowdsl.client.submission import Submission
    from flowdsl.dsl import Flow

__all__ = ["FLOW_LABEL", "SUBMISSION_ANNOTATION", "Client"]

#: Annotation holding the random ID of the submission that created a workflow.
SUBMISSION_ANNOTATION = "flowdsl/submission-id"
#: The label tying a workflow to its flow (also set by ``flowdsl.lower``).
FLOW_LABEL = "flowdsl/flow"
#: Kubernetes' alphabet for generated name suffixes (no vowels, no look-alikes).
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_NAME_TRIES = 3
_LIST_CHUNK = 200
_LIST_FIELDS = ",".join(
    [
        "metadata.continue",
        "metadata.resourceVersion",
        "items.metadata.name",
        "items.metadata.namespace",
        "items.metadata.uid",
        "items.metadata.labels",
        "items.metadata.annotations",
        "items.metadata.creationTimestamp",
        "items.metadata.resourceVersion",
        "items.spec.arguments",
        "items.status.phase",
        "items.status.message",
        "items.status.startedAt",
        "items.status.finishedAt",
        "items.status.progress",
    ]
)
_log = logging.getLogger("flowdsl.client")

RetryNotice = Callable[[str], None]


def _segment(value: str) -> str:
    return quote(value, safe="")


class Client:
    """A connection to one Argo Server, in one namespace.

    Args:
        connection: where and how to connect; default :func:`resolve_connection()`
            (environment and project configuration).
        transport: how requests are sent; default a ``requests`` session.
        on_retry: called with a one-line notice before each retry or reconnection (the CLI
            prints it on stderr); notices also go to the ``flowdsl.client`` logger.
        sleep: how to wait between retries (tests pass a recorder).

    Raises:
        ConnectionConfigError: no connection given and none configured.
    """

    def __init__(
        self,
        connection: Connection | None = None,
        *,
        transport: Transport | None = None,
        on_retry: RetryNotice | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.connection = connection if connection is not None else resolve_connection()
        if transport is None:
            from flowdsl.client.transport import RequestsTransport

            transport = RequestsTransport(verify=self.connection.verify)
        self.transport = transport
        self._on_retry = on_retry
        self._sleep = sleep

    def __repr__(self) -> str:
        return f"<flowdsl Client {self.connection.url} namespace={self.connection.namespace!r}>"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the connections."""
        self.transport.close()

    @property
    def namespace(self) -> str:
        """The namespace this client works in."""
        return self.connection.namespace

    def submit(
        self,
        flow: Flow[Any, Any],
        params: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
        server_dry_run: bool = False,
        config: str | Path | None = None,
    ) -> Submission:
        """Compile a flow with ``params`` (checked by type first) and create it as a Workflow.

        Args:
            flow: the ``@flow``.
            params: parameter values (Python values, by Python or Argo name).
            name: the workflow's name (default: the flow's name and a random suffix).
            server_dry_run: have the server validate the workflow without creating it.
            config: the project configuration file (default: the ``pyproject.toml`` nearest
                to the flow's source).

        Raises:
            ParameterError: a parameter is unknown, does not fit its type, or is missing.
            ClientError: the server could not be reached or refused the workflow.
        """
        from flowdsl.client.submission import submit_flow

        return submit_flow(
            self, flow, params, name=name, server_dry_run=server_dry_run, config=config
        )

    def submission(self, name: str, *, flow: Flow[Any, Any] | None = None) -> Submission:
        """A handle on the existing workflow ``name`` (nothing is sent yet)."""
        from flowdsl.client.submission import Submission

        return Submission(self, name, flow=flow)

    # ----------------------------------------------------------------------------------------
    # workflows
    # ----------------------------------------------------------------------------------------

    def create_workflow(
        self,
        manifest: Mapping[str, Any],
        *,
        name: str | None = None,
        server_dry_run: bool = False,
        flow: str | None = None,
    ) -> WorkflowState:
        """Create a Workflow from a manifest; safe to retry (see the module's NOTE).

        Args:
            manifest: a Workflow manifest (plain data, Argo's field names), e.g. from
                :func:`flowdsl.compile_dict`. It is not modified.
            name: the workflow's name; default ``generateName`` plus five random characters.
            server_dry_run: ask the server to validate the workflow without creating it.
            flow: the flow's name, for messages.

        Returns:
            The created workflow (for a dry run, what would have been created).

        Raises:
            ConflictError: ``name`` is taken by another workflow.
            RejectedError: Argo refused the workflow (its message says why).
            AuthError, ServerError, ConnectionFailed: see :mod:`flowdsl.client.errors`.
        """
        from hera.workflows import models as m

        workflow = copy.deepcopy(dict(manifest))
        metadata = dict(workflow.get("metadata") or {})
        given = name or metadata.get("name")
        prefix = str(metadata.pop("generateName", None) or "workflow-")
        submission = uuid.uuid4().hex
        annotations = dict(metadata.get("annotations") or {})
        annotations[SUBMISSION_ANNOTATION] = submission
        metadata["annotations"] = annotations
        metadata["namespace"] = self.namespace
        envelope = m.WorkflowCreateRequest(
            namespace=self.namespace, server_dry_run=server_dry_run or None
        ).model_dump(by_alias=True, exclude_none=True, mode="json")
        path = f"api/v1/workflows/{_segment(self.namespace)}"

        def post(chosen: str) -> Any:
            metadata["name"] = chosen
            workflow["metadata"] = metadata
            return self._json(
                "POST",
                path,
                body={**envelope, "workflow": workflow},
                what=f"workflow '{chosen}'",
                flow=flow,
            )

        return self._create_named(
            post,
            given=str(given) if given else None,
            prefix=prefix,
            submission=submission,
            server_dry_run=server_dry_run,
            path=path,
            flow=flow,
        )

    def submit_template(
        self,
        template: str,
        *,
        parameters: Mapping[str, str] | None = None,
        name: str | None = None,
        generate_name: str | None = None,
        labels: Mapping[str, str] | None = None,
        server_dry_run: bool = False,
        flow: str | None = None,
    ) -> WorkflowState:
        """Create a Workflow from a WorkflowTemplate on the server; safe to retry.

        Args:
            template: the WorkflowTemplate's name.
            parameters: parameter values as text, ``{name: value}`` (checked by the caller).
            name: the workflow's name; default ``generate_name`` plus five random characters.
            generate_name: the prefix of generated names; default ``<template>-``.
            labels: labels to add to the workflow.
            server_dry_run: validate without creating.
            flow: the flow's name, for messages.

        Raises:
            NotFoundError: no such template.
            ConflictError: ``name`` is taken by another workflow.
            RejectedError, AuthError, ServerError, ConnectionFailed: as for
                :meth:`create_workflow`.
        """
        from hera.workflows import models as m

        submission = uuid.uuid4().hex
        prefix = generate_name or f"{template}-"
        label_text = ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items()))
        path = f"api/v1/workflows/{_segment(self.namespace)}/submit"

        def post(chosen: str) -> Any:
            options = m.SubmitOpts(
                name=chosen,
                parameters=[f"{k}={v}" for k, v in (parameters or {}).items()] or None,
                annotations=f"{SUBMISSION_ANNOTATION}={submission}",
                labels=label_text or None,
                server_dry_run=server_dry_run or None,
            )
            body = m.WorkflowSubmitRequest(
                namespace=self.namespace,
                resource_kind="WorkflowTemplate",
                resource_name=template,
                submit_options=options,
            ).model_dump(by_alias=True, exclude_none=True, mode="json")
            return self._json(
                "POST",
                path,
                body=body,
                what=f"workflow template '{template}'",
                flow=flow,
            )

        return self._create_named(
            post,
            given=name,
            prefix=prefix,
            submission=submission,
            server_dry_run=server_dry_run,
            path=path,
            flow=flow,
        )

    def get_workflow(self, name: str) -> WorkflowState:
        """The workflow ``name``.

        Raises:
            NotFoundError: no such workflow in the namespace.
        """
        return WorkflowState.from_json(self._get_workflow_json(name))

    def list_workflows(
        self,
        *,
        flow: str | None = None,
        label_selector: str | None = None,
        limit: int | None = None,
    ) -> list[WorkflowState]:
        """The workflows of the namespace, newest first, without their nodes.

        Args:
            flow: only the runs of this flow (label ``flowdsl/flow``).
            label_selector: a Kubernetes label selector, combined with ``flow``.
            limit: at most this many (the newest).
        """
        selectors = [s for s in (label_selector, f"{FLOW_LABEL}={flow}" if flow else None) if s]
        found: list[WorkflowState] = []
        token: str | None = None
        while True:
            query: dict[str, str | None] = {
                "listOptions.labelSelector": ",".join(selectors) or None,
                "listOptions.limit": str(_LIST_CHUNK),
                "listOptions.continue": token,
                "fields": _LIST_FIELDS,
            }
            answer = self._json(
                "GET", f"api/v1/workflows/{_segment(self.namespace)}", query=query, what=None
            )
            for item in answer.get("items") or []:
                if isinstance(item, Mapping):
                    found.append(WorkflowState.from_json(item))
            token = (answer.get("metadata") or {}).get("continue") or None
            if not token:
                break
        found.sort(key=lambda s: s.created_at.timestamp() if s.created_at else 0.0, reverse=True)
        return found[:limit] if limit is not None else found

    def stop_workflow(self, name: str, *, message: str | None = None) -> WorkflowState:
        """Stop a workflow: no new steps start, exit handlers still run."""
        from hera.workflows import models as m

        body = m.WorkflowStopRequest(name=name, namespace=self.namespace, message=message)
        return self._workflow_action(name, "stop", body, idempotent=True)

    def terminate_workflow(self, name: str) -> WorkflowState:
        """Terminate a workflow: running steps are killed, exit handlers do not run."""
        from hera.workflows import models as m

        body = m.WorkflowTerminateRequest(name=name, namespace=self.namespace)
        return self._workflow_action(name, "terminate", body, idempotent=True)

    def retry_workflow(
        self,
        name: str,
        *,
        restart_successful: bool = False,
        node_field_selector: str | None = None,
        parameters: Mapping[str, str] | None = None,
    ) -> WorkflowState:
        """Retry a failed workflow in place, from its failed nodes.

        Not repeated once it may have reached the server (a second retry of a workflow
        that is already running again is refused by Argo).
        """
        from hera.workflows import models as m

        body = m.WorkflowRetryRequest(
            name=name,
            namespace=self.namespace,
            restart_successful=restart_successful or None,
            node_field_selector=node_field_selector,
            parameters=[f"{k}={v}" for k, v in (parameters or {}).items()] or None,
        )
        return self._workflow_action(name, "retry", body, idempotent=False)

    def resubmit_workflow(
        self,
        name: str,
        *,
        memoized: bool = False,
        parameters: Mapping[str, str] | None = None,
    ) -> WorkflowState:
        """Create a new workflow from an existing one (returns the new workflow).

        Not repeated once it may have reached the server: each resubmission creates a
        workflow.
        """
        from hera.workflows import models as m

        body = m.WorkflowResubmitRequest(
            name=name,
            namespace=self.namespace,
            memoized=memoized or None,
            parameters=[f"{k}={v}" for k, v in (parameters or {}).items()] or None,
        )
        return self._workflow_action(name, "resubmit", body, idempotent=False)

    # ----------------------------------------------------------------------------------------
    # templates
    # ----------------------------------------------------------------------------------------

    def get_template(self, name: str) -> dict[str, Any]:
        """The WorkflowTemplate ``name``, as the server returns it.

        Raises:
            NotFoundError: no such template in the namespace.
        """
        answer: dict[str, Any] = self._json(
            "GET",
            f"api/v1/workflow-templates/{_segment(self.namespace)}/{_segment(name)}",
            what=f"workflow template '{name}'",
        )
        return answer

    def register_template(
        self, manifest: Mapping[str, Any], *, flow: str | None = None
    ) -> tuple[dict[str, Any], bool]:
        """Create a WorkflowTemplate, or update it if it exists.

        Args:
            manifest: a WorkflowTemplate manifest with ``metadata.name``.
            flow: the flow's name, for messages.

        Returns:
            The template as stored, and whether it was created (False: updated).

        Raises:
            RejectedError: Argo refused the template.
            ConflictError: the template kept changing under this update.
        """
        from hera.workflows import models as m

        template = copy.deepcopy(dict(manifest))
        metadata = dict(template.get("metadata") or {})
        name = str(metadata.get("name") or "")
        metadata["namespace"] = self.namespace
        metadata.pop("resourceVersion", None)
        template["metadata"] = metadata
        what = f"workflow template '{name}'"
        base = f"api/v1/workflow-templates/{_segment(self.namespace)}"
        create = m.WorkflowTemplateCreateRequest(namespace=self.namespace).model_dump(
            by_alias=True, exclude_none=True, mode="json"
        )
        try:
            answer = self._json(
                "POST", base, body={**create, "template": template}, what=what, flow=flow
            )
            return answer, True
        except ConflictError:
            pass
        update = m.WorkflowTemplateUpdateRequest(name=name, namespace=self.namespace).model_dump(
            by_alias=True, exclude_none=True, mode="json"
        )
        attempt = 0
        while True:
            attempt += 1
            current = self.get_template(name)
            version = (current.get("metadata") or {}).get("resourceVersion")
            metadata["resourceVersion"] = version
            try:
                answer = self._json(
                    "PUT",
                    f"{base}/{_segment(name)}",
                    body={**update, "template": template},
                    what=what,
                    flow=flow,
                )
            except ConflictError:  # changed since we read it: read it again
                if attempt == _NAME_TRIES:
                    raise
                continue
            return answer, False

    # ----------------------------------------------------------------------------------------
    # cron workflows, sensors, workflow event bindings (and templates, by kind)
    # ----------------------------------------------------------------------------------------

    def get_resource(self, kind: str, name: str) -> dict[str, Any]:
        """The ``kind`` resource ``name`` (``CronWorkflow``, ``WorkflowTemplate``, ``Sensor``).

        Raises:
            NotFoundError: no such resource in the namespace.
        """
        api = _api(kind)
        answer: dict[str, Any] = self._json(
            "GET",
            f"{api.base}/{_segment(self.namespace)}/{_segment(name)}",
            what=f"{api.noun} '{name}'",
        )
        return answer

    def list_resources(
        self, kind: str, *, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        """The ``kind`` resources of the namespace (also ``WorkflowEventBinding``), by name."""
        api = _api(kind)
        found: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            query: dict[str, str | None] = {
                "listOptions.labelSelector": label_selector,
                "listOptions.limit": str(_LIST_CHUNK),
                "listOptions.continue": token,
            }
            answer = self._json(
                "GET", f"{api.base}/{_segment(self.namespace)}", query=query, what=None
            )
            found.extend(
                dict(item) for item in answer.get("items") or [] if isinstance(item, Mapping)
            )
            token = (answer.get("metadata") or {}).get("continue") or None
            if not token:
                break
        found.sort(key=lambda item: str((item.get("metadata") or {}).get("name") or ""))
        return found

    def create_resource(
        self, manifest: Mapping[str, Any], *, flow: str | None = None
    ) -> dict[str, Any]:
        """Create a CronWorkflow, WorkflowTemplate or Sensor from its manifest.

        Raises:
            ConflictError: it exists already.
            RejectedError: Argo refused it (its message says why).
        """
        api = _api(str(manifest.get("kind")))
        document = self._placed(manifest)
        name = document["metadata"].get("name", "?")
        body = {"namespace": self.namespace, api.field: document}
        answer: dict[str, Any] = self._json(
            "POST",
            f"{api.base}/{_segment(self.namespace)}",
            body=body,
            what=f"{api.noun} '{name}'",
            flow=flow,
            idempotent=False,
        )
        return answer

    def update_resource(
        self, manifest: Mapping[str, Any], *, resource_version: str, flow: str | None = None
    ) -> dict[str, Any]:
        """Replace a CronWorkflow, WorkflowTemplate or Sensor with ``manifest``.

        Args:
            manifest: the new manifest (with ``metadata.name``).
            resource_version: the version last read: the update is refused (ConflictError)
                if the resource changed since.
            flow: the flow's name, for messages.
        """
        api = _api(str(manifest.get("kind")))
        document = self._placed(manifest)
        document["metadata"]["resourceVersion"] = resource_version
        name = str(document["metadata"].get("name", ""))
        body: dict[str, Any] = {"namespace": self.namespace, api.field: document}
        if api.update_name:
            body["name"] = name
        answer: dict[str, Any] = self._json(
            "PUT",
            f"{api.base}/{_segment(self.namespace)}/{_segment(name)}",
            body=body,
            what=f"{api.noun} '{name}'",
            flow=flow,
        )
        return answer

    def delete_resource(self, kind: str, name: str) -> None:
        """Delete the ``kind`` resource ``name``.

        Raises:
            NotFoundError: no such resource.
        """
        api = _api(kind)
        self._json(
            "DELETE",
            f"{api.base}/{_segment(self.namespace)}/{_segment(name)}",
            what=f"{api.noun} '{name}'",
        )

    def suspend_cron_workflow(self, name: str) -> dict[str, Any]:
        """Suspend a CronWorkflow: it schedules no run until resumed."""
        return self._cron_action(name, "suspend")

    def resume_cron_workflow(self, name: str) -> dict[str, Any]:
        """Resume a suspended CronWorkflow."""
        return self._cron_action(name, "resume")

    def _cron_action(self, name: str, action: str) -> dict[str, Any]:
        from hera.workflows import models as m

        request = (
            m.CronWorkflowSuspendRequest if action == "suspend" else m.CronWorkflowResumeRequest
        )
        body = request(name=name, namespace=self.namespace).model_dump(
            by_alias=True, exclude_none=True, mode="json"
        )
        answer: dict[str, Any] = self._json(
            "PUT",
            f"api/v1/cron-workflows/{_segment(self.namespace)}/{_segment(name)}/{action}",
            body=body,
            what=f"cron workflow '{name}'",
        )
        return answer

    def _placed(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``manifest`` in this namespace, without server-side metadata."""
        document = copy.deepcopy(dict(manifest))
        metadata = dict(document.get("metadata") or {})
        for key in ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"):
            metadata.pop(key, None)
        metadata["namespace"] = self.namespace
        document["metadata"] = metadata
        document.pop("status", None)
        if document.get("kind") == "Sensor":
            # The Sensor API's messages (generated from Argo Events' protobuf) have no
            # apiVersion or kind: the endpoint says what the object is.
            document.pop("apiVersion", None)
            document.pop("kind", None)
        return document

    # ----------------------------------------------------------------------------------------
    # streams
    # ----------------------------------------------------------------------------------------

    def watch_workflow(
        self, name: str, *, deadline: float | None = None
    ) -> Iterator[WorkflowState]:
        """The workflow's state now, then after every change, until it finishes.

        Reads the server's event stream and reopens it when it drops or goes silent for
        longer than the stream timeout (each reconnection is announced through
        ``on_retry``); a state already passed on is not repeated.

        Args:
            name: the workflow.
            deadline: a ``time.monotonic()`` time at which to stop early (the iteration
                then ends before the workflow has finished).

        Raises:
            NotFoundError: no such workflow, or it was deleted while watched.
            ConnectionFailed: the stream could not be reopened after every retry.
        """
        state = self.get_workflow(name)
        yield state
        if state.done:
            return
        last_version = state.resource_version
        failures = 0
        path = f"api/v1/workflow-events/{_segment(self.namespace)}"
        query = {"listOptions.fieldSelector": f"metadata.name={name}"}
        what = f"workflow '{name}'"
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return
            reason = "the server closed the stream"
            try:
                response = self._send(
                    "GET", path, query=query, stream=True, what=what, read_timeout=remaining
                )
                try:
                    for result in messages(response.iter_lines()):
                        event_type = str(result.get("type") or "")
                        obj = result.get("object")
                        if event_type == "DELETED":
                            raise self._deleted(name, path)
                        if not isinstance(obj, Mapping):
                            continue
                        failures = 0
                        state = WorkflowState.from_json(obj)
                        if state.resource_version != last_version:
                            last_version = state.resource_version
                            yield state
                        if state.done:
                            return
                        if deadline is not None and time.monotonic() >= deadline:
                            return
                finally:
                    response.close()
            except TransportError as exc:
                reason = self._describe_failure(exc)
            except StreamFailure as exc:
                self._raise_stream_failure(exc, "GET", path, what)
                reason = f"the server reported {exc.http_code}: {exc.message}"
            except MalformedStream as exc:
                reason = f"an unreadable line ({exc})"
            if deadline is not None and time.monotonic() >= deadline:
                return
            failures += 1
            self._reconnect(failures, f"the event stream of {what}", reason)

    def workflow_logs(
        self,
        name: str,
        *,
        follow: bool = False,
        pod_name: str | None = None,
        container: str = "main",
        grep: str | None = None,
    ) -> Iterator[LogEntry]:
        """The log lines of a workflow's pods (of one pod with ``pod_name``).

        With ``follow``, new lines keep coming until the workflow finishes. A stream that
        drops is reopened from where it broke off, without repeating lines.

        Raises:
            NotFoundError: no such workflow.
            ConnectionFailed: the stream could not be reopened after every retry.
        """
        path = f"api/v1/workflows/{_segment(self.namespace)}/{_segment(name)}/log"
        what = f"workflow '{name}'"
        seen = LogDeduplicator()
        failures = 0
        since: int | None = None
        while True:
            query: dict[str, str | None] = {
                "podName": pod_name,
                "logOptions.container": container,
                "logOptions.follow": "true" if follow else None,
                "logOptions.timestamps": "true",
                "logOptions.sinceTime.seconds": None if since is None else str(since),
                "grep": grep,
            }
            reason = "the server closed the stream before the workflow finished"
            try:
                response = self._send("GET", path, query=query, stream=True, what=what)
                try:
                    for result in messages(response.iter_lines()):
                        when, content = split_timestamp(str(result.get("content") or ""))
                        entry = LogEntry(str(result.get("podName") or ""), content, when)
                        failures = 0
                        if seen.fresh(entry):
                            yield entry
                finally:
                    response.close()
                if not follow or self.get_workflow(name).done:
                    return
            except TransportError as exc:
                reason = self._describe_failure(exc)
            except StreamFailure as exc:
                self._raise_stream_failure(exc, "GET", path, what)
                reason = f"the server reported {exc.http_code}: {exc.message}"
            except MalformedStream as exc:
                reason = f"an unreadable line ({exc})"
            failures += 1
            self._reconnect(failures, f"the log stream of {what}", reason)
            since = seen.reopen()

    # ----------------------------------------------------------------------------------------
    # plumbing
    # ----------------------------------------------------------------------------------------

    def _create_named(
        self,
        post: Callable[[str], Any],
        *,
        given: str | None,
        prefix: str,
        submission: str,
        server_dry_run: bool,
        path: str,
        flow: str | None,
    ) -> WorkflowState:
        """Create under a name this client picks; see the module's NOTE [Idempotent create]."""
        for _ in range(_NAME_TRIES):
            chosen = given or prefix + _suffix()
            try:
                answer = post(chosen)
            except ConflictError as conflict:
                existing = self._existing(chosen)
                if existing is not None and not server_dry_run:
                    stamp = (existing.get("metadata") or {}).get("annotations") or {}
                    if stamp.get(SUBMISSION_ANNOTATION) == submission:
                        _log.info("workflow %s was created by a lost attempt; using it", chosen)
                        return WorkflowState.from_json(existing)
                if given:
                    raise ConflictError(
                        f"workflow '{chosen}' already exists in namespace '{self.namespace}' "
                        f"({conflict.status}: {conflict.server_message})",
                        fix="choose another --name, or leave it out to get a generated one",
                        status=conflict.status,
                        code=conflict.code,
                        server_message=conflict.server_message,
                        method=conflict.method,
                        path=conflict.path,
                        flow=flow,
                    ) from None
                continue  # a random name met another workflow: draw again
            return WorkflowState.from_json(answer)
        raise ConflictError(
            f"{_NAME_TRIES} generated names starting with {prefix!r} were all taken in "
            f"namespace '{self.namespace}'",
            fix="pass --name, or delete old workflows",
            status=409,
            code=6,
            server_message="",
            method="POST",
            path=path,
            flow=flow,
        )

    def _get_workflow_json(self, name: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._json(
            "GET",
            f"api/v1/workflows/{_segment(self.namespace)}/{_segment(name)}",
            what=f"workflow '{name}'",
        )
        return answer

    def _existing(self, name: str) -> dict[str, Any] | None:
        try:
            return self._get_workflow_json(name)
        except NotFoundError:
            return None

    def _workflow_action(
        self, name: str, action: str, body: Any, *, idempotent: bool
    ) -> WorkflowState:
        answer = self._json(
            "PUT",
            f"api/v1/workflows/{_segment(self.namespace)}/{_segment(name)}/{action}",
            body=body.model_dump(by_alias=True, exclude_none=True, mode="json"),
            what=f"workflow '{name}'",
            idempotent=idempotent,
            action=action,
        )
        return WorkflowState.from_json(answer)

    def _url(self, path: str, query: Mapping[str, str | None] | None) -> str:
        url = self.connection.url + path
        if query:
            pairs = [(k, v) for k, v in query.items() if v is not None]
            if pairs:
                url += "?" + urlencode(pairs)
        return url

    def _request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | None] | None,
        body: Any,
        stream: bool,
        fresh: bool,
    ) -> Request:
        headers = {
            "Accept": "text/event-stream" if stream else "application/json",
            "User-Agent": f"flowdsl/{__version__}",
        }
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body, separators=(",", ":")).encode()
        if self.connection.token:
            headers["Authorization"] = self.connection.token
        return Request(
            method,
            self._url(path, query),
            headers=headers,
            body=data,
            stream=stream,
            fresh_connection=fresh,
        )

    def _send(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | None] | None = None,
        body: Any = None,
        stream: bool = False,
        idempotent: bool = True,
        what: str | None,
        flow: str | None = None,
        action: str | None = None,
        read_timeout: float | None = None,
    ) -> Response:
        """Send with retries; the answer has a 2xx status (its body is not read yet)."""
        request = self._request(
            method, path, query=query, body=body, stream=stream, fresh=not idempotent
        )
        timeouts = self.connection.timeouts
        read = timeouts.stream if stream else timeouts.read
        if read_timeout is not None:
            read = max(min(read, read_timeout), 0.001)
        timeout = (timeouts.connect, read)
        attempts = max(self.connection.retry.attempts, 1)
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.transport.send(request, timeout=timeout)
            except TransportError as exc:
                retryable = exc.kind == "connect" or (
                    idempotent and exc.kind in ("timeout", "dropped")
                )
                if not retryable or attempt >= attempts:
                    raise self._connection_failed(exc, attempt, method, path) from None
                self._pause(attempt, f"{method} /{path}: {self._describe_failure(exc)}")
                continue
            if 200 <= response.status < 300:
                return response
            try:
                payload = response.read()
            except TransportError:
                payload = b""
            if response.status in _RETRY_STATUSES and idempotent and attempt < attempts:
                self._pause(
                    attempt,
                    f"{method} /{path}: the server answered {response.status} "
                    f"{response.reason}".rstrip(),
                )
                continue
            raise self._server_error(
                response.status,
                response.reason,
                payload,
                method=method,
                path=path,
                what=what,
                flow=flow,
                action=action,
                attempts=attempt,
            )

    def _json(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str | None] | None = None,
        body: Any = None,
        idempotent: bool = True,
        what: str | None,
        flow: str | None = None,
        action: str | None = None,
    ) -> Any:
        """Send with retries and decode the JSON answer (a dropped body counts as a failure)."""
        attempts = max(self.connection.retry.attempts, 1)
        attempt = 0
        while True:
            attempt += 1
            response = self._send(
                method,
                path,
                query=query,
                body=body,
                idempotent=idempotent,
                what=what,
                flow=flow,
                action=action,
            )
            try:
                payload = response.read()
            except TransportError as exc:
                if not idempotent or attempt >= attempts:
                    raise self._connection_failed(exc, attempt, method, path) from None
                self._pause(attempt, f"{method} /{path}: {self._describe_failure(exc)}")
                continue
            try:
                return json.loads(payload) if payload.strip() else {}
            except ValueError:
                raise ClientError(
                    f"the answer to {method} /{path} is not JSON "
                    f"({payload[:80].decode('utf-8', 'replace')!r})",
                    fix="check that the server (and --base-href / ARGO_BASE_HREF) points at "
                    "the Argo Server",
                ) from None

    def _pause(self, attempt: int, reason: str) -> None:
        delay = self.connection.retry.delay(attempt) * (1 + 0.25 * random.random())
        notice = (
            f"{reason}; retrying in {delay:.1f}s "
            f"(attempt {attempt + 1} of {self.connection.retry.attempts})"
        )
        self._notify(notice)
        self._sleep(delay)

    def _reconnect(self, failures: int, stream: str, reason: str) -> None:
        attempts = max(self.connection.retry.attempts, 1)
        if failures >= attempts:
            raise ConnectionFailed(
                f"{stream} at {self.connection.url} failed {failures} times in a row "
                f"(last: {reason})",
                fix="check that the Argo Server is up and reachable, then run the command "
                "again; the workflow itself is not affected",
                url=self.connection.url,
                attempts=failures,
            )
        delay = self.connection.retry.delay(failures)
        self._notify(f"{stream} broke off ({reason}); reconnecting in {delay:.1f}s")
        self._sleep(delay)

    def _notify(self, notice: str) -> None:
        notice = redact(notice, self.connection.token)
        _log.info("%s", notice)
        if self._on_retry is not None:
            self._on_retry(notice)

    @staticmethod
    def _describe_failure(exc: TransportError) -> str:
        words = {
            "connect": "cannot connect",
            "timeout": "no answer in time",
            "dropped": "the connection broke",
            "tls": "the TLS handshake failed",
            "invalid": "the request is invalid",
        }
        return f"{words[exc.kind]} ({exc.detail})"

    def _connection_failed(
        self, exc: TransportError, attempts: int, method: str, path: str
    ) -> ConnectionFailed:
        url = self.connection.url
        detail = redact(self._describe_failure(exc), self.connection.token)
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        if exc.kind == "tls":
            fix = (
                "if the server uses a private certificate authority, point REQUESTS_CA_BUNDLE "
                "at its certificate; to skip verification (unsafe), pass "
                "--insecure-skip-verify or set ARGO_INSECURE_SKIP_VERIFY=true"
            )
            if url.startswith("https:"):
                fix += "; if the server speaks plain http, set ARGO_SECURE=false"
        elif exc.kind == "connect":
            fix = (
                f"check that the Argo Server runs at {url} (set by "
                f"{self.connection.sources.get('server', 'the configuration')}); for a "
                "local cluster: kubectl -n argo port-forward svc/argo-server 2746:2746"
            )
        elif exc.kind == "timeout":
            fix = "the server is slow or unreachable: try again, or raise --request-timeout"
        else:
            fix = "check the server address and the network, then try again"
        return ConnectionFailed(
            f"{method} {url}{path} failed{tries}: {detail}",
            fix=fix,
            url=url,
            attempts=attempts,
        )

    def _deleted(self, name: str, path: str) -> NotFoundError:
        return NotFoundError(
            f"workflow '{name}' was deleted from namespace '{self.namespace}' while it was "
            "being watched",
            fix="nothing to wait for any more; resubmit the flow to run it again",
            status=404,
            code=5,
            server_message="",
            method="GET",
            path=path,
        )

    def _raise_stream_failure(self, exc: StreamFailure, method: str, path: str, what: str) -> None:
        """Raise the error a stream reported, unless retrying may cure it (5xx, unknown)."""
        if exc.http_code and exc.http_code < 500 and exc.http_code != 429:
            raise self._server_error(
                exc.http_code,
                "",
                json.dumps({"code": exc.grpc_code, "message": exc.message}).encode(),
                method=method,
                path=path,
                what=what,
                flow=None,
                action=None,
                attempts=1,
            ) from None

    def _server_error(
        self,
        status: int,
        reason: str,
        payload: bytes,
        *,
        method: str,
        path: str,
        what: str | None,
        flow: str | None,
        action: str | None,
        attempts: int,
    ) -> ServerError:
        token = self.connection.token
        code: int | None = None
        message = ""
        try:
            decoded = json.loads(payload) if payload.strip() else None
        except ValueError:
            decoded = None
        if isinstance(decoded, Mapping):
            raw_code = decoded.get("code")
            code = raw_code if isinstance(raw_code, int) else None
            message = str(decoded.get("message") or decoded.get("error") or "")
        elif payload.strip():
            message = " ".join(payload.decode("utf-8", "replace").split())[:300]
        message = redact(message, token)
        shown = f"{status} {reason}".strip()
        said = f": {message}" if message else ""
        ns = self.namespace
        target = what or f"{method} /{path}"
        fields: dict[str, Any] = {
            "status": status,
            "code": code,
            "server_message": message,
            "method": method,
            "path": path,
            "flow": flow,
        }
        verb = {
            "stop": "stop",
            "terminate": "terminate",
            "retry": "retry",
            "resubmit": "resubmit",
        }.get(action or "", "")
        error: ServerError
        if status == 401:
            source = self.connection.sources.get("token")
            fix = (
                'no token was sent: set ARGO_TOKEN (e.g. ARGO_TOKEN="Bearer $(...)"; '
                "`argo auth token` prints one) or pass --token-file FILE"
                if not token
                else f"the token from {source or 'the configuration'} was refused: check that "
                "it is current and complete, including its scheme (e.g. 'Bearer ')"
            )
            error = AuthError(
                f"the Argo Server at {self.connection.url} did not accept the credentials "
                f"({shown}{said})",
                fix=fix,
                **fields,
            )
        elif status == 403:
            error = AuthError(
                f"the Argo Server refused access to {target} in namespace '{ns}' ({shown}{said})",
                fix=f"use a token whose service account may {verb or 'use'} workflows in "
                f"namespace '{ns}', or pick another namespace with --namespace",
                **fields,
            )
        elif status == 404:
            if what is None:
                error = NotFoundError(
                    f"the Argo Server at {self.connection.url} has no {method} /{path} "
                    f"({shown}{said})",
                    fix="check the server address and --base-href / ARGO_BASE_HREF",
                    **fields,
                )
            else:
                error = NotFoundError(
                    f"{what} was not found in namespace '{ns}' ({shown}{said})",
                    fix="check the name (python -m flowdsl list shows recent workflows) and "
                    "the namespace (--namespace or ARGO_NAMESPACE)",
                    **fields,
                )
        elif status == 409:
            error = ConflictError(
                f"{target} conflicts with what is in namespace '{ns}' ({shown}{said})",
                fix="choose another name, or try again",
                **fields,
            )
        elif status in (400, 422):
            doing = f"cannot {verb} {target}" if verb else f"rejected {target}"
            error = RejectedError(
                f"the Argo Server {doing}{said or f' ({shown})'}",
                fix=(
                    f"check the state of {target} with `python -m flowdsl get`"
                    if verb
                    else "fix what the server's message names; `python -m flowdsl compile` "
                    "shows the manifest that is sent"
                ),
                **fields,
            )
        elif 300 <= status < 400:
            error = ServerError(
                f"the server at {self.connection.url} redirected {method} /{path} ({shown})",
                fix="point --server (or ARGO_SERVER) and --base-href at the Argo Server itself; "
                "for http, set ARGO_SECURE=false",
                **fields,
            )
        else:
            tries = f" after {attempts} attempts" if attempts > 1 else ""
            error = ServerError(
                f"the Argo Server failed {method} /{path} with {shown}{tries}{said}",
                fix="check the Argo Server's logs (kubectl -n argo logs deploy/argo-server) "
                "and try again",
                **fields,
            )
        return error


@dataclass(frozen=True, slots=True)
class _Api:
    """Where the Argo Server keeps one kind of resource, and its request envelope."""

    base: str  # path without the namespace
    field: str  # the manifest's key in create and update requests
    noun: str  # for messages
    update_name: bool  # update requests carry the name (not deprecated there)


_APIS: dict[str, _Api] = {
    "CronWorkflow": _Api("api/v1/cron-workflows", "cronWorkflow", "cron workflow", False),
    "WorkflowTemplate": _Api("api/v1/workflow-templates", "template", "workflow template", True),
    "Sensor": _Api("api/v1/sensors", "sensor", "sensor", True),
    "WorkflowEventBinding": _Api(
        "api/v1/workflow-event-bindings", "", "workflow event binding", False
    ),
}


def _api(kind: str) -> _Api:
    api = _APIS.get(kind)
    if api is None:
        raise ClientError(
            f"the client cannot manage a {kind} (it knows {', '.join(_APIS)})",
            fix="this is a flowdsl bug; please report it",
        )
    return api


def _suffix() -> str:
    return "".join(secrets.choice(_NAME_ALPHABET) for _ in range(5))
