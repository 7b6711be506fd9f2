"""Compile time and manifest size, flowdsl against Hera 7 on the same workflows.

    python benchmarks/bench_compile.py [--quick] [--full] [--json PATH]

Workloads (the same workflow written both ways; the task code is imported in the pod, so
neither manifest embeds source: flowdsl ``code="import"``, Hera ``constructor="runner"``):

- ``chain``: N calls of one task, each taking the previous call's output, then a fan-in task
  that runs after all of them (``done().after(*calls)``; in Hera ``calls >> done``);
  N = 100, 1,000, 5,000, 20,000;
- ``distinct``: the same shape over N distinct task definitions (N templates);
  N = 100, 1,000, 5,000;
- ``map``: a 1,000-way ``map`` over ``range(N)`` and a task that takes the list of results
  (in Hera ``with_items`` and ``{{tasks.square.outputs.result}}``); flowdsl writes the
  consecutive ints as a ``withSequence``;
- ``map-spread``: the same over every other int (``range(0, 2N, 2)``), so both write every
  item (``withItems``).

Sizes are also compared with ``hera-same``: Hera's manifest of the same workflow given the
Argo settings flowdsl writes by default (pod GC, the workflow and step deadlines, resource
requests, the pull policy, the flow label), so that the difference is the encoding, not the
defaults. flowdsl's run-context variables count against flowdsl.

Compile is what a user's ``flowdsl compile`` does: ``flowdsl.compile_dict(flow)`` (trace,
lower to Hera's models, dump, lint, size guard) then ``flowdsl.to_yaml``. For Hera it is
building the ``Workflow`` with its context managers, then ``Workflow.to_yaml()`` (which
builds the models and dumps them). Decorating the N tasks (importing the module that defines
them) is measured apart, as ``define``.

Manifests past Argo's 1 MiB are compiled anyway: the workers lift flowdsl's size guard (its
limits are tested in tests/test_size.py); the benchmark measures speed and reports the size.
Each (tool, workload, N) runs in a fresh worker process; the figure is the median of the
repeats, each after a full garbage collection.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (
    Row,
    bench_env,
    common_arguments,
    median,
    report,
    run_worker,
    samples,
    temp_dir,
)

IMAGE = "python:3.11"
SCRIPT = Path(__file__).resolve()

# --------------------------------------------------------------------------------------------
# The task modules (written to a temporary directory, imported by the workers)
# --------------------------------------------------------------------------------------------

FLOWDSL_SHARED = """
from flowdsl import task


@task
def step(x: int) -> int:
    return x + 1


@task
def done() -> None:
    pass


@task
def square(x: int) -> int:
    return x * x


@task
def total(xs: list[int]) -> int:
    return sum(xs)
"""

HERA_SHARED = f"""
from hera.workflows import script


@script(constructor="runner", image={IMAGE!r})
def step(x: int) -> int:
    return x + 1


@script(constructor="runner", image={IMAGE!r})
def done() -> None:
    pass


@script(constructor="runner", image={IMAGE!r})
def square(x: int) -> int:
    return x * x


@script(constructor="runner", image={IMAGE!r})
def total(xs: list[int]) -> int:
    return sum(xs)
