"""Reading the Argo Server's streams: workflow events and pod logs.

The streaming endpoints (``/api/v1/workflow-events/{ns}``, ``/api/v1/workflows/{ns}/{name}/log``)
answer with one message per line. With ``Accept: text/event-stream`` (what this client asks
for) each message is a server-sent event, ``data: {"result": {...}}``, and the server writes
a ``:`` keep-alive comment every 15 seconds, so a silent connection can be told from a quiet
workflow; without it, the lines are bare JSON. :func:`messages` reads both. A message is
``{"result": ...}`` or, when the server fails mid-stream, ``{"error": {"message": ...,
"http_code": ..., "grpc_code": ...}}`` (gRPC gateway's ``StreamError``).

:class:`LogDeduplicator` makes a reconnected log stream safe: the client asks for
timestamps, reopens the stream from the earliest last-seen second of every pod, and drops
the lines it has already passed on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from flowdsl.client.status import LogEntry, parse_time

__all__ = ["LogDeduplicator", "StreamFailure", "messages", "split_timestamp"]


class StreamFailure(Exception):
    """The server reported an error inside a stream (a ``StreamError`` message).

    Attributes:
        http_code: the HTTP status the error stands for (0 if not given).
        grpc_code: the gRPC code (None if not given).
        message: the server's message.
    """

    def __init__(self, http_code: int, grpc_code: int | None, message: str) -> None:
        self.http_code = http_code
        self.grpc_code = grpc_code
        self.message = message
        super().__init__(f"{http_code}: {message}")


class MalformedStream(Exception):
    """A line of a stream is not a JSON object (a proxy's error page, a truncated line)."""


def messages(lines: Iterable[bytes]) -> Iterator[Mapping[str, Any]]:
    """The ``result`` of each message of a stream, in order.

    Raises:
        StreamFailure: the server sent an error message.
        MalformedStream: a line is not a JSON object.
        TransportError: (from ``lines``) the connection broke or went silent.
    """
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith(b":"):
            continue  # blank separator or keep-alive comment
        if line.startswith(b"data:"):
            line = line[5:].strip()
        elif line.split(b":", 1)[0] in (b"event", b"id", b"retry"):
            continue  # SSE fields this client has no use for
        try:
            message = json.loads(line)
        except ValueError:
            raise MalformedStream(line[:200].decode("utf-8", "replace")) from None
        if not isinstance(message, dict):
            raise MalformedStream(line[:200].decode("utf-8", "replace"))
        error = message.get("error")
        if error:
            detail = error if isinstance(error, Mapping) else {"message": str(error)}
            http_code = detail.get("http_code")
            grpc_code = detail.get("grpc_code", detail.get("code"))
            raise StreamFailure(
                http_code if isinstance(http_code, int) else 0,
                grpc_code if isinstance(grpc_code, int) else None,
                str(detail.get("message") or ""),
            )
        result = message.get("result")
        if isinstance(result, Mapping):
            yield result


def split_timestamp(content: str) -> tuple[datetime | None, str]:
    """Split Kubernetes' ``<RFC 3339 time> <line>`` into the time and the line.

    A line that does not start with a time is returned whole, with None.
    """
    head, space, rest = content.partition(" ")
    when = parse_time(head) if space or head else None
    if when is None or "T" not in head:
        return None, content
    return when, rest


class LogDeduplicator:
    """Remembers, per pod, the last time seen and the lines seen at that time.

    A stream reopened with ``sinceTime`` (whole seconds) repeats the lines of that second
    and possibly more; :meth:`fresh` keeps only the ones not yet passed on. Lines without a
    timestamp cannot be told apart and are always passed on.
    """

    def __init__(self) -> None:
        self._last: dict[str, datetime] = {}
        self._at_last: dict[str, dict[str, int]] = {}
        self._replay: dict[str, dict[str, int]] = {}

    def fresh(self, entry: LogEntry) -> bool:
        """Whether ``entry`` is new (and remember it)."""
        when = entry.timestamp
        if when is None:
            return True
        pod = entry.pod_name
        last = self._last.get(pod)
        if last is not None and when < last:
            return False
        if last is not None and when == last:
            replay = self._replay.setdefault(pod, {})
            if replay.get(entry.content, 0) > 0:
                replay[entry.content] -= 1
                return False
            seen = self._at_last.setdefault(pod, {})
            seen[entry.content] = seen.get(entry.content, 0) + 1
            return True
        self._last[pod] = when
        self._at_last[pod] = {entry.content: 1}
        self._replay.pop(pod, None)
        return True

    def reopen(self) -> int | None:
        """Prepare for a reopened stream; returns the ``sinceTime`` seconds to ask for.

        The earliest last-seen second of every pod, so that no pod loses a line; None when
        nothing with a timestamp was seen yet (start from the beginning).
        """
        for pod, seen in self._at_last.items():
            self._replay[pod] = dict(seen)
        if not self._last:
            return None
        return int(min(when.timestamp() for when in self._last.values()))
