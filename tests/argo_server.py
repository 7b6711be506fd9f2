"""A local Argo Server for the client's tests: real HTTP, in memory, checked against Argo's API.

``ArgoServer`` listens on 127.0.0.1 on an ephemeral port (stdlib ``http.server``, one
thread per connection) and implements the endpoints the flowdsl client uses: create,
submit-from-template, get, list, stop, terminate, retry, resubmit, workflow templates
(create, get, update), cron workflows (create, get, update, delete, list, suspend, resume),
sensors (create, get, update, delete, list; :attr:`ArgoServer.events_missing` answers 404
like a server without Argo Events), the list of workflow event bindings, the workflow
event stream and the workflow log stream.

Every request is checked against the Argo Server's OpenAPI document
(``tests/data/argo/swagger.json``, see SWAGGER-NOTICE.md there): the path and method must
be an operation of the API, every query parameter must be one the operation declares (with
the declared type), and the body must match the operation's body schema. The schema is
adapted in memory the way Argo decodes: ``IntOrString``, ``Quantity`` and Argo's
``AnyString`` fields are widened to what Kubernetes accepts, and objects are closed
(``additionalProperties: false``), which is stricter than the real server on purpose: Argo
silently drops a field it does not know, so a misspelled field would otherwise go unseen.
A request that fails the check is answered 400 and recorded in :attr:`ArgoServer.violations`;
the ``argo_server`` fixture fails the test if any was recorded. Every JSON answer the server
gives is checked against the operation's response schema too, so the fake cannot drift from
the real API.

Faults, each for the next ``times`` matching requests: :meth:`ArgoServer.fail` (answer with a
status and an Argo error body), :meth:`ArgoServer.drop` (close the connection without an
answer, before or after acting on the request), :meth:`ArgoServer.slow` (wait before
answering), :meth:`ArgoServer.break_stream` (end or stall a stream after some messages).

A minimal controller stands in for Argo's: :meth:`ArgoServer.start_workflow` and
:meth:`ArgoServer.finish_workflow` move a workflow through its phases with one pod node per
DAG task, and :meth:`ArgoServer.add_log` writes pod log lines. Each change is an event on the
watch stream.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import itertools
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

SWAGGER = Path(__file__).resolve().parent / "data" / "argo" / "swagger.json"
_PREFIX = "io.argoproj.workflow.v1alpha1."
DONE = ("Succeeded", "Failed", "Error")
# gRPC codes and the HTTP statuses the gateway maps them to.
GRPC_FOR_STATUS = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 500: 13, 502: 14, 503: 14, 504: 4}


# --------------------------------------------------------------------------------------------
# the OpenAPI oracle
# --------------------------------------------------------------------------------------------


class Swagger:
    """The Argo Server's OpenAPI document, as request and response checks."""

    def __init__(self, path: Path = SWAGGER) -> None:
        doc = json.loads(path.read_text(encoding="utf-8"))
        self.definitions: dict[str, Any] = doc["definitions"]
        _widen(self.definitions)
        for definition in self.definitions.values():
            _close(definition)
        self.operations: list[tuple[re.Pattern[str], str, str, dict[str, Any]]] = []
        for template, item in doc["paths"].items():
            pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
            for method, operation in item.items():
                if method != "parameters":
                    self.operations.append((pattern, method.upper(), template, operation))
        self._validators: dict[str, Any] = {}

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]] | None:
        """The path template and operation of ``method path``, or None."""
        # Literal segments win over parameters (`/lint` before `/{name}`), as in the gateway.
        candidates = [
            (template, operation)
            for pattern, verb, template, operation in self.operations
            if verb == method and pattern.match(path)
        ]
        candidates.sort(key=lambda c: c[0].count("{"))
        return candidates[0] if candidates else None

    def check_query(
        self, operation: Mapping[str, Any], query: Mapping[str, list[str]]
    ) -> list[str]:
        """Problems with the query parameters of a request."""
        declared = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "query"}
        problems = []
        for name, values in query.items():
            param = declared.get(name)
            if param is None:
                problems.append(f"query parameter {name!r} is not declared")
                continue
            if len(values) > 1 and param.get("type") != "array":
                problems.append(f"query parameter {name!r} given {len(values)} times")
            for value in values:
                kind, fmt = param.get("type"), param.get("format")
                if kind == "boolean" and value not in ("true", "false"):
                    problems.append(f"query parameter {name!r}: {value!r} is not a boolean")
                if (kind == "integer" or fmt in ("int64", "int32")) and not re.fullmatch(
                    r"-?[0-9]+", value
                ):
                    problems.append(f"query parameter {name!r}: {value!r} is not an integer")
        return problems

    def check_body(self, operation: Mapping[str, Any], body: Any, present: bool) -> list[str]:
        """Problems with the body of a request."""
        params = [p for p in operation.get("parameters", []) if p["in"] == "body"]
        if not params:
            return ["the operation takes no body"] if present else []
        if not present:
            return ["the body is missing"] if params[0].get("required") else []
        return self.check(params[0]["schema"], body, "body")

    def check_answer(self, operation: Mapping[str, Any], status: int, body: Any) -> list[str]:
        """Problems with an answer the fake server gives (its own bugs)."""
        responses = operation["responses"]
        answer = responses.get(str(status)) or responses.get("default")
        if answer is None or "schema" not in answer:
            return []
        return self.check(answer["schema"], body, f"answer {status}")

    def check(self, schema: Mapping[str, Any], instance: Any, where: str) -> list[str]:
        """Validate ``instance`` against a schema of the document."""
        import jsonschema

        key = json.dumps(schema, sort_keys=True)
        validator = self._validators.get(key)
        if validator is None:
            inline = copy.deepcopy(dict(schema))
            _close(inline)
            root = {"definitions": self.definitions, "allOf": [inline]}
            validator = jsonschema.Draft4Validator(root)
            self._validators[key] = validator
        return [
            f"{where} at {'/'.join(str(p) for p in error.absolute_path) or '<root>'}: "
            f"{error.message[:300]}"
            for error in validator.iter_errors(instance)
        ]


