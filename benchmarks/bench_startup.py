"""Start-up costs: `import flowdsl`, and process start to a task's first line in a pod.

The in-pod figure is measured as a pod pays it: a fresh `python -m flowdsl.runtime` process,
from just before it is spawned to the first line of the user's function (which records the
time), for code by import and by value, against `python -c pass` on the same machine.

    python benchmarks/bench_startup.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

TASK_MODULE = textwrap.dedent(
    """
    import time
    from pathlib import Path

    from flowdsl import task

    @task
    def first_line(marker: str) -> None:
        Path(marker).write_text(repr(time.time()))
    """
)


def spawn_to_first_line(command: list[str], marker: Path, env: dict[str, str]) -> float:
    marker.unlink(missing_ok=True)
    start = time.time()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    return float(marker.read_text()) - start


def whole_process(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def import_time(module: str, env: dict[str, str]) -> float:
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    ).stderr
    last = [line for line in out.splitlines() if line.rstrip().endswith(f"| {module}")][-1]
    return int(last.split("|")[1]) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=21)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "bench_task.py").write_text(TASK_MODULE)
        env = {**os.environ, "PYTHONPATH": str(root)}
        marker = root / "marker"
        sys.path.insert(0, str(root))
        import bench_task

        from flowdsl.payload import dump

        fn = bench_task.first_line.__wrapped__
        (root / "payload").write_text(dump(fn, {"marker": str, "return": type(None)}))
        runtime = [
            sys.executable,
            "-m",
            "flowdsl.runtime",
            "--outputs",
            str(root / "out"),
            "--input",
            f"marker={marker}",
        ]
        cases = {
            "python -c pass (whole process)": lambda: whole_process(
                [sys.executable, "-c", "pass"], env
            ),
            "flowdsl runtime, by import": lambda: spawn_to_first_line(
                [*runtime, "--function", "bench_task:first_line"], marker, env
            ),
            "flowdsl runtime, by value": lambda: spawn_to_first_line(
                [*runtime, "--payload", str(root / "payload")], marker, env
            ),
            "import flowdsl (-X importtime)": lambda: import_time("flowdsl", env),
            "import flowdsl.dsl (decorators)": lambda: import_time("flowdsl.dsl", env),
        }
        print(
            f"# {platform.python_implementation()} {platform.python_version()} on "
            f"{platform.machine()}, {os.cpu_count()} CPUs; median of {args.repeat}"
        )
        print(f"{'measure':40} {'median ms':>10} {'min ms':>8}")
        for name, measure in cases.items():
            samples = [measure() for _ in range(args.repeat)]
            print(f"{name:40} {statistics.median(samples) * 1000:10.1f} {min(samples) * 1000:8.1f}")


if __name__ == "__main__":
    main()
