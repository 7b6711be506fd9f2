"""Start-up costs: importing the DSL, and process start to a task's first line in a pod.

    python benchmarks/bench_startup.py [--quick] [--json PATH]

In-pod start is measured as a pod pays it: the container command of a *compiled* manifest,
run in a fresh process, from just before it is spawned to the first line of the user's
function (which writes the time to a file). The commands come from the manifests, not
from this file:

- flowdsl by import: the container template of ``@flow(code="import")``;
- flowdsl by value: the script template of ``@flow(code="value")``, its ``source`` written
  to a file whose path is appended to the arguments, as Argo does;
- Hera's runner: the script template of ``@script(constructor="runner")`` (``python -m
  hera.workflows.runner -e module:function`` and the file holding ``{{inputs.parameters}}``,
  a JSON list of the inputs, appended as Argo does).

The task is the same function in each case. Bytecode caching is on (a private cache
directory, warmed by one untimed run), as in an image where packages are installed.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import Row, bench_env, common_arguments, report, temp_dir

FLOWDSL_TASK = textwrap.dedent(
    """
    import time
    from pathlib import Path

    from flowdsl import flow, task


    @task
    def first_line(marker: str) -> None:
        Path(marker).write_text(repr(time.time()))


    @flow(image="python:3.11", code="import")
    def by_import(marker: str) -> None:
        first_line(marker)


    @flow(image="python:3.11", code="value")
    def by_value(marker: str) -> None:
        first_line(marker)
    """
)

HERA_TASK = textwrap.dedent(
    """
    import time
    from pathlib import Path

    from hera.workflows import DAG, Parameter, Workflow, script


    @script(constructor="runner", image="python:3.11")
    def first_line(marker: str) -> None:
        Path(marker).write_text(repr(time.time()))


    def workflow() -> Workflow:
        with Workflow(
            generate_name="start-", entrypoint="main", arguments=[Parameter(name="marker")]
        ) as w, DAG(name="main"):
            first_line(arguments={"marker": "{{workflow.parameters.marker}}"})
        return w
    """
)

_TAG = re.compile(r"\{\{\s*([^}]*?)\s*\}\}")


def _leaf(doc: dict[str, Any]) -> dict[str, Any]:
    return next(t for t in doc["spec"]["templates"] if "container" in t or "script" in t)


def pod_command(doc: dict[str, Any], inputs: dict[str, str], workdir: Path, tag: str) -> list[str]:
    """The command line Argo would run for the manifest's leaf template, inputs filled in.

    A script template's ``source`` goes to a file whose path is the last argument; every
    ``{{...}}`` tag is substituted as Argo does (``inputs.parameters`` is the JSON list of
    the inputs); absolute output paths move under ``workdir``.
    """
    template = _leaf(doc)

    def fill(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            tag = match.group(1)
            if tag == "inputs.parameters":
                return json.dumps([{"name": k, "value": v} for k, v in inputs.items()])
            if tag.startswith("inputs.parameters."):
                return inputs[tag.removeprefix("inputs.parameters.")]
            return "bench"

        return _TAG.sub(one, text).replace("/tmp/flowdsl/", f"{workdir}/tmp/")

    body = template.get("container") or template["script"]
    command = [fill(part) for part in [*body.get("command", []), *body.get("args", [])]]
    if "script" in template:
        source = workdir / f"source-{tag}"
        source.write_text(fill(body["source"]))
        command.append(str(source))
    if command[0] in ("python", "python3"):
        command[0] = sys.executable
    return command


def pod_env(doc: dict[str, Any], base: dict[str, str]) -> dict[str, str]:
    body = _leaf(doc).get("container") or _leaf(doc)["script"]
    env = dict(base)
    for item in body.get("env", []):
        env[item["name"]] = _TAG.sub("bench", str(item.get("value", "")))
    return env


def spawn_to_first_line(command: list[str], marker: Path, env: dict[str, str], cwd: Path) -> float:
    marker.unlink(missing_ok=True)
    started = time.time()
    subprocess.run(command, check=True, env=env, cwd=cwd, stdout=subprocess.DEVNULL)
    return float(marker.read_text()) - started


def whole_process(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def import_seconds(statement: str, env: dict[str, str]) -> float:
    """Wall time of ``statement`` in a fresh interpreter (interpreter start excluded)."""
    code = f"import time; _t = time.perf_counter(); {statement}; print(time.perf_counter() - _t)"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, env=env, capture_output=True, text=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def manifests(root: Path, env: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The three compiled manifests, compiled in a subprocess (this one stays light)."""
    code = textwrap.dedent(
        """
        import json, sys
        import flowdsl, bench_flowdsl_start as f, bench_hera_start as h
        print(json.dumps({
            "import": flowdsl.compile_dict(f.by_import, kind="template"),
            "value": flowdsl.compile_dict(f.by_value, kind="template"),
            "hera": h.workflow().to_dict(),
        }))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, env=env, capture_output=True, text=True, cwd=root
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def collect(options: argparse.Namespace) -> list[Row]:
    repeat = 5 if options.quick else 21
    with temp_dir("startup") as tmp:
        root = Path(tmp)
        (root / "bench_flowdsl_start.py").write_text(FLOWDSL_TASK)
        (root / "bench_hera_start.py").write_text(HERA_TASK)
        # The image contains the project: its modules are importable from the pod's cwd.
        env = {**bench_env(root / "pycache"), "PYTHONPATH": str(root)}
        docs = manifests(root, env)
        marker = root / "marker"
        inputs = {"marker": str(marker)}
        commands = {name: pod_command(doc, inputs, root, name) for name, doc in docs.items()}
        envs = {name: pod_env(doc, env) for name, doc in docs.items()}

        def start(name: str) -> Callable[[], float]:
            return lambda: spawn_to_first_line(commands[name], marker, envs[name], root)

        measures: dict[str, Callable[[], float]] = {
            "python -c pass": lambda: whole_process([sys.executable, "-c", "pass"], env),
            "flowdsl by import": start("import"),
            "flowdsl by value": start("value"),
            "hera runner": start("hera"),
            "import flowdsl": lambda: import_seconds("import flowdsl", env),
            "from flowdsl import task, flow": lambda: import_seconds(
                "from flowdsl import task, flow", env
            ),
            "from hera.workflows import script, Workflow, DAG": lambda: import_seconds(
                "from hera.workflows import script, Workflow, DAG", env
            ),
        }
        for measure in measures.values():  # warm the bytecode caches
            measure()
        figures = {}
        for name, measure in measures.items():
            print(f"  startup: {name} x{repeat}", file=sys.stderr)
            figures[name] = [measure() * 1000 for _ in range(repeat)]
    med = {name: statistics.median(values) for name, values in figures.items()}
    detail = {name: {"samples_ms": values} for name, values in figures.items()}
    hera = med["hera runner"]
    return [
        Row(
            "start",
            "in pod, spawn to first line, by import",
            "ms",
            med["flowdsl by import"],
            hera,
            "<= 1/5 of Hera",
            med["flowdsl by import"] * 5 <= hera,
            "Hera: its runner",
            {**detail["flowdsl by import"], "python -c pass ms": med["python -c pass"]},
        ),
        Row(
            "start",
            "in pod, spawn to first line, by value",
            "ms",
            med["flowdsl by value"],
            hera,
            "<= 1/5 of Hera",
            med["flowdsl by value"] * 5 <= hera,
            "Hera: its runner (by import)",
            detail["flowdsl by value"],
        ),
        Row(
            "start",
            "python -c pass (whole process)",
            "ms",
            med["python -c pass"],
            None,
            note="the floor of both",
        ),
        Row(
            "import",
            "import flowdsl",
            "ms",
            med["import flowdsl"],
            None,
            "< 100 ms",
            med["import flowdsl"] < 100,
            detail=detail["import flowdsl"],
        ),
        Row(
            "import",
            "what a user module imports",
            "ms",
            med["from flowdsl import task, flow"],
            med["from hera.workflows import script, Workflow, DAG"],
            note="from flowdsl import task, flow / from hera.workflows import ...",
            detail=detail["from flowdsl import task, flow"],
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common_arguments(parser)
    options = parser.parse_args()
    report(collect(options), json_path=options.json)


if __name__ == "__main__":
    main()