def _widen(definitions: dict[str, Any]) -> None:
    definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = {"type": ["string", "integer"]}
    # Argo Events' K8SResource (the object a Sensor trigger creates) has its own JSON
    # methods: it reads and writes any object as it is. The document, generated from the
    # protobuf message, shows its wire form {value: bytes} instead; the Argo Server decodes
    # bodies with encoding/json, which uses those methods.
    definitions["github.com.argoproj.argo_events.pkg.apis.events.v1alpha1.K8SResource"] = {
        "type": "object",
        "description": "any object (Argo Events' K8SResource)",
    }
    quantity = definitions["io.k8s.apimachinery.pkg.api.resource.Quantity"]
    definitions["io.k8s.apimachinery.pkg.api.resource.Quantity"] = {
        **quantity,
        "type": ["string", "number"],
    }
    for name, fields in {
        "Parameter": ("default", "value", "description"),
        "ValueFrom": ("default",),
    }.items():
        properties = definitions[_PREFIX + name]["properties"]
        for item in fields:
            properties[item] = {**properties[item], "type": ["string", "number", "boolean"]}


def _close(schema: dict[str, Any]) -> None:
    """Reject unknown fields in every object schema that lists its properties."""
    if not isinstance(schema, dict):
        return
    if "properties" in schema and "additionalProperties" not in schema:
        schema["additionalProperties"] = False
    for value in schema.get("properties", {}).values():
        _close(value)
    if isinstance(schema.get("items"), dict):
        _close(schema["items"])


# --------------------------------------------------------------------------------------------
# faults
# --------------------------------------------------------------------------------------------


@dataclass
class Fault:
    """One planned misbehaviour, for the next ``times`` requests that match."""

    kind: str  # "fail", "drop", "slow", "stream"
    method: str | None
    path: str | None  # a regular expression searched in the path
    times: int
    status: int = 500
    message: str = ""
    after: bool = False  # drop: act on the request first
    seconds: float = 0.0
    messages: int = 0  # stream: how many messages before breaking
    stall: bool = False  # stream: go silent instead of closing
    code: int | None = None  # fail: the gRPC code (default: the status's usual one)

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path is None or re.search(self.path, path) is not None
        )


