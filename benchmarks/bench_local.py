"""Local engine: per-task overhead and a 1,000-item fan-out.

    python benchmarks/bench_local.py [--quick] [--items N] [--chain N] [--json PATH]

- raw spawn: what starting and waiting for ``true`` costs on this machine, without the engine;
- per-task overhead: a chain of trivial ``true`` tasks run one after the other, wall time per
  task, and the engine's share (that minus the raw spawn);
- fan-out of a flow: ``flowdsl.run`` of ``total(square.map(x=list(range(N))))``, every item a
  real task pod stand-in (``python -m flowdsl.runtime``), compile included (target: 1,000
  items in under 20 s on 2 cores);
- fan-out floors: ``withSequence`` over N items of ``python -c`` (an interpreter start, what
  a Python task costs at least) and of ``true`` (the engine's own ceiling).

Hera has no local engine, so these rows have no Hera column. The measurements run in a
worker process with bytecode caching on (see ``_harness.bench_env``), which the task
processes inherit.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Row, bench_env, common_arguments, report, run_worker, temp_dir

SCRIPT = Path(__file__).resolve()

FAN_MODULE = textwrap.dedent(
    """
    from flowdsl import flow, task


    @task
    def square(x: int) -> int:
        return x * x


    @task
    def total(xs: list[int]) -> int:
        return sum(xs)


    def fan(width: int):
        @flow(name="fan", code="import")
        def fan() -> int:
            return total(square.map(x=list(range(width))))

        return fan
    """
)


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


def timed(manifest: dict[str, Any], root: Path) -> tuple[float, str]:
    from flowdsl.local import run_manifest

    started = time.perf_counter()
    result = run_manifest(manifest, runs_root=root, progress="off")
    return time.perf_counter() - started, result.status


def worker(items: int, length: int, directory: str) -> dict[str, Any]:
    root = Path(directory)
    sys.path.insert(0, directory)
    # The task processes import the flow's module, as an image containing the project would.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (directory, os.environ.get("PYTHONPATH")) if p
    )
    (root / "bench_local_fan.py").write_text(FAN_MODULE)
    import flowdsl
    from flowdsl.local.engine import default_parallelism

    out: dict[str, Any] = {"cores": default_parallelism(), "spawn": raw_spawn(50)}
    wall, status = timed(chain(length), root)
    out["chain"] = {"wall": wall, "status": status, "length": length}
    wall, status = timed(fan_out(items, ["true"]), root)
    out["fan_true"] = {"wall": wall, "status": status}
    command = ["python", "-c", "import sys; print(sys.argv[1])", "{{inputs.parameters.i}}"]
    wall, status = timed(fan_out(items, command), root)
    out["fan_python"] = {"wall": wall, "status": status}
    import bench_local_fan  # type: ignore[import-not-found]  # written above

    started = time.perf_counter()
    run = flowdsl.run(bench_local_fan.fan(items), progress="off", run_dir=root / "fan-flow")
    out["fan_flow"] = {
        "wall": time.perf_counter() - started,
        "status": run.status,
        "result_ok": run.status == "Succeeded" and run.result == sum(x * x for x in range(items)),
    }
    return out


def collect(options: argparse.Namespace) -> list[Row]:
    items = options.items or (100 if options.quick else 1000)
    length = options.chain or (50 if options.quick else 200)
    with temp_dir("local") as tmp:
        root = Path(tmp)
        print(f"  local: chain of {length}, fan-outs of {items}", file=sys.stderr)
        data = run_worker(
            SCRIPT, [str(items), str(length), str(root / "runs")], bench_env(root / "pycache")
        )
    spawn = data["spawn"]
    per_task = data["chain"]["wall"] / length
    flow = data["fan_flow"]
    return [
        Row(
            "local",
            f"per task, chain of {length} `true` tasks",
            "ms",
            per_task * 1000,
            None,
            note=f"engine's share {max(0.0, per_task - spawn) * 1000:.2f} ms; raw spawn "
            f"{spawn * 1000:.2f} ms",
            detail=data["chain"],
        ),
        Row(
            "local",
            f"{items:,}-item map of a flowdsl task, flowdsl.run",
            "s",
            flow["wall"],
            None,
            "< 20 s" if items == 1000 else "",
            (flow["wall"] < 20 and flow["result_ok"]) if items == 1000 else None,
            f"{data['cores']} cores; {flow['status']}",
            flow,
        ),
        Row(
            "local",
            f"{items:,}-item withSequence of `python -c`",
            "s",
            data["fan_python"]["wall"],
            None,
            note="floor: one interpreter start per item",
            detail=data["fan_python"],
        ),
        Row(
            "local",
            f"{items:,}-item withSequence of `true`",
            "s",
            data["fan_true"]["wall"],
            None,
            note="the engine's own ceiling",
            detail=data["fan_true"],
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common_arguments(parser)
    parser.add_argument("--items", type=int, help="fan-out width (default 1000)")
    parser.add_argument("--chain", type=int, help="chain length (default 200)")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        items, length, directory = options.worker
        Path(directory).mkdir(parents=True, exist_ok=True)
        print(json.dumps(worker(int(items), int(length), directory)))
        return
    report(collect(options), json_path=options.json)


if __name__ == "__main__":
    main()
