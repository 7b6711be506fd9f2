"""Text views of workflows for the CLI: ``get``, ``list``, the live ``watch`` view, failures.

Plain functions from records to text; nothing here talks to the server.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TextIO

from flowdsl.client.status import FAILED_PHASES, NodeState, WorkflowState

__all__ = [
    "LiveWatchView",
    "PlainWatchView",
    "format_duration",
    "render_failures",
    "render_list",
    "render_workflow",
    "table",
]

_MARKS = {
    "Succeeded": "✔",
    "Failed": "✖",
    "Error": "✖",
    "Running": "●",
    "Pending": "○",
    "Skipped": "-",
    "Omitted": "-",
}


def format_duration(seconds: float | None) -> str:
    """``1h2m3s``, ``4m5s``, ``6s``, ``0.4s``; ``-`` for None."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.1f}s" if seconds % 1 else f"{int(seconds)}s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def _age(when: datetime | None, now: datetime) -> str:
    if when is None:
        return "-"
    return format_duration(max((now - when).total_seconds(), 0.0))


def _time(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if when else "-"


def _elapsed(state: WorkflowState | NodeState, now: datetime) -> float | None:
    if state.started_at is None:
        return None
    end = state.finished_at or now
    return max((end - state.started_at).total_seconds(), 0.0)


def table(rows: Sequence[Sequence[str]]) -> str:
    """Rows as left-aligned columns (the last column is not padded)."""
    if not rows:
        return ""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines) + "\n"


def _steps(state: WorkflowState) -> list[NodeState]:
    """The nodes worth showing: everything but the workflow's own root node."""
    return [node for node in state.nodes if node.id != state.name]


def render_workflow(
    state: WorkflowState, *, url: str | None = None, now: datetime | None = None
) -> str:
    """The ``get`` view: a summary, then one row per node."""
    now = now or datetime.now(timezone.utc)
    fields = [
        ("Name", state.name),
        ("Namespace", state.namespace),
        ("Phase", state.phase),
    ]
    if state.message:
        fields.append(("Message", state.message))
    fields += [
        ("Created", _time(state.created_at)),
        ("Started", _time(state.started_at)),
        ("Finished", _time(state.finished_at)),
        ("Duration", format_duration(_elapsed(state, now))),
    ]
    if state.progress:
        fields.append(("Progress", state.progress))
    if state.parameters:
        fields.append(("Parameters", ", ".join(f"{k}={v}" for k, v in state.parameters.items())))
    if url:
        fields.append(("URL", url))
    width = max(len(name) for name, _ in fields) + 1
    text = "".join(f"{(name + ':').ljust(width)}  {value}\n" for name, value in fields)
    steps = _steps(state)
    if steps:
        rows = [("STEP", "TYPE", "PHASE", "DURATION", "MESSAGE")]
        rows += [
            (
                node.display_name,
                node.type,
                node.phase,
                format_duration(_elapsed(node, now)),
                node.message,
            )
            for node in steps
        ]
        text += "\n" + table(rows)
    return text


def render_list(
    states: Sequence[WorkflowState], *, flow_label: str, now: datetime | None = None
) -> str:
    """The ``list`` view: one row per workflow."""
    now = now or datetime.now(timezone.utc)
    rows = [("NAME", "STATUS", "AGE", "DURATION", "PROGRESS", "FLOW")]
    for state in states:
        rows.append(
            (
                state.name,
                state.phase,
                _age(state.created_at, now),
                format_duration(_elapsed(state, now)),
                state.progress or "-",
                state.labels.get(flow_label, "-"),
            )
        )
    return table(rows)


def render_failures(state: WorkflowState, *, hint_target: str | None) -> str:
    """Why a finished workflow did not succeed: its message and each failed node.

    Args:
        state: the finished workflow.
        hint_target: how the user named the flow (``file.py``), to print the ``debug``
            command; None when the command is run from ``flow.main()``.
    """
    lines = [
        f"workflow {state.name} {state.phase}" + (f": {state.message}" if state.message else "")
    ]
    for node in state.failed_nodes():
        if node.id == state.name:
            continue
        message = f": {node.message}" if node.message else ""
        lines.append(f"  {_MARKS.get(node.phase, '?')} {node.display_name} ({node.phase}){message}")
        if node.inputs:
            shown = ", ".join(f"{k}={_short(v)}" for k, v in node.inputs.items())
            lines.append(f"      inputs: {shown}")
        task = node.display_name.split("(", 1)[0]
        lines.append(f"      logs:   python -m flowdsl logs {state.name} --task {task}")
        target = f"{hint_target} " if hint_target else ""
        lines.append(f"      debug:  python -m flowdsl debug {target}{state.name} --task {task}")
    return "\n".join(lines) + "\n"


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class PlainWatchView:
    """The ``watch`` view for logs and pipes: one timestamped line per change."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._phases: dict[str, str] = {}
        self._workflow = ""

    def update(self, state: WorkflowState) -> None:
        """Print what changed since the last state."""
        stamp = datetime.now(timezone.utc).strftime("%H:%M:%S")
        summary = state.phase + (f" {state.progress}" if state.progress else "")
        if summary != self._workflow:
            self._workflow = summary
            self._out.write(f"{stamp}  workflow {state.name}  {summary}\n")
        for node in _steps(state):
            if self._phases.get(node.id) != node.phase:
                self._phases[node.id] = node.phase
                message = (
                    f"  {node.message}" if node.message and node.phase in FAILED_PHASES else ""
                )
                self._out.write(f"{stamp}  {node.display_name}  {node.phase}{message}\n")
        self._out.flush()

    def close(self) -> None:
        """Nothing to clean up."""


class LiveWatchView:
    """The ``watch`` view on a terminal: a table redrawn in place."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._lines = 0

    def update(self, state: WorkflowState) -> None:
        """Redraw the table for ``state``."""
        now = datetime.now(timezone.utc)
        head = f"{state.name}  {state.phase}"
        if state.progress:
            head += f"  {state.progress}"
        head += f"  {format_duration(_elapsed(state, now))}"
        rows = [
            (
                f"{_MARKS.get(node.phase, '?')} {node.display_name}",
                node.phase,
                format_duration(_elapsed(node, now)),
                node.message if node.phase in FAILED_PHASES else "",
            )
            for node in _steps(state)
        ]
        text = head + "\n" + (table(rows) if rows else "")
        if self._lines:
            # Move to the start of the previous drawing and clear to the end of the screen.
            self._out.write(f"\x1b[{self._lines}F\x1b[J")
        self._out.write(text)
        self._out.flush()
        self._lines = text.count("\n")

    def close(self) -> None:
        """Leave the last drawing on screen."""
        self._out.flush()