"""


#: Hera's @script given the settings flowdsl writes by default (see docs/options.md).
HERA_SAME_SCRIPT = (
    f'@script(constructor="runner", image={IMAGE!r}, image_pull_policy="IfNotPresent", '
    'resources=Resources(cpu_request="500m", memory_request="512Mi"), '
    "active_deadline_seconds=14400)"
)
HERA_SAME_SHARED = HERA_SHARED.replace(
    "from hera.workflows import script", "from hera.workflows import Resources, script"
).replace(f'@script(constructor="runner", image={IMAGE!r})', HERA_SAME_SCRIPT)
#: The tools of the size comparison; hera-same is only measured for size.
TOOLS = ("flowdsl", "hera", "hera-same")


def module_prefix(tool: str) -> str:
    return f"bench_{tool.replace('-', '_')}"


def distinct_source(tool: str, count: int) -> str:
    """A module of ``count`` distinct tasks ``step_0`` ... and a ``done`` task."""
    if tool == "flowdsl":
        head, decorator = "from flowdsl import task\n", "@task"
    elif tool == "hera":
        head = "from hera.workflows import script\n"
        decorator = f'@script(constructor="runner", image={IMAGE!r})'
    else:
        head = "from hera.workflows import Resources, script\n"
        decorator = HERA_SAME_SCRIPT
    parts = [head]
    for i in range(count):
        parts.append(f"\n{decorator}\ndef step_{i}(x: int) -> int:\n    return x + {i}\n")
    parts.append(f"\n{decorator}\ndef done() -> None:\n    pass\n")
    return "".join(parts)


def write_modules(directory: Path, distinct_sizes: list[int]) -> None:
    (directory / "bench_flowdsl_shared.py").write_text(FLOWDSL_SHARED)
    (directory / "bench_hera_shared.py").write_text(HERA_SHARED)
    (directory / "bench_hera_same_shared.py").write_text(HERA_SAME_SHARED)
    for n in distinct_sizes:
        for tool in TOOLS:
            (directory / f"{module_prefix(tool)}_distinct_{n}.py").write_text(
                distinct_source(tool, n)
            )


def define(module_name: str) -> tuple[ModuleType, float]:
    """Import a task module, timing only the execution of its body (the decorators)."""
    spec = importlib.util.find_spec(module_name)
    assert spec is not None
    assert spec.loader is not None
    assert spec.origin is not None
    code = compile(Path(spec.origin).read_text(), spec.origin, "exec", dont_inherit=True)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    started = time.perf_counter()
    exec(code, module.__dict__)
    return module, time.perf_counter() - started


# --------------------------------------------------------------------------------------------
# flowdsl
# --------------------------------------------------------------------------------------------


def flowdsl_chain(tasks: list[Any], done: Any) -> Any:
    """``tasks[0](start)``, each next task on the previous output, then ``done`` after all."""
    from flowdsl import flow

    @flow(name="chain", image=IMAGE, code="import")
    def chain(start: int = 0) -> None:
        x = tasks[0](start)
        calls = [x]
        for task in tasks[1:]:
            x = task(x)
            calls.append(x)
        done().after(*calls)

    return chain


def map_items(workload: str, width: int) -> list[int]:
    """``range(N)``, or every other int for ``map-spread`` (not a sequence)."""
    return list(range(width)) if workload == "map" else list(range(0, 2 * width, 2))


def flowdsl_map(square: Any, total: Any, items: list[int]) -> Any:
    from flowdsl import flow

    # No flow result: Hera's workflow declares no output either.
    @flow(name="fan", image=IMAGE, code="import")
    def fan() -> None:
        total(square.map(x=items))

    return fan


def lift_size_guard() -> None:
    """Let manifests past Argo's 1 MiB compile, so that large N can be timed at all."""
    import flowdsl.lint

    flowdsl.lint.MAX_OBJECT_BYTES = 1 << 62  # type: ignore[misc]
    try:
        import flowdsl._size as size
    except ImportError:  # the guard is not there yet
        return
    size.MAX_BYTES = 1 << 62  # type: ignore[misc]
    size.WARN_BYTES = 1 << 62  # type: ignore[misc]


def flowdsl_compile(flow_obj: Any) -> str:
    import flowdsl

    return flowdsl.to_yaml(flowdsl.compile_dict(flow_obj))


def flowdsl_stages(flow_obj: Any) -> dict[str, float]:
    """One compile, stage by stage (what the total is made of)."""
    from flowdsl import emit
    from flowdsl.lint import problems
    from flowdsl.lower import lower, to_dict

    times: dict[str, float] = {}
    started = time.perf_counter()
    graph = flow_obj.trace()
    times["trace"] = time.perf_counter() - started
    started = time.perf_counter()
    model = lower(graph)
    times["lower"] = time.perf_counter() - started
    started = time.perf_counter()
    doc = to_dict(model)
    times["to_dict"] = time.perf_counter() - started
    started = time.perf_counter()
    problems(doc)
    times["lint"] = time.perf_counter() - started
    try:
        from flowdsl._size import measure
    except ImportError:
        pass
    else:
        started = time.perf_counter()
        measure(doc)
        times["size"] = time.perf_counter() - started
    started = time.perf_counter()
    emit.to_yaml(doc)
    times["yaml"] = time.perf_counter() - started
    return times


# --------------------------------------------------------------------------------------------
# Hera
# --------------------------------------------------------------------------------------------


def _dns(fn: Any) -> str:
    return fn.__name__.replace("_", "-")  # type: ignore[no-any-return]


