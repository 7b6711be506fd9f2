"""What a local run shows while it runs: a live view on a terminal, plain lines elsewhere.

Both write to standard error (standard output stays for results). ``rich`` is imported
only when a live view is actually shown.

Plain lines (``progress="plain"``, or ``"auto"`` when stderr is not a terminal)::

    12:00:01 run nightly-x7k2p (run dir .flowdsl/runs/nightly-x7k2p)
    12:00:01 note: images are ignored locally (...)
    12:00:01 ▶ extract
    12:00:02 ✔ extract (0.41s)
    12:00:02 ✔ features (cached)                         (a memoize hit: it did not run)
    12:00:02 ▶ train: 0/1000
    12:00:04 … train: 100/1000
    12:00:09 ✘ deploy failed after 3 attempts: Error (exit code 1)
              | Traceback (most recent call last):       (last lines of its stderr)
    12:00:09 Failed in 8.2s: task 'deploy' failed

Loop items are not listed one by one (a fan-out of a thousand would drown the log): their
loop reports every tenth of its items, and an item that fails is shown.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from flowdsl.local.engine import Reporter
from flowdsl.local.model import FAILED_OR_ERROR, LocalRun, NodeRecord

__all__ = [
    "LiveReporter",
    "PlainReporter",
    "Reporter",
    "failure_report",
    "make_reporter",
    "stderr_tail",
]

_SYMBOLS = {
    "Succeeded": "✔",
    "Failed": "✘",
    "Error": "✘",
    "Skipped": "○",
    "Omitted": "○",
    "Running": "▶",
    "Pending": "·",
}


def stderr_tail(path: Path | None, lines: int = 10) -> list[str]:
    """The last lines of a node's standard error (empty if there is none)."""
    if path is None:
        return []
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - 16384))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()][-lines:]


def failure_report(run: LocalRun, lines: int = 10) -> list[str]:
    """Lines describing why a run did not succeed: each failing node, attempts, stderr tail."""
    out = [f"{run.status}: {run.message}" if run.message else run.status]
    for node in run.failed_nodes():
        attempts = len(node.attempts)
        tried = f" after {attempts} attempts" if attempts > 1 else ""
        out.append(
            f"  {run.path(node)} ({node.type.lower()}) {node.phase.lower()}{tried}: {node.message}"
        )
        tail = stderr_tail(node.stderr, lines)
        if tail:
            out.append(f"    last lines of {node.stderr}:")
            out.extend(f"    | {line}" for line in tail)
    return out


def _is_loop_item(node: NodeRecord) -> bool:
    return node.display_name.endswith(")") and "(" in node.display_name and node.type != "TaskGroup"