@dataclass
class Recorded:
    """A request as the server received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class LogLine:
    pod: str
    time: datetime
    content: str


@dataclass
class _State:
    workflows: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    templates: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    crons: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    sensors: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    bindings: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    logs: dict[tuple[str, str], list[LogLine]] = field(default_factory=dict)


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def fnv32a(text: str) -> int:
    value = 0x811C9DC5
    for byte in text.encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


class ApiError(Exception):
    """An error answer: HTTP status, gRPC code and message."""

    def __init__(self, status: int, message: str, code: int | None = None) -> None:
        self.status = status
        self.code = code if code is not None else GRPC_FOR_STATUS.get(status, 2)
        self.message = message
        super().__init__(message)


# --------------------------------------------------------------------------------------------
# the server
# --------------------------------------------------------------------------------------------


class ArgoServer:
    """The local Argo Server (see the module docstring).

    Args:
        token: when set, every request must carry ``Authorization: <token>`` exactly.
        base_href: the path prefix the API is served under (``/argo/``).
        keepalive: seconds between keep-alive comments on event streams.
        forbidden: namespaces the token may not use (403).
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        base_href: str = "/",
        keepalive: float = 0.2,
        forbidden: tuple[str, ...] = (),
    ) -> None:
        self.token = token
        self.base_href = "/" + base_href.strip("/") + "/" if base_href.strip("/") else "/"
        self.keepalive = keepalive
        self.forbidden = forbidden
        self.swagger = _swagger()
        self.violations: list[str] = []
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self.state = _State()
        #: (store, name) of every update of a cron workflow or sensor, in order.
        self.updates: list[tuple[str, str]] = []
        #: Answer the Sensor API with 404, as a server without Argo Events does.
        self.events_missing = False
        self._lock = threading.Condition()
        self._versions = itertools.count(1000)
        self._stopping = False
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    # lifecycle -------------------------------------------------------------------------------

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>``, what ARGO_SERVER holds."""
        host, port = self._httpd.server_address[:2]
        return f"{host}:{port}"

    @property
    def url(self) -> str:
        """The base URL (plain http)."""
        return f"http://{self.address}{self.base_href}"

    def __enter__(self) -> ArgoServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # faults ----------------------------------------------------------------------------------

    def fail(
        self,
        status: int,
        message: str = "",
        *,
        method: str | None = None,
        path: str | None = None,
        times: int = 1,
        code: int | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` and an Argo error body."""
        self.faults.append(
            Fault("fail", method, path, times, status=status, message=message, code=code)
        )

    def drop(
        self,
        *,
        method: str | None = None,
        path: str | None = None,
        times: int = 1,
        after: bool = False,
    ) -> None:
        """Close the connection without an answer (``after``: once the request took effect)."""
        self.faults.append(Fault("drop", method, path, times, after=after))

    def slow(
        self, seconds: float, *, method: str | None = None, path: str | None = None, times: int = 1
    ) -> None:
        """Wait ``seconds`` before handling the next matching requests."""
        self.faults.append(Fault("slow", method, path, times, seconds=seconds))

    def break_stream(
        self,
        *,
        path: str | None = None,
        after: int = 0,
        times: int = 1,
        stall: bool = False,
    ) -> None:
        """End the next matching streams after ``after`` messages (``stall``: go silent)."""
        self.faults.append(Fault("stream", "GET", path, times, messages=after, stall=stall))

    def _take(self, kind: str, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.kind == kind and fault.times > 0 and fault.matches(method, path):
                    fault.times -= 1
                    return fault
        return None

    # controller ------------------------------------------------------------------------------

    def workflow(self, name: str, namespace: str = "argo") -> dict[str, Any]:
        """A copy of a stored workflow."""
        with self._lock:
            return copy.deepcopy(self.state.workflows[(namespace, name)])

    def workflow_names(self, namespace: str = "argo") -> list[str]:
        """The names of the stored workflows of a namespace."""
        with self._lock:
            return sorted(name for ns, name in self.state.workflows if ns == namespace)

    def put_workflow(self, wf: dict[str, Any]) -> dict[str, Any]:
        """Store a workflow as is (metadata completed) and send its event."""
        with self._lock:
            metadata = wf.setdefault("metadata", {})
            key = (metadata.setdefault("namespace", "argo"), metadata["name"])
            kind = "MODIFIED" if key in self.state.workflows else "ADDED"
            metadata.setdefault("uid", str(uuid.uuid4()))
            metadata.setdefault("creationTimestamp", now())
            metadata["resourceVersion"] = str(next(self._versions))
            self.state.workflows[key] = wf
            self.state.events.append((kind, copy.deepcopy(wf)))
            self._lock.notify_all()
            return copy.deepcopy(wf)

    def delete_workflow(self, name: str, namespace: str = "argo") -> None:
        """Delete a workflow and send its event."""
        with self._lock:
            wf = self.state.workflows.pop((namespace, name))
            wf["metadata"]["resourceVersion"] = str(next(self._versions))
            self.state.events.append(("DELETED", copy.deepcopy(wf)))
            self._lock.notify_all()

    def _tasks(self, wf: Mapping[str, Any]) -> list[dict[str, Any]]:
        spec = wf.get("spec") or {}
        entry = spec.get("entrypoint")
        for template in spec.get("templates") or []:
            if template.get("name") == entry and "dag" in template:
                return list(template["dag"].get("tasks") or [])
        return []

    def _nodes(
        self, wf: Mapping[str, Any], phases: Mapping[str, str], messages: Mapping[str, str]
    ) -> dict[str, Any]:
        name = wf["metadata"]["name"]
        values = {
            p["name"]: str(p.get("value", ""))
            for p in ((wf.get("spec") or {}).get("arguments") or {}).get("parameters") or []
        }
        root_phase = phases.get("", "Running")
        nodes: dict[str, Any] = {}
        children = []
        for task in self._tasks(wf):
            node_name = f"{name}.{task['name']}"
            node_id = f"{name}-{fnv32a(node_name)}"
            children.append(node_id)
            inputs = []
            for param in (task.get("arguments") or {}).get("parameters") or []:
                value = str(param.get("value", ""))
                for key, text in values.items():
                    value = value.replace("{{workflow.parameters." + key + "}}", text)
                inputs.append({"name": param["name"], "value": value})
            phase = phases.get(task["name"], "Succeeded")
            node: dict[str, Any] = {
                "id": node_id,
                "name": node_name,
                "displayName": task["name"],
                "type": "Pod",
                "templateName": task.get("template", task["name"]),
                "phase": phase,
                "boundaryID": name,
                "startedAt": now(),
                "inputs": {"parameters": inputs} if inputs else {},
            }
            if phase in DONE:
                node["finishedAt"] = now()
            if task["name"] in messages:
                node["message"] = messages[task["name"]]
            nodes[node_id] = node
        nodes[name] = {
            "id": name,
            "name": name,
            "displayName": name,
            "type": "DAG",
            "templateName": (wf.get("spec") or {}).get("entrypoint", ""),
            "phase": root_phase,
            "startedAt": now(),
            "children": children,
        }
        return nodes

    def start_workflow(
        self, name: str, namespace: str = "argo", running: str | None = None
    ) -> None:
        """Move a workflow to Running, its first task (or ``running``) running."""
        with self._lock:
            wf = copy.deepcopy(self.state.workflows[(namespace, name)])
        tasks = [t["name"] for t in self._tasks(wf)]
        current = running or (tasks[0] if tasks else "")
        phases = dict.fromkeys(tasks, "Pending")
        phases.update(
            dict.fromkeys(tasks[: tasks.index(current)], "Succeeded") if current in tasks else {}
        )
        phases[current] = "Running"
        wf["status"] = {
            "phase": "Running",
            "startedAt": now(),
            "progress": f"{sum(p == 'Succeeded' for p in phases.values())}/{len(tasks)}",
            "nodes": self._nodes(wf, phases, {}),
        }
        self.put_workflow(wf)

    def finish_workflow(
        self,
        name: str,
        namespace: str = "argo",
        *,
        fail: str | None = None,
        message: str = "Error (exit code 1)",
        phase: str | None = None,
    ) -> None:
        """Finish a workflow: every task Succeeded, or ``fail`` Failed (later ones Omitted)."""
        with self._lock:
            wf = copy.deepcopy(self.state.workflows[(namespace, name)])
        tasks = [t["name"] for t in self._tasks(wf)]
        phases: dict[str, str] = {}
        failed = False
        for task in tasks:
            if task == fail:
                phases[task] = "Failed"
                failed = True
            else:
                phases[task] = "Omitted" if failed else "Succeeded"
        final = phase or ("Failed" if failed else "Succeeded")
        progress = f"{sum(p == 'Succeeded' for p in phases.values())}/{len(tasks)}"
        phases[""] = final
        status = wf.setdefault("status", {})
        status.update(
            {
                "phase": final,
                "startedAt": status.get("startedAt", now()),
                "finishedAt": now(),
                "progress": progress,
                "nodes": self._nodes(wf, phases, {fail: message} if fail else {}),
            }
        )
        if failed:
            status["message"] = f"child '{name}-{fnv32a(f'{name}.{fail}')}' failed"
        self.put_workflow(wf)

    def pod_of(self, name: str, task: str, namespace: str = "argo") -> str:
        """The pod name Argo gives the node of ``task`` (v2 pod names)."""
        wf = self.workflow(name, namespace)
        template = next(t.get("template", task) for t in self._tasks(wf) if t["name"] == task)
        return f"{name}-{template}-{fnv32a(f'{name}.{task}')}"

    def add_log(
        self,
        name: str,
        pod: str,
        content: str,
        *,
        namespace: str = "argo",
        at: datetime | None = None,
    ) -> None:
        """Append a line to a pod's log (timestamped now unless ``at``)."""
        with self._lock:
            lines = self.state.logs.setdefault((namespace, name), [])
            when = at or (
                lines[-1].time + timedelta(milliseconds=1) if lines else datetime.now(timezone.utc)
            )
            lines.append(LogLine(pod, when, content))
            self._lock.notify_all()

    # request handling ------------------------------------------------------------------------

    def handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        split = urlsplit(handler.path)
        raw_path = split.path
        query = parse_qs(split.query, keep_blank_values=True)
        length = int(handler.headers.get("Content-Length") or 0)
        raw_body = handler.rfile.read(length) if length else b""
        body: Any = None
        headers = dict(handler.headers.items())
        problems: list[str] = []
        if raw_body:
            try:
                body = json.loads(raw_body)
            except ValueError:
                problems.append("the body is not JSON")
        self.requests.append(Recorded(method, raw_path, query, headers, body))
        if not raw_path.startswith(self.base_href):
            return self._answer(handler, 404, {"code": 5, "message": "Not Found"}, None, raw_path)
        path = "/" + raw_path[len(self.base_href) :]
        found = self.swagger.operation(method, path)
        if found is None:
            self.violations.append(f"{method} {path}: no such operation in swagger.json")
            return self._answer(handler, 404, {"code": 5, "message": "Not Found"}, None, path)
        template, operation = found
        problems += self.swagger.check_query(operation, query)
        problems += self.swagger.check_body(operation, body, bool(raw_body))
        if problems:
            self.violations.extend(f"{method} {path}: {p}" for p in problems)
            return self._answer(
                handler, 400, {"code": 3, "message": "; ".join(problems)}, operation, path
            )
        fault = self._take("slow", method, path)
        if fault is not None:
            time.sleep(fault.seconds)
        fault = self._take("drop", method, path)
        if fault is not None and not fault.after:
            return self._drop(handler)
        if self.token is not None and headers.get("Authorization") != self.token:
            return self._answer(
                handler,
                401,
                {
                    "code": 16,
                    "message": "token not valid. see https://argo-workflows.readthedocs.io/en/latest/faq/",
                },
                operation,
                path,
            )
        fail = self._take("fail", method, path)
        if fail is not None:
            message = fail.message or f"injected {fail.status}"
            code = fail.code if fail.code is not None else GRPC_FOR_STATUS.get(fail.status, 2)
            return self._answer(
                handler,
                fail.status,
                {"code": code, "message": message},
                operation,
                path,
            )
        params = dict(
            zip(re.findall(r"\{([^}]+)\}", template), _path_values(template, path), strict=False)
        )
        namespace = params.get("namespace")
        if namespace is not None and namespace in self.forbidden:
            return self._answer(
                handler,
                403,
                {
                    "code": 7,
                    "message": 'workflows.argoproj.io is forbidden: User "system:serviceaccount:'
                    f'argo:ci" cannot access resource "workflows" in the namespace "{namespace}"',
                },
                operation,
                path,
            )
        if operation["operationId"] not in _STREAMS and operation["operationId"] not in _HANDLERS:
            self.violations.append(
                f"{method} {path}: {operation['operationId']} is not implemented here"
            )
            return self._answer(
                handler, 501, {"code": 12, "message": "not implemented"}, None, path
            )
        try:
            if operation["operationId"] in _STREAMS:
                return _STREAMS[operation["operationId"]](
                    self, handler, params, query, operation, path
                )
            status, answer = _HANDLERS[operation["operationId"]](self, params, query, body)
        except ApiError as exc:
            return self._answer(
                handler, exc.status, {"code": exc.code, "message": exc.message}, operation, path
            )
        if fault is not None and fault.after:
            return self._drop(handler)
        # An answer cut down by `fields` is partial by design (required fields may be gone).
        checked = None if "fields" in query else operation
        return self._answer(handler, status, answer, checked, path)

    def _drop(self, handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True
        with contextlib.suppress(OSError):
            handler.connection.shutdown(socket.SHUT_RDWR)

    def _answer(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        answer: Any,
        operation: Mapping[str, Any] | None,
        path: str,
    ) -> None:
        if operation is not None:
            self.violations.extend(
                f"(server bug) {path}: {p}"
                for p in self.swagger.check_answer(operation, status, answer)
            )
        data = json.dumps(answer).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    # streams ---------------------------------------------------------------------------------

    def stream(
        self,
        handler: BaseHTTPRequestHandler,
        path: str,
        operation: Mapping[str, Any],
        produce: Iterator[dict[str, Any] | None],
    ) -> None:
        """Write a server-sent-event stream; ``None`` items are pauses (keep-alives)."""
        sse = handler.headers.get("Accept") == "text/event-stream"
        fault = self._take("stream", "GET", path)
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream" if sse else "application/json")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        sent = 0

        def chunk(data: bytes) -> None:
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            handler.wfile.flush()

        try:
            for message in produce:
                if fault is not None and sent >= fault.messages:
                    if fault.stall:
                        deadline = time.monotonic() + 30
                        while not self._stopping and time.monotonic() < deadline:
                            time.sleep(0.01)
                    return self._drop(handler)
                if message is None:
                    if sse:
                        chunk(b":\n")
                    continue
                errors = self.swagger.check_answer(operation, 200, message)
                self.violations.extend(f"(server bug) {path}: {p}" for p in errors)
                text = json.dumps(message).encode()
                chunk(b"data: %s \n\n" % text if sse else text + b"\n")
                sent += 1
            chunk(b"")
        except OSError:
            pass  # the client went away


def _path_values(template: str, path: str) -> list[str]:
    pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(template)) + "$"
    match = re.match(pattern, path)
    return [unquote(v) for v in match.groups()] if match else []


@functools.cache
def _swagger() -> Swagger:
    return Swagger()


def _handler_class(server: ArgoServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._run("GET")

        def do_POST(self) -> None:
            self._run("POST")

        def do_PUT(self) -> None:
            self._run("PUT")

        def do_DELETE(self) -> None:
            self._run("DELETE")

        def _run(self, method: str) -> None:
            try:
                server.handle(self, method)
            except OSError:
                self.close_connection = True
            except Exception as exc:  # a bug in the fake: make the test fail, loudly
                server.violations.append(f"(server crash) {method} {self.path}: {exc!r}")
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


# --------------------------------------------------------------------------------------------
# operations
# --------------------------------------------------------------------------------------------

_SUFFIX = "bcdfghjklmnpqrstvwxz2456789"


def _generated(prefix: str) -> str:
    import random

    return prefix + "".join(random.choice(_SUFFIX) for _ in range(5))


def _get(server: ArgoServer, namespace: str, name: str) -> dict[str, Any]:
    with server._lock:
        wf = server.state.workflows.get((namespace, name))
        if wf is None:
            raise ApiError(404, f'workflows.argoproj.io "{name}" not found')
        return copy.deepcopy(wf)


def _create(server: ArgoServer, params: dict[str, str], query: Any, body: Any) -> tuple[int, Any]:
    namespace = params["namespace"]
    wf = copy.deepcopy(body["workflow"])
    metadata = wf.setdefault("metadata", {})
    if not metadata.get("name"):
        if not metadata.get("generateName"):
            raise ApiError(400, "metadata.name or metadata.generateName is required")
        metadata["name"] = _generated(metadata["generateName"])
    metadata["namespace"] = namespace
    _validate_workflow(wf)
    with server._lock:
        if (namespace, metadata["name"]) in server.state.workflows:
            raise ApiError(409, f'workflows.argoproj.io "{metadata["name"]}" already exists')
        if body.get("serverDryRun"):
            metadata.setdefault("uid", str(uuid.uuid4()))
            metadata.setdefault("creationTimestamp", now())
            return 200, wf
        return 200, server.put_workflow(wf)


def _validate_workflow(wf: Mapping[str, Any]) -> None:
    spec = wf.get("spec") or {}
    if "workflowTemplateRef" in spec:
        return
    names = [t.get("name") for t in spec.get("templates") or []]
    entry = spec.get("entrypoint")
    if entry not in names:
        raise ApiError(400, f'spec.entrypoint: template "{entry}" is not defined in spec.templates')


def _submit(server: ArgoServer, params: dict[str, str], query: Any, body: Any) -> tuple[int, Any]:
    namespace = params["namespace"]
    if body.get("resourceKind") != "WorkflowTemplate":
        raise ApiError(400, f"resourceKind {body.get('resourceKind')!r} is not supported here")
    template_name = body.get("resourceName")
    with server._lock:
        template = server.state.templates.get((namespace, template_name))
    if template is None:
        raise ApiError(404, f'workflowtemplates.argoproj.io "{template_name}" not found')
    options = body.get("submitOptions") or {}
    labels = {"workflows.argoproj.io/workflow-template": template_name}
    labels.update(_pairs(options.get("labels")))
    declared = [
        p["name"] for p in ((template["spec"].get("arguments") or {}).get("parameters") or [])
    ]
    overrides = []
    for pair in options.get("parameters") or []:
        key, _, value = pair.partition("=")
        if key not in declared:
            raise ApiError(400, f"parameter {key!r} is not declared by the template")
        overrides.append({"name": key, "value": value})
    wf = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {
            "name": options.get("name")
            or _generated(options.get("generateName") or f"{template_name}-"),
            "namespace": namespace,
            "labels": labels,
            "annotations": _pairs(options.get("annotations")),
        },
        "spec": {
            "arguments": {"parameters": overrides},
            "workflowTemplateRef": {"name": template_name},
        },
    }
    with server._lock:
        if (namespace, wf["metadata"]["name"]) in server.state.workflows:
            raise ApiError(409, f'workflows.argoproj.io "{wf["metadata"]["name"]}" already exists')
        if options.get("serverDryRun"):
            return 200, wf
        return 200, server.put_workflow(wf)


def _pairs(text: str | None) -> dict[str, str]:
    found = {}
    for pair in (text or "").split(","):
        if pair:
            key, _, value = pair.partition("=")
            found[key] = value
    return found


def _get_workflow(
    server: ArgoServer, params: dict[str, str], query: Any, body: Any
) -> tuple[int, Any]:
    return 200, _get(server, params["namespace"], params["name"])


def _list(
    server: ArgoServer, params: dict[str, str], query: dict[str, list[str]], body: Any
) -> tuple[int, Any]:
    namespace = params["namespace"]
    selector = _pairs((query.get("listOptions.labelSelector") or [""])[0])
    with server._lock:
        items = [
            copy.deepcopy(wf)
            for (ns, _), wf in sorted(server.state.workflows.items())
            if ns == namespace
            and all((wf["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
        ]
    limit = int((query.get("listOptions.limit") or ["0"])[0])
    start = int((query.get("listOptions.continue") or ["0"])[0] or 0)
    page = items[start : start + limit] if limit else items[start:]
    more = limit and start + limit < len(items)
    answer: dict[str, Any] = {
        "metadata": {
            "resourceVersion": str(next(server._versions)),
            **({"continue": str(start + limit)} if more else {}),
        },
        "items": page,
    }
    fields = (query.get("fields") or [""])[0]
    if fields:
        answer = _only(answer, [f for f in fields.split(",") if f])
    return 200, answer


def _only(value: Any, fields: list[str], path: str = "") -> Any:
    """Keep only the listed field paths (the gateway's ``fields`` query), like Argo does."""
    if isinstance(value, list):
        return [_only(item, fields, path) for item in value]
    if not isinstance(value, dict):
        return value
    kept = {}
    for key, item in value.items():
        full = f"{path}.{key}" if path else key
        if full in fields:
            kept[key] = item
        elif any(f.startswith(full + ".") for f in fields):
            kept[key] = _only(item, fields, full)
    return kept


def _shutdown(kind: str) -> Any:
    def action(
        server: ArgoServer, params: dict[str, str], query: Any, body: Any
    ) -> tuple[int, Any]:
        wf = _get(server, params["namespace"], params["name"])
        if (wf.get("status") or {}).get("phase") in DONE:
            raise ApiError(400, "cannot shutdown a completed workflow", code=9)
        wf["spec"]["shutdown"] = kind
        status = wf.setdefault("status", {})
        status.update(
            {"phase": "Failed", "message": f"Stopped with strategy '{kind}'", "finishedAt": now()}
        )
        status.setdefault("startedAt", now())
        return 200, server.put_workflow(wf)

    return action


def _retry(server: ArgoServer, params: dict[str, str], query: Any, body: Any) -> tuple[int, Any]:
    wf = _get(server, params["namespace"], params["name"])
    if (wf.get("status") or {}).get("phase") not in ("Failed", "Error"):
        raise ApiError(400, "workflow must be Failed/Error to retry", code=9)
    status = wf["status"]
    status.update({"phase": "Running", "message": ""})
    status.pop("finishedAt", None)
    wf["spec"].pop("shutdown", None)
    return 200, server.put_workflow(wf)


def _resubmit(server: ArgoServer, params: dict[str, str], query: Any, body: Any) -> tuple[int, Any]:
    old = _get(server, params["namespace"], params["name"])
    spec = copy.deepcopy(old["spec"])
    spec.pop("shutdown", None)
    overrides = dict(p.partition("=")[::2] for p in body.get("parameters") or [])
    for param in (spec.get("arguments") or {}).get("parameters") or []:
        if param["name"] in overrides:
            param["value"] = overrides.pop(param["name"])
    if overrides:
        raise ApiError(400, f"parameters not declared: {', '.join(sorted(overrides))}")
    labels = dict(old["metadata"].get("labels") or {})
    labels["workflows.argoproj.io/resubmitted-from-workflow"] = old["metadata"]["name"]
    wf = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {
            "name": _generated(old["metadata"]["name"] + "-"),
            "namespace": params["namespace"],
            "labels": labels,
        },
        "spec": spec,
    }
    return 200, server.put_workflow(wf)


def _create_template(
    server: ArgoServer, params: dict[str, str], query: Any, body: Any
) -> tuple[int, Any]:
    namespace = params["namespace"]
    template = copy.deepcopy(body["template"])
    metadata = template["metadata"]
    metadata["namespace"] = namespace
    _validate_workflow(template)
    with server._lock:
        if (namespace, metadata["name"]) in server.state.templates:
            raise ApiError(
                409, f'workflowtemplates.argoproj.io "{metadata["name"]}" already exists'
            )
        metadata["uid"] = str(uuid.uuid4())
        metadata["creationTimestamp"] = now()
        metadata["resourceVersion"] = str(next(server._versions))
        server.state.templates[(namespace, metadata["name"])] = template
        return 200, copy.deepcopy(template)


def _get_template(
    server: ArgoServer, params: dict[str, str], query: Any, body: Any
) -> tuple[int, Any]:
    with server._lock:
        template = server.state.templates.get((params["namespace"], params["name"]))
    if template is None:
        raise ApiError(404, f'workflowtemplates.argoproj.io "{params["name"]}" not found')
    return 200, copy.deepcopy(template)


def _update_template(
    server: ArgoServer, params: dict[str, str], query: Any, body: Any
) -> tuple[int, Any]:
    namespace = params["namespace"]
    template = copy.deepcopy(body["template"])
    metadata = template["metadata"]
    _validate_workflow(template)
    with server._lock:
        current = server.state.templates.get((namespace, metadata["name"]))
        if current is None:
            raise ApiError(404, f'workflowtemplates.argoproj.io "{metadata["name"]}" not found')
        if not metadata.get("resourceVersion"):
            raise ApiError(
                400, "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"
            )
        if metadata["resourceVersion"] != current["metadata"]["resourceVersion"]:
            raise ApiError(
                409,
                "Operation cannot be fulfilled on workflowtemplates.argoproj.io "
                f'"{metadata["name"]}": the object has been modified; please apply your changes '
                "to the latest version and try again",
                code=10,
            )
        metadata["namespace"] = namespace
        metadata["uid"] = current["metadata"]["uid"]
        metadata["creationTimestamp"] = current["metadata"]["creationTimestamp"]
        metadata["resourceVersion"] = str(next(server._versions))
        server.state.templates[(namespace, metadata["name"])] = template
        return 200, copy.deepcopy(template)


def _watch(
    server: ArgoServer,
    handler: BaseHTTPRequestHandler,
    params: dict[str, str],
    query: dict[str, list[str]],
    operation: Mapping[str, Any],
    path: str,
) -> None:
    namespace = params["namespace"]
    selector = (query.get("listOptions.fieldSelector") or [""])[0]
    wanted = selector.partition("metadata.name=")[2] or None

    def matches(wf: Mapping[str, Any]) -> bool:
        metadata = wf["metadata"]
        return metadata.get("namespace") == namespace and (
            wanted is None or metadata["name"] == wanted
        )

    def produce() -> Iterator[dict[str, Any] | None]:
        with server._lock:
            seen = len(server.state.events)
            current = [copy.deepcopy(wf) for wf in server.state.workflows.values() if matches(wf)]
        for wf in current:
            yield {"result": {"type": "ADDED", "object": wf}}
        while True:
            with server._lock:
                if server._stopping:
                    return
                if len(server.state.events) == seen:
                    server._lock.wait(server.keepalive)
                fresh = server.state.events[seen:]
                seen = len(server.state.events)
            if not fresh:
                yield None
            for kind, wf in fresh:
                if matches(wf):
                    yield {"result": {"type": kind, "object": wf}}

    server.stream(handler, path, operation, produce())


def _logs(
    server: ArgoServer,
    handler: BaseHTTPRequestHandler,
    params: dict[str, str],
    query: dict[str, list[str]],
    operation: Mapping[str, Any],
    path: str,
) -> None:
    namespace, name = params["namespace"], params["name"]
    try:
        _get(server, namespace, name)
    except ApiError as exc:
        return server._answer(
            handler, exc.status, {"code": exc.code, "message": exc.message}, operation, path
        )
    follow = (query.get("logOptions.follow") or ["false"])[0] == "true"
    stamps = (query.get("logOptions.timestamps") or ["false"])[0] == "true"
    pod = (query.get("podName") or [None])[0]
    grep = (query.get("grep") or [None])[0]
    since_text = (query.get("logOptions.sinceTime.seconds") or [None])[0]
    since = datetime.fromtimestamp(int(since_text), timezone.utc) if since_text else None

    def produce() -> Iterator[dict[str, Any] | None]:
        index = 0
        while True:
            with server._lock:
                lines = list(server.state.logs.get((namespace, name), []))
                wf = server.state.workflows.get((namespace, name))
                done = wf is None or (wf.get("status") or {}).get("phase") in DONE
            for line in lines[index:]:
                if (pod and line.pod != pod) or (grep and grep not in line.content):
                    continue
                if since is not None and line.time < since:
                    continue
                stamp = line.time.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                content = f"{stamp} {line.content}" if stamps else line.content
                yield {"result": {"content": content, "podName": line.pod}}
            index = len(lines)
            if not follow or done:
                return
            with server._lock:
                if server._stopping:
                    return
                server._lock.wait(server.keepalive)
            yield None

    server.stream(handler, path, operation, produce())
    return None


# ---- cron workflows, sensors, event bindings ------------------------------------------------

_STORES = {
    "crons": ("cronworkflows.argoproj.io", "cronWorkflow"),
    "sensors": ("sensors.argoproj.io", "sensor"),
    "bindings": ("workfloweventbindings.argoproj.io", ""),
}


def _store(server: ArgoServer, kind: str) -> dict[tuple[str, str], dict[str, Any]]:
    store: dict[tuple[str, str], dict[str, Any]] = getattr(server.state, kind)
    return store


def _resource_create(kind: str) -> Any:
    def create(
        server: ArgoServer, params: dict[str, str], query: Any, body: Any
    ) -> tuple[int, Any]:
        plural, key = _STORES[kind]
        if kind == "sensors" and server.events_missing:
            raise ApiError(404, "the server could not find the requested resource")
        namespace = params["namespace"]
        doc = copy.deepcopy(body[key])
        metadata = doc.setdefault("metadata", {})
        if not metadata.get("name"):
            raise ApiError(400, "metadata.name is required")
        if kind == "crons":
            _validate_workflow({"spec": doc["spec"].get("workflowSpec") or {}})
        with server._lock:
            store = _store(server, kind)
            if (namespace, metadata["name"]) in store:
                raise ApiError(409, f'{plural} "{metadata["name"]}" already exists')
            metadata.update(
                namespace=namespace,
                uid=str(uuid.uuid4()),
                creationTimestamp=now(),
                resourceVersion=str(next(server._versions)),
            )
            # Argo's server labels what it creates with its creator (kept by updates).
            metadata.setdefault("labels", {})["workflows.argoproj.io/creator"] = "system"
            store[(namespace, metadata["name"])] = doc
            return 200, copy.deepcopy(doc)

    return create


def _resource_get(kind: str) -> Any:
    def get(server: ArgoServer, params: dict[str, str], query: Any, body: Any) -> tuple[int, Any]:
        plural, _ = _STORES[kind]
        if kind == "sensors" and server.events_missing:
            raise ApiError(404, "the server could not find the requested resource")
        with server._lock:
            doc = _store(server, kind).get((params["namespace"], params["name"]))
        if doc is None:
            raise ApiError(404, f'{plural} "{params["name"]}" not found')
        return 200, copy.deepcopy(doc)

    return get


def _resource_update(kind: str) -> Any:
    def update(
        server: ArgoServer, params: dict[str, str], query: Any, body: Any
    ) -> tuple[int, Any]:
        plural, key = _STORES[kind]
        namespace, name = params["namespace"], params["name"]
        doc = copy.deepcopy(body[key])
        metadata = doc.setdefault("metadata", {})
        if metadata.get("name") != name:
            raise ApiError(400, f"metadata.name {metadata.get('name')!r} does not match {name!r}")
        if kind == "crons":
            _validate_workflow({"spec": doc["spec"].get("workflowSpec") or {}})
        with server._lock:
            store = _store(server, kind)
            current = store.get((namespace, name))
            if current is None:
                raise ApiError(404, f'{plural} "{name}" not found')
            if not metadata.get("resourceVersion"):
                raise ApiError(
                    400,
                    "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update",
                )
            if metadata["resourceVersion"] != current["metadata"]["resourceVersion"]:
                raise ApiError(
                    409,
                    f'Operation cannot be fulfilled on {plural} "{name}": the object has been '
                    "modified; please apply your changes to the latest version and try again",
                    code=10,
                )
            metadata.update(
                namespace=namespace,
                uid=current["metadata"]["uid"],
                creationTimestamp=current["metadata"]["creationTimestamp"],
                resourceVersion=str(next(server._versions)),
            )
            if "status" in current:
                doc["status"] = current["status"]
            store[(namespace, name)] = doc
            server.updates.append((kind, name))
            return 200, copy.deepcopy(doc)

    return update


def _resource_delete(kind: str) -> Any:
    def delete(
        server: ArgoServer, params: dict[str, str], query: Any, body: Any
    ) -> tuple[int, Any]:
        plural, _ = _STORES[kind]
        with server._lock:
            if _store(server, kind).pop((params["namespace"], params["name"]), None) is None:
                raise ApiError(404, f'{plural} "{params["name"]}" not found')
        return 200, {}

    return delete


def _resource_list(kind: str) -> Any:
    def listing(
        server: ArgoServer, params: dict[str, str], query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any]:
        selector = _pairs((query.get("listOptions.labelSelector") or [""])[0])
        with server._lock:
            items = [
                copy.deepcopy(doc)
                for (ns, _), doc in sorted(_store(server, kind).items())
                if ns == params["namespace"]
                and all(
                    (doc["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items()
                )
            ]
        return 200, {"metadata": {"resourceVersion": str(next(server._versions))}, "items": items}

    return listing


def _cron_flag(suspend: bool) -> Any:
    def action(
        server: ArgoServer, params: dict[str, str], query: Any, body: Any
    ) -> tuple[int, Any]:
        with server._lock:
            doc = server.state.crons.get((params["namespace"], params["name"]))
            if doc is None:
                raise ApiError(404, f'cronworkflows.argoproj.io "{params["name"]}" not found')
            doc["spec"]["suspend"] = suspend
            doc["metadata"]["resourceVersion"] = str(next(server._versions))
            return 200, copy.deepcopy(doc)

    return action


_HANDLERS = {
    "CronWorkflowService_CreateCronWorkflow": _resource_create("crons"),
    "CronWorkflowService_GetCronWorkflow": _resource_get("crons"),
    "CronWorkflowService_UpdateCronWorkflow": _resource_update("crons"),
    "CronWorkflowService_DeleteCronWorkflow": _resource_delete("crons"),
    "CronWorkflowService_ListCronWorkflows": _resource_list("crons"),
    "CronWorkflowService_SuspendCronWorkflow": _cron_flag(True),
    "CronWorkflowService_ResumeCronWorkflow": _cron_flag(False),
    "SensorService_CreateSensor": _resource_create("sensors"),
    "SensorService_GetSensor": _resource_get("sensors"),
    "SensorService_UpdateSensor": _resource_update("sensors"),
    "SensorService_DeleteSensor": _resource_delete("sensors"),
    "SensorService_ListSensors": _resource_list("sensors"),
    "EventService_ListWorkflowEventBindings": _resource_list("bindings"),
    "WorkflowService_CreateWorkflow": _create,
    "WorkflowService_SubmitWorkflow": _submit,
    "WorkflowService_GetWorkflow": _get_workflow,
    "WorkflowService_ListWorkflows": _list,
    "WorkflowService_StopWorkflow": _shutdown("Stop"),
    "WorkflowService_TerminateWorkflow": _shutdown("Terminate"),
    "WorkflowService_RetryWorkflow": _retry,
    "WorkflowService_ResubmitWorkflow": _resubmit,
    "WorkflowTemplateService_CreateWorkflowTemplate": _create_template,
    "WorkflowTemplateService_GetWorkflowTemplate": _get_template,
    "WorkflowTemplateService_UpdateWorkflowTemplate": _update_template,
}
_STREAMS = {
    "WorkflowService_WatchWorkflows": _watch,
    "WorkflowService_WorkflowLogs": _logs,
}


# --------------------------------------------------------------------------------------------
# the fixture
# --------------------------------------------------------------------------------------------


def serve() -> Iterator[ArgoServer]:
    """A running local Argo Server, for a fixture; fails if any request broke the OpenAPI
    document::

        @pytest.fixture
        def argo_server() -> Iterator[ArgoServer]:
            yield from serve()
    """
    with ArgoServer() as server:
        yield server
        assert server.violations == [], "\n".join(server.violations)


def connect(
    server: ArgoServer,
    *,
    namespace: str = "argo",
    token: str | None = None,
    attempts: int = 3,
    read: float = 2.0,
    stream: float = 2.0,
) -> Any:
    """A Connection to ``server`` with short timeouts and backoffs (tests stay fast)."""
    from flowdsl.client.config import Connection, RetryPolicy, Timeouts

    return Connection(
        url=server.url,
        namespace=namespace,
        token=token,
        timeouts=Timeouts(connect=2.0, read=read, stream=stream),
        retry=RetryPolicy(attempts=attempts, backoff=0.01, max_backoff=0.02),
    )