def hera_settings(name: str, same: bool) -> dict[str, Any]:
    """Workflow settings: none, or those flowdsl writes by default (for hera-same)."""
    if not same:
        return {}
    from hera.workflows.models import PodGC

    return {
        "pod_gc": PodGC(strategy="OnPodSuccess"),
        "active_deadline_seconds": 86400,
        "labels": {"flowdsl/flow": name},
    }


def hera_chain(tasks: list[Any], done: Any, same: bool = False) -> Any:
    from hera.workflows import DAG, Parameter, Workflow

    with (
        Workflow(
            generate_name="chain-",
            entrypoint="chain",
            arguments=[Parameter(name="start", value="0")],
            **hera_settings("chain", same),
        ) as workflow,
        DAG(name="chain"),
    ):
        name = _dns(tasks[0])
        x = tasks[0](name=name, arguments={"x": "{{workflow.parameters.start}}"})
        calls = [x]
        seen = {name: 1}
        for task in tasks[1:]:
            # flowdsl's call ids: step, step-2, step-3 ...; step-0, step-1 ... when distinct
            name = _dns(task)
            seen[name] = count = seen.get(name, 0) + 1
            call_name = name if count == 1 else f"{name}-{count}"
            t = task(name=call_name, arguments={"x": x.result})
            x >> t
            calls.append(t)
            x = t
        calls >> done(name="done")
    return workflow


def hera_map(square: Any, total: Any, items: list[int], same: bool = False) -> Any:
    from hera.workflows import DAG, Workflow

    with (
        Workflow(generate_name="fan-", entrypoint="fan", **hera_settings("fan", same)) as workflow,
        DAG(name="fan"),
    ):
        each = square(name="square", arguments={"x": "{{item}}"}, with_items=items)
        each >> total(name="total", arguments={"xs": each.result})
    return workflow


# --------------------------------------------------------------------------------------------
# Worker: one (tool, workload, N) in a fresh process
# --------------------------------------------------------------------------------------------


def worker(tool: str, workload: str, n: int, repeat: int, modules: str) -> dict[str, Any]:
    sys.path.insert(0, modules)
    warnings.simplefilter("ignore")  # size warnings are expected past 512 KiB
    result: dict[str, Any] = {}
    # The decorators' own modules load before timing `define` (a user pays that once).
    importlib.import_module("flowdsl.dsl" if tool == "flowdsl" else "hera.workflows")
    prefix = module_prefix(tool)
    if workload == "distinct":
        module, result["define"] = define(f"{prefix}_distinct_{n}")
        tasks = [getattr(module, f"step_{i}") for i in range(n)]
        done = module.done
    else:
        module = importlib.import_module(f"{prefix}_shared")
        tasks = [module.step] * n
        done = module.done
    mapped = workload.startswith("map")
    items = map_items(workload, n) if mapped else []

    if tool == "flowdsl":
        lift_size_guard()

        def build() -> Any:
            if mapped:
                return flowdsl_map(module.square, module.total, items)
            return flowdsl_chain(tasks, done)

        def compile_text() -> str:
            return flowdsl_compile(build())

        flowdsl_compile(  # warm up: lazy imports (Hera's models, PyYAML), caches
            flowdsl_chain([module.step if workload != "distinct" else tasks[0]] * 3, done)
        )
    else:
        same = tool == "hera-same"

        def compile_text() -> str:
            if mapped:
                return hera_map(module.square, module.total, items, same).to_yaml()  # type: ignore[no-any-return]
            return hera_chain(tasks, done, same).to_yaml()  # type: ignore[no-any-return]

        hera_chain([tasks[0]] * 3, done).to_yaml()  # warm up, as for flowdsl

    texts: list[str] = []
    result["samples"] = samples(lambda: texts.append(compile_text()), repeat)
    text = texts[-1]
    result["yaml_bytes"] = len(text.encode())
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    doc = yaml.load(text, Loader=loader)
    result["json_bytes"] = len(json.dumps(doc, separators=(",", ":")).encode())
    if tool == "flowdsl" and median(result["samples"]) < 10:  # one more compile, in stages
        result["stages"] = flowdsl_stages(
            flowdsl_map(module.square, module.total, items)
            if mapped
            else flowdsl_chain(tasks, done)
        )
    return result


# --------------------------------------------------------------------------------------------
# The rows
# --------------------------------------------------------------------------------------------