class PlainReporter(Reporter):
    """Timestamped lines, one per event worth reading."""

    def __init__(
        self, stream: IO[str] | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        """Write to ``stream`` (default stderr), stamping lines with ``clock``."""
        self.stream = stream or sys.stderr
        self.clock = clock
        self.loop_marks: dict[str, int] = {}

    def _line(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(self.clock()))
        self.stream.write(f"{stamp} {text}\n")
        self.stream.flush()

    def start(self, name: str, run_dir: Path, notes: list[str]) -> None:
        """The run starts."""
        self._line(f"run {name} (run dir {run_dir})")
        for note in notes:
            self._line(f"note: {note}")

    def node(self, node: NodeRecord, group: tuple[int, int] | None) -> None:
        """A node changed phase."""
        if node.type in ("StepGroup",) or (node.type in ("DAG", "Steps") and node.parent is None):
            return
        if group is not None:
            done, total = group
            if node.phase == "Running":
                mark = done * 10 // max(total, 1)
                if done == 0 or mark > self.loop_marks.get(node.id, -1):
                    self.loop_marks[node.id] = mark
                    self._line(f"{'▶' if done == 0 else '…'} {node.display_name}: {done}/{total}")
                return
        if _is_loop_item(node) and node.phase not in FAILED_OR_ERROR:
            return
        symbol = _SYMBOLS.get(node.phase, "·")
        if node.phase == "Running":
            self._line(f"{symbol} {node.display_name}")
        elif node.phase == "Pending":
            if node.attempts:  # waiting to retry
                last = node.attempts[-1]
                self._line(
                    f"↻ {node.display_name} attempt {last.number + 1} {last.phase.lower()}: "
                    f"{last.message}; retrying"
                )
        elif node.phase == "Succeeded":
            took = f" ({node.duration:.2f}s)" if node.duration is not None else ""
            if node.cached:
                took = " (cached)"
            self._line(f"{symbol} {node.display_name}{took}")
        elif node.phase in FAILED_OR_ERROR:
            tries = f" after {len(node.attempts)} attempts" if len(node.attempts) > 1 else ""
            self._line(f"{symbol} {node.display_name} {node.phase.lower()}{tries}: {node.message}")
        else:
            self._line(f"{symbol} {node.display_name} {node.phase.lower()} ({node.message})")

    def finish(self, run: LocalRun) -> None:
        """The run ended."""
        if run.ok:
            self._line(f"Succeeded in {run.duration:.2f}s ({run.run_dir})")
            return
        lines = failure_report(run)
        self._line(f"{lines[0]} ({run.duration:.2f}s, {run.run_dir})")
        for line in lines[1:]:
            self.stream.write(f"         {line}\n")
        self.stream.flush()


class LiveReporter(Reporter):
    """A rich live view: one row per task, a progress bar per fan-out."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        from rich.console import Console

        self.console = Console(file=stream or sys.stderr)
        self.lock = threading.Lock()
        self.rows: dict[str, tuple[NodeRecord, tuple[int, int] | None]] = {}
        self.live: Any = None
        self.name = ""
        self.started = time.monotonic()

    def start(self, name: str, run_dir: Path, notes: list[str]) -> None:
        """Open the live view."""
        from rich.live import Live

        self.name = name
        self.started = time.monotonic()
        self.console.print(f"[bold]run[/bold] {name}  [dim]{run_dir}[/dim]")
        for note in notes:
            self.console.print(f"[dim]note: {note}[/dim]")
        self.live = Live(self, console=self.console, refresh_per_second=8, transient=False)
        self.live.start()

    def node(self, node: NodeRecord, group: tuple[int, int] | None) -> None:
        """Record the node's new state (drawn at the next refresh)."""
        if node.type in ("StepGroup",) or node.parent is None:
            return
        if _is_loop_item(node) and node.phase not in FAILED_OR_ERROR:
            return
        with self.lock:
            self.rows[node.id] = (node, group)

    def __rich__(self) -> Any:
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        styles = {
            "Succeeded": "green",
            "Failed": "red",
            "Error": "red",
            "Skipped": "dim",
            "Omitted": "dim",
            "Running": "yellow",
            "Pending": "dim",
        }
        table = Table.grid(padding=(0, 1))
        table.add_column(width=1)
        table.add_column(min_width=20)
        table.add_column(min_width=12)
        table.add_column()
        with self.lock:
            rows = list(self.rows.values())
        counts: dict[str, int] = {}
        for node, group in rows[-40:]:
            style = styles.get(node.phase, "")
            detail: Any = Text(node.message, style="dim") if node.message else Text("")
            if group is not None:
                done, total = group
                detail = ProgressBar(total=max(total, 1), completed=done, width=30)
                label = Text(f"{node.phase.lower()} {done}/{total}", style=style)
            elif node.cached:
                label = Text("cached", style=style)
            else:
                took = f" {node.duration:.1f}s" if node.duration is not None else ""
                label = Text(f"{node.phase.lower()}{took}", style=style)
            table.add_row(
                Text(_SYMBOLS.get(node.phase, "·"), style=style), node.display_name, label, detail
            )
        for node, _ in rows:
            counts[node.phase] = counts.get(node.phase, 0) + 1
        summary = "  ".join(f"{phase.lower()} {count}" for phase, count in sorted(counts.items()))
        elapsed = time.monotonic() - self.started
        table.add_row("", Text(f"{elapsed:.1f}s", style="dim"), "", Text(summary, style="dim"))
        return table

    def finish(self, run: LocalRun) -> None:
        """Close the live view and print the outcome."""
        if self.live is not None:
            self.live.stop()
        if run.ok:
            self.console.print(f"[green]✔ Succeeded[/green] in {run.duration:.2f}s")
            return
        lines = failure_report(run)
        self.console.print(f"[red]✘ {lines[0]}[/red] ({run.duration:.2f}s)", highlight=False)
        for line in lines[1:]:
            self.console.print(line, highlight=False, markup=False)


def make_reporter(progress: str, stream: IO[str] | None = None) -> Reporter:
    """The reporter for a ``progress`` choice (``auto``, ``live``, ``plain``, ``off``)."""
    if progress == "off":
        return Reporter()
    if progress == "plain":
        return PlainReporter(stream)
    target = stream or sys.stderr
    if progress == "live" or (progress == "auto" and target.isatty()):
        try:
            return LiveReporter(stream)
        except ImportError:
            return PlainReporter(stream)
    return PlainReporter(stream)
