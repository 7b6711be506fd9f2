"""What every benchmark shares: timing, worker processes, the machine line and the table.

A benchmark module (``bench_*.py``) exposes ``collect(options) -> list[Row]``; run alone it
prints its own rows, and ``benchmarks/run.py`` (what ``nox -s bench`` runs) prints every
module's rows as one table. Each row puts flowdsl and Hera side by side, measured in the
same run on the same machine, with the ratio flowdsl / Hera and, where the issue sets one,
the target and whether it holds.

Heavy measurements run in a fresh worker process each (``python -m`` style, JSON on
stdout), so that one tool's garbage (Hera builds hundreds of thousands of objects) never
slows the other's collector, and module caches start cold the same way for both.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Row:
    """One line of the table.

    Attributes:
        group: what is measured (``compile``, ``size``, ``start``, ``import``, ``local``).
        name: the workload, e.g. ``chain N=5,000``.
        unit: ``s``, ``ms`` or ``bytes`` (medians, except sizes).
        flowdsl: flowdsl's figure, or ``None`` when not measured.
        hera: Hera's figure, or ``None`` when Hera has no equivalent or it was not run.
        target: the issue's target for this row, as text (empty: none).
        holds: whether the target holds (``None``: no target or not decidable).
        note: a short remark (why Hera is missing, what a figure includes).
        detail: extra figures (stage times, samples) for docs/performance.md.
    """

    group: str
    name: str
    unit: str
    flowdsl: float | None
    hera: float | None
    target: str = ""
    holds: bool | None = None
    note: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """flowdsl / Hera, when both were measured."""
        if self.flowdsl is None or not self.hera:
            return None
        return self.flowdsl / self.hera


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------


def samples(fn: Callable[[], Any], repeat: int, budget: float = 20.0) -> list[float]:
    """Wall times of up to ``repeat`` calls of ``fn``, each after a full collection.

    The collector stays enabled while timing (users run with it), but starts each sample
    from the same clean heap. Sampling stops early once ``budget`` seconds are spent (at
    least one sample is taken), so that a regression cannot make the run take hours.
    """
    out: list[float] = []
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
        if sum(out) > budget:
            break
    return out


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


# --------------------------------------------------------------------------------------------
# Worker processes
# --------------------------------------------------------------------------------------------


def bench_env(pycache: Path | None = None) -> dict[str, str]:
    """The environment of measured subprocesses: bytecode caching on, as in an image.

    Images and installed packages carry compiled bytecode; a shell with
    ``PYTHONDONTWRITEBYTECODE`` would make every process recompile flowdsl and Hera from
    source and measure the compiler. The caches go to a private directory, never next to
    the sources.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if pycache is not None:
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def run_worker(script: Path, args: Sequence[str], env: dict[str, str]) -> Any:
    """Run ``python script --worker args...`` and return the JSON it prints last."""
    proc = subprocess.run(
        [sys.executable, str(script), "--worker", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"benchmark worker {script.name} {' '.join(args)} failed ({proc.returncode}):\n"
            f"{proc.stderr[-4000:]}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------
# Machine line and table
# --------------------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(module: str) -> str:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:
        return "?"


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        return "?"
    return out or "?"


def machine_line() -> str:
    """Where the figures come from: interpreter, CPU, cores, versions, commit, date."""
    return (
        f"machine: {platform.python_implementation()} {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}, {_cpu_model()}, {os.cpu_count()} cores; "
        f"flowdsl {_version('flowdsl')} ({_commit()}), hera {_version('hera')}, "
        f"pydantic {_version('pydantic')}, PyYAML {_version('pyyaml')}; "
        f"load average {os.getloadavg()[0]:.2f} at the end; {time.strftime('%Y-%m-%d %H:%M')}"
    )


def _figure(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "bytes":
        return f"{value:,.0f}"
    if unit == "ms":
        return f"{value:,.1f}"
    return f"{value:,.3f}" if value < 10 else f"{value:,.1f}"


def table(rows: Iterable[Row]) -> str:
    """The rows as a Markdown table (readable as plain text too)."""
    header = ("what", "workload", "unit", "flowdsl", "Hera", "flowdsl/Hera", "target", "holds")
    lines = [header]
    for row in rows:
        ratio = row.ratio
        holds = "" if row.holds is None else ("yes" if row.holds else "NO")
        lines.append(
            (
                row.group,
                row.name + (f" ({row.note})" if row.note else ""),
                row.unit,
                _figure(row.flowdsl, row.unit),
                _figure(row.hera, row.unit),
                "-" if ratio is None else f"{ratio:.3f}",
                row.target,
                holds,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    numeric = {3, 4, 5}

    def render(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(parts) + " |"

    rule = (
        "| "
        + " | ".join(
            ("-" * (w - 1) + ":") if i in numeric else "-" * w for i, w in enumerate(widths)
        )
        + " |"
    )
    return "\n".join([render(lines[0]), rule, *(render(line) for line in lines[1:])])


def report(rows: Sequence[Row], *, json_path: str | None = None) -> None:
    """Print the machine line and the table; optionally write every figure as JSON."""
    print(machine_line())
    print()
    print(table(rows))
    if json_path:
        Path(json_path).write_text(
            json.dumps({"machine": machine_line(), "rows": [asdict(r) for r in rows]}, indent=2)
            + "\n"
        )


def common_arguments(parser: argparse.ArgumentParser) -> None:
    """Options every benchmark accepts (``run.py`` passes them on)."""
    parser.add_argument(
        "--quick", action="store_true", help="fewer repeats and smaller N (a smoke run)"
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="also the slow Hera runs left out by default (Hera at N=20,000: minutes)",
    )
    parser.add_argument("--json", metavar="PATH", help="write every figure as JSON")


def temp_dir(prefix: str) -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix=f"flowdsl-bench-{prefix}-")