def plan(options: argparse.Namespace) -> list[tuple[str, int, int, bool]]:
    """(workload, N, repeats, run Hera) for this run."""
    if options.quick:
        return [
            ("chain", 100, 3, True),
            ("distinct", 100, 3, True),
            ("map", 100, 3, True),
            ("map-spread", 100, 3, True),
        ]
    return [
        ("chain", 100, 7, True),
        ("chain", 1_000, 5, True),
        ("chain", 5_000, 3, True),
        ("chain", 20_000, 3, options.full),
        ("distinct", 100, 7, True),
        ("distinct", 1_000, 5, True),
        ("distinct", 5_000, 3, True),
        ("map", 1_000, 5, True),
        ("map-spread", 1_000, 5, True),
    ]


def collect(options: argparse.Namespace) -> list[Row]:
    cases = plan(options)
    with temp_dir("compile") as tmp:
        root = Path(tmp)
        modules = root / "modules"
        modules.mkdir()
        write_modules(modules, sorted({n for w, n, _, _ in cases if w == "distinct"}))
        env = bench_env(root / "pycache")
        results: dict[tuple[str, str, int], dict[str, Any]] = {}
        for workload, n, repeat, with_hera in cases:
            for tool in TOOLS if with_hera else ("flowdsl",):
                # Hera at N=20,000 takes minutes a sample (its DAG construction is quadratic);
                # hera-same is compiled once, for its size.
                runs = 1 if (tool != "flowdsl" and n > 5_000) or tool == "hera-same" else repeat
                print(f"  compile: {tool} {workload} N={n:,} x{runs}", file=sys.stderr)
                results[(tool, workload, n)] = run_worker(
                    SCRIPT, [tool, workload, str(n), str(runs), str(modules)], env
                )
    return rows(cases, results)


def rows(
    cases: list[tuple[str, int, int, bool]], results: dict[tuple[str, str, int], dict[str, Any]]
) -> list[Row]:
    out: list[Row] = []
    sizes: list[Row] = []
    defines: list[Row] = []
    chain: dict[int, float] = {}
    for workload, n, _, _ in cases:
        mine = results[("flowdsl", workload, n)]
        theirs = results.get(("hera", workload, n))
        fd, hr = median(mine["samples"]), (median(theirs["samples"]) if theirs else None)
        name = f"{workload} N={n:,}"
        target, holds, note = "", None, ""
        if workload == "chain":
            chain[n] = fd
        if workload == "chain" and n == 5_000:
            target = "<= 1/20 of Hera"
            holds = hr is not None and fd * 20 <= hr
        if workload == "chain" and n == 20_000:
            target = "<= 5x N=5,000"
            holds = 5_000 in chain and fd <= 5 * chain[5_000]
            if theirs is None:
                note = "Hera not run: minutes; --full runs it"
        out.append(
            Row(
                "compile",
                name,
                "s",
                fd,
                hr,
                target,
                holds,
                note,
                {
                    "flowdsl_samples": mine["samples"],
                    "hera_samples": theirs["samples"] if theirs else None,
                    "stages": mine.get("stages"),
                },
            )
        )
        same = results.get(("hera-same", workload, n))
        for label, other, target in (
            ("", theirs, ""),
            (", Hera given the same Argo settings", same, "<= Hera"),
        ):
            size_other = other["yaml_bytes"] if other else None
            if label and size_other is None:
                continue  # Hera not run at this N
            sizes.append(
                Row(
                    "size",
                    f"{name} YAML{label}",
                    "bytes",
                    mine["yaml_bytes"],
                    size_other,
                    target,
                    None if size_other is None or not target else mine["yaml_bytes"] <= size_other,
                    "",
                    {
                        "flowdsl_json": mine["json_bytes"],
                        "hera_json": other["json_bytes"] if other else None,
                    },
                )
            )
        if "define" in mine:
            defines.append(
                Row(
                    "define",
                    f"{n:,} task definitions",
                    "s",
                    mine["define"],
                    theirs["define"] if theirs else None,
                    note="import of the module: @task vs @script",
                )
            )
    return out + defines + sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common_arguments(parser)
    parser.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        tool, workload, n, repeat, modules = options.worker
        print(json.dumps(worker(tool, workload, int(n), int(repeat), modules)))
        return
    report(collect(options), json_path=options.json)


if __name__ == "__main__":
    main()
