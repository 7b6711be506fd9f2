"""Local engine benchmark: per-task overhead and a 1,000-item fan-out.

Prints figures (no pass/fail): ``python benchmarks/bench_local.py [--items N] [--chain N]``.

- raw spawn: what starting and waiting for ``true`` costs on this machine, without the engine;
- per-task overhead: a chain of trivial tasks run one after the other, wall time per task,
  and the engine's share (that minus the raw spawn);
- fan-out: ``withSequence`` over N items of a trivial ``python -c`` task (what a flowdsl
  task costs at least: an interpreter start), at the machine's cores (target: 1,000 items
  in under 20 s on 2 cores), and of ``true`` (the engine's own ceiling).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from flowdsl.local import run_manifest
from flowdsl.local.engine import default_parallelism


def chain(length: int) -> dict[str, Any]:
    tasks = [{"name": "t0", "template": "nop"}]
    tasks += [
        {"name": f"t{i}", "template": "nop", "depends": f"t{i - 1}"} for i in range(1, length)
    ]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "bench-chain-"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {"name": "main", "dag": {"tasks": tasks}},
                {"name": "nop", "container": {"image": "alpine", "command": ["true"]}},
            ],
        },
    }


def fan_out(items: int, command: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "bench-fan-"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {
                    "name": "main",
                    "dag": {
                        "tasks": [
                            {
                                "name": "each",
                                "template": "work",
                                "withSequence": {"count": str(items)},
                                "arguments": {"parameters": [{"name": "i", "value": "{{item}}"}]},
                            }
                        ]
                    },
                },
                {
                    "name": "work",
                    "inputs": {"parameters": [{"name": "i"}]},
                    "container": {"image": "python:3.11", "command": command},
                },
            ],
        },
    }


def raw_spawn(count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        subprocess.run(["true"], check=True)
    return (time.perf_counter() - started) / count


def timed(manifest: dict[str, Any], root: Path, **kwargs: Any) -> tuple[float, str, int]:
    started = time.perf_counter()
    result = run_manifest(manifest, runs_root=root, progress="off", **kwargs)
    return time.perf_counter() - started, result.status, len(result.nodes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000, help="fan-out width (default 1000)")
    parser.add_argument("--chain", type=int, default=200, help="chain length (default 200)")
    args = parser.parse_args()
    cores = default_parallelism()
    print(f"python {sys.version.split()[0]}, {cores} cores, pid {os.getpid()}")
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        spawn = raw_spawn(50)
        print(f"raw spawn of `true`:           {spawn * 1000:7.2f} ms")
        wall, status, _ = timed(chain(args.chain), root)
        per_task = wall / args.chain
        overhead = max(0.0, per_task - spawn)
        print(
            f"chain of {args.chain} tasks:           {wall:7.2f} s  ({status}); "
            f"{per_task * 1000:.2f} ms a task, engine overhead {overhead * 1000:.2f} ms"
        )
        wall, status, nodes = timed(fan_out(args.items, ["true"]), root)
        print(f"fan-out of {args.items} `true`:        {wall:7.2f} s  ({status}, {nodes} nodes)")
        command = ["python", "-c", "import sys; print(sys.argv[1])", "{{inputs.parameters.i}}"]
        wall, status, nodes = timed(fan_out(args.items, command), root)
        verdict = "under" if wall < 20 else "OVER"
        print(
            f"fan-out of {args.items} `python -c`:   {wall:7.2f} s  ({status}, {nodes} nodes; "
            f"{verdict} the 20 s target)"
        )


if __name__ == "__main__":
    main()
