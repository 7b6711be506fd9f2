"""Every benchmark, flowdsl beside Hera, as one table: what ``nox -s bench`` runs.

    python benchmarks/run.py [--quick] [--full] [--only compile,startup,local] [--json PATH]

``--quick`` is a smoke run (small N, few repeats, well under a minute); the default run
takes about four minutes on 2 cores; ``--full`` adds Hera at N=20,000 (several minutes
more). docs/performance.md explains each figure and how the last table was made.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_compile
import bench_local
import bench_startup
from _harness import Row, common_arguments, report

BENCHMARKS = {"compile": bench_compile, "startup": bench_startup, "local": bench_local}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common_arguments(parser)
    parser.add_argument(
        "--only",
        default=",".join(BENCHMARKS),
        help="comma-separated benchmarks to run (default: all)",
    )
    options = parser.parse_args()
    # bench_local reads these two; they keep their defaults here.
    options.items = None
    options.chain = None
    rows: list[Row] = []
    started = time.perf_counter()
    for name in options.only.split(","):
        print(f"running {name} ...", file=sys.stderr)
        rows += BENCHMARKS[name.strip()].collect(options)
    print(f"done in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    report(rows, json_path=options.json)


if __name__ == "__main__":
    main()
